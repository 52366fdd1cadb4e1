// The metadata of the eigenq quantized format (docs/format.md section 2): the keys
// "eigenq.format" (the version) and "eigenq:NAME" (one JSON object per quantized tensor),
// QuantizedTensorMeta (what that object says) with its JSON, and the format errors that
// name the file and tensor.
#pragma once

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/safetensors.hpp"

namespace eigenq {
namespace io {

inline constexpr const char* quantized_format_key = "eigenq.format";
inline constexpr const char* quantized_format_version = "1";

// The metadata key describing quantized tensor NAME.
inline std::string quantized_metadata_key(const std::string& name) { return "eigenq:" + name; }

// Metadata keys eigenq owns: "eigenq.format" and "eigenq:NAME".
inline bool is_eigenq_metadata_key(const std::string& key) {
  return key == quantized_format_key || key.rfind("eigenq:", 0) == 0;
}

// What "eigenq:NAME" says about a quantized tensor.
struct QuantizedTensorMeta {
  std::string scheme;      // linear-affine, linear-symmetric, log, log-signed, log2, exp, codebook
  std::string convention;  // inference or real-offset (linear), none (others); "seed" read as before
  std::string profile;     // pytorch, onnx or tflite: linear inference only, else empty
  int bits = 8;            // significant bits of a code
  DType code_dtype = DType::i8;  // type of one unpacked code
  int storage_bits = 8;    // 2, 3 or 4: packed in U8 bytes; 8 or 16: one code per element
  std::int32_t qmin = 0;   // the code range
  std::int32_t qmax = 0;
  Granularity granularity;  // kind, axis (normalized; -1 per tensor), group size (0 unless per group)
  Shape shape;             // the logical shape
  DType dtype = DType::f32;  // the tensor's dtype before quantization
  std::vector<std::string> params;  // parameter tensor suffixes: NAME.<param>
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // policy options and caller's keys

  bool packed() const { return storage_bits < 8; }

  std::string to_json() const {
    nlohmann::ordered_json j;
    j["scheme"] = scheme;
    j["bits"] = bits;
    j["code_dtype"] = to_string(code_dtype);
    j["storage_bits"] = storage_bits;
    j["qmin"] = qmin;
    j["qmax"] = qmax;
    j["granularity"] = to_string(granularity.kind);
    j["axis"] = granularity.axis;
    j["group_size"] = granularity.group_size;
    j["convention"] = convention;
    if (!profile.empty()) j["profile"] = profile;
    j["shape"] = shape;
    j["dtype"] = to_string(dtype);
    j["params"] = params;
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (j.contains(it.key())) raise<InvalidArgument>("eigenq metadata key '", it.key(), "' is reserved");
      j[it.key()] = it.value();
    }
    return j.dump();
  }

  static QuantizedTensorMeta from_json(const std::string& text, const std::string& file, const std::string& name);
};

namespace detail {

// The real-offset form of linear quantization; files before eigenq 0.2 call it "seed"
// (the project's seed document, where the formula comes from).
inline bool is_real_offset(const std::string& convention) {
  return convention == "real-offset" || convention == "seed";
}

// Names the file and tensor in every format error.
struct FormatContext {
  const std::string& file;
  const std::string& name;

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    raise<FormatError>(file, ": tensor '", name, "': ", std::forward<Parts>(parts)...);
  }
};

template <class T>
T meta_value(const nlohmann::json& j, const char* key, const FormatContext& ctx) {
  const auto it = j.find(key);
  if (it == j.end()) ctx.fail("eigenq metadata has no \"", key, "\"");
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) ctx.fail("eigenq metadata \"", key, "\" is not a string");
    return it->get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) ctx.fail("eigenq metadata \"", key, "\" is not true or false");
    return it->get<bool>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) ctx.fail("eigenq metadata \"", key, "\" is not a number");
    return it->get<T>();
  } else {
    static_assert(std::is_integral_v<T>, "metadata values are strings, booleans or numbers");
    const bool fits = it->is_number_integer() &&
                      (it->is_number_unsigned()
                           ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                           : (it->get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                              it->get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max())));
    if (!fits) ctx.fail("eigenq metadata \"", key, "\" is not an integer in range: ", it->dump());
    return it->get<T>();
  }
}

}  // namespace detail

