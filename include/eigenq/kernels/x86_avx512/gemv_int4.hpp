// AVX-512 int4 grouped GEMV: the VNNI panel kernel and, for the avx512 path without VNNI,
// the AVX2 kernel (x86_avx2/gemv_int4.hpp: the product is memory-bound there and that kernel
// keeps up). Bit for bit the definitions in scalar/gemv_int4.hpp; the activation
// quantization is generic/gemv_int4-inl.hpp's.
//
// A 64-byte block of a group record is 16 channels x (4 k in the low nibbles,
// the next 4 k in the high ones). AND 0x0F and a 16-bit shift by 4 (then AND)
// give two vectors of unsigned bytes 0..15 = code + 8, which vpdpbusd
// multiplies by a broadcast quad of int8 activations, adding into int32 lanes
// (one channel each, exact). isum = lanes - 8 * sum_q then removes the offset.
// The group's float update is the scalar fma, lane by lane.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx2/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx512/vector.hpp"


EIGENQ_AVX512_DIAGNOSTICS_BEGIN

#define EIGENQ_GENERIC_NAMESPACE x86_avx512
#define EIGENQ_TARGET EIGENQ_TARGET_AVX512
#include "eigenq/kernels/generic/gemv_int4-inl.hpp"

namespace eigenq::kernels::x86_avx512 {

#if defined(EIGENQ_HAVE_AVX512VNNI)

// The two unsigned operand vectors of a 16-channel block's octet row (k 0..3 and 4..7 of each
// channel in its 32-bit lane) and the offset they carry: the nibbles themselves (AND 0x0F, a
// shift by 4: code + 8 for Int4Codes, the code for Int4MinCodes), table[nibble] + 128 through
// vpshufb on the table XOR 0x80 (the table in each 128-bit lane), code + 128 from the grouped
// int8 format's bytes (XOR 0x80).
template <class Codes>
struct BlockOperands {
  static constexpr int Bits = Codes::bits;
  static constexpr bool Table = Codes::table;
  static constexpr std::int32_t offset = Bits == 4 && !Table ? Codes::nibble_offset : 128;
  __m512i table;

  EIGENQ_TARGET_AVX512VNNI explicit BlockOperands(const Int4PanelArgs& a) {
    if constexpr (Table) {
      const __m128i t = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.table)),
                                      _mm_set1_epi8(static_cast<char>(0x80)));
      table = _mm512_broadcast_i32x4(t);
    } else {
      table = _mm512_setzero_si512();
    }
  }
  EIGENQ_TARGET_AVX512VNNI void load(const std::uint8_t* block, __m512i& lo, __m512i& hi) const {
    if constexpr (Bits == 4) {
      const __m512i low4 = _mm512_set1_epi8(0x0F);
      const __m512i v = _mm512_loadu_si512(block);
      lo = _mm512_and_si512(v, low4);
      hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
      if constexpr (Table) {
        lo = _mm512_shuffle_epi8(table, lo);
        hi = _mm512_shuffle_epi8(table, hi);
      }
    } else {
      const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
      lo = _mm512_xor_si512(_mm512_loadu_si512(block), sign);
      hi = _mm512_xor_si512(_mm512_loadu_si512(block + 64), sign);
    }
  }
};

