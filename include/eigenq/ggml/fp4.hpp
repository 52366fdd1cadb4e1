// 4-bit floats (E2M1: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives) with a
// shared power-of-two or small-float scale, as ggml stores them:
//   mxfp4  OCP microscaling: 32 elements, one E8M0 exponent chosen as
//          floor(log2(amax)) - 2, so the largest value lands near the top code
//   nvfp4  64 elements in 4 groups of 16, each with a UE4M3 scale amax / 6
// Each element takes the code of least absolute error (the first on ties).
// ggml ignores importance weights for both.
#pragma once

#include <cmath>
#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

// The E2M1 code nearest to x for the (halved) scale e; a NaN gives code 0.
inline std::uint8_t nearest_e2m1(float x, float e) {
  int best_index = 0;
  float best_err = std::fabs(static_cast<float>(kE2M1Doubled[0]) * e - x);
  for (int i = 1; i < 16; ++i) {
    const float err = std::fabs(static_cast<float>(kE2M1Doubled[i]) * e - x);
    if (err < best_err) {
      best_index = i;
      best_err = err;
    }
  }
  return static_cast<std::uint8_t>(best_index);
}

inline float absmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) amax = std::fabs(x[j]);
  }
  return amax;
}

}  // namespace detail

// ---- mxfp4 ------------------------------------------------------------------

// ggml's E8M0 exponent for a block whose largest magnitude is amax. log2f is
// the C library's (glibc's, for the oracle); only its floor matters.
inline std::uint8_t mxfp4_exponent(float amax) {
  if (!(amax > 0.0f)) return 0;
  const float e = std::floor(std::log2(amax)) - 2 + 127;
  return truncate_u8(e);  // ggml casts to uint8: wraps for tiny amax, 0 for inf
}

inline void quantize_row_mxfp4(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const float* xb = x + 32 * i;
    BlockMXFP4 b{};
    b.e = mxfp4_exponent(detail::absmax(xb, 32));
    const float d = e8m0_to_fp32_half(b.e);
    for (int j = 0; j < 16; ++j) {
      b.qs[j] = static_cast<std::uint8_t>(detail::nearest_e2m1(xb[j], d) | (detail::nearest_e2m1(xb[j + 16], d) << 4));
    }
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_mxfp4(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 32; ++i) {
    const auto b = detail::get_block<BlockMXFP4>(src, i);
    const float d = e8m0_to_fp32_half(b.e);
    std::uint8_t q[32];
    unpack_nibbles_32(b.qs, q);
    for (int j = 0; j < 32; ++j) y[32 * i + j] = static_cast<float>(kE2M1Doubled[q[j]]) * d;
  }
}

// ---- nvfp4 ------------------------------------------------------------------

inline void quantize_row_nvfp4(const float* x, void* dst, Index n) {
  for (Index i = 0; i < n / 64; ++i) {
    BlockNVFP4 b{};
    for (int s = 0; s < 4; ++s) {
      const float* xb = x + 64 * i + 16 * s;
      b.d[s] = fp32_to_ue4m3(detail::absmax(xb, 16) / 6.0f);
      const float d = ue4m3_to_fp32_half(b.d[s]);
      for (int j = 0; j < 8; ++j) {
        b.qs[8 * s + j] =
            static_cast<std::uint8_t>(detail::nearest_e2m1(xb[j], d) | (detail::nearest_e2m1(xb[j + 8], d) << 4));
      }
    }
    detail::put_block(dst, i, b);
  }
}

inline void dequantize_row_nvfp4(const void* src, float* y, Index n) {
  for (Index i = 0; i < n / 64; ++i) {
    const auto b = detail::get_block<BlockNVFP4>(src, i);
    for (int s = 0; s < 4; ++s) {
      const float d = ue4m3_to_fp32_half(b.d[s]);
      float* yb = y + 64 * i + 16 * s;
      for (int j = 0; j < 8; ++j) {
        yb[j] = static_cast<float>(kE2M1Doubled[b.qs[8 * s + j] & 0xF]) * d;
        yb[j + 8] = static_cast<float>(kE2M1Doubled[b.qs[8 * s + j] >> 4]) * d;
      }
    }
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
