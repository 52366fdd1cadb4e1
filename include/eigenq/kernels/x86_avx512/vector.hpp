// AVX-512 (F, BW, VL, DQ) vector primitives: what the loops in kernels/generic/ need from an
// ISA (generic/elementwise-inl.hpp lists them with their contracts), 16 lanes of 32 bits. The
// avx512vnni path uses them too. Tails take lane masks: masked loads read zeros and masked
// stores leave memory alone outside the mask, so a tail is the same vector code.
//
// Conversions under a mask of the ordered lanes turn NaN into 0 (vcvtps2dq alone would give
// INT32_MIN); they use round-to-nearest-even explicitly (embedded rounding), and give
// INT32_MIN below -2^31. min/max return their second operand when either is NaN, which
// at_most/at_least use to keep a NaN value NaN.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"

// GCC 12.2 reports its own _mm512_undefined_*() self-initialisation as maybe-uninitialized
// once the intrinsics are inlined (GCC PR 105593, fixed in later releases): every header of
// this folder puts its code between these two.
#if defined(__GNUC__) && !defined(__clang__)
#define EIGENQ_AVX512_DIAGNOSTICS_BEGIN                                          \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")
#define EIGENQ_AVX512_DIAGNOSTICS_END _Pragma("GCC diagnostic pop")
#else
#define EIGENQ_AVX512_DIAGNOSTICS_BEGIN
#define EIGENQ_AVX512_DIAGNOSTICS_END
#endif

EIGENQ_AVX512_DIAGNOSTICS_BEGIN

#define EIGENQ_V EIGENQ_TARGET_AVX512 EIGENQ_ALWAYS_INLINE

namespace eigenq::kernels::x86_avx512 {

using F32 = __m512;
using I32 = __m512i;
using I16 = __m512i;
template <class Code>
using Bytes = __m512i;  // `block` codes

constexpr Index lanes = 16;
constexpr Index block = 4 * lanes;  // elements per step of the elementwise loops: one code vector
constexpr bool masked_tails = true;

// ---- masks ----------------------------------------------------------------------------------

// Lanes [0, count) of a 16-, 32- or 64-lane mask; count may be <= 0 or beyond the width.
EIGENQ_V __mmask16 first_lanes(Index count) {
  if (count <= 0) return 0;
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

EIGENQ_V __mmask32 first_lanes32(Index count) {
  if (count <= 0) return 0;
  return count >= 32 ? static_cast<__mmask32>(0xFFFFFFFFu) : static_cast<__mmask32>((std::uint32_t{1} << count) - 1u);
}

EIGENQ_V __mmask64 first_lanes64(Index count) {
  if (count <= 0) return 0;
  return count >= 64 ? ~__mmask64{0} : static_cast<__mmask64>((std::uint64_t{1} << count) - 1u);
}

// ---- arithmetic ---------------------------------------------------------------------------

EIGENQ_V F32 set1(float v) { return _mm512_set1_ps(v); }
EIGENQ_V I32 set1(std::int32_t v) { return _mm512_set1_epi32(v); }
EIGENQ_V F32 add(F32 a, F32 b) { return _mm512_add_ps(a, b); }
EIGENQ_V F32 sub(F32 a, F32 b) { return _mm512_sub_ps(a, b); }
EIGENQ_V F32 mul(F32 a, F32 b) { return _mm512_mul_ps(a, b); }
EIGENQ_V F32 div(F32 a, F32 b) { return _mm512_div_ps(a, b); }
EIGENQ_V F32 mul_add(F32 a, F32 b, F32 c) { return _mm512_fmadd_ps(a, b, c); }
EIGENQ_V F32 at_most(F32 v, F32 hi) { return _mm512_min_ps(hi, v); }
EIGENQ_V F32 at_least(F32 v, F32 lo) { return _mm512_max_ps(lo, v); }
EIGENQ_V F32 abs(F32 v) {
  return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7FFFFFFF)));
}
EIGENQ_V F32 max_ignoring_nan(F32 acc, F32 v) { return _mm512_max_ps(v, acc); }
EIGENQ_V I32 add(I32 a, I32 b) { return _mm512_add_epi32(a, b); }
EIGENQ_V I32 sub(I32 a, I32 b) { return _mm512_sub_epi32(a, b); }
EIGENQ_V I32 min(I32 a, I32 b) { return _mm512_min_epi32(a, b); }
EIGENQ_V I32 max(I32 a, I32 b) { return _mm512_max_epi32(a, b); }
EIGENQ_V F32 to_f32(I32 v) { return _mm512_cvtepi32_ps(v); }

