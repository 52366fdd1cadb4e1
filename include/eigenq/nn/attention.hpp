// Causal multi-head self-attention of one sequence, GPT-2's: from the fused projection
// qkv = [q | k | v] ([t, 3d], heads of d / heads features each), position i attends to
// positions 0..i with weights softmax(q_i k_j / sqrt(d / heads)); the result is [t, d], heads
// side by side. The projections themselves are layers (any Linear, float or quantized).
#pragma once

#include <cmath>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

inline Matrix causal_self_attention(const Matrix& qkv, Index heads) {
  if (heads <= 0 || qkv.cols() % (3 * heads) != 0) {
    raise<ShapeError>("causal_self_attention: qkv of shape ", to_string(Shape{qkv.rows(), qkv.cols()}),
                      " does not split into q, k, v of ", heads, " heads");
  }
  const Index t = qkv.rows();
  const Index d = qkv.cols() / 3;
  const Index hd = d / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  Matrix out(t, d);
  Eigen::VectorXf weights(t);
  for (Index h = 0; h < heads; ++h) {
    const auto q = qkv.middleCols(h * hd, hd);
    const auto k = qkv.middleCols(d + h * hd, hd);
    const auto v = qkv.middleCols(2 * d + h * hd, hd);
    for (Index i = 0; i < t; ++i) {
      auto w = weights.head(i + 1);
      w.noalias() = k.topRows(i + 1) * q.row(i).transpose();
      w *= scale;
      w = (w.array() - w.maxCoeff()).exp().matrix();
      w /= w.sum();
      out.row(i).segment(h * hd, hd).noalias() = w.transpose() * v.topRows(i + 1);
    }
  }
  return out;
}

}  // namespace nn
}  // namespace eigenq
