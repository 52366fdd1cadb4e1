// NEON table-lookup GEMV with tbl and sdot, bit for bit the definition in
// scalar/gemv_lut4.hpp; the activation quantization is the int4 GEMV's
// (generic/gemv_int4-inl.hpp). A channel's 16 bytes of a slice hold 32 codes (16 in the low
// nibbles, 16 in the high ones); AND 0x0F / a shift by 4 give the indices, tbl maps them
// through the channel's table (16 int8 values), and sdot multiplies them by the 16 activation
// codes into four int32 partial sums (signed by signed: no offset). Two pairwise adds leave
// the sums of four channels in one vector for the group's float update.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON_DOTPROD)

#include <arm_neon.h>

#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arm_neon/gemv_int4.hpp"
#include "eigenq/kernels/arm_neon/vector.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_lut4.hpp"

namespace eigenq::kernels::arm_neon {

using detail::Lut4PanelArgs;

// Channels c0 .. c0 + 3 (c0 a multiple of 4) for Rows rows. Channel c0 + i of set s sits at
// 256 s + 64 i + 16 ((c0 % 16) / 4) of a slot-ordered row.
template <int Rows>
EIGENQ_TARGET_NEON_DOTPROD void lut4_pass(const Lut4PanelArgs& a, Index c0) {
  const Index w = a.width;
  const Index slices = a.group_size / 32;
  const Index base = 256 * (c0 / 16) + 16 * ((c0 % 16) / 4);
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
  float32x4_t facc[Rows];
  for (int r = 0; r < Rows; ++r) facc[r] = vdupq_n_f32(0.0f);
  int8x16_t tab[4] = {vdupq_n_s8(0), vdupq_n_s8(0), vdupq_n_s8(0), vdupq_n_s8(0)};
  detail::Lut4Records records(a);
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec;
    if (records.next(rec)) {
      for (int i = 0; i < 4; ++i) tab[i] = vld1q_s8(reinterpret_cast<const std::int8_t*>(records.tables + base + 64 * i));
    }
    int32x4_t acc[Rows][4];
    for (int r = 0; r < Rows; ++r) {
      for (int i = 0; i < 4; ++i) acc[r][i] = vdupq_n_s32(0);
    }
    for (Index slice = 0; slice < slices; ++slice) {
      int8x16_t x_lo[Rows], x_hi[Rows];
      for (int r = 0; r < Rows; ++r) {
        const std::int8_t* xq = a.q + r * a.q_stride + g * a.group_size + 32 * slice;
        x_lo[r] = vld1q_s8(xq);
        x_hi[r] = vld1q_s8(xq + 16);
      }
      const std::uint8_t* row = rec + slice * 16 * w + base;
      for (int i = 0; i < 4; ++i) {
        const uint8x16_t v = vld1q_u8(row + 64 * i);
        const int8x16_t t_lo = vqtbl1q_s8(tab[i], vandq_u8(v, low4));
        const int8x16_t t_hi = vqtbl1q_s8(tab[i], vshrq_n_u8(v, 4));
        for (int r = 0; r < Rows; ++r) {
          acc[r][i] = vdotq_s32(acc[r][i], t_lo, x_lo[r]);
          acc[r][i] = vdotq_s32(acc[r][i], t_hi, x_hi[r]);
        }
      }
    }
    const float32x4_t s = vld1q_f32(reinterpret_cast<const float*>(records.tables + 16 * w) + c0);
    for (int r = 0; r < Rows; ++r) {
      const int32x4_t isum = vpaddq_s32(vpaddq_s32(acc[r][0], acc[r][1]), vpaddq_s32(acc[r][2], acc[r][3]));
      const float32x4_t dq = vdupq_n_f32(a.d[r * a.groups + g]);
      facc[r] = vfmaq_f32(facc[r], vmulq_f32(s, dq), vcvtq_f32_s32(isum));
    }
  }
  for (int r = 0; r < Rows; ++r) vst1q_f32(a.out + r * 64 + c0, vaddq_f32(facc[r], vld1q_f32(a.bias + c0)));
}

}  // namespace eigenq::kernels::arm_neon

namespace eigenq::kernels {

// Four channels a pass, for up to four rows at once.
template <>
struct GemvLut4Path<Isa::neon_dotprod> : arm_neon::Int4Activations {
  template <int Rows>
  static void panel(const detail::Lut4PanelArgs& a) {
    for (Index c0 = 0; c0 < a.width; c0 += 4) arm_neon::lut4_pass<Rows>(a, c0);
  }
};

}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_NEON_DOTPROD