// `unclamped` is v before at_most/at_least (NaN in the same lanes): testing it for NaN runs
// beside the clamps instead of after them.
template <Rounding R>
EIGENQ_V I32 to_i32(F32 v, F32 unclamped) {
  const __mmask16 ordered = _mm512_cmp_ps_mask(unclamped, unclamped, _CMP_ORD_Q);
  if constexpr (R == Rounding::half_away_from_zero) {
    // round_half_away_from_zero(c) == trunc(c + copysign(0x1.fffffep-2f, c)) for every float c
    // (checked exhaustively; 0x1.fffffep-2f = nextafter(0.5f, 0)); 0.5f itself would round
    // 0x1.fffffep-2f up.
    const F32 sign = _mm512_and_ps(v, _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MIN)));
    const F32 bias = _mm512_or_ps(sign, _mm512_set1_ps(0x1.fffffep-2f));
    return _mm512_maskz_cvtt_roundps_epi32(ordered, _mm512_add_ps(v, bias), _MM_FROUND_NO_EXC);
  } else {
    return _mm512_maskz_cvt_roundps_epi32(ordered, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
}

EIGENQ_V float reduce_max(F32 v) { return _mm512_reduce_max_ps(v); }
EIGENQ_V std::int32_t reduce_add(I32 v) { return _mm512_reduce_add_epi32(v); }

// ---- loads and stores ---------------------------------------------------------------------

EIGENQ_V F32 load(const float* p) { return _mm512_loadu_ps(p); }
EIGENQ_V I32 load(const std::int32_t* p) { return _mm512_loadu_si512(p); }
EIGENQ_V void store(float* p, F32 v) { _mm512_storeu_ps(p, v); }
EIGENQ_V F32 load_first(const float* p, Index count) { return _mm512_maskz_loadu_ps(first_lanes(count), p); }
EIGENQ_V I32 load_first(const std::int32_t* p, Index count) {
  return _mm512_maskz_loadu_epi32(first_lanes(count), p);
}
EIGENQ_V void store_first(float* p, F32 v, Index count) { _mm512_mask_storeu_ps(p, first_lanes(count), v); }

// Sixteen values inside [-128, 127] to sixteen bytes (truncation is exact there).
EIGENQ_V void store_s8(std::int8_t* p, I32 v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtepi32_epi8(v));
}

// ---- codes --------------------------------------------------------------------------------

// After the in-lane packs dword 4k + t holds elements 16t + 4k..4k+3; put it at 4t + k.
EIGENQ_V I32 restore_order(I32 packed) {
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), packed);
}

// Four vectors of int32 values inside Code's range to 64 codes in element order.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes(I32 a, I32 b, I32 c, I32 d) {
  const I32 ab = _mm512_packs_epi32(a, b);  // per 128-bit lane: a[4k..4k+3], b[4k..4k+3]
  const I32 cd = _mm512_packs_epi32(c, d);
  return restore_order(std::is_signed_v<Code> ? _mm512_packs_epi16(ab, cd) : _mm512_packus_epi16(ab, cd));
}

EIGENQ_V I16 set1_i16(std::int16_t v) { return _mm512_set1_epi16(v); }
template <class Code>
EIGENQ_V Bytes<Code> set1_codes(std::int32_t v) {
  return _mm512_set1_epi8(static_cast<char>(v));
}

// max(q + zero_point, qmin) for q <= qmax - zero_point, by saturating steps.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes_offset(I32 a, I32 b, I32 c, I32 d, I16 zero_point, Bytes<Code> qmin) {
  const I32 ab = _mm512_adds_epi16(_mm512_packs_epi32(a, b), zero_point);
  const I32 cd = _mm512_adds_epi16(_mm512_packs_epi32(c, d), zero_point);
  if constexpr (std::is_signed_v<Code>) return restore_order(_mm512_max_epi8(_mm512_packs_epi16(ab, cd), qmin));
  return restore_order(_mm512_max_epu8(_mm512_packus_epi16(ab, cd), qmin));
}

template <class Code>
EIGENQ_V void store_bytes(Code* p, Bytes<Code> v) { _mm512_storeu_si512(p, v); }
template <class Code>
EIGENQ_V void store_bytes_first(Code* p, Index count, Bytes<Code> v) {
  _mm512_mask_storeu_epi8(p, first_lanes64(count), v);
}

// Sixteen codes (sign- or zero-extended) as floats.
template <class Code>
EIGENQ_V F32 codes_to_f32(__m128i codes) {
  return _mm512_cvtepi32_ps(std::is_signed_v<Code> ? _mm512_cvtepi8_epi32(codes) : _mm512_cvtepu8_epi32(codes));
}

// 64 codes as four float vectors: four widening loads, four independent chains.
template <class Code>
EIGENQ_V void load_codes(const Code* p, F32& a, F32& b, F32& c, F32& d) {
  a = codes_to_f32<Code>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  b = codes_to_f32<Code>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
  c = codes_to_f32<Code>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32)));
  d = codes_to_f32<Code>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48)));
}

template <class Code>
EIGENQ_V void load_codes_first(const Code* p, Index count, F32& a, F32& b, F32& c, F32& d) {
  a = codes_to_f32<Code>(_mm_maskz_loadu_epi8(first_lanes(count), p));
  b = codes_to_f32<Code>(_mm_maskz_loadu_epi8(first_lanes(count - 16), p + 16));
  c = codes_to_f32<Code>(_mm_maskz_loadu_epi8(first_lanes(count - 32), p + 32));
  d = codes_to_f32<Code>(_mm_maskz_loadu_epi8(first_lanes(count - 48), p + 48));
}

