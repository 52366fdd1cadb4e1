// 4-bit codes that index a table of 16 levels, packed once for the table-lookup GEMV
// (gemv_lut4.hpp): the weight-only format of codes whose levels are not evenly spaced
// (codebooks, signed log, NF4), where W(n, k) = level(n, t)[code(n, k)].
//
// Values. W is N x K, code(n, k) in [0, 15]. The inputs are cut into groups of G = 32, 64 or
// 128 (the activations' quantization groups) and the groups into table groups of T inputs, a
// multiple of G, or one table group for the whole row (T = Kp, "one table per row"). Each
// channel n has one table per table group t = k / T, made of 16 int8 values and one f32 scale
// from the 16 float levels given when packing:
//   amax       = max_c |level(n, t)[c]|
//   scale(n, t) = float(double(amax) / 127)                  (0 for an all-zero table)
//   table(n, t)[c] = round_half_even(127 * double(level[c]) / double(amax)), in [-127, 127]
//                                                            (0 for an all-zero table)
// so the weight the kernels use is scale(n, t) * table(n, t)[code(n, k)], within half a table
// step (amax / 254) of the level. Levels must be finite. K is padded to Kp, a multiple of G,
// with code 0 (the activations there are 0).
//
// Layout. Columns are cut into panels of 64, the last one holding the rest rounded up to a
// multiple of 16 (padding: code 0, table 0, scale 0). In a panel of width w (16 * sets), the
// Kp / G group records follow one another, each preceded, when its group starts a table group,
// by that table group's table record:
//   table record (20 w bytes): w tables of 16 int8 values in slot order, then w little-endian
//     f32 scales in channel order;
//   group record (G w / 2 bytes): G / 32 slices of 32 inputs, each slice w rows of 16 bytes in
//     slot order, the row of channel c holding its 32 codes from k0 = g G + 32 slice as
//       byte i: low nibble code(c, k0 + i), high nibble code(c, k0 + 16 + i).
// Slot order: channel c of the panel (set s = c / 16, j = c % 16) has its 16 bytes at
// 256 s + 64 (j % 4) + 16 (j / 4). So a 64-byte block is 4 channels c, c + 4, c + 8, c + 12:
// one channel per 128-bit lane, the unit of one vpshufb / tbl with that channel's table, and
// the channel sums of a set's four blocks reduce (unpack and add) to 16 sums in channel order.
// Every panel, table record and group record starts on a 64-byte boundary.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"

namespace eigenq {
namespace kernels {

class PackedLut4Weights {
 public:
  static constexpr Index panel_width = 64;
  static constexpr Index set_width = 16;
  static constexpr Index table_size = 16;

  PackedLut4Weights() = default;

  Index cols() const { return cols_; }                  // N, output channels
  Index depth() const { return depth_; }                // K, inputs
  Index padded_depth() const { return padded_depth_; }  // Kp
  Index group_size() const { return group_size_; }      // G
  Index groups() const { return padded_depth_ / group_size_; }
  // T: the inputs one table covers (Kp for one table per row).
  Index table_group() const { return groups_per_table_ * group_size_; }
  Index groups_per_table() const { return groups_per_table_; }
  Index tables_per_row() const { return (groups() + groups_per_table_ - 1) / groups_per_table_; }
  Index padded_cols() const { return padded_cols_; }
  Index panel_count() const { return (padded_cols_ + panel_width - 1) / panel_width; }
  Index panel_cols(Index p) const {
    const Index rest = padded_cols_ - p * panel_width;
    return rest < panel_width ? rest : panel_width;
  }
  // Bytes of a table record and of a group record in a panel of width w.
  static Index table_record_bytes(Index w) { return 20 * w; }
  Index group_record_bytes(Index w) const { return group_size_ * w / 2; }
  Index panel_bytes(Index w) const {
    return tables_per_row() * table_record_bytes(w) + groups() * group_record_bytes(w);
  }
  const std::uint8_t* panel(Index p) const { return data_.data() + p * panel_bytes(panel_width); }

