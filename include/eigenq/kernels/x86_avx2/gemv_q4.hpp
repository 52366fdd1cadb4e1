// AVX2 int4 grouped GEMV, bit for bit the definitions in scalar/gemv_q4.hpp.
// Also the int4 GEMV of the AVX-512BW path (no VNNI): the product is
// memory-bound there and this kernel already keeps up.
//
// Saturation proof for vpmaddubsw. The unsigned operand is a weight nibble
// w = code + 8 in [0, 15], the signed one an activation code q in [-127, 127]
// (the quantizer clamps there), so one vpmaddubsw lane w0 q0 + w1 q1 is at most
// 2 * 15 * 127 = 3810 in magnitude: it never saturates. Per octet row the low-
// and high-nibble products of a lane are added in int16 (<= 7620), and four
// octet rows (32 k) at most are summed that way (<= 30480 < 32767) before
// vpmaddwd with ones widens them into the int32 group sum. No step saturates.
// The f16 scales are widened with integer operations (exact for finite
// halves, the only ones packing accepts), since AVX2 does not imply F16C.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_q4.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

EIGENQ_TARGET_AVX2 inline __m256i tail_mask_avx2(Index left) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto n = static_cast<int>(left < 0 ? 0 : left > 8 ? 8 : left);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

EIGENQ_TARGET_AVX2 inline void quantize_activations_avx2(const float* x, Index k, Index group_size,
                                                         Index groups, std::int8_t* q, float* d,
                                                         std::int32_t* sums) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 lo = _mm256_set1_ps(-127.0f);
  const __m256 hi = _mm256_set1_ps(127.0f);
  for (Index g = 0; g < groups; ++g) {
    const Index begin = g * group_size;
    const Index valid = k - begin < group_size ? k - begin : group_size;
    __m256 amax = _mm256_setzero_ps();
    for (Index i = 0; i < valid; i += 8) {
      const __m256 v = _mm256_maskload_ps(x + begin + i, tail_mask_avx2(valid - i));
      amax = _mm256_max_ps(_mm256_and_ps(v, abs_mask), amax);  // NaN |x| keeps amax
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float inv;
    d[g] = activation_group_scale(_mm_cvtss_f32(m4), inv);
    const __m256 inv_v = _mm256_set1_ps(inv);
    __m256i sum = _mm256_setzero_si256();
    for (Index i = 0; i < group_size; i += 8) {
      __m256 v = _mm256_mul_ps(_mm256_maskload_ps(x + begin + i, tail_mask_avx2(valid - i)), inv_v);
      v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));  // NaN -> 0
      v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      const __m256i c = _mm256_cvtps_epi32(v);
      sum = _mm256_add_epi32(sum, c);
      const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + begin + i), _mm_packs_epi16(words, words));
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    sums[g] = _mm_cvtsi128_si32(s4);
  }
}

// Eight finite f16 values to float, exactly: normals by rebiasing the exponent,
// subnormals (and zeros) as m * 2^-24 in float.
EIGENQ_TARGET_AVX2 inline __m256 half8_to_float_avx2(const std::uint8_t* p) {
  const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16);
  const __m256i magnitude = _mm256_and_si256(h, _mm256_set1_epi32(0x7FFF));
  const __m256i normal = _mm256_add_epi32(_mm256_slli_epi32(magnitude, 13), _mm256_set1_epi32(112 << 23));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(h, _mm256_set1_epi32(0x3FF))),
                                   _mm256_set1_ps(5.9604644775390625e-8f));
  const __m256i is_sub = _mm256_cmpeq_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x7C00)), _mm256_setzero_si256());
  const __m256i bits = _mm256_blendv_epi8(normal, _mm256_castps_si256(sub), is_sub);
  return _mm256_castsi256_ps(_mm256_or_si256(bits, sign));
}

EIGENQ_TARGET_AVX2 inline __m256 load_scales_avx2(const std::uint8_t* s, ScaleType type) {
  return type == ScaleType::f32 ? _mm256_loadu_ps(reinterpret_cast<const float*>(s)) : half8_to_float_avx2(s);
}

// The int32 sums of one group for Rows rows and Halves 8-channel halves from
// half h0, into isum[r * 64 + c]. Octet rows are read in order, all the
// halves of each, so the record streams through once.
template <int Rows, int Halves>
EIGENQ_TARGET_AVX2 void gemv_q4_group_sums_avx2(const Q4PanelArgs& a, const std::uint8_t* rec, Index g,
                                                Index h0, std::int32_t* isum) {
  const Index nb = a.width / 16;
  const Index octets = a.group_size / 8;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  for (Index o0 = 0; o0 < octets; o0 += 4) {  // at most 4 octet rows in int16 (see above)
    __m256i acc16[Rows][Halves];
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) acc16[r][h] = _mm256_setzero_si256();
    }
    for (Index o = o0; o < o0 + 4; ++o) {
      __m256i x_lo[Rows], x_hi[Rows];  // the octet's two activation quads, broadcast
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const std::int8_t* quads = a.q + r * a.q_stride + g * a.group_size + 8 * o;
        std::int32_t lo_quad, hi_quad;
        std::memcpy(&lo_quad, quads, 4);
        std::memcpy(&hi_quad, quads + 4, 4);
        x_lo[r] = _mm256_set1_epi32(lo_quad);
        x_hi[r] = _mm256_set1_epi32(hi_quad);
      }
      const std::uint8_t* row = rec + o * nb * 64 + h0 * 32;  // half h at row + 32 h
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * h));
        const __m256i w_lo = _mm256_and_si256(v, low4);
        const __m256i w_hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
