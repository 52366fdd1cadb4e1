// The small float formats inside ggml's blocks, converted as ggml converts
// them (its CPU-independent C code):
//  - fp16 (IEEE binary16): round to nearest even, overflow to infinity, every
//    NaN becomes the quiet NaN 0x7E00 with the input's sign.
//  - bf16: round to nearest even; a NaN keeps its top bits and is made quiet.
//  - E8M0 (MXFP4 block exponent): 2^(e - 127); ggml decodes it halved because
//    its E2M1 table holds doubled values.
//  - UE4M3 (NVFP4 sub-block scale): unsigned, 4 exponent bits (bias 7), 3
//    mantissa bits, largest 448; decoded halved for the same reason.
//  - E2M1 (the 4-bit MXFP4/NVFP4 codes): the table of doubled values.
// Everything here is integer code or exact float arithmetic.
#pragma once

#include <cstdint>
#include <cstring>

#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

inline std::uint32_t float_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

inline float float_from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// float -> binary16, round to nearest even. ggml computes this with two float
// multiplications that make the FPU round; this is the same map in integers
// (so it holds under any FPU mode), branch-free so that loops vectorize.
inline std::uint16_t fp32_to_fp16(float x) {
  const std::uint32_t u = float_bits(x);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7FFFFFFFu;
  // Normal half: rebias the exponent, round the 13 dropped bits to nearest even
  // (a carry into the exponent is right, up to infinity).
  const std::uint32_t normal = (a - 0x38000000u + 0xFFFu + ((a >> 13) & 1u)) >> 13;
  // Subnormal half: the value m * 2^(e - 150) in units of 2^-24, rounded to
  // nearest even; shifts past 31 would give 0 anyway.
  const std::uint32_t e = a >> 23;
  const std::uint32_t shift = 126u - (e < 95u ? 95u : e > 112u ? 112u : e);  // 14..31
  const std::uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t sub = (m + (1u << (shift - 1)) - 1u + ((m >> shift) & 1u)) >> shift;
  std::uint32_t h = a < 0x38800000u ? sub : normal;
  h = a >= 0x477FF000u ? 0x7C00u : h;  // 65520 and up: infinity
  h = a > 0x7F800000u ? 0x7E00u : h;   // every NaN
  return static_cast<std::uint16_t>(sign | h);
}

// binary16 -> float, exact. A NaN keeps its payload and comes out quiet, as
// ggml's float-multiply decoding does on x86.
inline float fp16_to_fp32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t e = (h >> 10) & 0x1Fu;
  const std::uint32_t m = h & 0x3FFu;
  if (e == 0) {
    if (m == 0) return float_from_bits(sign);
    // subnormal: m * 2^-24; normalise the mantissa
    int shift = 0;
    std::uint32_t mm = m;
    while (!(mm & 0x400u)) {
      mm <<= 1;
      ++shift;
    }
    const std::uint32_t exp = static_cast<std::uint32_t>(113 - shift);  // 2^-14 has biased exponent 113
    return float_from_bits(sign | (exp << 23) | ((mm & 0x3FFu) << 13));
  }
  if (e == 31) {
    return float_from_bits(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));
  }
  return float_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

// float -> bfloat16, round to nearest even (overflow to infinity); a NaN
// keeps its high half with the quiet bit set.
inline std::uint16_t fp32_to_bf16(float x) {
  const std::uint32_t u = float_bits(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  return static_cast<std::uint16_t>((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
}

inline float bf16_to_fp32(std::uint16_t h) { return float_from_bits(static_cast<std::uint32_t>(h) << 16); }

// E8M0 exponent byte -> 2^(e - 128): half the scale it encodes. 0xFF decodes
// as 2^127, not NaN (ggml does not special-case it).
inline float e8m0_to_fp32_half(std::uint8_t e) {
  if (e < 2) return float_from_bits(0x00200000u << e);  // 2^-128, 2^-127 are subnormal
  return float_from_bits(static_cast<std::uint32_t>(e - 1) << 23);
}

// UE4M3 byte -> half its value. 0 and 0x7F (the NaN code) decode to zero.
inline float ue4m3_to_fp32_half(std::uint8_t x) {
  if (x == 0 || x == 0x7F) return 0.0f;
  const int exp = (x >> 3) & 0xF;
  const int man = x & 0x7;
  // value = man * 2^-9 (subnormal) or (8 + man) * 2^(exp - 10); halved; all exact in float
  const std::uint32_t mant = exp == 0 ? static_cast<std::uint32_t>(man)
                                      : static_cast<std::uint32_t>(8 + man);
  const int pow2 = (exp == 0 ? -9 : exp - 10) - 1;  // -10..5
  // mant * 2^pow2 with mant < 16: build 2^pow2 from bits (a normal float) and multiply exactly
  const float scale = float_from_bits(static_cast<std::uint32_t>(127 + pow2) << 23);
  return static_cast<float>(mant) * scale;
}

// float -> UE4M3 as ggml encodes a scale: non-positive and NaN give 0; every
// value from 256 up (exponent 15, not only above 448) becomes 448 (0x7E); the
// mantissa is rounded half up on the first dropped bit, the subnormal range by
// (int)(x * 512 + 0.5).
inline std::uint8_t fp32_to_ue4m3(float x) {
  if (!(x > 0.0f)) return 0;
  if (x > 448.0f) x = 448.0f;
  const std::uint32_t bits = float_bits(x);
  const int fp32_exp = static_cast<int>((bits >> 23) & 0xFFu) - 127;
  const int fp32_man = static_cast<int>((bits >> 20) & 0x7u);
  int exp = fp32_exp + 7;
  if (exp <= 0) {
    // x < 2^-6 here, so x * 512 + 0.5 < 8.5 converts without overflow
    int man = static_cast<int>(x * 512.0f + 0.5f);
    if (man > 7) man = 7;
    if (man < 1) return 0;
    return static_cast<std::uint8_t>(man);
  }
  if (exp >= 15) return 0x7E;
  int man = fp32_man + static_cast<int>((bits >> 19) & 1u);
  if (man > 7) {
    man = 0;
    ++exp;
    if (exp >= 15) return 0x7E;
  }
  return static_cast<std::uint8_t>((exp << 3) | man);
}

// The 16 E2M1 codes as ggml tabulates them: twice the real values (0, 0.5,
// 1, 1.5, 2, 3, 4, 6 and their negatives), so they fit int8.
inline constexpr std::int8_t kE2M1Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
