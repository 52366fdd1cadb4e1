// Rewriting an ONNX model's MatMul and Gemm nodes whose weight is a constant float initializer
// into quantized operators ONNX Runtime runs, keeping every other node, input, output, opset
// import and metadata:
//
//   Format::qdq          the weight as int8 codes + DequantizeLinear (per output channel with
//                        `axis`, or per tensor) feeding the node, as ORT's quantize_static writes
//                        weights in its QDQ format; the node itself is unchanged.
//   Format::dynamic      DynamicQuantizeLinear on the input, MatMulInteger with the int8 weight,
//                        Cast, Mul by the input scale times the weight scales (and Add of Gemm's
//                        C): the graph ORT's quantize_dynamic writes for a MatMul.
//   Format::matmulnbits  com.microsoft MatMulNBits (2, 4 or 8 bits, block size 16..256, scales
//                        per block, zero points when affine), and Add of Gemm's C.
//
// A Gemm is rewritten by the last two only when alpha = beta = 1 and transA = 0; other nodes
// are listed as skipped with the reason.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/onnx/graph_builder.hpp"
#include "eigenq/onnx/model_file.hpp"
#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace onnx {

enum class Format { qdq, dynamic, matmulnbits };

inline const char* to_string(Format f) {
  switch (f) {
    case Format::qdq: return "qdq";
    case Format::dynamic: return "dynamic";
    case Format::matmulnbits: return "matmulnbits";
  }
  return "?";
}

// A MatMul or Gemm whose B is a float initializer of rank 2.
struct WeightedNode {
  int index = 0;              // in graph.node
  std::string node;           // its name (or "<op_type>#<index>" when unnamed)
  std::string op_type;        // MatMul or Gemm
  std::string weight;         // the initializer's name
  Index in = 0, out = 0;      // K, N
  bool weight_is_out_in = false;  // B stored [N, K] (Gemm with transB = 1)
  std::string unsupported;    // why the chosen format cannot rewrite it (empty: it can)
};

inline std::string node_label(const proto::NodeProto& n, int index) {
  return n.name().empty() ? n.op_type() + "#" + std::to_string(index) : n.name();
}

inline std::int64_t int_attribute(const proto::NodeProto& n, const std::string& name, std::int64_t fallback) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}
inline float float_attribute(const proto::NodeProto& n, const std::string& name, float fallback) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.f();
  }
  return fallback;
}

// The graph's initializers by name.
inline std::map<std::string, int> initializer_index(const proto::GraphProto& g) {
  std::map<std::string, int> m;
  for (int i = 0; i < g.initializer_size(); ++i) m[g.initializer(i).name()] = i;
  return m;
}

// Every MatMul and Gemm of the main graph whose B is an initializer (not also a graph input,
// which a caller could override). A B of another type or rank is listed with the reason.
inline std::vector<WeightedNode> weighted_nodes(const proto::ModelProto& model) {
  const proto::GraphProto& g = model.graph();
  const auto inits = initializer_index(g);
  std::set<std::string> inputs;
  for (const auto& i : g.input()) inputs.insert(i.name());
  std::vector<WeightedNode> out;
  for (int i = 0; i < g.node_size(); ++i) {
    const proto::NodeProto& n = g.node(i);
    if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
    if ((n.op_type() != "MatMul" && n.op_type() != "Gemm") || n.input_size() < 2) continue;
    const auto it = inits.find(n.input(1));
    if (it == inits.end() || inputs.count(n.input(1)) != 0) continue;
    const proto::TensorProto& t = g.initializer(it->second);
    WeightedNode w;
    w.index = i;
    w.node = node_label(n, i);
    w.op_type = n.op_type();
    w.weight = t.name();
    if (t.data_type() != proto::TensorProto::FLOAT || t.dims_size() != 2) {
      w.unsupported = std::string("weight '") + t.name() + "' is " + element_type_name(t.data_type()) + " of rank " +
                      std::to_string(t.dims_size()) + ", expected float of rank 2";
      out.push_back(w);
      continue;
    }
    const bool trans_b = n.op_type() == "Gemm" && int_attribute(n, "transB", 0) != 0;
    w.weight_is_out_in = trans_b;
    w.in = trans_b ? t.dims(1) : t.dims(0);
    w.out = trans_b ? t.dims(0) : t.dims(1);
    if (n.op_type() == "Gemm" && int_attribute(n, "transA", 0) != 0) w.unsupported = "Gemm with transA = 1";
    out.push_back(w);
  }
  return out;
}