// acc + vpmaddwd(a, b), one vpmaddwd and one vpaddd kept together under GCC (see
// x86_avx2/vector.hpp, madd_accumulate).
EIGENQ_V I32 madd_accumulate(I32 acc, I32 a, I32 b) {
#if defined(__clang__)
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#else
  I32 product;
  __asm__("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+v"(acc), "=&v"(product) : "v"(a), "v"(b));
  return acc;
#endif
}

#if defined(EIGENQ_HAVE_AVX512VNNI)
// acc + vpdpbusd(a, b): each group of four u8 x s8 products added exactly into an int32 lane,
// which wraps. GCC 12 allocates registers badly around the vpdpbusd builtin (it copies and
// spills the accumulator each time: half speed), so under GCC the instruction is issued
// through inline assembly with the same operands.
EIGENQ_TARGET_AVX512VNNI EIGENQ_ALWAYS_INLINE I32 dot_u8s8(I32 acc, I32 a_u8, I32 b_s8) {
#if defined(__clang__)
  return _mm512_dpbusd_epi32(acc, a_u8, b_s8);
#else
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a_u8), "v"(b_s8));
  return acc;
#endif
}
#endif

// ---- fixed point (fixed_point.hpp) ---------------------------------------------------------

// x * 2^left saturated to int32, left in [0, 30].
EIGENQ_V I32 saturating_shift_left(I32 x, I32 left) {
  const I32 shifted = _mm512_sllv_epi32(x, left);
  const __mmask16 overflow = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, left), x);
  const I32 saturated = _mm512_xor_si512(_mm512_srai_epi32(x, 31), _mm512_set1_epi32(INT32_MAX));
  return _mm512_mask_blend_epi32(overflow, shifted, saturated);
}

// saturating_rounding_doubling_high_mul for b >= 0: floor((a*b + 2^30) / 2^31) from the
// 64-bit products of the even and the odd lanes (gemmlowp's nudge-and-truncate equals it).
EIGENQ_V I32 doubling_high_mul(I32 a, I32 b) {
  const I32 nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const I32 even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, b), nudge), 31);
  const I32 odd_product = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32));
  const I32 odd = _mm512_slli_epi64(_mm512_add_epi64(odd_product, nudge), 1);  // bits 31..62 -> high dword
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

// x / 2^e rounded to nearest, ties away from zero (e in [0, 31]): gemmlowp's remainder and
// threshold form; threshold = (mask >> 1) + (x < 0), and the quotient goes up where the
// remainder exceeds it.
EIGENQ_V I32 rounding_divide_by_pot(I32 x, I32 e) {
  const I32 one = _mm512_set1_epi32(1);
  const I32 mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
  const I32 remainder = _mm512_and_si512(x, mask);
  const I32 threshold = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(x, 31));
  const I32 shifted = _mm512_srav_epi32(x, e);
  return _mm512_mask_add_epi32(shifted, _mm512_cmpgt_epi32_mask(remainder, threshold), shifted, one);
}

// round(x * m / 2^s) half up on the low dwords of 64-bit lanes (arithmetic shift), s in [1, 62].
EIGENQ_V I32 single_rounding_half(I32 x, I32 m, I32 s) {
  const I32 one = _mm512_set1_epi64(1);
  const I32 round = _mm512_sllv_epi64(one, _mm512_sub_epi64(s, one));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), round), s);
}

// clamp(round(x * m / 2^(31 - e)) half up, lo, hi); the 64-bit lanes take the even and odd
// elements in turn. MayExceedInt32: some exponent may be > 0, so the product is clamped in
// 64 bits; otherwise it fits int32 and is clamped there.
template <bool MayExceedInt32>
EIGENQ_V I32 multiply_single_rounding(I32 x, I32 m, I32 e, I32 lo, I32 hi) {
  const I32 s = _mm512_sub_epi32(_mm512_set1_epi32(31), e);
  I32 even = single_rounding_half(x, m, _mm512_and_si512(s, _mm512_set1_epi64(0xFFFFFFFF)));
  I32 odd = single_rounding_half(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32), _mm512_srli_epi64(s, 32));
  if constexpr (MayExceedInt32) {
    const I32 lo64 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(lo));  // lo/hi are the same in every lane
    const I32 hi64 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(hi));
    even = _mm512_min_epi64(_mm512_max_epi64(even, lo64), hi64);
    odd = _mm512_min_epi64(_mm512_max_epi64(odd, lo64), hi64);
  }
  const I32 r = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  if constexpr (MayExceedInt32) return r;
  return _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
}

// ---- f16 --------------------------------------------------------------------------------

EIGENQ_V F32 load_f16(const std::uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

}  // namespace eigenq::kernels::x86_avx512

#undef EIGENQ_V

EIGENQ_AVX512_DIAGNOSTICS_END

#endif  // EIGENQ_HAVE_AVX512
