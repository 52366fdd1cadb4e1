// What the streaming writers of tensor files (safetensors, GGUF) share: a header written
// first, then each planned tensor's bytes at its place in the data section, whole or in
// chunks, in any order and from any thread (disjoint chunks), into a temporary file that
// appears under its name only after commit(), which checks that every byte was written.
// Destroyed without commit(), it leaves nothing behind (atomic_file.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/io/atomic_file.hpp"

namespace eigenq {
namespace io {

class TensorFileWriter {
 public:
  // One planned tensor: `bytes` at `offset` within the data section, then zero padding up
  // to `offset + bytes + padding` (the file format's alignment).
  struct Slot {
    std::string name;
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
    std::uint64_t padding = 0;
  };

  TensorFileWriter(std::string path, std::vector<Slot> slots, const std::string& header, AtomicFileOptions options)
      : slots_(std::move(slots)), written_(slots_.size(), 0), file_(std::move(path), options) {
    data_offset_ = header.size();
    file_.write(header.data(), header.size());
  }

  const std::string& path() const { return file_.path(); }
  const std::string& temp_path() const { return file_.temp_path(); }
  // Where the data section starts in the file (the header's size).
  std::uint64_t data_offset() const { return data_offset_; }

  std::size_t index_of(const std::string& name) const {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].name == name) return i;
    }
    raise<InvalidArgument>(path(), ": no tensor named '", name, "' was planned");
  }

  // All bytes of tensor i.
  void write(std::size_t i, const void* data, std::size_t bytes) {
    check_index(i);
    if (bytes != slots_[i].bytes) {
      raise<InvalidArgument>(path(), ": tensor '", slots_[i].name, "' needs ", slots_[i].bytes, " bytes, got ", bytes);
    }
    write_chunk(i, 0, data, bytes);
  }
  void write(const std::string& name, const void* data, std::size_t bytes) { write(index_of(name), data, bytes); }

  // `bytes` at `offset` within tensor i; chunks of a tensor must not overlap.
  void write_chunk(std::size_t i, std::size_t offset, const void* data, std::size_t bytes) {
    check_index(i);
    const Slot& t = slots_[i];
    if (offset > t.bytes || bytes > t.bytes - offset) {
      raise<InvalidArgument>(path(), ": chunk [", offset, ", ", offset + bytes, ") lies outside tensor '", t.name,
                             "' of ", t.bytes, " bytes");
    }
    file_.write_at(data_offset_ + t.offset + offset, data, bytes);
    bool complete = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      written_[i] += bytes;
      complete = written_[i] == t.bytes && bytes > 0;
    }
    if (complete) write_padding(t);
  }

  void commit() {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (written_[i] != slots_[i].bytes) {
        raise<InvalidArgument>(path(), ": tensor '", slots_[i].name, "' has ", written_[i], " of its ", slots_[i].bytes,
                               " bytes written; not committing");
      }
    }
    file_.commit();
  }

  // Abandons the file (also what destruction without commit() does).
  void discard() noexcept { file_.discard(); }

 private:
  void write_padding(const Slot& t) {
    static const std::vector<char> zeros(65536, '\0');
    std::uint64_t at = data_offset_ + t.offset + t.bytes;
    for (std::uint64_t pad = t.padding; pad > 0;) {
      const std::size_t n = static_cast<std::size_t>(pad < zeros.size() ? pad : zeros.size());
      file_.write_at(at, zeros.data(), n);
      at += n;
      pad -= n;
    }
  }

  void check_index(std::size_t i) const {
    if (i >= slots_.size()) raise<InvalidArgument>(path(), ": tensor index ", i, " out of range");
  }

  std::vector<Slot> slots_;
  std::vector<std::uint64_t> written_;
  AtomicFile file_;
  std::uint64_t data_offset_ = 0;
  std::mutex mutex_;
};

}  // namespace io
}  // namespace eigenq
