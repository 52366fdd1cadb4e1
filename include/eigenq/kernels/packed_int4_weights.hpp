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
#include <utility>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/float16.hpp"

namespace eigenq {
namespace kernels {

enum class ScaleType { f32, f16 };

namespace detail {

// Value c of a record's row of w scales (or minimums) at `values`, f32 or f16.
inline float record_value(const std::uint8_t* values, Index c, ScaleType type) {
  if (type == ScaleType::f32) {
    float v;
    std::memcpy(&v, values + 4 * c, 4);
    return v;
  }
  std::uint16_t h;
  std::memcpy(&h, values + 2 * c, 2);
  return half_bits_to_float(h);
}

// The panel geometry and the scales of the grouped weight formats (this int4 one and
// packed_grouped_int8_weights.hpp's): N columns in panels of 64 (the last rounded up to a
// multiple of 16), each panel Kp / G group records of the panel's codes (code_bits per weight)
// followed by its scales.
class GroupedPanels {
 public:
  static constexpr Index panel_width = 64;
  static constexpr Index column_block = 16;

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
  // Whether each record holds w minimums after its w scales (PackedInt4Weights with minimums).
  bool has_mins() const { return has_mins_; }
  // Bytes of one group record in a panel of width w: its codes, then its w scales (and mins).
  Index code_bytes(Index w) const { return group_size_ * w * code_bits_ / 8; }
  Index record_bytes(Index w) const { return code_bytes(w) + (has_mins_ ? 2 : 1) * w * scale_bytes(); }
  const std::uint8_t* panel(Index p) const {
    return data_.data() + p * groups() * record_bytes(panel_width);
  }
  float scale(Index n, Index g) const { return value(n, g, 0); }
  // The minimum of (n, g) when has_mins(), else 0.
  float min(Index n, Index g) const { return has_mins_ ? value(n, g, 1) : 0.0f; }
  std::size_t bytes() const { return data_.size(); }

 private:
  // Scale (which 0) or minimum (which 1) of column n in group g.
  float value(Index n, Index g, int which) const {
    const Index p = n / panel_width, c = n - p * panel_width;
    return record_value(record(p, g) + code_bytes(panel_cols(p)) + which * panel_cols(p) * scale_bytes(), c,
                        scale_type_);
  }

 protected:
  const std::uint8_t* record(Index p, Index g) const { return panel(p) + g * record_bytes(panel_cols(p)); }
  std::uint8_t* record(Index p, Index g) { return const_cast<std::uint8_t*>(std::as_const(*this).record(p, g)); }