// A weight's codes [out, in] and, for AWQ, the input scales s: the node then reads x / s (a Div
// written before it) and the codes are Q(W diag(s)).
struct WeightChoice {
  QTensor<Linear<std::int8_t>> weights;
  Eigen::VectorXf input_scales;  // empty: none
};

struct RewriteOptions {
  Format format = Format::qdq;
  int bits = 8;               // qdq, dynamic: 8 (qdq: 2..8 in int8); matmulnbits: 2, 4 or 8
  bool symmetric = true;      // symmetric codes (zero point 0, or 2^(bits-1) stored for matmulnbits) or affine
  bool per_channel = true;    // qdq, dynamic: per output channel; false: per tensor
  Index block_size = 32;      // matmulnbits: 16..256, a power of two
  // Which nodes to rewrite (by the node's label and the weight's name); all when empty.
  std::function<bool(const WeightedNode&)> select;
  // Chooses the codes of a weight [out, in] (a method other than round to nearest: GPTQ, AWQ,
  // importance-weighted rounding); when empty, Quantizer(policy, granularity).quantize(w).
  std::function<WeightChoice(const WeightedNode&, const Eigen::MatrixXf&, const Linear<std::int8_t>&,
                             const Granularity&)>
      quantize;
  // qdq: the calibrated range (min, max) of each rewritten node's input (evaluate.hpp's
  // observe_ranges); the input then goes through QuantizeLinear/DequantizeLinear, int8 affine with
  // ORT's compute_scale_zp parameters, as quantize_static writes activations. Empty: weights only.
  std::map<std::string, std::pair<float, float>> activation_ranges;
};

struct RewrittenNode {
  WeightedNode site;
  std::string granularity;     // "channel", "tensor", "group(32)"
  Eigen::MatrixXf reference;   // [out, in]
  Eigen::MatrixXf dequantized; // [out, in], what the rewritten graph computes with
  QTensor<Linear<std::int8_t>> weight;  // the codes and params [out, in]
  Eigen::VectorXf input_scales;         // AWQ's s (the node reads x / s), or empty
  bool has_activation = false;          // qdq with activations: the input's int8 parameters
  LinearParams activation;
  std::uint64_t bytes_before = 0;
  std::uint64_t bytes_after = 0;
};

struct SkippedNode {
  WeightedNode site;
  std::string reason;
};

struct RewriteResult {
  std::vector<RewrittenNode> rewritten;
  std::vector<SkippedNode> skipped;
};

