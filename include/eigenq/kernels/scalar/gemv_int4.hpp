// Scalar grouped GEMVs (GemvInt4Path<Isa::scalar>, GemvGroupedInt8Path<Isa::scalar>): the
// definitions every SIMD path reproduces bit for bit. The int4 and the grouped int8 formats
// (packed_int4_weights.hpp, packed_grouped_int8_weights.hpp) share them; only code(n, k) differs.
//
// Activations (each row of x, K floats) are quantized per group of G, the
// weights' group size (llama.cpp's Q8_0 does this per 32):
//   amax  = max |x_k| over the group (NaN inputs count as 0),
//   d     = amax / 127 (float division), inv = d > 0 ? 1 / d : 0,
//   q_k   = round_half_even(clamp(x_k * inv, -127, 127)), NaN -> 0,
//   sum_q = sum of the group's q_k.
// Inputs past K are 0. An infinite input makes d infinite and its group's
// products NaN: the result is NaN, not undefined behaviour.
// Then for each row and output channel n, over the groups g in order:
//   isum = sum_k code(n, k) * q_k                      (exact in int32)
//   acc  = fma(scale(n, g) * d_g, float(isum), acc)     (acc starts at +0.0f)
//   y(n) = acc + bias(n)                                 (bias 0 when absent)
// int4: |isum| <= 128 * 8 * 127 = 130048 < 2^24, so float(isum) is exact; int8: |isum| <=
// 128 * 128 * 127 < 2^31, and float(isum) rounds to nearest even the same way on every path.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/float16.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"

namespace eigenq {
namespace kernels {

// Activations quantized per group of the weights' G, m rows: row r's codes at q + r * q_stride
// (the padded depth Kp of them, 0 past K), its group scales at d + r * groups and the sums of
// its groups' codes at sums + r * groups.
struct Int4ActivationGroups {
  const std::int8_t* q = nullptr;
  Index q_stride = 0;
  const float* d = nullptr;
  const std::int32_t* sums = nullptr;
};

namespace detail {

// The arguments of one panel: Rows (1..Path::max_rows, a template argument of the panel
// kernel) activation rows against one weight panel.
struct Int4PanelArgs {
  const std::uint8_t* panel = nullptr;
  Index width = 0;        // 16, 32, 48 or 64
  Index groups = 0;
  Index group_size = 0;
  ScaleType scale_type = ScaleType::f32;
  const std::int8_t* q = nullptr;  // row r's codes at q + r * q_stride (Kp values)
  Index q_stride = 0;
  const float* d = nullptr;        // row r's group scales at d + r * groups
  const std::int32_t* sums = nullptr;  // row r's group sums at sums + r * groups
  const float* bias = nullptr;     // width values (zeros when the caller gave none)
  const std::int8_t* table = nullptr;  // table codes: the 16 levels a nibble indexes
  float* out = nullptr;            // row r at out + r * 64

