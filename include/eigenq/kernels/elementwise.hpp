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

#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/dispatch.hpp"
#include "eigenq/kernels/elementwise_bodies.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/isa.hpp"
#include "eigenq/kernels/policy_kernels.hpp"
#include "eigenq/kernels/scalar/elementwise.hpp"
#include "eigenq/kernels/x86_avx2/elementwise.hpp"
#include "eigenq/kernels/x86_avx512/elementwise.hpp"
#include "eigenq/kernels/arm_neon/elementwise.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

// Runs a loop on the active ISA's ElementwisePath (dispatch.hpp), or on the scalar one when
// the SIMD paths do not take the arguments.
struct ActivePath {
  template <class Run>
  static void run(bool simd, const Run& run) {
    if (simd) {
      dispatch<ElementwisePath>(run);
    } else {
      run(ElementwisePath<Isa::scalar>{});
    }
  }
};

}  // namespace detail

// ---- public entry points ---------------------------------------------------------------
// quantize f32 -> s8 / u8; `scaling` and `rounding` as the profile's framework does them
// (scaling_for(profile), Linear::rounding()).

inline void quantize_f32_s8(const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range,
                            Scaling scaling, Rounding rounding, std::int8_t* y) {
  detail::quantize<detail::ActivePath>("quantize_f32_s8", x, n, scale, zero_point, range, scaling, rounding, y);
}
inline void quantize_f32_u8(const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range,
                            Scaling scaling, Rounding rounding, std::uint8_t* y) {
  detail::quantize<detail::ActivePath>("quantize_f32_u8", x, n, scale, zero_point, range, scaling, rounding, y);
}
inline void quantize_f32_s8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_rows<detail::ActivePath>("quantize_f32_s8_rows", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_rows(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_rows<detail::ActivePath>("quantize_f32_u8_rows", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_s8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::int8_t* y, Index ldy) {
  detail::quantize_cols<detail::ActivePath>("quantize_f32_s8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}
inline void quantize_f32_u8_cols(const float* x, Index rows, Index cols, Index ldx, const float* scale,
                                 const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                 Rounding rounding, std::uint8_t* y, Index ldy) {
  detail::quantize_cols<detail::ActivePath>("quantize_f32_u8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling, rounding,
                        y, ldy);
}

// dequantize s8 / u8 -> f32

inline void dequantize_s8_f32(const std::int8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
  detail::dequantize<detail::ActivePath>("dequantize_s8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_u8_f32(const std::uint8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
  detail::dequantize<detail::ActivePath>("dequantize_u8_f32", q, n, scale, zero_point, y);
}
inline void dequantize_s8_f32_rows(const std::int8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_rows<detail::ActivePath>("dequantize_s8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_rows(const std::uint8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_rows<detail::ActivePath>("dequantize_u8_f32_rows", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_s8_f32_cols(const std::int8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_cols<detail::ActivePath>("dequantize_s8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}
inline void dequantize_u8_f32_cols(const std::uint8_t* q, Index rows, Index cols, Index ldq, const float* scale,
                                   const std::int32_t* zero_point, float* y, Index ldy) {
  detail::dequantize_cols<detail::ActivePath>("dequantize_u8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
}

// requantize s32 -> s8 / u8 with a float multiplier

inline void requantize_s32_s8_float(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                                    CodeRange range, std::int8_t* y) {
  detail::requantize_float<detail::ActivePath>("requantize_s32_s8_float", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_u8_float(const std::int32_t* x, Index n, float multiplier, std::int32_t zero_point,
                                    CodeRange range, std::uint8_t* y) {
  detail::requantize_float<detail::ActivePath>("requantize_s32_u8_float", x, n, multiplier, zero_point, range, y);
}
inline void requantize_s32_s8_float_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::int8_t* y, Index ldy) {
  detail::requantize_float_rows<detail::ActivePath>("requantize_s32_s8_float_rows", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_u8_float_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::uint8_t* y, Index ldy) {
  detail::requantize_float_rows<detail::ActivePath>("requantize_s32_u8_float_rows", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_s8_float_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::int8_t* y, Index ldy) {
  detail::requantize_float_cols<detail::ActivePath>("requantize_s32_s8_float_cols", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}
inline void requantize_s32_u8_float_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                         const float* multiplier, std::int32_t zero_point, CodeRange range,
                                         std::uint8_t* y, Index ldy) {
  detail::requantize_float_cols<detail::ActivePath>("requantize_s32_u8_float_cols", x, rows, cols, ldx, multiplier, zero_point, range,
                                y, ldy);
}

// requantize s32 -> s8 / u8 with a fixed-point multiplier (double or single rounding)

inline void requantize_s32_s8_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                          FixedPointRounding rounding, std::int32_t zero_point, CodeRange range,
                                          std::int8_t* y) {
  detail::requantize_fixed_point<detail::ActivePath>("requantize_s32_s8_fixed_point", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_u8_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                          FixedPointRounding rounding, std::int32_t zero_point, CodeRange range,
                                          std::uint8_t* y) {
  detail::requantize_fixed_point<detail::ActivePath>("requantize_s32_u8_fixed_point", x, n, m, rounding, zero_point, range, y);
}
inline void requantize_s32_s8_fixed_point_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fixed_point_rows<detail::ActivePath>("requantize_s32_s8_fixed_point_rows", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixed_point_rows(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fixed_point_rows<detail::ActivePath>("requantize_s32_u8_fixed_point_rows", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_s8_fixed_point_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::int8_t* y, Index ldy) {
  detail::requantize_fixed_point_cols<detail::ActivePath>("requantize_s32_s8_fixed_point_cols", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}
inline void requantize_s32_u8_fixed_point_cols(const std::int32_t* x, Index rows, Index cols, Index ldx,
                                               const FixedPointMultiplier* m, FixedPointRounding rounding,
                                               std::int32_t zero_point, CodeRange range, std::uint8_t* y, Index ldy) {
  detail::requantize_fixed_point_cols<detail::ActivePath>("requantize_s32_u8_fixed_point_cols", x, rows, cols, ldx, m, rounding,
                                      zero_point, range, y, ldy);
}

// int4 words: n codes <-> (n + 1) / 2 bytes, code 2j in the low nibble of byte j (the 4-bit
// format of core/packing.hpp). Packing keeps each code's low four bits; unpacking
// sign-extends the signed form.

inline void pack_s8_s4(const std::int8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack_int4<detail::ActivePath>("pack_s8_s4", codes, n, packed);
}
inline void unpack_s4_s8(const std::uint8_t* packed, Index n, std::int8_t* codes) {
  detail::unpack_int4<detail::ActivePath>("unpack_s4_s8", packed, n, codes);
}
inline void pack_u8_u4(const std::uint8_t* codes, Index n, std::uint8_t* packed) {
  detail::pack_int4<detail::ActivePath>("pack_u8_u4", codes, n, packed);
}
inline void unpack_u4_u8(const std::uint8_t* packed, Index n, std::uint8_t* codes) {
  detail::unpack_int4<detail::ActivePath>("unpack_u4_u8", packed, n, codes);
}

// The Linear policy's bulk loops run these SIMD entry points in every translation unit of a
// program in which one includes this header (policy_kernels.hpp says why and how).
namespace detail {
inline const PolicyKernels simd_policy_kernels{
    &quantize_f32_s8, &quantize_f32_u8, &quantize_f32_s8_cols, &quantize_f32_u8_cols, &dequantize_s8_f32,
    &dequantize_u8_f32, &dequantize_s8_f32_cols, &dequantize_u8_f32_cols};
inline const bool simd_policy_kernels_installed = install_policy_kernels(simd_policy_kernels);
}  // namespace detail

}  // namespace kernels
}  // namespace eigenq
