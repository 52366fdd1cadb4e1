// AVX2 int4 grouped GEMV, bit for bit the definitions in scalar/gemv_int4.hpp; the activation
// quantization is generic/gemv_int4-inl.hpp's.
// Also the int4 GEMV of the AVX-512BW path (no VNNI): the product is
// memory-bound there and this kernel already keeps up.
//
// Saturation proof for vpmaddubsw. The unsigned operand is a weight nibble
// w = code + 8 in [0, 15], the signed one an activation code q in [-127, 127]
// (the quantizer clamps there), so one vpmaddubsw lane w0 q0 + w1 q1 is at most
// 2 * 15 * 127 = 3810 in magnitude: it never saturates. Per octet row the low-
// and high-nibble products of a lane are added in int16 (<= 7620), and four
// octet rows (32 k) at most are summed that way (<= 30480 < 32767) before
// vpmaddwd with ones widens them into the int32 group sum. No step saturates.
// The f16 scales are widened with integer operations (exact for finite
// halves, the only ones packing accepts), since AVX2 does not imply F16C.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx2/vector.hpp"

#define EIGENQ_GENERIC_NAMESPACE x86_avx2
#define EIGENQ_TARGET EIGENQ_TARGET_AVX2
#include "eigenq/kernels/generic/gemv_int4-inl.hpp"

namespace eigenq::kernels::x86_avx2 {

// The int32 sums of one group for Rows rows and Halves 8-channel halves from
// half h0, into isum[r * 64 + c]. Octet rows are read in order, all the
// halves of each, so the record streams through once.
template <int Rows, int Halves>
EIGENQ_TARGET_AVX2 void group_sums(const Int4PanelArgs& a, const std::uint8_t* rec, Index g, Index h0,
                                   std::int32_t* isum) {
  const Index nb = a.width / 16;
  const Index octets = a.group_size / 8;
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  for (Index o0 = 0; o0 < octets; o0 += 4) {  // at most 4 octet rows in int16 (see above)
    __m256i acc16[Rows][Halves];
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) acc16[r][h] = _mm256_setzero_si256();
    }
    for (Index o = o0; o < o0 + 4; ++o) {
      __m256i x_lo[Rows], x_hi[Rows];
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) broadcast_octet(a, r, g, o, x_lo[r], x_hi[r]);
      const std::uint8_t* row = rec + o * nb * 64 + h0 * 32;  // half h at row + 32 h
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * h));
        const __m256i w_lo = _mm256_and_si256(v, low4);
        const __m256i w_hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
#pragma GCC unroll 2
        for (int r = 0; r < Rows; ++r) {
          const __m256i p_lo = _mm256_maddubs_epi16(w_lo, x_lo[r]);
          const __m256i p_hi = _mm256_maddubs_epi16(w_hi, x_hi[r]);
          acc16[r][h] = _mm256_add_epi16(acc16[r][h], _mm256_add_epi16(p_lo, p_hi));
        }
      }
    }
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
      for (int h = 0; h < Halves; ++h) {
        auto* dst = reinterpret_cast<__m256i*>(isum + r * 64 + 8 * (h0 + h));
        const __m256i partial = _mm256_madd_epi16(acc16[r][h], ones);
        _mm256_store_si256(dst, o0 == 0 ? partial : _mm256_add_epi32(_mm256_load_si256(dst), partial));
      }
    }
  }
}

// The same sums for signed int8 weights, which would saturate vpmaddubsw as unsigned bytes:
// |w| times q with w's sign (vpsignb), at most 2 * 128 * 127 = 32512 per int16 lane, widened
// to int32 (vpmaddwd) at once. Table = false: the grouped int8 format, half h of octet row o
// the 32 bytes at row + 128 (h / 2) + 32 (h % 2), its k 4..7 64 bytes further. Table = true:
// the int4 format's nibbles (half h at row + 32 h) through the table (vpshufb).
template <bool Table, int Rows, int Halves>
EIGENQ_TARGET_AVX2 void group_sums_int8(const Int4PanelArgs& a, const std::uint8_t* rec, Index g, Index h0,
                                        std::int32_t* isum) {
  const Index nb = a.width / 16;
  const Index octets = a.group_size / 8;
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256i table = _mm256_setzero_si256();
  if constexpr (Table) table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.table)));
  __m256i acc[Rows][Halves];
