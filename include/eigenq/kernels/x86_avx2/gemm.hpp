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
// product: the 16 ymm registers), swept over the panel's 8-column groups.
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

template <int Rows>
EIGENQ_TARGET_AVX2 void tile_s16_avx2(const TileArgs<std::int16_t>& t) {
  const bool has_zb = t.zb != nullptr;
  const Index b_step = 64 * t.vectors;
  for (int group = 0; group < 2 * t.vectors; ++group) {  // 8 columns at a time
    __m256i acc[Rows][2];
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const std::int16_t* a = t.a;
    const std::int8_t* b = t.b + 32 * group;
    const Index row_step = t.row_step;
    const Index quad_step = t.quad_step;
    for (Index q = 0; q < t.quads; ++q) {
      const __m256i b0 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b)));
      const __m256i b1 = _mm256_cvtepi8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(b + 16)));
#pragma GCC unroll 6
      for (int r = 0; r < Rows; ++r) {
        long long quad;  // four int16 values of A
        std::memcpy(&quad, a + r * row_step, 8);
        const __m256i av = _mm256_set1_epi64x(quad);
        acc[r][0] = madd_accumulate_avx2(acc[r][0], av, b0);
        acc[r][1] = madd_accumulate_avx2(acc[r][1], av, b1);
      }
      a += quad_step;
      b += b_step;
    }
    // hadd gives columns 0 1 4 5 | 2 3 6 7; the permute restores 0..7.
    const __m256i offset = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.col_offset + 8 * group));
    const __m256i zb = has_zb ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.zb + 8 * group))
                              : _mm256_setzero_si256();
#pragma GCC unroll 6
    for (int r = 0; r < Rows; ++r) {
      __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
      sum = _mm256_add_epi32(sum, offset);
      if (has_zb) sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(zb, _mm256_set1_epi32(t.neg_row_sum[r])));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.out + r * t.ldo + 8 * group), sum);
    }
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
