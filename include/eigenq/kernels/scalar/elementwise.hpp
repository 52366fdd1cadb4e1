// Elementwise kernels, scalar path: the reference every SIMD path equals bit for bit.
//
// The per-value functions here define the arithmetic; the run kernels apply them to a
// contiguous run, either with one parameter set for the whole run ("per tensor") or with
// element i using channel i's parameters (the "_channels" kernels; a row of a matrix
// quantized per column). kernels/elementwise.hpp dispatches between paths and adds the
// 2-D per-row / per-column entry points.
//
// Quantize f32 -> s8/u8 (Linear<int8_t/uint8_t>::quantize, policy/linear.hpp):
//   v = x * (1.0f / scale)  (PyTorch)  or  x / scale  (ONNX, TFLite)
//   q = clamp(round(v) + zero_point, qmin, qmax), NaN -> zero_point, +-Inf saturate,
//   round = half to even (PyTorch, ONNX) or half away from zero (TFLite).
// Dequantize s8/u8 -> f32: (float(q) - float(zero_point)) * scale.
// Requantize s32 -> s8/u8:
//   fp32:        clamp(round_half_to_even(float(x) * multiplier) + zero_point, qmin, qmax)
//                (PyTorch's requantize: nearbyint(x * multiplier) + zero_point);
//   fixed point: clamp(multiply_by_quantized_multiplier(x, m, rounding) + zero_point, qmin, qmax)
//                with the double- or single-rounding arithmetic of fixed_point.hpp.
// int4: two codes a byte, low nibble first (the 4-bit format of core/packing.hpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"

