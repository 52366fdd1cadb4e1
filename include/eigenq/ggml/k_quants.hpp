// ggml's k-quants: super-blocks of 256 elements split into groups of 16 or
// 32, each group with its own small integer scale (and minimum), the group
// scales themselves quantized against one or two fp16 super-block scales.
// Layouts: eigenq/ggml/blocks.hpp.
//
//   q2_K  16 groups of 16, 2-bit codes, 4-bit scale and min per group
//   q3_K  16 groups of 16, 3-bit signed codes, 6-bit signed scale per group
//   q4_K   8 groups of 32, 4-bit codes, 6-bit scale and min per group
//   q5_K   8 groups of 32, 5-bit codes, 6-bit scale and min per group
//   q6_K  16 groups of 16, 6-bit signed codes, int8 scale per group
//
// Without importance weights these follow ggml's quantize_row_*_K_ref; with
// them, ggml's quantize_row_*_K_impl: element weights
// importance * sqrt(sigma2 + x^2) (q6_K: the importance alone), and the group
// scales fitted by a weighted search instead of a max.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/scale_search.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

inline float block_sum_squares(const float* x) {
  float s = 0;
  for (int j = 0; j < kSuperBlock; ++j) s += x[j] * x[j];
  return s;
}

// 2-bit codes of 256 elements: byte l of each 32-byte half holds elements
// l, l + 32, l + 64, l + 96 of its 128 in bits 0-1, 2-3, 4-5, 6-7.
inline void pack_2bit_codes(const std::uint8_t* L, std::uint8_t* qs) {
  for (int j = 0; j < kSuperBlock; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                                (L[j + l + 96] << 6));
    }
  }
}

// q4_K / q5_K: eight 6-bit scales and eight 6-bit mins in 12 bytes. Groups
// 0-3 use the low 6 bits of bytes 0-3 (scale) and 4-7 (min); groups 4-7 keep
// their low 4 bits in bytes 8-11 and their top 2 bits in the spare top bits
// of bytes 0-7.
inline void pack_scale_min_k4(const std::uint8_t* ls, const std::uint8_t* lm, std::uint8_t* scales) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      scales[j] = ls[j];
      scales[j + 4] = lm[j];
    } else {
      scales[j + 4] = static_cast<std::uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      scales[j - 4] = static_cast<std::uint8_t>(scales[j - 4] | ((ls[j] >> 4) << 6));
      scales[j] = static_cast<std::uint8_t>(scales[j] | ((lm[j] >> 4) << 6));
    }
  }
}

