// AVX2 + FMA vector primitives: what the loops in kernels/generic/ need from an ISA (see
// generic/elementwise-inl.hpp for the list and their contracts), 8 lanes of 32 bits.
// Tails: 32-bit loads and stores take a lane mask (vmaskmov); bytes go through a stack copy.
//
// NaN and conversions: cvtps2dq returns INT32_MIN for NaN and for anything outside int32, so
// to_i32 zeroes NaN lanes first; callers cap values above at most 2^31 (they clamp first).
// min/max return their second operand when either is NaN, which at_most/at_least use to keep
// a NaN value NaN. Half-to-even rounding assumes the default MXCSR rounding mode, like the
// scalar reference (core/rounding.hpp).
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"

#define EIGENQ_V EIGENQ_TARGET_AVX2 EIGENQ_ALWAYS_INLINE

namespace eigenq::kernels::x86_avx2 {

using F32 = __m256;
using I32 = __m256i;
using I16 = __m256i;
template <class Code>
using Bytes = __m256i;  // `block` codes

constexpr Index lanes = 8;
constexpr Index block = 4 * lanes;  // elements per step of the elementwise loops: one code vector
constexpr bool masked_tails = false;

// ---- arithmetic ---------------------------------------------------------------------------

EIGENQ_V F32 set1(float v) { return _mm256_set1_ps(v); }
EIGENQ_V I32 set1(std::int32_t v) { return _mm256_set1_epi32(v); }
EIGENQ_V F32 add(F32 a, F32 b) { return _mm256_add_ps(a, b); }
EIGENQ_V F32 sub(F32 a, F32 b) { return _mm256_sub_ps(a, b); }
EIGENQ_V F32 mul(F32 a, F32 b) { return _mm256_mul_ps(a, b); }
EIGENQ_V F32 div(F32 a, F32 b) { return _mm256_div_ps(a, b); }
EIGENQ_V F32 mul_add(F32 a, F32 b, F32 c) { return _mm256_fmadd_ps(a, b, c); }
EIGENQ_V F32 at_most(F32 v, F32 hi) { return _mm256_min_ps(hi, v); }
EIGENQ_V F32 at_least(F32 v, F32 lo) { return _mm256_max_ps(lo, v); }
EIGENQ_V F32 abs(F32 v) { return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))); }
EIGENQ_V F32 max_ignoring_nan(F32 acc, F32 v) { return _mm256_max_ps(v, acc); }
EIGENQ_V I32 add(I32 a, I32 b) { return _mm256_add_epi32(a, b); }
EIGENQ_V I32 sub(I32 a, I32 b) { return _mm256_sub_epi32(a, b); }
EIGENQ_V I32 min(I32 a, I32 b) { return _mm256_min_epi32(a, b); }
EIGENQ_V I32 max(I32 a, I32 b) { return _mm256_max_epi32(a, b); }
EIGENQ_V F32 to_f32(I32 v) { return _mm256_cvtepi32_ps(v); }

// `unclamped` is v before at_most/at_least (NaN in the same lanes): testing it for NaN runs
// beside the clamps instead of after them.
template <Rounding R>
EIGENQ_V I32 to_i32(F32 v, F32 unclamped) {
  v = _mm256_and_ps(v, _mm256_cmp_ps(unclamped, unclamped, _CMP_ORD_Q));  // NaN -> +0
  if constexpr (R == Rounding::half_away_from_zero) {
    // round_half_away_from_zero(c) == trunc(c + copysign(0x1.fffffep-2f, c)) for every float c
    // (checked exhaustively; 0x1.fffffep-2f = nextafter(0.5f, 0)); 0.5f itself would round
    // 0x1.fffffep-2f up.
    const F32 sign = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_or_ps(sign, _mm256_set1_ps(0x1.fffffep-2f))));
  } else {
    return _mm256_cvtps_epi32(v);
  }
}

EIGENQ_V float reduce_max(F32 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}

EIGENQ_V std::int32_t reduce_add(I32 v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
}

// ---- loads and stores ---------------------------------------------------------------------

