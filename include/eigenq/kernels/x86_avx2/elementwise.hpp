// Elementwise kernels, AVX2 + FMA path. Bit-identical to scalar/elementwise.hpp. Tails run
// through a zero-padded block on the stack, so every element goes through the same vector
// arithmetic as the body.
//
// Quantization clamps before it rounds: with integral bounds lo = qmin - zp, hi = qmax - zp
// (zp inside [qmin, qmax], so lo <= 0 <= hi),
//   clamp(round(v) + zp, qmin, qmax) == round(clamp(v, lo, hi)) + zp,
// so the conversion never sees a value outside int32 (cvtps2dq would return 0x80000000).
// NaN lanes are zeroed first and come out as the zero point. With one parameter set the lower
// clamp is left to saturation: v is only capped at hi, cvtps2dq sends anything below -2^31
// to INT32_MIN, the packs saturate to int16, the zero point is added with int16 saturation,
// the pack to bytes saturates and a byte max applies qmin; each step is monotone and exact on
// [lo, hi]. Like the scalar reference (core/rounding.hpp), half-to-even rounding assumes the
// default MXCSR rounding mode.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"

#if defined(EIGENQ_HAVE_AVX2)
#include <immintrin.h>

namespace eigenq {
namespace kernels {
namespace avx2_detail {

// Four vectors of int32 codes, all inside the code range, to 32 bytes in element order.
template <class Code>
EIGENQ_TARGET_AVX2 inline __m256i pack_codes32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);  // per 128-bit lane: a[4k..4k+3], b[4k..4k+3]
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = std::is_signed_v<Code> ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// What one 8-lane step of a quantizing kernel needs.
struct QuantizeLanes {
  __m256 factor;
  __m256 lo;
  __m256 hi;
  __m256i zero_point;
};

// Element i uses factor[i] and zero_point[i] (or one zero point when zero_point is null).
struct ChannelQuantize {
  const float* factor;
  const std::int32_t* zero_point;
  std::int32_t qmin;
  std::int32_t qmax;
  std::int32_t same_zero_point;
  EIGENQ_TARGET_AVX2 QuantizeLanes at(Index i) const {
    const __m256 f = _mm256_loadu_ps(factor + i);
    const __m256i z = zero_point ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zero_point + i))
                                 : _mm256_set1_epi32(same_zero_point);
    return {f, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmin), z)),
            _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(qmax), z)), z};
  }
  // Copies the parameters of [i, i + rest) into 32-element buffers, padded with factor 1
  // and an in-range zero point.
  EIGENQ_TARGET_AVX2 ChannelQuantize tail(Index i, Index rest, float* f, std::int32_t* z) const {
    for (Index k = 0; k < 32; ++k) {
      f[k] = k < rest ? factor[i + k] : 1.0f;
      z[k] = zero_point && k < rest ? zero_point[i + k] : qmin;
    }
    return {f, zero_point ? z : nullptr, qmin, qmax, same_zero_point};
  }
};

template <QuantizeRounding R>
EIGENQ_TARGET_AVX2 inline __m256i quantize8(__m256 x, const QuantizeLanes& p) {
  __m256 v = R == QuantizeRounding::multiply_half_even ? _mm256_mul_ps(x, p.factor) : _mm256_div_ps(x, p.factor);
  v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> +0
  const __m256 clamped = _mm256_min_ps(_mm256_max_ps(v, p.lo), p.hi);
  __m256i q;
  if constexpr (R == QuantizeRounding::divide_half_away) {
    // round_half_away_from_zero(c) == trunc(c + copysign(0x1.fffffep-2f, c)) for every float c
    // (checked exhaustively; 0x1.fffffep-2f = nextafter(0.5f, 0)); 0.5f itself would round
    // 0x1.fffffep-2f up.
    const __m256 sign = _mm256_and_ps(clamped, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
    q = _mm256_cvttps_epi32(_mm256_add_ps(clamped, _mm256_or_ps(sign, _mm256_set1_ps(0x1.fffffep-2f))));
  } else {
    q = _mm256_cvtps_epi32(clamped);  // round to nearest even
  }
  return _mm256_add_epi32(q, p.zero_point);
}

// Eight inputs as floats: floats as they are, int32 accumulators rounded to nearest even
// (as static_cast<float>).
EIGENQ_TARGET_AVX2 inline __m256 load8(const float* x) { return _mm256_loadu_ps(x); }
EIGENQ_TARGET_AVX2 inline __m256 load8(const std::int32_t* x) {
  return _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}

// x * factor (x / factor), NaN -> +0, capped at hi, rounded; no zero point yet.
template <QuantizeRounding R>
EIGENQ_TARGET_AVX2 inline __m256i scale_round8(__m256 x, __m256 factor, __m256 hi) {
  __m256 v = R == QuantizeRounding::multiply_half_even ? _mm256_mul_ps(x, factor) : _mm256_div_ps(x, factor);
  v = _mm256_min_ps(_mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)), hi);
  if constexpr (R == QuantizeRounding::divide_half_away) {
    const __m256 sign = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN)));
    return _mm256_cvttps_epi32(_mm256_add_ps(v, _mm256_or_ps(sign, _mm256_set1_ps(0x1.fffffep-2f))));
  } else {
    return _mm256_cvtps_epi32(v);
  }
}