inline QuantizedTensorMeta QuantizedTensorMeta::from_json(const std::string& text, const std::string& file,
                                                          const std::string& name) {
  const detail::FormatContext ctx{file, name};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ctx.fail("eigenq metadata is not valid JSON: ", e.what());
  }
  if (!j.is_object()) ctx.fail("eigenq metadata is not a JSON object");
  QuantizedTensorMeta m;
  m.scheme = detail::meta_value<std::string>(j, "scheme", ctx);
  m.convention = detail::meta_value<std::string>(j, "convention", ctx);
  if (j.contains("profile")) m.profile = detail::meta_value<std::string>(j, "profile", ctx);
  m.bits = detail::meta_value<int>(j, "bits", ctx);
  if (m.bits < 2 || m.bits > 16) ctx.fail("bits = ", m.bits, " is out of range (2..16)");
  const std::string code = detail::meta_value<std::string>(j, "code_dtype", ctx);
  const auto code_dtype = dtype_from_string(code);
  if (!code_dtype || !(*code_dtype == DType::i8 || *code_dtype == DType::u8 || *code_dtype == DType::i16 ||
                       *code_dtype == DType::u16)) {
    ctx.fail("code_dtype \"", code, "\" is not I8, U8, I16 or U16");
  }
  m.code_dtype = *code_dtype;
  m.storage_bits = detail::meta_value<int>(j, "storage_bits", ctx);
  const int wide = 8 * static_cast<int>(dtype_size(m.code_dtype));
  if (m.bits > wide) ctx.fail("bits = ", m.bits, " do not fit ", code, " codes");
  // Codes of up to 4 bits are packed in fields of 2..4 bits that hold them (eigenq writes fields
  // as its core packs them; any such width reads); wider codes are not packed.
  const bool valid_storage = m.bits <= 4 ? (m.storage_bits >= m.bits && m.storage_bits >= 2 && m.storage_bits <= 4)
                                         : m.storage_bits == wide;
  if (!valid_storage) {
    ctx.fail("storage_bits = ", m.storage_bits, " cannot hold ", m.bits, "-bit ", code, " codes (",
             m.bits <= 4 ? "packed fields are 2..4 bits and at least as wide as a code"
                         : "unpacked codes use their type's width",
             ")");
  }
  m.qmin = detail::meta_value<std::int32_t>(j, "qmin", ctx);
  m.qmax = detail::meta_value<std::int32_t>(j, "qmax", ctx);
  const std::string kind = detail::meta_value<std::string>(j, "granularity", ctx);
  const int axis = detail::meta_value<int>(j, "axis", ctx);
  const Index group = detail::meta_value<Index>(j, "group_size", ctx);
  if (kind == "tensor") m.granularity = PerTensor{};
  else if (kind == "channel") m.granularity = PerChannel{axis};
  else if (kind == "group") m.granularity = PerGroup{axis, group};
  else ctx.fail("granularity \"", kind, "\" is not tensor, channel or group");
  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) ctx.fail("eigenq metadata \"shape\" is not an array");
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      ctx.fail("eigenq metadata \"shape\" ", shape->dump(), " is not a list of non-negative integers");
    }
    m.shape.push_back(d.get<Index>());
  }
  try {
    (void)element_count(m.shape);
  } catch (const ShapeError&) {
    ctx.fail("logical shape ", to_string(m.shape), " has more elements than an int64 can count");
  }
  const std::string dtype = detail::meta_value<std::string>(j, "dtype", ctx);
  const auto original = dtype_from_string(dtype);
  if (!original) ctx.fail("dtype \"", dtype, "\" is unknown");
  m.dtype = *original;
  const auto params = j.find("params");
  if (params == j.end() || !params->is_array()) ctx.fail("eigenq metadata \"params\" is not an array");
  for (const auto& p : *params) {
    if (!p.is_string()) ctx.fail("eigenq metadata \"params\" holds a non-string: ", p.dump());
    m.params.push_back(p.get<std::string>());
  }
  static const std::set<std::string> known = {"scheme", "convention", "profile", "bits", "code_dtype",
                                              "storage_bits", "qmin", "qmax", "granularity", "axis",
                                              "group_size", "shape", "dtype", "params"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) m.extra[it.key()] = it.value();
  }
  return m;
}

// Parses "eigenq:NAME" of a file.
inline QuantizedTensorMeta read_quantized_meta(const SafetensorsFile& f, const std::string& name) {
  const auto it = f.metadata().find(quantized_metadata_key(name));
  if (it == f.metadata().end()) raise<InvalidArgument>(f.path(), ": tensor '", name, "' is not quantized (no eigenq:", name, " metadata)");
  return QuantizedTensorMeta::from_json(it->second, f.path(), name);
}

// Checks "eigenq.format" (FormatError for other versions, or eigenq keys without it).
// Returns false for files without any eigenq metadata.
inline bool check_quantized_format(const SafetensorsFile& f) {
  const auto& md = f.metadata();
  const auto version = md.find(quantized_format_key);
  if (version == md.end()) {
    for (const auto& kv : md) {
      if (is_eigenq_metadata_key(kv.first)) {
        raise<FormatError>(f.path(), ": has eigenq metadata ('", kv.first, "') but no \"", quantized_format_key, "\"");
      }
    }
    return false;
  }
  if (version->second != quantized_format_version) {
    raise<FormatError>(f.path(), ": eigenq format version \"", version->second, "\" is not supported (this eigenq reads version ",
                       quantized_format_version, ")");
  }
  return true;
}

namespace detail {

// "double_quant": {"groups_per_block": S} of the metadata; 0 when absent.
inline Index double_quant_groups(const QuantizedTensorMeta& m, const FormatContext& ctx) {
  const auto it = m.extra.find("double_quant");
  if (it == m.extra.end()) return 0;
  const auto s = it->is_object() ? it->find("groups_per_block") : it->end();
  if (!it->is_object() || s == it->end() || !s->is_number_integer() || s->get<std::int64_t>() <= 0) {
    ctx.fail("\"double_quant\" must be {\"groups_per_block\": S} with S > 0");
  }
  return s->get<Index>();
}

// Super-blocks group the group parameters exactly as groups group elements (double_quant.hpp).
inline ParamLayout super_block_layout(const ParamLayout& groups, Index groups_per_block) {
  return ParamLayout(groups.param_shape(), PerGroup{groups.granularity().axis, groups_per_block});
}

}  // namespace detail
}  // namespace io
}  // namespace eigenq
