// int4 grouped GEMV for weight-only 4-bit models: y = x W^T + bias, with x
// (M x K float, M small: the LLM decode shape) quantized on the fly to int8
// per group of G inputs and W packed by pack_int4_weights()
// (packed_int4_weights.hpp: int4 codes, one f32 or f16 scale per group of 32
// or 128). The path (GemvInt4Path) follows active_isa() through dispatch.hpp;
// scalar/gemv_int4.hpp defines the result every path reproduces bit for bit.
// ("int4" is eigenq's grouped format; "q4" names ggml's Q4_0/Q4_K blocks.)
//
//   auto w = eigenq::kernels::pack_int4_weights(codes, N, K, K, scales, K / 32, 32);
//   eigenq::kernels::gemv_int4(x, 1, K, w, bias, y, N);
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "eigenq/core/error.hpp"
#include "eigenq/core/thread_pool.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/checks.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx2/gemv_int4.hpp"
#include "eigenq/kernels/x86_avx512/gemv_int4.hpp"
#include "eigenq/kernels/arm_neon/gemv_int4.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// The panel kernel of every row count (1..Path::max_rows), Path::panel<Rows>, in a table.
template <class Path, int... Rows>
void run_panel(int rows, const Int4PanelArgs& args, std::integer_sequence<int, Rows...>) {
  using Panel = void (*)(const Int4PanelArgs&);
  static constexpr Panel panels[] = {&Path::template panel<Rows + 1>...};
  panels[rows - 1](args);
}

// Runs the path's panel kernel over the weight panels (split over threads) for m rows of
// activations already quantized per group; Weights: PackedInt4Weights or
// PackedGroupedInt8Weights (gemv_grouped_int8.hpp), Path of the matching family.
template <class Path, class Weights>
void run_grouped_panels(const Int4ActivationGroups& x, Index m, const Weights& w, const float* bias, float* y,
                        Index ldy, int threads, const std::int8_t* table = nullptr) {
  constexpr Index width = Weights::panel_width;
  const Index groups = w.groups();
  const Index n = w.cols();
  thread_local AlignedBuffer<float> bias_padded;
  bias_padded.resize(static_cast<std::size_t>(w.padded_cols()));
  if (bias != nullptr) std::memcpy(bias_padded.data(), bias, static_cast<std::size_t>(n) * sizeof(float));
  const std::int8_t* q_data = x.q;
  const float* d_data = x.d;
  const std::int32_t* sums_data = x.sums;
  const Index kp = x.q_stride;
  const float* bias_data = bias_padded.data();
  // Panel by panel, all rows through each: a panel's weights (K * 32 or 64 bytes and scales)
  // stay in L2 while the row tiles pass, and a batch reads the weights from memory once.
  constexpr int max_rows = Path::max_rows;
  const auto work = [&](Index p_begin, Index p_end) {
    alignas(64) float tile[max_rows * width];
    Int4PanelArgs args;
    args.groups = groups;
    args.group_size = w.group_size();
    args.scale_type = w.scale_type();
    args.q_stride = kp;
    args.out = tile;
    args.table = table;
    for (Index p = p_begin; p < p_end; ++p) {
      const Index n0 = p * width;
      args.panel = w.panel(p);
      args.width = w.panel_cols(p);
      args.bias = bias_data + n0;
      const Index valid = std::min(args.width, n - n0);
      for (Index r0 = 0; r0 < m; r0 += max_rows) {
        const int rows = static_cast<int>(std::min<Index>(max_rows, m - r0));
        args.q = q_data + r0 * kp;
        args.d = d_data + r0 * groups;
        args.sums = sums_data + r0 * groups;
        run_panel<Path>(rows, args, std::make_integer_sequence<int, max_rows>{});
        for (int r = 0; r < rows; ++r) {
          std::memcpy(y + (r0 + r) * ldy + n0, tile + r * width, static_cast<std::size_t>(valid) * sizeof(float));
        }
      }
    }
  };
  eigenq::split_over_threads(w.panel_count(), threads_for_work(double(m) * double(n) * double(w.depth()), threads), work);
}

// Quantizes the activations once (Path::quantize_activations, the definition in
// scalar/gemv_int4.hpp) into per-thread buffers, then runs the panels.
template <class Path>
void gemv_int4_run(const float* x, Index m, Index ldx, const PackedInt4Weights& w, const float* bias,
                   float* y, Index ldy, int threads) {
  const Index kp = w.padded_depth();
  const Index groups = w.groups();
  thread_local AlignedBuffer<std::int8_t> q;
  thread_local AlignedBuffer<float> d;
  thread_local AlignedBuffer<std::int32_t> sums;
  q.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * kp)));
  d.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  sums.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  for (Index r = 0; r < m; ++r) {
    Path::quantize_activations(x + r * ldx, w.depth(), w.group_size(), groups, q.data() + r * kp,
                               d.data() + r * groups, sums.data() + r * groups);
  }
  run_grouped_panels<Path>(Int4ActivationGroups{q.data(), kp, d.data(), sums.data()}, m, w, bias, y, ldy, threads);
}

}  // namespace detail

// y(m, n) = y[m * ldy + n] = sum_k x(m, k) W(n, k) + bias(n), computed as in
// scalar/gemv_int4.hpp; x(m, k) = x[m * ldx + k]. `bias` holds N values or is null.
// Any M works; rows go a few at a time (Path::max_rows), all of them through one weight
// panel before the next, so a batch is a GEMM that reads the weights once. y must not
// overlap x, W or bias.
inline void gemv_int4(const float* x, Index m, Index ldx, const PackedInt4Weights& w, const float* bias,
                      float* y, Index ldy, int threads = 1) {
  detail::check_product("gemv_int4", m, w.depth(), w.cols(), {"x", "ldx", x, ldx}, {"y", "ldy", y, ldy}, threads);
  if (w.has_mins()) raise("gemv_int4: the weights have minimums: run them with gemv_int4_min_quantized");
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvInt4Path>([&](auto path) {
    detail::gemv_int4_run<decltype(path)>(x, m, ldx, w, bias, y, ldy, threads);
  });
}