inline void unpack_scale_min_k4(int j, const std::uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// q3_K: sixteen 6-bit scales (stored + 32) in 12 bytes: low nibbles in bytes
// 0-7 (groups 0-7 low half, 8-15 high half), top 2 bits in bytes 8-11.
inline void pack_scales_q3(const int* l6, std::uint8_t* scales) {
  std::memset(scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const unsigned l = static_cast<unsigned>(l6[j]);
    if (j < 8) {
      scales[j] = static_cast<std::uint8_t>(l & 0xF);
    } else {
      scales[j - 8] = static_cast<std::uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
    }
    scales[j % 4 + 8] = static_cast<std::uint8_t>(scales[j % 4 + 8] | ((l >> 4) << (2 * (j / 4))));
  }
}

inline int unpack_scale_q3(int j, const std::uint8_t* scales) {
  const int low = j < 8 ? (scales[j] & 0xF) : (scales[j - 8] >> 4);
  return (low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// q2_K: codes again from the stored scales and mins (groups with a zero
// scale keep their search codes).
inline void requantize_q2_K(const float* x, const BlockQ2_K& b, std::uint8_t* L) {
  const float dall = fp16_to_fp32(load_le16(b.d));
  const float mall = fp16_to_fp32(load_le16(b.dmin));
  for (int j = 0; j < 16; ++j) {
    const float d = dall * static_cast<float>(b.scales[j] & 0xF);
    if (!(d != 0.0f)) continue;
    const float dm = mall * static_cast<float>(b.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<std::uint8_t>(c_max(0, c_min(3, round_to_int((x[16 * j + ii] + dm) / d))));
    }
  }
}

// q3_K: the high bit of code j goes to hmask[j % 32], bit j / 32; codes keep their low 2 bits.
inline void finish_q3_K(const float* x, std::int8_t* L, BlockQ3_K& b) {
  const float dall = fp16_to_fp32(load_le16(b.d));
  for (int j = 0; j < 16; ++j) {
    const float d = dall * static_cast<float>(unpack_scale_q3(j, b.scales));
    if (!(d != 0.0f)) continue;
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<std::int8_t>(c_max(-4, c_min(3, round_to_int(x[16 * j + ii] / d))) + 4);
    }
  }
  std::memset(b.hmask, 0, sizeof b.hmask);
  int m = 0;
  unsigned hm = 1;
  std::uint8_t low[kSuperBlock];
  for (int j = 0; j < kSuperBlock; ++j) {
    int l = L[j];
    if (l > 3) {
      b.hmask[m] = static_cast<std::uint8_t>(b.hmask[m] | hm);
      l -= 4;
    }
    low[j] = static_cast<std::uint8_t>(l);
    if (++m == 32) {
      m = 0;
      hm <<= 1;
    }
  }
  pack_2bit_codes(low, b.qs);
}

// q4_K / q5_K: codes again from the stored 6-bit scales and mins.
inline void requantize_k4(const float* x, const std::uint8_t* d_bytes, const std::uint8_t* dmin_bytes,
                          const std::uint8_t* scales, int nmax, std::uint8_t* L) {
  const float dall = fp16_to_fp32(load_le16(d_bytes));
  const float mall = fp16_to_fp32(load_le16(dmin_bytes));
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    unpack_scale_min_k4(j, scales, &sc, &m);
    const float d = dall * static_cast<float>(sc);
    if (!(d != 0.0f)) continue;
    const float dm = mall * static_cast<float>(m);
    for (int ii = 0; ii < 32; ++ii) {
      L[32 * j + ii] = static_cast<std::uint8_t>(c_max(0, c_min(nmax, round_to_int((x[32 * j + ii] + dm) / d))));
    }
  }
}

inline void pack_q4_K_codes(const std::uint8_t* L, std::uint8_t* qs) {
  for (int j = 0; j < kSuperBlock; j += 64) {
    for (int l = 0; l < 32; ++l) qs[j / 2 + l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
  }
}

inline void pack_q5_K_codes(const std::uint8_t* L, std::uint8_t* qs, std::uint8_t* qh) {
  std::memset(qh, 0, 32);
  unsigned m1 = 1, m2 = 2;
  for (int n = 0; n < kSuperBlock; n += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] = static_cast<std::uint8_t>(qh[j] | m1);
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] = static_cast<std::uint8_t>(qh[j] | m2);
      }
      qs[n / 2 + j] = static_cast<std::uint8_t>(l1 | (l2 << 4));
    }
    m1 <<= 2;
    m2 <<= 2;
  }
}

// q6_K: low 4 bits of four codes 32 apart share two ql bytes, their top 2 bits one qh byte.
inline void pack_q6_K_codes(const std::int8_t* L, std::uint8_t* ql, std::uint8_t* qh) {
  for (int j = 0; j < kSuperBlock; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], d = L[j + l + 96];
      ql[j / 2 + l] = static_cast<std::uint8_t>((a & 0xF) | ((c & 0xF) << 4));
      ql[j / 2 + l + 32] = static_cast<std::uint8_t>((b & 0xF) | ((d & 0xF) << 4));
      qh[j / 4 + l] = static_cast<std::uint8_t>((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((d >> 4) << 6));
    }
  }
}

// The affine k-quants (q4_K, q5_K) without importance: per group weights
// sqrt(mean x^2) + |x|, then the group scales and mins quantized to 6 bits
// against their maxima.
inline void quantize_block_k4_ref(const float* x, int nmax, float rmin, float rdelta, int nstep,
                                  std::uint8_t* d_bytes, std::uint8_t* dmin_bytes, std::uint8_t* scales_out,
                                  std::uint8_t* L) {
  float weights[kSuperBlock];
  for (int j = 0; j < 8; ++j) {
    const float* xg = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xg[l] * xg[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[32 * j + l] = av_x + std::fabs(xg[l]);
  }
  float mins[8], scales[8];
  search_affine_scales(8, 32, nmax, x, weights, L, scales, mins, rmin, rdelta, nstep, false);
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = static_cast<std::uint8_t>(round_to_int(inv_scale * scales[j]));
    lm[j] = static_cast<std::uint8_t>(round_to_int(inv_min * mins[j]));
    ls[j] = c_min<std::uint8_t>(63, ls[j]);
    lm[j] = c_min<std::uint8_t>(63, lm[j]);
  }
  pack_scale_min_k4(ls, lm, scales_out);
  store_le16(d_bytes, fp32_to_fp16(max_scale / 63.f));
  store_le16(dmin_bytes, fp32_to_fp16(max_min / 63.f));
  requantize_k4(x, d_bytes, dmin_bytes, scales_out, nmax, L);
}