  // Checks the arguments every format shares and lays out an N x K matrix of code_bits-bit
  // codes, every code byte `fill` and every scale 0.
  void lay_out(const char* fn, const void* codes, Index n, Index k, Index ld, const float* scales, Index scale_ld,
               Index group_size, ScaleType scale_type, int code_bits, std::uint8_t fill, bool has_mins = false) {
    if (n < 0 || k < 0) raise<ShapeError>(fn, ": W is ", n, " x ", k, "; sizes must be >= 0");
    // 16 only for 8-bit codes (q6_K's sub-blocks): the int4 AVX2 kernel sums 4 octet rows at a time.
    const bool supported = group_size == 32 || group_size == 128 || (code_bits == 8 && group_size == 16);
    if (!supported) {
      raise(fn, ": group size ", group_size, " is not supported (", code_bits == 8 ? "16, " : "", "32 or 128)");
    }
    const Index groups = (k + group_size - 1) / group_size;
    if (n > 0 && k > 0 && (codes == nullptr || scales == nullptr)) {
      raise(fn, ": codes or scales is null but W is ", n, " x ", k);
    }
    if (n > 1 && ld < k) raise<ShapeError>(fn, ": ld = ", ld, " is less than K = ", k);
    if (n > 1 && scale_ld < groups) {
      raise<ShapeError>(fn, ": scale_ld = ", scale_ld, " is less than the ", groups, " groups of a row");
    }
    for (Index i = 0; i < n; ++i) {
      for (Index g = 0; g < groups; ++g) {
        const float s = scales[i * scale_ld + g];
        if (!std::isfinite(s)) raise<NonFiniteError>(fn, ": scale (", i, ", ", g, ") is ", s);
        if (scale_type == ScaleType::f16 && std::fabs(s) >= 65520.0f) {
          raise(fn, ": scale (", i, ", ", g, ") = ", s, " overflows f16");
        }
      }
    }
    cols_ = n;
    depth_ = k;
    group_size_ = group_size;
    padded_depth_ = groups * group_size;
    scale_type_ = scale_type;
    code_bits_ = code_bits;
    has_mins_ = has_mins;
    const Index full = n / panel_width;
    padded_cols_ = full * panel_width + (n - full * panel_width + 15) / 16 * 16;
    Index total = 0;
    for (Index p = 0; p < panel_count(); ++p) total += groups * record_bytes(panel_cols(p));
    data_.resize(static_cast<std::size_t>(std::max<Index>(1, total)));
    std::memset(data_.data(), 0, static_cast<std::size_t>(std::max<Index>(1, total)));
    for (Index p = 0; p < panel_count(); ++p) {
      for (Index g = 0; g < groups; ++g) std::memset(record(p, g), fill, static_cast<std::size_t>(code_bytes(panel_cols(p))));
    }
  }

  // Writes scales(n, g) = scales[n * scale_ld + g] into every record (0 for padding columns),
  // or the minimums (which = 1).
  void write_scales(const float* scales, Index scale_ld, int which = 0) {
    for (Index p = 0; p < panel_count(); ++p) {
      const Index n0 = p * panel_width;
      const Index w = panel_cols(p);
      const Index valid = std::min(w, cols_ - n0);
      for (Index g = 0; g < groups(); ++g) {
        std::uint8_t* out = record(p, g) + code_bytes(w) + which * w * scale_bytes();
        for (Index c = 0; c < w; ++c) {
          const float s = c < valid ? scales[(n0 + c) * scale_ld + g] : 0.0f;
          if (scale_type_ == ScaleType::f32) {
            std::memcpy(out + 4 * c, &s, 4);
          } else {
            const std::uint16_t h = float_to_half_bits(s);
            std::memcpy(out + 2 * c, &h, 2);
          }
        }
      }
    }
  }

  // The byte of code (n, k) within its record and, for 4-bit codes, whether it is the high nibble.
  std::uint8_t* code_byte(Index n, Index k, bool& high) {
    return const_cast<std::uint8_t*>(std::as_const(*this).code_byte(n, k, high));
  }
  const std::uint8_t* code_byte(Index n, Index k, bool& high) const {
    const Index p = n / panel_width, c = n - p * panel_width, w = panel_cols(p);
    const Index g = k / group_size_, kk = k - g * group_size_;
    const Index o = kk / 8, half = (kk % 8) / 4, j = kk % 4;
    const Index block_bytes = 8 * code_bits_ * 2;  // 16 channels x 8 k
    high = code_bits_ == 4 && half == 1;
    const Index in_block = code_bits_ == 4 ? (c % 16) * 4 + j : half * 64 + (c % 16) * 4 + j;
    return record(p, g) + (o * (w / 16) + c / 16) * block_bytes + in_block;
  }

 private:
  Index cols_ = 0;
  Index depth_ = 0;
  Index padded_depth_ = 0;
  Index group_size_ = 32;
  Index padded_cols_ = 0;
  ScaleType scale_type_ = ScaleType::f32;
  int code_bits_ = 4;
  bool has_mins_ = false;
  AlignedBuffer<std::uint8_t> data_;
};

}  // namespace detail

class PackedInt4Weights : public detail::GroupedPanels {
 public:
  PackedInt4Weights() = default;