#pragma GCC unroll 2
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
    for (int h = 0; h < Halves; ++h) acc[r][h] = _mm256_setzero_si256();
  }
  for (Index o = 0; o < octets; ++o) {
    __m256i x_lo[Rows], x_hi[Rows];
#pragma GCC unroll 2
    for (int r = 0; r < Rows; ++r) broadcast_octet(a, r, g, o, x_lo[r], x_hi[r]);
    const std::uint8_t* row = rec + o * nb * (Table ? 64 : 128);
#pragma GCC unroll 8
    for (int h = 0; h < Halves; ++h) {
      __m256i w_lo, w_hi;
      if constexpr (Table) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 32 * (h0 + h)));
        w_lo = _mm256_shuffle_epi8(table, _mm256_and_si256(v, low4));
        w_hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(v, 4), low4));
      } else {
        const std::uint8_t* lo = row + 128 * ((h0 + h) / 2) + 32 * ((h0 + h) % 2);
        w_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo));
        w_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo + 64));
      }
      const __m256i a_lo = _mm256_sign_epi8(w_lo, w_lo);
      const __m256i a_hi = _mm256_sign_epi8(w_hi, w_hi);
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const __m256i p_lo = _mm256_maddubs_epi16(a_lo, _mm256_sign_epi8(x_lo[r], w_lo));
        const __m256i p_hi = _mm256_maddubs_epi16(a_hi, _mm256_sign_epi8(x_hi[r], w_hi));
        acc[r][h] = _mm256_add_epi32(acc[r][h], _mm256_madd_epi16(p_lo, ones));
        acc[r][h] = _mm256_add_epi32(acc[r][h], _mm256_madd_epi16(p_hi, ones));
      }
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 8
    for (int h = 0; h < Halves; ++h) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(isum + r * 64 + 8 * (h0 + h)), acc[r][h]);
    }
  }
}

// Nibbles read as they are (Int4Codes, Int4MinCodes: 0..15, vpmaddubsw's unsigned operand)
// or signed values (table levels, int8 codes).
template <class Codes, int Rows, int Halves>
EIGENQ_TARGET_AVX2 EIGENQ_ALWAYS_INLINE void sums_of(const Int4PanelArgs& a, const std::uint8_t* rec, Index g,
                                                     Index h0, std::int32_t* isum) {
  if constexpr (Codes::bits == 4 && !Codes::table) {
    group_sums<Rows, Halves>(a, rec, g, h0, isum);
  } else {
    group_sums_int8<Codes::table, Rows, Halves>(a, rec, g, h0, isum);
  }
}

