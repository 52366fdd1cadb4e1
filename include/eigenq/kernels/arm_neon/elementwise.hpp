// Elementwise kernels, AArch64 Advanced SIMD path. Bit-identical to scalar/elementwise.hpp;
// tails run through a zero-padded block on the stack, so every element takes the vector
// arithmetic.
//
// The conversions do most of the work: fcvtns (round to nearest, ties to even) and fcvtas
// (ties away from zero) saturate to int32 and map NaN to 0, so
//   clamp(round(v) + zp, qmin, qmax) == clamp(convert(v), qmin - zp, qmax - zp) + zp
// holds for every float v when zp is inside [qmin, qmax] (NaN gives the zero point). With
// one parameter set the clamp is left to saturating narrows instead: int32 -> int16, plus the
// zero point with int16 saturation, -> int8/uint8, then a byte clamp to [qmin, qmax]; each step
// is monotone and exact on the code range.
// sqrdmulh is gemmlowp's saturating rounding doubling high multiply, and srshl on 64-bit
// lanes is the single-rounding shift.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"

#if defined(EIGENQ_HAVE_NEON)
#include <arm_neon.h>

namespace eigenq {
namespace kernels {
namespace neon_detail {

// Four vectors of int32 codes, all inside the code range, to 16 codes.
template <class Code>
EIGENQ_TARGET_NEON inline void store_codes16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d, Code* y) {
  const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
  if constexpr (std::is_signed_v<Code>) {
    vst1q_s8(y, vcombine_s8(vmovn_s16(ab), vmovn_s16(cd)));
  } else {
    vst1q_u8(y, vcombine_u8(vmovn_u16(vreinterpretq_u16_s16(ab)), vmovn_u16(vreinterpretq_u16_s16(cd))));
  }
}

// What one 4-lane step of a quantizing kernel needs.
struct QuantizeLanes {
  float32x4_t factor;
  int32x4_t lo;
  int32x4_t hi;
  int32x4_t zero_point;
};

// Element i uses factor[i] and zero_point[i] (or one zero point when zero_point is null).
struct ChannelQuantize {
  const float* factor;
  const std::int32_t* zero_point;
  std::int32_t qmin;
  std::int32_t qmax;
  std::int32_t same_zero_point;
  EIGENQ_TARGET_NEON QuantizeLanes at(Index i) const {
    const int32x4_t z = zero_point ? vld1q_s32(zero_point + i) : vdupq_n_s32(same_zero_point);
    return {vld1q_f32(factor + i), vsubq_s32(vdupq_n_s32(qmin), z), vsubq_s32(vdupq_n_s32(qmax), z), z};
  }
  // Parameters of [i, i + rest) copied into 16-element buffers, padded with factor 1.
  EIGENQ_TARGET_NEON ChannelQuantize tail(Index i, Index rest, float* f, std::int32_t* z) const {
    for (Index k = 0; k < 16; ++k) {
      f[k] = k < rest ? factor[i + k] : 1.0f;
      z[k] = zero_point && k < rest ? zero_point[i + k] : qmin;
    }
    return {f, zero_point ? z : nullptr, qmin, qmax, same_zero_point};
  }
};

template <QuantizeRounding R>
EIGENQ_TARGET_NEON inline int32x4_t quantize4(float32x4_t x, const QuantizeLanes& p) {
  const float32x4_t v = R == QuantizeRounding::multiply_half_even ? vmulq_f32(x, p.factor) : vdivq_f32(x, p.factor);
  const int32x4_t q = R == QuantizeRounding::divide_half_away ? vcvtaq_s32_f32(v) : vcvtnq_s32_f32(v);
  return vaddq_s32(vminq_s32(vmaxq_s32(q, p.lo), p.hi), p.zero_point);
}

// Four inputs as floats: floats as they are, int32 accumulators rounded to nearest even
// (scvtf, as static_cast<float>).
EIGENQ_TARGET_NEON inline float32x4_t load4(const float* x) { return vld1q_f32(x); }
EIGENQ_TARGET_NEON inline float32x4_t load4(const std::int32_t* x) { return vcvtq_f32_s32(vld1q_s32(x)); }

// x * factor (x / factor), rounded and saturated to int32 (NaN -> 0); no zero point yet.
template <QuantizeRounding R>
EIGENQ_TARGET_NEON inline int32x4_t scale_round4(float32x4_t x, float32x4_t factor) {
  const float32x4_t v = R == QuantizeRounding::multiply_half_even ? vmulq_f32(x, factor) : vdivq_f32(x, factor);
  return R == QuantizeRounding::divide_half_away ? vcvtaq_s32_f32(v) : vcvtnq_s32_f32(v);
}

// 16 inputs with one parameter set to 16 codes (clamp by saturation, see the top).
template <class Code, QuantizeRounding R, class In>
EIGENQ_TARGET_NEON inline void quantize_block16_same(const In* x, float32x4_t factor, int16x8_t zero_point16,
                                                     CodeRange range, Code* y) {
  const int32x4_t q0 = scale_round4<R>(load4(x), factor), q1 = scale_round4<R>(load4(x + 4), factor);
  const int32x4_t q2 = scale_round4<R>(load4(x + 8), factor), q3 = scale_round4<R>(load4(x + 12), factor);
  const int16x8_t ab = vqaddq_s16(vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1)), zero_point16);
  const int16x8_t cd = vqaddq_s16(vcombine_s16(vqmovn_s32(q2), vqmovn_s32(q3)), zero_point16);
  if constexpr (std::is_signed_v<Code>) {
    const int8x16_t b = vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
    const int8x16_t lo = vdupq_n_s8(static_cast<std::int8_t>(range.qmin));
    const int8x16_t hi = vdupq_n_s8(static_cast<std::int8_t>(range.qmax));
    vst1q_s8(y, vminq_s8(vmaxq_s8(b, lo), hi));
  } else {
    const uint8x16_t b = vcombine_u8(vqmovun_s16(ab), vqmovun_s16(cd));
    const uint8x16_t lo = vdupq_n_u8(static_cast<std::uint8_t>(range.qmin));
    const uint8x16_t hi = vdupq_n_u8(static_cast<std::uint8_t>(range.qmax));
    vst1q_u8(y, vminq_u8(vmaxq_u8(b, lo), hi));
  }
}

