// Elementwise kernels behind run-time dispatch: quantize f32 -> s8/u8, dequantize s8/u8 -> f32,
// requantize s32 -> s8/u8 (float or fixed-point multiplier), int4 pack/unpack.
//
// Each function checks its arguments, then runs the ElementwisePath of the active ISA
// (dispatch.hpp); every path gives the same bits as the scalar one, which applies the
// value-level definitions of arithmetic.hpp (they state the formulas). Granularities:
//   f(x, n, ...)                          one parameter set for n contiguous values;
//   f_rows(x, rows, cols, ldx, ...)       row-major block, one parameter set per row;
//   f_cols(x, rows, cols, ldx, ...)       row-major block, one parameter set per column.
// ldx/ldy are leading dimensions (elements between row starts), >= cols. Requantization
// has per-row/per-column multipliers and one output zero point, as the frameworks do.
// A zero point outside [qmin, qmax] is legal (NaN maps to it, unclamped, as Linear does) and
// takes the scalar path, as does quantizing with Scaling::multiply_by_reciprocal and
// Rounding::half_away_from_zero, which no profile uses; every other input, NaN and Inf
// included, runs SIMD.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/checks.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"
#include "eigenq/kernels/x86_avx2/elementwise.hpp"
#include "eigenq/kernels/x86_avx512/elementwise.hpp"
#include "eigenq/kernels/arm_neon/elementwise.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// Runs `run(path)` on the active ISA's ElementwisePath, or on the scalar one when the SIMD
// paths do not take the arguments (`simd` false): the one template over the path.
template <class Run>
void run_elementwise(bool simd, const Run& run) {
  if (simd) {
    dispatch<ElementwisePath>(run);
  } else {
    run(ElementwisePath<Isa::scalar>{});
  }
}

// Per-column constants (reciprocal scales, multipliers) are prepared this many columns at a
// time on the stack, so the per-column entry points never allocate.
constexpr Index column_block = 256;

// n values read from `in`, written to `out`.
inline void check_run(const char* fn, Index n, const void* in, const char* in_name, const void* out,
                      const char* out_name) {
  check_count(fn, "n", n);
  check_pointer(fn, in_name, in, n);
  check_pointer(fn, out_name, out, n);
}

// A rows x cols block read from `x` (leading dimension `ldx`, named `ld_name`) and written to y;
// `params` holds `channels` values. False when the block is empty.
inline bool check_block(const char* fn, Index rows, Index cols, const char* ld_name, Index ldx, Index ldy,
                        const void* x, const char* x_name, const void* y, const void* params,
                        const char* params_name, Index channels) {
  check_count(fn, "rows", rows);
  check_count(fn, "cols", cols);
  if (ldx < cols) raise(fn, ": ", ld_name, " = ", ldx, " is smaller than cols = ", cols);
  if (ldy < cols) raise(fn, ": ldy = ", ldy, " is smaller than cols = ", cols);
  if (rows == 0 || cols == 0) return false;
  check_pointer(fn, x_name, x, rows * cols);
  check_pointer(fn, "y", y, rows * cols);
  check_pointer(fn, params_name, params, channels);
  return true;
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

// The SIMD quantize loops implement the (Scaling, Rounding) pairs of the profiles (PyTorch, ONNX,
// TFLite); the fourth, multiply_by_reciprocal with half_away_from_zero, runs on the scalar path.
inline bool simd_method(Scaling scaling, Rounding rounding) {
  return scaling == Scaling::divide || rounding == Rounding::half_to_even;
}

inline void check_multiplier(const char* fn, FixedPointMultiplier m, Index channel) {
  if (m.multiplier < 0 || m.exponent < -31 || m.exponent > 30) {
    if (channel < 0) {
      raise(fn, ": fixed-point multiplier {", m.multiplier, ", exponent ", m.exponent,
            "} needs multiplier >= 0 and exponent in [-31, 30] (see fixed_point_multiplier)");
    }
    raise(fn, ": fixed-point multiplier of channel ", channel, " {", m.multiplier, ", exponent ", m.exponent,
          "} needs multiplier >= 0 and exponent in [-31, 30] (see fixed_point_multiplier)");
  }
}

// ---- quantize --------------------------------------------------------------------------

template <class Code>
void quantize(const char* fn, const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range,
              Scaling scaling, Rounding rounding, Code* y) {
  check_run(fn, n, x, "x", y, "y");
  check_code_range<Code>(fn, range);
  if (n == 0) return;
  const float factor = scale_factor(scale, scaling);
  run_elementwise(contains(range, zero_point) && simd_method(scaling, rounding), [&](auto path) {
    decltype(path)::quantize(x, n, factor, zero_point, range, scaling, rounding, y);
  });
}

template <class Code>
void quantize_rows(const char* fn, const float* x, Index rows, Index cols, Index ldx, const float* scale,
                   const std::int32_t* zero_point, CodeRange range, Scaling scaling, Rounding rounding, Code* y,
                   Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, scale, "scale", rows)) return;
  check_pointer(fn, "zero_point", zero_point, rows);
  for (Index r = 0; r < rows; ++r) {
    const float factor = scale_factor(scale[r], scaling);
    run_elementwise(contains(range, zero_point[r]) && simd_method(scaling, rounding), [&](auto path) {
      decltype(path)::quantize(x + r * ldx, cols, factor, zero_point[r], range, scaling, rounding, y + r * ldy);
    });
  }
}