namespace detail {

inline void check_options(const RewriteOptions& o) {
  if (!o.activation_ranges.empty() && o.format != Format::qdq) {
    raise("activations are quantized only by --format qdq, not ", to_string(o.format));
  }
  if (o.format == Format::matmulnbits) {
    if (o.bits != 2 && o.bits != 4 && o.bits != 8) raise("--format matmulnbits takes 2, 4 or 8 bits, not ", o.bits);
    if (o.block_size < 16 || o.block_size > 256 || (o.block_size & (o.block_size - 1)) != 0) {
      raise("MatMulNBits block size ", o.block_size, " is not a power of two in 16..256");
    }
  } else if (o.format == Format::dynamic) {
    if (o.bits != 8) raise("--format dynamic takes 8 bits (MatMulInteger), not ", o.bits);
  } else if (o.bits < 2 || o.bits > 8) {
    raise("--format qdq takes 2..8 bits (int8 codes), not ", o.bits);
  }
}

// Codes [rows, cols] of a QTensor as a row-major int8 vector, transposed when asked.
inline std::vector<std::int8_t> codes_as(const QTensor<Linear<std::int8_t>>& q, bool transpose) {
  const std::vector<std::int8_t> c = q.unpacked_codes();
  if (!transpose) return c;
  const Index rows = q.shape()[0];
  const Index cols = q.shape()[1];
  std::vector<std::int8_t> t(c.size());
  for (Index r = 0; r < rows; ++r) {
    for (Index k = 0; k < cols; ++k) t[static_cast<std::size_t>(k * rows + r)] = c[static_cast<std::size_t>(r * cols + k)];
  }
  return t;
}

// Replaces the graph's nodes: `before` first (they read only initializers), then the old nodes
// with node i replaced by replacement[i] (empty: kept).
inline void splice_nodes(proto::GraphProto& g, std::vector<proto::NodeProto> before,
                         std::map<int, std::vector<proto::NodeProto>> replacement) {
  google::protobuf::RepeatedPtrField<proto::NodeProto> nodes;
  for (auto& n : before) *nodes.Add() = std::move(n);
  for (int i = 0; i < g.node_size(); ++i) {
    const auto it = replacement.find(i);
    if (it == replacement.end()) {
      *nodes.Add() = g.node(i);
      continue;
    }
    for (auto& n : it->second) *nodes.Add() = std::move(n);
  }
  g.mutable_node()->Swap(&nodes);
}

// Names not yet used by any value, node or initializer of the graph.
class UniqueNames {
 public:
  explicit UniqueNames(const proto::GraphProto& g) {
    for (const auto& t : g.initializer()) used_.insert(t.name());
    for (const auto& v : g.input()) used_.insert(v.name());
    for (const auto& v : g.output()) used_.insert(v.name());
    for (const auto& n : g.node()) {
      used_.insert(n.name());
      for (const auto& o : n.output()) used_.insert(o);
    }
  }
  std::string operator()(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name) != 0; ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

 private:
  std::set<std::string> used_;
};

}  // namespace detail

