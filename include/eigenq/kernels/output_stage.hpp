// Output stages of the int8 GEMM/GEMV: what happens to each int32 sum on its way out of the
// micro-kernel. The element definitions are those of arithmetic.hpp; the SIMD paths run the
// same loops as the elementwise kernels (their ElementwisePath) on each row of a finished tile.
//
// The kernels compute, for A (M x K, u8 or s8, zero point za) and packed B
// (K x N, s8, zero point zb(n)),
//     acc(m, n) = sum_k (A(m, k) - za) * (B(k, n) - zb(n))     modulo 2^32,
// i.e. exact while it fits int32 (always for K <= 65793) and wrapping beyond,
// on every path alike. Then, per stage:
//   Int32Output  C(m, n) = acc(m, n).
//   Requantize   (u8 or s8 out) t = acc + bias(n) (modulo 2^32), then
//                  float multiplier:  C = requantize_float_value(t, M(n), zp, [qmin, qmax])
//                                       = clamp(round_half_even(float(t) * M(n)) + zp, qmin, qmax)
//                  fixed point:       C = requantize_fixed_point_value(t, M(n), rounding, zp, [qmin, qmax])
//                                       = clamp(multiply_by_fixed_point(t, M(n)) + zp, qmin, qmax)
//                with qmin, qmax narrowed to the output type's range. ReLU is a clamp:
//                qmin = zp (the code of 0.0), as TFLite and PyTorch fuse it.
//   Dequantize   (f32 out) C = dequantize_accumulator(acc, row_scale(m), col_scale(n), bias(n))
//                          = fma(float(acc), row_scale(m) * col_scale(n), bias(n)),
//                one fused multiply-add (no bias counts as +0.0f).
// docs/kernels.md shows a complete call.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/fixed_point.hpp"

namespace eigenq {
namespace kernels {

// C = acc, int32.
struct Int32Output {};

// C = requantized codes, int8 or uint8. The stage holds pointers, read during the gemm call
// only: what they point to must outlive the call (the factories refuse temporaries).
//
//   const auto m = kernels::float_multipliers(s_in, s_w.data(), N, s_out);   // or fixed_point_multipliers
//   auto stage = kernels::Requantize::per_channel(m).with_bias(bias.data()).with_zero_point(zp_out);
//   stage.with_clamp(zp_out, 127);                                            // fused ReLU
struct Requantize {
  // Exactly one of the two arrays, with multiplier_count values: 1 (per tensor) or N (per
  // output channel). Float multipliers are finite and > 0; fixed-point ones are
  // fixed_point_multiplier() results. A count of 0 (not set) is refused.
  const float* float_multipliers = nullptr;
  const FixedPointMultiplier* fixed_point_multipliers = nullptr;
  Index multiplier_count = 0;
  FixedPointRounding fixed_point_rounding = FixedPointRounding::double_rounding;
  const std::int32_t* bias = nullptr;  // N values added to acc before scaling, or none
  std::int32_t zero_point = 0;         // output zero point, inside the output type's range
  // Clamp bounds; the output type's range bounds them too.
  std::int32_t qmin = std::numeric_limits<std::int32_t>::min();
  std::int32_t qmax = std::numeric_limits<std::int32_t>::max();

