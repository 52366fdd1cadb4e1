// AVX-512 output stages of the int8 GEMM (one row of a finished tile at a
// time, 16 columns per vector, the tail under a mask). Bit for bit the scalar
// definitions in kernels/output_stage.hpp:
// - float requantization: cvtdq2ps and vcvtps2dq round to nearest even like
//   static_cast<float> and nearbyint in the default environment, and the clamp
//   happens in float before the conversion, as in the scalar code;
// - fixed point: the doubling high multiply is floor((x*m + 2^30) / 2^31) (the
//   scalar nudge-and-truncate form equals this for every x and m >= 0), taken
//   from 64-bit vpmuldq products of even and odd lanes; the rounding shift is
//   gemmlowp's remainder/threshold form with per-lane shift counts; single
//   rounding shifts the 64-bit product arithmetically and saturates with vpmovsqd.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"

// GCC 12 warns that the "undefined" pass-through operand of the AVX-512
// intrinsics it inlines here may be used uninitialized (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace eigenq {
namespace kernels {
namespace detail {

EIGENQ_TARGET_AVX512 inline __mmask16 tail_mask_avx512(Index remaining) {
  return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

template <class Out>
EIGENQ_TARGET_AVX512 inline void store_codes_avx512(Out* dst, __mmask16 mask, __m512i codes) {
  // The codes are already inside the output type's range: truncating narrows exactly.
  _mm512_mask_cvtepi32_storeu_epi8(dst, mask, codes);
}

template <class Out>
EIGENQ_TARGET_AVX512 void requantize_float_row_avx512(const std::int32_t* acc, Index count,
                                                      const float* multiplier, std::int32_t zero_point,
                                                      std::int32_t lo, std::int32_t hi, Out* dst) {
  const __m512 lo_f = _mm512_set1_ps(static_cast<float>(lo));
  const __m512 hi_f = _mm512_set1_ps(static_cast<float>(hi));
  const __m512i zp = _mm512_set1_epi32(zero_point);
  for (Index j = 0; j < count; j += 16) {
    const __mmask16 mask = tail_mask_avx512(count - j);
    const __m512i t = _mm512_maskz_loadu_epi32(mask, acc + j);
    const __m512 mul = _mm512_maskz_loadu_ps(mask, multiplier + j);
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(t), mul);
    v = _mm512_min_ps(_mm512_max_ps(v, lo_f), hi_f);
    const __m512i codes = _mm512_add_epi32(_mm512_cvtps_epi32(v), zp);
    store_codes_avx512(dst + j, mask, codes);
  }
}

// floor((x * m + 2^30) / 2^31) per lane: gemmlowp's SaturatingRoundingDoublingHighMul
// for m >= 0 (its one saturating case needs m = INT32_MIN).
EIGENQ_TARGET_AVX512 inline __m512i doubling_high_mul_avx512(__m512i x, __m512i m) {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
  const __m512i odd = _mm512_add_epi64(
      _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)), nudge);
  // Bits 31..62 of each 64-bit sum: the low half of even >> 31, the high half of odd << 1.
  return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), _mm512_srli_epi64(even, 31),
                                 _mm512_slli_epi64(odd, 1));
}

// x / 2^shift rounded half away from zero (gemmlowp RoundingDivideByPOT), shift in [0, 31].
EIGENQ_TARGET_AVX512 inline __m512i rounding_divide_by_pot_avx512(__m512i x, __m512i shift) {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, shift), one);
  const __m512i remainder = _mm512_and_si512(x, mask);
  // threshold = (mask >> 1) + (x < 0): subtracting x >> 31 (0 or -1) adds the 1.
  const __m512i threshold = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(x, 31));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(remainder, threshold);
  return _mm512_mask_add_epi32(_mm512_srav_epi32(x, shift), up, _mm512_srav_epi32(x, shift), one);
}

