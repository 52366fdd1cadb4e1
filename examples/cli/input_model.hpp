// The tool's input: a safetensors file, or a .npy file seen as one tensor
// named after the file's stem. Tensors are zero-copy views into the mapped
// file (a Fortran-order .npy is reordered once into C order).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <eigenq/core/shape.hpp>
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

// "dir/model.npy" -> "model"
inline std::string npy_tensor_name(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (ends_with(base, ".npy")) base.resize(base.size() - 4);
  return base.empty() ? std::string("tensor") : base;
}

struct InputTensor {
  std::string name;
  eigenq::io::DType dtype = eigenq::io::DType::f32;
  eigenq::Shape shape;
  const std::uint8_t* data = nullptr;
  std::size_t bytes = 0;
};

class InputModel {
 public:
  explicit InputModel(const std::string& path) : path_(path) {
    // (infos_ and the views point into the members: the object stays where it is built.)
    if (is_npy_path(path)) {
      npy_.emplace(path);
      const eigenq::io::NpyHeader& h = npy_->header();
      InputTensor t{npy_tensor_name(path), h.dtype, h.shape, npy_->data(), h.data_bytes};
      if (h.fortran_order && h.shape.size() > 1) {
        reordered_.resize(h.data_bytes);
        eigenq::io::detail::fortran_to_c_order(npy_->data(), eigenq::io::dtype_size(h.dtype), h.shape, reordered_.data());
        t.data = reordered_.data();
      }
      tensors_.push_back(std::move(t));
    } else {
      safetensors_.emplace(path);
      for (const auto& info : safetensors_->tensors()) {
        const eigenq::io::TensorView v = safetensors_->tensor(info.name);
        tensors_.push_back({info.name, info.dtype, info.shape, v.data(), v.bytes()});
        infos_.push_back(&info);
      }
    }
  }

  InputModel(const InputModel&) = delete;
  InputModel& operator=(const InputModel&) = delete;

  const std::string& path() const { return path_; }
  bool is_npy() const { return npy_.has_value(); }
  const std::vector<InputTensor>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return safetensors_ ? safetensors_->metadata() : empty_; }

  std::uint64_t total_bytes() const {
    std::uint64_t b = 0;
    for (const auto& t : tensors_) b += t.bytes;
    return b;
  }

  void prefetch(std::size_t i) const {
    if (safetensors_) safetensors_->prefetch(*infos_[i]);
  }
  // Drops tensor i's pages (or bytes [offset, offset + length) of it) from
  // the resident set once they have been processed.
  void release(std::size_t i) const {
    if (safetensors_) safetensors_->release(*infos_[i]);
  }
  void release(std::size_t i, std::size_t offset, std::size_t length) const {
    if (safetensors_) safetensors_->release(*infos_[i], offset, length);
  }

 private:
  std::string path_;
  std::optional<eigenq::io::SafetensorsFile> safetensors_;
  std::optional<eigenq::io::NpyFile> npy_;
  std::vector<std::uint8_t> reordered_;
  std::vector<InputTensor> tensors_;
  std::vector<const eigenq::io::TensorInfo*> infos_;
  std::map<std::string, std::string> empty_;
};

}  // namespace eigenq_cli
