// ggml's non-linear 4-bit types: each 4-bit code indexes a fixed table of 16
// int8 levels, denser near zero (kIQ4Values), times a scale.
//   iq4_nl  blocks of 32 with an fp16 scale
//   iq4_xs  super-blocks of 256: 8 groups of 32 with 6-bit scales times one fp16
// Quantizing searches 15 candidate scales per group for the best weighted
// least-squares fit (weights x^2, or importance * sqrt(sigma2 + x^2)); ggml
// does this in ggml_quantize_chunk whether or not importance is given.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/scale_search.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

// The 16 levels of the iq4 codes (ggml's kvalues_iq4nl).
inline constexpr std::int8_t kIQ4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

// The index of the table level nearest to x (the lower one on a tie); a NaN gives 15.
inline int nearest_level(const std::int8_t* values, int n, float x) {
  if (x <= values[0]) return 0;
  if (x >= values[n - 1]) return n - 1;
  int lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (x < values[mid]) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return x - static_cast<float>(values[hi - 1]) < static_cast<float>(values[hi]) - x ? hi - 1 : hi;
}

// One iq4 super-block of `size` elements (32 for iq4_nl, 256 for iq4_xs) in
// groups of 32. Writes the fp16 scale, the packed codes and, for iq4_xs, the
// 6-bit group scales. ggml's quantize_row_iq4_nl_impl with ntry = 7.
inline void quantize_iq4_superblock(int size, const float* x, const float* qw, std::uint8_t* d_bytes,
                                    std::uint8_t* qs, std::uint8_t* scales_h_bytes, std::uint8_t* scales_l) {
  constexpr int kTry = 7;
  const std::int8_t* values = kIQ4Values;
  const float v0 = static_cast<float>(values[0]);
  std::uint8_t L[kSuperBlock];
  float scales[kSuperBlock / 32] = {};
  float weight[32];

  float sigma2 = 0;
  for (int j = 0; j < size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / static_cast<float>(size);

  std::memset(qs, 0, static_cast<std::size_t>(size / 2));
  store_le16(d_bytes, fp32_to_fp16(0.f));

  float max_scale = 0, amax_scale = 0;
  const int ngroups = size / 32;
  for (int ib = 0; ib < ngroups; ++ib) {
    const float* xb = x + 32 * ib;
    std::uint8_t* Lb = L + 32 * ib;
    if (qw) {
      importance_weights(xb, qw + 32 * ib, sigma2, 32, weight);
    } else {
      for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < 32; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;  // codes set below, from the final scale
    }
    float d = -max / v0;
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const int l = nearest_level(values, 16, id * xb[j]);
      Lb[j] = static_cast<std::uint8_t>(l);
      const float q = static_cast<float>(values[l]);
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kTry; itry <= kTry; ++itry) {
      id = static_cast<float>(itry + values[0]) / max;
      sumqx = 0;
      sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const float q = static_cast<float>(values[nearest_level(values, 16, id * xb[j])]);
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }

  if (ngroups > 1) {  // iq4_xs: 6-bit group scales against one fp16 scale
    std::uint16_t scales_h = 0;
    const float d = -max_scale / 32;
    store_le16(d_bytes, fp32_to_fp16(d));
    const float id = d != 0.0f ? 1 / d : 0.f;
    for (int ib = 0; ib < ngroups; ++ib) {
      int l = c_max(-32, c_min(31, round_to_int(id * scales[ib])));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.f;
      std::uint8_t* Lb = L + 32 * ib;
      const float* xb = x + 32 * ib;
      for (int j = 0; j < 32; ++j) Lb[j] = static_cast<std::uint8_t>(nearest_level(values, 16, idl * xb[j]));
      l += 32;
      const unsigned l_l = static_cast<unsigned>(l) & 0xFu;
      const unsigned l_h = static_cast<unsigned>(l) >> 4;
      if (ib % 2 == 0) {
        scales_l[ib / 2] = static_cast<std::uint8_t>(l_l);
      } else {
        scales_l[ib / 2] = static_cast<std::uint8_t>(scales_l[ib / 2] | (l_l << 4));
      }
      scales_h = static_cast<std::uint16_t>(scales_h | (l_h << (2 * (ib % 8))));
    }
    store_le16(scales_h_bytes, scales_h);
  } else {  // iq4_nl: the group scale is the block scale; codes again from its fp32 value
    store_le16(d_bytes, fp32_to_fp16(scales[0]));
    const float id = scales[0] != 0.0f ? 1 / scales[0] : 0;
    for (int j = 0; j < size; ++j) L[j] = static_cast<std::uint8_t>(nearest_level(values, 16, id * x[j]));
  }

  for (int i = 0; i < size / 32; ++i) {
    for (int j = 0; j < 16; ++j) qs[16 * i + j] = static_cast<std::uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
  }
}

}  // namespace detail

// ---- iq4_nl -----------------------------------------------------------------

inline void quantize_row_iq4_nl(const float* x, void* dst, Index n, const float* importance) {
  for (Index i = 0; i < n / 32; ++i) {
    BlockIQ4_NL b{};
    detail::quantize_iq4_superblock(32, x + 32 * i, importance ? importance + 32 * i : nullptr, b.d, b.qs,
                                    nullptr, nullptr);
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_iq4_nl(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockIQ4_NL>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    std::uint8_t q[32];
    unpack_nibbles_32(b.qs, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = d * static_cast<float>(kIQ4Values[q[j]]);
  }
}

// ---- iq4_xs -----------------------------------------------------------------

inline void quantize_row_iq4_xs(const float* x, void* dst, Index n, const float* importance) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    BlockIQ4_XS b{};
    detail::quantize_iq4_superblock(kSuperBlock, x + kSuperBlock * i,
                                    importance ? importance + kSuperBlock * i : nullptr, b.d, b.qs,
                                    b.scales_h, b.scales_l);
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_iq4_xs(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockIQ4_XS>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const unsigned scales_h = load_le16(b.scales_h);
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = static_cast<int>(((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4));
      const float dl = d * static_cast<float>(ls - 32);
      std::uint8_t q[32];
      unpack_nibbles_32(b.qs + 16 * ib, q);
      for (int j = 0; j < 32; ++j) y[j] = dl * static_cast<float>(kIQ4Values[q[j]]);
      y += 32;
    }
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