template <class Code, QuantizeRounding R, class In>
EIGENQ_TARGET_NEON inline void quantize_loop_same(const In* x, Index n, float factor_value, std::int32_t zero_point,
                                                  CodeRange range, Code* y) {
  const float32x4_t factor = vdupq_n_f32(factor_value);
  const int16x8_t zp16 = vdupq_n_s16(static_cast<std::int16_t>(zero_point));
  Index i = 0;
  for (; i + 16 <= n; i += 16) quantize_block16_same<Code, R>(x + i, factor, zp16, range, y + i);
  if (i < n) {
    const Index rest = n - i;
    In xb[16] = {};
    Code yb[16];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(In));
    quantize_block16_same<Code, R>(xb, factor, zp16, range, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

template <class Code, QuantizeRounding R, class Params>
EIGENQ_TARGET_NEON inline void quantize_block16(const float* x, const Params& p, Index i, Code* y) {
  store_codes16(quantize4<R>(vld1q_f32(x), p.at(i)), quantize4<R>(vld1q_f32(x + 4), p.at(i + 4)),
                quantize4<R>(vld1q_f32(x + 8), p.at(i + 8)), quantize4<R>(vld1q_f32(x + 12), p.at(i + 12)), y);
}

template <class Code, QuantizeRounding R, class Params>
EIGENQ_TARGET_NEON inline void quantize_loop(const float* x, Index n, const Params& params, Code* y) {
  Index i = 0;
  for (; i + 16 <= n; i += 16) quantize_block16<Code, R>(x + i, params, i, y + i);
  if (i < n) {
    const Index rest = n - i;
    float xb[16] = {}, fb[16];
    std::int32_t zb[16];
    Code yb[16];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(float));
    quantize_block16<Code, R>(xb, params.tail(i, rest, fb, zb), 0, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

template <class Code, class Params>
EIGENQ_TARGET_NEON inline void quantize_by_rounding(const float* x, Index n, const Params& params,
                                                    QuantizeRounding rounding, Code* y) {
  switch (rounding) {
    case QuantizeRounding::multiply_half_even:
      return quantize_loop<Code, QuantizeRounding::multiply_half_even>(x, n, params, y);
    case QuantizeRounding::divide_half_even:
      return quantize_loop<Code, QuantizeRounding::divide_half_even>(x, n, params, y);
    case QuantizeRounding::divide_half_away:
      return quantize_loop<Code, QuantizeRounding::divide_half_away>(x, n, params, y);
  }
}

// Float requantization: accumulators as floats (scvtf rounds to nearest even, as
// static_cast<float>) times the multiplier, then the quantize arithmetic.
template <class Code, class Params>
EIGENQ_TARGET_NEON inline void requantize_fp32_block16(const std::int32_t* x, const Params& p, Index i, Code* y) {
  constexpr QuantizeRounding R = QuantizeRounding::multiply_half_even;
  store_codes16(quantize4<R>(load4(x), p.at(i)), quantize4<R>(load4(x + 4), p.at(i + 4)),
                quantize4<R>(load4(x + 8), p.at(i + 8)), quantize4<R>(load4(x + 12), p.at(i + 12)), y);
}

template <class Code, class Params>
EIGENQ_TARGET_NEON inline void requantize_fp32_loop(const std::int32_t* x, Index n, const Params& params, Code* y) {
  Index i = 0;
  for (; i + 16 <= n; i += 16) requantize_fp32_block16<Code>(x + i, params, i, y + i);
  if (i < n) {
    const Index rest = n - i;
    std::int32_t xb[16] = {}, zb[16];
    float fb[16];
    Code yb[16];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(std::int32_t));
    requantize_fp32_block16<Code>(xb, params.tail(i, rest, fb, zb), 0, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

// ---- fixed-point requantization ---------------------------------------------------------

// rounding_divide_by_pot (ties away from zero): srshl rounds half up, so negative values
// are first moved down by one (saturating; INT32_MIN gives the same quotient either way).
EIGENQ_TARGET_NEON inline int32x4_t rounding_divide_by_pot(int32x4_t x, int32x4_t e) {
  const int32x4_t negative_e = vnegq_s32(e);
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, negative_e), 31);  // -1 where x < 0 and e > 0
  return vrshlq_s32(vqaddq_s32(x, fixup), negative_e);
}

// Single rounding on two lanes: round(x * m / 2^s) half up, saturated to int32.
EIGENQ_TARGET_NEON inline int32x2_t single_rounding_half(int64x2_t product, int64x2_t negative_shift) {
  return vqmovn_s64(vrshlq_s64(product, negative_shift));
}

template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_NEON inline int32x4_t fixed_multiply_clamped(int32x4_t x, int32x4_t m, int32x4_t e, int32x4_t lo,
                                                           int32x4_t hi) {
  int32x4_t r;
  if constexpr (Rounding == RequantRounding::double_rounding) {
    const int32x4_t zero = vdupq_n_s32(0);
    if constexpr (PositiveExponent) x = vqshlq_s32(x, vmaxq_s32(e, zero));  // saturating, as the scalar shift
    // sqrdmulh == saturating_rounding_doubling_high_mul (m >= 0 is checked).
    r = rounding_divide_by_pot(vqrdmulhq_s32(x, m), vmaxq_s32(vnegq_s32(e), zero));
  } else {
    const int32x4_t negative_shift = vsubq_s32(e, vdupq_n_s32(31));  // -(31 - e)
    const int32x2_t low = single_rounding_half(vmull_s32(vget_low_s32(x), vget_low_s32(m)),
                                               vmovl_s32(vget_low_s32(negative_shift)));
    const int32x2_t high = single_rounding_half(vmull_high_s32(x, m), vmovl_high_s32(negative_shift));
    r = vcombine_s32(low, high);
  }
  return vminq_s32(vmaxq_s32(r, lo), hi);
}

// Four accumulators from x[at..]: multipliers from the arrays (when not null) or `same_*`.
template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_NEON inline int32x4_t requantize_fixed4(const std::int32_t* x, const std::int32_t* multiplier,
                                                      const std::int32_t* exponent, int32x4_t same_multiplier,
                                                      int32x4_t same_exponent, Index at, int32x4_t lo, int32x4_t hi,
                                                      int32x4_t zp) {
  int32x4_t m = same_multiplier, e = same_exponent;
  if (multiplier != nullptr) {
    m = vld1q_s32(multiplier + at);
    e = vld1q_s32(exponent + at);
  }
  return vaddq_s32(fixed_multiply_clamped<Rounding, PositiveExponent>(vld1q_s32(x + at), m, e, lo, hi), zp);
}

template <class Code, RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_NEON inline void requantize_fixed_block16(const std::int32_t* x, const std::int32_t* multiplier,
                                                        const std::int32_t* exponent, int32x4_t same_multiplier,
                                                        int32x4_t same_exponent, int32x4_t lo, int32x4_t hi,
                                                        int32x4_t zp, Code* y) {
  const int32x4_t sm = same_multiplier, se = same_exponent;
  store_codes16(requantize_fixed4<Rounding, PositiveExponent>(x, multiplier, exponent, sm, se, 0, lo, hi, zp),
                requantize_fixed4<Rounding, PositiveExponent>(x, multiplier, exponent, sm, se, 4, lo, hi, zp),
                requantize_fixed4<Rounding, PositiveExponent>(x, multiplier, exponent, sm, se, 8, lo, hi, zp),
                requantize_fixed4<Rounding, PositiveExponent>(x, multiplier, exponent, sm, se, 12, lo, hi, zp), y);
}

template <class Code, RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_NEON inline void requantize_fixed_loop(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                                     const std::int32_t* exponent, QuantizedMultiplier same,
                                                     std::int32_t zero_point, CodeRange range, Code* y) {
  const int32x4_t sm = vdupq_n_s32(same.multiplier), se = vdupq_n_s32(same.exponent);
  const int32x4_t lo = vdupq_n_s32(range.qmin - zero_point), hi = vdupq_n_s32(range.qmax - zero_point);
  const int32x4_t zp = vdupq_n_s32(zero_point);
  Index i = 0;
  for (; i + 16 <= n; i += 16) {
    requantize_fixed_block16<Code, Rounding, PositiveExponent>(x + i, multiplier ? multiplier + i : nullptr,
                                                           exponent ? exponent + i : nullptr, sm, se, lo, hi, zp,
                                                           y + i);
  }
  if (i < n) {
    const Index rest = n - i;
    const auto bytes = static_cast<std::size_t>(rest) * sizeof(std::int32_t);
    std::int32_t xb[16] = {}, mb[16] = {}, eb[16] = {};
    Code yb[16];
    std::memcpy(xb, x + i, bytes);
    if (multiplier != nullptr) {
      std::memcpy(mb, multiplier + i, bytes);
      std::memcpy(eb, exponent + i, bytes);
    }
    requantize_fixed_block16<Code, Rounding, PositiveExponent>(xb, multiplier ? mb : nullptr, exponent ? eb : nullptr, sm,
                                                           se, lo, hi, zp, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

// Sixteen codes to four float vectors, then (q - zp) * scale.
template <class Code>
EIGENQ_TARGET_NEON inline void dequantize_block16(const Code* q, float32x4_t z0, float32x4_t z1, float32x4_t z2,
                                                  float32x4_t z3, float32x4_t s0, float32x4_t s1, float32x4_t s2,
                                                  float32x4_t s3, float* y) {
  int16x8_t low, high;
  if constexpr (std::is_signed_v<Code>) {
    const int8x16_t c = vld1q_s8(q);
    low = vmovl_s8(vget_low_s8(c));
    high = vmovl_high_s8(c);
  } else {
    const uint8x16_t c = vld1q_u8(q);
    low = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(c)));
    high = vreinterpretq_s16_u16(vmovl_high_u8(c));
  }
  vst1q_f32(y, vmulq_f32(vsubq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(low))), z0), s0));
  vst1q_f32(y + 4, vmulq_f32(vsubq_f32(vcvtq_f32_s32(vmovl_high_s16(low)), z1), s1));
  vst1q_f32(y + 8, vmulq_f32(vsubq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(high))), z2), s2));
  vst1q_f32(y + 12, vmulq_f32(vsubq_f32(vcvtq_f32_s32(vmovl_high_s16(high)), z3), s3));
}