// x * 2^left saturated to int32 (gemmlowp's saturating ShiftLeft), left in [0, 30].
EIGENQ_TARGET_AVX512 inline __m512i saturating_shift_left_avx512(__m512i x, __m512i left) {
  const __m512i shifted = _mm512_sllv_epi32(x, left);
  const __mmask16 overflow = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, left), x);
  const __m512i saturated = _mm512_mask_blend_epi32(
      _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512()), _mm512_set1_epi32(INT32_MAX),
      _mm512_set1_epi32(INT32_MIN));
  return _mm512_mask_blend_epi32(overflow, shifted, saturated);
}

// (x * m + 2^(s-1)) >> s for 64-bit lanes (arithmetic), s in [1, 62].
EIGENQ_TARGET_AVX512 inline __m512i rounding_shift_product_avx512(__m512i x, __m512i m, __m512i s) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i round = _mm512_sllv_epi64(one, _mm512_sub_epi64(s, one));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), round), s);
}

EIGENQ_TARGET_AVX512 inline __m512i multiply_single_rounding_avx512(__m512i x, __m512i m,
                                                                    __m512i total_shift) {
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  const __m512i even = rounding_shift_product_avx512(x, m, _mm512_and_si512(total_shift, low32));
  const __m512i odd = rounding_shift_product_avx512(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32),
                                                    _mm512_srli_epi64(total_shift, 32));
  // Saturate each 64-bit result to int32, then interleave even and odd lanes back.
  const __m256i even32 = _mm512_cvtsepi64_epi32(even);
  const __m256i odd32 = _mm512_cvtsepi64_epi32(odd);
  const __m512i idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return _mm512_permutex2var_epi32(_mm512_castsi256_si512(even32), idx,
                                   _mm512_castsi256_si512(odd32));
}

template <class Out>
EIGENQ_TARGET_AVX512 void requantize_fixed_point_row_avx512(
    const std::int32_t* acc, Index count, const std::int32_t* multiplier, const std::int32_t* shift_a,
    const std::int32_t* shift_b, RequantRounding rounding, std::int32_t zero_point, std::int32_t lo,
    std::int32_t hi, Out* dst) {
  const __m512i lo_v = _mm512_set1_epi32(lo);
  const __m512i hi_v = _mm512_set1_epi32(hi);
  const __m512i zp = _mm512_set1_epi32(zero_point);
  for (Index j = 0; j < count; j += 16) {
    const __mmask16 mask = tail_mask_avx512(count - j);
    const __m512i t = _mm512_maskz_loadu_epi32(mask, acc + j);
    const __m512i m = _mm512_maskz_loadu_epi32(mask, multiplier + j);
    const __m512i a = _mm512_maskz_loadu_epi32(mask, shift_a + j);
    __m512i v;
    if (rounding == RequantRounding::double_rounding) {
      const __m512i b = _mm512_maskz_loadu_epi32(mask, shift_b + j);
      v = rounding_divide_by_pot_avx512(doubling_high_mul_avx512(saturating_shift_left_avx512(t, a), m), b);
    } else {
      v = multiply_single_rounding_avx512(t, m, a);
    }
    v = _mm512_min_epi32(_mm512_max_epi32(v, lo_v), hi_v);
    store_codes_avx512(dst + j, mask, _mm512_add_epi32(v, zp));
  }
}

EIGENQ_TARGET_AVX512 inline void dequantize_row_avx512(const std::int32_t* acc, Index count,
                                                       float row_scale, const float* col_scale,
                                                       const float* bias, float* dst) {
  const __m512 rs = _mm512_set1_ps(row_scale);
  for (Index j = 0; j < count; j += 16) {
    const __mmask16 mask = tail_mask_avx512(count - j);
    const __m512 x = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(mask, acc + j));
    const __m512 s = _mm512_mul_ps(rs, _mm512_maskz_loadu_ps(mask, col_scale + j));
    const __m512 y = _mm512_fmadd_ps(x, s, _mm512_maskz_loadu_ps(mask, bias + j));
    _mm512_mask_storeu_ps(dst + j, mask, y);
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // EIGENQ_HAVE_AVX512
