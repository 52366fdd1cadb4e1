// Elementwise kernels, scalar path: the value-level definitions of arithmetic.hpp applied
// element by element, the reference every SIMD path equals bit for bit. It takes every input:
// the dispatching functions (elementwise.hpp) also send it what the SIMD paths do not take
// (zero points outside [qmin, qmax]).
//
// Run kernels: one parameter set for n contiguous values, or (the "_channels" kernels)
// element i using channel i's parameters, a row of a matrix quantized per column.
// int4: two codes a byte, code 2j in the low nibble of byte j, the last high nibble zero for an
// odd count: core/packing.hpp's 4-bit format (tests check these loops against it).
#pragma once

#include <cstdint>
#include <type_traits>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/dispatch.hpp"

namespace eigenq {
namespace kernels {

template <>
struct ElementwisePath<Isa::scalar> {
  template <class Code>
  static void quantize(const float* x, Index n, float factor, std::int32_t zero_point, CodeRange range,
                       Scaling scaling, Rounding rounding, Code* y) {
    for (Index i = 0; i < n; ++i) y[i] = quantize_value<Code>(x[i], factor, zero_point, range, scaling, rounding);
  }

  template <class Code>
  static void quantize_channels(const float* x, Index n, const float* factor, const std::int32_t* zero_point,
                                CodeRange range, Scaling scaling, Rounding rounding, Code* y) {
    for (Index i = 0; i < n; ++i) {
      y[i] = quantize_value<Code>(x[i], factor[i], zero_point[i], range, scaling, rounding);
    }
  }

  template <class Code>
  static void dequantize(const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
    for (Index i = 0; i < n; ++i) y[i] = dequantize_value(q[i], scale, zero_point);
  }

  template <class Code>
  static void dequantize_channels(const Code* q, Index n, const float* scale, const std::int32_t* zero_point,
                                  float* y) {
    for (Index i = 0; i < n; ++i) y[i] = dequantize_value(q[i], scale[i], zero_point[i]);
  }

  template <class Code>
  static void requantize_float(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                               CodeRange range, Code* y) {
    for (Index i = 0; i < n; ++i) y[i] = requantize_float_value<Code>(x[i], multiplier, zero_point, range);
  }

  template <class Code>
  static void requantize_float_channels(const std::int32_t* x, Index n, const float* multiplier,
                                        std::int32_t zero_point, CodeRange range, Code* y) {
    for (Index i = 0; i < n; ++i) y[i] = requantize_float_value<Code>(x[i], multiplier[i], zero_point, range);
  }

  template <class Code>
  static void requantize_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                     FixedPointRounding rounding, std::int32_t zero_point, CodeRange range, Code* y) {
    for (Index i = 0; i < n; ++i) y[i] = requantize_fixed_point_value<Code>(x[i], m, rounding, zero_point, range);
  }

  // Element i's multiplier is {multiplier[i], exponent[i]} (arrays, as the SIMD paths load them).
  template <class Code>
  static void requantize_fixed_point_channels(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                              const std::int32_t* exponent, FixedPointRounding rounding,
                                              std::int32_t zero_point, CodeRange range, Code* y) {
    for (Index i = 0; i < n; ++i) {
      const FixedPointMultiplier m{multiplier[i], exponent[i]};
      y[i] = requantize_fixed_point_value<Code>(x[i], m, rounding, zero_point, range);
    }
  }

  template <class Code>
  static void pack_int4(const Code* codes, Index n, std::uint8_t* packed) {
    const Index pairs = n / 2;
    for (Index j = 0; j < pairs; ++j) {
      const unsigned low = static_cast<unsigned>(codes[2 * j]) & 0xFu;
      const unsigned high = static_cast<unsigned>(codes[2 * j + 1]) & 0xFu;
      packed[j] = static_cast<std::uint8_t>(low | (high << 4));
    }
    if (n % 2 != 0) packed[pairs] = static_cast<std::uint8_t>(static_cast<unsigned>(codes[n - 1]) & 0xFu);
  }

  // Signed codes are sign-extended from their nibble.
  template <class Code>
  static void unpack_int4(const std::uint8_t* packed, Index n, Code* codes) {
    for (Index i = 0; i < n; ++i) {
      int v = (packed[i / 2] >> (4 * (i % 2))) & 0xF;
      if constexpr (std::is_signed_v<Code>) v = (v ^ 8) - 8;
      codes[i] = static_cast<Code>(v);
    }
  }
};

}  // namespace kernels
}  // namespace eigenq
