// The scalar int8 GEMM: the reference every SIMD path equals bit for bit.
// It evaluates the definition in output_stage.hpp directly,
//     acc(m, n) = sum_k (A(m, k) - za) * (B(k, n) - zb(n))   modulo 2^32,
// reading B back from its packed layout, and does not use the column-sum
// corrections the SIMD paths rely on: an independent check of their algebra.
#pragma once

#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/output_stage.hpp"
#include "eigenq/kernels/packed_weights.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

template <class A, class Out>
void gemm_scalar(const A* a, Index m, Index lda, std::int32_t a_zero_point, const PackedWeights& b,
                 const PreparedOutput& out, Out* c, Index ldc) {
  constexpr Index width = PackedWeights::panel_width;
  const Index k = b.depth();
  const Index n = b.cols();
  const std::int32_t* zb = b.zero_points();
  for (Index p = 0; p < b.panel_count(); ++p) {
    const Index n0 = p * width;
    const Index panel_width = b.panel_cols(p);
    const Index valid = n - n0 < panel_width ? n - n0 : panel_width;
    const std::int8_t* panel = b.panel(p);
    for (Index i = 0; i < m; ++i) {
      const A* row = a + i * lda;
      std::uint32_t acc[width] = {};
      for (Index kk = 0; kk < k; ++kk) {
        const std::int32_t av = std::int32_t{row[kk]} - a_zero_point;
        const std::int8_t* bq = panel + (kk / 4) * panel_width * 4 + kk % 4;
        for (Index j = 0; j < valid; ++j) {
          const std::int32_t bv = std::int32_t{bq[j * 4]} - zb[n0 + j];
          // |av| <= 510 and |bv| <= 255: the product fits int32; the sum wraps.
          acc[j] += static_cast<std::uint32_t>(av * bv);
        }
      }
      Out* out_row = c + i * ldc + n0;
      for (Index j = 0; j < valid; ++j) {
        out_row[j] = finish_output<Out>(out, static_cast<std::int32_t>(acc[j]), i, n0 + j);
      }
    }
  }
}

}  // namespace detail

// The scalar path has no micro-kernel: gemm.hpp runs detail::gemm_scalar for it.
template <>
struct GemmPath<Isa::scalar> {};

}  // namespace kernels
}  // namespace eigenq