// The affine k-quants with importance: weighted searches for the group
// scales/mins, then those quantized to 6 bits by a weighted search too.
inline void quantize_block_k4_weighted(const float* x, const float* qw, int nmax, bool clamp_scales,
                                       std::uint8_t* d_bytes, std::uint8_t* dmin_bytes,
                                       std::uint8_t* scales_out, std::uint8_t* L) {
  float weights[kSuperBlock];
  float mins[8], scales[8], sw[8];
  const float sigma2 = 2 * block_sum_squares(x) / kSuperBlock;
  for (int j = 0; j < 8; ++j) {
    importance_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights + 32 * j);
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[32 * j + l];
    sw[j] = sumw;
  }
  search_affine_scales(8, 32, nmax, x, weights, L, scales, mins, -0.9f, 0.05f, 36, false);
  std::uint8_t ls[8], lm[8];
  const float d_block = search_positive_scale(8, 63, scales, ls, sw);
  const float m_block = search_positive_scale(8, 63, mins, lm, sw);
  if (clamp_scales) {  // q5_K clamps the stored codes, q4_K does not
    for (int j = 0; j < 8; ++j) {
      ls[j] = c_min<std::uint8_t>(63, ls[j]);
      lm[j] = c_min<std::uint8_t>(63, lm[j]);
    }
  }
  pack_scale_min_k4(ls, lm, scales_out);
  store_le16(d_bytes, fp32_to_fp16(d_block));
  store_le16(dmin_bytes, fp32_to_fp16(m_block));
  requantize_k4(x, d_bytes, dmin_bytes, scales_out, nmax, L);
}

// q6_K's block with or without importance (ggml uses the importance values
// directly as the search weights, x^2 without them).
inline BlockQ6_K quantize_block_q6_K(const float* x, const float* qw) {
  std::int8_t L[kSuperBlock];
  float scales[16];
  float max_scale = 0;
  float max_abs_scale = 0;
  search_symmetric_scales(16, 16, 32, x, L, scales, qw);
  for (int ib = 0; ib < 16; ++ib) {
    const float scale = scales[ib];
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  BlockQ6_K b{};
  if (max_abs_scale < kGroupMaxEps) return b;  // all zero, d = +0
  const float iscale = -128.f / max_scale;
  store_le16(b.d, fp32_to_fp16(1 / iscale));
  for (int ib = 0; ib < 16; ++ib) {
    b.scales[ib] = static_cast<std::int8_t>(c_min(127, round_to_int(iscale * scales[ib])));
  }
  const float dall = fp16_to_fp32(load_le16(b.d));
  for (int j = 0; j < 16; ++j) {
    const float d = dall * static_cast<float>(b.scales[j]);
    if (!(d != 0.0f)) continue;
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] = static_cast<std::int8_t>(c_max(-32, c_min(31, round_to_int(x[16 * j + ii] / d))) + 32);
    }
  }
  pack_q6_K_codes(L, b.ql, b.qh);
  return b;
}

}  // namespace detail

// ---- q2_K -------------------------------------------------------------------

