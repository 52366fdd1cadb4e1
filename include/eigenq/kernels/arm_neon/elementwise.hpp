// Elementwise kernels, AArch64 Advanced SIMD (neon_dotprod path): the loops of
// generic/elementwise-inl.hpp on this folder's vector primitives, plus the int4 blocks.
// Bit-identical to the scalar path.
#pragma once

#include "eigenq/kernels/isa.hpp"

#if defined(EIGENQ_HAVE_NEON_DOTPROD)

#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/arm_neon/vector.hpp"

namespace eigenq::kernels::arm_neon {

// ---- int4: 32 codes <-> 16 bytes ---------------------------------------------------------------
// ld2/st2 (de)interleave even and odd codes; sli puts the odd code in the high nibble and keeps
// the even code's low nibble.

constexpr Index int4_block = 32;

template <class Code>
EIGENQ_TARGET_NEON_DOTPROD EIGENQ_ALWAYS_INLINE void pack_int4_block(const Code* codes, std::uint8_t* packed) {
  const uint8x16x2_t pairs = vld2q_u8(reinterpret_cast<const std::uint8_t*>(codes));
  vst1q_u8(packed, vsliq_n_u8(pairs.val[0], pairs.val[1], 4));
}

template <class Code>
EIGENQ_TARGET_NEON_DOTPROD EIGENQ_ALWAYS_INLINE void unpack_int4_block(const std::uint8_t* packed, Code* codes) {
  const uint8x16_t b = vld1q_u8(packed);
  uint8x16x2_t pairs;
  if constexpr (std::is_signed_v<Code>) {
    const int8x16_t s = vreinterpretq_s8_u8(b);
    pairs.val[0] = vreinterpretq_u8_s8(vshrq_n_s8(vshlq_n_s8(s, 4), 4));  // sign-extend the low nibble
    pairs.val[1] = vreinterpretq_u8_s8(vshrq_n_s8(s, 4));
  } else {
    pairs.val[0] = vandq_u8(b, vdupq_n_u8(0x0F));
    pairs.val[1] = vshrq_n_u8(b, 4);
  }
  vst2q_u8(reinterpret_cast<std::uint8_t*>(codes), pairs);
}

}  // namespace eigenq::kernels::arm_neon

#define EIGENQ_GENERIC_ISA neon_dotprod
#define EIGENQ_GENERIC_NAMESPACE arm_neon
#define EIGENQ_TARGET EIGENQ_TARGET_NEON_DOTPROD
#include "eigenq/kernels/generic/elementwise-inl.hpp"

#endif  // EIGENQ_HAVE_NEON_DOTPROD
