// AVX-512 int8 GEMM micro-kernels: AVX-512 VNNI (vpdpbusd) and AVX-512BW
// (sign extension + vpmaddwd), behind the blocked loop of gemm_driver.hpp.
//
// AVX-512 VNNI, 8 x 48 tile: per k-quad, three 64-byte B vectors (16 columns x
// 4 k each) and one 4-byte broadcast of A per row feed 24 vpdpbusd into 24
// accumulators (16 columns of one row each). vpdpbusd multiplies unsigned
// bytes (A) by signed bytes (B), adds each group of four products to an int32
// lane and wraps: s8 activations are packed as A + 128 and the driver removes
// 128 * sum_k B (gemm_driver.hpp proves the correction).
// Under GCC vpdpbusd and the vpmaddwd/vpaddd pair are issued through inline
// assembly (vector.hpp: dot_u8s8, madd_accumulate), which GCC 12 needs to keep
// the accumulators in registers.
//
// AVX-512BW without VNNI, 4 x 48 tile: vpmaddubsw would saturate for u8 x s8
// (255 * 127 * 2 > 32767), so A is widened to int16 when packed and B is
// sign-extended per quad (vpmovsxbw): vpmaddwd then sums pairs exactly into
// int32 (|255 * 128 * 2| < 2^31), leaving two partial sums per column that one
// permute-and-add merges at the end. No saturation is possible.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/gemm_driver.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/kernels/x86_avx512/elementwise.hpp"


EIGENQ_AVX512_DIAGNOSTICS_BEGIN

namespace eigenq::kernels::x86_avx512 {

using detail::TileArgs;

// Adds the zero-point corrections to a tile row and stores 16 columns.
EIGENQ_TARGET_AVX512 inline void store_corrected(std::int32_t* dst, __m512i acc, __m512i col_offset,
                                                        __m512i zb, __m512i neg_row_sum, bool has_zb) {
  acc = _mm512_add_epi32(acc, col_offset);
  if (has_zb) acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(zb, neg_row_sum));
  _mm512_storeu_si512(dst, acc);
}

template <int Rows, int Vectors, class Acc>
EIGENQ_TARGET_AVX512 inline void store_tile(const TileArgs<Acc>& t, __m512i (&acc)[Rows][Vectors]) {
  __m512i offset[Vectors];
  __m512i zb[Vectors];
  const bool has_zb = t.zb != nullptr;
#pragma GCC unroll 4
  for (int v = 0; v < Vectors; ++v) {
    offset[v] = _mm512_loadu_si512(t.col_offset + 16 * v);
    zb[v] = has_zb ? _mm512_loadu_si512(t.zb + 16 * v) : _mm512_setzero_si512();
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
    const __m512i neg_row_sum = _mm512_set1_epi32(has_zb ? t.neg_row_sum[r] : 0);
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) {
      store_corrected(t.out + r * t.ldo + 16 * v, acc[r][v], offset[v], zb[v], neg_row_sum, has_zb);
    }
  }
}

#if defined(EIGENQ_HAVE_AVX512VNNI)

// Rows x (16 * Vectors) tile over the whole K, which is cut into Streams
// contiguous parts run side by side (their sums are added at the end: integer
// addition, so the split changes no bit).
template <int Rows, int Vectors, int Streams>
EIGENQ_TARGET_AVX512VNNI void tile_u8s8_streams(const TileArgs<std::uint8_t>& t) {
  __m512i acc[Streams][Rows][Vectors];
#pragma GCC unroll 4
  for (int s = 0; s < Streams; ++s) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) acc[s][r][v] = _mm512_setzero_si512();
    }
  }
  const Index part = t.quads / Streams;
  const std::uint8_t* a[Streams];
  const std::int8_t* b[Streams];
