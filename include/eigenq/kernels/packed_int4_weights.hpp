// int4 weights with one scale per group of G consecutive inputs (G = 32 or
// 128), packed once for the grouped int4 GEMV (gemv_int4.hpp): the weight-only
// 4-bit format of LLM inference, like llama.cpp's Q4_0 but laid out for SIMD.
//
// Values. W is N x K (output channel n, input k), W(n, k) = scale(n, g) * code(n, k)
// with g = k / G, code in [-8, 7] and scale f32 or IEEE f16 (rounded to nearest
// even when packed). K is padded to Kp, a multiple of G, with code 0.
//
// Layout. Columns (output channels) are cut into panels of 64, the last one
// holding the rest rounded up to a multiple of 16 (padding: code 0, scale 0).
// A panel of width w (16 * nb) is Kp / G group records, one after the other;
// a record holds G / 8 octet rows of nb 64-byte blocks, then w scales:
//   code byte (o, b, 4c + j), c < 16, j < 4, for channel n0 + 16b + c, holds
//     low nibble:  code(n, g*G + 8o + j) + 8
//     high nibble: code(n, g*G + 8o + 4 + j) + 8
//   scales: w little-endian f32 or f16 values, channel n0 .. n0 + w - 1.
// So each 32-bit lane is one channel x 4 consecutive k in each nibble: the
// unit of vpdpbusd / sdot / a vpmaddubsw pair, after an AND or a shift. The
// nibbles are offset-binary (code + 8, in 0..15), which vpdpbusd and
// vpmaddubsw take as unsigned bytes; the kernels subtract 8 * sum(activations)
// per group. Every panel starts on a 64-byte boundary and records of full
// panels are multiples of 64 bytes (those of a narrower last panel need not
// be: the kernels load unaligned). docs/format.md repeats this for other readers.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/float16.hpp"

namespace eigenq {
namespace kernels {

enum class ScaleType { f32, f16 };

class PackedInt4Weights {
 public:
  static constexpr Index panel_width = 64;
  static constexpr Index column_block = 16;

  PackedInt4Weights() = default;

  Index cols() const { return cols_; }                  // N, output channels
  Index depth() const { return depth_; }                // K, inputs
  Index padded_depth() const { return padded_depth_; }  // Kp
  Index group_size() const { return group_size_; }      // G
  Index groups() const { return padded_depth_ / group_size_; }
  ScaleType scale_type() const { return scale_type_; }
  Index scale_bytes() const { return scale_type_ == ScaleType::f32 ? 4 : 2; }
  Index padded_cols() const { return padded_cols_; }
  Index panel_count() const { return (padded_cols_ + panel_width - 1) / panel_width; }
  Index panel_cols(Index p) const {
    const Index rest = padded_cols_ - p * panel_width;
    return rest < panel_width ? rest : panel_width;
  }
  // Bytes of one group record in a panel of width w.
  Index record_bytes(Index w) const { return group_size_ * w / 2 + w * scale_bytes(); }
  const std::uint8_t* panel(Index p) const {
    return data_.data() + p * groups() * record_bytes(panel_width);
  }

  // code(n, k) and scale(n, g), read back from the packed layout.
  std::int8_t code(Index n, Index k) const {
    const Index p = n / panel_width, c = n - p * panel_width, w = panel_cols(p);
    const Index g = k / group_size_, kk = k - g * group_size_;
    const Index o = kk / 8, hi = (kk % 8) / 4, j = kk % 4;
    const std::uint8_t byte =
        panel(p)[g * record_bytes(w) + (o * (w / 16) + c / 16) * 64 + (c % 16) * 4 + j];
    return static_cast<std::int8_t>(((hi ? byte >> 4 : byte) & 0x0F) - 8);
  }
  float scale(Index n, Index g) const {
    const Index p = n / panel_width, c = n - p * panel_width, w = panel_cols(p);
    const std::uint8_t* s = panel(p) + g * record_bytes(w) + group_size_ * w / 2;
    if (scale_type_ == ScaleType::f32) {
      float v;
      std::memcpy(&v, s + 4 * c, 4);
      return v;
    }
    std::uint16_t h;
    std::memcpy(&h, s + 2 * c, 2);
    return half_bits_to_float(h);
  }

  std::size_t bytes() const { return data_.size(); }