// Lanes [0, count) of a mask; count may be <= 0 or >= 8.
EIGENQ_V I32 first_lanes(Index count) {
  const auto n = static_cast<int>(count < 0 ? 0 : count > lanes ? lanes : count);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

EIGENQ_V F32 load(const float* p) { return _mm256_loadu_ps(p); }
EIGENQ_V I32 load(const std::int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
EIGENQ_V void store(float* p, F32 v) { _mm256_storeu_ps(p, v); }

// The first `count` values (none when count <= 0), zeros in the other lanes.
EIGENQ_V F32 load_first(const float* p, Index count) { return _mm256_maskload_ps(p, first_lanes(count)); }
EIGENQ_V I32 load_first(const std::int32_t* p, Index count) {
  return _mm256_maskload_epi32(reinterpret_cast<const int*>(p), first_lanes(count));
}
EIGENQ_V void store_first(float* p, F32 v, Index count) { _mm256_maskstore_ps(p, first_lanes(count), v); }

// Eight values inside [-128, 127] to eight bytes.
EIGENQ_V void store_s8(std::int8_t* p, I32 v) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi16(words, words));
}

// ---- codes --------------------------------------------------------------------------------

// Element order after the two in-lane packs: dword 4k + t holds elements 4(2t + k)..+3 of
// 32; this permutation puts them back.
EIGENQ_V I32 restore_order(I32 packed) {
  return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Four vectors of int32 values inside Code's range to 32 codes in element order.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes(I32 a, I32 b, I32 c, I32 d) {
  const I32 ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a[4k..4k+3], b[4k..4k+3]
  const I32 cd = _mm256_packs_epi32(c, d);
  return restore_order(std::is_signed_v<Code> ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd));
}

EIGENQ_V I16 set1_i16(std::int16_t v) { return _mm256_set1_epi16(v); }
template <class Code>
EIGENQ_V Bytes<Code> set1_codes(std::int32_t v) {
  return _mm256_set1_epi8(static_cast<char>(v));
}

// max(q + zero_point, qmin) for q <= qmax - zero_point, by saturating steps (see
// generic/elementwise-inl.hpp): int32 -> int16, + zero point in int16, -> bytes, byte max.
template <class Code>
EIGENQ_V Bytes<Code> pack_codes_offset(I32 a, I32 b, I32 c, I32 d, I16 zero_point, Bytes<Code> qmin) {
  const I32 ab = _mm256_adds_epi16(_mm256_packs_epi32(a, b), zero_point);
  const I32 cd = _mm256_adds_epi16(_mm256_packs_epi32(c, d), zero_point);
  if constexpr (std::is_signed_v<Code>) return restore_order(_mm256_max_epi8(_mm256_packs_epi16(ab, cd), qmin));
  return restore_order(_mm256_max_epu8(_mm256_packus_epi16(ab, cd), qmin));
}

template <class Code>
EIGENQ_V void store_bytes(Code* p, Bytes<Code> v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// Eight codes (sign- or zero-extended) as floats.
template <class Code>
EIGENQ_V F32 load_codes8(const Code* p) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(std::is_signed_v<Code> ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
}

// 32 codes as four float vectors.
template <class Code>
EIGENQ_V void load_codes(const Code* p, F32& a, F32& b, F32& c, F32& d) {
  a = load_codes8(p);
  b = load_codes8(p + 8);
  c = load_codes8(p + 16);
  d = load_codes8(p + 24);
}

// acc + vpmaddwd(a, b): pairs of int16 products summed exactly into int32 lanes, added with
// wrap-around. One vpmaddwd and one vpaddd in inline assembly under GCC: GCC 12 otherwise
// hoists all products ahead of the adds and spills accumulators (a third slower); clang needs
// no help.
EIGENQ_V I32 madd_accumulate(I32 acc, I32 a, I32 b) {
#if defined(__clang__)
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#else
  I32 product;
  __asm__("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+x"(acc), "=&x"(product) : "x"(a), "x"(b));
  return acc;
#endif
}

// ---- fixed point (fixed_point.hpp) ---------------------------------------------------------

// x * 2^left saturated to int32, left in [0, 30].
EIGENQ_V I32 saturating_shift_left(I32 x, I32 left) {
  const I32 shifted = _mm256_sllv_epi32(x, left);
  const I32 exact = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, left), x);
  const I32 saturated = _mm256_xor_si256(_mm256_srai_epi32(x, 31), _mm256_set1_epi32(INT32_MAX));
  return _mm256_blendv_epi8(saturated, shifted, exact);
}

// saturating_rounding_doubling_high_mul for b >= 0 (so a = b = INT32_MIN cannot happen):
// gemmlowp's sign-dependent nudge and truncating division equal floor((a*b + 2^30) / 2^31),
// taken from the 64-bit products of the even and the odd lanes.
EIGENQ_V I32 doubling_high_mul(I32 a, I32 b) {
  const I32 nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const I32 even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, b), nudge), 31);
  const I32 odd_product = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
  const I32 odd = _mm256_slli_epi64(_mm256_add_epi64(odd_product, nudge), 1);  // bits 31..62 -> high dword
  return _mm256_blend_epi32(even, odd, 0xAA);
}