inline void quantize_row_q2_K(const float* x, void* dst, Index n, const float* importance) {
  std::uint8_t L[kSuperBlock];
  float weights[kSuperBlock], mins[16], scales[16];
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    BlockQ2_K b{};
    if (!importance) {
      for (int l = 0; l < kSuperBlock; ++l) weights[l] = std::fabs(x[l]);
      search_affine_scales(16, 16, 3, x, weights, L, scales, mins, -0.5f, 0.1f, 15, true);
      float max_scale = 0;
      float max_min = 0;
      for (int j = 0; j < 16; ++j) {
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      if (max_scale > 0) {
        const float iscale = 15.f / max_scale;
        for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::uint8_t>(round_to_int(iscale * scales[j]));
        store_le16(b.d, fp32_to_fp16(max_scale / 15.f));
      } else {
        store_le16(b.d, fp32_to_fp16(0.f));
      }
      if (max_min > 0) {
        const float iscale = 15.f / max_min;
        for (int j = 0; j < 16; ++j) {
          const unsigned l = static_cast<unsigned>(round_to_int(iscale * mins[j]));
          b.scales[j] = static_cast<std::uint8_t>(b.scales[j] | (l << 4));
        }
        store_le16(b.dmin, fp32_to_fp16(max_min / 15.f));
      } else {
        store_le16(b.dmin, fp32_to_fp16(0.f));
      }
    } else {
      const float* qw = importance + kSuperBlock * i;
      float sw[16] = {};
      const float sigma2 = detail::block_sum_squares(x) / kSuperBlock;
      for (int j = 0; j < 16; ++j) {
        detail::importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weights + 16 * j);
        for (int l = 0; l < 16; ++l) sw[j] += weights[16 * j + l];
      }
      search_affine_scales(16, 16, 3, x, weights, L, scales, mins, -0.9f, 0.05f, 36, false);
      std::uint8_t Ls[16], Lm[16];
      const float dm = search_positive_scale(16, 15, scales, Ls, sw);
      const float mm = search_positive_scale(16, 15, mins, Lm, sw);
      store_le16(b.d, fp32_to_fp16(dm));
      store_le16(b.dmin, fp32_to_fp16(mm));
      for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<std::uint8_t>(Ls[j] | (Lm[j] << 4));
    }
    detail::requantize_q2_K(x, b, L);
    detail::pack_2bit_codes(L, b.qs);
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_q2_K(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockQ2_K>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const float min = fp16_to_fp32(load_le16(b.dmin));
    for (int g = 0; g < 16; ++g) {  // group g: elements 16g..16g+15
      const float dl = d * static_cast<float>(b.scales[g] & 0xF);
      const float ml = min * static_cast<float>(b.scales[g] >> 4);
      const int half = g / 8, shift = 2 * ((g % 8) / 2), off = 16 * (g % 2);
      for (int l = 0; l < 16; ++l) {
        const int q = (b.qs[32 * half + off + l] >> shift) & 3;
        *y++ = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

// ---- q3_K -------------------------------------------------------------------

inline void quantize_row_q3_K(const float* x, void* dst, Index n, const float* importance) {
  std::int8_t L[kSuperBlock];
  float scales[16];
  int l6[16];
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    BlockQ3_K b{};
    if (!importance) {
      float max_scale = 0;
      float amax = 0;
      refine_symmetric_codes_groups(16, 16, 4, x, L, scales);
      for (int j = 0; j < 16; ++j) {
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
          amax = scale;
          max_scale = scales[j];
        }
      }
      if (max_scale != 0.0f) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < 16; ++j) {
          // ggml stores the rounded value in an int8 before clamping
          const std::int8_t l = static_cast<std::int8_t>(round_to_int(iscale * scales[j]));
          l6[j] = c_max(-32, c_min(31, static_cast<int>(l))) + 32;
        }
        detail::pack_scales_q3(l6, b.scales);
        store_le16(b.d, fp32_to_fp16(1 / iscale));
      } else {
        store_le16(b.d, fp32_to_fp16(0.f));
      }
    } else {
      const float* qw = importance + kSuperBlock * i;
      float weight[kSuperBlock], sw[16];
      const float sigma2 = 2 * detail::block_sum_squares(x) / kSuperBlock;
      for (int j = 0; j < 16; ++j) {
        detail::importance_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight + 16 * j);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weight[16 * j + l];
        sw[j] = sumw;
      }
      search_symmetric_scales(16, 16, 4, x, L, scales, weight);
      std::int8_t Ls[16];
      const float d_block = search_symmetric_scale(16, 32, scales, Ls, sw);
      for (int j = 0; j < 16; ++j) l6[j] = Ls[j];
      detail::pack_scales_q3(l6, b.scales);
      store_le16(b.d, fp32_to_fp16(d_block));
    }
    detail::finish_q3_K(x, L, b);
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_q3_K(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockQ3_K>(src, i);
    const float d_all = fp16_to_fp32(load_le16(b.d));
    for (int g = 0; g < 16; ++g) {
      const float dl = d_all * static_cast<float>(detail::unpack_scale_q3(g, b.scales));
      const int half = g / 8, shift = 2 * ((g % 8) / 2), off = 16 * (g % 2);
      const unsigned hbit = 1u << (g / 2);  // bit (element / 32) of hmask[element % 32]
      for (int l = 0; l < 16; ++l) {
        const int low = (b.qs[32 * half + off + l] >> shift) & 3;
        const int q = low - ((b.hmask[off + l] & hbit) ? 0 : 4);
        *y++ = dl * static_cast<float>(q);
      }
    }
  }
}

// ---- q4_K and q5_K ------------------------------------------------------------
// 8 groups of 32 with 6-bit scales and mins (d * sc * q - dmin * m); q5_K's codes have a
// fifth bit in qh. The two differ only in the code range and the reference search's constants.