template <class Code>
EIGENQ_TARGET_NEON inline void dequantize_channels_block16(const Code* q, const float* s, const std::int32_t* z,
                                                           float* y) {
  dequantize_block16(q, vcvtq_f32_s32(vld1q_s32(z)), vcvtq_f32_s32(vld1q_s32(z + 4)), vcvtq_f32_s32(vld1q_s32(z + 8)),
                     vcvtq_f32_s32(vld1q_s32(z + 12)), vld1q_f32(s), vld1q_f32(s + 4), vld1q_f32(s + 8),
                     vld1q_f32(s + 12), y);
}

// int4: 32 codes <-> 16 bytes. ld2/st2 (de)interleave even and odd codes; sli puts the odd
// code in the high nibble and keeps the even code's low nibble.
EIGENQ_TARGET_NEON inline void pack4_block32(const std::uint8_t* codes, std::uint8_t* packed) {
  const uint8x16x2_t pairs = vld2q_u8(codes);
  vst1q_u8(packed, vsliq_n_u8(pairs.val[0], pairs.val[1], 4));
}

template <class Code>
EIGENQ_TARGET_NEON inline void unpack4_block32(const std::uint8_t* packed, std::uint8_t* codes) {
  const uint8x16_t b = vld1q_u8(packed);
  uint8x16x2_t pairs;
  if constexpr (std::is_signed_v<Code>) {
    const int8x16_t s = vreinterpretq_s8_u8(b);
    pairs.val[0] = vreinterpretq_u8_s8(vshrq_n_s8(vshlq_n_s8(s, 4), 4));  // sign-extend the low nibble
    pairs.val[1] = vreinterpretq_u8_s8(vshrq_n_s8(s, 4));
  } else {
    pairs.val[0] = vandq_u8(b, vdupq_n_u8(0x0F));
    pairs.val[1] = vshrq_n_u8(b, 4);
  }
  vst2q_u8(codes, pairs);
}

}  // namespace neon_detail

