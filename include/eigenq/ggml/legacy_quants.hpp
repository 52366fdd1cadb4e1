// ggml's blocks of 32 (64, 128) elements with one fp16 scale: q4_0, q4_1,
// q5_0, q5_1, q8_0, and the newer q1_0 and q2_0. Layouts: eigenq/ggml/blocks.hpp.
//
// Without importance weights each block is rounded from its own extremes
// (ggml's quantize_row_*_ref). With them, q4_0/q5_0 search a symmetric scale
// and q4_1/q5_1 an affine scale and minimum, weighting each element by
// importance * sqrt(row variance + x^2) (ggml's quantize_row_*_impl). q8_0,
// q1_0 and q2_0 ignore importance, as ggml does.
//
// Every function works on one row of n elements (n a multiple of the block);
// dst / src hold n / block blocks.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/scale_search.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

// Sum of squares over the row divided by its length: ggml's sigma2 for the
// legacy types' importance weighting.
inline float row_mean_square(const float* x, Index n) {
  float sum_x2 = 0;
  for (Index j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

// The element weights of an importance-weighted block: qw * sqrt(sigma2 + x^2).
inline void importance_weights(const float* x, const float* qw, float sigma2, int n, float* weight) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

// ggml's scan: min = x[j] whenever x[j] < min (from FLT_MAX), max = x[j] whenever x[j] > max
// (from -FLT_MAX); NaN never compares. The result is the first element of the smallest
// (largest) value, which is that value itself unless it is zero, where the first zero's sign
// decides. So: the extremes over four accumulators (no loop-carried dependency across them),
// then for a zero extreme the first zero in the block.
inline void min_max(const float* x, int n, float* min, float* max) {
  float lo[4] = {FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
  float hi[4] = {-FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX};
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    for (int k = 0; k < 4; ++k) {
      lo[k] = x[j + k] < lo[k] ? x[j + k] : lo[k];
      hi[k] = x[j + k] > hi[k] ? x[j + k] : hi[k];
    }
  }
  for (; j < n; ++j) {
    lo[0] = x[j] < lo[0] ? x[j] : lo[0];
    hi[0] = x[j] > hi[0] ? x[j] : hi[0];
  }
  float mn = lo[0], mx = hi[0];
  for (int k = 1; k < 4; ++k) {
    mn = lo[k] < mn ? lo[k] : mn;
    mx = hi[k] > mx ? hi[k] : mx;
  }
  if (mn == 0.0f || mx == 0.0f) {
    for (j = 0; j < n; ++j) {
      if (x[j] == 0.0f) break;
    }
    if (mn == 0.0f) mn = x[j];
    if (mx == 0.0f) mx = x[j];
  }
  *min = mn;
  *max = mx;
}

inline void pack_nibbles_q5(const std::uint8_t* q, std::uint8_t* qs, std::uint8_t* qh_bytes) {
  std::uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<std::uint8_t>((q[j] & 0x0Fu) | ((q[j + 16] & 0x0Fu) << 4));
    qh |= ((q[j] & 0x10u) >> 4) << j;
    qh |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
  }
  store_le32(qh_bytes, qh);
}

template <class Block>
inline void put_block(void* dst, Index i, const Block& b) {
  std::memcpy(static_cast<std::uint8_t*>(dst) + i * static_cast<Index>(sizeof(Block)), &b, sizeof(Block));
}

template <class Block>
inline Block get_block(const void* src, Index i) {
  Block b;
  std::memcpy(&b, static_cast<const std::uint8_t*>(src) + i * static_cast<Index>(sizeof(Block)), sizeof(Block));
  return b;
}

// Codes 0..15 of a q4_0 block: code j in the low nibble of byte j % 16 (j < 16) or its high nibble.
inline void pack_codes(const std::uint8_t* q, BlockQ4_0& b) {
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<std::uint8_t>(q[j] | (q[j + 16] << 4));
}
inline void pack_codes(const std::uint8_t* q, BlockQ5_0& b) { pack_nibbles_q5(q, b.qs, b.qh); }

// q4_0 (nmax 8) and q5_0 (nmax 16): blocks of 32 with one fp16 scale d and codes q in
// [0, 2 nmax) meaning (q - nmax) d. Without importance, d maps the value of largest
// magnitude to -nmax; with it, the weighted scale search of scale_search.hpp.
template <class Block, int nmax>
inline void quantize_row_symmetric_32(const float* x, void* dst, Index n, const float* importance) {
  const Index nb = n / 32;
  std::uint8_t q[32];
  if (!importance) {
    for (Index i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      const float d = signed_absmax(xb, 32) / -nmax;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j) {
        q[j] = static_cast<std::uint8_t>(c_min(2 * nmax - 1, static_cast<int>(truncate_i8(xb[j] * id + (nmax + 0.5f)))));
      }
      Block b{};
      store_le16(b.d, fp32_to_fp16(d));
      pack_codes(q, b);
      put_block(dst, i, b);
    }
    return;
  }
  // Up to four blocks per scale search (one per SIMD lane, see scale_search.hpp).
  const float sigma2 = row_mean_square(x, n);
  float weight[4 * 32], d[4];
  std::int8_t L[4 * 32];
  for (Index i0 = 0; i0 < nb; i0 += 4) {
    const int blocks = static_cast<int>(nb - i0 < 4 ? nb - i0 : 4);
    for (int k = 0; k < blocks; ++k) {
      importance_weights(x + 32 * (i0 + k), importance + 32 * (i0 + k), sigma2, 32, weight + 32 * k);
    }
    search_symmetric_scales(blocks, 32, nmax, x + 32 * i0, L, d, weight);
    for (int k = 0; k < blocks; ++k) {
      for (int j = 0; j < 32; ++j) q[j] = static_cast<std::uint8_t>(L[32 * k + j]);
      Block b{};
      store_le16(b.d, fp32_to_fp16(d[k]));
      pack_codes(q, b);
      put_block(dst, i0 + k, b);
    }
  }
}