// 32 inputs with one parameter set to 32 codes (lower clamp by saturation, see the top).
// (Written out rather than looped over arrays: GCC -O2 would keep such arrays in memory.)
template <class Code, QuantizeRounding R, class In>
EIGENQ_TARGET_AVX2 inline void quantize_block32_same(const In* x, __m256 factor, __m256 hi, __m256i zero_point16,
                                                     __m256i qmin8, Code* y) {
  const __m256i q0 = scale_round8<R>(load8(x), factor, hi), q1 = scale_round8<R>(load8(x + 8), factor, hi);
  const __m256i q2 = scale_round8<R>(load8(x + 16), factor, hi), q3 = scale_round8<R>(load8(x + 24), factor, hi);
  const __m256i ab = _mm256_adds_epi16(_mm256_packs_epi32(q0, q1), zero_point16);
  const __m256i cd = _mm256_adds_epi16(_mm256_packs_epi32(q2, q3), zero_point16);
  __m256i bytes;
  if constexpr (std::is_signed_v<Code>) bytes = _mm256_max_epi8(_mm256_packs_epi16(ab, cd), qmin8);
  else bytes = _mm256_max_epu8(_mm256_packus_epi16(ab, cd), qmin8);
  bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), bytes);
}

template <class Code, QuantizeRounding R, class In>
EIGENQ_TARGET_AVX2 inline void quantize_loop_same(const In* x, Index n, float factor_value, std::int32_t zero_point,
                                                  CodeRange range, Code* y) {
  const __m256 factor = _mm256_set1_ps(factor_value);
  const __m256 hi = _mm256_set1_ps(static_cast<float>(range.qmax - zero_point));
  const __m256i zp16 = _mm256_set1_epi16(static_cast<std::int16_t>(zero_point));
  const __m256i qmin8 = _mm256_set1_epi8(static_cast<char>(range.qmin));
  Index i = 0;
  for (; i + 32 <= n; i += 32) quantize_block32_same<Code, R>(x + i, factor, hi, zp16, qmin8, y + i);
  if (i < n) {
    const Index rest = n - i;
    alignas(32) In xb[32] = {};
    alignas(32) Code yb[32];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(In));
    quantize_block32_same<Code, R>(xb, factor, hi, zp16, qmin8, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

// 32 floats (x[0..32), parameters of elements i..i+32) to 32 codes.
template <class Code, QuantizeRounding R, class Params>
EIGENQ_TARGET_AVX2 inline void quantize_block32(const float* x, const Params& p, Index i, Code* y) {
  const __m256i q0 = quantize8<R>(_mm256_loadu_ps(x), p.at(i));
  const __m256i q1 = quantize8<R>(_mm256_loadu_ps(x + 8), p.at(i + 8));
  const __m256i q2 = quantize8<R>(_mm256_loadu_ps(x + 16), p.at(i + 16));
  const __m256i q3 = quantize8<R>(_mm256_loadu_ps(x + 24), p.at(i + 24));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), pack_codes32<Code>(q0, q1, q2, q3));
}