  // code(n, k), read back from the packed layout: in [-8, 7], or in [0, 15] with minimums.
  std::int8_t code(Index n, Index k) const {
    bool high;
    const std::uint8_t byte = *code_byte(n, k, high);
    return static_cast<std::int8_t>(((high ? byte >> 4 : byte) & 0x0F) - (has_mins() ? 0 : 8));
  }

 private:
  friend PackedInt4Weights pack_int4_weights(const std::int8_t*, Index, Index, Index, const float*,
                                             Index, Index, ScaleType);
  friend PackedInt4Weights pack_int4_weights_with_mins(const std::uint8_t*, Index, Index, Index, const float*,
                                                       const float*, Index, Index, ScaleType);
};

// Packs codes(n, k) = codes[n * ld + k] (N x K, row-major: a Linear layer's
// weight) with scales(n, g) = scales[n * scale_ld + g], g < ceil(K / G).
inline PackedInt4Weights pack_int4_weights(const std::int8_t* codes, Index n, Index k, Index ld,
                                           const float* scales, Index scale_ld, Index group_size,
                                           ScaleType scale_type = ScaleType::f16) {
  PackedInt4Weights w;
  // Every byte starts as two zero codes (nibbles 8): padding columns and inputs add nothing.
  w.lay_out("pack_int4_weights", codes, n, k, ld, scales, scale_ld, group_size, scale_type, 4, 0x88);
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      const std::int8_t c = codes[i * ld + kk];
      if (c < -8 || c > 7) {
        raise("pack_int4_weights: code ", int{c}, " at (", i, ", ", kk, ") is outside [-8, 7]");
      }
    }
  }
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      bool high;
      std::uint8_t& byte = *w.code_byte(i, kk, high);
      const auto nibble = static_cast<std::uint8_t>(codes[i * ld + kk] + 8);
      byte = high ? static_cast<std::uint8_t>((byte & 0x0F) | (nibble << 4))
                  : static_cast<std::uint8_t>((byte & 0xF0) | nibble);
    }
  }
  w.write_scales(scales, scale_ld);
  return w;
}

// Packs unsigned 4-bit codes(n, k) = codes[n * ld + k] in [0, 15] with a scale and a minimum
// per group, W(n, k) = scales(n, g) * code(n, k) - mins(n, g) (ggml's q4_K shape; mins at the
// same offsets as the scales). The nibbles hold the codes as they are; each record's minimums
// follow its scales. Run by gemv_int4_min_quantized.
inline PackedInt4Weights pack_int4_weights_with_mins(const std::uint8_t* codes, Index n, Index k, Index ld,
                                                     const float* scales, const float* mins, Index scale_ld,
                                                     Index group_size, ScaleType scale_type = ScaleType::f32) {
  constexpr const char* fn = "pack_int4_weights_with_mins";
  if (n > 0 && k > 0 && mins == nullptr) raise(fn, ": mins is null but W is ", n, " x ", k);
  PackedInt4Weights w;
  // Padding: nibble 0 and scale 0 and minimum 0 add nothing.
  w.lay_out(fn, codes, n, k, ld, scales, scale_ld, group_size, scale_type, 4, 0x00, true);
  // Minimums go through the same checks as the scales.
  PackedInt4Weights check;
  check.lay_out(fn, codes, n, k, ld, mins, scale_ld, group_size, scale_type, 4, 0x00, true);
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      const std::uint8_t c = codes[i * ld + kk];
      if (c > 15) raise(fn, ": code ", int{c}, " at (", i, ", ", kk, ") is outside [0, 15]");
      bool high;
      std::uint8_t& byte = *w.code_byte(i, kk, high);
      byte = high ? static_cast<std::uint8_t>((byte & 0x0F) | (c << 4)) : static_cast<std::uint8_t>((byte & 0xF0) | c);
    }
  }
  w.write_scales(scales, scale_ld, 0);
  w.write_scales(mins, scale_ld, 1);
  return w;
}

}  // namespace kernels
}  // namespace eigenq