  // Where channel c's 16 bytes sit in a slot-ordered row of a panel.
  static Index slot_offset(Index c) {
    const Index j = c % set_width;
    return 256 * (c / set_width) + 64 * (j % 4) + 16 * (j / 4);
  }
  // The table record of table group t and the group record of group g, in a panel of width w.
  const std::uint8_t* table_record(const std::uint8_t* panel, Index w, Index t) const {
    return panel + t * (table_record_bytes(w) + groups_per_table_ * group_record_bytes(w));
  }
  const std::uint8_t* group_record(const std::uint8_t* panel, Index w, Index g) const {
    return panel + (g / groups_per_table_ + 1) * table_record_bytes(w) + g * group_record_bytes(w);
  }

  // code(n, k), table(n, t)[c] and scale(n, t), read back from the packed layout.
  std::uint8_t code(Index n, Index k) const {
    const Index p = n / panel_width, c = n - p * panel_width, w = panel_cols(p);
    const Index g = k / group_size_, kk = k - g * group_size_;
    const Index slice = kk / 32, i = kk % 32;
    const std::uint8_t byte = group_record(panel(p), w, g)[slice * 16 * w + slot_offset(c) + i % 16];
    return static_cast<std::uint8_t>((i < 16 ? byte : byte >> 4) & 0x0F);
  }
  std::int8_t table(Index n, Index t, int c) const {
    const Index p = n / panel_width, col = n - p * panel_width, w = panel_cols(p);
    return static_cast<std::int8_t>(table_record(panel(p), w, t)[slot_offset(col) + c]);
  }
  float scale(Index n, Index t) const {
    const Index p = n / panel_width, col = n - p * panel_width, w = panel_cols(p);
    float s;
    std::memcpy(&s, table_record(panel(p), w, t) + 16 * w + 4 * col, 4);
    return s;
  }
  // The weight the kernels use: scale(n, t) * table(n, t)[code(n, k)].
  float weight(Index n, Index k) const {
    const Index t = k / table_group();
    return scale(n, t) * static_cast<float>(table(n, t, code(n, k)));
  }

  std::size_t bytes() const { return data_.size(); }

