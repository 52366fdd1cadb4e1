// AVX-512 int4 grouped GEMV: activation quantization (AVX-512F) and the VNNI
// panel kernel, bit for bit the definitions in scalar/gemv_q4.hpp.
//
// A 64-byte block of a group record is 16 channels x (4 k in the low nibbles,
// the next 4 k in the high ones). AND 0x0F and a 16-bit shift by 4 (then AND)
// give two vectors of unsigned bytes 0..15 = code + 8, which vpdpbusd
// multiplies by a broadcast quad of int8 activations, adding into int32 lanes
// (one channel each, exact). isum = lanes - 8 * sum_q then removes the offset.
// The group's float update is the scalar fma, lane by lane.
// Activation quantization: |x| by clearing the sign bit; vmaxps(|x|, acc)
// returns acc when |x| is NaN, so NaN counts as 0 as in the scalar loop, and a
// maximum does not depend on the reduction order. NaN products are zeroed with
// an ordered compare before the clamp (vmaxps would turn them into -127).
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_q4.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, see x86_avx512/gemm.hpp
#endif

namespace eigenq {
namespace kernels {
namespace detail {

EIGENQ_TARGET_AVX512 inline void quantize_activations_avx512(const float* x, Index k, Index group_size,
                                                             Index groups, std::int8_t* q, float* d,
                                                             std::int32_t* sums) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512 lo = _mm512_set1_ps(-127.0f);
  const __m512 hi = _mm512_set1_ps(127.0f);
  for (Index g = 0; g < groups; ++g) {
    const Index begin = g * group_size;
    const Index valid = k - begin < group_size ? k - begin : group_size;
    __m512 amax = _mm512_setzero_ps();
    for (Index i = 0; i < valid; i += 16) {
      const __mmask16 mask = valid - i >= 16 ? static_cast<__mmask16>(0xFFFF)
                                             : static_cast<__mmask16>((1u << (valid - i)) - 1u);
      const __m512 v = _mm512_maskz_loadu_ps(mask, x + begin + i);
      const __m512 a = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), abs_mask));
      amax = _mm512_max_ps(a, amax);
    }
    float inv;
    d[g] = activation_group_scale(_mm512_reduce_max_ps(amax), inv);
    const __m512 inv_v = _mm512_set1_ps(inv);
    __m512i sum = _mm512_setzero_si512();
    for (Index i = 0; i < group_size; i += 16) {
      const Index left = valid - i;
      const __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF)
                                        : left <= 0 ? static_cast<__mmask16>(0)
                                                    : static_cast<__mmask16>((1u << left) - 1u);
      __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + begin + i), inv_v);
      v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      const __m512i c = _mm512_cvtps_epi32(v);
      sum = _mm512_add_epi32(sum, c);
      _mm512_mask_cvtepi32_storeu_epi8(q + begin + i, static_cast<__mmask16>(0xFFFF), c);
    }
    sums[g] = _mm512_reduce_add_epi32(sum);
  }
}

EIGENQ_TARGET_AVX512 inline __m512 load_scales_avx512(const std::uint8_t* s, ScaleType type) {
  if (type == ScaleType::f32) return _mm512_loadu_ps(s);
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
}

#if defined(EIGENQ_HAVE_AVX512VNNI)

EIGENQ_TARGET_AVX512VNNI inline __m512i dot_u4s8_avx512vnni(__m512i acc, __m512i w, __m512i x) {
#if defined(__clang__)
  return _mm512_dpbusd_epi32(acc, w, x);
#else
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(w), "v"(x));  // see x86_avx512/gemm.hpp
  return acc;
#endif
}

