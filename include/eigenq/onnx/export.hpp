// eigenq's own models as ONNX graphs ONNX Runtime runs with eigenq's arithmetic:
//
//   eigenq::onnx::save(model, "model.onnx");          // checked by ONNX's checker, written atomically
//   ::onnx::ModelProto m = eigenq::onnx::to_model(model);
//
// One input "input" [batch, in] float, one output "output" [batch, out] float. Each layer becomes
// the operators that compute what its forward() computes (docs/onnx.md has the tables):
//   Linear (FloatLinear)  Gemm(transB = 1) with the bias.
//   ReLU                  Relu.
//   DynamicLinear         the activation parameters as PyTorch's dynamic quantization chooses them
//                         (ReduceMin/ReduceMax, the scale in double, the zero point's nudge), the
//                         codes as x * (1 / scale) rounded half to even, MatMulInteger, the
//                         activation zero point's correction in int32, the scales and the bias.
//                         ORT's DynamicQuantizeLinear is not used: it divides by the scale and
//                         computes it in float, so some codes differ from eigenq's.
//   StaticLinear          int8 codes in, int8 codes out: the input quantized as x / scale rounded
//                         half away from zero (TFLite), MatMulInteger, the int32 bias, the
//                         fixed-point requantization (double or single rounding) in int64, the
//                         output zero point and the clamp (ReLU fused). QLinearMatMul is not used:
//                         ORT requantizes with a float multiplier. A chain of StaticLinear layers
//                         passes int8 codes; DequantizeLinear ends it.
//   GroupedLinear         com.microsoft MatMulNBits (4 bits, block size G, the codes + 8 as its
//                         default zero point 8, the f16-rounded scales as float, accuracy_level 4:
//                         activations quantized to int8 per block as eigenq's int4 GEMV does), and
//                         the bias.
//   LayerNorm             LayerNormalization (axis -1, its epsilon, weight and bias).
//   GELU                  0.5 x (1 + erf(x / sqrt(2))) as Mul, Erf, Add, Mul, Mul (opset 17 has no Gelu).
// Other layers (WeightOnlyLinear, ChannelMixedLinear, ...) raise. write_layer() writes one layer
// into a graph of the caller's (a transformer's blocks: onnx/attention.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/gelu.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/layer_norm.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"
#include "eigenq/onnx/graph_builder.hpp"