// q4_1 and q5_1 with importance: the weighted affine search of scale_search.hpp, up to four
// blocks at a time; `store` packs block i from its scale, -min and codes.
template <class Store>
inline void quantize_row_affine_32_weighted(const float* x, Index n, const float* importance, int nmax, Store store) {
  const Index nb = n / 32;
  const float sigma2 = row_mean_square(x, n);
  float weight[4 * 32], d[4], neg_min[4];
  std::uint8_t L[4 * 32];
  for (Index i0 = 0; i0 < nb; i0 += 4) {
    const int blocks = static_cast<int>(nb - i0 < 4 ? nb - i0 : 4);
    for (int k = 0; k < blocks; ++k) {
      importance_weights(x + 32 * (i0 + k), importance + 32 * (i0 + k), sigma2, 32, weight + 32 * k);
    }
    search_affine_scales(blocks, 32, nmax, x + 32 * i0, weight, L, d, neg_min, -0.9f, 0.05f, 36, false);
    for (int k = 0; k < blocks; ++k) store(i0 + k, d[k], neg_min[k], L + 32 * k);
  }
}

}  // namespace detail

// ---- q4_0: (q - 8) * d ----------------------------------------------------

inline void quantize_row_q4_0(const float* x, void* dst, Index n, const float* importance) {
  detail::quantize_row_symmetric_32<BlockQ4_0, 8>(x, dst, n, importance);
}

inline void dequantize_row_q4_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockQ4_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    std::uint8_t q[32];
    unpack_nibbles_32(b.qs, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = static_cast<float>(q[j] - 8) * d;
  }
}

// ---- q4_1: q * d + m ------------------------------------------------------

inline void quantize_row_q4_1(const float* x, void* dst, Index n, const float* importance) {
  const Index nb = n / 32;
  if (!importance) {
    for (Index i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      float min, max;
      detail::min_max(xb, 32, &min, &max);
      const float d = (max - min) / 15;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      BlockQ4_1 b{};
      store_le16(b.d, fp32_to_fp16(d));
      store_le16(b.m, fp32_to_fp16(min));
      for (int j = 0; j < 16; ++j) {
        const int q0 = c_min(15, static_cast<int>(truncate_i8((xb[j] - min) * id + 0.5f)));
        const int q1 = c_min(15, static_cast<int>(truncate_i8((xb[j + 16] - min) * id + 0.5f)));
        b.qs[j] = static_cast<std::uint8_t>((q0 & 0xFF) | ((q1 << 4) & 0xFF));
      }
      detail::put_block(dst, i, b);
    }
    return;
  }
  detail::quantize_row_affine_32_weighted(x, n, importance, 15,
                                          [dst](Index i, float d, float neg_min, const std::uint8_t* L) {
                                            BlockQ4_1 b{};
                                            store_le16(b.d, fp32_to_fp16(d));
                                            store_le16(b.m, fp32_to_fp16(-neg_min));
                                            for (int j = 0; j < 16; ++j) {
                                              b.qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
                                            }
                                            detail::put_block(dst, i, b);
                                          });
}

inline void dequantize_row_q4_1(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockQ4_1>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const float m = fp16_to_fp32(load_le16(b.m));
    std::uint8_t q[32];
    unpack_nibbles_32(b.qs, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = static_cast<float>(q[j]) * d + m;
  }
}

// ---- q5_0: (q - 16) * d ---------------------------------------------------

inline void quantize_row_q5_0(const float* x, void* dst, Index n, const float* importance) {
  detail::quantize_row_symmetric_32<BlockQ5_0, 16>(x, dst, n, importance);
}

