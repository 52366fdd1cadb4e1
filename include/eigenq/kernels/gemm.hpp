// int8 matrix products: C = stage(A x B) with A (M x K, uint8 or int8,
// row-major) and B (K x N, int8) packed once by pack_weights(). The path
// (GemmPath of scalar, AVX2, AVX-512BW, AVX-512 VNNI, NEON dot product)
// follows active_isa() through dispatch.hpp; every path gives the same bits
// (output_stage.hpp defines them). docs/kernels.md walks through a call.
//
//   // W is a Linear layer's [out = N, in = K] row-major int8 weight: B(k, n) = W(n, k).
//   auto w = eigenq::kernels::pack_weights(W.data(), K, N, /*k_stride=*/1, /*n_stride=*/K);
//   eigenq::kernels::gemm(x, M, K, x_zero_point, w, y, N, eigenq::kernels::Int32Output{});
//
// M = 1..4 is the GEMV case (LLM decoding): the same entry point, a tile of
// M rows streaming the packed weights once. `threads` > 1 splits the columns
// over that many std::threads; the result does not depend on it.
#pragma once

#include <cstdint>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/checks.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/gemm_driver.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/output_stage.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/kernels/scalar/gemm.hpp"
#include "eigenq/kernels/x86_avx2/gemm.hpp"
#include "eigenq/kernels/x86_avx512/gemm.hpp"
#include "eigenq/kernels/arm_neon/gemm.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// The scalar path evaluates the definition; every other path runs the blocked loop.
template <class A, class Out>
void run_gemm(GemmPath<Isa::scalar>, const A* a, Index m, Index lda, std::int32_t a_zero_point,
              const PackedWeights& b, const PreparedOutput& out, Out* c, Index ldc, int) {
  gemm_scalar(a, m, lda, a_zero_point, b, out, c, ldc);
}

template <class Path, class A, class Out>
void run_gemm(Path, const A* a, Index m, Index lda, std::int32_t a_zero_point, const PackedWeights& b,
              const PreparedOutput& out, Out* c, Index ldc, int threads) {
  gemm_blocked<Path>(a, m, lda, a_zero_point, b, out, c, ldc, threads);
}

}  // namespace detail

// C(m, n) = c[m * ldc + n]. `a_zero_point` is in A's type range; `stage` is
// Int32Output (Out = int32), Requantize (Out = int8 or uint8) or Dequantize
// (Out = float). C must not overlap A, B or the stage's arrays.
template <class A, class Out, class Stage>
void gemm(const A* a, Index m, Index lda, std::int32_t a_zero_point, const PackedWeights& b, Out* c,
          Index ldc, const Stage& stage, int threads = 1) {
  static_assert(std::is_same_v<A, std::uint8_t> || std::is_same_v<A, std::int8_t>,
                "gemm: activations are uint8 or int8");
  const Index k = b.depth();
  const Index n = b.cols();
  detail::check_product("gemm", m, k, n, {"A", "lda", a, lda}, {"C", "ldc", c, ldc}, threads);
  if (a_zero_point < std::int32_t{std::numeric_limits<A>::min()} ||
      a_zero_point > std::int32_t{std::numeric_limits<A>::max()}) {
    raise("gemm: activation zero point ", a_zero_point, " is outside the range of A's type [",
          std::int32_t{std::numeric_limits<A>::min()}, ", ",
          std::int32_t{std::numeric_limits<A>::max()}, "]");
  }

  thread_local detail::PreparedOutput out;
  detail::prepare_output<Out>(stage, m, n, b.padded_cols(), out);
  if (m == 0 || n == 0) return;

  dispatch<GemmPath>([&](auto path) {
    detail::run_gemm(path, a, m, lda, a_zero_point, b, out, c, ldc, threads);
  });
}

}  // namespace kernels
}  // namespace eigenq