namespace eigenq {
namespace onnx {

struct ExportOptions {
  std::string graph_name = "eigenq";
  std::string producer_name = "eigenq";
  std::string producer_version = "";  // empty: none (keeps the bytes independent of the version)
};

namespace detail {

using Int32Vector = std::vector<std::int32_t>;

// [out, in] codes (row-major, as QTensor stores them) as the [in, out] B of MatMulInteger.
template <class Code>
std::vector<Code> transposed(const std::vector<Code>& codes, Index out, Index in) {
  std::vector<Code> t(codes.size());
  for (Index n = 0; n < out; ++n) {
    for (Index k = 0; k < in; ++k) t[static_cast<std::size_t>(k * out + n)] = codes[static_cast<std::size_t>(n * in + k)];
  }
  return t;
}

inline std::vector<float> to_vector(const Eigen::VectorXf& v) { return std::vector<float>(v.data(), v.data() + v.size()); }

inline std::string export_float_linear(GraphBuilder& g, const nn::FloatLinear& layer, const std::string& x) {
  const Eigen::MatrixXf& w = layer.weight();
  std::vector<float> wr(static_cast<std::size_t>(w.size()));
  for (Index n = 0; n < w.rows(); ++n) {
    for (Index k = 0; k < w.cols(); ++k) wr[static_cast<std::size_t>(n * w.cols() + k)] = w(n, k);
  }
  const std::string wn = g.tensor<float>("weight", {w.rows(), w.cols()}, wr);
  const std::string bn = g.tensor<float>("bias", {w.rows()}, to_vector(layer.bias()));
  return g.op("Gemm", {x, wn, bn}, "y", {Attribute::integer("transB", 1)});
}

// The activation parameters of choose_params_pytorch_dynamic, as graph operators; returns the
// float scale and the zero point (as float and as int32), each [1, 1] or [batch, 1].
struct DynamicParamsNames {
  std::string scale, zero_point_f, zero_point_i;
};

inline DynamicParamsNames dynamic_params(GraphBuilder& g, const std::string& x, bool per_row, CodeRange full,
                                         bool reduce_range) {
  std::int32_t qmin = full.qmin;
  std::int32_t qmax = full.qmax;
  if (reduce_range) {
    qmin /= 2;
    qmax /= 2;
  }
  const int f32 = proto::TensorProto::FLOAT;
  const int f64 = proto::TensorProto::DOUBLE;
  std::vector<Attribute> reduce = {Attribute::integer("keepdims", 1)};
  if (per_row) reduce.push_back(Attribute::integers("axes", {1}));
  const std::string zero_f = g.scalar<float>("zero_f", 0.0f);
  const std::string lo = g.op("Min", {g.op("ReduceMin", {x}, "lo0", reduce), zero_f}, "lo");
  const std::string hi = g.op("Max", {g.op("ReduceMax", {x}, "hi0", reduce), zero_f}, "hi");
  // scale = (double(max) - min) / (qmax - qmin); 0.1 when its float is 0 or has no finite reciprocal.
  const std::string span = g.op("Sub", {g.cast(hi, f64, "hi_d"), g.cast(lo, f64, "lo_d")}, "span");
  const std::string s0 = g.op("Div", {span, g.scalar<double>("range_d", double(qmax - qmin))}, "s0");
  const std::string s0f = g.cast(s0, f32, "s0_f");
  const std::string inv0 = g.op("Div", {g.scalar<float>("one_f", 1.0f), s0f}, "inv0");
  const std::string bad = g.op("Or", {g.op("Equal", {s0f, zero_f}, "s0_zero"), g.op("IsInf", {inv0}, "inv0_inf")}, "s0_bad");
  const std::string s1 = g.op("Where", {bad, g.scalar<double>("tenth_d", 0.1), s0}, "s1");
  // Below 6.1e-5 the scale is raised to it and the range widened (torch's small-scale rule).
  constexpr float threshold = 6.1e-5f;
  const std::string thr_d = g.scalar<double>("threshold_d", static_cast<double>(threshold));
  const std::string small = g.op("Less", {s1, thr_d}, "small");
  const std::string s2 = g.op("Where", {small, thr_d, s1}, "s2");
  const std::string amp = g.op("Div", {g.scalar<float>("threshold_f", threshold), g.cast(s1, f32, "s1_f")}, "amp");
  const std::string lo_zero = g.op("Equal", {lo, zero_f}, "lo_zero");
  const std::string hi_zero = g.op("Equal", {hi, zero_f}, "hi_zero");
  const float widened = threshold * static_cast<float>(qmax - qmin);
  const std::string lo_small = g.op(
      "Where", {lo_zero, lo, g.op("Where", {hi_zero, g.scalar<float>("neg_widened", -widened), g.op("Mul", {lo, amp}, "lo_amp")}, "lo_small1")},
      "lo_small");
  const std::string hi_small = g.op(
      "Where", {lo_zero, g.scalar<float>("widened", widened), g.op("Where", {hi_zero, hi, g.op("Mul", {hi, amp}, "hi_amp")}, "hi_small1")},
      "hi_small");
  const std::string lo2 = g.cast(g.op("Where", {small, lo_small, lo}, "lo2"), f64, "lo2_d");
  const std::string hi2 = g.cast(g.op("Where", {small, hi_small, hi}, "hi2"), f64, "hi2_d");
  // The zero point from whichever end is represented better, clamped, rounded half to even.
  const std::string rmin = g.op("Div", {lo2, s2}, "rmin");
  const std::string rmax = g.op("Div", {hi2, s2}, "rmax");
  const std::string qmin_d = g.scalar<double>("qmin_d", qmin);
  const std::string qmax_d = g.scalar<double>("qmax_d", qmax);
  const std::string zmin = g.op("Sub", {qmin_d, rmin}, "zp_from_min");
  const std::string zmax = g.op("Sub", {qmax_d, rmax}, "zp_from_max");
  const std::string emin =
      g.op("Sub", {g.scalar<double>("abs_qmin_d", std::abs(qmin)), g.op("Abs", {rmin}, "abs_rmin")}, "err_min");
  const std::string emax =
      g.op("Sub", {g.scalar<double>("abs_qmax_d", std::abs(qmax)), g.op("Abs", {rmax}, "abs_rmax")}, "err_max");
  const std::string zp = g.op("Where", {g.op("Less", {emin, emax}, "min_better"), zmin, zmax}, "zp");
  const std::string zpc = g.op("Max", {g.op("Min", {zp, qmax_d}, "zp_hi"), qmin_d}, "zp_clamped");
  const std::string zpr = g.op("Round", {zpc}, "zp_rounded");
  DynamicParamsNames out;
  out.scale = g.cast(s2, f32, "scale");
  out.zero_point_f = g.cast(zpr, f32, "zero_point_f");
  out.zero_point_i = g.cast(zpr, proto::TensorProto::INT32, "zero_point_i");
  return out;
}

inline std::string export_dynamic_linear(GraphBuilder& g, const nn::DynamicLinear& layer, const std::string& x) {
  const nn::DynamicLinearOptions& o = layer.options();
  const Index n = layer.out_features();
  const Index k = layer.in_features();
  const CodeRange full = o.signed_activations ? CodeRange{-128, 127} : CodeRange{0, 255};
  const CodeRange range = layer.activation_range();
  const DynamicParamsNames p =
      dynamic_params(g, x, o.activations == nn::ActivationGranularity::per_row, full, o.reduce_range);
  // Codes: clamp(round_half_even(x * (1 / scale)) + zero_point).
  const std::string inv = g.op("Div", {g.name("one_f"), p.scale}, "inv_scale");
  const std::string shifted = g.op("Add", {g.op("Round", {g.op("Mul", {x, inv}, "scaled")}, "rounded"), p.zero_point_f}, "shifted");
  const std::string clamped = g.op("Clip", {shifted, g.scalar<float>("code_min", static_cast<float>(range.qmin)),
                                            g.scalar<float>("code_max", static_cast<float>(range.qmax))},
                                   "clamped");
  const std::string codes =
      g.cast(clamped, o.signed_activations ? proto::TensorProto::INT8 : proto::TensorProto::UINT8, "codes");
  // Weights [in, out], their zero points and scales per column, sum_k (w - zw) per column.
  const auto& w = layer.weight();
  const std::vector<std::int8_t> wc = w.unpacked_codes();
  const std::string wn = g.tensor<std::int8_t>("weight_codes", {k, n}, transposed(wc, n, k));
  std::vector<std::int8_t> zps(static_cast<std::size_t>(n));
  std::vector<float> scales(static_cast<std::size_t>(n));
  std::vector<std::int32_t> centered(static_cast<std::size_t>(n), 0);
  bool any_zero_point = false;
  for (Index c = 0; c < n; ++c) {
    const LinearParams& wp = w.params()[w.params().size() == 1 ? 0 : static_cast<std::size_t>(c)];
    zps[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(wp.zero_point);
    scales[static_cast<std::size_t>(c)] = wp.scale;
    any_zero_point = any_zero_point || wp.zero_point != 0;
    std::int64_t sum = 0;
    for (Index kk = 0; kk < k; ++kk) sum += wc[static_cast<std::size_t>(c * k + kk)] - wp.zero_point;
    centered[static_cast<std::size_t>(c)] = static_cast<std::int32_t>(sum);
  }
  std::vector<std::string> mm_inputs = {codes, wn};
  if (any_zero_point) {
    mm_inputs.push_back("");
    mm_inputs.push_back(g.tensor<std::int8_t>("weight_zero_points", {n}, zps));
  }
  const std::string acc = g.op("MatMulInteger", mm_inputs, "acc");
  // sum (a - za)(w - zw) = sum a (w - zw) - za * sum (w - zw): exact in int32.
  const std::string corr = g.op("Mul", {p.zero_point_i, g.tensor<std::int32_t>("centered_sums", {n}, centered)}, "correction");
  const std::string sums = g.cast(g.op("Sub", {acc, corr}, "sums"), proto::TensorProto::FLOAT, "sums_f");
  const std::string sc = g.op("Mul", {p.scale, g.tensor<float>("weight_scales", {n}, scales)}, "scales");
  const std::string y0 = g.op("Mul", {sums, sc}, "y0");
  return g.op("Add", {y0, g.tensor<float>("bias", {n}, to_vector(layer.bias()))}, "y");
}

// x (float) -> int8 codes: clamp(round_half_away(x / scale) + zero_point, -128, 127).
inline std::string static_quantize(GraphBuilder& g, const std::string& x, LinearParams p) {
  const std::string v = g.op("Div", {x, g.scalar<float>("in_scale", p.scale)}, "in_scaled");
  const std::string a = g.op("Abs", {v}, "in_abs");
  const std::string fl = g.op("Floor", {a}, "in_floor");
  const std::string up = g.cast(g.op("GreaterOrEqual", {g.op("Sub", {a, fl}, "in_frac"), g.scalar<float>("half", 0.5f)}, "in_up"),
                                proto::TensorProto::FLOAT, "in_up_f");
  const std::string r = g.op("Mul", {g.op("Sign", {v}, "in_sign"), g.op("Add", {fl, up}, "in_mag")}, "in_rounded");
  const std::string s = g.op("Add", {r, g.scalar<float>("in_zero_point", static_cast<float>(p.zero_point))}, "in_shifted");
  const std::string c = g.op("Clip", {s, g.scalar<float>("in_min", -128.0f), g.scalar<float>("in_max", 127.0f)}, "in_clamped");
  return g.cast(c, proto::TensorProto::INT8, "in_codes");
}

// int8 codes in, int8 codes out.
inline std::string export_static_linear(GraphBuilder& g, const nn::StaticLinear& layer, const std::string& codes,
                                        kernels::FixedPointRounding rounding) {
  const Index n = layer.out_features();
  const Index k = layer.in_features();
  const LinearParams in = layer.input_params();
  const LinearParams out = layer.output_params();
  const std::vector<std::int8_t> wc = layer.weight().unpacked_codes();
  const std::string wn = g.tensor<std::int8_t>("weight_codes", {k, n}, transposed(wc, n, k));
  const std::string acc = g.op(
      "MatMulInteger", {codes, wn, g.scalar<std::int8_t>("in_zero_point_q", static_cast<std::int8_t>(in.zero_point))}, "acc");
  const std::string t = g.op("Add", {acc, g.tensor<std::int32_t>("bias", {n}, layer.bias())}, "acc_bias");
  const std::string t64 = g.cast(t, proto::TensorProto::INT64, "acc64");
  const auto& ms = layer.multipliers();
  std::vector<std::int64_t> m(static_cast<std::size_t>(n));
  for (Index c = 0; c < n; ++c) m[static_cast<std::size_t>(c)] = ms[static_cast<std::size_t>(c)].multiplier;
  const std::string mn = g.tensor<std::int64_t>("multipliers", {n}, m);
  const std::string i32min = g.scalar<std::int64_t>("int32_min", std::numeric_limits<std::int32_t>::min());
  const std::string i32max = g.scalar<std::int64_t>("int32_max", std::numeric_limits<std::int32_t>::max());
  std::string v;
  if (rounding == kernels::FixedPointRounding::double_rounding) {
    // x << left (saturated), the rounding doubling high multiply, a rounding right shift.
    std::vector<std::int64_t> left(static_cast<std::size_t>(n)), half(static_cast<std::size_t>(n)),
        pot(static_cast<std::size_t>(n));
    for (Index c = 0; c < n; ++c) {
      const int e = ms[static_cast<std::size_t>(c)].exponent;
      const int l = e > 0 ? e : 0;
      const int r = e > 0 ? 0 : -e;
      left[static_cast<std::size_t>(c)] = std::int64_t{1} << l;
      pot[static_cast<std::size_t>(c)] = std::int64_t{1} << r;
      half[static_cast<std::size_t>(c)] = r > 0 ? (std::int64_t{1} << (r - 1)) : 0;
    }
    const std::string sl = g.op("Mul", {t64, g.tensor<std::int64_t>("left_shift", {n}, left)}, "shifted");
    const std::string sat = g.op("Max", {g.op("Min", {sl, i32max}, "shifted_hi"), i32min}, "shifted_sat");
    const std::string ab = g.op("Mul", {sat, mn}, "product");
    const std::string nudge = g.op("Where", {g.op("GreaterOrEqual", {ab, g.scalar<std::int64_t>("zero_i64", 0)}, "product_nonneg"),
                                             g.scalar<std::int64_t>("nudge_pos", std::int64_t{1} << 30),
                                             g.scalar<std::int64_t>("nudge_neg", 1 - (std::int64_t{1} << 30))},
                                     "nudge");
    // Div on int64 truncates toward zero, as C++'s / does.
    const std::string high = g.op("Div", {g.op("Add", {ab, nudge}, "nudged"), g.scalar<std::int64_t>("two_31", std::int64_t{1} << 31)}, "high");
    // Rounding divide by 2^r, ties away from zero: sign(h) * ((|h| + 2^(r-1)) / 2^r).
    const std::string mag = g.op("Div", {g.op("Add", {g.op("Abs", {high}, "high_abs"), g.tensor<std::int64_t>("round_half", {n}, half)}, "high_half"),
                                         g.tensor<std::int64_t>("right_shift", {n}, pot)},
                                 "high_shifted");
    v = g.op("Mul", {mag, g.op("Sign", {high}, "high_sign")}, "requantized");
  } else {
    // (x * m + 2^(s-1)) >> s with s = 31 - exponent: floor division, (v - mod(v, d)) / d.
    std::vector<std::int64_t> add(static_cast<std::size_t>(n)), pot(static_cast<std::size_t>(n));
    for (Index c = 0; c < n; ++c) {
      const int s = 31 - ms[static_cast<std::size_t>(c)].exponent;
      pot[static_cast<std::size_t>(c)] = std::int64_t{1} << s;
      add[static_cast<std::size_t>(c)] = std::int64_t{1} << (s - 1);
    }
    const std::string d = g.tensor<std::int64_t>("right_shift", {n}, pot);
    const std::string p = g.op("Add", {g.op("Mul", {t64, mn}, "product"), g.tensor<std::int64_t>("round_half", {n}, add)}, "nudged");
    const std::string fl = g.op("Div", {g.op("Sub", {p, g.op("Mod", {p, d}, "remainder")}, "floored"), d}, "high");
    v = g.op("Max", {g.op("Min", {fl, i32max}, "high_hi"), i32min}, "requantized");
  }
  const std::int64_t qmin = layer.relu() ? std::max<std::int64_t>(out.zero_point, -128) : -128;
  const std::string shifted = g.op("Add", {v, g.scalar<std::int64_t>("out_zero_point", out.zero_point)}, "out_shifted");
  const std::string clamped = g.op("Max", {g.op("Min", {shifted, g.scalar<std::int64_t>("out_max", 127)}, "out_hi"),
                                           g.scalar<std::int64_t>("out_min", qmin)},
                                   "out_clamped");
  return g.cast(clamped, proto::TensorProto::INT8, "out_codes");
}

inline std::string export_grouped_linear(GraphBuilder& g, const nn::GroupedLinear& layer, const std::string& x) {
  const Index n = layer.out_features();
  const Index k = layer.in_features();
  const Index gs = layer.options().group_size;
  const Index blocks = (k + gs - 1) / gs;
  const Index blob = gs / 2;
  const auto& w = layer.weight();
  const std::vector<std::int8_t> codes = w.unpacked_codes();
  // B [N, blocks, G/2]: code + 8 (MatMulNBits' default zero point is 8), two a byte, the even
  // element in the low nibble; the padding past K holds code 0 (stored 8).
  std::vector<std::uint8_t> b(static_cast<std::size_t>(n * blocks * blob), 0x88);
  for (Index c = 0; c < n; ++c) {
    for (Index kk = 0; kk < k; ++kk) {
      const auto u = static_cast<std::uint8_t>(codes[static_cast<std::size_t>(c * k + kk)] + 8);
      std::uint8_t& byte = b[static_cast<std::size_t>(c * blocks * blob + kk / 2)];
      byte = kk % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0) | u) : static_cast<std::uint8_t>((byte & 0x0F) | (u << 4));
    }
  }
  // Scales [N * blocks], in the layout of the weight's params (row n, group g at n * blocks + g).
  std::vector<float> scales;
  scales.reserve(w.params().size());
  for (const auto& p : w.params()) scales.push_back(p.scale);
  if (static_cast<Index>(scales.size()) != n * blocks) raise("onnx: GroupedLinear has ", scales.size(), " scales for ", n * blocks, " blocks");
  const std::string bn = g.tensor<std::uint8_t>("weight_blocks", {n, blocks, blob}, b);
  const std::string sn = g.tensor<float>("weight_scales", {n * blocks}, scales);
  const std::string y0 = g.node("MatMulNBits", {x, bn, sn}, {"y0"},
                                {Attribute::integer("K", k), Attribute::integer("N", n), Attribute::integer("bits", 4),
                                 Attribute::integer("block_size", gs), Attribute::integer("accuracy_level", 4)},
                                microsoft_domain);
  return g.op("Add", {y0, g.tensor<float>("bias", {n}, to_vector(layer.bias()))}, "y");
}

inline std::string export_layer_norm(GraphBuilder& g, const nn::LayerNorm& layer, const std::string& x) {
  return g.op("LayerNormalization",
              {x, g.tensor<float>("weight", {layer.features()}, to_vector(layer.weight())),
               g.tensor<float>("bias", {layer.features()}, to_vector(layer.bias()))},
              "y", {Attribute::integer("axis", -1), Attribute::real("epsilon", layer.eps())});
}

// In GELU's order: (0.5 * x) * (1 + erf(x * (1 / sqrt(2)))).
inline std::string export_gelu(GraphBuilder& g, const std::string& x) {
  const std::string e = g.op("Erf", {g.op("Mul", {x, g.scalar<float>("inv_sqrt2", 0.70710678118654752f)}, "scaled")}, "erf");
  const std::string one_plus = g.op("Add", {e, g.scalar<float>("one", 1.0f)}, "one_plus_erf");
  const std::string half_x = g.op("Mul", {x, g.scalar<float>("half", 0.5f)}, "half_x");
  return g.op("Mul", {half_x, one_plus}, "y");
}

// A StaticLinear chain's int8 codes back to float.
inline std::string dequantize_codes(GraphBuilder& g, const std::string& codes, LinearParams p) {
  return g.op("DequantizeLinear", {codes, g.scalar<float>("dq_scale", p.scale),
                                   g.scalar<std::int8_t>("dq_zero_point", static_cast<std::int8_t>(p.zero_point))},
              "dequantized");
}

}  // namespace detail

// Writes one layer with a float input and a float output (a StaticLinear quantizes its input and
// dequantizes its output codes) on value x and returns its output's name. Names start with the
// builder's prefix, which the caller makes unique per layer; `where` names the layer in errors.
// A GroupedLinear adds the com.microsoft opset import to `model`.
inline std::string write_layer(GraphBuilder& g, proto::ModelProto& model, const nn::Module& layer, const std::string& x,
                               const std::string& where) {
  if (const auto* f = dynamic_cast<const nn::FloatLinear*>(&layer)) return detail::export_float_linear(g, *f, x);
  if (dynamic_cast<const nn::ReLU*>(&layer) != nullptr) return g.op("Relu", {x}, "y");
  if (dynamic_cast<const nn::GELU*>(&layer) != nullptr) return detail::export_gelu(g, x);
  if (const auto* ln = dynamic_cast<const nn::LayerNorm*>(&layer)) return detail::export_layer_norm(g, *ln, x);
  if (const auto* d = dynamic_cast<const nn::DynamicLinear*>(&layer)) return detail::export_dynamic_linear(g, *d, x);
  if (const auto* st = dynamic_cast<const nn::StaticLinear*>(&layer)) {
    const std::string codes = detail::export_static_linear(g, *st, detail::static_quantize(g, x, st->input_params()),
                                                           st->options().rounding);
    return detail::dequantize_codes(g, codes, st->output_params());
  }
  if (const auto* q = dynamic_cast<const nn::GroupedLinear*>(&layer)) {
    require_opset(model, microsoft_domain, microsoft_opset);
    return detail::export_grouped_linear(g, *q, x);
  }
  raise("onnx: ", where, " (", layer.kind(),
        ") has no ONNX form; exported are Linear, ReLU, GELU, LayerNorm, DynamicLinear, StaticLinear, GroupedLinear");
}

// The model as an ONNX ModelProto, checked by ONNX's checker.
inline proto::ModelProto to_model(const nn::Sequential& model, const ExportOptions& options = {}) {
  if (model.size() == 0) raise("onnx::to_model: the model is empty");
  proto::ModelProto m;
  m.set_ir_version(ir_version);
  m.set_producer_name(options.producer_name);
  if (!options.producer_version.empty()) m.set_producer_version(options.producer_version);
  require_opset(m, "", onnx_opset);
  proto::GraphProto* graph = m.mutable_graph();
  graph->set_name(options.graph_name);
  GraphBuilder g(graph);

  Index in_features = -1;
  Index features = -1;  // the current value's feature count
  std::string value = "input";
  bool integer = false;  // value holds int8 codes of a StaticLinear chain
  LinearParams codes_params;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const nn::Module& layer = model[i];
    g.set_prefix("layer" + std::to_string(i) + "_" + layer.kind() + "_");
    const auto* st = dynamic_cast<const nn::StaticLinear*>(&layer);
    if (integer && st == nullptr) {  // leave the integers
      value = detail::dequantize_codes(g, value, codes_params);
      integer = false;
    }
    Index layer_in = -1;
    Index layer_out = -1;
    if (st != nullptr) {  // a chain of StaticLinear layers passes int8 codes
      layer_in = st->in_features();
      layer_out = st->out_features();
      if (integer && (codes_params.scale != st->input_params().scale || codes_params.zero_point != st->input_params().zero_point)) {
        raise("onnx::to_model: layer ", i, " (StaticLinear) expects inputs with scale ", st->input_params().scale,
              ", zero point ", st->input_params().zero_point, "; the layer before gives scale ", codes_params.scale,
              ", zero point ", codes_params.zero_point);
      }
      if (!integer) value = detail::static_quantize(g, value, st->input_params());
      value = detail::export_static_linear(g, *st, value, st->options().rounding);
      integer = true;
      codes_params = st->output_params();
    } else {
      value = write_layer(g, m, layer, value, "onnx::to_model: layer " + std::to_string(i));
      if (const auto* f = dynamic_cast<const nn::FloatLinear*>(&layer)) {
        layer_in = f->in_features();
        layer_out = f->out_features();
      } else if (const auto* d = dynamic_cast<const nn::DynamicLinear*>(&layer)) {
        layer_in = d->in_features();
        layer_out = d->out_features();
      } else if (const auto* q = dynamic_cast<const nn::GroupedLinear*>(&layer)) {
        layer_in = q->in_features();
        layer_out = q->out_features();
      } else if (const auto* ln = dynamic_cast<const nn::LayerNorm*>(&layer)) {
        layer_in = ln->features();
        layer_out = ln->features();
      }
    }
    if (layer_in >= 0) {
      if (features >= 0 && layer_in != features) {
        raise<ShapeError>("onnx::to_model: layer ", i, " (", layer.kind(), ") takes ", layer_in,
                          " features, the layer before gives ", features);
      }
      if (in_features < 0) in_features = layer_in;
      features = layer_out;
    }
  }
  if (in_features < 0) raise("onnx::to_model: the model has no Linear layer, so no input size");
  g.set_prefix("");
  if (integer) {
    value = g.op("DequantizeLinear", {value, g.scalar<float>("output_dq_scale", codes_params.scale),
                                      g.scalar<std::int8_t>("output_dq_zero_point", static_cast<std::int8_t>(codes_params.zero_point))},
                 "output");
  } else {
    value = g.op("Identity", {value}, "output");
  }
  set_value_info(graph->add_input(), "input", proto::TensorProto::FLOAT, {-1, in_features});
  set_value_info(graph->add_output(), "output", proto::TensorProto::FLOAT, {-1, features});
  check(m);
  return m;
}

// The model's ONNX bytes (deterministic: the same model gives the same bytes).
inline std::string to_bytes(const nn::Sequential& model, const ExportOptions& options = {}) {
  return serialize(to_model(model, options));
}

// Writes the model as an ONNX file, atomically (the whole file or none).
inline void save(const nn::Sequential& model, const std::string& path, const ExportOptions& options = {}) {
  write_file(path, to_bytes(model, options));
}

}  // namespace onnx
}  // namespace eigenq