  // The same panel for the rows from r0 on.
  Int4PanelArgs from_row(int r0) const {
    Int4PanelArgs rest = *this;
    rest.q += r0 * q_stride;
    rest.d += r0 * groups;
    rest.sums += r0 * groups;
    rest.out += r0 * 64;
    return rest;
  }
};

inline std::int8_t quantize_activation_value(float v) {
  if (std::isnan(v)) return 0;
  v = v < -127.0f ? -127.0f : v;
  v = v > 127.0f ? 127.0f : v;
  return static_cast<std::int8_t>(std::nearbyint(v));
}

// Group scale from the group's largest magnitude; also returns 1 / d (or 0).
inline float activation_group_scale(float amax, float& inv) {
  const float d = amax / 127.0f;
  inv = d > 0.0f ? 1.0f / d : 0.0f;
  return d;
}

inline void quantize_activations_scalar(const float* x, Index k, Index group_size, Index groups,
                                        std::int8_t* q, float* d, std::int32_t* sums) {
  for (Index g = 0; g < groups; ++g) {
    const Index begin = g * group_size;
    const Index end = begin + group_size < k ? begin + group_size : k;
    float amax = 0.0f;
    for (Index i = begin; i < end; ++i) {
      const float a = std::fabs(x[i]);
      if (a > amax) amax = a;  // false for NaN: NaN counts as 0
    }
    float inv;
    d[g] = activation_group_scale(amax, inv);
    std::int32_t sum = 0;
    for (Index i = begin; i < begin + group_size; ++i) {
      const std::int8_t c = i < end ? quantize_activation_value(x[i] * inv) : std::int8_t{0};
      q[i] = c;
      sum += c;
    }
    sums[g] = sum;
  }
}

// The weight codes a panel kernel reads (the template argument of every panel kernel):
//   Int4Codes       the int4 format's nibbles, offset binary: code = nibble - 8 (a 64-byte block
//                   per 16 channels and octet row)
//   Int4TableCodes  the same nibbles as indices into a 16-entry int8 table: code = table[nibble]
//                   (ggml's iq4_nl)
//   Int4MinCodes    the same nibbles read as they are, code = nibble in [0, 15], with a second
//                   value per channel and group after the scales, its minimum m: the weight is
//                   scale * nibble - m (ggml's q4_K)
//   Int8Codes       the grouped int8 format's bytes (two's complement, 128-byte blocks: k 0..3
//                   of the octet, then k 4..7)
template <int Bits, bool Table = false, bool Min = false>
struct PanelCodes {
  static_assert((Bits == 4 || Bits == 8) && (Bits == 4 || (!Table && !Min)) && !(Table && Min),
                "4-bit codes (plain, through a table, or with minimums) or 8-bit codes");
  static constexpr int bits = Bits;
  static constexpr bool table = Table;
  static constexpr bool with_min = Min;
  // What the nibbles add to each code: the int4 format's offset binary.
  static constexpr std::int32_t nibble_offset = Bits == 4 && !Table && !Min ? 8 : 0;
  static constexpr Index block_bytes = 16 * Bits;
  // Bytes of one group record's codes, for a panel of width w.
  static Index code_bytes(Index group_size, Index w) { return group_size * w * Bits / 8; }
  // Bytes of one group record: codes, scales, and minimums for Int4MinCodes.
  static Index record_bytes(Index group_size, Index w, ScaleType type) {
    return code_bytes(group_size, w) + (Min ? 2 : 1) * w * (type == ScaleType::f32 ? 4 : 2);
  }
  // code(c, k) of the record `rec` of a panel of width w, k < G.
  static std::int32_t code(const std::uint8_t* rec, Index w, Index c, Index k, const std::int8_t* lookup) {
    const Index o = k / 8, half = (k % 8) / 4, j = k % 4;
    const std::uint8_t* block = rec + (o * (w / 16) + c / 16) * block_bytes;
    if constexpr (Bits == 4) {
      const std::uint8_t byte = block[(c % 16) * 4 + j];
      const int nibble = (half ? byte >> 4 : byte) & 0x0F;
      if constexpr (Table) {
        return lookup[nibble];
      } else {
        return nibble - nibble_offset;
      }
    } else {
      static_cast<void>(lookup);
      return static_cast<std::int8_t>(block[half * 64 + (c % 16) * 4 + j]);
    }
  }
};

using Int4Codes = PanelCodes<4>;
using Int4TableCodes = PanelCodes<4, true>;
using Int4MinCodes = PanelCodes<4, false, true>;
using Int8Codes = PanelCodes<8>;

template <class Codes>
void grouped_panel_scalar(const Int4PanelArgs& a, int rows) {
  const Index w = a.width;
  const Index record = Codes::record_bytes(a.group_size, w, a.scale_type);
  const Index value_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
  for (int r = 0; r < rows; ++r) {
    const std::int8_t* q = a.q + r * a.q_stride;
    for (Index c = 0; c < w; ++c) {
      float acc = 0.0f;
      for (Index g = 0; g < a.groups; ++g) {
        const std::uint8_t* rec = a.panel + g * record;
        std::int32_t isum = 0;
        for (Index kk = 0; kk < a.group_size; ++kk) isum += Codes::code(rec, w, c, kk, a.table) * q[g * a.group_size + kk];
        const std::uint8_t* scales = rec + Codes::code_bytes(a.group_size, w);
        const float d = a.d[r * a.groups + g];
        acc = std::fma(record_value(scales, c, a.scale_type) * d, static_cast<float>(isum), acc);
        if constexpr (Codes::with_min) {
          const float m = record_value(scales + w * value_bytes, c, a.scale_type);
          acc = std::fma(m * d, -static_cast<float>(a.sums[r * a.groups + g]), acc);
        }
      }
      a.out[r * 64 + c] = acc + a.bias[c];
    }
  }
}

}  // namespace detail

template <>
struct GemvInt4Path<Isa::scalar> {
  static constexpr int max_rows = 4;
  static void quantize_activations(const float* x, Index k, Index group_size, Index groups, std::int8_t* q,
                                   float* d, std::int32_t* sums) {
    detail::quantize_activations_scalar(x, k, group_size, groups, q, d, sums);
  }
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    detail::grouped_panel_scalar<detail::Int4Codes>(a, Rows);
  }
};

template <>
struct GemvInt4TablePath<Isa::scalar> {
  static constexpr int max_rows = 4;
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    detail::grouped_panel_scalar<detail::Int4TableCodes>(a, Rows);
  }
};

template <>
struct GemvInt4MinPath<Isa::scalar> {
  static constexpr int max_rows = 4;
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    detail::grouped_panel_scalar<detail::Int4MinCodes>(a, Rows);
  }
};

template <>
struct GemvGroupedInt8Path<Isa::scalar> {
  static constexpr int max_rows = 4;
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    detail::grouped_panel_scalar<detail::Int8Codes>(a, Rows);
  }
};

}  // namespace kernels
}  // namespace eigenq
