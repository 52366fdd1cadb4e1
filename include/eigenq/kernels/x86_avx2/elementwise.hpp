// Elementwise kernels, AVX2 + FMA path: the loops of generic/elementwise-inl.hpp on this
// folder's vector primitives, plus the int4 blocks. Bit-identical to the scalar path.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/x86_avx2/vector.hpp"

namespace eigenq::kernels::x86_avx2 {

// ---- int4 (two codes a byte, low nibble first) ----------------------------------------------

constexpr Index int4_block = 64;  // codes per pack_int4_block / unpack_int4_block

// 64 codes -> 32 bytes: word j = code 2j | code 2j+1 << 8 -> byte (code 2j & 15) | (code 2j+1 & 15) << 4.
template <class Code>
EIGENQ_TARGET_AVX2 EIGENQ_ALWAYS_INLINE void pack_int4_block(const Code* codes, std::uint8_t* packed) {
  const I32 low_nibble = _mm256_set1_epi16(0x000F);
  const I32 high_nibble = _mm256_set1_epi16(0x00F0);
  const I32 a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes));
  const I32 b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32));
  const I32 pa =
      _mm256_or_si256(_mm256_and_si256(a, low_nibble), _mm256_and_si256(_mm256_srli_epi16(a, 4), high_nibble));
  const I32 pb =
      _mm256_or_si256(_mm256_and_si256(b, low_nibble), _mm256_and_si256(_mm256_srli_epi16(b, 4), high_nibble));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed), _mm256_permute4x64_epi64(_mm256_packus_epi16(pa, pb), 0xD8));
}

// 32 bytes -> 64 codes: each byte widened to a word, its high nibble moved to the word's high
// byte; signed codes sign-extended from 4 bits.
template <class Code>
EIGENQ_TARGET_AVX2 EIGENQ_ALWAYS_INLINE void unpack_int4_block(const std::uint8_t* packed, Code* codes) {
  const I32 low = _mm256_set1_epi16(0x000F);
  const I32 high = _mm256_set1_epi16(0x0F00);
  const I32 eight = _mm256_set1_epi8(8);
  for (int half = 0; half < 2; ++half) {
    const I32 w = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + 16 * half)));
    I32 v = _mm256_or_si256(_mm256_and_si256(w, low), _mm256_and_si256(_mm256_slli_epi16(w, 4), high));
    if constexpr (std::is_signed_v<Code>) v = _mm256_sub_epi8(_mm256_xor_si256(v, eight), eight);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + 32 * half), v);
  }
}

}  // namespace eigenq::kernels::x86_avx2

#define EIGENQ_GENERIC_ISA avx2
#define EIGENQ_GENERIC_NAMESPACE x86_avx2
#define EIGENQ_TARGET EIGENQ_TARGET_AVX2
#include "eigenq/kernels/generic/elementwise-inl.hpp"

#endif  // EIGENQ_HAVE_AVX2
