// AVX2 output stages of the int8 GEMM: one row of a finished tile, 8 columns
// per vector and the scalar definitions (kernels/output_stage.hpp) for the
// last count % 8. The vector code is the same arithmetic as the AVX-512 one
// (see x86_avx512/output_stage.hpp); what AVX2 lacks is emulated exactly:
// 64-bit arithmetic right shifts as sign ^ ((x ^ sign) >>> s), 64-bit
// saturation to int32 by compare-and-blend.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/output_stage.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// Stores 8 int32 codes that are already inside Out's range.
template <class Out>
EIGENQ_TARGET_AVX2 inline void store_codes_avx2(Out* dst, __m256i codes) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(codes), _mm256_extracti128_si256(codes, 1));
  const __m128i bytes =
      std::is_signed_v<Out> ? _mm_packs_epi16(words, words) : _mm_packus_epi16(words, words);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), bytes);
}

template <class Out>
EIGENQ_TARGET_AVX2 void requantize_float_row_avx2(const std::int32_t* acc, Index count,
                                                  const float* multiplier, std::int32_t zero_point,
                                                  std::int32_t lo, std::int32_t hi, Out* dst) {
  const __m256 lo_f = _mm256_set1_ps(static_cast<float>(lo));
  const __m256 hi_f = _mm256_set1_ps(static_cast<float>(hi));
  const __m256i zp = _mm256_set1_epi32(zero_point);
  Index j = 0;
  for (; j + 8 <= count; j += 8) {
    const __m256i t = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j));
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(t), _mm256_loadu_ps(multiplier + j));
    v = _mm256_min_ps(_mm256_max_ps(v, lo_f), hi_f);
    store_codes_avx2(dst + j, _mm256_add_epi32(_mm256_cvtps_epi32(v), zp));
  }
  for (; j < count; ++j) {
    dst[j] = static_cast<Out>(requantize_with_float(acc[j], multiplier[j], zero_point, lo, hi));
  }
}

EIGENQ_TARGET_AVX2 inline __m256i doubling_high_mul_avx2(__m256i x, __m256i m) {
  const __m256i nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
  const __m256i odd =
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), nudge);
  return _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
}

EIGENQ_TARGET_AVX2 inline __m256i rounding_divide_by_pot_avx2(__m256i x, __m256i shift) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, shift), one);
  const __m256i remainder = _mm256_and_si256(x, mask);
  const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(x, 31));
  // cmpgt gives -1 where the quotient rounds up: subtract it.
  return _mm256_sub_epi32(_mm256_srav_epi32(x, shift), _mm256_cmpgt_epi32(remainder, threshold));
}

EIGENQ_TARGET_AVX2 inline __m256i saturating_shift_left_avx2(__m256i x, __m256i left) {
  const __m256i shifted = _mm256_sllv_epi32(x, left);
  const __m256i kept = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, left), x);
  const __m256i saturated = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MAX), _mm256_set1_epi32(INT32_MIN),
                                               _mm256_srai_epi32(x, 31));
  return _mm256_blendv_epi8(saturated, shifted, kept);
}

// (x * m + 2^(s-1)) >> s (arithmetic) saturated to int32, on the low dword of 64-bit lanes.
EIGENQ_TARGET_AVX2 inline __m256i rounding_shift_product_avx2(__m256i x, __m256i m, __m256i s) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i round = _mm256_sllv_epi64(one, _mm256_sub_epi64(s, one));
  const __m256i p = _mm256_add_epi64(_mm256_mul_epi32(x, m), round);
  const __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
  __m256i r = _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(p, sign), s), sign);
  const __m256i max32 = _mm256_set1_epi64x(INT32_MAX);
  const __m256i min32 = _mm256_set1_epi64x(INT32_MIN);
  r = _mm256_blendv_epi8(r, max32, _mm256_cmpgt_epi64(r, max32));
  r = _mm256_blendv_epi8(r, min32, _mm256_cmpgt_epi64(min32, r));
  return r;
}

EIGENQ_TARGET_AVX2 inline __m256i multiply_single_rounding_avx2(__m256i x, __m256i m, __m256i total_shift) {
  const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFF);
  const __m256i even = rounding_shift_product_avx2(x, m, _mm256_and_si256(total_shift, low32));
  const __m256i odd = rounding_shift_product_avx2(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32),
                                                  _mm256_srli_epi64(total_shift, 32));
  return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

EIGENQ_TARGET_AVX2 inline __m256i load_s32x8_avx2(const std::int32_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

template <class Out>
EIGENQ_TARGET_AVX2 void requantize_fixed_point_row_avx2(
    const std::int32_t* acc, Index count, const std::int32_t* multiplier, const std::int32_t* shift_a,
    const std::int32_t* shift_b, RequantRounding rounding, std::int32_t zero_point, std::int32_t lo,
    std::int32_t hi, Out* dst) {
  const __m256i lo_v = _mm256_set1_epi32(lo);
  const __m256i hi_v = _mm256_set1_epi32(hi);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  Index j = 0;
  for (; j + 8 <= count; j += 8) {
    const __m256i t = load_s32x8_avx2(acc + j);
    const __m256i m = load_s32x8_avx2(multiplier + j);
    const __m256i a = load_s32x8_avx2(shift_a + j);
    __m256i v;
    if (rounding == RequantRounding::double_rounding) {
      v = rounding_divide_by_pot_avx2(doubling_high_mul_avx2(saturating_shift_left_avx2(t, a), m),
                                      load_s32x8_avx2(shift_b + j));
    } else {
      v = multiply_single_rounding_avx2(t, m, a);
    }
    v = _mm256_min_epi32(_mm256_max_epi32(v, lo_v), hi_v);
    store_codes_avx2(dst + j, _mm256_add_epi32(v, zp));
  }
  for (; j < count; ++j) {
    QuantizedMultiplier q;
    q.multiplier = multiplier[j];
    q.exponent = rounding == RequantRounding::double_rounding ? shift_a[j] - shift_b[j] : 31 - shift_a[j];
    dst[j] = static_cast<Out>(requantize_with_fixed_point(acc[j], q, rounding, zero_point, lo, hi));
  }
}

EIGENQ_TARGET_AVX2 inline void dequantize_row_avx2(const std::int32_t* acc, Index count, float row_scale,
                                                   const float* col_scale, const float* bias, float* dst) {
  const __m256 rs = _mm256_set1_ps(row_scale);
  Index j = 0;
  for (; j + 8 <= count; j += 8) {
    const __m256 x =
        _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j)));
    const __m256 s = _mm256_mul_ps(rs, _mm256_loadu_ps(col_scale + j));
    _mm256_storeu_ps(dst + j, _mm256_fmadd_ps(x, s, _mm256_loadu_ps(bias + j)));
  }
  for (; j < count; ++j) dst[j] = dequantize_with_scales(acc[j], row_scale, col_scale[j], bias[j]);
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#endif  // EIGENQ_HAVE_AVX2
