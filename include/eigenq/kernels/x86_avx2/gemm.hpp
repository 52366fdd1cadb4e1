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
#include "eigenq/kernels/gemm_driver.hpp"
#include "eigenq/kernels/output_stage.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/kernels/x86_avx2/output_stage.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// One vpmaddwd and one vpaddd. GCC 12 otherwise hoists all products ahead of
// the adds and spills accumulators (a third slower); clang needs no help.
EIGENQ_TARGET_AVX2 inline __m256i madd_accumulate_avx2(__m256i acc, __m256i a, __m256i b) {
#if defined(__clang__)
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#else
  __m256i product;
  __asm__("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+x"(acc), "=&x"(product) : "x"(a), "x"(b));
  return acc;
#endif
}

// One pass over K for `Rows` rows and 4 * Blocks columns starting at column c0:
// accumulator (r, j) holds columns c0 + 4j .. c0 + 4j + 3, two partial sums each.
template <int Rows, int Blocks>
EIGENQ_TARGET_AVX2 void tile_pass_s16_avx2(const TileArgs<std::int16_t>& t, Index c0) {
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
        acc[0][j] = madd_accumulate_avx2(acc[0][j], av, bv);
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
        for (int j = 0; j < Blocks; ++j) acc[r][j] = madd_accumulate_avx2(acc[r][j], av, bv[j]);
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

// Columns per pass, so that the accumulators fit the 16 ymm registers with the B
// vectors, the A broadcast and a product: 1 row takes the whole panel (up to 12
// accumulators), 2 rows 16 columns, 3 to 6 rows 8 columns.
template <int Rows>
EIGENQ_TARGET_AVX2 void tile_s16_avx2(const TileArgs<std::int16_t>& t) {
  const Index width = 16 * t.vectors;
  if constexpr (Rows == 1) {
    switch (t.vectors) {
      case 1: tile_pass_s16_avx2<1, 4>(t, 0); break;
      case 2: tile_pass_s16_avx2<1, 8>(t, 0); break;
      default: tile_pass_s16_avx2<1, 12>(t, 0); break;
    }
  } else if constexpr (Rows == 2) {
    for (Index c0 = 0; c0 < width; c0 += 16) tile_pass_s16_avx2<2, 4>(t, c0);
  } else {
    for (Index c0 = 0; c0 < width; c0 += 8) tile_pass_s16_avx2<Rows, 2>(t, c0);
  }
}

struct GemmPathAvx2 {
  using packed_a = std::int16_t;
  static constexpr int max_rows = 6;
  template <class A>
  static constexpr std::int32_t a_offset() {
    return 0;  // widened: u8 and s8 both fit int16
  }
  static void tile(const TileArgs<std::int16_t>& t) {
    switch (t.rows) {
      case 1: tile_s16_avx2<1>(t); break;
      case 2: tile_s16_avx2<2>(t); break;
      case 3: tile_s16_avx2<3>(t); break;
      case 4: tile_s16_avx2<4>(t); break;
      case 5: tile_s16_avx2<5>(t); break;
      default: tile_s16_avx2<6>(t); break;
    }
  }
  template <class Out>
  static void requantize_float_row(const std::int32_t* acc, Index count, const float* multiplier,
                                   std::int32_t zp, std::int32_t lo, std::int32_t hi, Out* dst) {
    requantize_float_row_avx2(acc, count, multiplier, zp, lo, hi, dst);
  }
  template <class Out>
  static void requantize_fixed_point_row(const std::int32_t* acc, Index count, const std::int32_t* m,
                                         const std::int32_t* shift_a, const std::int32_t* shift_b,
                                         RequantRounding rounding, std::int32_t zp, std::int32_t lo,
                                         std::int32_t hi, Out* dst) {
    requantize_fixed_point_row_avx2(acc, count, m, shift_a, shift_b, rounding, zp, lo, hi, dst);
  }
  static void dequantize_row(const std::int32_t* acc, Index count, float row_scale,
                             const float* col_scale, const float* bias, float* dst) {
    dequantize_row_avx2(acc, count, row_scale, col_scale, bias, dst);
  }
};

}  // namespace detail

template <class A, class Out>
void gemm_x8s8s32_avx2(const A* a, Index m, Index lda, std::int32_t a_zero_point,
                       const PackedWeights& b, const detail::PreparedOutput& out, Out* c, Index ldc,
                       int threads) {
  detail::gemm_blocked<detail::GemmPathAvx2>(a, m, lda, a_zero_point, b, out, c, ldc, threads);
}

}  // namespace kernels
}  // namespace eigenq

#endif  // EIGENQ_HAVE_AVX2
