// The tool's input: a safetensors file, a .npy file seen as one tensor named
// after the file's stem, or a GGUF file (.gguf). Tensors are zero-copy views
// into the mapped file (a Fortran-order .npy is reordered once into C order).
// A GGUF tensor of a float or integer type (F32, F16, BF16, F64, I8..I64) has
// the matching dtype; one of a block type (q4_0, q4_K, ...) has none: it is
// `ggml_quantized`, and its type is `ggml_type`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <eigenq/core/shape.hpp>
#include <eigenq/ggml/type.hpp>
#include <eigenq/io/gguf_reader.hpp>
#include <eigenq/io/mapped_file.hpp>
#include <eigenq/io/npy.hpp>
#include <eigenq/io/safetensors.hpp>

namespace eigenq_cli {

inline bool ends_with(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (std::size_t i = 0; i < suffix.size(); ++i) {
    const char a = s[s.size() - suffix.size() + i];
    const char lower = (a >= 'A' && a <= 'Z') ? static_cast<char>(a - 'A' + 'a') : a;
    if (lower != suffix[i]) return false;
  }
  return true;
}

inline bool is_npy_path(const std::string& path) { return ends_with(path, ".npy"); }
inline bool is_gguf_path(const std::string& path) { return ends_with(path, ".gguf"); }
// An ONNX model (quantize and inspect hand it to onnx_command.hpp, built with eigenq::onnx).
inline bool is_onnx_path(const std::string& path) { return ends_with(path, ".onnx"); }

// "dir/model.npy" -> "model"
inline std::string npy_tensor_name(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (ends_with(base, ".npy")) base.resize(base.size() - 4);
  return base.empty() ? std::string("tensor") : base;
}

// The GGUF tensor type of a dtype (F32, F16, BF16, F64, I8..I64); none for the others.
inline std::optional<eigenq::ggml::Type> gguf_type_of(eigenq::io::DType d) {
  using eigenq::io::DType;
  using eigenq::ggml::Type;
  switch (d) {
    case DType::f32: return Type::f32;
    case DType::f16: return Type::f16;
    case DType::bf16: return Type::bf16;
    case DType::f64: return Type::f64;
    case DType::i8: return Type::i8;
    case DType::i16: return Type::i16;
    case DType::i32: return Type::i32;
    case DType::i64: return Type::i64;
    default: return std::nullopt;
  }
}

// The dtype of a GGUF tensor type; none for ggml's block types.
inline std::optional<eigenq::io::DType> dtype_of_gguf(eigenq::ggml::Type t) {
  using eigenq::io::DType;
  using eigenq::ggml::Type;
  switch (t) {
    case Type::f32: return DType::f32;
    case Type::f16: return DType::f16;
    case Type::bf16: return DType::bf16;
    case Type::f64: return DType::f64;
    case Type::i8: return DType::i8;
    case Type::i16: return DType::i16;
    case Type::i32: return DType::i32;
    case Type::i64: return DType::i64;
    default: return std::nullopt;
  }
}

struct InputTensor {
  std::string name;
  eigenq::io::DType dtype = eigenq::io::DType::f32;  // meaningless when ggml_quantized
  eigenq::Shape shape;                               // row-major (numpy) order
  const std::uint8_t* data = nullptr;
  std::size_t bytes = 0;
  std::optional<eigenq::ggml::Type> ggml_type;  // GGUF input: the tensor's type
  bool ggml_quantized = false;                  // a ggml block type, without a dtype

