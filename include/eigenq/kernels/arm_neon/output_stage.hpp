// NEON output stages of the int8 GEMM: one row of a finished tile, 8 columns
// per step and the scalar definitions (kernels/output_stage.hpp) for the
// rest. NEON has the fixed-point pieces built in: sqshl is gemmlowp's
// saturating left shift and sqrdmulh its saturating rounding doubling high
// multiply; the rounding divide by a power of two uses the same
// remainder/threshold form as the x86 paths (srshl would round ties up, not
// away from zero). fcvtns rounds to nearest even like nearbyint.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON)

#include <arm_neon.h>

#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/output_stage.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// Stores 8 int32 codes (two vectors) that are already inside Out's range.
template <class Out>
EIGENQ_TARGET_NEON inline void store_codes_neon(Out* dst, int32x4_t lo, int32x4_t hi) {
  const int16x8_t words = vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi));
  if constexpr (std::is_signed_v<Out>) {
    vst1_s8(reinterpret_cast<std::int8_t*>(dst), vqmovn_s16(words));
  } else {
    vst1_u8(reinterpret_cast<std::uint8_t*>(dst), vqmovun_s16(words));
  }
}

EIGENQ_TARGET_NEON inline int32x4_t requantize_float_neon(int32x4_t t, float32x4_t m, float32x4_t lo,
                                                          float32x4_t hi, int32x4_t zp) {
  float32x4_t v = vmulq_f32(vcvtq_f32_s32(t), m);
  v = vminq_f32(vmaxq_f32(v, lo), hi);
  return vaddq_s32(vcvtnq_s32_f32(v), zp);
}

template <class Out>
EIGENQ_TARGET_NEON void requantize_float_row_neon(const std::int32_t* acc, Index count,
                                                  const float* multiplier, std::int32_t zero_point,
                                                  std::int32_t lo, std::int32_t hi, Out* dst) {
  const float32x4_t lo_f = vdupq_n_f32(static_cast<float>(lo));
  const float32x4_t hi_f = vdupq_n_f32(static_cast<float>(hi));
  const int32x4_t zp = vdupq_n_s32(zero_point);
  Index j = 0;
  for (; j + 8 <= count; j += 8) {
    const int32x4_t v0 = requantize_float_neon(vld1q_s32(acc + j), vld1q_f32(multiplier + j), lo_f, hi_f, zp);
    const int32x4_t v1 =
        requantize_float_neon(vld1q_s32(acc + j + 4), vld1q_f32(multiplier + j + 4), lo_f, hi_f, zp);
    store_codes_neon(dst + j, v0, v1);
  }
  for (; j < count; ++j) {
    dst[j] = static_cast<Out>(requantize_with_float(acc[j], multiplier[j], zero_point, lo, hi));
  }
}

// x / 2^shift rounded half away from zero, shift in [0, 31].
EIGENQ_TARGET_NEON inline int32x4_t rounding_divide_by_pot_neon(int32x4_t x, int32x4_t shift) {
  const int32x4_t one = vdupq_n_s32(1);
  const int32x4_t mask = vsubq_s32(vshlq_s32(one, shift), one);
  const int32x4_t remainder = vandq_s32(x, mask);
  const int32x4_t threshold = vsubq_s32(vshrq_n_s32(mask, 1), vshrq_n_s32(x, 31));
  const int32x4_t quotient = vshlq_s32(x, vnegq_s32(shift));  // arithmetic right shift
  return vsubq_s32(quotient, vreinterpretq_s32_u32(vcgtq_s32(remainder, threshold)));
}

EIGENQ_TARGET_NEON inline int32x4_t multiply_double_rounding_neon(int32x4_t x, int32x4_t m, int32x4_t left,
                                                                  int32x4_t right) {
  return rounding_divide_by_pot_neon(vqrdmulhq_s32(vqshlq_s32(x, left), m), right);
}

// (x * m + 2^(s-1)) >> s, saturated to int32.
EIGENQ_TARGET_NEON inline int32x2_t rounding_shift_product_neon(int32x2_t x, int32x2_t m, int32x2_t s) {
  const int64x2_t s64 = vmovl_s32(s);
  const int64x2_t one = vdupq_n_s64(1);
  const int64x2_t round = vshlq_s64(one, vsubq_s64(s64, one));
  const int64x2_t p = vaddq_s64(vmull_s32(x, m), round);
  return vqmovn_s64(vshlq_s64(p, vnegq_s64(s64)));
}

EIGENQ_TARGET_NEON inline int32x4_t multiply_single_rounding_neon(int32x4_t x, int32x4_t m, int32x4_t s) {
  return vcombine_s32(rounding_shift_product_neon(vget_low_s32(x), vget_low_s32(m), vget_low_s32(s)),
                      rounding_shift_product_neon(vget_high_s32(x), vget_high_s32(m), vget_high_s32(s)));
}

template <class Out>
EIGENQ_TARGET_NEON void requantize_fixed_point_row_neon(
    const std::int32_t* acc, Index count, const std::int32_t* multiplier, const std::int32_t* shift_a,
    const std::int32_t* shift_b, RequantRounding rounding, std::int32_t zero_point, std::int32_t lo,
    std::int32_t hi, Out* dst) {
  const int32x4_t lo_v = vdupq_n_s32(lo);
  const int32x4_t hi_v = vdupq_n_s32(hi);
  const int32x4_t zp = vdupq_n_s32(zero_point);
  const bool double_rounding = rounding == RequantRounding::double_rounding;
  Index j = 0;
  for (; j + 8 <= count; j += 8) {
    int32x4_t v[2];
    for (int h = 0; h < 2; ++h) {
      const Index i = j + 4 * h;
      const int32x4_t t = vld1q_s32(acc + i);
      const int32x4_t m = vld1q_s32(multiplier + i);
      const int32x4_t a = vld1q_s32(shift_a + i);
      v[h] = double_rounding ? multiply_double_rounding_neon(t, m, a, vld1q_s32(shift_b + i))
                             : multiply_single_rounding_neon(t, m, a);
      v[h] = vaddq_s32(vminq_s32(vmaxq_s32(v[h], lo_v), hi_v), zp);
    }
    store_codes_neon(dst + j, v[0], v[1]);
  }
  for (; j < count; ++j) {
    QuantizedMultiplier q;
    q.multiplier = multiplier[j];
    q.exponent = double_rounding ? shift_a[j] - shift_b[j] : 31 - shift_a[j];
    dst[j] = static_cast<Out>(requantize_with_fixed_point(acc[j], q, rounding, zero_point, lo, hi));
  }
}

EIGENQ_TARGET_NEON inline void dequantize_row_neon(const std::int32_t* acc, Index count, float row_scale,
                                                   const float* col_scale, const float* bias, float* dst) {
  const float32x4_t rs = vdupq_n_f32(row_scale);
  Index j = 0;
  for (; j + 4 <= count; j += 4) {
    const float32x4_t x = vcvtq_f32_s32(vld1q_s32(acc + j));
    const float32x4_t s = vmulq_f32(rs, vld1q_f32(col_scale + j));
    vst1q_f32(dst + j, vfmaq_f32(vld1q_f32(bias + j), x, s));
  }
  for (; j < count; ++j) dst[j] = dequantize_with_scales(acc[j], row_scale, col_scale[j], bias[j]);
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#endif  // EIGENQ_HAVE_NEON