template <class Code>
void quantize_cols(const char* fn, const float* x, Index rows, Index cols, Index ldx, const float* scale,
                   const std::int32_t* zero_point, CodeRange range, Scaling scaling, Rounding rounding, Code* y,
                   Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, scale, "scale", cols)) return;
  check_pointer(fn, "zero_point", zero_point, cols);
  float factor[column_block];
  for (Index c0 = 0; c0 < cols; c0 += column_block) {
    const Index nc = std::min(column_block, cols - c0);
    bool simd = simd_method(scaling, rounding);
    for (Index c = 0; c < nc; ++c) {
      factor[c] = scale_factor(scale[c0 + c], scaling);
      simd = simd && contains(range, zero_point[c0 + c]);
    }
    for (Index r = 0; r < rows; ++r) {
      run_elementwise(simd, [&](auto path) {
        decltype(path)::quantize_channels(x + r * ldx + c0, nc, factor, zero_point + c0, range, scaling, rounding,
                                          y + r * ldy + c0);
      });
    }
  }
}

// ---- dequantize ------------------------------------------------------------------------

template <class Code>
void dequantize(const char* fn, const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
  check_run(fn, n, q, "q", y, "y");
  if (n == 0) return;
  run_elementwise(true, [&](auto path) { decltype(path)::dequantize(q, n, scale, zero_point, y); });
}

template <class Code>
void dequantize_rows(const char* fn, const Code* q, Index rows, Index cols, Index ldq, const float* scale,
                     const std::int32_t* zero_point, float* y, Index ldy) {
  if (!check_block(fn, rows, cols, "ldq", ldq, ldy, q, "q", y, scale, "scale", rows)) return;
  check_pointer(fn, "zero_point", zero_point, rows);
  run_elementwise(true, [&](auto path) {
    for (Index r = 0; r < rows; ++r) {
      decltype(path)::dequantize(q + r * ldq, cols, scale[r], zero_point[r], y + r * ldy);
    }
  });
}

template <class Code>
void dequantize_cols(const char* fn, const Code* q, Index rows, Index cols, Index ldq, const float* scale,
                     const std::int32_t* zero_point, float* y, Index ldy) {
  if (!check_block(fn, rows, cols, "ldq", ldq, ldy, q, "q", y, scale, "scale", cols)) return;
  check_pointer(fn, "zero_point", zero_point, cols);
  run_elementwise(true, [&](auto path) {
    for (Index r = 0; r < rows; ++r) {
      decltype(path)::dequantize_channels(q + r * ldq, cols, scale, zero_point, y + r * ldy);
    }
  });
}

// ---- requantize with a float multiplier ------------------------------------------------

template <class Code>
void requantize_float(const char* fn, const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                      CodeRange range, Code* y) {
  check_run(fn, n, x, "x", y, "y");
  check_code_range<Code>(fn, range);
  if (n == 0) return;
  run_elementwise(contains(range, zero_point), [&](auto path) {
    decltype(path)::requantize_float(x, n, multiplier, zero_point, range, y);
  });
}

