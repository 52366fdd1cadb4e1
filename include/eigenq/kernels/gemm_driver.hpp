// The blocked int8 GEMM loop shared by the SIMD paths (scalar code: it only
// packs A, cuts the problem into tiles and calls the path's micro-kernel for the
// tile's shape and the output stage of its ISA, which carry the target attributes).
//
// Blocking. B is packed once in full (packed_weights.hpp), so only A is packed
// here, a block of MC rows at a time, into micro-panels of MR rows:
// element (q, r, j) of a micro-panel holds A(r, 4q + j) + offset (zero past K).
//     for each MC block of rows          A block (MC x Kp), about 512 KiB: L2
//       pack the A block
//       for each group of B panels       Kp x 48 bytes each, about 192 KiB: L2
//         for each MR micro-panel        MR x Kp: L1 across the group (moderate K)
//           for each panel of the group  MR x 48 int32 tile in registers, full K
//             micro-kernel, then the output stage on the tile while it is in L1
// (the budgets suit a 1 MiB L2 and 32 KiB L1, this machine's; measured: the
// panel groups make 2048 x 2048 x 256 about 10% faster than one panel at a
// time and change the cubes by under 1%). There is no K blocking: the
// micro-kernel runs the whole depth, so the output stage sees finished sums.
// At 64 multiply-adds per 64-byte B load and one A broadcast per row, the
// panels stream from L2 far below its bandwidth (the kernel alone sustains
// 445-450 GOPS of the 466 peak at K = 4096, B in L2).
// When packing would only copy A (bytes the path takes as they are, K a
// multiple of 4, no row sums needed) the micro-kernel reads A in place instead:
// its 4-byte broadcasts are row-major A already.
// With threads > 1 the B panels are split between std::threads; each packs its
// own copy of the A block (cheap next to its share of the products).
//
// Zero points. A path packs A' = A + offset (offset 128 turns s8 into u8 for
// vpdpbusd; -128 turns u8 into s8 for sdot; 0 when A is widened). With
// s(n) = sum_k B(k, n) and r(m) = sum_k A(m, k):
//   sum_k (A - za)(B - zb) = sum_k A'B - (offset + za) s(n) - zb(n) r(m) + K za zb(n),
// since sum_k A'B = sum_k AB + offset s(n). This is an identity over the
// integers, so it also holds modulo 2^32, where all of it is computed: the
// micro-kernel adds col_offset(n) = bias(n) - (offset + za) s(n) + K za zb(n)
// and, only when B has zero points, zb(n) * (-r(m)). Padding (k >= K) is zero
// in both A' and B, so it adds nothing. The kernels' own sums are sum_k A'B
// modulo 2^32 in any order: vpdpbusd and sdot add a lane's four products
// exactly (each fits 16 bits) and wrap only when adding to the accumulator;
// vpmaddwd adds two products exactly (|2 * 255 * 128| < 2^31).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenq/core/thread_pool.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/output_stage.hpp"
#include "eigenq/kernels/packed_weights.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// Cache budgets for this class of machine (1 MiB L2, 32 KiB L1 per core): the
// packed A block and a group of B panels share L2.
constexpr Index activation_block_bytes = Index{512} * 1024;
constexpr Index panel_group_bytes = Index{192} * 1024;

// What the micro-kernel of a path gets for one tile.
template <class PackedA>
struct TileArgs {
  int rows = 0;            // 1..MR (also the kernel's Rows)
  int vectors = 0;         // panel width / 16: 1, 2 or 3 (also the kernel's Vectors)
  Index quads = 0;         // Kp / 4
  const PackedA* a = nullptr;  // element (q, r, j) at a[q * quad_step + r * row_step + j]
  Index row_step = 0;
  Index quad_step = 0;
  const std::int8_t* b = nullptr;        // the B panel; one quad row is vectors * 64 bytes
  const std::int32_t* col_offset = nullptr;  // vectors * 16 values
  const std::int32_t* zb = nullptr;          // vectors * 16 values, or null
  const std::int32_t* neg_row_sum = nullptr;  // rows values (when zb)
  std::int32_t* out = nullptr;
  Index ldo = 0;
};

// A block of rows packed for a path, with what the corrections need.
template <class PackedA>
struct PackedActivations {
  AlignedBuffer<PackedA> data;
  AlignedBuffer<std::int32_t> neg_row_sum;
};