namespace detail {

inline void pack_codes(const std::uint8_t* L, BlockQ4_K& b) { pack_q4_K_codes(L, b.qs); }
inline void pack_codes(const std::uint8_t* L, BlockQ5_K& b) { pack_q5_K_codes(L, b.qs, b.qh); }

template <class Block>
inline void quantize_row_k_32(const float* x, void* dst, Index n, const float* importance) {
  constexpr bool five_bits = std::is_same_v<Block, BlockQ5_K>;
  std::uint8_t L[kSuperBlock];
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    Block b{};
    if (!importance) {
      if constexpr (five_bits) quantize_block_k4_ref(x, 31, -0.5f, 0.1f, 15, b.d, b.dmin, b.scales, L);
      else quantize_block_k4_ref(x, 15, -1.f, 0.1f, 20, b.d, b.dmin, b.scales, L);
    } else {
      quantize_block_k4_weighted(x, importance + kSuperBlock * i, five_bits ? 31 : 15, five_bits, b.d, b.dmin,
                                 b.scales, L);
    }
    pack_codes(L, b);
    put_block(dst, i, b);
  }
}

template <class Block>
inline void dequantize_row_k_32(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = get_block<Block>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    const float min = fp16_to_fp32(load_le16(b.dmin));
    std::uint8_t nibbles[kSuperBlock];
    unpack_nibbles_k(b.qs, nibbles);
    for (int g = 0; g < 8; ++g) {
      int sc, m;
      unpack_scale_min_k4(g, b.scales, &sc, &m);
      const float dl = d * static_cast<float>(sc);
      const float ml = min * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) {
        int q = nibbles[32 * g + l];
        if constexpr (std::is_same_v<Block, BlockQ5_K>) q += (b.qh[l] & (1u << g)) ? 16 : 0;
        *y++ = dl * static_cast<float>(q) - ml;
      }
    }
  }
}

}  // namespace detail

inline void quantize_row_q4_K(const float* x, void* dst, Index n, const float* importance) {
  detail::quantize_row_k_32<BlockQ4_K>(x, dst, n, importance);
}
inline void dequantize_row_q4_K(const void* src, float* y, Index n) { detail::dequantize_row_k_32<BlockQ4_K>(src, y, n); }

inline void quantize_row_q5_K(const float* x, void* dst, Index n, const float* importance) {
  detail::quantize_row_k_32<BlockQ5_K>(x, dst, n, importance);
}
inline void dequantize_row_q5_K(const void* src, float* y, Index n) { detail::dequantize_row_k_32<BlockQ5_K>(src, y, n); }

// ---- q6_K -------------------------------------------------------------------

inline void quantize_row_q6_K(const float* x, void* dst, Index n, const float* importance) {
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    const BlockQ6_K b = detail::quantize_block_q6_K(x, importance ? importance + kSuperBlock * i : nullptr);
    detail::put_block(dst, i, b);
  }
}

// The 256 codes q - 32 (in [-32, 31]) of a q6_K block in element order: element e has the
// int8 scale scales[e / 16] and the value d * scales[e / 16] * code[e].
inline void q6_K_codes(const BlockQ6_K& b, std::int8_t* codes) {
  for (int half = 0; half < 2; ++half) {
    const std::uint8_t* ql = b.ql + 64 * half;
    const std::uint8_t* qh = b.qh + 32 * half;
    std::int8_t* c = codes + 128 * half;
    for (int l = 0; l < 32; ++l) {
      c[l] = static_cast<std::int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
      c[l + 32] = static_cast<std::int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
      c[l + 64] = static_cast<std::int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      c[l + 96] = static_cast<std::int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

inline void dequantize_row_q6_K(const void* src, float* y, Index n) {
  std::int8_t codes[kSuperBlock];
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockQ6_K>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    q6_K_codes(b, codes);
    for (int e = 0; e < kSuperBlock; ++e) {
      y[kSuperBlock * i + e] = d * static_cast<float>(b.scales[e / 16]) * static_cast<float>(codes[e]);
    }
  }
}

// ggml's quantize_row_q8_K_ref (the activations of its k-quant dot products): per block of 256,
// max = the value of largest magnitude (the first on a tie), iscale = -127 / max,
// q = min(127, nearest_int(iscale * x)), d = 1 / iscale (0 and all codes 0 for an all-zero
// block). Codes to q[0 .. n), one d per block to d[0 .. n / 256).
inline void quantize_row_q8_K(const float* x, std::int8_t* q, float* d, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const float* xb = x + kSuperBlock * i;
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kSuperBlock; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    std::int8_t* qb = q + kSuperBlock * i;
    if (amax == 0.0f) {
      d[i] = 0.0f;
      for (int j = 0; j < kSuperBlock; ++j) qb[j] = 0;
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kSuperBlock; ++j) {
      const int v = round_to_int(iscale * xb[j]);
      qb[j] = static_cast<std::int8_t>(v < 127 ? v : 127);
    }
    d[i] = 1.0f / iscale;
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