template <class Code>
void requantize_float_rows(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                           const float* multiplier, std::int32_t zero_point, CodeRange range, Code* y, Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, multiplier, "multiplier", rows)) return;
  run_elementwise(contains(range, zero_point), [&](auto path) {
    for (Index r = 0; r < rows; ++r) {
      decltype(path)::requantize_float(x + r * ldx, cols, multiplier[r], zero_point, range, y + r * ldy);
    }
  });
}

template <class Code>
void requantize_float_cols(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                           const float* multiplier, std::int32_t zero_point, CodeRange range, Code* y, Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, multiplier, "multiplier", cols)) return;
  run_elementwise(contains(range, zero_point), [&](auto path) {
    for (Index r = 0; r < rows; ++r) {
      decltype(path)::requantize_float_channels(x + r * ldx, cols, multiplier, zero_point, range, y + r * ldy);
    }
  });
}

// ---- requantize with a fixed-point multiplier ------------------------------------------

template <class Code>
void requantize_fixed_point(const char* fn, const std::int32_t* x, Index n, FixedPointMultiplier m,
                            FixedPointRounding rounding, std::int32_t zero_point, CodeRange range, Code* y) {
  check_run(fn, n, x, "x", y, "y");
  check_code_range<Code>(fn, range);
  check_multiplier(fn, m, -1);
  if (n == 0) return;
  run_elementwise(contains(range, zero_point), [&](auto path) {
    decltype(path)::requantize_fixed_point(x, n, m, rounding, zero_point, range, y);
  });
}

template <class Code>
void requantize_fixed_point_rows(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                                 const FixedPointMultiplier* m, FixedPointRounding rounding, std::int32_t zero_point,
                                 CodeRange range, Code* y, Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, m, "multiplier", rows)) return;
  for (Index r = 0; r < rows; ++r) check_multiplier(fn, m[r], r);
  run_elementwise(contains(range, zero_point), [&](auto path) {
    for (Index r = 0; r < rows; ++r) {
      decltype(path)::requantize_fixed_point(x + r * ldx, cols, m[r], rounding, zero_point, range, y + r * ldy);
    }
  });
}

template <class Code>
void requantize_fixed_point_cols(const char* fn, const std::int32_t* x, Index rows, Index cols, Index ldx,
                                 const FixedPointMultiplier* m, FixedPointRounding rounding, std::int32_t zero_point,
                                 CodeRange range, Code* y, Index ldy) {
  check_code_range<Code>(fn, range);
  if (!check_block(fn, rows, cols, "ldx", ldx, ldy, x, "x", y, m, "multiplier", cols)) return;
  for (Index c = 0; c < cols; ++c) check_multiplier(fn, m[c], c);
  std::int32_t multiplier[column_block];
  std::int32_t exponent[column_block];
  for (Index c0 = 0; c0 < cols; c0 += column_block) {
    const Index nc = std::min(column_block, cols - c0);
    for (Index c = 0; c < nc; ++c) {
      multiplier[c] = m[c0 + c].multiplier;
      exponent[c] = m[c0 + c].exponent;
    }
    run_elementwise(contains(range, zero_point), [&](auto path) {
      for (Index r = 0; r < rows; ++r) {
        decltype(path)::requantize_fixed_point_channels(x + r * ldx + c0, nc, multiplier, exponent, rounding,
                                                        zero_point, range, y + r * ldy + c0);
      }
    });
  }
}

// ---- int4 words ------------------------------------------------------------------------

template <class Code>
void pack_int4(const char* fn, const Code* codes, Index n, std::uint8_t* packed) {
  check_run(fn, n, codes, "codes", packed, "packed");
  if (n == 0) return;
  run_elementwise(true, [&](auto path) { decltype(path)::pack_int4(codes, n, packed); });
}

template <class Code>
void unpack_int4(const char* fn, const std::uint8_t* packed, Index n, Code* codes) {
  check_run(fn, n, packed, "packed", codes, "codes");
  if (n == 0) return;
  run_elementwise(true, [&](auto path) { decltype(path)::unpack_int4(packed, n, codes); });
}

}  // namespace detail

