// Elementwise kernels, AVX-512 (F, BW, VL, DQ) path. The avx512vnni ISA uses it too: VNNI adds
// nothing to elementwise code. Bit-identical to scalar/elementwise.hpp; the tails use masked
// loads and stores, so every element goes through the same vector arithmetic.
//
// Quantization without out-of-range conversions: with integral bounds lo = qmin - zp and
// hi = qmax - zp (zp inside [qmin, qmax], so lo <= 0 <= hi),
//   clamp(round(v) + zp, qmin, qmax) == round(clamp(v, lo, hi)) + zp
// because rounding is monotone and leaves integers alone. NaN lanes are zeroed by the
// conversion's mask, which gives the zero point. With one parameter set the lower clamp is
// left to saturation: v is only capped at hi in float, the conversion sends anything below
// -2^31 to INT32_MIN, the packs saturate to int16, the zero point is added with int16
// saturation, the pack to bytes saturates again and a byte max applies qmin. Every step is
// monotone and exact on [lo, hi], so the result is the same clamp.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"

#if defined(EIGENQ_HAVE_AVX512)
#include <immintrin.h>

// GCC 12.2 reports its own _mm512_undefined_*() self-initialisation as maybe-uninitialized
// once the intrinsics are inlined here (GCC PR 105593, fixed in later releases).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace eigenq {
namespace kernels {
namespace avx512_detail {

// Lanes of a 16-lane vector that hold elements, when `remaining` elements are left.
EIGENQ_TARGET_AVX512 inline __mmask16 lanes16(Index remaining) {
  if (remaining <= 0) return 0;
  return remaining >= 16 ? static_cast<__mmask16>(0xFFFF)
                         : static_cast<__mmask16>((1u << remaining) - 1u);
}

EIGENQ_TARGET_AVX512 inline __mmask32 lanes32(Index remaining) {
  if (remaining <= 0) return 0;
  return remaining >= 32 ? static_cast<__mmask32>(0xFFFFFFFFu)
                         : static_cast<__mmask32>((std::uint32_t{1} << remaining) - 1u);
}

EIGENQ_TARGET_AVX512 inline __mmask64 lanes64(Index remaining) {
  if (remaining <= 0) return 0;
  return remaining >= 64 ? ~__mmask64{0} : static_cast<__mmask64>((std::uint64_t{1} << remaining) - 1u);
}

// Four vectors of int32 codes, all inside the code range, to 64 bytes in element order.
template <class Code>
EIGENQ_TARGET_AVX512 inline __m512i pack_codes64(__m512i a, __m512i b, __m512i c, __m512i d) {
  const __m512i ab = _mm512_packs_epi32(a, b);  // per 128-bit lane: a[4k..4k+3], b[4k..4k+3]
  const __m512i cd = _mm512_packs_epi32(c, d);
  const __m512i abcd = std::is_signed_v<Code> ? _mm512_packs_epi16(ab, cd) : _mm512_packus_epi16(ab, cd);
  // Dword 4k + t holds elements 16t + 4k..4k+3; put it at 4t + k.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(order, abcd);
}

// What one 16-lane step of a quantizing kernel needs: the factor applied to x, the clamp
// bounds lo/hi as floats, and the zero point.
struct QuantizeLanes {
  __m512 factor;
  __m512 lo;
  __m512 hi;
  __m512i zero_point;
};

// Element i uses factor[i] and zero_point[i]; lanes past the end see a factor of 1.
struct ChannelQuantize {
  const float* factor;
  const std::int32_t* zero_point;
  std::int32_t qmin;
  std::int32_t qmax;
  EIGENQ_TARGET_AVX512 QuantizeLanes at(Index i, __mmask16 m) const {
    const __m512 f = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, factor + i);
    const __m512i z = _mm512_maskz_loadu_epi32(m, zero_point + i);
    return {f, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmin), z)),
            _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(qmax), z)), z};
  }
};

