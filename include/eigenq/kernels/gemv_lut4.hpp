// Table-lookup GEMV for 4-bit codes with non-uniform levels (codebooks, signed log, NF4):
// y = x W^T + bias, with x (M x K float, M small: the decode shape, or a small batch)
// quantized on the fly to int8 per group of G inputs as gemv_int4 does, and W packed by
// pack_lut4_weights() (packed_lut4_weights.hpp: 4-bit codes and int8 tables of 16 levels per
// row or per table group). The path (GemvLut4Path) follows active_isa() through dispatch.hpp;
// scalar/gemv_lut4.hpp defines the result every path reproduces bit for bit. The SIMD paths map
// codes to table values in registers (vpshufb on x86, tbl on NEON), then multiply-add them
// with the activation codes (vpdpbusd, vpmaddubsw, sdot).
//
//   auto w = eigenq::kernels::pack_lut4_weights(codes, N, K, K, levels, 16, 32);  // one table a row
//   eigenq::kernels::gemv_lut4(x, 1, K, w, bias, y, N);
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "eigenq/core/error.hpp"
#include "eigenq/core/thread_pool.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/checks.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/kernels/scalar/gemv_lut4.hpp"
#include "eigenq/kernels/x86_avx2/gemv_lut4.hpp"
#include "eigenq/kernels/x86_avx512/gemv_lut4.hpp"
#include "eigenq/kernels/arm_neon/gemv_lut4.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// The panel kernel of every row count (1..4), Path::panel<Rows>, in a table.
template <class Path>
void run_lut4_panel(int rows, const Lut4PanelArgs& args) {
  using Panel = void (*)(const Lut4PanelArgs&);
  static constexpr Panel panels[4] = {&Path::template panel<1>, &Path::template panel<2>,
                                      &Path::template panel<3>, &Path::template panel<4>};
  panels[rows - 1](args);
}

// Quantizes the activations once (the int4 GEMV's quantization), then runs the path's panel
// kernel over the weight panels (split over threads), four rows at a time.
template <class Path>
void gemv_lut4_run(const float* x, Index m, Index ldx, const PackedLut4Weights& w, const float* bias, float* y,
                   Index ldy, int threads) {
  constexpr Index width = PackedLut4Weights::panel_width;
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
  const auto work = [&](Index p_begin, Index p_end) {
    alignas(64) float tile[4 * width];
    for (Index r0 = 0; r0 < m; r0 += 4) {
      const int rows = static_cast<int>(std::min<Index>(4, m - r0));
      Lut4PanelArgs args;
      args.w = &w;
      args.groups = groups;
      args.group_size = w.group_size();
      args.groups_per_table = w.groups_per_table();
      args.q = q_data + r0 * kp;
      args.q_stride = kp;
      args.d = d_data + r0 * groups;
      args.sums = sums_data + r0 * groups;
      args.out = tile;
      for (Index p = p_begin; p < p_end; ++p) {
        const Index n0 = p * width;
        args.panel = w.panel(p);
        args.width = w.panel_cols(p);
        args.bias = bias_data + n0;
        run_lut4_panel<Path>(rows, args);
        const Index valid = std::min(args.width, n - n0);
        for (int r = 0; r < rows; ++r) {
          std::memcpy(y + (r0 + r) * ldy + n0, tile + r * width, static_cast<std::size_t>(valid) * sizeof(float));
        }
      }
    }
  };
  eigenq::split_over_threads(w.panel_count(), threads_for_work(double(m) * double(n) * double(w.depth()), threads),
                             work);
}

}  // namespace detail

// y(m, n) = y[m * ldy + n] = sum_k x(m, k) W(n, k) + bias(n), computed as in
// scalar/gemv_lut4.hpp; x(m, k) = x[m * ldx + k]. `bias` holds N values or is null.
// Any M works; rows go four at a time (the small-batch GEMM). y must not overlap x, W or bias.
inline void gemv_lut4(const float* x, Index m, Index ldx, const PackedLut4Weights& w, const float* bias, float* y,
                      Index ldy, int threads = 1) {
  detail::check_product("gemv_lut4", m, w.depth(), w.cols(), {"x", "ldx", x, ldx}, {"y", "ldy", y, ldy}, threads);
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvLut4Path>([&](auto path) {
    detail::gemv_lut4_run<decltype(path)>(x, m, ldx, w, bias, y, ldy, threads);
  });
}

}  // namespace kernels
}  // namespace eigenq
