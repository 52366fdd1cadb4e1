// Elementwise kernels behind run-time dispatch: quantize f32 -> s8/u8, dequantize s8/u8 -> f32,
// requantize s32 -> s8/u8 (float or fixed-point multiplier), int4 pack/unpack.
//
// Each function checks its arguments, then runs the path active_isa() names (isa.hpp);
// every path gives the same bits as the scalar reference (scalar/elementwise.hpp, which
// states the formulas). Granularities:
//   f(x, n, ...)                          one parameter set for n contiguous values;
//   f_rows(x, rows, cols, ldx, ...)       row-major block, one parameter set per row;
//   f_cols(x, rows, cols, ldx, ...)       row-major block, one parameter set per column.
// ldx/ldy are leading dimensions (elements between row starts), >= cols. Requantization
// has per-row/per-column multipliers and one output zero point, as the frameworks do.
// A zero point outside [qmin, qmax] is legal (Linear maps NaN to it, unclamped) and takes
// the scalar path; every other input, NaN and Inf included, runs SIMD.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"

#if defined(EIGENQ_HAVE_AVX2)
#include "eigenq/kernels/x86_avx2/elementwise.hpp"
#endif
#if defined(EIGENQ_HAVE_AVX512)
#include "eigenq/kernels/x86_avx512/elementwise.hpp"
#endif
#if defined(EIGENQ_HAVE_NEON)
#include "eigenq/kernels/arm_neon/elementwise.hpp"
#endif