// Element i uses multiplier[i] (float requantization), one zero point.
struct ChannelRequantize {
  const float* multiplier;
  __m512 lo;
  __m512 hi;
  __m512i zero_point;
  EIGENQ_TARGET_AVX512 QuantizeLanes at(Index i, __mmask16 m) const {
    return {_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, multiplier + i), lo, hi, zero_point};
  }
};

// v = x * factor or x / factor, rounded per R after clamping, plus the zero point.
template <QuantizeRounding R>
EIGENQ_TARGET_AVX512 inline __m512i quantize16(__m512 x, const QuantizeLanes& p) {
  const __m512 v =
      R == QuantizeRounding::multiply_half_even ? _mm512_mul_ps(x, p.factor) : _mm512_div_ps(x, p.factor);
  const __mmask16 ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
  const __m512 clamped = _mm512_min_ps(_mm512_max_ps(v, p.lo), p.hi);
  __m512i q;
  if constexpr (R == QuantizeRounding::divide_half_away) {
    // round_half_away_from_zero(c) == trunc(c + copysign(0x1.fffffep-2f, c)) for every float c
    // (checked exhaustively; 0x1.fffffep-2f = nextafter(0.5f, 0)); 0.5f itself would round
    // 0x1.fffffep-2f up.
    const __m512 sign = _mm512_and_ps(clamped, _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MIN)));
    const __m512 bias = _mm512_or_ps(sign, _mm512_set1_ps(0x1.fffffep-2f));
    q = _mm512_maskz_cvtt_roundps_epi32(ordered, _mm512_add_ps(clamped, bias), _MM_FROUND_NO_EXC);
  } else {
    q = _mm512_maskz_cvt_roundps_epi32(ordered, clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  return _mm512_add_epi32(q, p.zero_point);
}

// Rounds v (already capped at hi), NaN lanes -> 0; no zero point yet.
template <QuantizeRounding R>
EIGENQ_TARGET_AVX512 inline __m512i round_capped16(__m512 v, __mmask16 ordered) {
  if constexpr (R == QuantizeRounding::divide_half_away) {
    const __m512 sign = _mm512_and_ps(v, _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MIN)));
    const __m512 bias = _mm512_or_ps(sign, _mm512_set1_ps(0x1.fffffep-2f));  // see quantize16
    return _mm512_maskz_cvtt_roundps_epi32(ordered, _mm512_add_ps(v, bias), _MM_FROUND_NO_EXC);
  } else {
    return _mm512_maskz_cvt_roundps_epi32(ordered, v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
}

// x * factor (x / factor), capped at hi, rounded; NaN -> 0; no zero point yet.
template <QuantizeRounding R>
EIGENQ_TARGET_AVX512 inline __m512i scale_round16(__m512 x, __m512 factor, __m512 hi) {
  const __m512 v = R == QuantizeRounding::multiply_half_even ? _mm512_mul_ps(x, factor) : _mm512_div_ps(x, factor);
  return round_capped16<R>(_mm512_min_ps(v, hi), _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q));
}

// 64 values with one parameter set (the lower clamp by saturation, see the top of the file).
// (Written out rather than looped over arrays: GCC -O2 would keep such arrays in memory.)
template <class Code, QuantizeRounding R>
EIGENQ_TARGET_AVX512 inline __m512i quantize64_same(__m512 x0, __m512 x1, __m512 x2, __m512 x3, __m512 factor,
                                                    __m512 hi, __m512i zero_point16, __m512i qmin8) {
  const __m512i q0 = scale_round16<R>(x0, factor, hi), q1 = scale_round16<R>(x1, factor, hi);
  const __m512i q2 = scale_round16<R>(x2, factor, hi), q3 = scale_round16<R>(x3, factor, hi);
  const __m512i ab = _mm512_adds_epi16(_mm512_packs_epi32(q0, q1), zero_point16);
  const __m512i cd = _mm512_adds_epi16(_mm512_packs_epi32(q2, q3), zero_point16);
  __m512i bytes;
  if constexpr (std::is_signed_v<Code>) bytes = _mm512_max_epi8(_mm512_packs_epi16(ab, cd), qmin8);
  else bytes = _mm512_max_epu8(_mm512_packus_epi16(ab, cd), qmin8);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_epi32(order, bytes);
}

