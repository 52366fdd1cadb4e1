// Output stages of the int8 GEMM/GEMV: what happens to each int32 sum on its
// way out of the micro-kernel. The functions here are the scalar definitions;
// every SIMD path reproduces them bit for bit.
//
// The kernels compute, for A (M x K, u8 or s8, zero point za) and packed B
// (K x N, s8, zero point zb(n)),
//     acc(m, n) = sum_k (A(m, k) - za) * (B(k, n) - zb(n))     modulo 2^32,
// i.e. exact while it fits int32 (always for K <= 65793) and wrapping beyond,
// on every path alike. Then, per stage:
//   Int32Output  C(m, n) = acc(m, n).
//   Requantize   (u8 or s8 out) t = acc + bias(n) (modulo 2^32), then
//                  float multiplier:  v = round_half_even(float(t) * M(n))
//                  fixed point:       v = multiply_by_quantized_multiplier(t, M(n)),
//                                         double or single rounding (fixed_point.hpp)
//                C = zp + clamp(v, qmin - zp, qmax - zp): the clamp comes first so
//                adding the zero point never overflows; for integer bounds it is
//                the same as clamping after the add. ReLU is qmin = zp.
//   Dequantize   (f32 out) C = fma(float(acc), row_scale(m) * col_scale(n), bias(n)),
//                one fused multiply-add (no bias counts as +0.0f).
// float(x) rounds to nearest even; eigenq assumes the default floating-point
// environment (round to nearest), as PyTorch does.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/fixed_point.hpp"

namespace eigenq {
namespace kernels {

// C = acc, int32.
struct Int32Output {};

// C = requantized codes, int8 or uint8. Pointers are read during the call only.
struct Requantize {
  // Exactly one of the two multiplier arrays, with multiplier_count values:
  // 1 (per tensor) or N (per output channel). Float multipliers are finite, > 0.
  const float* multipliers = nullptr;
  const QuantizedMultiplier* fixed_point_multipliers = nullptr;
  Index multiplier_count = 1;
  RequantRounding rounding = RequantRounding::double_rounding;  // fixed point only
  const std::int32_t* bias = nullptr;  // N values added to acc before scaling, or none
  std::int32_t zero_point = 0;         // output zero point, inside the output type's range
  // Clamp bounds; the output type's range bounds them too.
  std::int32_t qmin = std::numeric_limits<std::int32_t>::min();
  std::int32_t qmax = std::numeric_limits<std::int32_t>::max();
};

// C = dequantized values, float. Pointers are read during the call only.
struct Dequantize {
  const float* row_scales = nullptr;  // activation scale: M values (per row) or 1
  Index row_scale_count = 1;
  const float* col_scales = nullptr;  // weight scale: N values (per channel) or 1
  Index col_scale_count = 1;
  const float* bias = nullptr;  // N values, or none
};

// ---- scalar definitions of one output element --------------------------------------------

// acc + addend modulo 2^32, without signed overflow.
inline std::int32_t wrapping_add(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}

inline std::int32_t wrapping_mul(std::int32_t a, std::int32_t b) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) * static_cast<std::uint32_t>(b));
}

// zp + clamp(round_half_even(float(t) * multiplier), lo, hi), lo = qmin - zp, hi = qmax - zp.
inline std::int32_t requantize_with_float(std::int32_t t, float multiplier, std::int32_t zero_point,
                                          std::int32_t lo, std::int32_t hi) {
  float v = static_cast<float>(t) * multiplier;
  // Clamping before rounding equals clamping after (the bounds are integers) and
  // keeps the conversion in range; an infinite product clamps too.
  v = v < static_cast<float>(lo) ? static_cast<float>(lo) : v;
  v = v > static_cast<float>(hi) ? static_cast<float>(hi) : v;
  return static_cast<std::int32_t>(std::nearbyint(v)) + zero_point;
}

inline std::int32_t requantize_with_fixed_point(std::int32_t t, QuantizedMultiplier multiplier,
                                                RequantRounding rounding, std::int32_t zero_point,
                                                std::int32_t lo, std::int32_t hi) {
  std::int32_t v = multiply_by_quantized_multiplier(t, multiplier, rounding);
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return v + zero_point;
}

inline float dequantize_with_scales(std::int32_t acc, float row_scale, float col_scale, float bias) {
  return std::fma(static_cast<float>(acc), row_scale * col_scale, bias);
}

