// AArch64 Advanced SIMD vector primitives: what the loops in kernels/generic/ need from an ISA
// (generic/elementwise-inl.hpp lists them with their contracts), 4 lanes of 32 bits. The
// neon_dotprod path compiles them with the dot-product extension its GEMM and GEMV need.
//
// The conversions do most of the work: fcvtns (round to nearest, ties to even) and fcvtas
// (ties away from zero) saturate to int32 and map NaN to 0. fmin/fmax propagate NaN and
// fmaxnm ignores it. sqshl is gemmlowp's saturating left shift, sqrdmulh its saturating
// rounding doubling high multiply, and srshl on 64-bit lanes the single-rounding shift.
// Tails go through small stack copies (no masked loads).
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON_DOTPROD)

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"

#define EIGENQ_V EIGENQ_TARGET_NEON_DOTPROD EIGENQ_ALWAYS_INLINE

namespace eigenq::kernels::arm_neon {

using F32 = float32x4_t;
using I32 = int32x4_t;
using I16 = int16x8_t;
template <class Code>
using Bytes = std::conditional_t<std::is_signed_v<Code>, int8x16_t, uint8x16_t>;  // `block` codes

constexpr Index lanes = 4;
constexpr Index block = 4 * lanes;  // elements per step of the elementwise loops: one code vector
constexpr bool masked_tails = false;

// ---- arithmetic ---------------------------------------------------------------------------

EIGENQ_V F32 set1(float v) { return vdupq_n_f32(v); }
EIGENQ_V I32 set1(std::int32_t v) { return vdupq_n_s32(v); }
EIGENQ_V F32 add(F32 a, F32 b) { return vaddq_f32(a, b); }
EIGENQ_V F32 sub(F32 a, F32 b) { return vsubq_f32(a, b); }
EIGENQ_V F32 mul(F32 a, F32 b) { return vmulq_f32(a, b); }
EIGENQ_V F32 div(F32 a, F32 b) { return vdivq_f32(a, b); }
EIGENQ_V F32 mul_add(F32 a, F32 b, F32 c) { return vfmaq_f32(c, a, b); }
EIGENQ_V F32 at_most(F32 v, F32 hi) { return vminq_f32(v, hi); }
EIGENQ_V F32 at_least(F32 v, F32 lo) { return vmaxq_f32(v, lo); }
EIGENQ_V F32 abs(F32 v) { return vabsq_f32(v); }
EIGENQ_V F32 max_ignoring_nan(F32 acc, F32 v) { return vmaxnmq_f32(acc, v); }
EIGENQ_V I32 add(I32 a, I32 b) { return vaddq_s32(a, b); }
EIGENQ_V I32 sub(I32 a, I32 b) { return vsubq_s32(a, b); }
EIGENQ_V I32 min(I32 a, I32 b) { return vminq_s32(a, b); }
EIGENQ_V I32 max(I32 a, I32 b) { return vmaxq_s32(a, b); }
EIGENQ_V F32 to_f32(I32 v) { return vcvtq_f32_s32(v); }

// The conversion itself sends NaN to 0; the value before the clamps is not needed.
template <Rounding R>
EIGENQ_V I32 to_i32(F32 v, F32 /*unclamped*/) {
  return R == Rounding::half_away_from_zero ? vcvtaq_s32_f32(v) : vcvtnq_s32_f32(v);
}

EIGENQ_V float reduce_max(F32 v) { return vmaxnmvq_f32(v); }
EIGENQ_V std::int32_t reduce_add(I32 v) { return vaddvq_s32(v); }

// ---- loads and stores ---------------------------------------------------------------------

EIGENQ_V F32 load(const float* p) { return vld1q_f32(p); }
EIGENQ_V I32 load(const std::int32_t* p) { return vld1q_s32(p); }
EIGENQ_V void store(float* p, F32 v) { vst1q_f32(p, v); }

// The first `count` values (none when count <= 0), zeros in the other lanes.
template <class T>
EIGENQ_V auto load_first(const T* p, Index count) {
  if (count >= lanes) return load(p);
  T padded[lanes] = {};
  for (Index k = 0; k < count; ++k) padded[k] = p[k];
  return load(padded);
}

EIGENQ_V void store_first(float* p, F32 v, Index count) {
  if (count >= lanes) return store(p, v);
  float lanes_out[lanes];
  store(lanes_out, v);
  for (Index k = 0; k < count; ++k) p[k] = lanes_out[k];
}

// Four values inside [-128, 127] to four bytes.
EIGENQ_V void store_s8(std::int8_t* p, I32 v) {
  const int8x8_t bytes = vqmovn_s16(vcombine_s16(vqmovn_s32(v), vdup_n_s16(0)));
  const std::int32_t word = vget_lane_s32(vreinterpret_s32_s8(bytes), 0);
  std::memcpy(p, &word, 4);
}

// ---- codes --------------------------------------------------------------------------------

// Four vectors of int32 values inside Code's range to 16 codes.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes(I32 a, I32 b, I32 c, I32 d) {
  const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vmovn_s32(c), vmovn_s32(d));
  if constexpr (std::is_signed_v<Code>) {
    return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
  } else {
    return vcombine_u8(vmovn_u16(vreinterpretq_u16_s16(ab)), vmovn_u16(vreinterpretq_u16_s16(cd)));
  }
}

