// NEON int4 grouped GEMV with sdot, bit for bit the definitions in
// scalar/gemv_int4.hpp; the activation quantization is generic/gemv_int4-inl.hpp's.
// A 16-byte row of a block is 4 channels x 4 k per nibble; AND 0x0F / a shift
// by 4 give bytes 0..15 = code + 8, which sdot takes as signed (they are below
// 128) against a lane-selected quad of int8 activations; isum = lanes - 8 * sum_q.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON_DOTPROD)

#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arm_neon/vector.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_int4.hpp"

#define EIGENQ_GENERIC_NAMESPACE arm_neon
#define EIGENQ_TARGET EIGENQ_TARGET_NEON_DOTPROD
#include "eigenq/kernels/generic/gemv_int4-inl.hpp"

namespace eigenq::kernels::arm_neon {

static_assert(lanes == 4, "a 16-byte row of a block is 4 channels: one vector of sdot sums");

// Vectors 4-channel vectors starting at channel c0, for Rows rows. Bits 4: the int4 format's
// nibbles (code + 8, below 128, so sdot takes them as signed; the offset is removed after);
// Bits 8: the grouped int8 format's two's complement bytes, sdot's own operands.
template <class Codes, int Rows, int Vectors>
EIGENQ_TARGET_NEON_DOTPROD void grouped_pass(const Int4PanelArgs& a, Index c0) {
  constexpr int Bits = Codes::bits;
  constexpr bool Table = Codes::table;
  constexpr std::int32_t offset = Codes::nibble_offset;
  const Index nb = a.width / 16;
  const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
  const Index code_bytes = Codes::code_bytes(a.group_size, a.width);
  const Index record = Codes::record_bytes(a.group_size, a.width, a.scale_type);
  const Index octets = a.group_size / 8;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  int8x16_t table = vdupq_n_s8(0);
  if constexpr (Table) table = vld1q_s8(a.table);
  float32x4_t facc[Rows][Vectors];
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Vectors; ++v) facc[r][v] = vdupq_n_f32(0.0f);
  }
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec = a.panel + g * record;
    int32x4_t acc[Rows][Vectors];
    for (int r = 0; r < Rows; ++r) {
      for (int v = 0; v < Vectors; ++v) acc[r][v] = vdupq_n_s32(0);
    }
    for (Index o = 0; o < octets; ++o) {
      int8x8_t x[Rows];  // lane 0: the low-nibble quad, lane 1: the high-nibble quad
      for (int r = 0; r < Rows; ++r) x[r] = vld1_s8(a.q + r * a.q_stride + g * a.group_size + 8 * o);
      for (int v = 0; v < Vectors; ++v) {
        const Index c = c0 + 4 * v;
        const std::uint8_t* block = rec + (o * nb + c / 16) * Codes::block_bytes + (c % 16) * 4;
        int8x16_t w_lo, w_hi;
        if constexpr (Bits == 4) {
          const uint8x16_t bytes = vld1q_u8(block);
          if constexpr (Table) {
            w_lo = vqtbl1q_s8(table, vandq_u8(bytes, low4));
            w_hi = vqtbl1q_s8(table, vshrq_n_u8(bytes, 4));
          } else {
            w_lo = vreinterpretq_s8_u8(vandq_u8(bytes, low4));
            w_hi = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
          }
        } else {
          w_lo = vld1q_s8(reinterpret_cast<const std::int8_t*>(block));
          w_hi = vld1q_s8(reinterpret_cast<const std::int8_t*>(block + 64));
        }
        for (int r = 0; r < Rows; ++r) {
          acc[r][v] = vdotq_lane_s32(acc[r][v], w_lo, x[r], 0);
          acc[r][v] = vdotq_lane_s32(acc[r][v], w_hi, x[r], 1);
        }
      }
    }
    const std::uint8_t* scales = rec + code_bytes;
    for (int v = 0; v < Vectors; ++v) {
      const float32x4_t s = load_scales(scales + (c0 + 4 * v) * scale_bytes, a.scale_type);
      for (int r = 0; r < Rows; ++r) {
        const float32x4_t dq = vdupq_n_f32(a.d[r * a.groups + g]);
        const int32x4_t isum = vsubq_s32(acc[r][v], vdupq_n_s32(offset * a.sums[r * a.groups + g]));
        facc[r][v] = vfmaq_f32(facc[r][v], vmulq_f32(s, dq), vcvtq_f32_s32(isum));
        if constexpr (Codes::with_min) {
          const float32x4_t m = load_scales(scales + (a.width + c0 + 4 * v) * scale_bytes, a.scale_type);
          const float32x4_t neg_sum = vdupq_n_f32(-static_cast<float>(a.sums[r * a.groups + g]));
          facc[r][v] = vfmaq_f32(facc[r][v], vmulq_f32(m, dq), neg_sum);
        }
      }
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (int v = 0; v < Vectors; ++v) {
      const Index c = c0 + 4 * v;
      vst1q_f32(a.out + r * 64 + c, vaddq_f32(facc[r][v], vld1q_f32(a.bias + c)));
    }
  }
}

}  // namespace eigenq::kernels::arm_neon

namespace eigenq::kernels {

// 16 channels per pass for one or two rows, 8 for three or four.
namespace arm_neon {
// Every grouped family's panel entry (Codes: the family's codes descriptor): the nibbles, with
// minimums, through a table (vqtbl1q) and the grouped int8 format run the same pass.
template <class Codes>
struct GroupedPanelPath {
  static constexpr int max_rows = 4;
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    constexpr int vectors = Rows <= 2 ? 4 : 2;
    for (Index c0 = 0; c0 < a.width; c0 += 4 * vectors) grouped_pass<Codes, Rows, vectors>(a, c0);
  }
};
}  // namespace arm_neon

template <>
struct GemvInt4Path<Isa::neon_dotprod> : arm_neon::Int4Activations, arm_neon::GroupedPanelPath<detail::Int4Codes> {};
template <>
struct GemvInt4MinPath<Isa::neon_dotprod> : arm_neon::GroupedPanelPath<detail::Int4MinCodes> {};
template <>
struct GemvInt4TablePath<Isa::neon_dotprod> : arm_neon::GroupedPanelPath<detail::Int4TableCodes> {};
template <>
struct GemvGroupedInt8Path<Isa::neon_dotprod> : arm_neon::GroupedPanelPath<detail::Int8Codes> {};

}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_NEON_DOTPROD