// Blocks 16-channel blocks starting at block b0, for Rows rows. One row keeps
// separate low- and high-nibble accumulators: twice the independent chains.
template <int Rows, int Blocks>
EIGENQ_TARGET_AVX512VNNI void gemv_q4_pass_avx512vnni(const Q4PanelArgs& a, Index b0) {
  constexpr bool split = Rows == 1;
  const Index nb = a.width / 16;
  const Index record = a.group_size * a.width / 2 + a.width * (a.scale_type == ScaleType::f32 ? 4 : 2);
  const Index octets = a.group_size / 8;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  __m512 facc[Rows][Blocks];
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) facc[r][b] = _mm512_setzero_ps();
  }
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec = a.panel + g * record;
    __m512i acc[Rows][Blocks];
    __m512i acc_hi[split ? 1 : Rows][split ? Blocks : 1];
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) acc[r][b] = _mm512_setzero_si512();
    }
    if constexpr (split) {
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) acc_hi[0][b] = _mm512_setzero_si512();
    }
    for (Index o = 0; o < octets; ++o) {
      __m512i x_lo[Rows], x_hi[Rows];
#pragma GCC unroll 4
      for (int r = 0; r < Rows; ++r) {
        const std::int8_t* quads = a.q + r * a.q_stride + g * a.group_size + 8 * o;
        std::int32_t lo_quad, hi_quad;
        std::memcpy(&lo_quad, quads, 4);
        std::memcpy(&hi_quad, quads + 4, 4);
        x_lo[r] = _mm512_set1_epi32(lo_quad);
        x_hi[r] = _mm512_set1_epi32(hi_quad);
      }
      const std::uint8_t* block = rec + (o * nb + b0) * 64;
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) {
        const __m512i v = _mm512_loadu_si512(block + 64 * b);
        const __m512i w_lo = _mm512_and_si512(v, low4);
        const __m512i w_hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
#pragma GCC unroll 4
        for (int r = 0; r < Rows; ++r) {
          acc[r][b] = dot_u4s8_avx512vnni(acc[r][b], w_lo, x_lo[r]);
          if constexpr (split) {
            acc_hi[0][b] = dot_u4s8_avx512vnni(acc_hi[0][b], w_hi, x_hi[r]);
          } else {
            acc[r][b] = dot_u4s8_avx512vnni(acc[r][b], w_hi, x_hi[r]);
          }
        }
      }
    }
    const std::uint8_t* scales = rec + a.group_size * a.width / 2;
    const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
    __m512 s[Blocks];
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) s[b] = load_scales_avx512(scales + 16 * (b0 + b) * scale_bytes, a.scale_type);
#pragma GCC unroll 4
    for (int r = 0; r < Rows; ++r) {
      const __m512 dq = _mm512_set1_ps(a.d[r * a.groups + g]);
      const __m512i offset = _mm512_set1_epi32(8 * a.sums[r * a.groups + g]);
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) {
        __m512i isum = acc[r][b];
        if constexpr (split) isum = _mm512_add_epi32(isum, acc_hi[0][b]);
        isum = _mm512_sub_epi32(isum, offset);
        facc[r][b] = _mm512_fmadd_ps(_mm512_mul_ps(s[b], dq), _mm512_cvtepi32_ps(isum), facc[r][b]);
      }
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) {
      const Index col = 16 * (b0 + b);
      _mm512_storeu_ps(a.out + r * 64 + col, _mm512_add_ps(facc[r][b], _mm512_loadu_ps(a.bias + col)));
    }
  }
}

template <int Rows, int MaxBlocks>
EIGENQ_TARGET_AVX512VNNI void gemv_q4_panel_rows_avx512vnni(const Q4PanelArgs& a) {
  const Index nb = a.width / 16;
  for (Index b0 = 0; b0 < nb; b0 += MaxBlocks) {
    switch (nb - b0 < MaxBlocks ? nb - b0 : MaxBlocks) {
      case 1: gemv_q4_pass_avx512vnni<Rows, 1>(a, b0); break;
      case 2: gemv_q4_pass_avx512vnni<Rows, 2>(a, b0); break;
      case 3:
        if constexpr (MaxBlocks >= 3) gemv_q4_pass_avx512vnni<Rows, 3>(a, b0);
        break;
      default:
        if constexpr (MaxBlocks >= 4) gemv_q4_pass_avx512vnni<Rows, 4>(a, b0);
        break;
    }
  }
}

struct GemvQ4PathAvx512Vnni {
  static void quantize_activations(const float* x, Index k, Index group_size, Index groups,
                                   std::int8_t* q, float* d, std::int32_t* sums) {
    quantize_activations_avx512(x, k, group_size, groups, q, d, sums);
  }
  // Accumulators per pass: 1 row x 4 blocks (x2 for the split), 2 x 4, 3-4 rows x 2 blocks.
  static void panel(const Q4PanelArgs& a) {
    switch (a.rows) {
      case 1: gemv_q4_panel_rows_avx512vnni<1, 4>(a); break;
      case 2: gemv_q4_panel_rows_avx512vnni<2, 4>(a); break;
      case 3: gemv_q4_panel_rows_avx512vnni<3, 2>(a); break;
      default: gemv_q4_panel_rows_avx512vnni<4, 2>(a); break;
    }
  }
};

#endif  // EIGENQ_HAVE_AVX512VNNI

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // EIGENQ_HAVE_AVX512