inline void dequantize_row_q5_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockQ5_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const std::uint32_t qh = load_le32(b.qh);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10u);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
      y[32 * i + j] = static_cast<float>(((b.qs[j] & 0x0F) | h0) - 16) * d;
      y[32 * i + j + 16] = static_cast<float>(((b.qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

// ---- q5_1: q * d + m ------------------------------------------------------

inline void quantize_row_q5_1(const float* x, void* dst, Index n, const float* importance) {
  const Index nb = n / 32;
  std::uint8_t q[32];
  if (!importance) {
    for (Index i = 0; i < nb; ++i) {
      const float* xb = x + 32 * i;
      float min, max;
      detail::min_max(xb, 32, &min, &max);
      const float d = (max - min) / 31;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      BlockQ5_1 b{};
      store_le16(b.d, fp32_to_fp16(d));
      store_le16(b.m, fp32_to_fp16(min));
      for (int j = 0; j < 32; ++j) q[j] = truncate_u8((xb[j] - min) * id + 0.5f);
      detail::pack_nibbles_q5(q, b.qs, b.qh);
      detail::put_block(dst, i, b);
    }
    return;
  }
  detail::quantize_row_affine_32_weighted(x, n, importance, 31,
                                          [dst](Index i, float d, float neg_min, const std::uint8_t* L) {
                                            BlockQ5_1 b{};
                                            store_le16(b.d, fp32_to_fp16(d));
                                            store_le16(b.m, fp32_to_fp16(-neg_min));
                                            detail::pack_nibbles_q5(L, b.qs, b.qh);
                                            detail::put_block(dst, i, b);
                                          });
}

inline void dequantize_row_q5_1(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockQ5_1>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const float m = fp16_to_fp32(load_le16(b.m));
    const std::uint32_t qh = load_le32(b.qh);
    for (int j = 0; j < 16; ++j) {
      const int h0 = static_cast<int>(((qh >> j) << 4) & 0x10u);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10u);
      y[32 * i + j] = static_cast<float>((b.qs[j] & 0x0F) | h0) * d + m;
      y[32 * i + j + 16] = static_cast<float>((b.qs[j] >> 4) | h1) * d + m;
    }
  }
}

// ---- q8_0: q * d, q = round(x / (amax / 127)) ------------------------------

inline void quantize_row_q8_0(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const float* xb = x + 32 * i;
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = c_max(amax, std::fabs(xb[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    BlockQ8_0 b{};
    store_le16(b.d, fp32_to_fp16(d));
    for (int j = 0; j < 32; ++j) b.qs[j] = truncate_i8(std::round(xb[j] * id));
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_q8_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockQ8_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    for (int j = 0; j < 32; ++j) y[32 * i + j] = static_cast<float>(b.qs[j]) * d;
  }
}

// ---- q1_0: sign bits times the mean absolute value (128 per block) ---------

inline void quantize_row_q1_0(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / 128; ++i) {
    const float* xb = x + 128 * i;
    float sum_abs = 0.0f;
    for (int j = 0; j < 128; ++j) sum_abs += std::fabs(xb[j]);
    BlockQ1_0 b{};
    store_le16(b.d, fp32_to_fp16(sum_abs / 128));
    for (int j = 0; j < 128; ++j) {
      if (xb[j] >= 0.0f) b.qs[j / 8] = static_cast<std::uint8_t>(b.qs[j / 8] | (1u << (j % 8)));
    }
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_q1_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 128; ++i) {
    const auto b = detail::get_block<BlockQ1_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const float neg_d = -d;
    for (int j = 0; j < 128; ++j) y[128 * i + j] = ((b.qs[j / 8] >> (j % 8)) & 1) ? d : neg_d;
  }
}

// ---- q2_0: (q - 1) * d, q in 0..3, d = amax (64 per block) -----------------

inline void quantize_row_q2_0(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / 64; ++i) {
    const float* xb = x + 64 * i;
    float amax = 0.0f;
    for (int j = 0; j < 64; ++j) {
      const float a = std::fabs(xb[j]);
      if (a > amax) amax = a;
    }
    const float d = amax;
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    BlockQ2_0 b{};
    store_le16(b.d, fp32_to_fp16(d));
    for (int j = 0; j < 64; ++j) {
      // ggml casts roundf's result to int: the integer indefinite for NaN, so +1 cannot overflow
      const std::int64_t q = c_max<std::int64_t>(0, c_min<std::int64_t>(3, std::int64_t{truncate_i32(std::round(xb[j] * id))} + 1));
      b.qs[j / 4] = static_cast<std::uint8_t>(b.qs[j / 4] | (q << ((j % 4) * 2)));
    }
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_q2_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 64; ++i) {
    const auto b = detail::get_block<BlockQ2_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    for (int j = 0; j < 64; ++j) {
      const int q = (b.qs[j / 4] >> ((j % 4) * 2)) & 3;
      y[64 * i + j] = static_cast<float>(q - 1) * d;
    }
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