 private:
  friend PackedLut4Weights pack_lut4_weights(const std::uint8_t*, Index, Index, Index, const float*, Index,
                                             Index, Index);
  Index cols_ = 0;
  Index depth_ = 0;
  Index padded_depth_ = 0;
  Index group_size_ = 32;
  Index groups_per_table_ = 1;
  Index padded_cols_ = 0;
  AlignedBuffer<std::uint8_t> data_;
};

// One table of 16 levels as int8 values and a scale (the definition at the top).
inline float quantize_lut4_table(const float* levels, std::int8_t* table) {
  double amax = 0.0;
  for (int c = 0; c < 16; ++c) amax = std::max(amax, std::fabs(double{levels[c]}));
  if (amax == 0.0) {
    std::fill(table, table + 16, std::int8_t{0});
    return 0.0f;
  }
  for (int c = 0; c < 16; ++c) {
    table[c] = static_cast<std::int8_t>(std::nearbyint(127.0 * double{levels[c]} / amax));
  }
  return static_cast<float>(amax / 127.0);
}

// Packs codes(n, k) = codes[n * ld + k] (N x K, row-major, values 0..15) with the levels
// level(n, t)[c] = levels[n * levels_ld + 16 t + c], t < ceil(K / T). group_size G is 32, 64
// or 128; table_group T is a multiple of G, or 0 for one table per row.
inline PackedLut4Weights pack_lut4_weights(const std::uint8_t* codes, Index n, Index k, Index ld,
                                           const float* levels, Index levels_ld, Index group_size,
                                           Index table_group = 0) {
  if (n < 0 || k < 0) raise<ShapeError>("pack_lut4_weights: W is ", n, " x ", k, "; sizes must be >= 0");
  if (group_size != 32 && group_size != 64 && group_size != 128) {
    raise("pack_lut4_weights: group size ", group_size, " is not supported (32, 64 or 128)");
  }
  if (table_group < 0 || table_group % group_size != 0) {
    raise("pack_lut4_weights: table group ", table_group, " is not a multiple of the group size ", group_size,
          " (or 0: one table per row)");
  }
  const Index groups = (k + group_size - 1) / group_size;
  const Index groups_per_table = table_group == 0 ? std::max<Index>(1, groups) : table_group / group_size;
  const Index tables = (groups + groups_per_table - 1) / groups_per_table;
  if (n > 0 && k > 0 && (codes == nullptr || levels == nullptr)) {
    raise("pack_lut4_weights: codes or levels is null but W is ", n, " x ", k);
  }
  if (n > 1 && ld < k) raise<ShapeError>("pack_lut4_weights: ld = ", ld, " is less than K = ", k);
  if (n > 1 && levels_ld < 16 * tables) {
    raise<ShapeError>("pack_lut4_weights: levels_ld = ", levels_ld, " is less than the ", 16 * tables,
                      " levels of a row's ", tables, " tables");
  }
  for (Index i = 0; i < n; ++i) {
    for (Index kk = 0; kk < k; ++kk) {
      const std::uint8_t c = codes[i * ld + kk];
      if (c > 15) raise("pack_lut4_weights: code ", int{c}, " at (", i, ", ", kk, ") is outside [0, 15]");
    }
    for (Index t = 0; t < 16 * tables; ++t) {
      const float v = levels[i * levels_ld + t];
      if (!std::isfinite(v)) {
        raise<NonFiniteError>("pack_lut4_weights: level ", t % 16, " of table (", i, ", ", t / 16, ") is ", v);
      }
    }
  }

  PackedLut4Weights w;
  w.cols_ = n;
  w.depth_ = k;
  w.group_size_ = group_size;
  w.padded_depth_ = groups * group_size;
  w.groups_per_table_ = groups_per_table;
  const Index width = PackedLut4Weights::panel_width;
  const Index full = n / width;
  w.padded_cols_ = full * width + (n - full * width + 15) / 16 * 16;
  Index total = 0;
  for (Index p = 0; p < w.panel_count(); ++p) total += w.panel_bytes(w.panel_cols(p));
  w.data_.resize(static_cast<std::size_t>(std::max<Index>(1, total)));  // zeros: code 0, table 0, scale 0

  for (Index p = 0; p < w.panel_count(); ++p) {
    const Index n0 = p * width;
    const Index pw = w.panel_cols(p);
    const Index valid = std::min(pw, n - n0);
    std::uint8_t* panel = w.data_.data() + p * w.panel_bytes(width);
    for (Index t = 0; t < tables; ++t) {
      std::uint8_t* record = panel + (w.table_record(panel, pw, t) - panel);
      for (Index c = 0; c < valid; ++c) {
        std::int8_t table[16];
        const float s = quantize_lut4_table(levels + (n0 + c) * levels_ld + 16 * t, table);
        std::memcpy(record + PackedLut4Weights::slot_offset(c), table, 16);
        std::memcpy(record + 16 * pw + 4 * c, &s, 4);
      }
    }
    for (Index g = 0; g < groups; ++g) {
      std::uint8_t* record = panel + (w.group_record(panel, pw, g) - panel);
      for (Index c = 0; c < valid; ++c) {
        const std::uint8_t* row = codes + (n0 + c) * ld;
        for (Index kk = 0; kk < group_size; ++kk) {
          const Index kin = g * group_size + kk;
          if (kin >= k) break;
          const Index slice = kk / 32, i = kk % 32;
          std::uint8_t& byte = record[slice * 16 * pw + PackedLut4Weights::slot_offset(c) + i % 16];
          byte = i < 16 ? static_cast<std::uint8_t>((byte & 0xF0) | row[kin])
                        : static_cast<std::uint8_t>((byte & 0x0F) | (row[kin] << 4));
        }
      }
    }
  }
  return w;
}

}  // namespace kernels
}  // namespace eigenq