// ---- kernels ----------------------------------------------------------------------------

template <class Code>
EIGENQ_TARGET_NEON inline void quantize_f32_neon(const float* x, Index n, float factor, std::int32_t zero_point,
                                                 CodeRange range, QuantizeRounding rounding, Code* y) {
  using neon_detail::quantize_loop_same;
  switch (rounding) {
    case QuantizeRounding::multiply_half_even:
      return quantize_loop_same<Code, QuantizeRounding::multiply_half_even>(x, n, factor, zero_point, range, y);
    case QuantizeRounding::divide_half_even:
      return quantize_loop_same<Code, QuantizeRounding::divide_half_even>(x, n, factor, zero_point, range, y);
    case QuantizeRounding::divide_half_away:
      return quantize_loop_same<Code, QuantizeRounding::divide_half_away>(x, n, factor, zero_point, range, y);
  }
}

template <class Code>
EIGENQ_TARGET_NEON inline void quantize_f32_channels_neon(const float* x, Index n, const float* factor,
                                                          const std::int32_t* zero_point, CodeRange range,
                                                          QuantizeRounding rounding, Code* y) {
  const neon_detail::ChannelQuantize params{factor, zero_point, range.qmin, range.qmax, 0};
  neon_detail::quantize_by_rounding(x, n, params, rounding, y);
}