// Packs rows [0, rows) of A into micro-panels of up to `mr` rows (the last may be shorter).
template <class PackedA, class A>
void pack_activation_block(const A* a, Index rows, Index lda, Index k, Index quads, int mr,
                           std::int32_t offset, bool row_sums, PackedActivations<PackedA>& out) {
  out.data.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, rows * quads * 4)));
  if (row_sums) out.neg_row_sum.reserve_uninitialized(static_cast<std::size_t>(rows));
  const Index full_quads = k / 4;
  if (quads == 0) {  // K = 0: nothing to pack, every row sum is zero
    for (Index r = 0; r < rows && row_sums; ++r) out.neg_row_sum[static_cast<std::size_t>(r)] = 0;
    return;
  }
  for (Index r0 = 0; r0 < rows; r0 += mr) {
    const Index panel_rows = std::min<Index>(mr, rows - r0);
    PackedA* panel = out.data.data() + r0 * quads * 4;
    for (Index r = 0; r < panel_rows; ++r) {
      const A* src = a + (r0 + r) * lda;
      PackedA* dst = panel + r * 4;
      const Index step = panel_rows * 4;
      if constexpr (sizeof(PackedA) == 1 && sizeof(A) == 1) {
        // Four bytes at a time; adding +-128 to every byte is flipping its top bit.
        const std::uint32_t flip = (offset & 0xFF) == 0x80 ? 0x80808080u : 0u;
        for (Index q = 0; q < full_quads; ++q) {
          std::uint32_t v;
          std::memcpy(&v, src + 4 * q, 4);
          v ^= flip;
          std::memcpy(dst + q * step, &v, 4);
        }
      } else {
        for (Index q = 0; q < full_quads; ++q) {
          for (int j = 0; j < 4; ++j) {
            dst[q * step + j] = static_cast<PackedA>(std::int32_t{src[4 * q + j]} + offset);
          }
        }
      }
      for (Index q = full_quads; q < quads; ++q) {  // the last, partial quad
        for (Index j = 0; j < 4; ++j) {
          const Index kk = 4 * q + j;
          dst[q * step + j] = kk < k ? static_cast<PackedA>(std::int32_t{src[kk]} + offset) : PackedA{0};
        }
      }
      if (row_sums) {
        std::int64_t sum = 0;
        for (Index kk = 0; kk < k; ++kk) sum += src[kk];
        out.neg_row_sum[static_cast<std::size_t>(r0 + r)] =
            static_cast<std::int32_t>(0u - static_cast<std::uint32_t>(sum));
      }
    }
  }
}

// Rows of A per block: the packed block takes about half of L2.
inline Index rows_per_block(Index quads, std::size_t packed_a_bytes, int mr) {
  const Index row_bytes = std::max<Index>(1, quads * 4 * static_cast<Index>(packed_a_bytes));
  const Index rows = (activation_block_bytes / row_bytes) / mr * mr;
  return std::max<Index>(rows, mr);
}

// col_offset(n) = bias(n) - (offset + za) s(n) + K za zb(n), modulo 2^32.
inline void column_offsets(const PackedWeights& b, std::int32_t a_zero_point, std::int32_t a_offset,
                           const PreparedOutput& out, AlignedBuffer<std::int32_t>& col_offset) {
  const Index np = b.padded_cols();
  col_offset.resize(static_cast<std::size_t>(np));
  const std::uint32_t za = static_cast<std::uint32_t>(a_zero_point);
  const std::uint32_t sum_factor = static_cast<std::uint32_t>(a_offset) + za;
  const std::uint32_t kza = static_cast<std::uint32_t>(b.depth()) * za;
  const bool has_bias = out.kind == OutputKind::requantize_float ||
                        out.kind == OutputKind::requantize_fixed_point;
  for (Index j = 0; j < np; ++j) {
    const auto s = static_cast<std::size_t>(j);
    std::uint32_t v = has_bias ? static_cast<std::uint32_t>(out.bias[s]) : 0u;
    v -= sum_factor * static_cast<std::uint32_t>(b.column_sums()[j]);
    v += kza * static_cast<std::uint32_t>(b.zero_points()[j]);
    col_offset[s] = static_cast<std::int32_t>(v);
  }
}