namespace detail {

enum class OutputKind { int32, requantize_float, requantize_fixed_point, dequantize };

// A stage checked against the problem and expanded to one value per padded
// column, so the SIMD paths never branch on per-tensor vs per-channel.
struct PreparedOutput {
  OutputKind kind = OutputKind::int32;
  AlignedBuffer<std::int32_t> bias;         // requantize: int32 bias (folded into the sums)
  AlignedBuffer<float> multiplier;          // requantize_float
  AlignedBuffer<std::int32_t> fp_multiplier;  // requantize_fixed_point: Q31 multiplier,
  AlignedBuffer<std::int32_t> fp_shift_a;     // double rounding: left shift; single: 31 - exponent
  AlignedBuffer<std::int32_t> fp_shift_b;     // double rounding: right shift
  RequantRounding rounding = RequantRounding::double_rounding;
  std::int32_t zero_point = 0;
  std::int32_t lo = 0;  // qmin - zero_point
  std::int32_t hi = 0;  // qmax - zero_point
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
inline void prepare_output(const Requantize& stage, Index, Index n, Index padded_n,
                           PreparedOutput& out) {
  static_assert(std::is_same_v<Out, std::int8_t> || std::is_same_v<Out, std::uint8_t>,
                "Requantize writes int8 or uint8 codes");
  constexpr std::int32_t type_min = std::numeric_limits<Out>::min();
  constexpr std::int32_t type_max = std::numeric_limits<Out>::max();
  const bool fixed = stage.fixed_point_multipliers != nullptr;
  if ((stage.multipliers != nullptr) == fixed) {
    raise("Requantize: give exactly one of multipliers and fixed_point_multipliers");
  }
  if (stage.multiplier_count != 1 && stage.multiplier_count != n) {
    raise<ShapeError>("Requantize: ", stage.multiplier_count, " multipliers for ", n,
                      " output channels (expected 1 or ", n, ")");
  }
  if (stage.zero_point < type_min || stage.zero_point > type_max) {
    raise("Requantize: zero point ", stage.zero_point, " is outside the output type's range [",
          type_min, ", ", type_max, "]");
  }
  const std::int32_t qmin = stage.qmin > type_min ? stage.qmin : type_min;
  const std::int32_t qmax = stage.qmax < type_max ? stage.qmax : type_max;
  if (qmin > qmax) {
    raise("Requantize: clamp range [", stage.qmin, ", ", stage.qmax,
          "] is empty within the output type's range [", type_min, ", ", type_max, "]");
  }
  out.zero_point = stage.zero_point;
  out.lo = qmin - stage.zero_point;
  out.hi = qmax - stage.zero_point;
  out.rounding = stage.rounding;
  const auto pn = static_cast<std::size_t>(padded_n);
  out.bias.resize(pn);
  if (stage.bias != nullptr) {
    for (Index j = 0; j < n; ++j) out.bias[static_cast<std::size_t>(j)] = stage.bias[j];
  }
  const auto pick = [&](Index j) { return stage.multiplier_count == 1 ? 0 : j; };
  if (!fixed) {
    out.kind = OutputKind::requantize_float;
    out.multiplier.resize(pn);
    for (Index j = 0; j < stage.multiplier_count; ++j) {
      const float m = stage.multipliers[j];
      if (!(m > 0.0f) || !std::isfinite(m)) {
        raise("Requantize: multiplier ", m, " of channel ", j, " must be finite and > 0");
      }
    }
    for (Index j = 0; j < n; ++j) out.multiplier[static_cast<std::size_t>(j)] = stage.multipliers[pick(j)];
    return;
  }
  out.kind = OutputKind::requantize_fixed_point;
  out.fp_multiplier.resize(pn);
  out.fp_shift_a.resize(pn);
  out.fp_shift_b.resize(pn);
  for (Index j = 0; j < stage.multiplier_count; ++j) {
    const QuantizedMultiplier q = stage.fixed_point_multipliers[j];
    const bool zero = q.multiplier == 0;
    if (q.multiplier < 0 || (!zero && q.multiplier < (std::int32_t{1} << 30)) || q.exponent > 30 ||
        q.exponent < -31) {
      raise("Requantize: fixed-point multiplier {", q.multiplier, ", ", q.exponent, "} of channel ",
            j, " is not a quantize_multiplier() result (Q31 in [2^30, 2^31), exponent in [-31, 30])");
    }
  }
  for (Index j = 0; j < n; ++j) {
    const QuantizedMultiplier q = stage.fixed_point_multipliers[pick(j)];
    const auto s = static_cast<std::size_t>(j);
    out.fp_multiplier[s] = q.multiplier;
    if (stage.rounding == RequantRounding::double_rounding) {
      out.fp_shift_a[s] = q.exponent > 0 ? q.exponent : 0;
      out.fp_shift_b[s] = q.exponent > 0 ? 0 : -q.exponent;
    } else {
      out.fp_shift_a[s] = 31 - q.exponent;
    }
  }
}

template <class Out>
inline void prepare_output(const Dequantize& stage, Index m, Index n, Index padded_n,
                           PreparedOutput& out) {
  static_assert(std::is_same_v<Out, float>, "Dequantize writes float results");
  if (stage.row_scales == nullptr || stage.col_scales == nullptr) {
    raise("Dequantize: row_scales and col_scales are required");
  }
  if (stage.row_scale_count != 1 && stage.row_scale_count != m) {
    raise<ShapeError>("Dequantize: ", stage.row_scale_count, " row scales for ", m,
                      " rows (expected 1 or ", m, ")");
  }
  if (stage.col_scale_count != 1 && stage.col_scale_count != n) {
    raise<ShapeError>("Dequantize: ", stage.col_scale_count, " column scales for ", n,
                      " columns (expected 1 or ", n, ")");
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
  switch (out.kind) {
    case OutputKind::int32:
      return static_cast<Out>(acc);
    case OutputKind::requantize_float:
      return static_cast<Out>(requantize_with_float(wrapping_add(acc, out.bias[s]), out.multiplier[s],
                                                    out.zero_point, out.lo, out.hi));
    case OutputKind::requantize_fixed_point: {
      QuantizedMultiplier q;
      q.multiplier = out.fp_multiplier[s];
      q.exponent = out.rounding == RequantRounding::double_rounding
                       ? out.fp_shift_a[s] - out.fp_shift_b[s]
                       : 31 - out.fp_shift_a[s];
      return static_cast<Out>(requantize_with_fixed_point(wrapping_add(acc, out.bias[s]), q,
                                                          out.rounding, out.zero_point, out.lo,
                                                          out.hi));
    }
    case OutputKind::dequantize:
      return static_cast<Out>(
          dequantize_with_scales(acc, out.row_scale(m), out.col_scale[s], out.col_bias[s]));
  }
  return Out{};
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq
