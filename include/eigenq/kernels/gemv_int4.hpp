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

// Quantizes the activations once, then runs the path's panel kernel over the
// weight panels (split over threads), four rows at a time.
template <class Path>
void gemv_int4_run(const float* x, Index m, Index ldx, const PackedInt4Weights& w, const float* bias,
                 float* y, Index ldy, int threads) {
  constexpr Index width = PackedInt4Weights::panel_width;
  const Index kp = w.padded_depth();
  const Index groups = w.groups();
  const Index n = w.cols();
  thread_local AlignedBuffer<std::int8_t> q;
  thread_local AlignedBuffer<float> d;
  thread_local AlignedBuffer<std::int32_t> sums;
  thread_local AlignedBuffer<float> bias_padded;
  q.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * kp)));
  d.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  sums.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  bias_padded.resize(static_cast<std::size_t>(w.padded_cols()));
  if (bias != nullptr) std::memcpy(bias_padded.data(), bias, static_cast<std::size_t>(n) * sizeof(float));
  for (Index r = 0; r < m; ++r) {
    Path::quantize_activations(x + r * ldx, w.depth(), w.group_size(), groups, q.data() + r * kp,
                               d.data() + r * groups, sums.data() + r * groups);
  }
  const std::int8_t* q_data = q.data();
  const float* d_data = d.data();
  const std::int32_t* sums_data = sums.data();
  const float* bias_data = bias_padded.data();
  // Panel by panel, all rows through each: a panel's weights (K * 32 bytes and its scales)
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

}  // namespace detail

// y(m, n) = y[m * ldy + n] = sum_k x(m, k) W(n, k) + bias(n), computed as in
// scalar/gemv_int4.hpp; x(m, k) = x[m * ldx + k]. `bias` holds N values or is null.
// Any M works; rows go a few at a time (Path::max_rows), all of them through one weight
// panel before the next, so a batch is a GEMM that reads the weights once. y must not
// overlap x, W or bias.
inline void gemv_int4(const float* x, Index m, Index ldx, const PackedInt4Weights& w, const float* bias,
                      float* y, Index ldy, int threads = 1) {
  detail::check_product("gemv_int4", m, w.depth(), w.cols(), {"x", "ldx", x, ldx}, {"y", "ldy", y, ldy}, threads);
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvInt4Path>([&](auto path) {
    detail::gemv_int4_run<decltype(path)>(x, m, ldx, w, bias, y, ldy, threads);
  });
}

}  // namespace kernels
}  // namespace eigenq
