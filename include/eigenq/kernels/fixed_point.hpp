// Fixed-point requantization arithmetic, scalar definitions (gemmlowp's fixedpoint.h, TFLite's
// MultiplyByQuantizedMultiplier). Every SIMD path reproduces them bit for bit with the
// primitives of its vector.hpp.
//
// A real multiplier M in (0, 2^31) is a fixed-point multiplier: a Q31 integer m in
// [2^30, 2^31) and a power-of-two exponent e, M = m * 2^(e - 31). Two ways to apply it to an
// int32 accumulator x (FixedPointRounding):
//  - double rounding (gemmlowp, TFLite's default): x << max(e, 0) (saturating), then the
//    saturating rounding doubling high multiply by m (rounds once), then a rounding right
//    shift by max(-e, 0) (rounds again, half away from zero);
//  - single rounding (TFLite with TFLITE_SINGLE_ROUNDING): the exact 64-bit product x * m
//    shifted right by 31 - e with one rounding, half up, saturated to int32.
// The two differ by one on some inputs; both are offered, named.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "eigenq/core/error.hpp"

namespace eigenq {
namespace kernels {

// How a fixed-point multiplier is applied: the rounding of the fixed-point multiply.
enum class FixedPointRounding {
  double_rounding,  // gemmlowp / TFLite reference
  single_rounding   // TFLite TFLITE_SINGLE_ROUNDING
};

// A real multiplier as fixed point: M = multiplier * 2^(exponent - 31).
struct FixedPointMultiplier {
  std::int32_t multiplier = 0;  // Q31, in [2^30, 2^31) or 0
  int exponent = 0;
};

// Decomposes a real multiplier (>= 0, < 2^31) as TFLite's QuantizeMultiplier does.
inline FixedPointMultiplier fixed_point_multiplier(double real_multiplier) {
  if (!(real_multiplier >= 0.0) || !std::isfinite(real_multiplier)) {
    raise("requantization multiplier ", real_multiplier, " must be finite and >= 0");
  }
  FixedPointMultiplier q;
  if (real_multiplier == 0.0) return q;
  int exponent = 0;
  const double fraction = std::frexp(real_multiplier, &exponent);  // in [0.5, 1)
  auto m = static_cast<std::int64_t>(std::round(fraction * 2147483648.0));
  if (m == (std::int64_t{1} << 31)) {
    m /= 2;
    ++exponent;
  }
  if (exponent < -31) {  // too small to matter: the product rounds to zero
    return FixedPointMultiplier{0, 0};
  }
  if (exponent > 30) raise("requantization multiplier ", real_multiplier, " is too large");
  q.multiplier = static_cast<std::int32_t>(m);
  q.exponent = exponent;
  return q;
}

// x * 2^left saturated to int32 (gemmlowp's ShiftLeft on int32), left in [0, 30].
inline std::int32_t saturating_shift_left(std::int32_t x, int left) {
  const std::int64_t shifted = std::int64_t{x} * (std::int64_t{1} << left);
  if (shifted > std::numeric_limits<std::int32_t>::max()) return std::numeric_limits<std::int32_t>::max();
  if (shifted < std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(shifted);
}

// round(a * b / 2^31), saturating the single overflow case a = b = INT32_MIN.
inline std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) {
  if (a == std::numeric_limits<std::int32_t>::min() && b == a) {
    return std::numeric_limits<std::int32_t>::max();
  }
  const std::int64_t ab = std::int64_t{a} * std::int64_t{b};
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
}

// x / 2^exponent rounded to nearest, ties away from zero (gemmlowp RoundingDivideByPOT).
inline std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) {
  if (exponent <= 0) return x;
  const std::int32_t mask = static_cast<std::int32_t>((std::int64_t{1} << exponent) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

inline std::int32_t multiply_double_rounding(std::int32_t x, FixedPointMultiplier m) {
  const int left = m.exponent > 0 ? m.exponent : 0;
  const int right = m.exponent > 0 ? 0 : -m.exponent;
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(saturating_shift_left(x, left), m.multiplier),
                                right);
}

inline std::int32_t multiply_single_rounding(std::int32_t x, FixedPointMultiplier m) {
  const int total_shift = 31 - m.exponent;  // >= 1 since exponent <= 30
  const std::int64_t round = std::int64_t{1} << (total_shift - 1);
  std::int64_t result = std::int64_t{x} * m.multiplier + round;
  result >>= total_shift;  // arithmetic shift: rounds half up
  if (result > std::numeric_limits<std::int32_t>::max()) return std::numeric_limits<std::int32_t>::max();
  if (result < std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(result);
}

// x * M in int32, rounded as `rounding` says.
inline std::int32_t multiply_by_fixed_point(std::int32_t x, FixedPointMultiplier m, FixedPointRounding rounding) {
  return rounding == FixedPointRounding::double_rounding ? multiply_double_rounding(x, m)
                                                         : multiply_single_rounding(x, m);
}

}  // namespace kernels
}  // namespace eigenq
