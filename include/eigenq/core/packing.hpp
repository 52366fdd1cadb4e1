// Sub-byte code packing. 2-bit codes go four to a byte, 3- and 4-bit codes two
// to a byte (a nibble each), always lowest bits first: byte j holds codes
// 2j (bits 0-3) and 2j+1 (bits 4-7), or 4j..4j+3 at bits 0-1, 2-3, 4-5, 6-7.
// Signed codes are stored as two's complement in their field and sign-extended
// on unpacking. docs/format.md documents this for readers in other languages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"

namespace eigenq {

// Width of the field one code occupies in storage: 2, 4, 8 or 16 bits.
inline int storage_bits(int bits) {
  if (bits <= 2) return 2;
  if (bits <= 4) return 4;
  if (bits <= 8) return 8;
  return 16;
}

inline Index packed_bytes(Index count, int bits) {
  switch (storage_bits(bits)) {
    case 2: return (count + 3) / 4;
    case 4: return (count + 1) / 2;
    case 8: return count;
    default: return 2 * count;
  }
}

// Packs `count` codes (each fitting `field` = 2 or 4 bits) into bytes.
template <class Code>
void pack_codes(const Code* codes, Index count, int field, std::uint8_t* out) {
  const int per_byte = 8 / field;
  const unsigned mask = (1u << field) - 1u;
  const Index full = count / per_byte;
  for (Index j = 0; j < full; ++j) {
    unsigned byte = 0;
    for (int k = 0; k < per_byte; ++k) {
      byte |= (static_cast<unsigned>(codes[j * per_byte + k]) & mask) << (k * field);
    }
    out[j] = static_cast<std::uint8_t>(byte);
  }
  const Index rest = count - full * per_byte;
  if (rest > 0) {
    unsigned byte = 0;  // unused high fields stay zero
    for (Index k = 0; k < rest; ++k) {
      byte |= (static_cast<unsigned>(codes[full * per_byte + k]) & mask) << (k * field);
    }
    out[full] = static_cast<std::uint8_t>(byte);
  }
}

// Unpacks `count` codes; signed code types are sign-extended from the field.
template <class Code>
void unpack_codes(const std::uint8_t* in, Index count, int field, Code* out) {
  const int per_byte = 8 / field;
  const int mask = (1 << field) - 1;
  const int sign = 1 << (field - 1);
  for (Index i = 0; i < count; ++i) {
    int v = (in[i / per_byte] >> ((i % per_byte) * field)) & mask;
    if constexpr (std::is_signed_v<Code>) v = (v ^ sign) - sign;
    out[i] = static_cast<Code>(v);
  }
}

// Convenience names for the two formats kernels and files talk about.
inline void pack_int4(const std::int8_t* codes, Index count, std::uint8_t* out) {
  pack_codes(codes, count, 4, out);
}
inline void unpack_int4(const std::uint8_t* in, Index count, std::int8_t* out) {
  unpack_codes(in, count, 4, out);
}
inline void pack_uint4(const std::uint8_t* codes, Index count, std::uint8_t* out) {
  pack_codes(codes, count, 4, out);
}
inline void unpack_uint4(const std::uint8_t* in, Index count, std::uint8_t* out) {
  unpack_codes(in, count, 4, out);
}

}  // namespace eigenq