template <class Code>
EIGENQ_TARGET_NEON inline void dequantize_f32_neon(const Code* q, Index n, float scale, std::int32_t zero_point,
                                                   float* y) {
  const float32x4_t s = vdupq_n_f32(scale);
  const float32x4_t z = vdupq_n_f32(static_cast<float>(zero_point));
  Index i = 0;
  for (; i + 16 <= n; i += 16) neon_detail::dequantize_block16(q + i, z, z, z, z, s, s, s, s, y + i);
  if (i < n) {
    const Index rest = n - i;
    Code qb[16] = {};
    float yb[16];
    std::memcpy(qb, q + i, static_cast<std::size_t>(rest) * sizeof(Code));
    neon_detail::dequantize_block16(qb, z, z, z, z, s, s, s, s, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(float));
  }
}

template <class Code>
EIGENQ_TARGET_NEON inline void dequantize_f32_channels_neon(const Code* q, Index n, const float* scale,
                                                            const std::int32_t* zero_point, float* y) {
  using neon_detail::dequantize_channels_block16;
  Index i = 0;
  for (; i + 16 <= n; i += 16) dequantize_channels_block16(q + i, scale + i, zero_point + i, y + i);
  if (i < n) {
    const Index rest = n - i;
    Code qb[16] = {};
    float sb[16] = {}, yb[16];
    std::int32_t zb[16] = {};
    std::memcpy(qb, q + i, static_cast<std::size_t>(rest) * sizeof(Code));
    std::memcpy(sb, scale + i, static_cast<std::size_t>(rest) * sizeof(float));
    std::memcpy(zb, zero_point + i, static_cast<std::size_t>(rest) * sizeof(std::int32_t));
    dequantize_channels_block16(qb, sb, zb, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(float));
  }
}