// Blocks 16-channel blocks starting at block b0, for Rows rows. One row keeps
// separate low- and high-half accumulators: twice the independent chains.
template <class Codes, int Rows, int Blocks>
EIGENQ_TARGET_AVX512VNNI void grouped_pass(const Int4PanelArgs& a, Index b0) {
  using Operands = BlockOperands<Codes>;
  const Operands operands(a);
  constexpr bool split = Rows == 1;
  const Index nb = a.width / 16;
  const Index code_bytes = Codes::code_bytes(a.group_size, a.width);
  const Index record = Codes::record_bytes(a.group_size, a.width, a.scale_type);
  const Index octets = a.group_size / 8;
  __m512 facc[Rows][Blocks];
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) facc[r][b] = _mm512_setzero_ps();
  }
  for (Index g = 0; g < a.groups; ++g) {
    const std::uint8_t* rec = a.panel + g * record;
    // The accumulators start at -offset * sum_q: the codes' offset removed up front (exact).
    __m512i acc[Rows][Blocks];
    __m512i acc_hi[split ? 1 : Rows][split ? Blocks : 1];
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512i offset = _mm512_set1_epi32(-Operands::offset * a.sums[r * a.groups + g]);
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) acc[r][b] = offset;
    }
    if constexpr (split) {
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) acc_hi[0][b] = _mm512_setzero_si512();
    }
    for (Index o = 0; o < octets; ++o) {
      __m512i x_lo[Rows], x_hi[Rows];
#pragma GCC unroll 8
      for (int r = 0; r < Rows; ++r) broadcast_octet(a, r, g, o, x_lo[r], x_hi[r]);
      const std::uint8_t* block = rec + (o * nb + b0) * Codes::block_bytes;
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) {
        __m512i w_lo, w_hi;
        operands.load(block + Codes::block_bytes * b, w_lo, w_hi);
#pragma GCC unroll 8
        for (int r = 0; r < Rows; ++r) {
          acc[r][b] = dot_u8s8(acc[r][b], w_lo, x_lo[r]);
          if constexpr (split) {
            acc_hi[0][b] = dot_u8s8(acc_hi[0][b], w_hi, x_hi[r]);
          } else {
            acc[r][b] = dot_u8s8(acc[r][b], w_hi, x_hi[r]);
          }
        }
      }
    }
    const std::uint8_t* scales = rec + code_bytes;
    const Index scale_bytes = a.scale_type == ScaleType::f32 ? 4 : 2;
    __m512 s[Blocks], mins[Codes::with_min ? Blocks : 1];
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) {
      s[b] = load_scales(scales + 16 * (b0 + b) * scale_bytes, a.scale_type);
      if constexpr (Codes::with_min) {
        mins[b] = load_scales(scales + (a.width + 16 * (b0 + b)) * scale_bytes, a.scale_type);
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < Rows; ++r) {
      const __m512 dq = _mm512_set1_ps(a.d[r * a.groups + g]);
#pragma GCC unroll 4
      for (int b = 0; b < Blocks; ++b) {
        __m512i isum = acc[r][b];
        if constexpr (split) isum = _mm512_add_epi32(isum, acc_hi[0][b]);
        facc[r][b] = _mm512_fmadd_ps(_mm512_mul_ps(s[b], dq), _mm512_cvtepi32_ps(isum), facc[r][b]);
        if constexpr (Codes::with_min) {
          const __m512 neg_sum = _mm512_set1_ps(-static_cast<float>(a.sums[r * a.groups + g]));
          facc[r][b] = _mm512_fmadd_ps(_mm512_mul_ps(mins[b], dq), neg_sum, facc[r][b]);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 4
    for (int b = 0; b < Blocks; ++b) {
      const Index col = 16 * (b0 + b);
      _mm512_storeu_ps(a.out + r * 64 + col, _mm512_add_ps(facc[r][b], _mm512_loadu_ps(a.bias + col)));
    }
  }
}

template <class Codes, int Rows, int MaxBlocks>
EIGENQ_TARGET_AVX512VNNI void grouped_panel(const Int4PanelArgs& a) {
  const Index nb = a.width / 16;
  for (Index b0 = 0; b0 < nb; b0 += MaxBlocks) {
    switch (nb - b0 < MaxBlocks ? nb - b0 : MaxBlocks) {
      case 1: grouped_pass<Codes, Rows, 1>(a, b0); break;
      case 2: grouped_pass<Codes, Rows, 2>(a, b0); break;
      case 3:
        if constexpr (MaxBlocks >= 3) grouped_pass<Codes, Rows, 3>(a, b0);
        break;
      default:
        if constexpr (MaxBlocks >= 4) grouped_pass<Codes, Rows, 4>(a, b0);
        break;
    }
  }
}

#endif  // EIGENQ_HAVE_AVX512VNNI

}  // namespace eigenq::kernels::x86_avx512

namespace eigenq::kernels {

template <>
struct GemvInt4Path<Isa::avx512> : GemvInt4Path<Isa::avx2> {};
template <>
struct GemvGroupedInt8Path<Isa::avx512> : GemvGroupedInt8Path<Isa::avx2> {};
template <>
struct GemvInt4TablePath<Isa::avx512> : GemvInt4TablePath<Isa::avx2> {};
template <>
struct GemvInt4MinPath<Isa::avx512> : GemvInt4MinPath<Isa::avx2> {};

#if defined(EIGENQ_HAVE_AVX512VNNI)
// Accumulators per pass: 1 row x 4 blocks (x2 for the split), 2 x 4, 3-6 rows x 2 blocks
// (an int32 and a float accumulator each: 24 of the 32 registers at 6 rows). Six rows share
// each unpacked weight vector: the batch shape (gemm_int4 in benchmarks/bench_gemm.cpp).
namespace x86_avx512 {
// Every grouped family's panel entry (Codes: the family's codes descriptor): the nibbles, the
// nibbles through a table (vpshufb), with minimums, and the grouped int8 format (XOR 0x80 in
// place of the nibbles' unpacking) run the same loops.
template <class Codes>
struct GroupedPanelPath {
  static constexpr int max_rows = 6;
  template <int Rows>
  static void panel(const detail::Int4PanelArgs& a) {
    grouped_panel<Codes, Rows, (Rows <= 2 ? 4 : 2)>(a);
  }
};
}  // namespace x86_avx512

template <>
struct GemvInt4Path<Isa::avx512vnni> : x86_avx512::Int4Activations, x86_avx512::GroupedPanelPath<detail::Int4Codes> {};
template <>
struct GemvInt4MinPath<Isa::avx512vnni> : x86_avx512::GroupedPanelPath<detail::Int4MinCodes> {};
template <>
struct GemvInt4TablePath<Isa::avx512vnni> : x86_avx512::GroupedPanelPath<detail::Int4TableCodes> {};
template <>
struct GemvGroupedInt8Path<Isa::avx512vnni> : x86_avx512::GroupedPanelPath<detail::Int8Codes> {};
#endif

}  // namespace eigenq::kernels

EIGENQ_AVX512_DIAGNOSTICS_END

#endif  // EIGENQ_HAVE_AVX512