#pragma GCC unroll 2
        for (int r = 0; r < Rows; ++r) {
          const __m256i p_lo = _mm256_maddubs_epi16(w_lo, x_lo[r]);
          const __m256i p_hi = _mm256_maddubs_epi16(w_hi, x_hi[r]);
          acc16[r][h] = _mm256_add_epi16(acc16[r][h], _mm256_add_epi16(p_lo, p_hi));
        }
      }
    }
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) {
        auto* dst = reinterpret_cast<__m256i*>(isum + r * 64 + 8 * (h0 + h));
        const __m256i partial = _mm256_madd_epi16(acc16[r][h], ones);
        _mm256_store_si256(dst, o0 == 0 ? partial : _mm256_add_epi32(_mm256_load_si256(dst), partial));
      }
    }
  }
}

// Rows (1 or 2) rows against one panel, group by group: the group's int32 sums
// (up to 8 halves per sweep for one row, 4 for two), then the float update of
// every channel from the sums and the group's widened scales.
template <int Rows>
EIGENQ_TARGET_AVX2 void gemv_q4_rows_avx2(const Q4PanelArgs& a) {
  constexpr Index max_halves = Rows == 1 ? 8 : 4;
  const Index halves = a.width / 8;
  const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
  const Index record = a.group_size * a.width / 2 + a.width * scale_bytes;
  alignas(32) float acc[Rows * 64] = {};
  alignas(32) std::int32_t isum[Rows * 64];
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec = a.panel + g * record;
    for (Index h0 = 0; h0 < halves; h0 += max_halves) {
      switch (halves - h0 < max_halves ? halves - h0 : max_halves) {
        case 2: gemv_q4_group_sums_avx2<Rows, 2>(a, rec, g, h0, isum); break;
        case 4: gemv_q4_group_sums_avx2<Rows, 4>(a, rec, g, h0, isum); break;
        case 6:
          if constexpr (max_halves >= 6) gemv_q4_group_sums_avx2<Rows, 6>(a, rec, g, h0, isum);
          break;
        default:
          if constexpr (max_halves >= 8) gemv_q4_group_sums_avx2<Rows, 8>(a, rec, g, h0, isum);
          break;
      }
    }
    const std::uint8_t* scales = rec + a.group_size * a.width / 2;
    for (Index c = 0; c < a.width; c += 8) {
      const __m256 s = load_scales_avx2(scales + c * scale_bytes, a.scale_type);
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const __m256 dq = _mm256_set1_ps(a.d[r * a.groups + g]);
        const __m256i sum = _mm256_sub_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(isum + r * 64 + c)),
                                             _mm256_set1_epi32(8 * a.sums[r * a.groups + g]));
        float* dst = acc + r * 64 + c;
        _mm256_store_ps(dst, _mm256_fmadd_ps(_mm256_mul_ps(s, dq), _mm256_cvtepi32_ps(sum), _mm256_load_ps(dst)));
      }
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (Index c = 0; c < a.width; c += 8) {
      _mm256_storeu_ps(a.out + r * 64 + c, _mm256_add_ps(_mm256_load_ps(acc + r * 64 + c), _mm256_loadu_ps(a.bias + c)));
    }
  }
}

// One or two rows at a time.
EIGENQ_TARGET_AVX2 inline void gemv_q4_panel_avx2(const Q4PanelArgs& a) {
  for (int r0 = 0; r0 < a.rows; r0 += 2) {
    Q4PanelArgs part = a;
    part.rows = a.rows - r0 < 2 ? a.rows - r0 : 2;
    part.q = a.q + r0 * a.q_stride;
    part.d = a.d + r0 * a.groups;
    part.sums = a.sums + r0 * a.groups;
    part.out = a.out + r0 * 64;
    if (part.rows == 1) {
      gemv_q4_rows_avx2<1>(part);
    } else {
      gemv_q4_rows_avx2<2>(part);
    }
  }
}

struct GemvQ4PathAvx2 {
  static void quantize_activations(const float* x, Index k, Index group_size, Index groups,
                                   std::int8_t* q, float* d, std::int32_t* sums) {
    quantize_activations_avx2(x, k, group_size, groups, q, d, sums);
  }
  static void panel(const Q4PanelArgs& a) { gemv_q4_panel_avx2(a); }
};

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#endif  // EIGENQ_HAVE_AVX2
