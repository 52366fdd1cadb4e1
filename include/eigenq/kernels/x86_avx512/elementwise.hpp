// Elementwise kernels, AVX-512 (F, BW, VL, DQ) path: the loops of generic/elementwise-inl.hpp
// on this folder's vector primitives (tails under masks), plus the int4 blocks. The
// avx512vnni path runs them too: VNNI adds nothing to elementwise code. Bit-identical to the
// scalar path.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_AVX512)

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/x86_avx512/vector.hpp"


EIGENQ_AVX512_DIAGNOSTICS_BEGIN

namespace eigenq::kernels::x86_avx512 {

// ---- int4: 64 codes <-> 32 bytes, code 2j in the low nibble of byte j -----------------------

constexpr Index int4_block = 64;

template <class Code>
EIGENQ_TARGET_AVX512 EIGENQ_ALWAYS_INLINE void pack_int4_block(const Code* codes, std::uint8_t* packed) {
  // Word j = code 2j | code 2j+1 << 8 -> (code 2j & 15) | (code 2j+1 & 15) << 4, then words to bytes.
  const I32 w = _mm512_loadu_si512(codes);
  const I32 bytes = _mm512_or_si512(_mm512_and_si512(w, _mm512_set1_epi16(0x000F)),
                                    _mm512_and_si512(_mm512_srli_epi16(w, 4), _mm512_set1_epi16(0x00F0)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(packed), _mm512_cvtepi16_epi8(bytes));
}

template <class Code>
EIGENQ_TARGET_AVX512 EIGENQ_ALWAYS_INLINE void unpack_int4_block(const std::uint8_t* packed, Code* codes) {
  const I32 w = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(packed)));
  I32 v = _mm512_or_si512(_mm512_and_si512(w, _mm512_set1_epi16(0x000F)),
                          _mm512_and_si512(_mm512_slli_epi16(w, 4), _mm512_set1_epi16(0x0F00)));
  if constexpr (std::is_signed_v<Code>) {
    const I32 eight = _mm512_set1_epi8(8);
    v = _mm512_sub_epi8(_mm512_xor_si512(v, eight), eight);  // sign-extend 4 bits
  }
  _mm512_storeu_si512(codes, v);
}

}  // namespace eigenq::kernels::x86_avx512

#define EIGENQ_GENERIC_ISA avx512
#define EIGENQ_GENERIC_NAMESPACE x86_avx512
#define EIGENQ_TARGET EIGENQ_TARGET_AVX512
#include "eigenq/kernels/generic/elementwise-inl.hpp"

namespace eigenq::kernels {
template <>
struct ElementwisePath<Isa::avx512vnni> : ElementwisePath<Isa::avx512> {};
}  // namespace eigenq::kernels

EIGENQ_AVX512_DIAGNOSTICS_END

#endif  // EIGENQ_HAVE_AVX512