 private:
  friend PackedInt4Weights pack_int4_weights(const std::int8_t*, Index, Index, Index, const float*,
                                             Index, Index, ScaleType);
  Index cols_ = 0;
  Index depth_ = 0;
  Index padded_depth_ = 0;
  Index group_size_ = 32;
  Index padded_cols_ = 0;
  ScaleType scale_type_ = ScaleType::f32;
  AlignedBuffer<std::uint8_t> data_;
};

// Packs codes(n, k) = codes[n * ld + k] (N x K, row-major: a Linear layer's
// weight) with scales(n, g) = scales[n * scale_ld + g], g < ceil(K / G).
inline PackedInt4Weights pack_int4_weights(const std::int8_t* codes, Index n, Index k, Index ld,
                                           const float* scales, Index scale_ld, Index group_size,
                                           ScaleType scale_type = ScaleType::f16) {
  if (n < 0 || k < 0) raise<ShapeError>("pack_int4_weights: W is ", n, " x ", k, "; sizes must be >= 0");
  if (group_size != 32 && group_size != 128) {
    raise("pack_int4_weights: group size ", group_size, " is not supported (32 or 128)");
  }
  const Index groups = (k + group_size - 1) / group_size;
  if (n > 0 && k > 0 && (codes == nullptr || scales == nullptr)) {
    raise("pack_int4_weights: codes or scales is null but W is ", n, " x ", k);
  }
  if (n > 1 && ld < k) raise<ShapeError>("pack_int4_weights: ld = ", ld, " is less than K = ", k);
  if (n > 1 && scale_ld < groups) {
    raise<ShapeError>("pack_int4_weights: scale_ld = ", scale_ld, " is less than the ", groups,
                      " groups of a row");
  }
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      const std::int8_t c = codes[i * ld + kk];
      if (c < -8 || c > 7) {
        raise("pack_int4_weights: code ", int{c}, " at (", i, ", ", kk, ") is outside [-8, 7]");
      }
    }
    for (Index g = 0; g < groups; ++g) {
      const float s = scales[i * scale_ld + g];
      if (!std::isfinite(s)) {
        raise<NonFiniteError>("pack_int4_weights: scale (", i, ", ", g, ") is ", s);
      }
      if (scale_type == ScaleType::f16 && std::fabs(s) >= 65520.0f) {
        raise("pack_int4_weights: scale (", i, ", ", g, ") = ", s, " overflows f16");
      }
    }
  }

  PackedInt4Weights w;
  w.cols_ = n;
  w.depth_ = k;
  w.group_size_ = group_size;
  w.padded_depth_ = groups * group_size;
  w.scale_type_ = scale_type;
  const Index full = n / PackedInt4Weights::panel_width;
  w.padded_cols_ = full * PackedInt4Weights::panel_width +
                   (n - full * PackedInt4Weights::panel_width + 15) / 16 * 16;
  Index total = 0;
  for (Index p = 0; p < w.panel_count(); ++p) total += groups * w.record_bytes(w.panel_cols(p));
  w.data_.resize(static_cast<std::size_t>(std::max<Index>(1, total)));
  // Every byte starts as two zero codes (nibbles 8): padding columns and inputs add nothing.
  std::memset(w.data_.data(), 0x88, static_cast<std::size_t>(total));

  for (Index p = 0; p < w.panel_count(); ++p) {
    const Index n0 = p * PackedInt4Weights::panel_width;
    const Index width = w.panel_cols(p);
    const Index valid = std::min(width, n - n0);
    for (Index g = 0; g < groups; ++g) {
      std::uint8_t* record = w.data_.data() + p * groups * w.record_bytes(PackedInt4Weights::panel_width) +
                             g * w.record_bytes(width);
      for (Index c = 0; c < valid; ++c) {
        const std::int8_t* row = codes + (n0 + c) * ld;
        for (Index kk = 0; kk < group_size; ++kk) {
          const Index kin = g * group_size + kk;
          if (kin >= k) break;
          const Index o = kk / 8, hi = (kk % 8) / 4, j = kk % 4;
          std::uint8_t& byte = record[(o * (width / 16) + c / 16) * 64 + (c % 16) * 4 + j];
          const auto nibble = static_cast<std::uint8_t>(row[kin] + 8);
          byte = hi ? static_cast<std::uint8_t>((byte & 0x0F) | (nibble << 4))
                    : static_cast<std::uint8_t>((byte & 0xF0) | nibble);
        }
      }
      std::uint8_t* scale_out = record + group_size * width / 2;
      for (Index c = 0; c < width; ++c) {
        const float s = c < valid ? scales[(n0 + c) * scale_ld + g] : 0.0f;
        if (scale_type == ScaleType::f32) {
          std::memcpy(scale_out + 4 * c, &s, 4);
        } else {
          const std::uint16_t h = float_to_half_bits(s);
          std::memcpy(scale_out + 2 * c, &h, 2);
        }
      }
    }
  }
  return w;
}

}  // namespace kernels
}  // namespace eigenq