// The micro-kernel of every tile height (1..max_rows) and panel width (1..3 vectors of 16
// columns), Path::tile<Rows, Vectors>::run, in a table: the one place that turns a tile's shape
// into the kernel instantiated for it.
template <class Path>
using TileKernel = void (*)(const TileArgs<typename Path::packed_a>&);

template <class Path, std::size_t... R>
constexpr std::array<std::array<TileKernel<Path>, 3>, sizeof...(R)> tile_kernels(std::index_sequence<R...>) {
  return {{{{&Path::template tile<int(R) + 1, 1>::run, &Path::template tile<int(R) + 1, 2>::run,
             &Path::template tile<int(R) + 1, 3>::run}}...}};
}

template <class Path>
void run_micro_kernel(const TileArgs<typename Path::packed_a>& t) {
  static constexpr auto kernels = tile_kernels<Path>(std::make_index_sequence<Path::max_rows>{});
  kernels[static_cast<std::size_t>(t.rows - 1)][static_cast<std::size_t>(t.vectors - 1)](t);
}

// The output stage on one row of a finished tile: the elementwise loops of the path's ISA.
template <class Path, class Out>
void finish_row(const PreparedOutput& out, const std::int32_t* acc, Index count, Index n0, Index row, Out* dst) {
  using Elementwise = ElementwisePath<Path::isa>;
  switch (out.kind) {
    case OutputKind::int32:
      if constexpr (std::is_same_v<Out, std::int32_t>) {
        std::memcpy(dst, acc, static_cast<std::size_t>(count) * sizeof(std::int32_t));
      }
      return;
    case OutputKind::requantize_float:
      if constexpr (sizeof(Out) == 1) {
        Elementwise::requantize_float_channels(acc, count, out.float_multiplier.data() + n0, out.zero_point,
                                               out.range, dst);
      }
      return;
    case OutputKind::requantize_fixed_point:
      if constexpr (sizeof(Out) == 1) {
        Elementwise::requantize_fixed_point_channels(acc, count, out.fixed_point_multiplier.data() + n0,
                                                     out.fixed_point_exponent.data() + n0, out.rounding,
                                                     out.zero_point, out.range, dst);
      }
      return;
    case OutputKind::dequantize:
      if constexpr (std::is_same_v<Out, float>) {
        Elementwise::dequantize_accumulators(acc, count, out.row_scale(row), out.col_scale.data() + n0,
                                             out.col_bias.data() + n0, dst);
      }
      return;
  }
}

// What a GemmPath specialization is: its ISA (the output stages run on ElementwisePath<isa>),
// the type its micro-kernel multiplies A as, its tallest tile, and the micro-kernel,
// Tile<Rows, Vectors>::run(const TileArgs<PackedA>&) for Rows up to MaxRows and Vectors 1..3.
template <Isa I, class PackedA, int MaxRows, template <int Rows, int Vectors> class Tile>
struct GemmPathTraits {
  static constexpr Isa isa = I;
  using packed_a = PackedA;  // std::uint8_t (vpdpbusd), std::int8_t (sdot) or std::int16_t (widened)
  static constexpr int max_rows = MaxRows;
  template <int Rows, int Vectors>
  using tile = Tile<Rows, Vectors>;
};

// The offset packing adds to A so the micro-kernel's type holds it: 128 turns s8 into u8,
// -128 u8 into s8; 0 when the types agree or A is widened to int16.
template <class PackedA, class A>
constexpr std::int32_t a_offset() {
  if constexpr (sizeof(PackedA) == 2 || std::is_same_v<PackedA, A>) {
    return 0;
  } else {
    return std::is_signed_v<A> ? 128 : -128;
  }
}

