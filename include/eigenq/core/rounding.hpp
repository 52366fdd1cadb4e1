// Rounding rules of the compatibility profiles, defined once for every path.
#pragma once

#include <cmath>
#include <cstdint>

namespace eigenq {

enum class Rounding {
  half_to_even,    // PyTorch (nearbyint), ONNX QuantizeLinear, numpy.round
  half_away_from_zero  // TFLite reference kernels (std::round)
};

// Round half to even, as nearbyint does in the default FP mode, but inline and
// without a libm call: for |x| < 2^23 adding and subtracting 2^23 (with x's sign)
// leaves exactly the nearest integer, ties to even. Larger floats are integers.
// Like PyTorch, eigenq assumes the default round-to-nearest mode.
inline float round_half_to_even(float x) {
  constexpr float two_23 = 8388608.0f;
  if (!(std::fabs(x) < two_23)) return x;  // integral already, or NaN/Inf
  const float magic = std::copysign(two_23, x);
  return (x + magic) - magic;
}

inline double round_half_to_even(double x) {
  constexpr double two_52 = 4503599627370496.0;
  if (!(std::fabs(x) < two_52)) return x;
  const double magic = std::copysign(two_52, x);
  return (x + magic) - magic;
}

// std::round semantics (ties away from zero), used by TFLite.
inline float round_half_away_from_zero(float x) {
  const float t = std::trunc(x);
  return std::fabs(x - t) >= 0.5f ? t + std::copysign(1.0f, x) : t;
}

inline double round_half_away_from_zero(double x) {
  const double t = std::trunc(x);
  return std::fabs(x - t) >= 0.5 ? t + std::copysign(1.0, x) : t;
}

inline float round_with(Rounding mode, float x) {
  return mode == Rounding::half_to_even ? round_half_to_even(x) : round_half_away_from_zero(x);
}

// Clamps a rounded float into [lo, hi] and converts. NaN maps to `nan_value`,
// +/-Inf saturate: the conversion is total, never undefined behaviour.
inline std::int32_t saturate_to_int(float rounded, std::int32_t lo, std::int32_t hi,
                                    std::int32_t nan_value) {
  if (std::isnan(rounded)) return nan_value;
  if (rounded <= static_cast<float>(lo)) return lo;
  if (rounded >= static_cast<float>(hi)) return hi;
  return static_cast<std::int32_t>(rounded);
}

}  // namespace eigenq