EIGENQ_V I16 set1_i16(std::int16_t v) { return vdupq_n_s16(v); }
template <class Code>
EIGENQ_V Bytes<Code> set1_codes(std::int32_t v) {
  if constexpr (std::is_signed_v<Code>) {
    return vdupq_n_s8(static_cast<std::int8_t>(v));
  } else {
    return vdupq_n_u8(static_cast<std::uint8_t>(v));
  }
}

// max(q + zero_point, qmin) for q <= qmax - zero_point, by saturating narrows: int32 -> int16,
// + zero point with int16 saturation, -> int8/uint8, then a byte max.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes_offset(I32 a, I32 b, I32 c, I32 d, I16 zero_point, Bytes<Code> qmin) {
  const I16 ab = vqaddq_s16(vcombine_s16(vqmovn_s32(a), vqmovn_s32(b)), zero_point);
  const I16 cd = vqaddq_s16(vcombine_s16(vqmovn_s32(c), vqmovn_s32(d)), zero_point);
  if constexpr (std::is_signed_v<Code>) {
    return vmaxq_s8(vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd)), qmin);
  } else {
    return vmaxq_u8(vcombine_u8(vqmovun_s16(ab), vqmovun_s16(cd)), qmin);
  }
}

EIGENQ_V void store_bytes(std::int8_t* p, int8x16_t v) { vst1q_s8(p, v); }
EIGENQ_V void store_bytes(std::uint8_t* p, uint8x16_t v) { vst1q_u8(p, v); }

// 16 codes (sign- or zero-extended) as four float vectors.
template <class Code>
EIGENQ_V void load_codes(const Code* p, F32& a, F32& b, F32& c, F32& d) {
  int16x8_t low, high;
  if constexpr (std::is_signed_v<Code>) {
    const int8x16_t v = vld1q_s8(p);
    low = vmovl_s8(vget_low_s8(v));
    high = vmovl_high_s8(v);
  } else {
    const uint8x16_t v = vld1q_u8(p);
    low = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
    high = vreinterpretq_s16_u16(vmovl_high_u8(v));
  }
  a = vcvtq_f32_s32(vmovl_s16(vget_low_s16(low)));
  b = vcvtq_f32_s32(vmovl_high_s16(low));
  c = vcvtq_f32_s32(vmovl_s16(vget_low_s16(high)));
  d = vcvtq_f32_s32(vmovl_high_s16(high));
}

// ---- fixed point (fixed_point.hpp) ---------------------------------------------------------

EIGENQ_V I32 saturating_shift_left(I32 x, I32 left) { return vqshlq_s32(x, left); }

// sqrdmulh == saturating_rounding_doubling_high_mul (the saturating case included).
EIGENQ_V I32 doubling_high_mul(I32 a, I32 b) { return vqrdmulhq_s32(a, b); }

// x / 2^e, ties away from zero: srshl rounds half up, so negative values are first moved down
// by one (saturating; INT32_MIN gives the same quotient either way).
EIGENQ_V I32 rounding_divide_by_pot(I32 x, I32 e) {
  const I32 negative_e = vnegq_s32(e);
  const I32 fixup = vshrq_n_s32(vandq_s32(x, negative_e), 31);  // -1 where x < 0 and e > 0
  return vrshlq_s32(vqaddq_s32(x, fixup), negative_e);
}

// clamp(round(x * m / 2^(31 - e)) half up, lo, hi): srshl on the 64-bit products, then a
// saturating narrow, so no product can overflow whatever the exponent (the flag is moot).
template <bool MayExceedInt32>
EIGENQ_V I32 multiply_single_rounding(I32 x, I32 m, I32 e, I32 lo, I32 hi) {
  const I32 negative_shift = vsubq_s32(e, vdupq_n_s32(31));  // -(31 - e)
  const int32x2_t low =
      vqmovn_s64(vrshlq_s64(vmull_s32(vget_low_s32(x), vget_low_s32(m)), vmovl_s32(vget_low_s32(negative_shift))));
  const int32x2_t high = vqmovn_s64(vrshlq_s64(vmull_high_s32(x, m), vmovl_high_s32(negative_shift)));
  return vminq_s32(vmaxq_s32(vcombine_s32(low, high), lo), hi);
}

// ---- f16 --------------------------------------------------------------------------------

EIGENQ_V F32 load_f16(const std::uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p))));
}

}  // namespace eigenq::kernels::arm_neon

#undef EIGENQ_V

#endif  // EIGENQ_HAVE_NEON_DOTPROD
