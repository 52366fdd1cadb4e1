// `eigenq inspect FILE`: what a .safetensors or .npy file holds: names,
// dtypes, shapes, sizes, the metadata, and for eigenq files how each tensor is
// quantized. Reading the file validates it fully (header, offsets, eigenq
// metadata), so inspect is also a checker.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/io/npy.hpp>
#include <eigenq/io/quantized_format.hpp>
#include <eigenq/io/safetensors.hpp>

#include "cli_util.hpp"
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

}  // namespace detail

inline int run_inspect(const InspectArgs& a) {
  namespace io = eigenq::io;
  if (is_npy_path(a.file)) return detail::inspect_npy(a);
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