// Sixteen inputs as floats: floats as they are, int32 accumulators rounded to nearest even
// (as static_cast<float>). Masked loads read zero outside `m`.
EIGENQ_TARGET_AVX512 inline __m512 load16(const float* x, __mmask16 m) { return _mm512_maskz_loadu_ps(m, x); }
EIGENQ_TARGET_AVX512 inline __m512 load16(const std::int32_t* x, __mmask16 m) {
  return _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, x));
}

// x * factor (x / factor), rounded per R, plus the zero point, clamped; one parameter set.
template <class Code, QuantizeRounding R, class In>
EIGENQ_TARGET_AVX512 inline void quantize_loop_same(const In* x, Index n, float factor_value, std::int32_t zero_point,
                                                    CodeRange range, Code* y) {
  const __m512 factor = _mm512_set1_ps(factor_value);
  const __m512 hi = _mm512_set1_ps(static_cast<float>(range.qmax - zero_point));
  const __m512i zp16 = _mm512_set1_epi16(static_cast<std::int16_t>(zero_point));
  const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(range.qmin));
  const __mmask16 all = 0xFFFF;
  Index i = 0;
  for (; i + 64 <= n; i += 64) {
    _mm512_storeu_si512(y + i, quantize64_same<Code, R>(load16(x + i, all), load16(x + i + 16, all),
                                                        load16(x + i + 32, all), load16(x + i + 48, all), factor,
                                                        hi, zp16, qmin8));
  }
  if (i < n) {
    const Index rest = n - i;
    const __m512i codes = quantize64_same<Code, R>(
        load16(x + i, lanes16(rest)), load16(x + i + 16, lanes16(rest - 16)), load16(x + i + 32, lanes16(rest - 32)),
        load16(x + i + 48, lanes16(rest - 48)), factor, hi, zp16, qmin8);
    _mm512_mask_storeu_epi8(y + i, lanes64(rest), codes);
  }
}

template <class Code, QuantizeRounding R, class Params>
EIGENQ_TARGET_AVX512 inline void quantize_loop(const float* x, Index n, const Params& params, Code* y) {
  Index i = 0;
  for (; i + 64 <= n; i += 64) {
    const __mmask16 all = 0xFFFF;
    const __m512i q0 = quantize16<R>(_mm512_loadu_ps(x + i), params.at(i, all));
    const __m512i q1 = quantize16<R>(_mm512_loadu_ps(x + i + 16), params.at(i + 16, all));
    const __m512i q2 = quantize16<R>(_mm512_loadu_ps(x + i + 32), params.at(i + 32, all));
    const __m512i q3 = quantize16<R>(_mm512_loadu_ps(x + i + 48), params.at(i + 48, all));
    _mm512_storeu_si512(y + i, pack_codes64<Code>(q0, q1, q2, q3));
  }
  if (i < n) {
    const Index rest = n - i;
    const __mmask16 m0 = lanes16(rest), m1 = lanes16(rest - 16), m2 = lanes16(rest - 32), m3 = lanes16(rest - 48);
    const __m512i q0 = quantize16<R>(_mm512_maskz_loadu_ps(m0, x + i), params.at(i, m0));
    const __m512i q1 = quantize16<R>(_mm512_maskz_loadu_ps(m1, x + i + 16), params.at(i + 16, m1));
    const __m512i q2 = quantize16<R>(_mm512_maskz_loadu_ps(m2, x + i + 32), params.at(i + 32, m2));
    const __m512i q3 = quantize16<R>(_mm512_maskz_loadu_ps(m3, x + i + 48), params.at(i + 48, m3));
    _mm512_mask_storeu_epi8(y + i, lanes64(rest), pack_codes64<Code>(q0, q1, q2, q3));
  }
}

