// Quantizing the byte-level GPT's 16 Linear layers: weight-only recipes (round to nearest,
// importance-weighted rounding, GPTQ, AWQ) per layer, W8A8 (dynamic and static int8, with
// SmoothQuant), and ggml's block types.
//
// AWQ's input scales s go into the layer before (methods/scale_folding.hpp), as llm-awq does for
// GPT-style blocks: attn.qkv's into ln1, mlp.fc's into ln2, attn.proj's into the v rows of
// attn.qkv (the attention output is linear in v, channel by channel); mlp.proj reads a GELU's
// output, which cannot take them, so it keeps an InputScale (counted in its bytes). The layers of
// a block are taken back to front, so a scale folded into attn.qkv's float weight is there before
// attn.qkv itself is quantized.
#pragma once

#include "byte_gpt.hpp"
#include "lm_calibration.hpp"

#include <eigenq/methods/awq.hpp>
#include <eigenq/methods/gptq.hpp>
#include <eigenq/methods/scale_folding.hpp>
#include <eigenq/methods/smoothquant.hpp>
#include <eigenq/methods/weighted_rounding.hpp>
#include <eigenq/nn/dynamic_linear.hpp>
#include <eigenq/nn/ggml_linear.hpp>
#include <eigenq/nn/input_scale.hpp>
#include <eigenq/nn/sequential.hpp>
#include <eigenq/nn/static_linear.hpp>
#include <eigenq/nn/weight_only_linear.hpp>
#include <eigenq/policy/linear.hpp>
#include <eigenq/quantizer/quantizer.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lm {

using Int8 = eigenq::Linear<std::int8_t>;
using Quant = eigenq::Quantizer<Int8, eigenq::Granularity>;

// Symmetric `bits`-bit codes, one float32 scale per group of `group` inputs of a row.
inline Quant int_group(int bits, Index group) {
  return Quant(Int8::symmetric().with_bits(bits), eigenq::Granularity(eigenq::PerGroup{-1, group}));
}
// Symmetric int8, one float32 scale per output channel.
inline Quant int8_channel() { return Quant(Int8::symmetric(), eigenq::Granularity(eigenq::PerChannel{0})); }

enum class Method { rtn, weighted, gptq, awq };

inline const char* to_string(Method m) {
  switch (m) {
    case Method::rtn: return "rtn";
    case Method::weighted: return "weighted";
    case Method::gptq: return "gptq";
    case Method::awq: return "awq";
  }
  return "?";
}

// How one Linear is quantized: a method and a quantizer (its policy and granularity).
struct Recipe {
  std::string name;  // e.g. "int4-g128-gptq"
  Method method = Method::rtn;
  Quant quantizer = int8_channel();
};

// Per layer, what the method reports about the calibration rows' layer error
// trace((W - W^) H (W - W^)^T); -1 where it does not say.
struct LayerReport {
  std::string layer;
  std::string recipe;
  double layer_error = -1;
  double rtn_layer_error = -1;
  double awq_alpha = 0;
};

struct Quantized {
  ByteGpt model;
  std::vector<LayerReport> report;
};

inline const eigenq::nn::FloatLinear& float_linear(const ByteGpt& m, const std::string& name) {
  const auto* l = dynamic_cast<const eigenq::nn::FloatLinear*>(&m.linear(name));
  if (l == nullptr) eigenq::raise("lm: Linear '", name, "' is no longer a float layer");
  return *l;
}

// Every Linear quantized weight-only by its recipe (plan: Linear name -> recipe), from the
// statistics of the float model's inputs. Layers missing from the plan stay float.
inline Quantized quantize_weights(const ByteGpt& float_model, const Stats& stats, const std::map<std::string, Recipe>& plan) {
  using eigenq::nn::WeightOnlyLinear;
  Quantized out{float_model, {}};
  ByteGpt& m = out.model;
  const Index d = m.config().width;
  for (std::size_t b = 0; b < m.blocks(); ++b) {
    const std::string p = "blocks." + std::to_string(b);
    for (const char* suffix : {".mlp.proj", ".mlp.fc", ".attn.proj", ".attn.qkv"}) {  // back to front
      const std::string name = p + suffix;
      const auto it = plan.find(name);
      if (it == plan.end()) continue;
      const Recipe& r = it->second;
      const eigenq::nn::FloatLinear layer = float_linear(m, name);
      const eigenq::CalibrationStats& s = stats.at(name);
      LayerReport rep{name, r.name, -1, -1, 0};
      std::unique_ptr<eigenq::nn::Module> q;
      switch (r.method) {
        case Method::rtn:
          q = std::make_unique<WeightOnlyLinear<Int8>>(r.quantizer.quantize(layer.weight()), layer.bias(), r.name);
          break;
        case Method::weighted: {
          auto w = eigenq::weighted_rounding(layer.weight(), s, r.quantizer);
          rep.layer_error = w.layer_error;
          rep.rtn_layer_error = w.rtn_layer_error;
          q = std::make_unique<WeightOnlyLinear<Int8>>(std::move(w.weights), layer.bias(), r.name);
          break;
        }
        case Method::gptq: {
          auto g = eigenq::gptq(layer.weight(), s, r.quantizer);
          rep.layer_error = g.report.layer_error;
          q = std::make_unique<WeightOnlyLinear<Int8>>(std::move(g.weights), layer.bias(), r.name);
          break;
        }
        case Method::awq: {
          auto a = eigenq::awq(layer.weight(), s, r.quantizer);
          rep.layer_error = a.layer_error;
          rep.rtn_layer_error = a.rtn_layer_error;
          rep.awq_alpha = a.alpha;
          q = std::make_unique<WeightOnlyLinear<Int8>>(std::move(a.weights), layer.bias(), r.name);
          const Eigen::VectorXf& sc = a.input_scales;
          if ((sc.array() == 1.0f).all()) break;
          if (suffix == std::string(".mlp.proj")) {  // after a GELU: an input scale
            auto seq = std::make_unique<eigenq::nn::Sequential>();
            seq->add(eigenq::nn::InputScale(sc)).add(std::move(q));
            q = std::move(seq);
          } else if (suffix == std::string(".attn.proj")) {  // into the v rows of attn.qkv
            eigenq::nn::FloatLinear qkv = float_linear(m, p + ".attn.qkv");
            Eigen::MatrixXf v = qkv.weight().middleRows(2 * d, d);
            Eigen::VectorXf vb = qkv.bias().segment(2 * d, d);
            eigenq::fold_input_scales_into_linear(v, &vb, sc);
            qkv.weight().middleRows(2 * d, d) = v;
            qkv.bias().segment(2 * d, d) = vb;
            m.set_linear(p + ".attn.qkv", std::make_unique<eigenq::nn::FloatLinear>(std::move(qkv)));
          } else {  // into ln2 (mlp.fc) or ln1 (attn.qkv)
            const std::string ln = p + (suffix == std::string(".mlp.fc") ? ".ln2" : ".ln1");
            Eigen::VectorXf gamma = m.layer_norm(ln).weight();
            Eigen::VectorXf beta = m.layer_norm(ln).bias();
            eigenq::fold_input_scales_into_layer_norm(gamma, beta, sc);
            m.set_layer_norm(ln, eigenq::nn::LayerNorm(gamma, beta, m.layer_norm(ln).eps()));
          }
          break;
        }
      }
      m.set_linear(name, std::move(q));
      out.report.push_back(std::move(rep));
    }
  }
  return out;
}