// The int4 product with the codes read through a table: W(n, k) = scale(n, g) * table[code(n, k) + 8]
// (16 int8 levels, ggml's iq4_nl: ggml/mul_mat.hpp), on activations quantized as for
// gemv_int4_quantized; the same definition with table[nibble] for the code.
inline void gemv_int4_table_quantized(const Int4ActivationGroups& x, Index m, const PackedInt4Weights& w,
                                      const std::int8_t* table, const float* bias, float* y, Index ldy,
                                      int threads = 1) {
  detail::check_product("gemv_int4_table_quantized", m, w.padded_depth(), w.cols(),
                        {"x.q", "x.q_stride", x.q, x.q_stride}, {"y", "ldy", y, ldy}, threads);
  if (w.has_mins()) raise("gemv_int4_table_quantized: the weights have minimums: run them with gemv_int4_min_quantized");
  if (m > 0 && w.cols() > 0 && (x.d == nullptr || x.sums == nullptr || table == nullptr)) {
    raise("gemv_int4_table_quantized: x.d, x.sums or table is null");
  }
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvInt4TablePath>([&](auto path) {
    detail::run_grouped_panels<decltype(path)>(x, m, w, bias, y, ldy, threads, table);
  });
}

// The int4 product on weights with minimums (pack_int4_weights_with_mins: W = scale * code -
// min, code in [0, 15]; ggml's q4_K): per group, after the scale's term,
//   acc = fma(min(n, g) * d_g, -float(sum_q), acc)
// with sum_q the sum of the group's activation codes (scalar/gemv_int4.hpp, Int4MinCodes).
inline void gemv_int4_min_quantized(const Int4ActivationGroups& x, Index m, const PackedInt4Weights& w,
                                    const float* bias, float* y, Index ldy, int threads = 1) {
  detail::check_product("gemv_int4_min_quantized", m, w.padded_depth(), w.cols(),
                        {"x.q", "x.q_stride", x.q, x.q_stride}, {"y", "ldy", y, ldy}, threads);
  if (m > 0 && w.cols() > 0 && (x.d == nullptr || x.sums == nullptr)) raise("gemv_int4_min_quantized: x.d or x.sums is null");
  if (!w.has_mins()) raise("gemv_int4_min_quantized: the weights have no minimums (pack_int4_weights_with_mins)");
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvInt4MinPath>([&](auto path) {
    detail::run_grouped_panels<decltype(path)>(x, m, w, bias, y, ldy, threads);
  });
}

// Quantizes m rows of x (K floats each, x(i, k) = x[i * ldx + k]) per group of G inputs as the
// int4 kernels do (the definition in scalar/gemv_int4.hpp, on the active path): row i's
// Kp = ceil(K / G) * G codes (0 past K) go to q + i * Kp, its ceil(K / G) group scales to
// d + i * Kp / G and the groups' code sums to sums + i * Kp / G.
inline void quantize_int4_activations(const float* x, Index m, Index ldx, Index k, Index group_size,
                                      std::int8_t* q, float* d, std::int32_t* sums) {
  constexpr const char* fn = "quantize_int4_activations";
  if (m < 0 || k < 0) raise<ShapeError>(fn, ": x is ", m, " x ", k, "; sizes must be >= 0");
  if (m > 1 && ldx < k) raise<ShapeError>(fn, ": ldx = ", ldx, " is less than K = ", k);
  if (group_size < 1) raise(fn, ": group size ", group_size, " must be >= 1");
  const Index groups = (k + group_size - 1) / group_size;
  if (m > 0 && groups > 0 && (x == nullptr || q == nullptr || d == nullptr || sums == nullptr)) {
    raise(fn, ": x, q, d or sums is null");
  }
  dispatch<GemvInt4Path>([&](auto path) {
    for (Index i = 0; i < m; ++i) {
      decltype(path)::quantize_activations(x + i * ldx, k, group_size, groups, q + i * groups * group_size,
                                           d + i * groups, sums + i * groups);
    }
  });
}

// The same product on activations the caller quantized per group of the weights' G (ggml's
// Q8_0 blocks, for instance: ggml/mul_mat.hpp): x.q holds row r's codes at q + r * q_stride
// (Kp of them, 0 past K), x.d its group scales at d + r * Kp / G, x.sums the sums of each
// group's codes beside them. Then for each row and channel, as in scalar/gemv_int4.hpp,
// acc = fma(scale(n, g) * d_g, float(isum), acc) over the groups in order, y = acc + bias.
inline void gemv_int4_quantized(const Int4ActivationGroups& x, Index m, const PackedInt4Weights& w,
                                const float* bias, float* y, Index ldy, int threads = 1) {
  detail::check_product("gemv_int4_quantized", m, w.padded_depth(), w.cols(),
                        {"x.q", "x.q_stride", x.q, x.q_stride}, {"y", "ldy", y, ldy}, threads);
  if (w.has_mins()) raise("gemv_int4_quantized: the weights have minimums: run them with gemv_int4_min_quantized");
  if (m > 0 && w.cols() > 0 && (x.d == nullptr || x.sums == nullptr)) {
    raise("gemv_int4_quantized: x.d or x.sums is null");
  }
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvInt4Path>([&](auto path) {
    detail::run_grouped_panels<decltype(path)>(x, m, w, bias, y, ldy, threads);
  });
}

}  // namespace kernels
}  // namespace eigenq
