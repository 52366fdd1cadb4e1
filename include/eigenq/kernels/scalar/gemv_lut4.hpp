// Scalar table-lookup GEMV (GemvLut4Path<Isa::scalar>): the definition every SIMD path
// reproduces bit for bit.
//
// Activations are quantized per group of G exactly as the int4 GEMV does
// (scalar/gemv_int4.hpp: d_g = amax / 127, q_k = round_half_even(clamp(x_k / d_g))).
// Then for each row and output channel n, over the groups g in order, with t = the table
// group of g (packed_lut4_weights.hpp):
//   isum = sum_k table(n, t)[code(n, k)] * q_k            (exact in int32)
//   acc  = fma(scale(n, t) * d_g, float(isum), acc)        (acc starts at +0.0f)
//   y(n) = acc + bias(n)                                    (bias 0 when absent)
// |isum| <= 128 * 127 * 127 = 2064512 < 2^24, so float(isum) is exact.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_int4.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// The arguments of one panel: Rows (1..4, a template argument of the panel kernel) activation
// rows against one weight panel.
struct Lut4PanelArgs {
  const PackedLut4Weights* w = nullptr;
  const std::uint8_t* panel = nullptr;
  Index width = 0;  // 16, 32, 48 or 64
  Index groups = 0;
  Index group_size = 0;
  Index groups_per_table = 1;
  const std::int8_t* q = nullptr;      // row r's codes at q + r * q_stride (Kp values)
  Index q_stride = 0;
  const float* d = nullptr;            // row r's group scales at d + r * groups
  const std::int32_t* sums = nullptr;  // row r's group sums at sums + r * groups
  const float* bias = nullptr;         // width values (zeros when the caller gave none)
  float* out = nullptr;                // row r at out + r * 64

  const std::uint8_t* table_record(Index g) const {
    return w->table_record(panel, width, g / groups_per_table);
  }
  const std::uint8_t* group_record(Index g) const { return w->group_record(panel, width, g); }

  // The same panel for the rows from r0 on.
  Lut4PanelArgs from_row(int r0) const {
    Lut4PanelArgs rest = *this;
    rest.q += r0 * q_stride;
    rest.d += r0 * groups;
    rest.sums += r0 * groups;
    rest.out += r0 * 64;
    return rest;
  }
};

// Walks a panel's records in order, without divisions: next() gives group g's record (g = 0,
// 1, ... in turn) and, when g starts a table group, moves `tables` to its table record and
// returns true.
struct Lut4Records {
  explicit Lut4Records(const Lut4PanelArgs& a)
      : next_record(a.panel),
        table_bytes(PackedLut4Weights::table_record_bytes(a.width)),
        group_bytes(a.group_size * a.width / 2),
        per_table(a.groups_per_table) {}
  bool next(const std::uint8_t*& group_record) {
    bool fresh = false;
    if (left == 0) {
      tables = next_record;
      next_record += table_bytes;
      left = per_table;
      fresh = true;
    }
    --left;
    group_record = next_record;
    next_record += group_bytes;
    return fresh;
  }
  const std::uint8_t* tables = nullptr;

 private:
  const std::uint8_t* next_record;
  Index table_bytes, group_bytes, per_table, left = 0;
};

inline void gemv_lut4_panel_scalar(const Lut4PanelArgs& a, int rows) {
  const Index w = a.width;
  for (int r = 0; r < rows; ++r) {
    const std::int8_t* q = a.q + r * a.q_stride;
    for (Index c = 0; c < w; ++c) {
      const Index slot = PackedLut4Weights::slot_offset(c);
      float acc = 0.0f;
      for (Index g = 0; g < a.groups; ++g) {
        const std::uint8_t* tables = a.table_record(g);
        const auto* table = reinterpret_cast<const std::int8_t*>(tables + slot);
        const std::uint8_t* rec = a.group_record(g);
        std::int32_t isum = 0;
        for (Index kk = 0; kk < a.group_size; ++kk) {
          const Index slice = kk / 32, i = kk % 32;
          const std::uint8_t byte = rec[slice * 16 * w + slot + i % 16];
          const int code = (i < 16 ? byte : byte >> 4) & 0x0F;
          isum += std::int32_t{table[code]} * q[g * a.group_size + kk];
        }
        float scale;
        std::memcpy(&scale, tables + 16 * w + 4 * c, 4);
        acc = std::fma(scale * a.d[r * a.groups + g], static_cast<float>(isum), acc);
      }
      a.out[r * 64 + c] = acc + a.bias[c];
    }
  }
}

}  // namespace detail

template <>
struct GemvLut4Path<Isa::scalar> : GemvInt4Path<Isa::scalar> {
  template <int Rows>
  static void panel(const detail::Lut4PanelArgs& a) {
    detail::gemv_lut4_panel_scalar(a, Rows);
  }
};

}  // namespace kernels
}  // namespace eigenq
