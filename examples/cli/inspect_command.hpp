// `eigenq inspect FILE`: what a .safetensors, .npy or .gguf file holds: names,
// dtypes, shapes, sizes, the metadata, and for eigenq files how each tensor is
// quantized; for a llama.cpp importance matrix (.dat, or a GGUF file whose
// general.type is "imatrix" or whose tensors are NAME.in_sum2) its entries.
// Reading the file validates it fully (header, offsets, eigenq metadata, every
// GGUF and imatrix rule), so inspect is also a checker.
#pragma once

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/io/gguf_reader.hpp>
#include <eigenq/io/imatrix.hpp>
#include <eigenq/io/npy.hpp>
#include <eigenq/io/quantized_format.hpp>
#include <eigenq/io/safetensors.hpp>

#include "cli_util.hpp"
#include "ggml_types.hpp"
#include "input_model.hpp"

namespace eigenq_cli {

struct InspectArgs {
  std::string file;
  bool json = false;
};

namespace detail {

// "I8 4-bit packed 2/byte": the codes' type, and how they are packed into the stored bytes.
inline std::string describe_codes(const eigenq::io::QuantizedTensorMeta& m) {
  std::string s = eigenq::io::to_string(m.code_dtype);
  if (m.packed()) {
    s += " " + std::to_string(m.storage_bits) + "-bit packed ";
    s += 8 % m.storage_bits == 0 ? std::to_string(8 / m.storage_bits) + "/byte" : "8 per " + std::to_string(m.storage_bits) + " bytes";
  }
  return s;
}

// What the stored dtype column shows for a quantized tensor: the codes, then each parameter
// tensor's type and name: "I8 4-bit packed 2/byte + F32 scale".
inline std::string describe_stored(const eigenq::io::QuantizedFile& q, const std::string& name) {
  const eigenq::io::QuantizedTensorMeta& m = q.meta(name);
  std::string s = describe_codes(m);
  for (const std::string& stored : q.stored_tensors(name)) {
    if (stored == name) continue;
    const std::string param = stored.rfind(name + ".", 0) == 0 ? stored.substr(name.size() + 1) : stored;
    s += " + " + std::string(eigenq::io::to_string(q.file().info(stored).dtype)) + " " + param;
  }
  return s;
}

inline std::string describe_quantization(const eigenq::io::QuantizedTensorMeta& m) {
  std::string s = m.scheme + " " + std::to_string(m.bits) + "-bit";
  s += ", per " + std::string(eigenq::to_string(m.granularity.kind));
  if (m.granularity.kind == eigenq::Granularity::Kind::channel) s += " (axis " + std::to_string(m.granularity.axis) + ")";
  if (m.granularity.kind == eigenq::Granularity::Kind::group) {
    s += " (axis " + std::to_string(m.granularity.axis) + ", G = " + std::to_string(m.granularity.group_size) + ")";
  }
  s += ", codes [" + std::to_string(m.qmin) + ", " + std::to_string(m.qmax) + "]";
  if (m.convention != "none") s += ", " + m.convention + " convention";
  if (!m.profile.empty()) s += ", " + m.profile;
  return s;
}

inline int inspect_npy(const InspectArgs& a) {
  namespace io = eigenq::io;
  const io::NpyFile f(a.file);
  const io::NpyHeader& h = f.header();
  if (a.json) {
    nlohmann::ordered_json j;
    j["file"] = a.file;
    j["format"] = "npy";
    j["version"] = std::to_string(h.major) + "." + std::to_string(h.minor);
    j["name"] = npy_tensor_name(a.file);
    j["dtype"] = io::to_string(h.dtype);
    j["descr"] = io::npy_descr(h.dtype);
    j["shape"] = h.shape;
    j["fortran_order"] = h.fortran_order;
    j["bytes"] = h.data_bytes;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s: .npy version %d.%d, one tensor '%s'\n", a.file.c_str(), h.major, h.minor, npy_tensor_name(a.file).c_str());
  Table table({"tensor", "dtype", "shape", "order", "bytes"}, {false, false, false, false, true});
  table.add({npy_tensor_name(a.file), std::string(io::to_string(h.dtype)) + " ('" + io::npy_descr(h.dtype) + "')",
             eigenq::to_string(h.shape), h.fortran_order ? "Fortran" : "C", human_bytes(static_cast<double>(h.data_bytes))});
  std::fputs(table.str().c_str(), stdout);
  return 0;
}

// A GGUF value as JSON: numbers, strings, bools; arrays with at most `max_items` elements shown.
inline nlohmann::ordered_json gguf_value_json(const eigenq::io::GgufValue& v, std::size_t max_items = 64) {
  using eigenq::io::GgufType;
  auto scalar = [](GgufType t, const eigenq::io::GgufValue& x, std::size_t i, bool array) -> nlohmann::ordered_json {
    switch (t) {
      case GgufType::u8: return array ? x.at<std::uint8_t>(i) : x.get<std::uint8_t>();
      case GgufType::i8: return array ? x.at<std::int8_t>(i) : x.get<std::int8_t>();
      case GgufType::u16: return array ? x.at<std::uint16_t>(i) : x.get<std::uint16_t>();
      case GgufType::i16: return array ? x.at<std::int16_t>(i) : x.get<std::int16_t>();
      case GgufType::u32: return array ? x.at<std::uint32_t>(i) : x.get<std::uint32_t>();
      case GgufType::i32: return array ? x.at<std::int32_t>(i) : x.get<std::int32_t>();
      case GgufType::u64: return array ? x.at<std::uint64_t>(i) : x.get<std::uint64_t>();
      case GgufType::i64: return array ? x.at<std::int64_t>(i) : x.get<std::int64_t>();
      case GgufType::f32: return array ? x.at<float>(i) : x.get<float>();
      case GgufType::f64: return array ? x.at<double>(i) : x.get<double>();
      case GgufType::boolean: return array ? x.at<bool>(i) : x.get<bool>();
      case GgufType::string: return array ? x.strings()[i] : x.str();
      case GgufType::array: return nullptr;
    }
    return nullptr;
  };
  if (!v.is_array()) return scalar(v.type(), v, 0, false);
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  const std::size_t n = std::min(v.size(), max_items);
  for (std::size_t i = 0; i < n; ++i) {
    if (v.element_type() == GgufType::array) out.push_back(gguf_value_json(v.items()[i], max_items));
    else out.push_back(scalar(v.element_type(), v, i, true));
  }
  return out;
}

inline bool looks_like_imatrix(const eigenq::io::GgufHeader& h) {
  if (const auto* t = h.metadata.find("general.type"); t != nullptr && t->is_string() && t->str() == "imatrix") return true;
  for (const auto& info : h.tensors) {
    if (ends_with(info.name, ".in_sum2")) return true;
  }
  return false;
}

inline int inspect_imatrix(const InspectArgs& a) {
  namespace io = eigenq::io;
  const io::Imatrix im = io::read_imatrix(a.file);
  auto stats = [](const io::ImatrixEntry& e) {
    double lo = e.importance.empty() ? 0.0 : e.importance[0];
    double hi = lo;
    double sum = 0.0;
    for (const float v : e.importance) {
      lo = std::min(lo, static_cast<double>(v));
      hi = std::max(hi, static_cast<double>(v));
      sum += v;
    }
    return std::array<double, 3>{lo, e.importance.empty() ? 0.0 : sum / static_cast<double>(e.importance.size()), hi};
  };
  if (a.json) {
    nlohmann::ordered_json j;
    j["file"] = a.file;
    j["format"] = std::string("imatrix-") + io::to_string(im.format);
    j["datasets"] = im.datasets;
    j["chunk_count"] = im.chunk_count;
    j["chunk_size"] = im.chunk_size;
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    for (const io::ImatrixEntry& e : im.entries) {
      const auto s = stats(e);
      entries.push_back({{"name", e.name}, {"row_length", e.row_length}, {"matrices", e.matrices}, {"counts", e.counts},
                         {"min", s[0]}, {"mean", s[1]}, {"max", s[2]}});
    }
    j["entries"] = std::move(entries);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::string datasets;
  for (const auto& d : im.datasets) datasets += (datasets.empty() ? "" : ", ") + d;
  std::printf("%s: llama.cpp importance matrix (%s format), %zu entries", a.file.c_str(),
              im.format == io::ImatrixFormat::gguf ? "GGUF" : "legacy .dat", im.entries.size());
  if (im.chunk_count > 0) std::printf(", %lld chunks", static_cast<long long>(im.chunk_count));
  if (im.chunk_size > 0) std::printf(" of %lld tokens", static_cast<long long>(im.chunk_size));
  if (!datasets.empty()) std::printf(", datasets: %s", datasets.c_str());
  std::printf("\n");
  Table table({"entry", "row length", "matrices", "counts", "min", "mean", "max"}, {false, true, true, false, true, true, true});
  for (const io::ImatrixEntry& e : im.entries) {
    std::string counts;
    for (std::size_t k = 0; k < e.counts.size() && k < 4; ++k) counts += (k ? " " : "") + format_double("%.0f", e.counts[k]);
    if (e.counts.size() > 4) counts += " ...";
    const auto s = stats(e);
    table.add({e.name, std::to_string(e.row_length), std::to_string(e.matrices), counts, format_double("%.4g", s[0]),
               format_double("%.4g", s[1]), format_double("%.4g", s[2])});
  }
  std::fputs(table.str().c_str(), stdout);
  return 0;
}

inline int inspect_gguf(const InspectArgs& a) {
  namespace io = eigenq::io;
  const io::GgufFile f(a.file);
  if (looks_like_imatrix(f.header())) return inspect_imatrix(a);
  const io::GgufMetadata& m = f.metadata();
  std::string file_type;
  if (const auto* ft = m.find("general.file_type"); ft != nullptr && ft->type() == io::GgufType::u32) {
    const char* name = llama_file_type_name(ft->get<std::uint32_t>());
    file_type = std::to_string(ft->get<std::uint32_t>()) + " (" + (name ? name : "unknown to eigenq") + ")";
  }
  if (a.json) {
    nlohmann::ordered_json j;
    j["file"] = a.file;
    j["format"] = "gguf";
    j["version"] = f.version();
    j["file_bytes"] = f.file_size();
    j["alignment"] = f.alignment();
    j["data_offset"] = f.data_offset();
    nlohmann::ordered_json meta = nlohmann::ordered_json::array();
    for (const auto& e : m) {
      nlohmann::ordered_json kv;
      kv["key"] = e.key;
      kv["type"] = e.value.describe_type();
      kv["value"] = gguf_value_json(e.value);
      meta.push_back(std::move(kv));
    }
    j["metadata"] = std::move(meta);
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const auto& t : f.tensors()) {
      nlohmann::ordered_json tj;
      tj["name"] = t.name;
      tj["type"] = eigenq::ggml::type_name(t.type);
      tj["shape"] = t.shape();
      tj["ne"] = t.ne;
      tj["bits_per_weight"] = bits_per_weight(t.type);
      tj["bytes"] = t.bytes;
      tj["offset"] = t.offset;
      tensors.push_back(std::move(tj));
    }
    j["tensors"] = std::move(tensors);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s: GGUF version %u, %zu tensors, %zu key/value pairs, alignment %u, data section at byte %llu, %s\n",
              a.file.c_str(), f.version(), f.tensors().size(), m.size(), f.alignment(),
              static_cast<unsigned long long>(f.data_offset()), human_bytes(static_cast<double>(f.file_size())).c_str());
  if (!file_type.empty()) std::printf("general.file_type: %s\n", file_type.c_str());
  if (!m.empty()) {
    std::printf("metadata:\n");
    Table kv({"key", "type", "value"});
    for (const auto& e : m) kv.add({e.key, e.value.describe_type(), e.value.to_text(8)});
    std::string text = kv.str();
    // indented under "metadata:"
    std::string indented;
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t nl = text.find('\n', pos);
      indented += "  " + text.substr(pos, nl - pos + 1);
      pos = nl + 1;
    }
    std::fputs(indented.c_str(), stdout);
  }
  Table table({"tensor", "type", "shape", "ne", "bits/w", "bytes", "offset"}, {false, false, false, false, true, true, true});
  std::map<std::string, std::uint64_t> by_type;
  for (const auto& t : f.tensors()) {
    table.add({t.name, eigenq::ggml::type_name(t.type), eigenq::to_string(t.shape()),
               eigenq::to_string(eigenq::Shape(t.ne.begin(), t.ne.end())), format_double("%.4g", bits_per_weight(t.type)),
               human_bytes(static_cast<double>(t.bytes)), std::to_string(t.offset)});
    by_type[eigenq::ggml::type_name(t.type)] += 1;
  }
  std::fputs(table.str().c_str(), stdout);
  std::string types;
  for (const auto& [name, count] : by_type) types += (types.empty() ? "" : ", ") + std::to_string(count) + " " + name;
  if (!types.empty()) std::printf("tensor types: %s\n", types.c_str());
  return 0;
}

}  // namespace detail

inline int run_inspect(const InspectArgs& a) {
  namespace io = eigenq::io;
  if (is_npy_path(a.file)) return detail::inspect_npy(a);
  if (is_gguf_path(a.file)) return detail::inspect_gguf(a);
  if (ends_with(a.file, ".dat")) return detail::inspect_imatrix(a);
  const io::QuantizedFile q(a.file);
  const io::SafetensorsFile& f = q.file();

  if (a.json) {
    nlohmann::ordered_json j;
    j["file"] = a.file;
    j["format"] = "safetensors";
    j["file_bytes"] = f.file_size();
    j["header_bytes"] = f.header_size();
    j["metadata"] = q.user_metadata();
    if (q.is_eigenq()) j["eigenq_format"] = io::quantized_format_version;
    else j["eigenq_format"] = nullptr;
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const std::string& name : q.logical()) {
      nlohmann::ordered_json t;
      t["name"] = name;
      std::uint64_t stored_bytes = 0;
      nlohmann::ordered_json stored = nlohmann::ordered_json::array();
      for (const std::string& s : q.stored_tensors(name)) {
        const io::TensorInfo& info = f.info(s);
        stored.push_back({{"name", s}, {"dtype", io::to_string(info.dtype)}, {"shape", info.shape}, {"bytes", info.bytes()}});
        stored_bytes += info.bytes();
      }
      // original_*: the tensor before quantization (what dequantize gives back, in F32);
      // stored_*: what the file holds for it (codes, then the parameter tensors in "stored").
      if (q.is_quantized(name)) {
        const io::QuantizedTensorMeta& m = q.meta(name);
        t["shape"] = m.shape;
        t["original_dtype"] = io::to_string(m.dtype);
        t["original_bytes"] = static_cast<std::uint64_t>(eigenq::element_count(m.shape)) * io::dtype_size(m.dtype);
        t["stored_dtype"] = io::to_string(m.code_dtype);
        t["stored_bytes"] = stored_bytes;
        t["quantized"] = true;
        t["quantization"] = nlohmann::ordered_json::parse(m.to_json());
      } else {
        const io::TensorInfo& info = f.info(name);
        t["shape"] = info.shape;
        t["original_dtype"] = io::to_string(info.dtype);
        t["original_bytes"] = info.bytes();
        t["stored_dtype"] = io::to_string(info.dtype);
        t["stored_bytes"] = stored_bytes;
        t["quantized"] = false;
      }
      t["stored"] = std::move(stored);
      tensors.push_back(std::move(t));
    }
    j["tensors"] = std::move(tensors);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::printf("%s: safetensors, %zu stored tensors, %s (header %s)\n", a.file.c_str(), f.tensors().size(),
              human_bytes(static_cast<double>(f.file_size())).c_str(), human_bytes(static_cast<double>(f.header_size())).c_str());
  const auto user = q.user_metadata();
  if (!user.empty()) {
    std::printf("metadata:\n");
    for (const auto& kv : user) std::printf("  %s: %s\n", kv.first.c_str(), kv.second.c_str());
  }
  if (q.is_eigenq()) {
    std::printf("eigenq format %s: %zu quantized, %zu plain tensors\n", io::quantized_format_version, q.quantized().size(),
                q.plain().size());
  }
  // The original dtype (before quantization) and the stored one (what the file holds), each
  // next to its own byte count.
  Table table({"tensor", "shape", "original dtype", "original bytes", "stored dtype", "stored bytes", "quantization"},
              {false, false, false, true, false, true, false});
  for (const std::string& name : q.logical()) {
    std::uint64_t stored_bytes = 0;
    std::string params;  // the parameter tensors' shapes
    for (const std::string& s : q.stored_tensors(name)) {
      const io::TensorInfo& info = f.info(s);
      stored_bytes += info.bytes();
      if (s != name) params += "; " + s + " " + eigenq::to_string(info.shape);
    }
    if (q.is_quantized(name)) {
      const io::QuantizedTensorMeta& m = q.meta(name);
      const double original_bytes = static_cast<double>(eigenq::element_count(m.shape)) * static_cast<double>(io::dtype_size(m.dtype));
      table.add({name, eigenq::to_string(m.shape), io::to_string(m.dtype), human_bytes(original_bytes),
                 detail::describe_stored(q, name), human_bytes(static_cast<double>(stored_bytes)),
                 detail::describe_quantization(m) + params});
    } else {
      const io::TensorInfo& info = f.info(name);
      table.add({name, eigenq::to_string(info.shape), io::to_string(info.dtype), human_bytes(static_cast<double>(info.bytes())),
                 io::to_string(info.dtype), human_bytes(static_cast<double>(stored_bytes)), "-"});
    }
  }
  std::fputs(table.str().c_str(), stdout);
  return 0;
}

}  // namespace eigenq_cli
