// Holds the codes of a quantized tensor in their true storage format: packed
// for 2..4 bits (see packing.hpp), one Code per element otherwise.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

template <class Code>
class CodeStorage {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  CodeStorage() = default;

  // Stores `count` codes of `bits` significant bits each.
  CodeStorage(const Code* codes, Index count, int bits) : bits_(bits), count_(count) {
    if (bits < 2 || bits > 8 * static_cast<int>(sizeof(Code))) {
      raise("bits = ", bits, " is out of range for ", sizeof(Code), "-byte codes");
    }
    if (is_packed()) {
      packed_.resize(static_cast<std::size_t>(packed_bytes(count, bits)));
      pack_codes(codes, count, field_bits(), packed_.data());
    } else {
      wide_.assign(codes, codes + count);
    }
  }

  int bits() const { return bits_; }
  Index size() const { return count_; }
  bool is_packed() const { return bits_ <= 4; }
  int field_bits() const { return storage_bits(bits_) < 8 ? storage_bits(bits_) : 8 * int(sizeof(Code)); }

  // Bytes the codes occupy.
  std::size_t bytes() const {
    return is_packed() ? packed_.size() : wide_.size() * sizeof(Code);
  }

  Code operator[](Index i) const {
    if (!is_packed()) return wide_[static_cast<std::size_t>(i)];
    return unpack_code<Code>(packed_.data(), i, field_bits());
  }

  void unpack(Code* out) const {
    if (is_packed()) unpack_codes(packed_.data(), count_, field_bits(), out);
    else std::copy(wide_.begin(), wide_.end(), out);
  }

  std::vector<Code> unpacked() const {
    std::vector<Code> out(static_cast<std::size_t>(count_));
    unpack(out.data());
    return out;
  }

  // Direct access for kernels: unpacked codes (bits >= 5) ...
  const Code* data() const {
    if (is_packed()) raise("codes of ", bits_, " bits are packed; use packed_data() or unpack()");
    return wide_.data();
  }
  // ... or the packed bytes (bits <= 4).
  const std::uint8_t* packed_data() const {
    if (!is_packed()) raise("codes of ", bits_, " bits are not packed; use data()");
    return packed_.data();
  }

  // Rebuilds storage from packed bytes as read from a file.
  static CodeStorage from_packed(std::vector<std::uint8_t> bytes, Index count, int bits) {
    CodeStorage s;
    s.bits_ = bits;
    s.count_ = count;
    if (bits < 2 || !s.is_packed()) raise("from_packed needs bits in 2..4, got ", bits);
    if (count < 0) raise<FormatError>("packed code buffer: negative code count ", count);
    if (static_cast<Index>(bytes.size()) != packed_bytes(count, bits)) {
      raise<FormatError>("packed code buffer holds ", bytes.size(), " bytes, expected ",
                         packed_bytes(count, bits), " for ", count, " codes of ", bits, " bits");
    }
    s.packed_ = std::move(bytes);
    return s;
  }

 private:
  int bits_ = 8 * static_cast<int>(sizeof(Code));
  Index count_ = 0;
  std::vector<Code> wide_;
  std::vector<std::uint8_t> packed_;
};

}  // namespace eigenq
