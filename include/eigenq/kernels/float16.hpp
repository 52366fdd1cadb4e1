// IEEE binary16 ("half") <-> float conversions on raw bits, for the f16 group
// scales of int4 weights. float -> half rounds to nearest even (overflow goes
// to infinity, as hardware converters do); half -> float is exact. Plain
// integer code: no F16C or Eigen needed below the kernels' dispatch.
#pragma once

#include <cstdint>
#include <cstring>

namespace eigenq {
namespace kernels {

inline std::uint16_t float_to_half_bits(float x) {
  std::uint32_t f;
  std::memcpy(&f, &x, 4);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  const std::uint32_t a = f & 0x7FFFFFFFu;
  if (a >= 0x7F800000u) {  // Inf, or NaN (kept quiet, top payload bits kept)
    return static_cast<std::uint16_t>(sign | (a > 0x7F800000u ? 0x7E00u | ((a >> 13) & 0x3FFu) : 0x7C00u));
  }
  if (a >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to Inf
  if (a >= 0x38800000u) {  // a normal half: rebias the exponent, round the 13 dropped bits
    std::uint32_t h = (a - 0x38000000u) >> 13;
    const std::uint32_t rest = a & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry may reach the exponent: right
    return static_cast<std::uint16_t>(sign | h);
  }
  // A subnormal half (or zero): the value in units of 2^-24, rounded to nearest even.
  const std::uint32_t e = a >> 23;
  if (e < 102) return static_cast<std::uint16_t>(sign);  // below 2^-25 (or exactly it: a tie to 0)
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;    // value = m * 2^(e - 150)
  const std::uint32_t shift = 126 - e;                   // 14..24
  std::uint32_t q = m >> shift;
  const std::uint32_t rest = m & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (q & 1u))) ++q;  // may become the smallest normal: right
  return static_cast<std::uint16_t>(sign | q);
}

inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu;
  const std::uint32_t m = h & 0x3FFu;
  std::uint32_t f;
  if (e == 0) {
    // Zero or subnormal: m * 2^-24, exact in float.
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    std::memcpy(&f, &v, 4);
    f |= sign;
  } else if (e == 31) {
    f = sign | 0x7F800000u | (m << 13);
  } else {
    f = sign | ((e + 112) << 23) | (m << 13);
  }
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

}  // namespace kernels
}  // namespace eigenq