// One recipe for every Linear.
inline std::map<std::string, Recipe> uniform_plan(const ByteGpt& m, const Recipe& r) {
  std::map<std::string, Recipe> plan;
  for (const std::string& n : m.linear_names()) plan[n] = r;
  return plan;
}

// W8A8 dynamic: int8 per-channel weights, uint8 activations quantized per call (PyTorch's).
inline ByteGpt quantize_dynamic(const ByteGpt& float_model) {
  ByteGpt m = float_model;
  for (const std::string& n : m.linear_names()) m.set_linear(n, std::make_unique<eigenq::nn::DynamicLinear>(float_linear(m, n)));
  return m;
}

// SmoothQuant (alpha 0.5) on the Linears a LayerNorm feeds, folded into it (as the reference
// does): attn.qkv (ln1) and mlp.fc (ln2). `stats` are the float model's (in_abs_max).
inline ByteGpt smooth(const ByteGpt& float_model, const Stats& stats, const eigenq::SmoothQuantOptions& o = {}) {
  ByteGpt m = float_model;
  for (std::size_t b = 0; b < m.blocks(); ++b) {
    const std::string p = "blocks." + std::to_string(b);
    for (const auto& [lin, ln] : {std::make_pair(p + ".attn.qkv", p + ".ln1"), std::make_pair(p + ".mlp.fc", p + ".ln2")}) {
      eigenq::nn::FloatLinear l = float_linear(m, lin);
      const Eigen::VectorXf s = eigenq::smoothquant_scales(stats.at(lin), {&l.weight()}, o);
      eigenq::scale_columns(l.weight(), s);
      m.set_linear(lin, std::make_unique<eigenq::nn::FloatLinear>(std::move(l)));
      Eigen::VectorXf gamma = m.layer_norm(ln).weight();
      Eigen::VectorXf beta = m.layer_norm(ln).bias();
      eigenq::fold_input_scales_into_layer_norm(gamma, beta, s);
      m.set_layer_norm(ln, eigenq::nn::LayerNorm(gamma, beta, m.layer_norm(ln).eps()));
    }
  }
  return m;
}

// W8A8 static (TFLite's full-integer Linear): int8 per-channel weights, int8 per-tensor inputs
// and outputs with ranges calibrated on the float model's calibration windows.
inline ByteGpt quantize_static(const ByteGpt& float_model, const std::vector<std::string>& calib,
                               const eigenq::nn::StaticQuantOptions& options = {}) {
  const auto params = calibrate_activations(float_model, calib, options);
  ByteGpt m = float_model;
  for (const std::string& n : m.linear_names()) {
    const eigenq::nn::FloatLinear& l = float_linear(float_model, n);
    const ActivationParams& a = params.at(n);
    m.set_linear(n, std::make_unique<eigenq::nn::StaticLinear>(l.weight(), l.bias(), a.input, a.output, false, options.layer));
  }
  return m;
}

// Every Linear as ggml rows of `type`; with `imatrix`, llama.cpp's importance E[x^2] per input
// channel from the calibration statistics.
inline ByteGpt quantize_ggml(const ByteGpt& float_model, eigenq::ggml::Type type, const Stats* imatrix) {
  ByteGpt m = float_model;
  for (const std::string& n : m.linear_names()) {
    Eigen::VectorXf importance;
    if (imatrix) importance = imatrix->at(n).mean_square("imatrix").cast<float>();
    m.set_linear(n, std::make_unique<eigenq::nn::GgmlLinear>(float_linear(float_model, n), type, importance));
  }
  return m;
}

}  // namespace lm
