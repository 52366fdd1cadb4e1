// Elementwise kernels, avx512 path (work in progress: forwards to the scalar reference).
#pragma once

#include <cstdint>

#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"

#if defined(EIGENQ_HAVE_AVX512)
namespace eigenq {
namespace kernels {

template <class Code>
void quantize_f32_avx512(const float* x, Index n, float factor, std::int32_t zero_point, CodeRange range,
                      QuantizeRounding rounding, Code* y) {
  quantize_f32_scalar(x, n, factor, zero_point, range, rounding, y);
}
template <class Code>
void quantize_f32_channels_avx512(const float* x, Index n, const float* factor,
                               const std::int32_t* zero_point, CodeRange range,
                               QuantizeRounding rounding, Code* y) {
  quantize_f32_channels_scalar(x, n, factor, zero_point, range, rounding, y);
}
template <class Code>
void dequantize_f32_avx512(const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
  dequantize_f32_scalar(q, n, scale, zero_point, y);
}
template <class Code>
void dequantize_f32_channels_avx512(const Code* q, Index n, const float* scale,
                                 const std::int32_t* zero_point, float* y) {
  dequantize_f32_channels_scalar(q, n, scale, zero_point, y);
}
template <class Code>
void requantize_fp32_avx512(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                         CodeRange range, Code* y) {
  requantize_fp32_scalar(x, n, multiplier, zero_point, range, y);
}
template <class Code>
void requantize_fp32_channels_avx512(const std::int32_t* x, Index n, const float* multiplier,
                                  std::int32_t zero_point, CodeRange range, Code* y) {
  requantize_fp32_channels_scalar(x, n, multiplier, zero_point, range, y);
}
template <class Code>
void requantize_fixedpoint_avx512(const std::int32_t* x, Index n, QuantizedMultiplier m,
                               RequantRounding rounding, std::int32_t zero_point, CodeRange range,
                               Code* y) {
  requantize_fixedpoint_scalar(x, n, m, rounding, zero_point, range, y);
}
template <class Code>
void requantize_fixedpoint_channels_avx512(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                        const std::int32_t* exponent, RequantRounding rounding,
                                        std::int32_t zero_point, CodeRange range, Code* y) {
  requantize_fixedpoint_channels_scalar(x, n, multiplier, exponent, rounding, zero_point, range, y);
}
template <class Code>
void pack4_avx512(const Code* codes, Index n, std::uint8_t* packed) {
  pack_codes(codes, n, 4, packed);
}
template <class Code>
void unpack4_avx512(const std::uint8_t* packed, Index n, Code* codes) {
  unpack_codes(packed, n, 4, codes);
}

}  // namespace kernels
}  // namespace eigenq
#endif
