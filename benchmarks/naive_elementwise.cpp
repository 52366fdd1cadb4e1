// Plain loops for bench_elementwise.cpp, compiled with -O3 -march=native (see naive_elementwise.hpp).
#include "naive_elementwise.hpp"

#include <algorithm>
#include <cmath>

namespace eigenq_bench {

void naive_quantize_f32_s8(const float* x, std::size_t n, float scale, std::int32_t zero_point, std::int8_t* y) {
  const float inverse = 1.0f / scale;
  for (std::size_t i = 0; i < n; ++i) {
    const auto q = static_cast<std::int32_t>(std::nearbyint(x[i] * inverse)) + zero_point;
    y[i] = static_cast<std::int8_t>(std::min(127, std::max(-128, q)));
  }
}

void naive_dequantize_s8_f32(const std::int8_t* q, std::size_t n, float scale, std::int32_t zero_point, float* y) {
  const auto zp = static_cast<float>(zero_point);
  for (std::size_t i = 0; i < n; ++i) y[i] = (static_cast<float>(q[i]) - zp) * scale;
}

void naive_requantize_s32_s8_float(const std::int32_t* x, std::size_t n, float multiplier, std::int32_t zero_point,
                                   std::int8_t* y) {
  for (std::size_t i = 0; i < n; ++i) {
    const auto q = static_cast<std::int32_t>(std::nearbyint(static_cast<float>(x[i]) * multiplier)) + zero_point;
    y[i] = static_cast<std::int8_t>(std::min(127, std::max(-128, q)));
  }
}

void naive_requantize_s32_s8_fixed_point(const std::int32_t* x, std::size_t n, std::int32_t multiplier, int exponent,
                                         std::int32_t zero_point, std::int8_t* y) {
  const int shift = 31 - exponent;
  const std::int64_t round = std::int64_t{1} << (shift - 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t q = ((std::int64_t{x[i]} * multiplier + round) >> shift) + zero_point;
    y[i] = static_cast<std::int8_t>(std::min<std::int64_t>(127, std::max<std::int64_t>(-128, q)));
  }
}

void naive_pack_s8_s4(const std::int8_t* codes, std::size_t n, std::uint8_t* packed) {
  for (std::size_t j = 0; j < n / 2; ++j) {
    packed[j] = static_cast<std::uint8_t>((codes[2 * j] & 0x0F) | ((codes[2 * j + 1] & 0x0F) << 4));
  }
  if (n % 2 != 0) packed[n / 2] = static_cast<std::uint8_t>(codes[n - 1] & 0x0F);
}

}  // namespace eigenq_bench
