// Sub-byte code packing: codes of 2, 3 and 4 bits form one little-endian bit
// stream, each in a field of its own width, lowest bits first. Code i occupies
// bits [i*w, i*w + w) of the stream, bit b of the stream being bit (b % 8) of
// byte b / 8. So 2-bit codes go four to a byte (bits 0-1, 2-3, 4-5, 6-7),
// 4-bit codes two (low nibble first), and 3-bit codes eight to three bytes
// (a code may straddle two bytes). Signed codes are two's complement in their
// field and sign-extended on unpacking. Unused high bits of the last byte are
// zero. docs/format.md documents this for readers in other languages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"

namespace eigenq {

// Width of the field one code occupies in storage: 2, 3, 4, 8 or 16 bits.
inline int storage_bits(int bits) {
  if (bits <= 4) return bits < 2 ? 2 : bits;
  if (bits <= 8) return 8;
  return 16;
}

inline Index packed_bytes(Index count, int bits) {
  const int field = storage_bits(bits);
  if (field >= 8) return count * (field / 8);
  return (count / 8) * field + ((count % 8) * field + 7) / 8;  // no overflow of count * field
}

// Packs `count` codes into fields of `field` (2, 3 or 4) bits.
template <class Code>
void pack_codes(const Code* codes, Index count, int field, std::uint8_t* out) {
  const unsigned mask = (1u << field) - 1u;
  if (field == 2 || field == 4) {  // whole codes per byte: a simpler, faster loop
    const int per_byte = 8 / field;
    const Index full = count / per_byte;
    for (Index j = 0; j < full; ++j) {
      unsigned byte = 0;
      for (int k = 0; k < per_byte; ++k) byte |= (static_cast<unsigned>(codes[j * per_byte + k]) & mask) << (k * field);
      out[j] = static_cast<std::uint8_t>(byte);
    }
    if (full * per_byte < count) {
      unsigned byte = 0;
      for (Index k = 0; full * per_byte + k < count; ++k) {
        byte |= (static_cast<unsigned>(codes[full * per_byte + k]) & mask) << (k * field);
      }
      out[full] = static_cast<std::uint8_t>(byte);
    }
    return;
  }
  std::uint32_t acc = 0;  // pending bits, lowest first
  int pending = 0;
  Index j = 0;
  for (Index i = 0; i < count; ++i) {
    acc |= (static_cast<std::uint32_t>(codes[i]) & mask) << pending;
    pending += field;
    while (pending >= 8) {
      out[j++] = static_cast<std::uint8_t>(acc);
      acc >>= 8;
      pending -= 8;
    }
  }
  if (pending > 0) out[j] = static_cast<std::uint8_t>(acc);
}

// The code at index i of a packed stream, sign-extended for signed code types.
template <class Code>
Code unpack_code(const std::uint8_t* in, Index i, int field) {
  const Index bit = i * field;
  const Index byte = bit / 8;
  const int shift = static_cast<int>(bit % 8);
  unsigned v = in[byte] >> shift;
  if (shift + field > 8) v |= static_cast<unsigned>(in[byte + 1]) << (8 - shift);
  int code = static_cast<int>(v & ((1u << field) - 1u));
  if constexpr (std::is_signed_v<Code>) {
    const int sign = 1 << (field - 1);
    code = (code ^ sign) - sign;
  }
  return static_cast<Code>(code);
}

// Unpacks `count` codes; signed code types are sign-extended from the field.
template <class Code>
void unpack_codes(const std::uint8_t* in, Index count, int field, Code* out) {
  if (field == 2 || field == 4) {  // whole codes per byte
    const int per_byte = 8 / field;
    const int mask = (1 << field) - 1;
    const int sign = 1 << (field - 1);
    for (Index i = 0; i < count; ++i) {
      int v = (in[i / per_byte] >> ((i % per_byte) * field)) & mask;
      if constexpr (std::is_signed_v<Code>) v = (v ^ sign) - sign;
      out[i] = static_cast<Code>(v);
    }
    return;
  }
  for (Index i = 0; i < count; ++i) out[i] = unpack_code<Code>(in, i, field);
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
