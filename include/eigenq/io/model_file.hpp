// Saving and loading quantized models (and float ones) as safetensors files
// in eigenq's quantized format (docs/format.md), so `eigenq inspect` and any
// safetensors reader see them. Needs the io layer (nlohmann_json, target
// eigenq::io).
//
//   eigenq::io::save_model(eigenq::nn::quantize_dynamic(model), "model.eq.safetensors");
//   eigenq::nn::Sequential back = eigenq::io::load_model("model.eq.safetensors");
//
// Layer i's tensors are named `layers.<i>.weight` (quantized under the
// layer's policy, or F32 for float layers) and `layers.<i>.bias` (F32; I32
// for StaticLinear, whose bias is int32 at scale s_in * s_w). A
// ChannelMixedLinear stores its parts as `layers.<i>.parts.<k>.weight/.bias`
// and its channel -> part map as `layers.<i>.row_part` (U8). The metadata key
// `nn.model` holds the architecture as JSON:
//   {"version": 1, "layers": [{"kind": "DynamicLinear", ...options}, {"kind": "ReLU"}, ...]}
// A file whose `nn.model` version (or eigenq format version) this build does
// not know is refused with a FormatError naming both versions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/error.hpp"
#include "eigenq/io/quantized_format.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/nn/channel_mixed_linear.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"
#include "eigenq/nn/weight_only_linear.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"