// ---- public entry points ---------------------------------------------------------------
// quantize f32 -> s8 / u8; `scaling` and `rounding` as the profile's framework does them
// (scaling_for(profile), Linear::rounding()).

inline void quantize_f32_s8(const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range,
                            Scaling scaling, Rounding rounding, std::int8_t* y) {
  detail::quantize("quantize_f32_s8", x, n, scale, zero_point, range, scaling, rounding, y);
}
inline void quantize_f32_u8(const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range,
                            Scaling scaling, Rounding rounding, std::uint8_t* y) {
  detail::quantize("quantize_f32_u8", x, n, scale, zero_point, range, scaling, rounding, y);
}
inline void quantize_f32_s8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_rows("quantize_f32_s8_rows", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_rows("quantize_f32_u8_rows", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_s8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_cols("quantize_f32_s8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_cols("quantize_f32_u8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}

// dequantize s8 / u8 -> f32

inline void dequantize_s8_f32(const std::int8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
  detail::dequantize("dequantize_s8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_u8_f32(const std::uint8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
  detail::dequantize("dequantize_u8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_s8_f32_rows(const std::int8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_rows("dequantize_s8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_rows(const std::uint8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_rows("dequantize_u8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_s8_f32_cols(const std::int8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_cols("dequantize_s8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_cols(const std::uint8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_cols("dequantize_u8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}

// requantize s32 -> s8 / u8 with a float multiplier

inline void requantize_s32_s8_float(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                                    CodeRange range, std::int8_t* y) {
  detail::requantize_float("requantize_s32_s8_float", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_u8_float(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                                    CodeRange range, std::uint8_t* y) {
  detail::requantize_float("requantize_s32_u8_float", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_s8_float_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::int8_t* y, Index ldy) {
  detail::requantize_float_rows("requantize_s32_s8_float_rows", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_u8_float_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::uint8_t* y, Index ldy) {
  detail::requantize_float_rows("requantize_s32_u8_float_rows", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_s8_float_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::int8_t* y, Index ldy) {
  detail::requantize_float_cols("requantize_s32_s8_float_cols", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_u8_float_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::uint8_t* y, Index ldy) {
  detail::requantize_float_cols("requantize_s32_u8_float_cols", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}

// requantize s32 -> s8 / u8 with a fixed-point multiplier (double or single rounding)

inline void requantize_s32_s8_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                          FixedPointRounding rounding, std::int32_t zero_point, CodeRange range,
                                          std::int8_t* y) {
  detail::requantize_fixed_point("requantize_s32_s8_fixed_point", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_u8_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                          FixedPointRounding rounding, std::int32_t zero_point, CodeRange range,
                                          std::uint8_t* y) {
  detail::requantize_fixed_point("requantize_s32_u8_fixed_point", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_s8_fixed_point_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fixed_point_rows("requantize_s32_s8_fixed_point_rows", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixed_point_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fixed_point_rows("requantize_s32_u8_fixed_point_rows", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_s8_fixed_point_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fixed_point_cols("requantize_s32_s8_fixed_point_cols", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixed_point_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fixed_point_cols("requantize_s32_u8_fixed_point_cols", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}

// int4 words: n codes <-> (n + 1) / 2 bytes, code 2j in the low nibble of byte j (the 4-bit
// format of core/packing.hpp). Packing keeps each code's low four bits; unpacking
// sign-extends the signed form.

inline void pack_s8_s4(const std::int8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack_int4("pack_s8_s4", codes, n, packed);
}
inline void unpack_s4_s8(const std::uint8_t* packed, Index n, std::int8_t* codes) {
  detail::unpack_int4("unpack_s4_s8", packed, n, codes);
}
inline void pack_u8_u4(const std::uint8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack_int4("pack_u8_u4", codes, n, packed);
}
inline void unpack_u4_u8(const std::uint8_t* packed, Index n, std::uint8_t* codes) {
  detail::unpack_int4("unpack_u4_u8", packed, n, codes);
}

}  // namespace kernels
}  // namespace eigenq
