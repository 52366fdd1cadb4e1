// ggml's ternary types (BitNet b1.58, TriLM): super-blocks of 256 elements,
// each -1, 0 or +1 times one fp16 scale, the block's largest magnitude.
//   tq2_0  2 bits per element (code - 1), four codes 32 apart per byte
//   tq1_0  1.6875 bits: five trits per byte as a base-3 number scaled to a
//          byte (ceil(n * 256 / 243)) so that multiplying by 3 shifts the next
//          trit into the top bits; 48 such bytes hold 240 elements, 4 bytes
//          of four trits the last 16.
// ggml ignores importance weights for both.
#pragma once

#include <cmath>
#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

// The trit of x * id as ggml stores it, 0..2 for -1..1: lroundf(x * id) + 1
// kept modulo 256 (only its low byte reaches the packed bytes).
inline unsigned trit(float x, float id) {
  return static_cast<unsigned>((static_cast<std::uint64_t>(lround_i64(x * id)) + 1u) & 0xFFu);
}

inline float ternary_scale(const float* x, float* id) {
  float amax = 0.0f;
  for (int j = 0; j < kSuperBlock; ++j) amax = c_max(amax, std::fabs(x[j]));
  *id = amax != 0.0f ? 1.0f / amax : 0.0f;
  return amax;
}

// Five (or four, then times 3) trits as a base-3 number in a byte, scaled by 256/243 rounding up.
inline std::uint8_t pack_trits(const float* x, int stride, int count, float id) {
  unsigned q = 0;
  for (int n = 0; n < count; ++n) q = (((q * 3u) & 0xFFu) + trit(x[n * stride], id)) & 0xFFu;
  if (count == 4) q = (q * 3u) & 0xFFu;  // the first trit moves to the top position
  return static_cast<std::uint8_t>((q * 256u + 242u) / 243u);
}

inline float unpack_trit(std::uint8_t byte, int position, float d) {
  static constexpr std::uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const unsigned q = static_cast<std::uint8_t>(byte * kPow3[position]);  // drops the higher trits
  const int xi = static_cast<int>((q * 3u) >> 8);
  return static_cast<float>(xi - 1) * d;
}

}  // namespace detail

// ---- tq1_0 ------------------------------------------------------------------

inline void quantize_row_tq1_0(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    BlockTQ1_0 b{};
    float id;
    store_le16(b.d, fp32_to_fp16(detail::ternary_scale(x, &id)));
    for (int m = 0; m < 32; ++m) b.qs[m] = detail::pack_trits(x + m, 32, 5, id);         // elements 0..159
    for (int m = 0; m < 16; ++m) b.qs[32 + m] = detail::pack_trits(x + 160 + m, 16, 5, id);  // 160..239
    for (int j = 0; j < 4; ++j) b.qh[j] = detail::pack_trits(x + 240 + j, 4, 4, id);      // 240..255
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_tq1_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockTQ1_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    for (int p = 0; p < 5; ++p) {
      for (int m = 0; m < 32; ++m) *y++ = detail::unpack_trit(b.qs[m], p, d);
    }
    for (int p = 0; p < 5; ++p) {
      for (int m = 0; m < 16; ++m) *y++ = detail::unpack_trit(b.qs[32 + m], p, d);
    }
    for (int p = 0; p < 4; ++p) {
      for (int j = 0; j < 4; ++j) *y++ = detail::unpack_trit(b.qh[j], p, d);
    }
  }
}

// ---- tq2_0 ------------------------------------------------------------------

inline void quantize_row_tq2_0(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i, x += kSuperBlock) {
    BlockTQ2_0 b{};
    float id;
    store_le16(b.d, fp32_to_fp16(detail::ternary_scale(x, &id)));
    for (int j = 0; j < 64; j += 32) {
      for (int m = 0; m < 32; ++m) {
        unsigned q = 0;
        for (int k = 0; k < 4; ++k) q += (detail::trit(x[4 * j + m + 32 * k], id) & 3u) << (2 * k);
        b.qs[j + m] = static_cast<std::uint8_t>(q);
      }
    }
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_tq2_0(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / kSuperBlock; ++i) {
    const auto b = detail::get_block<BlockTQ2_0>(src, i);
    const float d = fp16_to_fp32(load_le16(b.d));
    for (int j = 0; j < 64; j += 32) {
      for (int k = 0; k < 4; ++k) {
        for (int m = 0; m < 32; ++m) *y++ = static_cast<float>(((b.qs[j + m] >> (2 * k)) & 3) - 1) * d;
      }
    }
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