// x / 2^e rounded to nearest, ties away from zero (e in [0, 31]): gemmlowp's remainder and
// threshold form with per-lane shift counts.
EIGENQ_V I32 rounding_divide_by_pot(I32 x, I32 e) {
  const I32 one = _mm256_set1_epi32(1);
  const I32 mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
  const I32 remainder = _mm256_and_si256(x, mask);
  const I32 threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(x, 31));
  // cmpgt gives -1 where the quotient rounds up.
  return _mm256_sub_epi32(_mm256_srav_epi32(x, e), _mm256_cmpgt_epi32(remainder, threshold));
}

// round(x * m / 2^s) half up on the low dwords of 64-bit lanes, s in [1, 62]. AVX2 has no
// 64-bit arithmetic shift: with the bias 2^62 the sum is positive, a logical shift floors it,
// and the bias comes back out as 2^(62 - s). Clamped to [lo, hi] (64-bit lanes) when Clamp;
// otherwise the caller knows the result fits int32.
template <bool Clamp>
EIGENQ_V I32 single_rounding_half(I32 x, I32 m, I32 s, I32 lo, I32 hi) {
  const I32 one = _mm256_set1_epi64x(1);
  const I32 bias = _mm256_set1_epi64x(std::int64_t{1} << 62);
  const I32 round = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(s, one)), bias);
  const I32 biased_shift = _mm256_sllv_epi64(one, _mm256_sub_epi64(_mm256_set1_epi64x(62), s));
  I32 r = _mm256_srlv_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), round), s);
  if constexpr (Clamp) {
    const I32 lo_b = _mm256_add_epi64(lo, biased_shift);
    const I32 hi_b = _mm256_add_epi64(hi, biased_shift);
    r = _mm256_blendv_epi8(r, lo_b, _mm256_cmpgt_epi64(lo_b, r));
    r = _mm256_blendv_epi8(r, hi_b, _mm256_cmpgt_epi64(r, hi_b));
  }
  return _mm256_sub_epi64(r, biased_shift);
}

// clamp(round(x * m / 2^(31 - e)) half up, lo, hi). MayExceedInt32: some exponent may be > 0,
// so the product may leave int32 and is clamped in 64 bits; otherwise it fits int32.
template <bool MayExceedInt32>
EIGENQ_V I32 multiply_single_rounding(I32 x, I32 m, I32 e, I32 lo, I32 hi) {
  const I32 s = _mm256_sub_epi32(_mm256_set1_epi32(31), e);
  const I32 lo64 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo));  // lo/hi are the same in every lane
  const I32 hi64 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(hi));
  const I32 even = single_rounding_half<MayExceedInt32>(x, m, _mm256_and_si256(s, _mm256_set1_epi64x(0xFFFFFFFF)),
                                                        lo64, hi64);
  const I32 odd = single_rounding_half<MayExceedInt32>(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32),
                                                       _mm256_srli_epi64(s, 32), lo64, hi64);
  const I32 r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  if constexpr (MayExceedInt32) return r;
  return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
}

// ---- f16 --------------------------------------------------------------------------------

// Eight finite f16 values to float, exactly (AVX2 does not imply F16C): normals by rebiasing
// the exponent, subnormals (and zeros) as m * 2^-24 in float.
EIGENQ_V F32 load_f16(const std::uint8_t* p) {
  const I32 h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const I32 sign = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16);
  const I32 magnitude = _mm256_and_si256(h, _mm256_set1_epi32(0x7FFF));
  const I32 normal = _mm256_add_epi32(_mm256_slli_epi32(magnitude, 13), _mm256_set1_epi32(112 << 23));
  const F32 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(h, _mm256_set1_epi32(0x3FF))),
                                _mm256_set1_ps(5.9604644775390625e-8f));
  const I32 is_sub = _mm256_cmpeq_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x7C00)), _mm256_setzero_si256());
  const I32 bits = _mm256_blendv_epi8(normal, _mm256_castps_si256(sub), is_sub);
  return _mm256_castsi256_ps(_mm256_or_si256(bits, sign));
}

}  // namespace eigenq::kernels::x86_avx2

#undef EIGENQ_V

#endif  // EIGENQ_HAVE_AVX2