template <class Code, class Params>
EIGENQ_TARGET_AVX512 inline void quantize_by_rounding(const float* x, Index n, const Params& params,
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

// Sixteen codes (sign- or zero-extended) as floats.
template <class Code>
EIGENQ_TARGET_AVX512 inline __m512 codes_to_float(__m128i codes) {
  return _mm512_cvtepi32_ps(std::is_signed_v<Code> ? _mm512_cvtepi8_epi32(codes) : _mm512_cvtepu8_epi32(codes));
}

// Float requantization with a multiplier per element: accumulators as floats (round to
// nearest even, as static_cast<float>), then the quantize arithmetic.
template <class Code>
EIGENQ_TARGET_AVX512 inline void requantize_fp32_channels_loop(const std::int32_t* x, Index n,
                                                               const ChannelRequantize& channels, Code* y) {
  constexpr QuantizeRounding R = QuantizeRounding::multiply_half_even;
  for (Index i = 0; i < n; i += 64) {
    const Index rest = n - i;
    const __mmask16 m0 = lanes16(rest), m1 = lanes16(rest - 16), m2 = lanes16(rest - 32), m3 = lanes16(rest - 48);
    const __m512i q0 = quantize16<R>(load16(x + i, m0), channels.at(i, m0));
    const __m512i q1 = quantize16<R>(load16(x + i + 16, m1), channels.at(i + 16, m1));
    const __m512i q2 = quantize16<R>(load16(x + i + 32, m2), channels.at(i + 32, m2));
    const __m512i q3 = quantize16<R>(load16(x + i + 48, m3), channels.at(i + 48, m3));
    _mm512_mask_storeu_epi8(y + i, lanes64(rest), pack_codes64<Code>(q0, q1, q2, q3));
  }
}

// ---- fixed-point requantization ---------------------------------------------------------

// x * 2^left, saturated to int32 (left in [0, 30]).
EIGENQ_TARGET_AVX512 inline __m512i saturating_shift_left(__m512i x, __m512i left) {
  const __m512i shifted = _mm512_sllv_epi32(x, left);
  const __mmask16 overflow = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, left), x);
  const __m512i saturated = _mm512_xor_si512(_mm512_srai_epi32(x, 31), _mm512_set1_epi32(INT32_MAX));
  return _mm512_mask_blend_epi32(overflow, shifted, saturated);
}

// saturating_rounding_doubling_high_mul for b >= 0 (so a = b = INT32_MIN cannot happen):
// gemmlowp's sign-dependent nudge and truncating division equal floor((a*b + 2^30) / 2^31).
EIGENQ_TARGET_AVX512 inline __m512i doubling_high_mul(__m512i a, __m512i b) {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, b), nudge), 31);
  const __m512i odd_product = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(b, 32));
  const __m512i odd = _mm512_slli_epi64(_mm512_add_epi64(odd_product, nudge), 1);  // bits 31..62 -> high dword
  return _mm512_mask_blend_epi32(0xAAAA, even, odd);
}

// rounding_divide_by_pot: x / 2^e rounded to nearest, ties away from zero (e in [0, 31]).
EIGENQ_TARGET_AVX512 inline __m512i rounding_divide_by_pot(__m512i x, __m512i e) {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, e), one);
  const __m512i remainder = _mm512_and_si512(x, mask);
  const __m512i threshold = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), _mm512_srai_epi32(x, 31));
  const __m512i shifted = _mm512_srav_epi32(x, e);
  return _mm512_mask_add_epi32(shifted, _mm512_cmpgt_epi32_mask(remainder, threshold), shifted, one);
}

// Single rounding, one 64-bit half: round(x * m / 2^shift) (half up).
EIGENQ_TARGET_AVX512 inline __m512i single_rounding_half(__m512i x, __m512i m, __m512i shift) {
  const __m512i one = _mm512_set1_epi64(1);
  const __m512i round = _mm512_sllv_epi64(one, _mm512_sub_epi64(shift, one));
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), round), shift);
}

