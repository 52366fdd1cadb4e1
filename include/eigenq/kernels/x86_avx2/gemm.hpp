// AVX2 int8 GEMM micro-kernel (no VNNI), behind the blocked loop of
// gemm_driver.hpp.
//
// Saturation: vpmaddubsw would add two u8 x s8 products into int16, and
// 255 * 127 * 2 = 64770 does not fit, so it is avoided altogether (no range
// restriction on the inputs). A is widened to int16 when it is packed (u8 and
// s8 alike, no offset) and each 16-byte row of a B column block (4 columns x
// 4 k) is sign-extended with vpmovsxbw; vpmaddwd then adds pairs of
// int16 x int16 products into int32 exactly (|2 * 255 * 128| < 2^31), and
// vpaddd accumulates with wrap-around like every path. Each column keeps two
// partial sums (k = 0,1 and k = 2,3 of each quad), merged by vphaddd at the end.
//
// Tile: 6 rows x 8 columns (12 accumulators, 2 B vectors, 1 A broadcast, 1
// product: the 16 ymm registers), swept over the panel's 8-column groups; a
// single row (GEMV) takes the whole 48-column panel in one pass instead, so the
// weights stream through once.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/gemm_driver.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/kernels/x86_avx2/elementwise.hpp"

namespace eigenq::kernels::x86_avx2 {

using detail::TileArgs;

// One pass over K for `Rows` rows and 4 * Blocks columns starting at column c0:
// accumulator (r, j) holds columns c0 + 4j .. c0 + 4j + 3, two partial sums each.
template <int Rows, int Blocks>
EIGENQ_TARGET_AVX2 void tile_pass_s16(const TileArgs<std::int16_t>& t, Index c0) {
  __m256i acc[Rows][Blocks];
#pragma GCC unroll 6
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 12
    for (int j = 0; j < Blocks; ++j) acc[r][j] = _mm256_setzero_si256();
  }
  const std::int16_t* a = t.a;
  const std::int8_t* b = t.b + 4 * c0;  // column c of a quad row is at byte 4c
  const Index b_step = 64 * t.vectors;
  const Index row_step = t.row_step;
  const Index quad_step = t.quad_step;
  for (Index q = 0; q < t.quads; ++q) {
    if constexpr (Rows == 1) {
      // One row: every B block is used once, so it is loaded right where it is used.
      long long quad;
      std::memcpy(&quad, a, 8);
      const __m256i av = _mm256_set1_epi64x(quad);
#pragma GCC unroll 12
      for (int j = 0; j < Blocks; ++j) {
        const __m256i bv = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b + 16 * j)));
        acc[0][j] = madd_accumulate(acc[0][j], av, bv);
      }
    } else {
      __m256i bv[Blocks];
#pragma GCC unroll 4
      for (int j = 0; j < Blocks; ++j) {
        bv[j] = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b + 16 * j)));
      }
#pragma GCC unroll 6
      for (int r = 0; r < Rows; ++r) {
        long long quad;  // four int16 values of A
        std::memcpy(&quad, a + r * row_step, 8);
        const __m256i av = _mm256_set1_epi64x(quad);
#pragma GCC unroll 4
        for (int j = 0; j < Blocks; ++j) acc[r][j] = madd_accumulate(acc[r][j], av, bv[j]);
      }
    }
    a += quad_step;
    b += b_step;
  }
  const bool has_zb = t.zb != nullptr;
#pragma GCC unroll 6
  for (int j = 0; j < Blocks; j += 2) {
    const Index col = c0 + 4 * j;
    const __m256i offset = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_offset + col));
    const __m256i zb =
        has_zb ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.zb + col)) : _mm256_setzero_si256();
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) {
      // hadd gives columns 0 1 4 5 | 2 3 6 7; the permute restores 0..7.
      __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][j], acc[r][j + 1]), 0xD8);
      sum = _mm256_add_epi32(sum, offset);
      if (has_zb) sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(zb, _mm256_set1_epi32(t.neg_row_sum[r])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.out + r * t.ldo + col), sum);
    }
  }
}

// Columns per pass, so that the accumulators fit the 16 ymm registers with the B vectors,
// the A broadcast and a product: one row takes the whole panel (up to 12 accumulators),
// two rows 16 columns at a time, three to six rows 8.
template <int Rows, int Vectors>
struct TileS16 {
  EIGENQ_TARGET_AVX2 static void run(const TileArgs<std::int16_t>& t) {
    if constexpr (Rows == 1) {
      tile_pass_s16<1, 4 * Vectors>(t, 0);
    } else {
      constexpr int blocks = Rows == 2 ? 4 : 2;
      for (Index c0 = 0; c0 < 16 * Vectors; c0 += 4 * blocks) tile_pass_s16<Rows, blocks>(t, c0);
    }
  }
};

}  // namespace eigenq::kernels::x86_avx2

namespace eigenq::kernels {
// A widened to int16 (u8 and s8 both fit), up to 6 rows.
template <>
struct GemmPath<Isa::avx2> : detail::GemmPathTraits<Isa::avx2, std::int16_t, 6, x86_avx2::TileS16> {};
}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_AVX2