  // "F32", "BF16", or a block type as ggml names it ("q4_K").
  std::string type_name() const {
    return ggml_quantized ? std::string(eigenq::ggml::type_name(*ggml_type)) : std::string(eigenq::io::to_string(dtype));
  }
  // The dimensions in GGUF's order, fastest first (ne[0] is the row length); a scalar is {1}.
  std::vector<std::int64_t> ne() const {
    std::vector<std::int64_t> out(shape.rbegin(), shape.rend());
    if (out.empty()) out.push_back(1);
    return out;
  }
};

class InputModel {
 public:
  explicit InputModel(const std::string& path) : path_(path) {
    // (infos_ and the views point into the members: the object stays where it is built.)
    if (is_npy_path(path)) {
      npy_.emplace(path);
      const eigenq::io::NpyHeader& h = npy_->header();
      InputTensor t{npy_tensor_name(path), h.dtype, h.shape, npy_->data(), h.data_bytes, std::nullopt, false};
      if (h.fortran_order && h.shape.size() > 1) {
        reordered_.resize(h.data_bytes);
        eigenq::io::detail::fortran_to_c_order(npy_->data(), eigenq::io::dtype_size(h.dtype), h.shape, reordered_.data());
        t.data = reordered_.data();
      }
      tensors_.push_back(std::move(t));
    } else if (is_gguf_path(path)) {
      gguf_file_.emplace(path);
      gguf_.emplace(eigenq::io::parse_gguf_header(gguf_file_->data(), gguf_file_->size(), path));
      for (const eigenq::io::GgufTensorInfo& info : gguf_->tensors) {
        InputTensor t;
        t.name = info.name;
        t.shape = info.shape();
        t.data = gguf_file_->data() + gguf_->data_offset + info.offset;
        t.bytes = static_cast<std::size_t>(info.bytes);
        t.ggml_type = info.type;
        const auto d = dtype_of_gguf(info.type);
        t.ggml_quantized = !d.has_value();
        if (d) t.dtype = *d;
        tensors_.push_back(std::move(t));
      }
    } else {
      safetensors_.emplace(path);
      for (const auto& info : safetensors_->tensors()) {
        const eigenq::io::TensorView v = safetensors_->tensor(info.name);
        tensors_.push_back({info.name, info.dtype, info.shape, v.data(), v.bytes(), std::nullopt, false});
        infos_.push_back(&info);
      }
    }
  }

  InputModel(const InputModel&) = delete;
  InputModel& operator=(const InputModel&) = delete;

  const std::string& path() const { return path_; }
  bool is_npy() const { return npy_.has_value(); }
  bool is_gguf() const { return gguf_.has_value(); }
  const std::vector<InputTensor>& tensors() const { return tensors_; }
  // safetensors' __metadata__ (empty for npy and GGUF files).
  const std::map<std::string, std::string>& metadata() const { return safetensors_ ? safetensors_->metadata() : empty_; }
  // A GGUF input's header: its key/value pairs, tensor infos, alignment.
  const eigenq::io::GgufHeader& gguf() const { return *gguf_; }

  std::uint64_t total_bytes() const {
    std::uint64_t b = 0;
    for (const auto& t : tensors_) b += t.bytes;
    return b;
  }

  void prefetch(std::size_t i) const {
    if (safetensors_) safetensors_->prefetch(*infos_[i]);
    if (gguf_) gguf_file_->prefetch(gguf_offset(i), tensors_[i].bytes);
  }
  // Drops tensor i's pages (or bytes [offset, offset + length) of it) from
  // the resident set once they have been processed.
  void release(std::size_t i) const {
    if (safetensors_) safetensors_->release(*infos_[i]);
    if (gguf_) gguf_file_->release(gguf_offset(i), tensors_[i].bytes);
  }
  void release(std::size_t i, std::size_t offset, std::size_t length) const {
    if (safetensors_) safetensors_->release(*infos_[i], offset, length);
    if (gguf_) gguf_file_->release(gguf_offset(i) + offset, length);
  }

 private:
  std::size_t gguf_offset(std::size_t i) const {
    return static_cast<std::size_t>(gguf_->data_offset + gguf_->tensors[i].offset);
  }

  std::string path_;
  std::optional<eigenq::io::SafetensorsFile> safetensors_;
  std::optional<eigenq::io::NpyFile> npy_;
  std::optional<eigenq::io::MappedFile> gguf_file_;
  std::optional<eigenq::io::GgufHeader> gguf_;
  std::vector<std::uint8_t> reordered_;
  std::vector<InputTensor> tensors_;
  std::vector<const eigenq::io::TensorInfo*> infos_;
  std::map<std::string, std::string> empty_;
};

}  // namespace eigenq_cli