// Per-lane multiplier data for 16 elements.
struct FixedLanes {
  __m512i multiplier;
  __m512i exponent;
};

// The clamp bounds lo = qmin - zp, hi = qmax - zp in 32- and 64-bit lanes.
struct ClampBounds {
  __m512i lo32, hi32, lo64, hi64;
};

// multiply_by_quantized_multiplier clamped to [lo, hi]. PositiveExponent: some exponent may be
// > 0, so double rounding shifts left first and a single-rounding product may leave int32
// (clamped in 64 bits); with exponents <= 0 it fits int32 and is clamped there.
template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX512 inline __m512i fixed_multiply_clamped(__m512i x, const FixedLanes& m, const ClampBounds& b) {
  if constexpr (Rounding == RequantRounding::double_rounding) {
    const __m512i zero = _mm512_setzero_si512();
    if constexpr (PositiveExponent) x = saturating_shift_left(x, _mm512_max_epi32(m.exponent, zero));
    const __m512i right = _mm512_max_epi32(_mm512_sub_epi32(zero, m.exponent), zero);
    const __m512i r = rounding_divide_by_pot(doubling_high_mul(x, m.multiplier), right);
    return _mm512_min_epi32(_mm512_max_epi32(r, b.lo32), b.hi32);
  } else {
    // 31 - exponent in [1, 62]; the 64-bit lanes take the even and odd elements in turn.
    const __m512i shift = _mm512_sub_epi32(_mm512_set1_epi32(31), m.exponent);
    const __m512i low_dwords = _mm512_set1_epi64(0xFFFFFFFF);
    __m512i even = single_rounding_half(x, m.multiplier, _mm512_and_si512(shift, low_dwords));
    __m512i odd = single_rounding_half(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m.multiplier, 32),
                                       _mm512_srli_epi64(shift, 32));
    if constexpr (PositiveExponent) {
      even = _mm512_min_epi64(_mm512_max_epi64(even, b.lo64), b.hi64);
      odd = _mm512_min_epi64(_mm512_max_epi64(odd, b.lo64), b.hi64);
    }
    const __m512i r = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    if constexpr (PositiveExponent) return r;
    return _mm512_min_epi32(_mm512_max_epi32(r, b.lo32), b.hi32);
  }
}

// Sixteen accumulators from x[at..]: multipliers from the arrays (when not null) or `same`.
template <RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX512 inline __m512i requantize_fixed16(const std::int32_t* x, const std::int32_t* multiplier,
                                                       const std::int32_t* exponent, const FixedLanes& same, Index at,
                                                       __mmask16 m, const ClampBounds& b, __m512i zp) {
  FixedLanes f = same;
  if (multiplier != nullptr) {
    f.multiplier = _mm512_maskz_loadu_epi32(m, multiplier + at);
    f.exponent = _mm512_maskz_loadu_epi32(m, exponent + at);
  }
  const __m512i v = _mm512_maskz_loadu_epi32(m, x + at);
  return _mm512_add_epi32(fixed_multiply_clamped<Rounding, PositiveExponent>(v, f, b), zp);
}