  static Requantize per_tensor(const float& multiplier) { return per_channel(&multiplier, 1); }
  static Requantize per_tensor(const FixedPointMultiplier& multiplier,
                               FixedPointRounding rounding = FixedPointRounding::double_rounding) {
    return per_channel(&multiplier, 1, rounding);
  }
  static Requantize per_channel(const std::vector<float>& multipliers) {
    return per_channel(multipliers.data(), static_cast<Index>(multipliers.size()));
  }
  static Requantize per_channel(const std::vector<FixedPointMultiplier>& multipliers,
                                FixedPointRounding rounding = FixedPointRounding::double_rounding) {
    return per_channel(multipliers.data(), static_cast<Index>(multipliers.size()), rounding);
  }
  static Requantize per_channel(const float* multipliers, Index count) {
    Requantize stage;
    stage.float_multipliers = multipliers;
    stage.multiplier_count = count;
    return stage;
  }
  static Requantize per_channel(const FixedPointMultiplier* multipliers, Index count,
                                FixedPointRounding rounding = FixedPointRounding::double_rounding) {
    Requantize stage;
    stage.fixed_point_multipliers = multipliers;
    stage.multiplier_count = count;
    stage.fixed_point_rounding = rounding;
    return stage;
  }
  // A temporary would be gone before the gemm call reads it.
  static Requantize per_tensor(const float&&) = delete;
  static Requantize per_tensor(const FixedPointMultiplier&&, FixedPointRounding = {}) = delete;
  static Requantize per_channel(const std::vector<float>&&) = delete;
  static Requantize per_channel(const std::vector<FixedPointMultiplier>&&, FixedPointRounding = {}) = delete;

  Requantize& with_bias(const std::int32_t* values) {
    bias = values;
    return *this;
  }
  Requantize& with_zero_point(std::int32_t value) {
    zero_point = value;
    return *this;
  }
  Requantize& with_clamp(std::int32_t min, std::int32_t max) {
    qmin = min;
    qmax = max;
    return *this;
  }
};

// The requantization multipliers of a quantized Linear layer, M(n) = s_in * s_w(n) / s_out
// (input, weight and output scales), computed in double and then rounded to float or
// decomposed by fixed_point_multiplier() (as TFLite does). Scales must be finite and > 0.
inline std::vector<double> real_multipliers(float input_scale, const float* weight_scales, Index count,
                                            float output_scale) {
  const auto check = [](float s, const char* what, Index i) {
    if (!(s > 0.0f) || !std::isfinite(s)) raise("requantization multipliers: ", what, " scale ", i, " is ", s);
  };
  check(input_scale, "input", 0);
  check(output_scale, "output", 0);
  if (count < 0) raise("requantization multipliers: count = ", count, " must be >= 0");
  std::vector<double> m(static_cast<std::size_t>(count));
  for (Index n = 0; n < count; ++n) {
    check(weight_scales[n], "weight", n);
    m[static_cast<std::size_t>(n)] = static_cast<double>(input_scale) * weight_scales[n] / output_scale;
  }
  return m;
}

inline std::vector<float> float_multipliers(float input_scale, const float* weight_scales, Index count,
                                            float output_scale) {
  std::vector<float> m;
  for (double real : real_multipliers(input_scale, weight_scales, count, output_scale)) {
    m.push_back(static_cast<float>(real));
  }
  return m;
}

inline std::vector<FixedPointMultiplier> fixed_point_multipliers(float input_scale, const float* weight_scales,
                                                                 Index count, float output_scale) {
  std::vector<FixedPointMultiplier> m;
  for (double real : real_multipliers(input_scale, weight_scales, count, output_scale)) {
    m.push_back(fixed_point_multiplier(real));
  }
  return m;
}

// C = dequantized values, float. Pointers are read during the call only.
struct Dequantize {
  const float* row_scales = nullptr;  // activation scale: M values (per row) or 1
  Index row_scale_count = 1;
  const float* col_scales = nullptr;  // weight scale: N values (per channel) or 1
  Index col_scale_count = 1;
  const float* bias = nullptr;  // N values, or none
};

// acc + addend modulo 2^32, without signed overflow.
inline std::int32_t wrapping_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

namespace detail {

enum class OutputKind { int32, requantize_float, requantize_fixed_point, dequantize };

// A stage checked against the problem and expanded to one value per padded column, so the
// paths never branch on per-tensor vs per-channel.
struct PreparedOutput {
  OutputKind kind = OutputKind::int32;
  AlignedBuffer<std::int32_t> bias;              // requantize: int32 bias (folded into the sums)
  AlignedBuffer<float> float_multiplier;         // requantize_float
  AlignedBuffer<std::int32_t> fixed_point_multiplier;  // requantize_fixed_point: Q31 values
  AlignedBuffer<std::int32_t> fixed_point_exponent;    // and exponents
  FixedPointRounding rounding = FixedPointRounding::double_rounding;
  std::int32_t zero_point = 0;
  CodeRange range;  // [qmin, qmax] narrowed to the output type
  AlignedBuffer<float> col_scale;  // dequantize
  AlignedBuffer<float> col_bias;   // dequantize (zeros when none)
  const float* row_scales = nullptr;
  bool per_row_scale = false;

