// Second-level ("double") quantization of per-group linear scales, as
// llama.cpp's k-quants and QLoRA do: the float scale of every group becomes
// an 8-bit code against one float32 scale per super-block of S consecutive
// groups along the group axis. Storage per group drops from 4 bytes to
// 1 + 4/S.
//
// A group scale s in a super-block with largest scale s_max is stored as
//   d = s_max / 255,   code = ceil(s / d) in [1, 255],   s' = code * d.
// Rounding up (s' >= s) means the group's range still fits its codes: nothing
// clips, and the error bound of every element grows from s/2 to s'/2 < (s + d)/2.
// Zero points (affine schemes) are kept as they are, one code each.
//
//   eigenq::Quantizer q(eigenq::Linear<int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 32});
//   auto dq = eigenq::double_quantize(q, W, 8);   // 8 groups of 32 = 256 weights a super-block
//   Eigen::MatrixXf W_hat = eigenq::dequantize(dq.tensor);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/linear.hpp"

namespace eigenq {

// The second level: one 8-bit code per group scale, one float per super-block.
struct SuperBlockScales {
  Index groups_per_block = 0;
  Shape block_shape;                      // the group-parameter shape, axis shrunk by S
  std::vector<std::uint8_t> scale_codes;  // per group, in group-parameter order
  std::vector<float> block_scales;        // d per super-block, in block_shape order
  std::vector<Index> block_of_group;      // super-block of each group

  float scale(Index group) const {
    const auto g = static_cast<std::size_t>(group);
    return static_cast<float>(scale_codes[g]) * block_scales[static_cast<std::size_t>(block_of_group[g])];
  }
  // Bytes of the second-level scales: the codes and the super-block floats.
  std::size_t bytes() const { return scale_codes.size() + block_scales.size() * sizeof(float); }
};

// Quantizes the scales of per-group parameters (laid out by `layout`, which
// must be per group) in place, and returns their codes and super-block scales.
inline SuperBlockScales quantize_group_scales(std::vector<LinearParams>& params, const ParamLayout& layout,
                                              Index groups_per_block) {
  const Granularity& g = layout.granularity();
  if (g.kind != Granularity::Kind::group) {
    raise("double quantization needs per-group parameters, got per-", to_string(g.kind), " ones");
  }
  if (groups_per_block <= 0) {
    raise("double quantization: groups_per_block S = ", groups_per_block, " must be positive");
  }
  if (static_cast<Index>(params.size()) != layout.param_count()) {
    raise<ShapeError>("double quantization: ", params.size(), " parameter sets for ",
                      layout.param_count(), " groups");
  }
  // Super-blocks group the group parameters exactly as groups group elements.
  const ParamLayout blocks(layout.param_shape(), PerGroup{g.axis, groups_per_block});
  SuperBlockScales out;
  out.groups_per_block = groups_per_block;
  out.block_shape = blocks.param_shape();
  out.scale_codes.assign(params.size(), 0);
  out.block_scales.assign(static_cast<std::size_t>(blocks.param_count()), 0.0f);
  out.block_of_group.assign(params.size(), 0);

  blocks.for_each([&](Index group, Index block) {
    const auto k = static_cast<std::size_t>(block);
    const float s = params[static_cast<std::size_t>(group)].scale;
    if (!(s > 0.0f) || !std::isfinite(s)) {
      raise("double quantization: group ", index_to_string(layout.param_shape(), group),
            " has scale ", s, "; scales must be positive and finite");
    }
    out.block_scales[k] = std::max(out.block_scales[k], s);
    out.block_of_group[static_cast<std::size_t>(group)] = block;
  });
  for (float& d : out.block_scales) {
    const float s_max = d;
    d = s_max / 255.0f;
    // code 255 must reach s_max exactly or above despite float rounding.
    while (255.0f * d < s_max) d = std::nextafter(d, s_max);
  }

  for (std::size_t i = 0; i < params.size(); ++i) {
    const float d = out.block_scales[static_cast<std::size_t>(out.block_of_group[i])];
    const float s = params[i].scale;
    // ceil, then make sure code * d really is >= s after float rounding.
    double code = std::clamp(std::ceil(double{s} / double{d}), 1.0, 255.0);
    while (code < 255.0 && static_cast<float>(code) * d < s) code += 1.0;
    out.scale_codes[i] = static_cast<std::uint8_t>(code);
    params[i].scale = static_cast<float>(code) * d;
  }
  return out;
}

// A per-group linear QTensor whose scales are the 8-bit second-level values.
template <class Code>
struct DoubleQuantized {
  QTensor<Linear<Code>> tensor;  // params hold s' = code * d, what the codes stand for
  SuperBlockScales scales;

  // Codes + 8-bit scale codes + super-block floats + zero points (affine only,
  // one code each).
  std::size_t storage_bytes() const {
    std::size_t bytes = tensor.codes().bytes() + scales.bytes();
    if (tensor.policy().symmetry() == Symmetry::affine) bytes += tensor.params().size() * sizeof(Code);
    return bytes;
  }
};

namespace detail {

template <class X>
Shape logical_shape(const X& x) {
  if constexpr (is_dense_v<X>) {
    return {static_cast<Index>(x.rows()), static_cast<Index>(x.cols())};
  } else {
    return shape_of_dims(x.dimensions(), X::NumDimensions);
  }
}

}  // namespace detail

// Fits per-group parameters with `quantizer` (a Quantizer<Linear<Code>, PerGroup>
// or any type with its fit/quantize/granularity/policy members), quantizes the
// scales, then quantizes x against the scales actually stored, as k-quants do.
template <class Quantizer, class X>
auto double_quantize(const Quantizer& quantizer, const X& x, Index groups_per_block = 8) {
  using Policy = std::decay_t<decltype(quantizer.policy())>;
  using Code = typename Policy::code_type;
  static_assert(std::is_same_v<Policy, Linear<Code>>, "double quantization applies to Linear policies");
  std::vector<LinearParams> params = quantizer.fit(x);
  const ParamLayout layout(detail::logical_shape(x), quantizer.granularity());
  SuperBlockScales scales = quantize_group_scales(params, layout, groups_per_block);
  return DoubleQuantized<Code>{quantizer.quantize(x, std::move(params)), std::move(scales)};
}

}  // namespace eigenq