template <class Code, QuantizeRounding R, class Params>
EIGENQ_TARGET_AVX2 inline void quantize_loop(const float* x, Index n, const Params& params, Code* y) {
  Index i = 0;
  for (; i + 32 <= n; i += 32) quantize_block32<Code, R>(x + i, params, i, y + i);
  if (i < n) {
    const Index rest = n - i;
    alignas(32) float xb[32] = {};
    alignas(32) float fb[32];
    alignas(32) std::int32_t zb[32];
    alignas(32) Code yb[32];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(float));
    quantize_block32<Code, R>(xb, params.tail(i, rest, fb, zb), 0, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

template <class Code, class Params>
EIGENQ_TARGET_AVX2 inline void quantize_by_rounding(const float* x, Index n, const Params& params,
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

// Requantization with a float multiplier: 32 accumulators (as floats, round to nearest
// even like static_cast<float>) times the multiplier, then the quantize arithmetic.
template <class Code, class Params>
EIGENQ_TARGET_AVX2 inline void requantize_fp32_block32(const std::int32_t* x, const Params& p, Index i, Code* y) {
  constexpr QuantizeRounding R = QuantizeRounding::multiply_half_even;
  const __m256i q0 = quantize8<R>(load8(x), p.at(i)), q1 = quantize8<R>(load8(x + 8), p.at(i + 8));
  const __m256i q2 = quantize8<R>(load8(x + 16), p.at(i + 16)), q3 = quantize8<R>(load8(x + 24), p.at(i + 24));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), pack_codes32<Code>(q0, q1, q2, q3));
}

template <class Code, class Params>
EIGENQ_TARGET_AVX2 inline void requantize_fp32_loop(const std::int32_t* x, Index n, const Params& params, Code* y) {
  Index i = 0;
  for (; i + 32 <= n; i += 32) requantize_fp32_block32<Code>(x + i, params, i, y + i);
  if (i < n) {
    const Index rest = n - i;
    alignas(32) std::int32_t xb[32] = {};
    alignas(32) float fb[32];
    alignas(32) std::int32_t zb[32];
    alignas(32) Code yb[32];
    std::memcpy(xb, x + i, static_cast<std::size_t>(rest) * sizeof(std::int32_t));
    requantize_fp32_block32<Code>(xb, params.tail(i, rest, fb, zb), 0, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

// ---- fixed-point requantization ---------------------------------------------------------

// x * 2^left, saturated to int32 (left in [0, 30]).
EIGENQ_TARGET_AVX2 inline __m256i saturating_shift_left(__m256i x, __m256i left) {
  const __m256i shifted = _mm256_sllv_epi32(x, left);
  const __m256i exact = _mm256_cmpeq_epi32(_mm256_srav_epi32(shifted, left), x);
  const __m256i saturated = _mm256_xor_si256(_mm256_srai_epi32(x, 31), _mm256_set1_epi32(INT32_MAX));
  return _mm256_blendv_epi8(saturated, shifted, exact);
}

// saturating_rounding_doubling_high_mul for b >= 0 (so a = b = INT32_MIN cannot happen):
// gemmlowp's sign-dependent nudge and truncating division equal floor((a*b + 2^30) / 2^31).
EIGENQ_TARGET_AVX2 inline __m256i doubling_high_mul(__m256i a, __m256i b) {
  const __m256i nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(a, b), nudge), 31);
  const __m256i odd_product = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
  const __m256i odd = _mm256_slli_epi64(_mm256_add_epi64(odd_product, nudge), 1);  // bits 31..62 -> high dword
  return _mm256_blend_epi32(even, odd, 0xAA);
}

// rounding_divide_by_pot: x / 2^e rounded to nearest, ties away from zero (e in [0, 31]).
EIGENQ_TARGET_AVX2 inline __m256i rounding_divide_by_pot(__m256i x, __m256i e) {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
  const __m256i remainder = _mm256_and_si256(x, mask);
  const __m256i threshold = _mm256_sub_epi32(_mm256_srli_epi32(mask, 1), _mm256_srai_epi32(x, 31));
  // cmpgt gives -1 where the quotient rounds up.
  return _mm256_sub_epi32(_mm256_srav_epi32(x, e), _mm256_cmpgt_epi32(remainder, threshold));
}

// Single rounding on one 64-bit half: round(x * m / 2^s) half up, clamped to [lo, hi] when
// Clamp (otherwise the caller knows it fits int32 and uses the low dword). AVX2 has no 64-bit
// arithmetic shift; with the bias 2^62 the sum is positive, a logical shift floors it, and the
// bias comes back out as 2^(62 - s) (s in [1, 62]).
template <bool Clamp>
EIGENQ_TARGET_AVX2 inline __m256i single_rounding_half(__m256i x, __m256i m, __m256i s, __m256i lo, __m256i hi) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i bias = _mm256_set1_epi64x(std::int64_t{1} << 62);
  const __m256i round = _mm256_add_epi64(_mm256_sllv_epi64(one, _mm256_sub_epi64(s, one)), bias);
  const __m256i biased_shift = _mm256_sllv_epi64(one, _mm256_sub_epi64(_mm256_set1_epi64x(62), s));
  __m256i r = _mm256_srlv_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), round), s);
  if constexpr (Clamp) {
    const __m256i lo_b = _mm256_add_epi64(lo, biased_shift);
    const __m256i hi_b = _mm256_add_epi64(hi, biased_shift);
    r = _mm256_blendv_epi8(r, lo_b, _mm256_cmpgt_epi64(lo_b, r));
    r = _mm256_blendv_epi8(r, hi_b, _mm256_cmpgt_epi64(r, hi_b));
  }
  return _mm256_sub_epi64(r, biased_shift);
}