namespace eigenq {
namespace kernels {
namespace detail {

// The elementwise path of an ISA: VNNI adds nothing to elementwise code.
enum class ElementwisePath { scalar, avx2, avx512, neon };

inline ElementwisePath elementwise_path() {
  switch (active_isa()) {
#if defined(EIGENQ_HAVE_AVX2)
    case Isa::avx2: return ElementwisePath::avx2;
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case Isa::avx512:
    case Isa::avx512vnni: return ElementwisePath::avx512;
#endif
#if defined(EIGENQ_HAVE_NEON)
    case Isa::neon: return ElementwisePath::neon;
#endif
    default: return ElementwisePath::scalar;
  }
}

// Per-column constants (reciprocal scales, multipliers) are prepared this many columns at a
// time on the stack, so the per-column entry points never allocate.
constexpr Index column_block = 256;

inline void check_count(const char* fn, const char* what, Index value) {
  if (value < 0) raise(fn, ": ", what, " = ", value, " must be >= 0");
}

inline void check_pointer(const char* fn, const char* what, const void* p, Index count) {
  if (count > 0 && p == nullptr) raise(fn, ": ", what, " is null but ", count, " elements are to be used");
}

inline void check_block(const char* fn, Index rows, Index cols, Index ldx, Index ldy) {
  check_count(fn, "rows", rows);
  check_count(fn, "cols", cols);
  if (ldx < cols) raise(fn, ": ldx = ", ldx, " is smaller than cols = ", cols);
  if (ldy < cols) raise(fn, ": ldy = ", ldy, " is smaller than cols = ", cols);
}

template <class Code>
void check_code_range(const char* fn, CodeRange range) {
  constexpr CodeRange full = full_range<Code>();
  if (range.qmin > range.qmax || range.qmin < full.qmin || range.qmax > full.qmax) {
    raise(fn, ": code range [", range.qmin, ", ", range.qmax, "] is empty or outside the code type's [",
          full.qmin, ", ", full.qmax, "]");
  }
}

inline bool contains(CodeRange range, std::int32_t v) { return v >= range.qmin && v <= range.qmax; }

inline void check_multiplier(const char* fn, QuantizedMultiplier m, Index channel) {
  if (m.multiplier < 0 || m.exponent < -31 || m.exponent > 30) {
    if (channel < 0) {
      raise(fn, ": fixed-point multiplier {", m.multiplier, ", exponent ", m.exponent,
            "} needs multiplier >= 0 and exponent in [-31, 30] (see quantize_multiplier)");
    }
    raise(fn, ": fixed-point multiplier of channel ", channel, " {", m.multiplier, ", exponent ",
          m.exponent, "} needs multiplier >= 0 and exponent in [-31, 30] (see quantize_multiplier)");
  }
}

// ---- quantize --------------------------------------------------------------------------

template <class Code>
void quantize_run(const float* x, Index n, float factor, std::int32_t zero_point, CodeRange range,
                  QuantizeRounding rounding, Code* y) {
  if (n == 0) return;
  if (contains(range, zero_point)) {
    switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
      case ElementwisePath::avx2: return quantize_f32_avx2(x, n, factor, zero_point, range, rounding, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
      case ElementwisePath::avx512:
        return quantize_f32_avx512(x, n, factor, zero_point, range, rounding, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
      case ElementwisePath::neon: return quantize_f32_neon(x, n, factor, zero_point, range, rounding, y);
#endif
      default: break;
    }
  }
  quantize_f32_scalar(x, n, factor, zero_point, range, rounding, y);
}

// Element i uses factor[i] and zero_point[i], all zero points inside the range.
template <class Code>
void quantize_channels_run(const float* x, Index n, const float* factor, const std::int32_t* zero_point,
                           CodeRange range, QuantizeRounding rounding, Code* y) {
  switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
    case ElementwisePath::avx2:
      return quantize_f32_channels_avx2(x, n, factor, zero_point, range, rounding, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case ElementwisePath::avx512:
      return quantize_f32_channels_avx512(x, n, factor, zero_point, range, rounding, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
    case ElementwisePath::neon:
      return quantize_f32_channels_neon(x, n, factor, zero_point, range, rounding, y);
#endif
    default: return quantize_f32_channels_scalar(x, n, factor, zero_point, range, rounding, y);
  }
}

template <class Code>
void quantize(const char* fn, const float* x, Index n, float scale, std::int32_t zero_point,
              CodeRange range, QuantizeRounding rounding, Code* y) {
  check_count(fn, "n", n);
  check_pointer(fn, "x", x, n);
  check_pointer(fn, "y", y, n);
  check_code_range<Code>(fn, range);
  quantize_run(x, n, quantize_factor(scale, rounding), zero_point, range, rounding, y);
}

template <class Code>
void quantize_rows(const char* fn, const float* x, Index rows, Index cols, Index ldx,
                   const float* scale, const std::int32_t* zero_point, CodeRange range,
                   QuantizeRounding rounding, Code* y, Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "scale", scale, rows);
  check_pointer(fn, "zero_point", zero_point, rows);
  for (Index r = 0; r < rows; ++r) {
    quantize_run(x + r * ldx, cols, quantize_factor(scale[r], rounding), zero_point[r], range,
                 rounding, y + r * ldy);
  }
}

template <class Code>
void quantize_cols(const char* fn, const float* x, Index rows, Index cols, Index ldx,
                   const float* scale, const std::int32_t* zero_point, CodeRange range,
                   QuantizeRounding rounding, Code* y, Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "scale", scale, cols);
  check_pointer(fn, "zero_point", zero_point, cols);
  float factor[column_block];
  for (Index c0 = 0; c0 < cols; c0 += column_block) {
    const Index nc = std::min(column_block, cols - c0);
    bool zero_points_inside = true;
    for (Index c = 0; c < nc; ++c) {
      factor[c] = quantize_factor(scale[c0 + c], rounding);
      zero_points_inside = zero_points_inside && contains(range, zero_point[c0 + c]);
    }
    for (Index r = 0; r < rows; ++r) {
      const float* xr = x + r * ldx + c0;
      Code* yr = y + r * ldy + c0;
      if (zero_points_inside) quantize_channels_run(xr, nc, factor, zero_point + c0, range, rounding, yr);
      else quantize_f32_channels_scalar(xr, nc, factor, zero_point + c0, range, rounding, yr);
    }
  }
}

// ---- dequantize ------------------------------------------------------------------------

template <class Code>
void dequantize_run(const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
  if (n == 0) return;
  switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
    case ElementwisePath::avx2: return dequantize_f32_avx2(q, n, scale, zero_point, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case ElementwisePath::avx512: return dequantize_f32_avx512(q, n, scale, zero_point, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
    case ElementwisePath::neon: return dequantize_f32_neon(q, n, scale, zero_point, y);
#endif
    default: return dequantize_f32_scalar(q, n, scale, zero_point, y);
  }
}

template <class Code>
void dequantize_channels_run(const Code* q, Index n, const float* scale, const std::int32_t* zero_point,
                             float* y) {
  switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
    case ElementwisePath::avx2: return dequantize_f32_channels_avx2(q, n, scale, zero_point, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case ElementwisePath::avx512: return dequantize_f32_channels_avx512(q, n, scale, zero_point, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
    case ElementwisePath::neon: return dequantize_f32_channels_neon(q, n, scale, zero_point, y);
#endif
    default: return dequantize_f32_channels_scalar(q, n, scale, zero_point, y);
  }
}

template <class Code>
void dequantize(const char* fn, const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
  check_count(fn, "n", n);
  check_pointer(fn, "q", q, n);
  check_pointer(fn, "y", y, n);
  dequantize_run(q, n, scale, zero_point, y);
}

template <class Code>
void dequantize_rows(const char* fn, const Code* q, Index rows, Index cols, Index ldq,
                     const float* scale, const std::int32_t* zero_point, float* y, Index ldy) {
  check_block(fn, rows, cols, ldq, ldy);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "q", q, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "scale", scale, rows);
  check_pointer(fn, "zero_point", zero_point, rows);
  for (Index r = 0; r < rows; ++r) dequantize_run(q + r * ldq, cols, scale[r], zero_point[r], y + r * ldy);
}

template <class Code>
void dequantize_cols(const char* fn, const Code* q, Index rows, Index cols, Index ldq,
                     const float* scale, const std::int32_t* zero_point, float* y, Index ldy) {
  check_block(fn, rows, cols, ldq, ldy);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "q", q, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "scale", scale, cols);
  check_pointer(fn, "zero_point", zero_point, cols);
  for (Index r = 0; r < rows; ++r) dequantize_channels_run(q + r * ldq, cols, scale, zero_point, y + r * ldy);
}

// ---- requantize with a float multiplier ------------------------------------------------

template <class Code>
void requantize_fp32_run(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                         CodeRange range, Code* y) {
  if (n == 0) return;
  if (contains(range, zero_point)) {
    switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
      case ElementwisePath::avx2: return requantize_fp32_avx2(x, n, multiplier, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
      case ElementwisePath::avx512: return requantize_fp32_avx512(x, n, multiplier, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
      case ElementwisePath::neon: return requantize_fp32_neon(x, n, multiplier, zero_point, range, y);
#endif
      default: break;
    }
  }
  requantize_fp32_scalar(x, n, multiplier, zero_point, range, y);
}

template <class Code>
void requantize_fp32_channels_run(const std::int32_t* x, Index n, const float* multiplier,
                                  std::int32_t zero_point, CodeRange range, Code* y) {
  if (contains(range, zero_point)) {
    switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
      case ElementwisePath::avx2:
        return requantize_fp32_channels_avx2(x, n, multiplier, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
      case ElementwisePath::avx512:
        return requantize_fp32_channels_avx512(x, n, multiplier, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
      case ElementwisePath::neon:
        return requantize_fp32_channels_neon(x, n, multiplier, zero_point, range, y);
#endif
      default: break;
    }
  }
  requantize_fp32_channels_scalar(x, n, multiplier, zero_point, range, y);
}

template <class Code>
void requantize_fp32(const char* fn, const std::int32_t* x, Index n, float multiplier,
                     std::int32_t zero_point, CodeRange range, Code* y) {
  check_count(fn, "n", n);
  check_pointer(fn, "x", x, n);
  check_pointer(fn, "y", y, n);
  check_code_range<Code>(fn, range);
  requantize_fp32_run(x, n, multiplier, zero_point, range, y);
}

template <class Code>
void requantize_fp32_rows(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                          const float* multiplier, std::int32_t zero_point, CodeRange range, Code* y,
                          Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "multiplier", multiplier, rows);
  for (Index r = 0; r < rows; ++r) {
    requantize_fp32_run(x + r * ldx, cols, multiplier[r], zero_point, range, y + r * ldy);
  }
}

template <class Code>
void requantize_fp32_cols(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                          const float* multiplier, std::int32_t zero_point, CodeRange range, Code* y,
                          Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "multiplier", multiplier, cols);
  for (Index r = 0; r < rows; ++r) {
    requantize_fp32_channels_run(x + r * ldx, cols, multiplier, zero_point, range, y + r * ldy);
  }
}

// ---- requantize with a fixed-point multiplier ------------------------------------------

template <class Code>
void requantize_fixedpoint_run(const std::int32_t* x, Index n, QuantizedMultiplier m,
                               RequantRounding rounding, std::int32_t zero_point, CodeRange range,
                               Code* y) {
  if (n == 0) return;
  if (contains(range, zero_point)) {
    switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
      case ElementwisePath::avx2:
        return requantize_fixedpoint_avx2(x, n, m, rounding, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
      case ElementwisePath::avx512:
        return requantize_fixedpoint_avx512(x, n, m, rounding, zero_point, range, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
      case ElementwisePath::neon:
        return requantize_fixedpoint_neon(x, n, m, rounding, zero_point, range, y);
#endif
      default: break;
    }
  }
  requantize_fixedpoint_scalar(x, n, m, rounding, zero_point, range, y);
}

template <class Code>
void requantize_fixedpoint_channels_run(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                        const std::int32_t* exponent, RequantRounding rounding,
                                        std::int32_t zero_point, CodeRange range, Code* y) {
  if (contains(range, zero_point)) {
    switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
      case ElementwisePath::avx2:
        return requantize_fixedpoint_channels_avx2(x, n, multiplier, exponent, rounding, zero_point,
                                                   range, y);
#endif
#if defined(EIGENQ_HAVE_AVX512)
      case ElementwisePath::avx512:
        return requantize_fixedpoint_channels_avx512(x, n, multiplier, exponent, rounding, zero_point,
                                                     range, y);
#endif
#if defined(EIGENQ_HAVE_NEON)
      case ElementwisePath::neon:
        return requantize_fixedpoint_channels_neon(x, n, multiplier, exponent, rounding, zero_point,
                                                   range, y);
#endif
      default: break;
    }
  }
  requantize_fixedpoint_channels_scalar(x, n, multiplier, exponent, rounding, zero_point, range, y);
}

template <class Code>
void requantize_fixedpoint(const char* fn, const std::int32_t* x, Index n, QuantizedMultiplier m,
                           RequantRounding rounding, std::int32_t zero_point, CodeRange range,
                           Code* y) {
  check_count(fn, "n", n);
  check_pointer(fn, "x", x, n);
  check_pointer(fn, "y", y, n);
  check_code_range<Code>(fn, range);
  check_multiplier(fn, m, -1);
  requantize_fixedpoint_run(x, n, m, rounding, zero_point, range, y);
}

template <class Code>
void requantize_fixedpoint_rows(const char* fn, const std::int32_t* x, Index rows, Index cols,
                                Index ldx, const QuantizedMultiplier* m, RequantRounding rounding,
                                std::int32_t zero_point, CodeRange range, Code* y, Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "multiplier", m, rows);
  for (Index r = 0; r < rows; ++r) check_multiplier(fn, m[r], r);
  for (Index r = 0; r < rows; ++r) {
    requantize_fixedpoint_run(x + r * ldx, cols, m[r], rounding, zero_point, range, y + r * ldy);
  }
}

template <class Code>
void requantize_fixedpoint_cols(const char* fn, const std::int32_t* x, Index rows, Index cols,
                                Index ldx, const QuantizedMultiplier* m, RequantRounding rounding,
                                std::int32_t zero_point, CodeRange range, Code* y, Index ldy) {
  check_block(fn, rows, cols, ldx, ldy);
  check_code_range<Code>(fn, range);
  if (rows == 0 || cols == 0) return;
  check_pointer(fn, "x", x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, "multiplier", m, cols);
  for (Index c = 0; c < cols; ++c) check_multiplier(fn, m[c], c);
  std::int32_t multiplier[column_block];
  std::int32_t exponent[column_block];
  for (Index c0 = 0; c0 < cols; c0 += column_block) {
    const Index nc = std::min(column_block, cols - c0);
    for (Index c = 0; c < nc; ++c) {
      multiplier[c] = m[c0 + c].multiplier;
      exponent[c] = m[c0 + c].exponent;
    }
    for (Index r = 0; r < rows; ++r) {
      requantize_fixedpoint_channels_run(x + r * ldx + c0, nc, multiplier, exponent, rounding,
                                         zero_point, range, y + r * ldy + c0);
    }
  }
}

}  // namespace detail

// ---- public entry points ---------------------------------------------------------------
// quantize f32 -> s8 / u8

inline void quantize_f32_s8(const float* x, Index n, float scale, std::int32_t zero_point,
                            CodeRange range, QuantizeRounding rounding, std::int8_t* y) {
  detail::quantize("quantize_f32_s8", x, n, scale, zero_point, range, rounding, y);
}
inline void quantize_f32_u8(const float* x, Index n, float scale, std::int32_t zero_point,
                            CodeRange range, QuantizeRounding rounding, std::uint8_t* y) {
  detail::quantize("quantize_f32_u8", x, n, scale, zero_point, range, rounding, y);
}
inline void quantize_f32_s8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range,
                                 QuantizeRounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_rows("quantize_f32_s8_rows", x, rows, cols, ldx, scale, zero_point, range, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range,
                                 QuantizeRounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_rows("quantize_f32_u8_rows", x, rows, cols, ldx, scale, zero_point, range, rounding,
                        y, ldy);
}
inline void quantize_f32_s8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range,
                                 QuantizeRounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_cols("quantize_f32_s8_cols", x, rows, cols, ldx, scale, zero_point, range, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range,
                                 QuantizeRounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_cols("quantize_f32_u8_cols", x, rows, cols, ldx, scale, zero_point, range, rounding,
                        y, ldy);
}

// dequantize s8 / u8 -> f32

inline void dequantize_s8_f32(const std::int8_t* q, Index n, float scale, std::int32_t zero_point,
                              float* y) {
  detail::dequantize("dequantize_s8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_u8_f32(const std::uint8_t* q, Index n, float scale, std::int32_t zero_point,
                              float* y) {
  detail::dequantize("dequantize_u8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_s8_f32_rows(const std::int8_t* q, Index rows, Index cols, Index ldq,
                                   const float* scale, const std::int32_t* zero_point, float* y,
                                   Index ldy) {
  detail::dequantize_rows("dequantize_s8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_rows(const std::uint8_t* q, Index rows, Index cols, Index ldq,
                                   const float* scale, const std::int32_t* zero_point, float* y,
                                   Index ldy) {
  detail::dequantize_rows("dequantize_u8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_s8_f32_cols(const std::int8_t* q, Index rows, Index cols, Index ldq,
                                   const float* scale, const std::int32_t* zero_point, float* y,
                                   Index ldy) {
  detail::dequantize_cols("dequantize_s8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_cols(const std::uint8_t* q, Index rows, Index cols, Index ldq,
                                   const float* scale, const std::int32_t* zero_point, float* y,
                                   Index ldy) {
  detail::dequantize_cols("dequantize_u8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}

// requantize s32 -> s8 / u8, float multiplier

inline void requantize_s32_s8_fp32(const std::int32_t* x, Index n, float multiplier,
                                   std::int32_t zero_point, CodeRange range, std::int8_t* y) {
  detail::requantize_fp32("requantize_s32_s8_fp32", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_u8_fp32(const std::int32_t* x, Index n, float multiplier,
                                   std::int32_t zero_point, CodeRange range, std::uint8_t* y) {
  detail::requantize_fp32("requantize_s32_u8_fp32", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_s8_fp32_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                        const float* multiplier, std::int32_t zero_point,
                                        CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fp32_rows("requantize_s32_s8_fp32_rows", x, rows, cols, ldx, multiplier,
                               zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fp32_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                        const float* multiplier, std::int32_t zero_point,
                                        CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fp32_rows("requantize_s32_u8_fp32_rows", x, rows, cols, ldx, multiplier,
                               zero_point, range, y, ldy);
}
inline void requantize_s32_s8_fp32_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                        const float* multiplier, std::int32_t zero_point,
                                        CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fp32_cols("requantize_s32_s8_fp32_cols", x, rows, cols, ldx, multiplier,
                               zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fp32_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                        const float* multiplier, std::int32_t zero_point,
                                        CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fp32_cols("requantize_s32_u8_fp32_cols", x, rows, cols, ldx, multiplier,
                               zero_point, range, y, ldy);
}

// requantize s32 -> s8 / u8, fixed-point multiplier (double or single rounding)

inline void requantize_s32_s8_fixedpoint(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                         RequantRounding rounding, std::int32_t zero_point,
                                         CodeRange range, std::int8_t* y) {
  detail::requantize_fixedpoint("requantize_s32_s8_fixedpoint", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_u8_fixedpoint(const std::int32_t* x, Index n, QuantizedMultiplier m,
                                         RequantRounding rounding, std::int32_t zero_point,
                                         CodeRange range, std::uint8_t* y) {
  detail::requantize_fixedpoint("requantize_s32_u8_fixedpoint", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_s8_fixedpoint_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                              const QuantizedMultiplier* m, RequantRounding rounding,
                                              std::int32_t zero_point, CodeRange range,
                                              std::int8_t* y, Index ldy) {
  detail::requantize_fixedpoint_rows("requantize_s32_s8_fixedpoint_rows", x, rows, cols, ldx, m,
                                     rounding, zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixedpoint_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                              const QuantizedMultiplier* m, RequantRounding rounding,
                                              std::int32_t zero_point, CodeRange range,
                                              std::uint8_t* y, Index ldy) {
  detail::requantize_fixedpoint_rows("requantize_s32_u8_fixedpoint_rows", x, rows, cols, ldx, m,
                                     rounding, zero_point, range, y, ldy);
}
inline void requantize_s32_s8_fixedpoint_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                              const QuantizedMultiplier* m, RequantRounding rounding,
                                              std::int32_t zero_point, CodeRange range,
                                              std::int8_t* y, Index ldy) {
  detail::requantize_fixedpoint_cols("requantize_s32_s8_fixedpoint_cols", x, rows, cols, ldx, m,
                                     rounding, zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixedpoint_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                              const QuantizedMultiplier* m, RequantRounding rounding,
                                              std::int32_t zero_point, CodeRange range,
                                              std::uint8_t* y, Index ldy) {
  detail::requantize_fixedpoint_cols("requantize_s32_u8_fixedpoint_cols", x, rows, cols, ldx, m,
                                     rounding, zero_point, range, y, ldy);
}

// int4: n codes <-> (n + 1) / 2 bytes, code 2j in the low nibble of byte j (the 4-bit format
// of core/packing.hpp).
// Packing keeps each code's low four bits; unpacking sign-extends the signed form.

namespace detail {

template <class Code>
void pack4(const char* fn, const Code* codes, Index n, std::uint8_t* packed) {
  check_count(fn, "n", n);
  check_pointer(fn, "codes", codes, n);
  check_pointer(fn, "packed", packed, n);
  if (n == 0) return;
  switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
    case ElementwisePath::avx2: return pack4_avx2(codes, n, packed);
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case ElementwisePath::avx512: return pack4_avx512(codes, n, packed);
#endif
#if defined(EIGENQ_HAVE_NEON)
    case ElementwisePath::neon: return pack4_neon(codes, n, packed);
#endif
    default: return pack4_scalar(codes, n, packed);
  }
}

template <class Code>
void unpack4(const char* fn, const std::uint8_t* packed, Index n, Code* codes) {
  check_count(fn, "n", n);
  check_pointer(fn, "packed", packed, n);
  check_pointer(fn, "codes", codes, n);
  if (n == 0) return;
  switch (elementwise_path()) {
#if defined(EIGENQ_HAVE_AVX2)
    case ElementwisePath::avx2: return unpack4_avx2(packed, n, codes);
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case ElementwisePath::avx512: return unpack4_avx512(packed, n, codes);
#endif
#if defined(EIGENQ_HAVE_NEON)
    case ElementwisePath::neon: return unpack4_neon(packed, n, codes);
#endif
    default: return unpack4_scalar(packed, n, codes);
  }
}

}  // namespace detail

inline void pack_s8_s4(const std::int8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack4("pack_s8_s4", codes, n, packed);
}
inline void unpack_s4_s8(const std::uint8_t* packed, Index n, std::int8_t* codes) {
  detail::unpack4("unpack_s4_s8", packed, n, codes);
}
inline void pack_u8_u4(const std::uint8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack4("pack_u8_u4", codes, n, packed);
}
inline void unpack_u4_u8(const std::uint8_t* packed, Index n, std::uint8_t* codes) {
  detail::unpack4("unpack_u4_u8", packed, n, codes);
}

}  // namespace kernels
}  // namespace eigenq
