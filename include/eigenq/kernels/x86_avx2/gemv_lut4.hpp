// AVX2 table-lookup GEMV, bit for bit the definition in scalar/gemv_lut4.hpp; the activation
// quantization is the int4 GEMV's (generic/gemv_int4-inl.hpp). Also the table-lookup GEMV of
// the AVX-512BW path (no VNNI).
//
// Half of a 64-byte block is 2 channels, one per 128-bit lane (16 bytes: 32 codes, 16 in the
// low nibbles and 16 in the high ones). vpshufb maps each nibble vector through the two
// channels' tables to signed bytes t in [-127, 127]. vpmaddubsw multiplies unsigned by signed
// bytes and saturates int16 pairs, so the sign trick keeps it exact: |q| (unsigned) times
// sign(q) * t (vpsignb) is q * t, and a pair is at most 2 * 127 * 127 = 32258 < 32767; vpmaddwd
// with ones widens the pairs into int32 partial sums (four per channel and lane). Three rounds
// of vphaddd leave 8 channel sums in channel order; the group's float update is the scalar fma,
// lane by lane.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_lut4.hpp"
#include "eigenq/kernels/x86_avx2/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx2/vector.hpp"

namespace eigenq::kernels::x86_avx2 {

using detail::Lut4PanelArgs;

// One row against the 8 channels of half h of set s (channels 16 s + 8 h .. + 7): ymm half h
// of block j holds channels 8 h + j (lane 0) and 8 h + 4 + j (lane 1) of the set.
EIGENQ_TARGET_AVX2 inline void lut4_pass(const Lut4PanelArgs& a, Index s, Index h) {
  const Index w = a.width;
  const Index slices = a.group_size / 32;
  const Index offset = 256 * s + 32 * h;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 facc = _mm256_setzero_ps();
  __m256i tab[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                    _mm256_setzero_si256()};
  detail::Lut4Records records(a);
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec;
    if (records.next(rec)) {
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        tab[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(records.tables + offset + 64 * j));
      }
    }
    __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                      _mm256_setzero_si256()};
    for (Index slice = 0; slice < slices; ++slice) {
      const std::int8_t* xq = a.q + g * a.group_size + 32 * slice;
      const __m256i x_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq)));
      const __m256i x_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xq + 16)));
      const __m256i abs_lo = _mm256_abs_epi8(x_lo);
      const __m256i abs_hi = _mm256_abs_epi8(x_hi);
      const std::uint8_t* row = rec + slice * 16 * w + offset;
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(row + 64 * j));
        const __m256i t_lo = _mm256_shuffle_epi8(tab[j], _mm256_and_si256(v, low4));
        const __m256i t_hi = _mm256_shuffle_epi8(tab[j], _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
        const __m256i p_lo = _mm256_maddubs_epi16(abs_lo, _mm256_sign_epi8(t_lo, x_lo));
        const __m256i p_hi = _mm256_maddubs_epi16(abs_hi, _mm256_sign_epi8(t_hi, x_hi));
        acc[j] = _mm256_add_epi32(acc[j], _mm256_add_epi32(_mm256_madd_epi16(p_lo, ones), _mm256_madd_epi16(p_hi, ones)));
      }
    }
    const __m256i isum = _mm256_hadd_epi32(_mm256_hadd_epi32(acc[0], acc[1]), _mm256_hadd_epi32(acc[2], acc[3]));
    const __m256 sc = _mm256_load_ps(reinterpret_cast<const float*>(records.tables + 16 * w) + 16 * s + 8 * h);
    const __m256 dq = _mm256_set1_ps(a.d[g]);
    facc = _mm256_fmadd_ps(_mm256_mul_ps(sc, dq), _mm256_cvtepi32_ps(isum), facc);
  }
  const Index col = 16 * s + 8 * h;
  _mm256_storeu_ps(a.out + col, _mm256_add_ps(facc, _mm256_loadu_ps(a.bias + col)));
}

}  // namespace eigenq::kernels::x86_avx2

namespace eigenq::kernels {

// One row and 8 channels at a time (the lookups are repeated for each row: sixteen ymm
// registers hold no more). Also the table-lookup GEMV of the avx512 path.
template <>
struct GemvLut4Path<Isa::avx2> : x86_avx2::Int4Activations {
  template <int Rows>
  EIGENQ_TARGET_AVX2 static void panel(const detail::Lut4PanelArgs& a) {
    for (int r = 0; r < Rows; ++r) {
      const detail::Lut4PanelArgs row = a.from_row(r);
      for (Index s = 0; s < a.width / 16; ++s) {
        x86_avx2::lut4_pass(row, s, 0);
        x86_avx2::lut4_pass(row, s, 1);
      }
    }
  }
};

}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_AVX2
