// Reading a quantized tensor of the eigenq quantized format: load_quantized rebuilds the
// QTensor<Policy> after checking every size, dtype, range and parameter against the
// metadata; dequantize_quantized needs no policy type (the metadata says which).
// QuantizedFile (quantized_format.hpp) wraps these for a whole file.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/policy_format.hpp"
#include "eigenq/io/quantized_metadata.hpp"
#include "eigenq/io/quantized_write.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/quantizer/qtensor.hpp"

namespace eigenq {
namespace io {
namespace detail {

inline TensorView checked_tensor(const SafetensorsFile& f, const std::string& tensor, DType dtype, const Shape& shape,
                                 const FormatContext& ctx) {
  if (!f.contains(tensor)) ctx.fail("the file has no tensor '", tensor, "'");
  const TensorView v = f.tensor(tensor);
  if (v.dtype() != dtype) ctx.fail("'", tensor, "' is ", to_string(v.dtype()), ", expected ", to_string(dtype));
  if (v.shape() != shape) ctx.fail("'", tensor, "' has shape ", to_string(v.shape()), ", expected ", to_string(shape));
  return v;
}

// Rejects metadata whose granularity core's ParamLayout could not represent
// (axis outside the shape, group sizes whose group count would overflow).
inline void check_layout_inputs(const QuantizedTensorMeta& m, const FormatContext& ctx) {
  const Granularity& g = m.granularity;
  if (g.kind == Granularity::Kind::tensor) return;
  const int rank = static_cast<int>(m.shape.size());
  if (g.axis < 0 || g.axis >= rank) {
    ctx.fail("granularity: axis ", g.axis, " is not an axis of shape ", to_string(m.shape), " (0..", rank - 1, ")");
  }
  if (g.kind == Granularity::Kind::group) {
    const Index channels = m.shape[static_cast<std::size_t>(g.axis)];
    if (g.group_size <= 0 || g.group_size > std::numeric_limits<Index>::max() - channels) {
      ctx.fail("granularity: group size ", g.group_size, " is out of range");
    }
  }
}

// The second-level scales of a double-quantized tensor, checked.
inline SuperBlockScales read_super_block_scales(const SafetensorsFile& f, const std::string& name,
                                                const ParamLayout& layout, Index groups_per_block,
                                                const FormatContext& ctx) {
  const Index axis_groups = layout.param_shape()[static_cast<std::size_t>(layout.granularity().axis)];
  if (groups_per_block > std::numeric_limits<Index>::max() - axis_groups) {
    ctx.fail("double_quant groups_per_block ", groups_per_block, " is out of range");
  }
  const ParamLayout blocks = super_block_layout(layout, groups_per_block);
  SuperBlockScales s;
  s.groups_per_block = groups_per_block;
  s.block_shape = blocks.param_shape();
  s.scale_codes = checked_tensor(f, name + ".scale_code", DType::u8, layout.param_shape(), ctx).values<std::uint8_t>();
  s.block_scales = checked_tensor(f, name + ".super_scale", DType::f32, s.block_shape, ctx).values<float>();
  for (std::size_t b = 0; b < s.block_scales.size(); ++b) {
    const float d = s.block_scales[b];
    if (!(std::isfinite(d) && d > 0.0f)) ctx.fail("super_scale of super-block ", b, " is ", d, " (must be positive and finite)");
  }
  s.block_of_group.assign(s.scale_codes.size(), 0);
  blocks.for_each([&](Index group, Index block) { s.block_of_group[static_cast<std::size_t>(group)] = block; });
  return s;
}

template <class Code>
void check_codes_in_range(const Code* codes, Index n, CodeRange r, const FormatContext& ctx) {
  for (Index i = 0; i < n; ++i) {
    if (codes[i] < r.qmin || codes[i] > r.qmax) {
      ctx.fail("code ", static_cast<std::int32_t>(codes[i]), " at element ", i, " lies outside [", r.qmin, ", ", r.qmax, "]");
    }
  }
}

}  // namespace detail

// Loads quantized tensor `name` as a QTensor<Policy>; InvalidArgument if the
// file holds it under another scheme or code type, FormatError if the file is
// inconsistent (every size, dtype, range and parameter is checked).
template <class Policy>
QTensor<Policy> load_quantized(const SafetensorsFile& f, const std::string& name) {
  using F = PolicyFormat<Policy>;
  using Code = typename Policy::code_type;
  if (!check_quantized_format(f)) raise<InvalidArgument>(f.path(), ": not an eigenq-quantized file (no \"", quantized_format_key, "\")");
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  const detail::FormatContext ctx{f.path(), name};
  if (!F::matches(m)) {
    raise<InvalidArgument>(f.path(), ": tensor '", name, "' is quantized as ", m.scheme, " (", m.convention,
                           " convention) with ", to_string(m.code_dtype), " codes; it cannot be loaded with this policy type");
  }
  const Policy policy = F::make(m, ctx);
  if (!(policy.range() == CodeRange{m.qmin, m.qmax}) || policy.bits() != m.bits) {
    ctx.fail("code range [", m.qmin, ", ", m.qmax, "] of ", m.bits, " bits does not match the ", m.scheme,
             " policy's [", policy.range().qmin, ", ", policy.range().qmax, "] of ", policy.bits(), " bits");
  }
  detail::check_layout_inputs(m, ctx);
  ParamLayout layout(Shape{}, PerTensor{});
  try {
    layout = ParamLayout(m.shape, m.granularity);
  } catch (const Error& e) {
    ctx.fail("granularity: ", e.what());
  }
  if (layout.granularity().axis != m.granularity.axis) {
    ctx.fail("axis ", m.granularity.axis, " is not normalized (expected ", layout.granularity().axis, ")");
  }
  const Index double_quant = detail::double_quant_groups(m, ctx);
  if (double_quant > 0 && (!detail::is_linear_policy<Policy>::value || m.granularity.kind != Granularity::Kind::group)) {
    ctx.fail("double_quant applies to per-group linear tensors only");
  }
  // Names first (the super-block layout is checked when its scales are read).
  std::vector<std::string> suffixes;
  for (const ParamSpec& s : F::params(policy)) {
    if (double_quant > 0 && s.suffix == "scale") suffixes.insert(suffixes.end(), {"scale_code", "super_scale"});
    else suffixes.push_back(s.suffix);
  }
  if (suffixes != m.params) ctx.fail("\"params\" does not list the ", m.scheme, " parameters");

  const Index count = element_count(m.shape);
  std::vector<Code> codes;
  if (m.packed()) {
    const TensorView v = detail::checked_tensor(f, name, DType::u8, Shape{packed_bytes(count, m.storage_bits)}, ctx);
    codes.resize(static_cast<std::size_t>(count));
    unpack_codes(v.data(), count, m.storage_bits, codes.data());  // any field width of 2..4 bits
  } else {
    codes = detail::checked_tensor(f, name, m.code_dtype, m.shape, ctx).values<Code>();
  }
  detail::check_codes_in_range(codes.data(), count, CodeRange{m.qmin, m.qmax}, ctx);
  CodeStorage<Code> storage(codes.data(), count, m.bits);  // packed the way this build packs

  std::vector<TensorView> views;
  for (const TensorEntry& e : detail::param_entries(policy, layout, 0)) {
    if (double_quant > 0 && e.name == "scale") continue;  // stored as two levels, read below
    views.push_back(detail::checked_tensor(f, name + "." + e.name, e.dtype, e.shape, ctx));
  }
  // Double quantization: the effective scales s' = code * d (in float32, as double_quant.hpp
  // computes them) stand in for NAME.scale.
  std::vector<std::uint8_t> scale_bytes;
  std::vector<TensorInfo> scale_info;
  if constexpr (detail::is_linear_policy<Policy>::value) {
    if (double_quant > 0) {
      const SuperBlockScales scales = detail::read_super_block_scales(f, name, layout, double_quant, ctx);
      for (Index g = 0; g < layout.param_count(); ++g) detail::append_value(scale_bytes, scales.scale(g));
      scale_info.push_back(TensorInfo{name + ".scale", DType::f32, layout.param_shape(), 0, scale_bytes.size()});
      views.insert(views.begin(), TensorView(scale_info[0], scale_bytes.data()));
    }
  }
  std::vector<typename Policy::Params> params = F::decode(policy, views, layout.param_count(), ctx);
  return QTensor<Policy>(policy, m.shape, layout.granularity(), std::move(params), std::move(storage));
}

// Loads a double-quantized tensor with its second-level scales.
template <class Code>
DoubleQuantized<Code> load_double_quantized(const SafetensorsFile& f, const std::string& name) {
  QTensor<Linear<Code>> tensor = load_quantized<Linear<Code>>(f, name);
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  const detail::FormatContext ctx{f.path(), name};
  const Index groups = detail::double_quant_groups(m, ctx);
  if (groups == 0) raise<InvalidArgument>(f.path(), ": tensor '", name, "' is not double-quantized");
  SuperBlockScales scales = detail::read_super_block_scales(f, name, tensor.layout(), groups, ctx);
  return DoubleQuantized<Code>{std::move(tensor), std::move(scales)};
}

// Dequantizes quantized tensor `name` into out[0 .. element count of its logical shape),
// row-major (callers streaming many tensors reuse one buffer).
inline void dequantize_quantized_into(const SafetensorsFile& f, const std::string& name, float* out) {
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  visit_quantized_policy(m, f.path(), name, [&](auto tag) {
    using Policy = typename decltype(tag)::type;
    load_quantized<Policy>(f, name).dequantize_into(out);
  });
}

// Dequantizes quantized tensor `name` into row-major floats of its logical shape.
inline std::vector<float> dequantize_quantized(const SafetensorsFile& f, const std::string& name) {
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  std::vector<float> out(static_cast<std::size_t>(element_count(m.shape)));
  dequantize_quantized_into(f, name, out.data());
  return out;
}

}  // namespace io
}  // namespace eigenq
