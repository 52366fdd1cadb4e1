// The integer side of ggml's C arithmetic, made exact and free of undefined
// behaviour, so NaN, infinite and out-of-range values give ggml's bytes:
//  - round_to_int: ggml's "nearest_int" trick (add 1.5 * 2^23, keep the low
//    mantissa bits). For |x| < 2^22 it is round-half-even; beyond that, and
//    for NaN and infinities, it returns the same wrapped bits as ggml.
//  - truncate_i32: a float -> integer cast as x86 performs it (cvttss2si):
//    truncation, and the "integer indefinite" INT32_MIN for NaN and values
//    out of range, where C leaves the cast undefined. ggml casts floats to
//    int8/uint8 this way and keeps the low byte.
//  - lround_i64: glibc's lroundf (half away from zero), INT64_MIN when out of
//    range or NaN.
//  - c_min / c_max: the C macros MIN(a, b) = a < b ? a : b and
//    MAX(a, b) = a > b ? a : b, whose NaN behaviour ggml's results depend on.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

inline int round_to_int(float x) {
  const float biased = x + 12582912.0f;  // 1.5 * 2^23
  std::int32_t i;
  std::memcpy(&i, &biased, 4);
  return (i & 0x007FFFFF) - 0x00400000;
}

inline std::int32_t truncate_i32(float x) {
  // Branch-free (NaN or outside int32: INT32_MIN), so that loops of it vectorize.
  const bool in_range = x > -2147483904.0f && x < 2147483648.0f;
  const std::int32_t t = static_cast<std::int32_t>(in_range ? x : 0.0f);
  return in_range ? t : INT32_MIN;
}

// The low byte of a float cast to an 8-bit integer, as x86 code computes it.
inline std::uint8_t truncate_u8(float x) { return static_cast<std::uint8_t>(truncate_i32(x) & 0xFF); }

inline std::int8_t truncate_i8(float x) {
  const int b = truncate_i32(x) & 0xFF;
  return static_cast<std::int8_t>(b >= 128 ? b - 256 : b);
}

inline std::int64_t lround_i64(float x) {
  if (!(x > -9223373136366403584.0f && x < 9223372036854775808.0f)) return INT64_MIN;
  return static_cast<std::int64_t>(std::round(x));
}

template <class T>
constexpr T c_min(T a, T b) {
  return a < b ? a : b;
}

template <class T>
constexpr T c_max(T a, T b) {
  return a > b ? a : b;
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