namespace eigenq {
namespace kernels {

// How a float becomes an integer before the zero point is added.
enum class QuantizeRounding {
  multiply_half_even,  // round_half_to_even(x * (1.0f / scale)): PyTorch
  divide_half_even,    // round_half_to_even(x / scale): ONNX QuantizeLinear
  divide_half_away     // round_half_away_from_zero(x / scale): TFLite reference
};

inline QuantizeRounding quantize_rounding_for(Profile profile) {
  switch (profile) {
    case Profile::pytorch: return QuantizeRounding::multiply_half_even;
    case Profile::onnx: return QuantizeRounding::divide_half_even;
    case Profile::tflite: return QuantizeRounding::divide_half_away;
  }
  return QuantizeRounding::multiply_half_even;
}

inline const char* to_string(QuantizeRounding rounding) {
  switch (rounding) {
    case QuantizeRounding::multiply_half_even: return "multiply_half_even";
    case QuantizeRounding::divide_half_even: return "divide_half_even";
    case QuantizeRounding::divide_half_away: return "divide_half_away";
  }
  return "?";
}

// What the kernels apply to x: the float reciprocal for PyTorch's multiply, the scale
// itself for the dividing profiles. Computed once per tensor or channel, as Linear does.
inline float quantize_factor(float scale, QuantizeRounding rounding) {
  return rounding == QuantizeRounding::multiply_half_even ? 1.0f / scale : scale;
}

// One value, exactly as Linear::quantize.
template <class Code>
Code quantize_value(float x, float factor, std::int32_t zero_point, CodeRange range,
                    QuantizeRounding rounding) {
  float rounded;
  switch (rounding) {
    case QuantizeRounding::multiply_half_even: rounded = round_half_to_even(x * factor); break;
    case QuantizeRounding::divide_half_even: rounded = round_half_to_even(x / factor); break;
    default: rounded = round_half_away_from_zero(x / factor); break;
  }
  if (std::isnan(rounded)) return static_cast<Code>(zero_point);
  const float shifted = rounded + static_cast<float>(zero_point);
  return static_cast<Code>(saturate_to_int(shifted, range.qmin, range.qmax, zero_point));
}

template <class Code>
float dequantize_value(Code q, float scale, std::int32_t zero_point) {
  return (static_cast<float>(q) - static_cast<float>(zero_point)) * scale;
}

template <class Code>
Code requantize_fp32_value(std::int32_t x, float multiplier, std::int32_t zero_point,
                           CodeRange range) {
  const float rounded = round_half_to_even(static_cast<float>(x) * multiplier);
  if (std::isnan(rounded)) return static_cast<Code>(zero_point);  // only for a non-finite multiplier
  const float shifted = rounded + static_cast<float>(zero_point);
  return static_cast<Code>(saturate_to_int(shifted, range.qmin, range.qmax, zero_point));
}

template <class Code>
Code requantize_fixedpoint_value(std::int32_t x, QuantizedMultiplier m, RequantRounding rounding,
                                 std::int32_t zero_point, CodeRange range) {
  // In 64 bits: a saturated product plus a zero point may leave int32.
  const std::int64_t v =
      std::int64_t{multiply_by_quantized_multiplier(x, m, rounding)} + zero_point;
  if (v < range.qmin) return static_cast<Code>(range.qmin);
  if (v > range.qmax) return static_cast<Code>(range.qmax);
  return static_cast<Code>(v);
}

// ---------------------------------------------------------------------------------------
// Run kernels. Preconditions (checked by the dispatching functions in ../elementwise.hpp):
// n >= 0, range inside the code type, qmin <= qmax.

template <class Code>
void quantize_f32_scalar(const float* x, Index n, float factor, std::int32_t zero_point,
                         CodeRange range, QuantizeRounding rounding, Code* y) {
  for (Index i = 0; i < n; ++i) y[i] = quantize_value<Code>(x[i], factor, zero_point, range, rounding);
}

template <class Code>
void quantize_f32_channels_scalar(const float* x, Index n, const float* factor,
                                  const std::int32_t* zero_point, CodeRange range,
                                  QuantizeRounding rounding, Code* y) {
  for (Index i = 0; i < n; ++i) {
    y[i] = quantize_value<Code>(x[i], factor[i], zero_point[i], range, rounding);
  }
}

template <class Code>
void dequantize_f32_scalar(const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
  for (Index i = 0; i < n; ++i) y[i] = dequantize_value(q[i], scale, zero_point);
}

template <class Code>
void dequantize_f32_channels_scalar(const Code* q, Index n, const float* scale,
                                    const std::int32_t* zero_point, float* y) {
  for (Index i = 0; i < n; ++i) y[i] = dequantize_value(q[i], scale[i], zero_point[i]);
}

template <class Code>
void requantize_fp32_scalar(const std::int32_t* x, Index n, float multiplier,
                            std::int32_t zero_point, CodeRange range, Code* y) {
  for (Index i = 0; i < n; ++i) y[i] = requantize_fp32_value<Code>(x[i], multiplier, zero_point, range);
}

template <class Code>
void requantize_fp32_channels_scalar(const std::int32_t* x, Index n, const float* multiplier,
                                     std::int32_t zero_point, CodeRange range, Code* y) {
  for (Index i = 0; i < n; ++i) {
    y[i] = requantize_fp32_value<Code>(x[i], multiplier[i], zero_point, range);
  }
}

template <class Code>
void requantize_fixedpoint_scalar(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                  RequantRounding rounding, std::int32_t zero_point,
                                  CodeRange range, Code* y) {
  for (Index i = 0; i < n; ++i) {
    y[i] = requantize_fixedpoint_value<Code>(x[i], m, rounding, zero_point, range);
  }
}

// Channel i's multiplier is {multiplier[i], exponent[i]} (arrays, as the SIMD paths load them).
template <class Code>
void requantize_fixedpoint_channels_scalar(const std::int32_t* x, Index n,
                                           const std::int32_t* multiplier,
                                           const std::int32_t* exponent, RequantRounding rounding,
                                           std::int32_t zero_point, CodeRange range, Code* y) {
  for (Index i = 0; i < n; ++i) {
    const QuantizedMultiplier m{multiplier[i], exponent[i]};
    y[i] = requantize_fixedpoint_value<Code>(x[i], m, rounding, zero_point, range);
  }
}

// int4, two codes a byte, code 2j in the low nibble of byte j, the last high nibble zero for
// an odd count: core/packing.hpp's 4-bit format (tests check these loops against it).
template <class Code>
void pack4_scalar(const Code* codes, Index n, std::uint8_t* packed) {
  const Index pairs = n / 2;
  for (Index j = 0; j < pairs; ++j) {
    const unsigned low = static_cast<unsigned>(codes[2 * j]) & 0xFu;
    const unsigned high = static_cast<unsigned>(codes[2 * j + 1]) & 0xFu;
    packed[j] = static_cast<std::uint8_t>(low | (high << 4));
  }
  if (n % 2 != 0) packed[pairs] = static_cast<std::uint8_t>(static_cast<unsigned>(codes[n - 1]) & 0xFu);
}

// Signed codes are sign-extended from their nibble.
template <class Code>
void unpack4_scalar(const std::uint8_t* packed, Index n, Code* codes) {
  for (Index i = 0; i < n; ++i) {
    int v = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
    if constexpr (std::is_signed_v<Code>) v = (v ^ 8) - 8;
    codes[i] = static_cast<Code>(v);
  }
}

}  // namespace kernels
}  // namespace eigenq