// Multipliers per element (multiplier/exponent arrays) or `same` for every element.
template <class Code, RequantRounding Rounding, bool PositiveExponent>
EIGENQ_TARGET_AVX512 inline void requantize_fixed_loop(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                                       const std::int32_t* exponent, FixedLanes same,
                                                       std::int32_t zero_point, CodeRange range, Code* y) {
  const std::int32_t lo = range.qmin - zero_point, hi = range.qmax - zero_point;
  const ClampBounds b{_mm512_set1_epi32(lo), _mm512_set1_epi32(hi), _mm512_set1_epi64(lo), _mm512_set1_epi64(hi)};
  const __m512i zp = _mm512_set1_epi32(zero_point);
  for (Index i = 0; i < n; i += 64) {
    const Index rest = n - i;
    const __m512i q0 = requantize_fixed16<Rounding, PositiveExponent>(x, multiplier, exponent, same, i,
                                                                      lanes16(rest), b, zp);
    const __m512i q1 = requantize_fixed16<Rounding, PositiveExponent>(x, multiplier, exponent, same, i + 16,
                                                                  lanes16(rest - 16), b, zp);
    const __m512i q2 = requantize_fixed16<Rounding, PositiveExponent>(x, multiplier, exponent, same, i + 32,
                                                                  lanes16(rest - 32), b, zp);
    const __m512i q3 = requantize_fixed16<Rounding, PositiveExponent>(x, multiplier, exponent, same, i + 48,
                                                                  lanes16(rest - 48), b, zp);
    _mm512_mask_storeu_epi8(y + i, lanes64(rest), pack_codes64<Code>(q0, q1, q2, q3));
  }
}

}  // namespace avx512_detail

// ---- kernels ----------------------------------------------------------------------------