// multiply_by_quantized_multiplier, clamped to [lo, hi]. PositiveExponent: some exponent may
// be > 0, so double rounding shifts left first and a single-rounding product may leave int32
// (clamped in 64 bits); with exponents <= 0 it fits int32 and is clamped there.
template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX2 inline __m256i fixed_multiply_clamped(__m256i x, __m256i multiplier, __m256i exponent, __m256i lo,
                                                         __m256i hi) {
  if constexpr (Rounding == RequantRounding::double_rounding) {
    const __m256i zero = _mm256_setzero_si256();
    if constexpr (PositiveExponent) x = saturating_shift_left(x, _mm256_max_epi32(exponent, zero));
    const __m256i right = _mm256_max_epi32(_mm256_sub_epi32(zero, exponent), zero);
    const __m256i r = rounding_divide_by_pot(doubling_high_mul(x, multiplier), right);
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
  } else {
    const __m256i s = _mm256_sub_epi32(_mm256_set1_epi32(31), exponent);
    const __m256i lo64 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo));  // lo/hi are the same in every lane
    const __m256i hi64 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(hi));
    const __m256i low_dwords = _mm256_set1_epi64x(0xFFFFFFFF);
    const __m256i even =
        single_rounding_half<PositiveExponent>(x, multiplier, _mm256_and_si256(s, low_dwords), lo64, hi64);
    const __m256i odd = single_rounding_half<PositiveExponent>(
        _mm256_srli_epi64(x, 32), _mm256_srli_epi64(multiplier, 32), _mm256_srli_epi64(s, 32), lo64, hi64);
    const __m256i r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    if constexpr (PositiveExponent) return r;
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
  }
}

// Eight accumulators from x[at..]: multipliers from the arrays (when not null) or `same_*`.
template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX2 inline __m256i requantize_fixed8(const std::int32_t* x, const std::int32_t* multiplier,
                                                    const std::int32_t* exponent, __m256i same_multiplier,
                                                    __m256i same_exponent, Index at, __m256i lo, __m256i hi,
                                                    __m256i zp) {
  __m256i m = same_multiplier, e = same_exponent;
  if (multiplier != nullptr) {
    m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(multiplier + at));
    e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(exponent + at));
  }
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + at));
  return _mm256_add_epi32(fixed_multiply_clamped<Rounding, PositiveExponent>(v, m, e, lo, hi), zp);
}

// 32 accumulators to codes; multiplier/exponent hold 32 entries, or are null for `same_*`.
template <class Code, RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX2 inline void requantize_fixed_block32(const std::int32_t* x, const std::int32_t* multiplier,
                                                        const std::int32_t* exponent, __m256i same_multiplier,
                                                        __m256i same_exponent, __m256i lo, __m256i hi, __m256i zp,
                                                        Code* y) {
  const __m256i q0 = requantize_fixed8<Rounding, PositiveExponent>(x, multiplier, exponent, same_multiplier,
                                                               same_exponent, 0, lo, hi, zp);
  const __m256i q1 = requantize_fixed8<Rounding, PositiveExponent>(x, multiplier, exponent, same_multiplier,
                                                               same_exponent, 8, lo, hi, zp);
  const __m256i q2 = requantize_fixed8<Rounding, PositiveExponent>(x, multiplier, exponent, same_multiplier,
                                                               same_exponent, 16, lo, hi, zp);
  const __m256i q3 = requantize_fixed8<Rounding, PositiveExponent>(x, multiplier, exponent, same_multiplier,
                                                               same_exponent, 24, lo, hi, zp);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), pack_codes32<Code>(q0, q1, q2, q3));
}

template <class Code, RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX2 inline void requantize_fixed_loop(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                                     const std::int32_t* exponent, QuantizedMultiplier same,
                                                     std::int32_t zero_point, CodeRange range, Code* y) {
  const __m256i sm = _mm256_set1_epi32(same.multiplier), se = _mm256_set1_epi32(same.exponent);
  const __m256i lo = _mm256_set1_epi32(range.qmin - zero_point), hi = _mm256_set1_epi32(range.qmax - zero_point);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  Index i = 0;
  for (; i + 32 <= n; i += 32) {
    requantize_fixed_block32<Code, Rounding, PositiveExponent>(x + i, multiplier ? multiplier + i : nullptr,
                                                           exponent ? exponent + i : nullptr, sm, se, lo, hi, zp,
                                                           y + i);
  }
  if (i < n) {
    const Index rest = n - i;
    const auto bytes = static_cast<std::size_t>(rest) * sizeof(std::int32_t);
    alignas(32) std::int32_t xb[32] = {}, mb[32] = {}, eb[32] = {};
    alignas(32) Code yb[32];
    std::memcpy(xb, x + i, bytes);
    if (multiplier != nullptr) {
      std::memcpy(mb, multiplier + i, bytes);
      std::memcpy(eb, exponent + i, bytes);
    }
    requantize_fixed_block32<Code, Rounding, PositiveExponent>(xb, multiplier ? mb : nullptr, exponent ? eb : nullptr, sm,
                                                           se, lo, hi, zp, yb);
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

// Eight codes (sign- or zero-extended) as floats.
template <class Code>
EIGENQ_TARGET_AVX2 inline __m256 codes8_to_float(const Code* q) {
  const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  return _mm256_cvtepi32_ps(std::is_signed_v<Code> ? _mm256_cvtepi8_epi32(c) : _mm256_cvtepu8_epi32(c));
}

// int4: 64 codes <-> 32 bytes.
template <class Code>
EIGENQ_TARGET_AVX2 inline void pack4_block64(const Code* codes, std::uint8_t* packed) {
  const __m256i low_nibble = _mm256_set1_epi16(0x000F);
  const __m256i high_nibble = _mm256_set1_epi16(0x00F0);
  // Word j = code 2j | code 2j+1 << 8 -> byte (code 2j & 15) | (code 2j+1 & 15) << 4.
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32));
  const __m256i pa = _mm256_or_si256(_mm256_and_si256(a, low_nibble), _mm256_and_si256(_mm256_srli_epi16(a, 4), high_nibble));
  const __m256i pb = _mm256_or_si256(_mm256_and_si256(b, low_nibble), _mm256_and_si256(_mm256_srli_epi16(b, 4), high_nibble));
  const __m256i bytes = _mm256_permute4x64_epi64(_mm256_packus_epi16(pa, pb), 0xD8);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed), bytes);
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void unpack4_block32(const std::uint8_t* packed, Code* codes) {
  const __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed)));
  __m256i v = _mm256_or_si256(_mm256_and_si256(w, _mm256_set1_epi16(0x000F)),
                              _mm256_and_si256(_mm256_slli_epi16(w, 4), _mm256_set1_epi16(0x0F00)));
  if constexpr (std::is_signed_v<Code>) {
    const __m256i eight = _mm256_set1_epi8(8);
    v = _mm256_sub_epi8(_mm256_xor_si256(v, eight), eight);  // sign-extend 4 bits
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes), v);
}

}  // namespace avx2_detail

// ---- kernels ----------------------------------------------------------------------------

template <class Code>
EIGENQ_TARGET_AVX2 inline void quantize_f32_avx2(const float* x, Index n, float factor, std::int32_t zero_point,
                                                 CodeRange range, QuantizeRounding rounding, Code* y) {
  using avx2_detail::quantize_loop_same;
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
EIGENQ_TARGET_AVX2 inline void quantize_f32_channels_avx2(const float* x, Index n, const float* factor,
                                                          const std::int32_t* zero_point, CodeRange range,
                                                          QuantizeRounding rounding, Code* y) {
  const avx2_detail::ChannelQuantize params{factor, zero_point, range.qmin, range.qmax, 0};
  avx2_detail::quantize_by_rounding(x, n, params, rounding, y);
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void dequantize_f32_avx2(const Code* q, Index n, float scale, std::int32_t zero_point,
                                                   float* y) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256 z = _mm256_set1_ps(static_cast<float>(zero_point));
  Index i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(avx2_detail::codes8_to_float(q + i), z), s));
  if (i < n) {
    const Index rest = n - i;
    Code qb[8] = {};
    alignas(32) float yb[8];
    std::memcpy(qb, q + i, static_cast<std::size_t>(rest) * sizeof(Code));
    _mm256_store_ps(yb, _mm256_mul_ps(_mm256_sub_ps(avx2_detail::codes8_to_float(qb), z), s));
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(float));
  }
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void dequantize_f32_channels_avx2(const Code* q, Index n, const float* scale,
                                                            const std::int32_t* zero_point, float* y) {
  Index i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 z = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zero_point + i)));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_sub_ps(avx2_detail::codes8_to_float(q + i), z), _mm256_loadu_ps(scale + i)));
  }
  if (i < n) {
    const Index rest = n - i;
    Code qb[8] = {};
    alignas(32) float sb[8] = {}, yb[8];
    alignas(32) std::int32_t zb[8] = {};
    std::memcpy(qb, q + i, static_cast<std::size_t>(rest) * sizeof(Code));
    std::memcpy(sb, scale + i, static_cast<std::size_t>(rest) * sizeof(float));
    std::memcpy(zb, zero_point + i, static_cast<std::size_t>(rest) * sizeof(std::int32_t));
    const __m256 z = _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(zb)));
    _mm256_store_ps(yb, _mm256_mul_ps(_mm256_sub_ps(avx2_detail::codes8_to_float(qb), z), _mm256_load_ps(sb)));
    std::memcpy(y + i, yb, static_cast<std::size_t>(rest) * sizeof(float));
  }
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void requantize_fp32_avx2(const std::int32_t* x, Index n, float multiplier,
                                                    std::int32_t zero_point, CodeRange range, Code* y) {
  avx2_detail::quantize_loop_same<Code, QuantizeRounding::multiply_half_even>(x, n, multiplier, zero_point, range, y);
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void requantize_fp32_channels_avx2(const std::int32_t* x, Index n, const float* multiplier,
                                                             std::int32_t zero_point, CodeRange range, Code* y) {
  const avx2_detail::ChannelQuantize params{multiplier, nullptr, range.qmin, range.qmax, zero_point};
  avx2_detail::requantize_fp32_loop(x, n, params, y);
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void requantize_fixedpoint_avx2(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                                          RequantRounding rounding, std::int32_t zero_point,
                                                          CodeRange range, Code* y) {
  using avx2_detail::requantize_fixed_loop;
  if (rounding == RequantRounding::single_rounding && m.exponent > 0) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, true>(x, n, nullptr, nullptr, m, zero_point, range, y);
  } else if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, false>(x, n, nullptr, nullptr, m, zero_point, range, y);
  } else if (m.exponent > 0) {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, nullptr, nullptr, m, zero_point, range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, false>(x, n, nullptr, nullptr, m, zero_point, range, y);
  }
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void requantize_fixedpoint_channels_avx2(const std::int32_t* x, Index n,
                                                                   const std::int32_t* multiplier,
                                                                   const std::int32_t* exponent,
                                                                   RequantRounding rounding, std::int32_t zero_point,
                                                                   CodeRange range, Code* y) {
  using avx2_detail::requantize_fixed_loop;
  if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, true>(x, n, multiplier, exponent, {}, zero_point,
                                                                       range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, multiplier, exponent, {}, zero_point,
                                                                       range, y);
  }
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void pack4_avx2(const Code* codes, Index n, std::uint8_t* packed) {
  Index i = 0;
  for (; i + 64 <= n; i += 64) avx2_detail::pack4_block64(codes + i, packed + i / 2);
  if (i < n) {
    const Index rest = n - i;
    Code cb[64] = {};  // zero codes past the end: the last high nibble stays 0
    std::uint8_t pb[32];
    std::memcpy(cb, codes + i, static_cast<std::size_t>(rest) * sizeof(Code));
    avx2_detail::pack4_block64(cb, pb);
    std::memcpy(packed + i / 2, pb, static_cast<std::size_t>((rest + 1) / 2));
  }
}

template <class Code>
EIGENQ_TARGET_AVX2 inline void unpack4_avx2(const std::uint8_t* packed, Index n, Code* codes) {
  Index i = 0;
  for (; i + 32 <= n; i += 32) avx2_detail::unpack4_block32(packed + i / 2, codes + i);
  if (i < n) {
    const Index rest = n - i;
    std::uint8_t pb[16] = {};
    Code cb[32];
    std::memcpy(pb, packed + i / 2, static_cast<std::size_t>((rest + 1) / 2));
    avx2_detail::unpack4_block32(pb, cb);
    std::memcpy(codes + i, cb, static_cast<std::size_t>(rest) * sizeof(Code));
  }
}

}  // namespace kernels
}  // namespace eigenq
#endif
