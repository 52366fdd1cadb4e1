// The byte-level GPT (byte_gpt.hpp) as an ONNX graph, with eigenq::onnx's layer writers:
//
//   input  "bytes"  int64 [t], t <= ctx (the byte values 0..255)
//   output "logits" float [t, 256]
//
// The embeddings are Gather(wte, bytes) + the first t rows of wpe; each block LayerNormalization,
// its qkv layer, the causal attention of onnx/attention.hpp, proj, the residual Add,
// LayerNormalization, fc, GELU, mlp.proj, the residual Add; then ln_f and the tied head
// Gemm(x, wte, transB = 1) in a node named "lm_head". The Linear layers are written as
// their modules are (FloatLinear: Gemm with the bias; the quantized ones as onnx::write_layer
// writes them), named as byte_gpt.hpp names them: node "blocks.0.attn.qkv.y", weight
// "blocks.0.attn.qkv.weight" (the safetensors names), so `eigenq quantize --exclude lm_head`
// and statistics named after the weights work on the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <eigenq/onnx/attention.hpp>
#include <eigenq/onnx/export.hpp>
#include <eigenq/onnx/graph_builder.hpp>

#include "byte_gpt.hpp"

namespace lm {

inline std::vector<float> row_major(const Eigen::MatrixXf& m) {
  std::vector<float> v(static_cast<std::size_t>(m.size()));
  for (Index r = 0; r < m.rows(); ++r) {
    for (Index c = 0; c < m.cols(); ++c) v[static_cast<std::size_t>(r * m.cols() + c)] = m(r, c);
  }
  return v;
}

// The model as an ONNX ModelProto, checked by ONNX's checker.
inline ::onnx::ModelProto to_onnx(const ByteGpt& gpt, const eigenq::onnx::ExportOptions& options = {}) {
  namespace ox = eigenq::onnx;
  const ByteGpt::Config& c = gpt.config();
  ::onnx::ModelProto m;
  m.set_ir_version(ox::ir_version);
  m.set_producer_name(options.producer_name);
  if (!options.producer_version.empty()) m.set_producer_version(options.producer_version);
  ox::require_opset(m, "", ox::onnx_opset);
  ::onnx::GraphProto* graph = m.mutable_graph();
  graph->set_name(options.graph_name);
  ox::GraphBuilder g(graph);

  g.set_prefix("");
  const std::string wte = g.tensor<float>("wte", {256, c.width}, row_major(gpt.token_embeddings()));
  g.set_prefix("embed.");
  const std::string length = g.op("Shape", {"bytes"}, "length");
  const std::string tokens = g.op("Gather", {wte, "bytes"}, "tokens", {ox::Attribute::integer("axis", 0)});
  const std::string wpe = g.tensor<float>("wpe", {c.ctx, c.width}, row_major(gpt.position_embeddings()));
  const std::string positions =
      g.op("Slice", {wpe, g.tensor<std::int64_t>("starts", {1}, {0}), length}, "positions");
  std::string x = g.op("Add", {tokens, positions}, "x");
  g.set_prefix("");
  const std::string mask = ox::write_causal_mask(g, length);

  auto layer = [&](const eigenq::nn::Module& module, const std::string& name, const std::string& in) {
    g.set_prefix(name + ".");
    return ox::write_layer(g, m, module, in, "ByteGpt layer '" + name + "'");
  };
  for (std::size_t i = 0; i < gpt.blocks(); ++i) {
    const std::string b = "blocks." + std::to_string(i);
    const std::string qkv = layer(gpt.linear(b + ".attn.qkv"), b + ".attn.qkv", layer(gpt.layer_norm(b + ".ln1"), b + ".ln1", x));
    g.set_prefix(b + ".attn.");
    const std::string attn = ox::write_causal_self_attention(g, qkv, c.width, c.heads, mask);
    const std::string proj = layer(gpt.linear(b + ".attn.proj"), b + ".attn.proj", attn);
    g.set_prefix(b + ".");
    x = g.op("Add", {x, proj}, "attn_residual");
    const std::string fc = layer(gpt.linear(b + ".mlp.fc"), b + ".mlp.fc", layer(gpt.layer_norm(b + ".ln2"), b + ".ln2", x));
    const std::string hidden = layer(eigenq::nn::GELU{}, b + ".mlp.gelu", fc);
    const std::string out = layer(gpt.linear(b + ".mlp.proj"), b + ".mlp.proj", hidden);
    g.set_prefix(b + ".");
    x = g.op("Add", {x, out}, "mlp_residual");
  }
  const std::string final_norm = layer(gpt.layer_norm("ln_f"), "ln_f", x);
  g.set_prefix("lm_head.");
  const std::string head = g.op("Gemm", {final_norm, wte}, "y", {ox::Attribute::integer("transB", 1)});
  g.set_prefix("");
  g.op("Identity", {head}, "logits");

  ox::set_value_info(graph->add_input(), "bytes", ::onnx::TensorProto::INT64, {-1}, "t");
  ox::set_value_info(graph->add_output(), "logits", ::onnx::TensorProto::FLOAT, {-1, 256}, "t");
  ox::check(m);
  return m;
}

}  // namespace lm