  float row_scale(Index m) const { return row_scales[per_row_scale ? m : 0]; }
};

template <class Out>
inline void prepare_output(const Int32Output&, Index, Index, Index, PreparedOutput& out) {
  static_assert(std::is_same_v<Out, std::int32_t>, "Int32Output writes int32 results");
  out.kind = OutputKind::int32;
}

template <class Out>
inline void prepare_output(const Requantize& stage, Index, Index n, Index padded_n, PreparedOutput& out) {
  static_assert(std::is_same_v<Out, std::int8_t> || std::is_same_v<Out, std::uint8_t>,
                "Requantize writes int8 or uint8 codes");
  constexpr std::int32_t type_min = std::numeric_limits<Out>::min();
  constexpr std::int32_t type_max = std::numeric_limits<Out>::max();
  const bool fixed_point = stage.fixed_point_multipliers != nullptr;
  if ((stage.float_multipliers != nullptr) == fixed_point) {
    raise("Requantize: give exactly one of float_multipliers and fixed_point_multipliers "
          "(Requantize::per_tensor / per_channel)");
  }
  if (stage.multiplier_count == 0) {
    raise<ShapeError>("Requantize: multiplier_count is 0; set it to 1 (per tensor) or ", n,
                      " (per channel), or build the stage with Requantize::per_tensor / per_channel");
  }
  if (stage.multiplier_count != 1 && stage.multiplier_count != n) {
    raise<ShapeError>("Requantize: ", stage.multiplier_count, " multipliers for ", n,
                      " output channels (expected 1 or ", n, ")");
  }
  if (stage.zero_point < type_min || stage.zero_point > type_max) {
    raise("Requantize: zero point ", stage.zero_point, " is outside the output type's range [", type_min, ", ",
          type_max, "]");
  }
  out.range = {stage.qmin > type_min ? stage.qmin : type_min, stage.qmax < type_max ? stage.qmax : type_max};
  if (out.range.qmin > out.range.qmax) {
    raise("Requantize: clamp range [", stage.qmin, ", ", stage.qmax, "] is empty within the output type's range [",
          type_min, ", ", type_max, "]");
  }
  out.zero_point = stage.zero_point;
  out.rounding = stage.fixed_point_rounding;
  const auto pn = static_cast<std::size_t>(padded_n);
  out.bias.resize(pn);
  if (stage.bias != nullptr) {
    for (Index j = 0; j < n; ++j) out.bias[static_cast<std::size_t>(j)] = stage.bias[j];
  }
  const auto pick = [&](Index j) { return stage.multiplier_count == 1 ? 0 : j; };
  if (!fixed_point) {
    out.kind = OutputKind::requantize_float;
    out.float_multiplier.resize(pn);
    for (Index j = 0; j < stage.multiplier_count; ++j) {
      const float m = stage.float_multipliers[j];
      if (!(m > 0.0f) || !std::isfinite(m)) {
        raise("Requantize: multiplier ", m, " of channel ", j, " must be finite and > 0");
      }
    }
    for (Index j = 0; j < n; ++j) out.float_multiplier[static_cast<std::size_t>(j)] = stage.float_multipliers[pick(j)];
    return;
  }
  out.kind = OutputKind::requantize_fixed_point;
  out.fixed_point_multiplier.resize(pn);
  out.fixed_point_exponent.resize(pn);
  for (Index j = 0; j < stage.multiplier_count; ++j) {
    const FixedPointMultiplier q = stage.fixed_point_multipliers[j];
    const bool zero = q.multiplier == 0;
    if (q.multiplier < 0 || (!zero && q.multiplier < (std::int32_t{1} << 30)) || q.exponent > 30 ||
        q.exponent < -31) {
      raise("Requantize: fixed-point multiplier {", q.multiplier, ", ", q.exponent, "} of channel ", j,
            " is not a fixed_point_multiplier() result (Q31 in [2^30, 2^31), exponent in [-31, 30])");
    }
  }
  for (Index j = 0; j < n; ++j) {
    const FixedPointMultiplier q = stage.fixed_point_multipliers[pick(j)];
    out.fixed_point_multiplier[static_cast<std::size_t>(j)] = q.multiplier;
    out.fixed_point_exponent[static_cast<std::size_t>(j)] = q.exponent;
  }
}

template <class Out>
inline void prepare_output(const Dequantize& stage, Index m, Index n, Index padded_n, PreparedOutput& out) {
  static_assert(std::is_same_v<Out, float>, "Dequantize writes float results");
  if (stage.row_scales == nullptr || stage.col_scales == nullptr) {
    raise("Dequantize: row_scales and col_scales are required");
  }
  if (stage.row_scale_count != 1 && stage.row_scale_count != m) {
    raise<ShapeError>("Dequantize: ", stage.row_scale_count, " row scales for ", m, " rows (expected 1 or ", m, ")");
  }
  if (stage.col_scale_count != 1 && stage.col_scale_count != n) {
    raise<ShapeError>("Dequantize: ", stage.col_scale_count, " column scales for ", n, " columns (expected 1 or ",
                      n, ")");
  }
  for (Index i = 0; i < stage.row_scale_count; ++i) {
    if (!std::isfinite(stage.row_scales[i])) {
      raise<NonFiniteError>("Dequantize: row scale ", i, " is ", stage.row_scales[i]);
    }
  }
  for (Index j = 0; j < stage.col_scale_count; ++j) {
    if (!std::isfinite(stage.col_scales[j])) {
      raise<NonFiniteError>("Dequantize: column scale ", j, " is ", stage.col_scales[j]);
    }
  }
  out.kind = OutputKind::dequantize;
  const auto pn = static_cast<std::size_t>(padded_n);
  out.col_scale.resize(pn);
  out.col_bias.resize(pn);
  for (Index j = 0; j < n; ++j) {
    const auto s = static_cast<std::size_t>(j);
    out.col_scale[s] = stage.col_scales[stage.col_scale_count == 1 ? 0 : j];
    if (stage.bias != nullptr) out.col_bias[s] = stage.bias[j];
  }
  out.row_scales = stage.row_scales;
  out.per_row_scale = stage.row_scale_count != 1;
}

// The scalar definition of one output element from acc(m, n) (zero points applied).
template <class Out>
inline Out finish_output(const PreparedOutput& out, std::int32_t acc, Index m, Index n) {
  const auto s = static_cast<std::size_t>(n);
  if constexpr (std::is_same_v<Out, std::int32_t>) {
    return acc;
  } else if constexpr (std::is_same_v<Out, float>) {
    return dequantize_accumulator(acc, out.row_scale(m), out.col_scale[s], out.col_bias[s]);
  } else if (out.kind == OutputKind::requantize_float) {
    return requantize_float_value<Out>(wrapping_add(acc, out.bias[s]), out.float_multiplier[s], out.zero_point,
                                       out.range);
  } else {
    const FixedPointMultiplier q{out.fixed_point_multiplier[s], out.fixed_point_exponent[s]};
    return requantize_fixed_point_value<Out>(wrapping_add(acc, out.bias[s]), q, out.rounding, out.zero_point,
                                             out.range);
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq
