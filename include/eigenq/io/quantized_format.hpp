// The eigenq quantized file format, version 1 (docs/format.md): QTensors of
// every policy saved into and loaded from safetensors files.
//
// For a quantized tensor NAME the file holds
//   NAME               the codes: I8/U8/I16/U16 of the logical shape, or, for
//                      codes of 2..4 bits, U8 bytes: one bit stream (core/packing.hpp)
//   NAME.<param>       the policy's parameters, one row per parameter set
//                      (scale, zero_point, r_min, r_max, m_min, m_max,
//                      max_exponent, codebook; see PolicyFormat)
// and the metadata holds "eigenq.format": "1" and "eigenq:NAME", a JSON
// object (as a string) describing scheme, bits, code type, granularity,
// logical shape, original dtype and whatever the policy needs besides.
//
//   eigenq::io::QuantizedFileWriter out;
//   out.add("fc1.weight", qtensor);                        // any QTensor<Policy>
//   out.write("model.eigenq.safetensors");
//
//   eigenq::io::QuantizedFile in("model.eigenq.safetensors");
//   auto q = in.load<eigenq::Linear<int8_t>>("fc1.weight");   // the same QTensor
//   std::vector<float> w = in.dequantize("fc1.weight");       // any scheme, no type needed
//
// This header holds the two file classes; the format itself is written once, in
//   quantized_metadata.hpp   the "eigenq.format" and "eigenq:NAME" keys, QuantizedTensorMeta
//   policy_format.hpp        PolicyFormat<Policy>: each policy's metadata and parameter tensors
//   quantized_write.hpp      plan_quantized, encode_quantized (streaming writers use them)
//   quantized_read.hpp       load_quantized, dequantize_quantized, with every check
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/quantized_metadata.hpp"
#include "eigenq/io/quantized_read.hpp"
#include "eigenq/io/quantized_write.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/quantizer/qtensor.hpp"

namespace eigenq {
namespace io {

// A file in the quantized format, opened for reading: which tensors are
// quantized (and their metadata), which are stored as they are.
class QuantizedFile {
 public:
  explicit QuantizedFile(const std::string& path) : file_(path) { scan(); }
  explicit QuantizedFile(SafetensorsFile file) : file_(std::move(file)) { scan(); }

  const SafetensorsFile& file() const { return file_; }
  const std::string& path() const { return file_.path(); }
  // Whether the file carries "eigenq.format" (a file without it has only plain tensors).
  bool is_eigenq() const { return is_eigenq_; }

  // Quantized tensors, in the order of their codes in the file.
  const std::vector<std::string>& quantized() const { return quantized_; }
  // Tensors stored as they are (not quantized, not a quantized tensor's parameter).
  const std::vector<std::string>& plain() const { return plain_; }
  // Every logical tensor (quantized or plain), in the file's data order.
  const std::vector<std::string>& logical() const { return logical_; }

  bool is_quantized(const std::string& name) const { return meta_.count(name) != 0; }
  const QuantizedTensorMeta& meta(const std::string& name) const {
    const auto it = meta_.find(name);
    if (it == meta_.end()) raise<InvalidArgument>(path(), ": tensor '", name, "' is not quantized");
    return it->second;
  }

  // The stored tensors a logical tensor occupies (codes and parameters, or itself).
  std::vector<std::string> stored_tensors(const std::string& name) const {
    if (!is_quantized(name)) return {name};
    std::vector<std::string> out{name};
    for (const auto& p : meta(name).params) out.push_back(name + "." + p);
    return out;
  }

  template <class Policy>
  QTensor<Policy> load(const std::string& name) const {
    return load_quantized<Policy>(file_, name);
  }
  template <class Code>
  DoubleQuantized<Code> load_double_quantized(const std::string& name) const {
    return io::load_double_quantized<Code>(file_, name);
  }

  // A quantized tensor dequantized, or a plain tensor converted to float.
  std::vector<float> dequantize(const std::string& name) const {
    if (is_quantized(name)) return dequantize_quantized(file_, name);
    return file_.tensor(name).to_float();
  }
  // The same into out[0 .. element count): the logical shape's for quantized tensors.
  void dequantize_into(const std::string& name, float* out) const {
    if (is_quantized(name)) dequantize_quantized_into(file_, name, out);
    else file_.tensor(name).convert_to(out);
  }

  // The file's metadata without eigenq's own keys.
  std::map<std::string, std::string> user_metadata() const {
    std::map<std::string, std::string> out;
    for (const auto& kv : file_.metadata()) {
      if (!is_eigenq_metadata_key(kv.first)) out.insert(kv);
    }
    return out;
  }

 private:
  void scan() {
    is_eigenq_ = check_quantized_format(file_);
    std::unordered_map<std::string, std::string> owner;  // parameter tensor -> its quantized tensor
    for (const auto& kv : file_.metadata()) {
      if (kv.first.rfind("eigenq:", 0) != 0) continue;
      const std::string name = kv.first.substr(7);
      if (!file_.contains(name)) raise<FormatError>(path(), ": metadata '", kv.first, "' names no tensor of the file");
      QuantizedTensorMeta m = QuantizedTensorMeta::from_json(kv.second, path(), name);
      for (const auto& p : m.params) {
        const std::string t = name + "." + p;
        if (!file_.contains(t)) raise<FormatError>(path(), ": tensor '", name, "': parameter tensor '", t, "' is missing");
        if (!owner.emplace(t, name).second) {
          raise<FormatError>(path(), ": tensor '", t, "' is claimed by quantized tensors '", owner[t], "' and '", name, "'");
        }
      }
      meta_.emplace(name, std::move(m));
    }
    for (const auto& kv : owner) {
      if (meta_.count(kv.first)) {
        raise<FormatError>(path(), ": tensor '", kv.first, "' is both quantized and a parameter of '", kv.second, "'");
      }
    }
    for (const TensorInfo& t : file_.tensors()) {
      if (meta_.count(t.name)) {
        quantized_.push_back(t.name);
        logical_.push_back(t.name);
      } else if (!owner.count(t.name)) {
        plain_.push_back(t.name);
        logical_.push_back(t.name);
      }
    }
  }

  SafetensorsFile file_;
  bool is_eigenq_ = false;
  std::map<std::string, QuantizedTensorMeta> meta_;
  std::vector<std::string> quantized_;
  std::vector<std::string> plain_;
  std::vector<std::string> logical_;
};

// Collects quantized and plain tensors in memory and writes them as one file
// (atomically: temporary file, then rename). For streaming writes of large
// files use plan_quantized / encode_quantized with a SafetensorsWriter.
class QuantizedFileWriter {
 public:
  template <class Policy>
  void add(const std::string& name, const QTensor<Policy>& q, const QuantizedTensorOptions& options = {}) {
    if (options.double_quant_groups_per_block != 0) {
      raise<InvalidArgument>("tensor '", name, "': add a DoubleQuantized for double-quantized scales");
    }
    append(plan_quantized(name, q, options), encode_quantized(q));
  }

  // A double-quantized per-group linear tensor (its two-level scales are stored as such).
  template <class Code>
  void add(const std::string& name, const DoubleQuantized<Code>& dq, QuantizedTensorOptions options = {}) {
    options.double_quant_groups_per_block = dq.scales.groups_per_block;
    append(plan_quantized(name, dq.tensor, options), encode_double_quantized(dq));
  }

  // A tensor stored as it is.
  void add_plain(OwnedTensor t) { tensors_.push_back(std::move(t)); }

  // User metadata; keys beginning with "eigenq." or "eigenq:" are the format's own.
  void set_metadata(const std::string& key, const std::string& value) {
    if (key.rfind("eigenq.", 0) == 0 || key.rfind("eigenq:", 0) == 0) {
      raise<InvalidArgument>("metadata key '", key, "' is reserved for the eigenq format");
    }
    metadata_[key] = value;
  }

  void write(const std::string& path, AtomicFileOptions options = {}) const {
    std::map<std::string, std::string> metadata = metadata_;
    metadata[quantized_format_key] = quantized_format_version;
    write_safetensors(path, tensors_, metadata, options);
  }

 private:
  void append(const QuantizedPlan& plan, const std::vector<Payload>& payloads) {
    for (std::size_t i = 0; i < plan.entries.size(); ++i) {
      const Payload& p = payloads[i];
      if (p.size() != plan.entries[i].bytes()) {
        raise<InvalidArgument>("tensor '", plan.entries[i].name, "': ", p.size(), " bytes encoded, ",
                               plan.entries[i].bytes(), " planned");
      }
      tensors_.push_back({plan.entries[i].name, plan.entries[i].dtype, plan.entries[i].shape,
                          std::vector<std::uint8_t>(p.data(), p.data() + p.size())});
    }
    metadata_[plan.metadata_key] = plan.metadata_json;
  }

  std::vector<OwnedTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace io
}  // namespace eigenq