#pragma GCC unroll 4
  for (int s = 0; s < Streams; ++s) {
    a[s] = t.a + s * part * t.quad_step;
    b[s] = t.b + s * part * 64 * Vectors;
  }
  for (Index q = 0; q < part; ++q) {
#pragma GCC unroll 4
    for (int s = 0; s < Streams; ++s) {
      __m512i bv[Vectors];
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) bv[v] = _mm512_load_si512(b[s] + 64 * v);
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r) {
        std::int32_t quad;
        std::memcpy(&quad, a[s] + r * t.row_step, 4);
        const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
        for (int v = 0; v < Vectors; ++v) acc[s][r][v] = dot_u8s8(acc[s][r][v], av, bv[v]);
      }
      a[s] += t.quad_step;
      b[s] += 64 * Vectors;
    }
  }
  // The last stream also takes the quads left over by the division.
  const std::uint8_t* a_rest = a[Streams - 1];
  const std::int8_t* b_rest = b[Streams - 1];
  for (Index q = Streams * part; q < t.quads; ++q) {
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, a_rest + r * t.row_step, 4);
      const __m512i av = _mm512_set1_epi32(quad);
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) {
        acc[Streams - 1][r][v] = dot_u8s8(acc[Streams - 1][r][v], av, _mm512_load_si512(b_rest + 64 * v));
      }
    }
    a_rest += t.quad_step;
    b_rest += 64 * Vectors;
  }
  __m512i sum[Rows][Vectors];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) {
      sum[r][v] = acc[0][r][v];
#pragma GCC unroll 4
      for (int s = 1; s < Streams; ++s) sum[r][v] = _mm512_add_epi32(sum[r][v], acc[s][r][v]);
    }
  }
  store_tile<Rows, Vectors>(t, sum);
}

// One or two rows (GEMV) stream the panel as two halves of K side by side:
// two memory streams measured 5-10% faster than one when the weights come
// from L3; more rows are compute-bound and keep one stream.
template <int Rows, int Vectors>
struct TileU8S8 {
  static void run(const TileArgs<std::uint8_t>& t) { tile_u8s8_streams<Rows, Vectors, (Rows <= 2 ? 2 : 1)>(t); }
};

#endif  // EIGENQ_HAVE_AVX512VNNI

// Accumulator pair (v, h) of a 16-column block: lanes 2c and 2c + 1 of half h
// hold the two partial sums of column 8h + c.
template <int Rows, int Vectors>
EIGENQ_TARGET_AVX512 void tile_s16_sums(const TileArgs<std::int16_t>& t) {
  __m512i acc[Rows][2 * Vectors];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 6
    for (int v = 0; v < 2 * Vectors; ++v) acc[r][v] = _mm512_setzero_si512();
  }
  const std::int16_t* a = t.a;
  const std::int8_t* b = t.b;
  const Index row_step = t.row_step;
  const Index quad_step = t.quad_step;
  for (Index q = 0; q < t.quads; ++q) {
    __m512i av[Rows];
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      std::int64_t quad;  // four int16 values of A
      std::memcpy(&quad, a + r * row_step, 8);
      av[r] = _mm512_set1_epi64(quad);
    }
#pragma GCC unroll 6
    for (int v = 0; v < 2 * Vectors; ++v) {
      const __m512i bv =
          _mm512_cvtepi8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32 * v)));
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r) acc[r][v] = madd_accumulate(acc[r][v], av[r], bv);
    }
    a += quad_step;
    b += 64 * Vectors;
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512i sums[Rows][Vectors];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 3
    for (int v = 0; v < Vectors; ++v) {
      const __m512i lo = acc[r][2 * v];
      const __m512i hi = acc[r][2 * v + 1];
      sums[r][v] = _mm512_add_epi32(_mm512_permutex2var_epi32(lo, even, hi),
                                    _mm512_permutex2var_epi32(lo, odd, hi));
    }
  }
  store_tile<Rows, Vectors>(t, sums);
}

template <int Rows, int Vectors>
struct TileS16 {
  static void run(const TileArgs<std::int16_t>& t) { tile_s16_sums<Rows, Vectors>(t); }
};

}  // namespace eigenq::kernels::x86_avx512

namespace eigenq::kernels {
// A widened to int16 (u8 and s8 both fit), up to 4 rows.
template <>
struct GemmPath<Isa::avx512> : detail::GemmPathTraits<Isa::avx512, std::int16_t, 4, x86_avx512::TileS16> {};
#if defined(EIGENQ_HAVE_AVX512VNNI)
// A as unsigned bytes (vpdpbusd), up to 8 rows.
template <>
struct GemmPath<Isa::avx512vnni>
    : detail::GemmPathTraits<Isa::avx512vnni, std::uint8_t, 8, x86_avx512::TileU8S8> {};
#endif
}  // namespace eigenq::kernels

EIGENQ_AVX512_DIAGNOSTICS_END

#endif  // EIGENQ_HAVE_AVX512
