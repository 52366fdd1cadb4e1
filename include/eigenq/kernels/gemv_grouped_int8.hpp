// Grouped int8 GEMV for ggml's Q8_0 weights (ggml/mul_mat.hpp): y = x W^T + bias with W packed
// by pack_grouped_int8_weights() (packed_grouped_int8_weights.hpp: int8 codes, one f32 or f16
// scale per group of 32 or 128) and x quantized to int8 per group as the int4 GEMV does
// (quantize_int4_activations, gemv_int4.hpp). The int4 kernels' panel loops, with the codes'
// loads changed (scalar/gemv_int4.hpp, PanelCodes<8>, defines the result); the path
// (GemvGroupedInt8Path) follows active_isa() through dispatch.hpp.
#pragma once

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/checks.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/gemv_int4.hpp"
#include "eigenq/kernels/packed_grouped_int8_weights.hpp"

namespace eigenq {
namespace kernels {

// y(i, j) = y[i * ldy + j] = sum over the groups g in order of
//   fma(scale(j, g) * x.d(i, g), float(sum_k code(j, k) * x.q(i, k)), acc), then + bias(j),
// for activations x quantized per group of the weights' G (Int4ActivationGroups, as
// gemv_int4_quantized takes them). bias: N values or null. y must not overlap the inputs.
inline void gemv_grouped_int8_quantized(const Int4ActivationGroups& x, Index m, const PackedGroupedInt8Weights& w,
                                        const float* bias, float* y, Index ldy, int threads = 1) {
  detail::check_product("gemv_grouped_int8_quantized", m, w.padded_depth(), w.cols(),
                        {"x.q", "x.q_stride", x.q, x.q_stride}, {"y", "ldy", y, ldy}, threads);
  if (m > 0 && w.cols() > 0 && (x.d == nullptr || x.sums == nullptr)) {
    raise("gemv_grouped_int8_quantized: x.d or x.sums is null");
  }
  if (m == 0 || w.cols() == 0) return;
  dispatch<GemvGroupedInt8Path>([&](auto path) {
    detail::run_grouped_panels<decltype(path)>(x, m, w, bias, y, ldy, threads);
  });
}

}  // namespace kernels
}  // namespace eigenq