template <class Code>
EIGENQ_TARGET_AVX512 inline void quantize_f32_avx512(const float* x, Index n, float factor,
                                                     std::int32_t zero_point, CodeRange range,
                                                     QuantizeRounding rounding, Code* y) {
  using avx512_detail::quantize_loop_same;
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
EIGENQ_TARGET_AVX512 inline void quantize_f32_channels_avx512(const float* x, Index n, const float* factor,
                                                              const std::int32_t* zero_point, CodeRange range,
                                                              QuantizeRounding rounding, Code* y) {
  const avx512_detail::ChannelQuantize params{factor, zero_point, range.qmin, range.qmax};
  avx512_detail::quantize_by_rounding(x, n, params, rounding, y);
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void dequantize_f32_avx512(const Code* q, Index n, float scale,
                                                       std::int32_t zero_point, float* y) {
  using avx512_detail::codes_to_float;
  const __m512 s = _mm512_set1_ps(scale);
  const __m512 z = _mm512_set1_ps(static_cast<float>(zero_point));
  Index i = 0;
  for (; i + 64 <= n; i += 64) {
    // Four widening loads (vpmovsxbd/vpmovzxbd from memory), four independent chains.
    for (Index j = i; j < i + 64; j += 16) {
      const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j));
      _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_sub_ps(codes_to_float<Code>(codes), z), s));
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = avx512_detail::lanes16(n - i);
    const __m128i codes = _mm_maskz_loadu_epi8(m, q + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_sub_ps(codes_to_float<Code>(codes), z), s));
  }
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void dequantize_f32_channels_avx512(const Code* q, Index n, const float* scale,
                                                                const std::int32_t* zero_point, float* y) {
  for (Index i = 0; i < n; i += 16) {
    const __mmask16 m = avx512_detail::lanes16(n - i);
    const __m128i codes = _mm_maskz_loadu_epi8(m, q + i);
    const __m512 z = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, zero_point + i));
    const __m512 s = _mm512_maskz_loadu_ps(m, scale + i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_sub_ps(avx512_detail::codes_to_float<Code>(codes), z), s));
  }
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void requantize_fp32_avx512(const std::int32_t* x, Index n, float multiplier,
                                                        std::int32_t zero_point, CodeRange range, Code* y) {
  avx512_detail::quantize_loop_same<Code, QuantizeRounding::multiply_half_even>(x, n, multiplier, zero_point, range, y);
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void requantize_fp32_channels_avx512(const std::int32_t* x, Index n,
                                                                 const float* multiplier, std::int32_t zero_point,
                                                                 CodeRange range, Code* y) {
  const avx512_detail::ChannelRequantize channels{multiplier, _mm512_set1_ps(static_cast<float>(range.qmin - zero_point)),
                                                  _mm512_set1_ps(static_cast<float>(range.qmax - zero_point)),
                                                  _mm512_set1_epi32(zero_point)};
  avx512_detail::requantize_fp32_channels_loop<Code>(x, n, channels, y);
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void requantize_fixedpoint_avx512(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                                              RequantRounding rounding, std::int32_t zero_point,
                                                              CodeRange range, Code* y) {
  using namespace avx512_detail;
  const FixedLanes same{_mm512_set1_epi32(m.multiplier), _mm512_set1_epi32(m.exponent)};
  if (rounding == RequantRounding::single_rounding && m.exponent > 0) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, true>(x, n, nullptr, nullptr, same, zero_point,
                                                                       range, y);
  } else if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, false>(x, n, nullptr, nullptr, same, zero_point,
                                                                        range, y);
  } else if (m.exponent > 0) {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, nullptr, nullptr, same, zero_point,
                                                                       range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, false>(x, n, nullptr, nullptr, same, zero_point,
                                                                        range, y);
  }
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void requantize_fixedpoint_channels_avx512(const std::int32_t* x, Index n,
                                                                       const std::int32_t* multiplier,
                                                                       const std::int32_t* exponent,
                                                                       RequantRounding rounding,
                                                                       std::int32_t zero_point, CodeRange range,
                                                                       Code* y) {
  using namespace avx512_detail;
  const FixedLanes unused{_mm512_setzero_si512(), _mm512_setzero_si512()};
  if (rounding == RequantRounding::single_rounding) {
    requantize_fixed_loop<Code, RequantRounding::single_rounding, true>(x, n, multiplier, exponent, unused,
                                                                       zero_point, range, y);
  } else {
    requantize_fixed_loop<Code, RequantRounding::double_rounding, true>(x, n, multiplier, exponent, unused,
                                                                       zero_point, range, y);
  }
}

// int4: 64 codes <-> 32 bytes per step; code 2j in the low nibble of byte j.
template <class Code>
EIGENQ_TARGET_AVX512 inline void pack4_avx512(const Code* codes, Index n, std::uint8_t* packed) {
  const __m512i low_nibble = _mm512_set1_epi16(0x000F);
  const __m512i high_nibble = _mm512_set1_epi16(0x00F0);
  for (Index i = 0; i < n; i += 64) {
    const Index rest = n - i;
    // Word j = code 2j | code 2j+1 << 8; lanes past the end read as zero codes.
    const __m512i w = _mm512_maskz_loadu_epi8(avx512_detail::lanes64(rest), codes + i);
    const __m512i bytes = _mm512_or_si512(_mm512_and_si512(w, low_nibble),
                                          _mm512_and_si512(_mm512_srli_epi16(w, 4), high_nibble));
    _mm256_mask_storeu_epi8(packed + i / 2, avx512_detail::lanes32((rest + 1) / 2), _mm512_cvtepi16_epi8(bytes));
  }
}

template <class Code>
EIGENQ_TARGET_AVX512 inline void unpack4_avx512(const std::uint8_t* packed, Index n, Code* codes) {
  const __m512i low_nibble = _mm512_set1_epi16(0x000F);
  const __m512i high_nibble = _mm512_set1_epi16(0x0F00);
  const __m512i eight = _mm512_set1_epi8(8);
  for (Index i = 0; i < n; i += 64) {
    const Index rest = n - i;
    const __m256i b = _mm256_maskz_loadu_epi8(avx512_detail::lanes32((rest + 1) / 2), packed + i / 2);
    const __m512i w = _mm512_cvtepu8_epi16(b);
    __m512i v = _mm512_or_si512(_mm512_and_si512(w, low_nibble), _mm512_and_si512(_mm512_slli_epi16(w, 4), high_nibble));
    if constexpr (std::is_signed_v<Code>) v = _mm512_sub_epi8(_mm512_xor_si512(v, eight), eight);  // sign-extend 4 bits
    _mm512_mask_storeu_epi8(codes + i, avx512_detail::lanes64(rest), v);
  }
}

}  // namespace kernels
}  // namespace eigenq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