template <class Code>
EIGENQ_TARGET_NEON inline void requantize_fp32_neon(const std::int32_t* x, Index n, float multiplier,
                                                    std::int32_t zero_point, CodeRange range, Code* y) {
  neon_detail::quantize_loop_same<Code, QuantizeRounding::multiply_half_even>(x, n, multiplier, zero_point, range, y);
}

template <class Code>
EIGENQ_TARGET_NEON inline void requantize_fp32_channels_neon(const std::int32_t* x, Index n, const float* multiplier,
                                                             std::int32_t zero_point, CodeRange range, Code* y) {
  const neon_detail::ChannelQuantize params{multiplier, nullptr, range.qmin, range.qmax, zero_point};
  neon_detail::requantize_fp32_loop(x, n, params, y);
}

template <class Code>
EIGENQ_TARGET_NEON inline void requantize_fixedpoint_neon(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                                          RequantRounding rounding, std::int32_t zero_point,
                                                          CodeRange range, Code* y) {
  using neon_detail::requantize_fixed_loop;
  if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, false>(x, n, nullptr, nullptr, m, zero_point, range, y);
  } else if (m.exponent > 0) {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, nullptr, nullptr, m, zero_point, range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, false>(x, n, nullptr, nullptr, m, zero_point, range, y);
  }
}

template <class Code>
EIGENQ_TARGET_NEON inline void requantize_fixedpoint_channels_neon(const std::int32_t* x, Index n,
                                                                   const std::int32_t* multiplier,
                                                                   const std::int32_t* exponent,
                                                                   RequantRounding rounding, std::int32_t zero_point,
                                                                   CodeRange range, Code* y) {
  using neon_detail::requantize_fixed_loop;
  if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, false>(x, n, multiplier, exponent, {}, zero_point,
                                                                        range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, multiplier, exponent, {}, zero_point,
                                                                       range, y);
  }
}

// int4: 32 codes <-> 16 bytes per step.
template <class Code>
EIGENQ_TARGET_NEON inline void pack4_neon(const Code* codes, Index n, std::uint8_t* packed) {
  using neon_detail::pack4_block32;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(codes);
  Index i = 0;
  for (; i + 32 <= n; i += 32) pack4_block32(bytes + i, packed + i / 2);
  if (i < n) {
    const Index rest = n - i;
    std::uint8_t cb[32] = {};  // zero codes past the end: the last high nibble stays 0
    std::uint8_t pb[16];
    std::memcpy(cb, bytes + i, static_cast<std::size_t>(rest));
    pack4_block32(cb, pb);
    std::memcpy(packed + i / 2, pb, static_cast<std::size_t>((rest + 1) / 2));
  }
}

template <class Code>
EIGENQ_TARGET_NEON inline void unpack4_neon(const std::uint8_t* packed, Index n, Code* codes) {
  using neon_detail::unpack4_block32;
  auto* out = reinterpret_cast<std::uint8_t*>(codes);
  Index i = 0;
  for (; i + 32 <= n; i += 32) unpack4_block32<Code>(packed + i / 2, out + i);
  if (i < n) {
    const Index rest = n - i;
    std::uint8_t pb[16] = {};
    std::uint8_t cb[32];
    std::memcpy(pb, packed + i / 2, static_cast<std::size_t>((rest + 1) / 2));
    unpack4_block32<Code>(pb, cb);
    std::memcpy(out + i, cb, static_cast<std::size_t>(rest));
  }
}

}  // namespace kernels
}  // namespace eigenq
#endif