namespace eigenq {
namespace io {

inline constexpr const char* model_metadata_key = "nn.model";
inline constexpr int model_format_version = 1;

namespace model_file_detail {
using namespace eigenq::nn;  // the layer types this file reads and writes

template <class T>
io::OwnedTensor vector_tensor(const std::string& name, const T* data, Index n) {
  return io::make_tensor(name, Shape{n}, data);
}

inline io::OwnedTensor matrix_tensor(const std::string& name, const Eigen::MatrixXf& m) {
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  return io::make_tensor(name, Shape{m.rows(), m.cols()}, rm.data());
}

inline nlohmann::json params_json(const LinearParams& p) {
  return {{"scale", p.scale}, {"zero_point", p.zero_point}};
}

inline LinearParams params_from(const nlohmann::json& j) {
  return {j.at("scale").get<float>(), j.at("zero_point").get<std::int32_t>()};
}

// The weight-only policies a file can name, tried in turn when saving.
template <class F>
bool with_weight_only(const Module& m, F&& f) {
  if (auto* l = dynamic_cast<const WeightOnlyLinear<eigenq::Linear<std::int8_t>>*>(&m)) return f(*l, "Linear<int8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<eigenq::Linear<std::uint8_t>>*>(&m)) return f(*l, "Linear<uint8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<LinearRealOffset<std::uint8_t>>*>(&m)) return f(*l, "LinearRealOffset<uint8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<Codebook<std::uint8_t>>*>(&m)) return f(*l, "Codebook<uint8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<LogSigned<std::int8_t>>*>(&m)) return f(*l, "LogSigned<int8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<Log2<std::int8_t>>*>(&m)) return f(*l, "Log2<int8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<Log<std::uint8_t>>*>(&m)) return f(*l, "Log<uint8>"), true;
  if (auto* l = dynamic_cast<const WeightOnlyLinear<Exp<std::uint8_t>>*>(&m)) return f(*l, "Exp<uint8>"), true;
  return false;
}

template <class Policy>
std::unique_ptr<Module> load_weight_only(const io::QuantizedFile& f, const std::string& weight_name,
                                         Eigen::VectorXf bias, const std::string& scheme) {
  return std::make_unique<WeightOnlyLinear<Policy>>(f.load<Policy>(weight_name), std::move(bias), scheme);
}

inline Eigen::VectorXf float_vector(const io::QuantizedFile& f, const std::string& name) {
  const std::vector<float> v = f.dequantize(name);
  return Eigen::Map<const Eigen::VectorXf>(v.data(), static_cast<Index>(v.size()));
}

inline Eigen::MatrixXf float_matrix(const io::QuantizedFile& f, const std::string& name) {
  const auto view = f.file().tensor(name);
  if (view.shape().size() != 2) raise<FormatError>(f.path(), ": tensor '", name, "' is not a matrix");
  const std::vector<float> v = f.dequantize(name);
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  return Eigen::Map<const RowMajor>(v.data(), view.shape()[0], view.shape()[1]);
}

}  // namespace model_file_detail

namespace model_file_detail {
using namespace eigenq::nn;  // the layer types this file reads and writes

// Writes one layer's tensors under `prefix` ("layers.<i>", or "layers.<i>.parts.<k>" inside a
// ChannelMixedLinear) and returns its JSON description.
inline nlohmann::json save_layer(io::QuantizedFileWriter& w, const Module& m, const std::string& prefix) {
  nlohmann::json j{{"kind", m.kind()}};
  const std::string wname = prefix + ".weight";
  const std::string bname = prefix + ".bias";
  if (auto* l = dynamic_cast<const FloatLinear*>(&m)) {
    w.add_plain(matrix_tensor(wname, l->weight()));
    w.add_plain(vector_tensor(bname, l->bias().data(), l->bias().size()));
  } else if (dynamic_cast<const ReLU*>(&m)) {
  } else if (auto* d = dynamic_cast<const DynamicLinear*>(&m)) {
    const auto& o = d->options();
    j["per_channel_weights"] = o.per_channel_weights;
    j["per_row_activations"] = o.activations == ActivationGranularity::per_row;
    j["signed_activations"] = o.signed_activations;
    j["reduce_range"] = o.reduce_range;
    w.add(wname, d->weight());
    w.add_plain(vector_tensor(bname, d->bias().data(), d->bias().size()));
  } else if (auto* s = dynamic_cast<const StaticLinear*>(&m)) {
    j["input"] = params_json(s->input_params());
    j["output"] = params_json(s->output_params());
    j["relu"] = s->relu();
    w.add(wname, s->weight());
    w.add_plain(vector_tensor(bname, s->bias().data(), static_cast<Index>(s->bias().size())));
  } else if (auto* g = dynamic_cast<const GroupedLinear*>(&m)) {
    j["group_size"] = g->options().group_size;
    j["scale_type"] = g->options().scale_type == kernels::ScaleType::f16 ? "f16" : "f32";
    w.add(wname, g->weight());
    w.add_plain(vector_tensor(bname, g->bias().data(), g->bias().size()));
  } else if (auto* c = dynamic_cast<const ChannelMixedLinear*>(&m)) {
    nlohmann::json parts = nlohmann::json::array();
    for (std::size_t k = 0; k < c->part_count(); ++k) {
      parts.push_back(save_layer(w, c->part(k), prefix + ".parts." + std::to_string(k)));
    }
    j["parts"] = std::move(parts);
    w.add_plain(vector_tensor(prefix + ".row_part", c->row_part().data(), c->out_features()));
  } else if (!with_weight_only(m, [&](const auto& l, const char* policy) {
               j["policy"] = policy;
               j["scheme"] = l.scheme_name();
               w.add(wname, l.weight());
               w.add_plain(vector_tensor(bname, l.bias().data(), l.bias().size()));
             })) {
    raise("save: layer '", prefix, "' (", m.kind(), ") cannot be saved");
  }
  return j;
}

}  // namespace model_file_detail

// Writes the model atomically (a temporary file renamed on success).
inline void save_model(const nn::Sequential& model, const std::string& path) {
  io::QuantizedFileWriter w;
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t i = 0; i < model.size(); ++i) {
    layers.push_back(model_file_detail::save_layer(w, model[i], "layers." + std::to_string(i)));
  }
  w.set_metadata(model_metadata_key, nlohmann::json{{"version", model_format_version}, {"layers", layers}}.dump());
  w.write(path);
}

namespace model_file_detail {
using namespace eigenq::nn;  // the layer types this file reads and writes

// Reads the layer described by `l` whose tensors are under `prefix`.
inline std::unique_ptr<Module> load_layer(const io::QuantizedFile& f, const nlohmann::json& l,
                                          const std::string& prefix) {
  const std::string& path = f.path();
  const std::string kind = l.at("kind").get<std::string>();
  const std::string wname = prefix + ".weight";
  const std::string bname = prefix + ".bias";
  if (kind == "ReLU") return std::make_unique<ReLU>();
  if (kind == "Linear") return std::make_unique<FloatLinear>(float_matrix(f, wname), float_vector(f, bname));
  if (kind == "DynamicLinear") {
    DynamicLinearOptions o;
    o.per_channel_weights = l.at("per_channel_weights").get<bool>();
    o.activations = l.at("per_row_activations").get<bool>() ? ActivationGranularity::per_row
                                                            : ActivationGranularity::per_tensor;
    o.signed_activations = l.at("signed_activations").get<bool>();
    o.reduce_range = l.at("reduce_range").get<bool>();
    auto wq = f.load<eigenq::Linear<std::int8_t>>(wname);
    o.weight_policy = wq.policy();
    return std::make_unique<DynamicLinear>(std::move(wq), float_vector(f, bname), o);
  }
  if (kind == "StaticLinear") {
    const auto view = f.file().tensor(bname);
    std::vector<std::int32_t> bias(static_cast<std::size_t>(view.size()));
    if (view.dtype() != io::DType::i32) raise<FormatError>(path, ": '", bname, "' must be I32");
    view.convert_to(bias.data());
    return std::make_unique<StaticLinear>(f.load<eigenq::Linear<std::int8_t>>(wname), std::move(bias),
                                          params_from(l.at("input")), params_from(l.at("output")),
                                          l.at("relu").get<bool>());
  }
  if (kind == "GroupedLinear") {
    GroupedLinearOptions o;
    o.group_size = l.at("group_size").get<Index>();
    o.scale_type = l.at("scale_type").get<std::string>() == "f16" ? kernels::ScaleType::f16 : kernels::ScaleType::f32;
    return std::make_unique<GroupedLinear>(f.load<eigenq::Linear<std::int8_t>>(wname), float_vector(f, bname), o);
  }
  if (kind == "ChannelMixedLinear") {
    const auto& parts_json = l.at("parts");
    std::vector<std::unique_ptr<Module>> parts;
    for (std::size_t k = 0; k < parts_json.size(); ++k) {
      parts.push_back(load_layer(f, parts_json[k], prefix + ".parts." + std::to_string(k)));
    }
    const std::string mname = prefix + ".row_part";
    const auto view = f.file().tensor(mname);
    if (view.dtype() != io::DType::u8 || view.shape().size() != 1) {
      raise<FormatError>(path, ": '", mname, "' must be a U8 vector");
    }
    std::vector<std::uint8_t> row_part(static_cast<std::size_t>(view.size()));
    view.convert_to(row_part.data());
    return std::make_unique<ChannelMixedLinear>(std::move(parts), std::move(row_part));
  }
  if (kind == "WeightOnlyLinear") {
    const std::string policy = l.at("policy").get<std::string>();
    const std::string scheme = l.at("scheme").get<std::string>();
    Eigen::VectorXf bias = float_vector(f, bname);
    if (policy == "Linear<int8>") return load_weight_only<eigenq::Linear<std::int8_t>>(f, wname, bias, scheme);
    if (policy == "Linear<uint8>") return load_weight_only<eigenq::Linear<std::uint8_t>>(f, wname, bias, scheme);
    if (policy == "LinearRealOffset<uint8>") return load_weight_only<LinearRealOffset<std::uint8_t>>(f, wname, bias, scheme);
    if (policy == "Codebook<uint8>") return load_weight_only<Codebook<std::uint8_t>>(f, wname, bias, scheme);
    if (policy == "LogSigned<int8>") return load_weight_only<LogSigned<std::int8_t>>(f, wname, bias, scheme);
    if (policy == "Log2<int8>") return load_weight_only<Log2<std::int8_t>>(f, wname, bias, scheme);
    if (policy == "Log<uint8>") return load_weight_only<Log<std::uint8_t>>(f, wname, bias, scheme);
    if (policy == "Exp<uint8>") return load_weight_only<Exp<std::uint8_t>>(f, wname, bias, scheme);
    raise<FormatError>(path, ": layer '", prefix, "' has unknown weight policy '", policy, "'");
  }
  raise<FormatError>(path, ": layer '", prefix, "' has unknown kind '", kind, "'");
}

}  // namespace model_file_detail

inline nn::Sequential load_model(const std::string& path) {
  const io::QuantizedFile f(path);
  const auto meta = f.user_metadata();
  const auto it = meta.find(model_metadata_key);
  if (it == meta.end()) raise<FormatError>(path, ": no '", model_metadata_key, "' metadata: not an eigenq model file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    raise<FormatError>(path, ": '", model_metadata_key, "' is not valid JSON (", e.what(), ")");
  }
  nn::Sequential model;
  try {
    const int version = j.at("version").get<int>();
    if (version != model_format_version) {
      raise<FormatError>(path, ": model format version ", version, "; this build reads version ",
                         model_format_version);
    }
    const auto& layers = j.at("layers");
    for (std::size_t i = 0; i < layers.size(); ++i) {
      model.add(model_file_detail::load_layer(f, layers[i], "layers." + std::to_string(i)));
    }
  } catch (const nlohmann::json::exception& e) {
    raise<FormatError>(path, ": '", model_metadata_key, "' does not describe a model (", e.what(), ")");
  }
  return model;
}

}  // namespace io
}  // namespace eigenq
