// nn::causal_self_attention as ONNX operators (opset 17 has no attention operator): from the
// fused projection qkv [t, 3d], heads of d / heads features,
//
//   Reshape [t, 3, heads, hd] -> Transpose [3, heads, t, hd] -> Gather 0, 1, 2: q, k, v [heads, t, hd]
//   MatMul(q, Transpose(k)) [heads, t, t] -> Mul 1/sqrt(hd) -> Add the causal mask -> Softmax
//   MatMul(., v) [heads, t, hd] -> Transpose [t, heads, hd] -> Reshape [t, d]
//
// in nn's order of operations (the dot products, then the scale). The mask is 0 on and below the
// diagonal and -inf above it, so Softmax gives the later positions a weight of exactly 0, as nn
// sums only positions 0..i. write_causal_mask() makes it once per graph (Expand and Trilu, no
// initializer of the context's size); every attention node of the graph reads it.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/onnx/graph_builder.hpp"

namespace eigenq {
namespace onnx {

// The [t, t] causal mask of a sequence whose length is the first entry of the int64 shape value
// `length` ([1]): -inf expanded to [t, t], Trilu keeping the part above the diagonal (k = 1).
inline std::string write_causal_mask(GraphBuilder& g, const std::string& length) {
  const std::string square = g.op("Concat", {length, length}, "causal_mask_shape", {Attribute::integer("axis", 0)});
  const std::string all = g.op("Expand", {g.scalar<float>("minus_infinity", -std::numeric_limits<float>::infinity()), square},
                               "causal_mask_all");
  return g.op("Trilu", {all, g.scalar<std::int64_t>("causal_mask_diagonal", 1)}, "causal_mask",
              {Attribute::integer("upper", 1)});
}

// Writes the attention of value qkv [t, 3 * width] and returns its output [t, width].
inline std::string write_causal_self_attention(GraphBuilder& g, const std::string& qkv, Index width, Index heads,
                                               const std::string& mask) {
  if (heads <= 0 || width <= 0 || width % heads != 0) {
    raise<ShapeError>("onnx: attention of width ", width, " does not split into ", heads, " heads");
  }
  const Index hd = width / heads;
  const std::string split = g.op("Reshape", {qkv, g.tensor<std::int64_t>("qkv_shape", {4}, {-1, 3, heads, hd})}, "qkv_4d");
  const std::string by_part = g.op("Transpose", {split}, "qkv_parts", {Attribute::integers("perm", {1, 2, 0, 3})});
  auto part = [&](std::int64_t i, const char* name) {
    return g.op("Gather", {by_part, g.scalar<std::int64_t>(std::string(name) + "_index", i)}, name,
                {Attribute::integer("axis", 0)});
  };
  const std::string q = part(0, "q");
  const std::string k = part(1, "k");
  const std::string v = part(2, "v");
  const std::string kt = g.op("Transpose", {k}, "k_transposed", {Attribute::integers("perm", {0, 2, 1})});
  const std::string dots = g.op("MatMul", {q, kt}, "dots");
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const std::string scaled = g.op("Mul", {dots, g.scalar<float>("scale", scale)}, "scaled");
  const std::string masked = g.op("Add", {scaled, mask}, "masked");
  const std::string weights = g.op("Softmax", {masked}, "weights", {Attribute::integer("axis", -1)});
  const std::string heads_out = g.op("MatMul", {weights, v}, "heads_out");
  const std::string by_position = g.op("Transpose", {heads_out}, "by_position", {Attribute::integers("perm", {1, 0, 2})});
  return g.op("Reshape", {by_position, g.tensor<std::int64_t>("out_shape", {2}, {-1, width})}, "y");
}

}  // namespace onnx
}  // namespace eigenq
