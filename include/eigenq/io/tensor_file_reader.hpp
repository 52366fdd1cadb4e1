// What the readers of tensor files (safetensors, GGUF) share: the file's bytes, memory-mapped
// or held in memory, and the lookup of a tensor by name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/io/mapped_file.hpp"

namespace eigenq {
namespace io {

// The bytes of a file to parse: memory-mapped from a path, or held in memory (tests, fuzzing,
// data from elsewhere) under a name that messages use as its path.
class FileBytes {
 public:
  FileBytes() = default;
  explicit FileBytes(const std::string& path) : file_(path), mapped_(true) {}
  FileBytes(std::vector<std::uint8_t> bytes, std::string name) : buffer_(std::move(bytes)), name_(std::move(name)) {}

  const std::string& path() const { return mapped_ ? file_.path() : name_; }
  const std::uint8_t* data() const { return mapped_ ? file_.data() : buffer_.data(); }
  std::size_t size() const { return mapped_ ? file_.size() : buffer_.size(); }
  FileIdentity identity() const { return file_.identity(); }

  // Page-cache hints for [offset, offset + length) (nothing for bytes held in memory).
  void prefetch(std::size_t offset, std::size_t length) const { file_.prefetch(offset, length); }
  void release(std::size_t offset, std::size_t length) const { file_.release(offset, length); }

 private:
  MappedFile file_;
  std::vector<std::uint8_t> buffer_;
  std::string name_;
  bool mapped_ = false;
};

// Tensor name -> position in a file's list of tensors.
class TensorIndex {
 public:
  TensorIndex() = default;
  template <class Info>
  explicit TensorIndex(const std::vector<Info>& tensors) {
    positions_.reserve(tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) positions_.emplace(tensors[i].name, i);
  }

  bool contains(const std::string& name) const { return positions_.count(name) != 0; }

  std::size_t at(const std::string& name, const std::string& path) const {
    const auto it = positions_.find(name);
    if (it == positions_.end()) raise<InvalidArgument>(path, ": no tensor named '", name, "'");
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::size_t> positions_;
};

}  // namespace io
}  // namespace eigenq