// Rewrites the selected nodes in place; the model is checked by ONNX's checker afterwards.
inline RewriteResult rewrite(proto::ModelProto& model, const RewriteOptions& options) {
  detail::check_options(options);
  proto::GraphProto& g = *model.mutable_graph();
  const auto sites = weighted_nodes(model);
  auto inits = initializer_index(g);
  detail::UniqueNames unique(g);
  RewriteResult result;
  std::vector<proto::NodeProto> before;
  std::map<int, std::vector<proto::NodeProto>> replacement;
  std::map<std::string, std::string> activation_dq;  // activation -> its DequantizeLinear output
  std::map<std::string, LinearParams> activation_params;
  std::set<std::string> replaced_weights;
  std::vector<proto::TensorProto> new_inits;

  auto make_node = [](const std::string& op, const std::string& name, std::vector<std::string> in,
                      std::vector<std::string> out, const std::string& domain = "") {
    proto::NodeProto n;
    n.set_op_type(op);
    n.set_name(name);
    if (!domain.empty()) n.set_domain(domain);
    for (auto& i : in) n.add_input(i);
    for (auto& o : out) n.add_output(o);
    return n;
  };
  auto add_int = [](proto::NodeProto& n, const std::string& name, std::int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(proto::AttributeProto::INT);
    a->set_i(v);
  };
  auto raw_tensor = [&new_inits](const std::string& name, int type, std::vector<std::int64_t> dims, const void* data,
                                 std::size_t bytes) {
    proto::TensorProto t;
    t.set_name(name);
    t.set_data_type(type);
    for (auto d : dims) t.add_dims(d);
    t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
    new_inits.push_back(t);
    return name;
  };

  for (const WeightedNode& site : sites) {
    if (options.select && !options.select(site)) continue;
    const proto::NodeProto& node = g.node(site.index);
    std::string why = site.unsupported;
    if (why.empty() && node.op_type() == "Gemm" && options.format != Format::qdq &&
        (float_attribute(node, "alpha", 1.0f) != 1.0f || float_attribute(node, "beta", 1.0f) != 1.0f)) {
      why = "Gemm with alpha or beta other than 1";
    }
    if (!why.empty()) {
      result.skipped.push_back({site, why});
      continue;
    }
    const proto::TensorProto& t = g.initializer(inits.at(site.weight));
    const auto stored = float_matrix(t);
    const std::size_t init_count_before = new_inits.size();
    // W [out, in], as eigenq's layers hold it.
    const Eigen::MatrixXf w = site.weight_is_out_in ? Eigen::MatrixXf(stored) : Eigen::MatrixXf(stored.transpose());

    Linear<std::int8_t> policy = options.symmetric ? Linear<std::int8_t>::symmetric(Profile::onnx)
                                                   : Linear<std::int8_t>::affine(Profile::onnx);
    if (options.bits != 8) policy = policy.with_bits(options.bits);
    Granularity granularity = options.format == Format::matmulnbits
                                  ? Granularity(PerGroup{1, options.block_size})
                                  : options.per_channel ? Granularity(PerChannel{0}) : Granularity(PerTensor{});
    WeightChoice choice = options.quantize
                              ? options.quantize(site, w, policy, granularity)
                              : WeightChoice{Quantizer<Linear<std::int8_t>, Granularity>(policy, granularity).quantize(w), {}};
    const QTensor<Linear<std::int8_t>>& q = choice.weights;
    if (q.rank() != 2 || q.shape()[0] != site.out || q.shape()[1] != site.in) {
      raise("node '", site.node, "': the method gave codes of shape ", eigenq::to_string(q.shape()), " for a weight [",
            site.out, ", ", site.in, "]");
    }
    const Eigen::VectorXf& s = choice.input_scales;
    if (s.size() != 0 && s.size() != site.in) {
      raise("node '", site.node, "': ", s.size(), " input scales for ", site.in, " inputs");
    }
    RewrittenNode r;
    r.site = site;
    r.reference = w;
    r.dequantized = q.dequantize<Eigen::MatrixXf>();
    if (s.size() != 0) r.dequantized = (r.dequantized.array().rowwise() / s.transpose().array()).matrix();
    r.weight = q;
    r.input_scales = s;
    // The node's input, divided by AWQ's scales when there are some.
    std::vector<proto::NodeProto> prelude;
    std::string a_in = node.input(0);
    if (s.size() != 0) {
      const std::vector<float> sv(s.data(), s.data() + s.size());
      const std::string sn = raw_tensor(unique(site.weight + "_input_scale"), proto::TensorProto::FLOAT, {site.in}, sv.data(),
                                        sv.size() * 4);
      a_in = unique(site.node + "_input_scaled");
      prelude.push_back(make_node("Div", unique(site.node + "_input_scale_div"), {node.input(0), sn}, {a_in}));
    }
    r.bytes_before = stored_bytes(t);
    r.granularity = options.format == Format::matmulnbits ? "group(" + std::to_string(options.block_size) + ")"
                    : options.per_channel                 ? "channel"
                                                          : "tensor";
    const Index n_out = site.out;
    const Index k_in = site.in;
    std::vector<float> scales;
    std::vector<std::int8_t> zps;
    for (const auto& p : q.params()) {
      scales.push_back(p.scale);
      zps.push_back(static_cast<std::int8_t>(p.zero_point));
    }
    const std::string base = site.weight;
    if (options.format == Format::qdq) {
      // Codes in B's own layout; per channel along the output axis of B.
      const std::vector<std::int8_t> codes = detail::codes_as(q, !site.weight_is_out_in);
      const std::string qn = raw_tensor(unique(base + "_quantized"), proto::TensorProto::INT8,
                                        {t.dims(0), t.dims(1)}, codes.data(), codes.size());
      std::vector<std::int64_t> pdims;
      if (options.per_channel) pdims.push_back(n_out);
      const std::string sn = raw_tensor(unique(base + "_scale"), proto::TensorProto::FLOAT, pdims, scales.data(), scales.size() * 4);
      const std::string zn = raw_tensor(unique(base + "_zero_point"), proto::TensorProto::INT8, pdims, zps.data(), zps.size());
      const std::string dq_out = unique(base + "_DequantizeLinear_Output");
      proto::NodeProto dq = make_node("DequantizeLinear", unique(base + "_DequantizeLinear"), {qn, sn, zn}, {dq_out});
      if (options.per_channel) add_int(dq, "axis", site.weight_is_out_in ? 0 : 1);
      before.push_back(dq);
      if (!options.activation_ranges.empty()) {
        if (s.size() != 0) raise("node '", site.node, "': activations with AWQ's input scales are not supported");
        auto it = activation_dq.find(a_in);
        if (it == activation_dq.end()) {
          const auto range = options.activation_ranges.find(a_in);
          if (range == options.activation_ranges.end()) {
            raise("node '", site.node, "': no calibration range for its input '", a_in, "'");
          }
          const LinearParams ap =
              choose_params_onnx(range->second.first, range->second.second, CodeRange{-128, 127}, Symmetry::affine);
          const std::string as = raw_tensor(unique(a_in + "_scale"), proto::TensorProto::FLOAT, {}, &ap.scale, 4);
          const auto zp8 = static_cast<std::int8_t>(ap.zero_point);
          const std::string az = raw_tensor(unique(a_in + "_zero_point"), proto::TensorProto::INT8, {}, &zp8, 1);
          const std::string aq = unique(a_in + "_QuantizeLinear_Output");
          const std::string adq = unique(a_in + "_DequantizeLinear_Output");
          prelude.push_back(make_node("QuantizeLinear", unique(a_in + "_QuantizeLinear"), {a_in, as, az}, {aq}));
          prelude.push_back(make_node("DequantizeLinear", unique(a_in + "_DequantizeLinear"), {aq, as, az}, {adq}));
          it = activation_dq.emplace(a_in, adq).first;
          activation_params[a_in] = ap;
        }
        r.activation = activation_params.at(a_in);
        r.has_activation = true;
        a_in = it->second;
      }
      proto::NodeProto copy = node;
      copy.set_input(0, a_in);
      copy.set_input(1, dq_out);
      prelude.push_back(copy);
      replacement[site.index] = prelude;
    } else if (options.format == Format::dynamic) {
      const std::vector<std::int8_t> codes = detail::codes_as(q, true);  // [K, N]
      const std::string label = site.node;
      const std::string qn = raw_tensor(unique(base + "_quantized"), proto::TensorProto::INT8, {k_in, n_out}, codes.data(), codes.size());
      std::vector<std::int64_t> pdims;
      if (options.per_channel) pdims.push_back(n_out);
      const std::string sn = raw_tensor(unique(base + "_scale"), proto::TensorProto::FLOAT, pdims, scales.data(), scales.size() * 4);
      const std::string zn = raw_tensor(unique(base + "_zero_point"), proto::TensorProto::INT8, pdims, zps.data(), zps.size());
      const std::string a = a_in;
      const std::string aq = unique(a + "_quantized"), as = unique(a + "_scale"), az = unique(a + "_zero_point");
      std::vector<proto::NodeProto> ns = prelude;
      ns.push_back(make_node("DynamicQuantizeLinear", unique(a + "_QuantizeLinear"), {a}, {aq, as, az}));
      const std::string acc = unique(label + "_output_quantized");
      ns.push_back(make_node("MatMulInteger", unique(label + "_quant"), {aq, qn, az, zn}, {acc}));
      const std::string accf = unique(acc + "_cast_output");
      proto::NodeProto cast = make_node("Cast", unique(acc + "_cast"), {acc}, {accf});
      add_int(cast, "to", proto::TensorProto::FLOAT);
      ns.push_back(cast);
      const std::string sc = unique(label + "_scales_mul_output");
      ns.push_back(make_node("Mul", unique(label + "_scales_mul"), {as, sn}, {sc}));
      const bool bias = node.op_type() == "Gemm" && node.input_size() > 2 && !node.input(2).empty();
      const std::string y = bias ? unique(label + "_output_unbiased") : node.output(0);
      ns.push_back(make_node("Mul", unique(label + "_output_scale_mul"), {accf, sc}, {y}));
      if (bias) ns.push_back(make_node("Add", unique(label + "_bias_add"), {y, node.input(2)}, {node.output(0)}));
      replacement[site.index] = ns;
    } else {
      // MatMulNBits: B [N, blocks, block_size * bits / 8], codes + 2^(bits-1) unsigned, low bits first.
      const int bits = options.bits;
      const Index bs = options.block_size;
      const Index blocks = (k_in + bs - 1) / bs;
      const Index blob = bs * bits / 8;
      const int offset = 1 << (bits - 1);
      const std::vector<std::int8_t> codes = q.unpacked_codes();  // [N, K]
      std::vector<std::uint8_t> b(static_cast<std::size_t>(n_out * blocks * blob), 0);
      auto put = [bits](std::uint8_t* row, Index k, unsigned v) {
        const Index bit = k * bits;
        row[bit / 8] = static_cast<std::uint8_t>(row[bit / 8] | (v << (bit % 8)));
      };
      for (Index n = 0; n < n_out; ++n) {
        std::uint8_t* row = b.data() + n * blocks * blob;
        for (Index k = 0; k < blocks * bs; ++k) {
          // Past K: the block's zero point, a code that dequantizes to 0.
          const int zp = zps[static_cast<std::size_t>(n * blocks + k / bs)];
          const int c = k < k_in ? codes[static_cast<std::size_t>(n * k_in + k)] : zp;
          put(row, k, static_cast<unsigned>(c + offset));
        }
      }
      const std::string bn = raw_tensor(unique(base + "_Q" + std::to_string(bits)), proto::TensorProto::UINT8,
                                        {n_out, blocks, blob}, b.data(), b.size());
      const std::string sn = raw_tensor(unique(base + "_scales"), proto::TensorProto::FLOAT, {n_out * blocks}, scales.data(),
                                        scales.size() * 4);
      std::vector<std::string> inputs = {a_in, bn, sn};
      if (!options.symmetric) {
        const Index per_row = (blocks * bits + 7) / 8;
        std::vector<std::uint8_t> z(static_cast<std::size_t>(n_out * per_row), 0);
        for (Index n = 0; n < n_out; ++n) {
          for (Index blk = 0; blk < blocks; ++blk) {
            put(z.data() + n * per_row, blk, static_cast<unsigned>(zps[static_cast<std::size_t>(n * blocks + blk)] + offset));
          }
        }
        inputs.push_back(raw_tensor(unique(base + "_zero_points"), proto::TensorProto::UINT8, {n_out * per_row}, z.data(), z.size()));
      }
      const bool bias = node.op_type() == "Gemm" && node.input_size() > 2 && !node.input(2).empty();
      const std::string y = bias ? unique(site.node + "_output_unbiased") : node.output(0);
      proto::NodeProto mm = make_node("MatMulNBits", unique(site.node + "_Q" + std::to_string(bits)), inputs, {y}, microsoft_domain);
      add_int(mm, "K", k_in);
      add_int(mm, "N", n_out);
      add_int(mm, "bits", bits);
      add_int(mm, "block_size", bs);
      std::vector<proto::NodeProto> ns = prelude;
      ns.push_back(mm);
      if (bias) ns.push_back(make_node("Add", unique(site.node + "_bias_add"), {y, node.input(2)}, {node.output(0)}));
      replacement[site.index] = ns;
      require_opset(model, microsoft_domain, microsoft_opset);
    }
    for (std::size_t i = init_count_before; i < new_inits.size(); ++i) r.bytes_after += new_inits[i].raw_data().size();
    replaced_weights.insert(site.weight);
    result.rewritten.push_back(std::move(r));
  }

  detail::splice_nodes(g, std::move(before), std::move(replacement));
  // Drop the float weights no node reads any more.
  std::set<std::string> read;
  for (const auto& n : g.node()) {
    for (const auto& i : n.input()) read.insert(i);
  }
  for (const auto& o : g.output()) read.insert(o.name());
  google::protobuf::RepeatedPtrField<proto::TensorProto> kept;
  for (auto& t : *g.mutable_initializer()) {
    if (replaced_weights.count(t.name()) != 0 && read.count(t.name()) == 0) continue;
    *kept.Add() = std::move(t);
  }
  for (auto& t : new_inits) *kept.Add() = std::move(t);
  g.mutable_initializer()->Swap(&kept);
  check(model);
  return result;
}

}  // namespace onnx
}  // namespace eigenq
