// NEON int8 GEMM micro-kernel with the dot-product extension (sdot), behind
// the blocked loop of gemm_driver.hpp.
//
// sdot multiplies signed bytes by signed bytes and adds each group of four
// products to an int32 lane (wrapping). u8 activations are packed as A - 128
// (their top bit flipped) and the driver adds back 128 * sum_k B
// (gemm_driver.hpp proves the correction); s8 activations go in unchanged.
// A 16-byte B load is 4 columns x 4 k, one packed-A load is 4 rows x 4 k, and
// the by-element form sdot v.4s, b.16b, a.4b[r] feeds row r: a 4 x 16 tile
// is 16 accumulators, 4 B and 1 A register, swept over the panel's 16-column blocks.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON_DOTPROD)

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arm_neon/elementwise.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/gemm_driver.hpp"
#include "eigenq/kernels/packed_weights.hpp"

namespace eigenq::kernels::arm_neon {

using detail::TileArgs;

// The quads of A for one k-quad, row r in 32-bit lane r (rows past Rows are zero).
// Rows are row_step bytes apart: 4 when A was packed, lda when it is read in place.
template <int Rows>
EIGENQ_TARGET_NEON_DOTPROD int8x16_t load_a_quads(const std::int8_t* a, Index row_step) {
  if (Rows == 4 && row_step == 4) return vld1q_s8(a);
  std::uint32_t quads[4] = {};
  for (int r = 0; r < Rows; ++r) std::memcpy(&quads[r], a + r * row_step, 4);
  return vreinterpretq_s8_u32(vld1q_u32(quads));
}

template <int Rows, int Vectors>
struct TileS8S8 {
  EIGENQ_TARGET_NEON_DOTPROD static void run(const TileArgs<std::int8_t>& t);
};

// The panel's t.vectors 16-column blocks in turn (Vectors is not needed).
template <int Rows, int Vectors>
EIGENQ_TARGET_NEON_DOTPROD void TileS8S8<Rows, Vectors>::run(const TileArgs<std::int8_t>& t) {
  const bool has_zb = t.zb != nullptr;
  const Index b_step = 64 * t.vectors;
  for (int block = 0; block < t.vectors; ++block) {  // 16 columns at a time
    int32x4_t acc[Rows][4];
    for (int r = 0; r < Rows; ++r) {
      for (int v = 0; v < 4; ++v) acc[r][v] = vdupq_n_s32(0);
    }
    const std::int8_t* a = t.a;
    const std::int8_t* b = t.b + 64 * block;
    for (Index q = 0; q < t.quads; ++q) {
      const int8x16_t av = load_a_quads<Rows>(a, t.row_step);
      int8x16_t bv[4];
      for (int v = 0; v < 4; ++v) bv[v] = vld1q_s8(b + 16 * v);
      for (int v = 0; v < 4; ++v) {
        acc[0][v] = vdotq_laneq_s32(acc[0][v], bv[v], av, 0);
        if constexpr (Rows > 1) acc[1][v] = vdotq_laneq_s32(acc[1][v], bv[v], av, 1);
        if constexpr (Rows > 2) acc[2][v] = vdotq_laneq_s32(acc[2][v], bv[v], av, 2);
        if constexpr (Rows > 3) acc[3][v] = vdotq_laneq_s32(acc[3][v], bv[v], av, 3);
      }
      a += t.quad_step;
      b += b_step;
    }
    for (int r = 0; r < Rows; ++r) {
      const int32x4_t neg_row_sum = vdupq_n_s32(has_zb ? t.neg_row_sum[r] : 0);
      for (int v = 0; v < 4; ++v) {
        const Index col = 16 * block + 4 * v;
        int32x4_t sum = vaddq_s32(acc[r][v], vld1q_s32(t.col_offset + col));
        if (has_zb) sum = vmlaq_s32(sum, vld1q_s32(t.zb + col), neg_row_sum);
        vst1q_s32(t.out + r * t.ldo + col, sum);
      }
    }
  }
}

}  // namespace eigenq::kernels::arm_neon

namespace eigenq::kernels {
// A as signed bytes (sdot), up to 4 rows.
template <>
struct GemmPath<Isa::neon_dotprod>
    : detail::GemmPathTraits<Isa::neon_dotprod, std::int8_t, 4, arm_neon::TileS8S8> {};
}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_NEON_DOTPROD
