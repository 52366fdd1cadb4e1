// Writing a quantized tensor in the eigenq quantized format: plan_quantized says which
// tensors it occupies (names, dtypes, shapes) and its metadata before any data, so a writer
// can lay a file out first; encode_quantized gives their bytes. QuantizedFileWriter
// (quantized_format.hpp) uses both for files built in memory; a streaming writer
// (SafetensorsWriter) uses them directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/policy_format.hpp"
#include "eigenq/io/quantized_metadata.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/quantizer/qtensor.hpp"

namespace eigenq {
namespace io {

// Options for saving one quantized tensor.
struct QuantizedTensorOptions {
  DType original_dtype = DType::f32;  // what the tensor was before quantization
  // Extra metadata keys (e.g. "calibration"); must not collide with the format's own.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // > 0: the per-group linear scales are stored double-quantized (policy/double_quant.hpp),
  // S groups to a super-block: NAME.scale_code (U8) and NAME.super_scale (F32) replace NAME.scale.
  Index double_quant_groups_per_block = 0;
};

namespace detail {

// The parameter tensors NAME.<suffix> of a quantized tensor, in file order: the policy's
// (PolicyFormat::params), with "scale" replaced by "scale_code" (U8, one per group) and
// "super_scale" (F32, one per super-block) when groups_per_block > 0 (double quantization).
template <class Policy>
std::vector<TensorEntry> param_entries(const Policy& policy, const ParamLayout& layout, Index groups_per_block) {
  std::vector<TensorEntry> out;
  for (const ParamSpec& s : PolicyFormat<Policy>::params(policy)) {
    if (groups_per_block > 0 && s.suffix == "scale") {
      out.push_back({"scale_code", DType::u8, layout.param_shape()});
      out.push_back({"super_scale", DType::f32, super_block_layout(layout, groups_per_block).param_shape()});
      continue;
    }
    Shape shape = layout.param_shape();
    if (s.trailing > 0) shape.push_back(s.trailing);
    out.push_back({s.suffix, s.dtype, shape});
  }
  return out;
}

}  // namespace detail

// Names, dtypes and shapes of the tensors a quantized tensor occupies, and its
// metadata: all known before any data, so a writer can lay the file out first.
struct QuantizedPlan {
  std::string name;
  std::string metadata_key;
  std::string metadata_json;
  std::vector<TensorEntry> entries;  // the codes first, then NAME.<param> in PolicyFormat order

  std::size_t bytes() const {
    std::size_t b = 0;
    for (const auto& e : entries) b += e.bytes();
    return b;
  }
};

template <class Policy>
QuantizedPlan plan_quantized(const std::string& name, const Policy& policy, const Shape& shape,
                             const Granularity& granularity, const QuantizedTensorOptions& options = {}) {
  using F = PolicyFormat<Policy>;
  using Code = typename Policy::code_type;
  const ParamLayout layout(shape, granularity);
  QuantizedTensorMeta m;
  m.scheme = F::scheme(policy);
  m.convention = F::convention(policy);
  m.profile = F::profile(policy);
  m.bits = policy.bits();
  m.code_dtype = dtype_of<Code>();
  m.storage_bits = m.bits <= 4 ? eigenq::storage_bits(m.bits) : 8 * static_cast<int>(sizeof(Code));
  m.qmin = policy.range().qmin;
  m.qmax = policy.range().qmax;
  m.granularity = layout.granularity();
  m.shape = shape;
  m.dtype = options.original_dtype;
  F::describe(policy, m.extra);
  if (!options.extra.is_object()) raise<InvalidArgument>("extra metadata of tensor '", name, "' is not an object");
  for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
    if (m.extra.contains(it.key())) raise<InvalidArgument>("eigenq metadata key '", it.key(), "' is reserved");
    m.extra[it.key()] = it.value();
  }

  QuantizedPlan plan;
  plan.name = name;
  plan.metadata_key = quantized_metadata_key(name);
  const Index count = element_count(shape);
  if (m.packed()) plan.entries.push_back({name, DType::u8, Shape{packed_bytes(count, m.bits)}});
  else plan.entries.push_back({name, m.code_dtype, shape});
  const Index double_quant = options.double_quant_groups_per_block;
  if (double_quant != 0) {
    if (!detail::is_linear_policy<Policy>::value || layout.granularity().kind != Granularity::Kind::group ||
        double_quant < 0) {
      raise<InvalidArgument>("tensor '", name, "': double quantization needs a linear policy, per-group granularity and ",
                             "groups_per_block > 0 (got ", m.scheme, " per ", to_string(layout.granularity().kind),
                             ", groups_per_block = ", double_quant, ")");
    }
    m.extra["double_quant"] = {{"groups_per_block", double_quant}};
  }
  for (TensorEntry& e : detail::param_entries(policy, layout, double_quant)) {
    m.params.push_back(e.name);
    e.name = name + "." + e.name;
    plan.entries.push_back(std::move(e));
  }
  plan.metadata_json = m.to_json();
  return plan;
}

template <class Policy>
QuantizedPlan plan_quantized(const std::string& name, const QTensor<Policy>& q, const QuantizedTensorOptions& options = {}) {
  return plan_quantized(name, q.policy(), q.shape(), q.granularity(), options);
}

// The bytes of one planned tensor: borrowed from a QTensor (its codes) or owned.
struct Payload {
  const std::uint8_t* borrowed = nullptr;
  std::size_t borrowed_size = 0;
  std::vector<std::uint8_t> owned;

  const std::uint8_t* data() const { return borrowed ? borrowed : owned.data(); }
  std::size_t size() const { return borrowed ? borrowed_size : owned.size(); }
};

// The bytes of every tensor of plan_quantized(name, q), in the same order.
// The codes are borrowed: q must outlive the payloads.
template <class Policy>
std::vector<Payload> encode_quantized(const QTensor<Policy>& q) {
  const auto& codes = q.codes();
  std::vector<Payload> out(1);
  if (codes.is_packed()) out[0].borrowed = codes.packed_data();
  else out[0].borrowed = reinterpret_cast<const std::uint8_t*>(codes.data());
  out[0].borrowed_size = codes.bytes();
  if (codes.bytes() == 0) out[0].borrowed = nullptr;
  std::vector<std::vector<std::uint8_t>> params;
  PolicyFormat<Policy>::encode(q.policy(), q.params(), params);
  for (auto& p : params) out.push_back(Payload{nullptr, 0, std::move(p)});
  return out;
}

// The bytes of every tensor of a double-quantized plan (options.double_quant_groups_per_block
// = dq.scales.groups_per_block), in plan order: codes, scale_code, super_scale[, zero_point].
template <class Code>
std::vector<Payload> encode_double_quantized(const DoubleQuantized<Code>& dq) {
  std::vector<Payload> out = encode_quantized(dq.tensor);  // codes, scale[, zero_point]
  const SuperBlockScales& s = dq.scales;
  if (s.scale_codes.size() != dq.tensor.params().size()) {
    raise<InvalidArgument>("double quantization: ", s.scale_codes.size(), " scale codes for ", dq.tensor.params().size(),
                           " groups");
  }
  Payload codes{nullptr, 0, s.scale_codes};
  Payload supers;
  for (float d : s.block_scales) detail::append_value(supers.owned, d);
  std::vector<Payload> result;
  result.push_back(std::move(out[0]));
  result.push_back(std::move(codes));
  result.push_back(std::move(supers));
  for (std::size_t k = 2; k < out.size(); ++k) result.push_back(std::move(out[k]));  // zero_point
  return result;
}

}  // namespace io
}  // namespace eigenq
