// AVX-512 table-lookup GEMV: the VNNI panel kernel and, for the avx512 path without VNNI, the
// AVX2 kernel (x86_avx2/gemv_lut4.hpp). Bit for bit the definition in scalar/gemv_lut4.hpp;
// the activation quantization is the int4 GEMV's (generic/gemv_int4-inl.hpp).
//
// A 64-byte block of a slice is 4 channels, one per 128-bit lane, each 16 bytes holding 32
// codes (16 in the low nibbles, the next 16 in the high ones). AND 0x0F and a shift by 4 give
// the indices, and one vpshufb per nibble maps them through the 4 channels' tables (each lane
// its own table of 16 bytes). The tables are taken as unsigned bytes t + 128 (an XOR with 0x80
// when they are loaded), which vpdpbusd multiplies by the 16 activation codes of the lane
// (broadcast to the four lanes): sum (t + 128) q = isum + 128 sum_q, and the kernel subtracts
// 128 * sum_q per group. Exact: |lane| <= 128 * 255 * 127 < 2^31.
// The four blocks of a set (channels c, c + 4, c + 8, c + 12 in lane 0, ...) then hold four
// partial sums per channel; two rounds of unpack and add leave the 16 channel sums in channel
// order, and the group's float update is the scalar fma, lane by lane.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_lut4.hpp"
#include "eigenq/kernels/x86_avx2/gemv_lut4.hpp"
#include "eigenq/kernels/x86_avx512/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx512/vector.hpp"

EIGENQ_AVX512_DIAGNOSTICS_BEGIN

namespace eigenq::kernels::x86_avx512 {

#if defined(EIGENQ_HAVE_AVX512VNNI)

using detail::Lut4PanelArgs;

// The 16 channel sums of a set from its four blocks' accumulators (lane L of block j is
// channel 4L + j, four partial sums each), in channel order.
EIGENQ_TARGET_AVX512VNNI EIGENQ_ALWAYS_INLINE __m512i reduce_set(__m512i a0, __m512i a1, __m512i a2,
                                                                __m512i a3) {
  const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

// Sets sets of 16 channels from set s0, for Rows rows. The vpdpbusd builtin, not
// x86_avx512/vector.hpp's inline-assembly dot_u8s8: here GCC 12 keeps the accumulators in
// registers with the builtin, while the assembly operands made it spill the activations.
template <int Rows, int Sets>
EIGENQ_TARGET_AVX512VNNI void lut4_pass(const Lut4PanelArgs& a, Index s0) {
  const Index w = a.width;
  const Index slices = a.group_size / 32;
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 facc[Rows][Sets];
  __m512i tab[Sets][4];
#pragma GCC unroll 2
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 2
    for (int s = 0; s < Sets; ++s) facc[r][s] = _mm512_setzero_ps();
  }
#pragma GCC unroll 2
  for (int s = 0; s < Sets; ++s) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) tab[s][j] = _mm512_setzero_si512();
  }
  detail::Lut4Records records(a);
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec;
    if (records.next(rec)) {
#pragma GCC unroll 2
      for (int s = 0; s < Sets; ++s) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          tab[s][j] = _mm512_xor_si512(_mm512_load_si512(records.tables + 256 * (s0 + s) + 64 * j), flip);
        }
      }
    }
    __m512i acc[Rows][Sets][4];
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 2
      for (int s = 0; s < Sets; ++s) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) acc[r][s][j] = _mm512_setzero_si512();
      }
    }
#pragma GCC unroll 4
    for (Index slice = 0; slice < slices; ++slice) {
      __m512i x_lo[Rows], x_hi[Rows];
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const std::int8_t* xq = a.q + r * a.q_stride + g * a.group_size + 32 * slice;
        x_lo[r] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq)));
        x_hi[r] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + 16)));
      }
      const std::uint8_t* row = rec + slice * 16 * w + 256 * s0;
#pragma GCC unroll 2
      for (int s = 0; s < Sets; ++s) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          const __m512i v = _mm512_load_si512(row + 256 * s + 64 * j);
          const __m512i t_lo = _mm512_shuffle_epi8(tab[s][j], _mm512_and_si512(v, low4));
          const __m512i t_hi = _mm512_shuffle_epi8(tab[s][j], _mm512_and_si512(_mm512_srli_epi16(v, 4), low4));
#pragma GCC unroll 2
          for (int r = 0; r < Rows; ++r) {
            acc[r][s][j] = _mm512_dpbusd_epi32(acc[r][s][j], t_lo, x_lo[r]);
            acc[r][s][j] = _mm512_dpbusd_epi32(acc[r][s][j], t_hi, x_hi[r]);
          }
        }
      }
    }
    const auto* scales = reinterpret_cast<const float*>(records.tables + 16 * w);
#pragma GCC unroll 2
    for (int s = 0; s < Sets; ++s) {
      const __m512 sc = _mm512_load_ps(scales + 16 * (s0 + s));
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const __m512i offset = _mm512_set1_epi32(128 * a.sums[r * a.groups + g]);
        const __m512i isum =
            _mm512_sub_epi32(reduce_set(acc[r][s][0], acc[r][s][1], acc[r][s][2], acc[r][s][3]), offset);
        const __m512 dq = _mm512_set1_ps(a.d[r * a.groups + g]);
        facc[r][s] = _mm512_fmadd_ps(_mm512_mul_ps(sc, dq), _mm512_cvtepi32_ps(isum), facc[r][s]);
      }
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 2
    for (int s = 0; s < Sets; ++s) {
      const Index col = 16 * (s0 + s);
      _mm512_storeu_ps(a.out + r * 64 + col, _mm512_add_ps(facc[r][s], _mm512_loadu_ps(a.bias + col)));
    }
  }
}

// Rows (1 or 2) rows against one panel: two sets a pass for one row, one for two.
template <int Rows>
EIGENQ_TARGET_AVX512VNNI void lut4_panel(const Lut4PanelArgs& a) {
  const Index sets = a.width / 16;
  Index s0 = 0;
  if constexpr (Rows == 1) {
    for (; s0 + 2 <= sets; s0 += 2) lut4_pass<1, 2>(a, s0);
  }
  for (; s0 < sets; ++s0) lut4_pass<Rows, 1>(a, s0);
}

#endif  // EIGENQ_HAVE_AVX512VNNI

}  // namespace eigenq::kernels::x86_avx512

namespace eigenq::kernels {

template <>
struct GemvLut4Path<Isa::avx512> : GemvLut4Path<Isa::avx2> {};

#if defined(EIGENQ_HAVE_AVX512VNNI)
// Two rows at a time; three and four rows are two passes (2 + 1, 2 + 2).
template <>
struct GemvLut4Path<Isa::avx512vnni> : x86_avx512::Int4Activations {
  template <int Rows>
  static void panel(const detail::Lut4PanelArgs& a) {
    x86_avx512::lut4_panel<(Rows < 2 ? Rows : 2)>(a);
    if constexpr (Rows > 2) panel<Rows - 2>(a.from_row(2));
  }
};
#endif

}  // namespace eigenq::kernels

EIGENQ_AVX512_DIAGNOSTICS_END

#endif  // EIGENQ_HAVE_AVX512
