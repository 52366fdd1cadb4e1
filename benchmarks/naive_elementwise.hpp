// Elementwise loops as a user would write them, compiled with -O3 -march=native in
// naive_elementwise.cpp (see CMakeLists.txt): the "naive" baseline of bench_elementwise.cpp.
// They follow the frameworks' reference loops (PyTorch's quantize_val/dequantize_val and
// requantize, TFLite's single-rounding MultiplyByQuantizedMultiplier) and, like those, assume
// finite input. Only plain types cross this header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace eigenq_bench {

// clamp(nearbyint(x * (1 / scale)) + zero_point, -128, 127)
void naive_quantize_f32_s8(const float* x, std::size_t n, float scale, std::int32_t zero_point, std::int8_t* y);

// (float(q) - float(zero_point)) * scale
void naive_dequantize_s8_f32(const std::int8_t* q, std::size_t n, float scale, std::int32_t zero_point, float* y);

// clamp(nearbyint(float(x) * multiplier) + zero_point, -128, 127)
void naive_requantize_s32_s8_float(const std::int32_t* x, std::size_t n, float multiplier, std::int32_t zero_point,
                                   std::int8_t* y);

// clamp(((int64(x) * multiplier + 2^(shift - 1)) >> shift) + zero_point, -128, 127), shift = 31 - exponent
void naive_requantize_s32_s8_fixed_point(const std::int32_t* x, std::size_t n, std::int32_t multiplier, int exponent,
                                         std::int32_t zero_point, std::int8_t* y);

// Two codes a byte, low nibble first.
void naive_pack_s8_s4(const std::int8_t* codes, std::size_t n, std::uint8_t* packed);

}  // namespace eigenq_bench
