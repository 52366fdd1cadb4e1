// Helpers for the GGUF and imatrix tests: bytes built field by field (for files
// eigenq's writer would never make, such as version 2), and tensors whose
// bytes are a simple function of their index.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "eigenq/io/gguf.hpp"

namespace gguf_test {

// Little-endian bytes appended field by field.
class Bytes {
 public:
  Bytes& u8(std::uint8_t v) { return raw(&v, 1); }
  Bytes& u32(std::uint32_t v) { return raw(&v, 4); }
  Bytes& i32(std::int32_t v) { return raw(&v, 4); }
  Bytes& u64(std::uint64_t v) { return raw(&v, 8); }
  Bytes& i64(std::int64_t v) { return raw(&v, 8); }
  Bytes& f32(float v) { return raw(&v, 4); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  Bytes& text(const std::string& s) { return raw(s.data(), s.size()); }
  Bytes& pad(std::size_t alignment) {
    while (data.size() % alignment != 0) data.push_back(0);
    return *this;
  }
  Bytes& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    data.insert(data.end(), b, b + n);
    return *this;
  }
  std::size_t size() const { return data.size(); }

  std::vector<std::uint8_t> data;
};

using eigenq::ggml::Type;

inline std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 131 + seed * 17 + (i >> 8)) & 0xff);
  return v;
}

// A tensor with its bytes, sized by eigenq's own layout planning.
inline eigenq::io::GgufOwnedTensor owned(const std::string& name, Type type, std::vector<std::int64_t> ne,
                                         unsigned seed) {
  const auto layout = eigenq::io::plan_gguf_layout("<test>", {{name, type, ne}}, 32);
  return {name, type, std::move(ne), pattern(static_cast<std::size_t>(layout[0].bytes), seed)};
}

}  // namespace gguf_test
