// The byte layout of every ggml block we read and write. Each block is plain
// bytes (multi-byte fields little-endian, as GGUF stores them), so a block's
// size is exactly its ggml type size and the code is endian-neutral. The
// quantizers fill a block in a local variable and copy it out; nothing is
// accessed through a pointer cast. docs/gguf.md describes each layout.
#pragma once

#include <cstdint>

#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

// (The helpers sit in the strict-FP region only so that GCC inlines them into
// the quantizers, which all carry its optimize attribute.)
EIGENQ_GGML_STRICT_FP_BEGIN

inline constexpr int kSuperBlock = 256;  // elements per k-quant / iq4_xs / ternary block (QK_K)

inline void store_le16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v & 0xFFu);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

inline std::uint16_t load_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

// The 32 nibbles of a q4_0 / iq4_nl block's 16 bytes in element order: element j < 16 is the
// low nibble of byte j, element j + 16 its high nibble.
inline void unpack_nibbles_32(const std::uint8_t* qs, std::uint8_t* nibbles) {
  for (int j = 0; j < 16; ++j) {
    nibbles[j] = static_cast<std::uint8_t>(qs[j] & 0x0F);
    nibbles[j + 16] = static_cast<std::uint8_t>(qs[j] >> 4);
  }
}

// The 256 nibbles of a q4_K / q5_K block's 128 bytes qs in element order: element e is a nibble
// of byte 32 (e / 64) + e % 32, the low one when e % 64 < 32.
inline void unpack_nibbles_k(const std::uint8_t* qs, std::uint8_t* nibbles) {
  for (int e = 0; e < kSuperBlock; ++e) {
    const std::uint8_t byte = qs[32 * (e / 64) + e % 32];
    nibbles[e] = static_cast<std::uint8_t>(e % 64 < 32 ? byte & 0x0F : byte >> 4);
  }
}

inline void store_le32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>((v >> (8 * i)) & 0xFFu);
}

inline std::uint32_t load_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

EIGENQ_GGML_STRICT_FP_END

// 32 elements, codes 0..15 meaning (q - 8) * d. Byte j: element j low nibble, j + 16 high.
struct BlockQ4_0 {
  std::uint8_t d[2];  // fp16 scale
  std::uint8_t qs[16];
};

// 32 elements, codes 0..15 meaning q * d + m.
struct BlockQ4_1 {
  std::uint8_t d[2];  // fp16 scale
  std::uint8_t m[2];  // fp16 offset (the block minimum)
  std::uint8_t qs[16];
};

// 32 elements, 5-bit codes meaning (q - 16) * d: low nibbles as Q4_0, bit 4 of element j is bit j of qh.
struct BlockQ5_0 {
  std::uint8_t d[2];
  std::uint8_t qh[4];  // little-endian uint32
  std::uint8_t qs[16];
};

// 32 elements, 5-bit codes meaning q * d + m.
struct BlockQ5_1 {
  std::uint8_t d[2];
  std::uint8_t m[2];
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};

// 32 elements, int8 codes meaning q * d.
struct BlockQ8_0 {
  std::uint8_t d[2];
  std::int8_t qs[32];
};

// 256 elements in 16 groups of 16; 2-bit codes meaning d*sc*q - dmin*m, sc and m 4-bit per group.
struct BlockQ2_K {
  std::uint8_t scales[16];  // low nibble: scale, high nibble: min
  std::uint8_t qs[64];
  std::uint8_t d[2];
  std::uint8_t dmin[2];
};

// 256 elements in 16 groups of 16; 3-bit codes (2 low bits in qs, high bit in hmask)
// meaning d * (sc - 32) * (q - 4), sc 6-bit per group.
struct BlockQ3_K {
  std::uint8_t hmask[32];
  std::uint8_t qs[64];
  std::uint8_t scales[12];
  std::uint8_t d[2];
};

// 256 elements in 8 groups of 32; 4-bit codes meaning d*sc*q - dmin*m, sc and m 6-bit per group.
struct BlockQ4_K {
  std::uint8_t d[2];
  std::uint8_t dmin[2];
  std::uint8_t scales[12];
  std::uint8_t qs[128];
};

// As Q4_K with a fifth bit per code in qh.
struct BlockQ5_K {
  std::uint8_t d[2];
  std::uint8_t dmin[2];
  std::uint8_t scales[12];
  std::uint8_t qh[32];
  std::uint8_t qs[128];
};

// 256 elements in 16 groups of 16; 6-bit codes meaning d * sc * (q - 32), sc int8 per group.
struct BlockQ6_K {
  std::uint8_t ql[128];
  std::uint8_t qh[64];
  std::int8_t scales[16];
  std::uint8_t d[2];
};

// 32 elements, 4-bit indices into the fixed non-linear table kIQ4Values, times d.
struct BlockIQ4_NL {
  std::uint8_t d[2];
  std::uint8_t qs[16];
};

// 256 elements in 8 groups of 32; kIQ4Values indices, 6-bit group scales (sc - 32) times d.
struct BlockIQ4_XS {
  std::uint8_t d[2];
  std::uint8_t scales_h[2];  // little-endian uint16: bits 4-5 of each group scale
  std::uint8_t scales_l[4];  // bits 0-3 of the group scales, two per byte
  std::uint8_t qs[128];
};

// 256 ternary elements (-1, 0, 1) * d, base-3 packed: 5 per byte in qs, 4 per byte in qh.
struct BlockTQ1_0 {
  std::uint8_t qs[48];
  std::uint8_t qh[4];
  std::uint8_t d[2];
};

// 256 ternary elements, 2 bits each (code - 1) * d.
struct BlockTQ2_0 {
  std::uint8_t qs[64];
  std::uint8_t d[2];
};

// 32 E2M1 elements sharing one E8M0 exponent.
struct BlockMXFP4 {
  std::uint8_t e;
  std::uint8_t qs[16];
};

// 64 E2M1 elements in 4 groups of 16, each with a UE4M3 scale.
struct BlockNVFP4 {
  std::uint8_t d[4];
  std::uint8_t qs[32];
};

// 128 elements stored as their sign bits, times d (the mean absolute value).
struct BlockQ1_0 {
  std::uint8_t d[2];
  std::uint8_t qs[16];
};

// 64 elements, 2-bit codes meaning (q - 1) * d.
struct BlockQ2_0 {
  std::uint8_t d[2];
  std::uint8_t qs[16];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
                  sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34,
              "legacy block sizes");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
                  sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
              "k-quant block sizes");
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136, "iq4 block sizes");
static_assert(sizeof(BlockTQ1_0) == 54 && sizeof(BlockTQ2_0) == 66, "ternary block sizes");
static_assert(sizeof(BlockMXFP4) == 17 && sizeof(BlockNVFP4) == 36, "fp4 block sizes");
static_assert(sizeof(BlockQ1_0) == 18 && sizeof(BlockQ2_0) == 18, "q1_0 / q2_0 block sizes");

}  // namespace ggml
}  // namespace eigenq
