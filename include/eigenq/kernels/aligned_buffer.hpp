// A zero-initialized, 64-byte aligned array of trivially copyable values with
// value semantics. Packed weights and kernel scratch live in it: a 64-byte
// aligned panel starts every SIMD load on a cache-line boundary.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

#include "eigenq/core/error.hpp"

namespace eigenq {
namespace kernels {

template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "AlignedBuffer holds trivially copyable values");

 public:
  static constexpr std::size_t alignment = 64;

  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t count) { resize(count); }
  AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_ > 0) std::memcpy(data_.get(), other.data_.get(), size_ * sizeof(T));
  }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_) {
    other.size_ = other.capacity_ = 0;
  }
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) {
      AlignedBuffer copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = other.capacity_ = 0;
    return *this;
  }

  // Sets the size to `count` zero values; keeps the allocation when it is big enough.
  void resize(std::size_t count) {
    if (count > capacity_) {
      if (count > static_cast<std::size_t>(-1) / sizeof(T) - alignment) {
        raise("aligned buffer of ", count, " elements is too large");
      }
      const std::size_t bytes = (count * sizeof(T) + alignment - 1) / alignment * alignment;
      data_.reset(static_cast<T*>(::operator new(bytes, std::align_val_t{alignment})));
      capacity_ = bytes / sizeof(T);
    }
    size_ = count;
    if (count > 0) std::memset(static_cast<void*>(data_.get()), 0, count * sizeof(T));
  }

  // Like resize, but leaves the values unspecified (scratch that is written before it is read).
  void reserve_uninitialized(std::size_t count) {
    if (count > capacity_) {
      resize(count);
    } else {
      size_ = count;
    }
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_.get()[i]; }
  const T& operator[](std::size_t i) const { return data_.get()[i]; }

 private:
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete(static_cast<void*>(p), std::align_val_t{alignment}); }
  };
  std::unique_ptr<T, AlignedDelete> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace kernels
}  // namespace eigenq
