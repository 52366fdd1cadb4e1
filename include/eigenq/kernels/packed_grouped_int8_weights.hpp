// int8 weights with one scale per group of G consecutive inputs (G = 16, 32 or 128), packed once for
// the grouped int8 GEMV (gemv_grouped_int8.hpp): ggml's Q8_0 (int8 codes, an fp16 scale per 32)
// or q6_K (6-bit codes, a scale per 16) laid out for SIMD, in the panels of the int4 format (packed_int4_weights.hpp).
//
// Values. W is N x K, W(n, k) = scale(n, g) * code(n, k) with g = k / G, code in [-128, 127]
// and scale f32 or IEEE f16 (rounded to nearest even when packed). K is padded to Kp, a
// multiple of G, with code 0.
//
// Layout. Panels of 64 columns as in the int4 format (the last holds the rest rounded up to a
// multiple of 16; padding: code 0, scale 0). A panel of width w (16 * nb) is Kp / G group
// records; a record holds G / 8 octet rows of nb 128-byte blocks, then w scales:
//   code byte (o, b, 4c + j), c < 16, j < 4, for channel n0 + 16b + c:
//     bytes 0..63 of the block:   code(n, g*G + 8o + j)
//     bytes 64..127 of the block: code(n, g*G + 8o + 4 + j)
//   codes are two's complement; scales: w little-endian f32 or f16 values.
// So each 32-bit lane is one channel x 4 consecutive k, the two halves of a block playing the
// parts of the int4 format's low and high nibbles: the int4 kernels' loops run on it unchanged
// but for the loads.
#pragma once

#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"

namespace eigenq {
namespace kernels {

class PackedGroupedInt8Weights : public detail::GroupedPanels {
 public:
  PackedGroupedInt8Weights() = default;

  // code(n, k), read back from the packed layout.
  std::int8_t code(Index n, Index k) const {
    bool high;
    return static_cast<std::int8_t>(*code_byte(n, k, high));
  }

 private:
  friend PackedGroupedInt8Weights pack_grouped_int8_weights(const std::int8_t*, Index, Index, Index, const float*,
                                                             Index, Index, ScaleType);
};

// Packs codes(n, k) = codes[n * ld + k] (N x K, row-major) with scales(n, g) =
// scales[n * scale_ld + g], g < ceil(K / G).
inline PackedGroupedInt8Weights pack_grouped_int8_weights(const std::int8_t* codes, Index n, Index k, Index ld,
                                                          const float* scales, Index scale_ld, Index group_size,
                                                          ScaleType scale_type = ScaleType::f16) {
  PackedGroupedInt8Weights w;
  w.lay_out("pack_grouped_int8_weights", codes, n, k, ld, scales, scale_ld, group_size, scale_type, 8, 0);
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      bool high;
      *w.code_byte(i, kk, high) = static_cast<std::uint8_t>(codes[i * ld + kk]);
    }
  }
  w.write_scales(scales, scale_ld);
  return w;
}

}  // namespace kernels
}  // namespace eigenq