// Rows (1 or 2) rows against one panel, group by group: the group's int32 sums
// (up to 8 halves per sweep for one row, 4 for two), then the float update of
// every channel from the sums and the group's widened scales.
template <class Codes, int Rows>
EIGENQ_TARGET_AVX2 void panel_rows(const Int4PanelArgs& a) {
  constexpr std::int32_t offset = Codes::nibble_offset;  // Int4Codes' nibbles are code + 8
  constexpr Index max_halves = Rows == 1 ? 8 : 4;
  const Index halves = a.width / 8;
  const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
  const Index code_bytes = Codes::code_bytes(a.group_size, a.width);
  const Index record = Codes::record_bytes(a.group_size, a.width, a.scale_type);
  alignas(32) float acc[Rows * 64] = {};
  alignas(32) std::int32_t isum[Rows * 64];
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec = a.panel + g * record;
    for (Index h0 = 0; h0 < halves; h0 += max_halves) {
      switch (halves - h0 < max_halves ? halves - h0 : max_halves) {
        case 2: sums_of<Codes, Rows, 2>(a, rec, g, h0, isum); break;
        case 4: sums_of<Codes, Rows, 4>(a, rec, g, h0, isum); break;
        case 6:
          if constexpr (max_halves >= 6) sums_of<Codes, Rows, 6>(a, rec, g, h0, isum);
          break;
        default:
          if constexpr (max_halves >= 8) sums_of<Codes, Rows, 8>(a, rec, g, h0, isum);
          break;
      }
    }
    const std::uint8_t* scales = rec + code_bytes;
    for (Index c = 0; c < a.width; c += 8) {
      const __m256 s = load_scales(scales + c * scale_bytes, a.scale_type);
      [[maybe_unused]] __m256 m = _mm256_setzero_ps();  // the channels' minimums, read once for every row
      if constexpr (Codes::with_min) m = load_scales(scales + (a.width + c) * scale_bytes, a.scale_type);
#pragma GCC unroll 2
      for (int r = 0; r < Rows; ++r) {
        const __m256 dq = _mm256_set1_ps(a.d[r * a.groups + g]);
        const __m256i sum = _mm256_sub_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(isum + r * 64 + c)),
                                             _mm256_set1_epi32(offset * a.sums[r * a.groups + g]));
        float* dst = acc + r * 64 + c;
        __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(s, dq), _mm256_cvtepi32_ps(sum), _mm256_load_ps(dst));
        if constexpr (Codes::with_min) {
          const __m256 neg_sum = _mm256_set1_ps(-static_cast<float>(a.sums[r * a.groups + g]));
          y = _mm256_fmadd_ps(_mm256_mul_ps(m, dq), neg_sum, y);
        }
        _mm256_store_ps(dst, y);
      }
    }
  }
  for (int r = 0; r < Rows; ++r) {
    for (Index c = 0; c < a.width; c += 8) {
      const __m256 y = _mm256_add_ps(_mm256_load_ps(acc + r * 64 + c), _mm256_loadu_ps(a.bias + c));
      _mm256_storeu_ps(a.out + r * 64 + c, y);
    }
  }
}

}  // namespace eigenq::kernels::x86_avx2

namespace eigenq::kernels {

namespace x86_avx2 {
// Every grouped family's panel entry on this ISA (Codes: the family's codes descriptor): tiles
// of 2 rows, up to 4 rows a call. Nibbles with minimums (the minimum's term added after the
// scale's), table codes and the grouped int8 format (group_sums_int8 for the sums) run the same
// panel loop. Also the avx512 paths' (x86_avx512/gemv_int4.hpp).
template <class Codes>
struct GroupedPanelPath {
  static constexpr int max_rows = 4;
  template <int Rows>
  EIGENQ_TARGET_AVX2 static void panel(const detail::Int4PanelArgs& a) {
    panel_rows<Codes, (Rows < 2 ? Rows : 2)>(a);
    if constexpr (Rows > 2) panel<Rows - 2>(a.from_row(2));
  }
};
}  // namespace x86_avx2

template <>
struct GemvInt4Path<Isa::avx2> : x86_avx2::Int4Activations, x86_avx2::GroupedPanelPath<detail::Int4Codes> {};
template <>
struct GemvInt4MinPath<Isa::avx2> : x86_avx2::GroupedPanelPath<detail::Int4MinCodes> {};
template <>
struct GemvInt4TablePath<Isa::avx2> : x86_avx2::GroupedPanelPath<detail::Int4TableCodes> {};
template <>
struct GemvGroupedInt8Path<Isa::avx2> : x86_avx2::GroupedPanelPath<detail::Int8Codes> {};

}  // namespace eigenq::kernels

#endif  // EIGENQ_HAVE_AVX2
