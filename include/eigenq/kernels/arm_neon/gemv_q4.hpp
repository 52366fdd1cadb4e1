// NEON int4 grouped GEMV with sdot, bit for bit the definitions in
// scalar/gemv_q4.hpp. A 16-byte row of a block is 4 channels x 4 k per
// nibble; AND 0x0F / a shift by 4 give bytes 0..15 = code + 8, which sdot
// takes as signed (they are below 128) against a lane-selected quad of int8
// activations; isum = lanes - 8 * sum_q. vmaxnm ignores NaN like the scalar
// amax loop; NaN products are zeroed before the clamp.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON)

#include <arm_neon.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_q4.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

EIGENQ_TARGET_NEON inline void quantize_activations_neon(const float* x, Index k, Index group_size,
                                                         Index groups, std::int8_t* q, float* d,
                                                         std::int32_t* sums) {
  const float32x4_t lo = vdupq_n_f32(-127.0f);
  const float32x4_t hi = vdupq_n_f32(127.0f);
  for (Index g = 0; g < groups; ++g) {
    const Index begin = g * group_size;
    const Index valid = k - begin < group_size ? k - begin : group_size;
    float32x4_t amax4 = vdupq_n_f32(0.0f);
    Index i = 0;
    for (; i + 4 <= valid; i += 4) amax4 = vmaxnmq_f32(amax4, vabsq_f32(vld1q_f32(x + begin + i)));
    float amax = vmaxnmvq_f32(amax4);
    for (; i < valid; ++i) {
      const float a = std::fabs(x[begin + i]);
      if (a > amax) amax = a;
    }
    float inv;
    d[g] = activation_group_scale(amax, inv);
    const float32x4_t inv_v = vdupq_n_f32(inv);
    std::int32_t sum = 0;
    i = 0;
    for (; i + 8 <= valid; i += 8) {
      int32x4_t c[2];
      for (int h = 0; h < 2; ++h) {
        float32x4_t v = vmulq_f32(vld1q_f32(x + begin + i + 4 * h), inv_v);
        v = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), vceqq_f32(v, v)));  // NaN -> 0
        c[h] = vcvtnq_s32_f32(vminq_f32(vmaxq_f32(v, lo), hi));
      }
      vst1_s8(q + begin + i, vqmovn_s16(vcombine_s16(vqmovn_s32(c[0]), vqmovn_s32(c[1]))));
      sum += vaddvq_s32(vaddq_s32(c[0], c[1]));
    }
    for (; i < group_size; ++i) {
      const std::int8_t c = i < valid ? quantize_activation_value(x[begin + i] * inv) : std::int8_t{0};
      q[begin + i] = c;
      sum += c;
    }
    sums[g] = sum;
  }
}

EIGENQ_TARGET_NEON inline float32x4_t load_scales_neon(const std::uint8_t* s, ScaleType type) {
  if (type == ScaleType::f32) return vld1q_f32(reinterpret_cast<const float*>(s));
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(s))));
}

// Vectors 4-channel vectors starting at channel c0, for Rows rows.
template <int Rows, int Vectors>
EIGENQ_TARGET_NEON void gemv_q4_pass_neon(const Q4PanelArgs& a, Index c0) {
  const Index nb = a.width / 16;
  const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
  const Index record = a.group_size * a.width / 2 + a.width * scale_bytes;
  const Index octets = a.group_size / 8;
  const uint8x16_t low4 = vdupq_n_u8(0x0F);
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
        const uint8x16_t bytes = vld1q_u8(rec + (o * nb + c / 16) * 64 + (c % 16) * 4);
        const int8x16_t w_lo = vreinterpretq_s8_u8(vandq_u8(bytes, low4));
        const int8x16_t w_hi = vreinterpretq_s8_u8(vshrq_n_u8(bytes, 4));
        for (int r = 0; r < Rows; ++r) {
          acc[r][v] = vdotq_lane_s32(acc[r][v], w_lo, x[r], 0);
          acc[r][v] = vdotq_lane_s32(acc[r][v], w_hi, x[r], 1);
        }
      }
    }
    const std::uint8_t* scales = rec + a.group_size * a.width / 2;
    for (int v = 0; v < Vectors; ++v) {
      const float32x4_t s = load_scales_neon(scales + (c0 + 4 * v) * scale_bytes, a.scale_type);
      for (int r = 0; r < Rows; ++r) {
        const float32x4_t dq = vdupq_n_f32(a.d[r * a.groups + g]);
        const int32x4_t isum = vsubq_s32(acc[r][v], vdupq_n_s32(8 * a.sums[r * a.groups + g]));
        facc[r][v] = vfmaq_f32(facc[r][v], vmulq_f32(s, dq), vcvtq_f32_s32(isum));
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

// 16 channels per pass for one or two rows, 8 for three or four.
EIGENQ_TARGET_NEON inline void gemv_q4_panel_neon(const Q4PanelArgs& a) {
  for (Index c0 = 0; c0 < a.width; c0 += a.rows <= 2 ? 16 : 8) {
    switch (a.rows) {
      case 1: gemv_q4_pass_neon<1, 4>(a, c0); break;
      case 2: gemv_q4_pass_neon<2, 4>(a, c0); break;
      case 3: gemv_q4_pass_neon<3, 2>(a, c0); break;
      default: gemv_q4_pass_neon<4, 2>(a, c0); break;
    }
  }
}

struct GemvQ4PathNeon {
  static void quantize_activations(const float* x, Index k, Index group_size, Index groups,
                                   std::int8_t* q, float* d, std::int32_t* sums) {
    quantize_activations_neon(x, k, group_size, groups, q, d, sums);
  }
  static void panel(const Q4PanelArgs& a) { gemv_q4_panel_neon(a); }
};

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq

#endif  // EIGENQ_HAVE_NEON
