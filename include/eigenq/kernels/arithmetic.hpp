// The value-level operations, each defined once: quantize one float, dequantize one code,
// requantize one int32 with a float or a fixed-point multiplier, dequantize one GEMM sum.
// The scalar path runs them as they are; every SIMD path (vector primitives in
// <isa>/vector.hpp, loops in generic/) gives the same bits; the Linear policy
// (policy/linear.hpp) and the GEMM output stages (output_stage.hpp) call them too.
//
//   quantize:             v = x * (1/scale) (Scaling::multiply_by_reciprocal, PyTorch)
//                             or x / scale (Scaling::divide, ONNX, TFLite),
//                         q = clamp(round(v) + zero_point, qmin, qmax), round by `Rounding`
//                         (half to even: PyTorch, ONNX; half away from zero: TFLite);
//                         NaN -> zero_point (as it is, even outside [qmin, qmax]), +-Inf saturate.
//   dequantize:           (float(q) - float(zero_point)) * scale.
//   requantize, float:    clamp(round_half_even(float(x) * multiplier) + zero_point, qmin, qmax)
//                         (PyTorch's requantize), NaN (only from a non-finite or zero
//                         multiplier) -> zero_point.
//   requantize, fixed:    clamp(multiply_by_fixed_point(x, m, rounding) + zero_point, qmin, qmax)
//                         in 64 bits (fixed_point.hpp).
//   dequantize a sum:     fma(float(acc), row_scale * col_scale, bias) (the GEMM's Dequantize).
// float(x) rounds to nearest even; eigenq assumes the default floating-point environment
// (round to nearest), as PyTorch does.
#pragma once

#include <cmath>
#include <cstdint>

#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"

namespace eigenq {
namespace kernels {

// How x is divided by the scale before rounding. The two differ on some ties: PyTorch
// multiplies by the float reciprocal, ONNX QuantizeLinear and TFLite divide.
enum class Scaling { multiply_by_reciprocal, divide };

inline Scaling scaling_for(Profile profile) {
  return profile == Profile::pytorch ? Scaling::multiply_by_reciprocal : Scaling::divide;
}

inline const char* to_string(Scaling scaling) {
  return scaling == Scaling::multiply_by_reciprocal ? "multiply_by_reciprocal" : "divide";
}

// What the kernels apply to x: the reciprocal for Scaling::multiply_by_reciprocal, the scale
// itself for Scaling::divide. Computed once per tensor or channel, as PyTorch does.
inline float scale_factor(float scale, Scaling scaling) {
  return scaling == Scaling::multiply_by_reciprocal ? 1.0f / scale : scale;
}

template <class Code>
Code quantize_value(float x, float factor, std::int32_t zero_point, CodeRange range, Scaling scaling,
                    Rounding rounding) {
  const float scaled = scaling == Scaling::multiply_by_reciprocal ? x * factor : x / factor;
  const float rounded = round_with(rounding, scaled);
  if (std::isnan(rounded)) return static_cast<Code>(zero_point);
  const float shifted = rounded + static_cast<float>(zero_point);
  return static_cast<Code>(saturate_to_int(shifted, range.qmin, range.qmax, zero_point));
}

template <class Code>
float dequantize_value(Code q, float scale, std::int32_t zero_point) {
  return (static_cast<float>(q) - static_cast<float>(zero_point)) * scale;
}

// The GEMM output stage calls this with multipliers that are finite and > 0 (so the product
// is never NaN) and a zero point inside the output type; there it equals the stage's usual
// statement  zero_point + round(clamp(float(x) * M, qmin - zero_point, qmax - zero_point)):
// rounding is monotone and leaves integers alone, so clamping before or after it is the same
// for integer bounds, and rounded + zero_point is exact below 2^24 while anything larger is far
// outside [qmin, qmax] (at most [-128, 255]) on the same side either way.
template <class Code>
Code requantize_float_value(std::int32_t x, float multiplier, std::int32_t zero_point, CodeRange range) {
  const float rounded = round_half_to_even(static_cast<float>(x) * multiplier);
  if (std::isnan(rounded)) return static_cast<Code>(zero_point);
  const float shifted = rounded + static_cast<float>(zero_point);
  return static_cast<Code>(saturate_to_int(shifted, range.qmin, range.qmax, zero_point));
}

// In 64 bits: a saturated product plus a zero point may leave int32. For the GEMM output
// stage, clamp(v + zp, qmin, qmax) == zp + clamp(v, qmin - zp, qmax - zp) over the integers.
template <class Code>
Code requantize_fixed_point_value(std::int32_t x, FixedPointMultiplier m, FixedPointRounding rounding,
                                  std::int32_t zero_point, CodeRange range) {
  const std::int64_t v = std::int64_t{multiply_by_fixed_point(x, m, rounding)} + zero_point;
  if (v < range.qmin) return static_cast<Code>(range.qmin);
  if (v > range.qmax) return static_cast<Code>(range.qmax);
  return static_cast<Code>(v);
}

inline float dequantize_accumulator(std::int32_t acc, float row_scale, float col_scale, float bias) {
  return std::fma(static_cast<float>(acc), row_scale * col_scale, bias);
}

}  // namespace kernels
}  // namespace eigenq