// The blocked loop for one path.
template <class Path, class A, class Out>
void gemm_blocked(const A* a, Index m, Index lda, std::int32_t a_zero_point, const PackedWeights& b,
                  const PreparedOutput& out, Out* c, Index ldc, int threads) {
  using PackedA = typename Path::packed_a;
  constexpr int mr = Path::max_rows;
  constexpr Index width = PackedWeights::panel_width;
  const Index k = b.depth();
  const Index n = b.cols();
  const Index quads = b.padded_depth() / 4;
  const Index panels = b.panel_count();
  if (m == 0 || n == 0) return;

  AlignedBuffer<std::int32_t> col_offset;
  column_offsets(b, a_zero_point, a_offset<PackedA, A>(), out, col_offset);
  const bool zb = b.has_zero_points();
  const Index block_rows = std::min<Index>(m, rows_per_block(quads, sizeof(PackedA), mr));
  // The micro-kernel can read A in place when packing would only copy it: bytes that need
  // no offset, whole quads, no row sums.
  const bool read_in_place = sizeof(PackedA) == 1 && a_offset<PackedA, A>() == 0 &&
                             k % 4 == 0 && !zb;

  // Rows [row_begin, row_end) of C, panels [p_begin, p_end).
  const auto work = [&](Index row_begin, Index row_end, Index p_begin, Index p_end) {
    PackedActivations<PackedA> packed;
    alignas(64) std::int32_t tile[mr * width];
    TileArgs<PackedA> t;
    t.quads = quads;
    t.zb = nullptr;
    for (Index i0 = row_begin; i0 < row_end; i0 += block_rows) {
      const Index rows = std::min(block_rows, row_end - i0);
      if (!read_in_place) {
        pack_activation_block(a + i0 * lda, rows, lda, k, quads, mr, a_offset<PackedA, A>(), zb,
                              packed);
      }
      // One tile: rows [r0, r0 + mr) of the block against panel p.
      const auto run_tile = [&](Index p, Index r0) {
        const Index n0 = p * width;
        const Index panel_width = b.panel_cols(p);
        const Index valid = std::min(panel_width, n - n0);
        t.vectors = static_cast<int>(panel_width / 16);
        t.b = b.panel(p);
        t.col_offset = col_offset.data() + n0;
        t.zb = zb ? b.zero_points() + n0 : nullptr;
        const int tile_rows = static_cast<int>(std::min<Index>(mr, rows - r0));
        t.rows = tile_rows;
        if (read_in_place) {
          // Byte-sized A reinterpreted as the packed byte type (both are character types).
          t.a = reinterpret_cast<const PackedA*>(a + (i0 + r0) * lda);
          t.row_step = lda;
          t.quad_step = 4;
        } else {
          t.a = packed.data.data() + r0 * quads * 4;
          t.row_step = 4;
          t.quad_step = 4 * tile_rows;
        }
        t.neg_row_sum = zb ? packed.neg_row_sum.data() + r0 : nullptr;
        Out* c_tile = c + (i0 + r0) * ldc + n0;
        bool direct = false;
        if constexpr (std::is_same_v<Out, std::int32_t>) direct = valid == panel_width;
        if (direct) {
          t.out = reinterpret_cast<std::int32_t*>(c_tile);
          t.ldo = ldc;
          run_micro_kernel<Path>(t);
          return;
        }
        t.out = tile;
        t.ldo = width;
        run_micro_kernel<Path>(t);
        for (int r = 0; r < tile_rows; ++r) {
          finish_row<Path>(out, tile + r * width, valid, n0, i0 + r0 + r, c_tile + r * ldc);
        }
      };
      // Panels in groups that stay in L2 while every micro-panel of the block passes over
      // them; a micro-panel (MR x Kp) stays in L1 across its group when K is moderate.
      const Index group = std::max<Index>(1, panel_group_bytes / std::max<Index>(1, quads * 4 * width));
      for (Index g0 = p_begin; g0 < p_end; g0 += group) {
        const Index g1 = std::min(p_end, g0 + group);
        for (Index r0 = 0; r0 < rows; r0 += mr) {
          for (Index p = g0; p < g1; ++p) run_tile(p, r0);
        }
      }
    }
  };

  // Threads share the panels when there are enough of them to balance the shares (8 a thread)
  // and B is at least as large as A: each thread then streams all of A and its part of B.
  // Otherwise they share the rows, if each gets 8 tiles' worth: each streams all of B and packs
  // only its rows. Each element of C is computed the same way either way.
  const int shares = threads_for_work(double(m) * double(n) * double(k), threads);
  const Index row_tiles = (m + mr - 1) / mr;
  const bool share_panels = panels >= 8 * Index{shares} && n >= m;
  if (!share_panels && row_tiles >= 8 * Index{shares}) {
    split_over_threads(row_tiles, shares, [&](Index begin, Index end) {
      work(begin * mr, std::min(m, end * mr), 0, panels);
    });
  } else {
    split_over_threads(panels, shares, [&](Index begin, Index end) { work(0, m, begin, end); });
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq
