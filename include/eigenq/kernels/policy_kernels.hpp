// The eight elementwise kernels the Linear policy's bulk loops run (quantize and dequantize,
// s8 and u8, one parameter set or one per element), reached through one table of function
// pointers. Until some translation unit of the program includes kernels/elementwise.hpp the
// table holds the scalar path; that header's SIMD entry points install themselves when the
// program starts. Both give the same bits; only the speed differs.
//
// Why: the SIMD paths need immintrin.h and three instruction sets' code, which would double
// the compile time of a translation unit that includes only <eigenq/quantize.hpp>.
// <eigenq/eigenq.hpp>, <eigenq/nn.hpp> and the io headers include kernels/elementwise.hpp;
// a program that uses only <eigenq/quantize.hpp> gets the SIMD paths by including
// <eigenq/kernels/elementwise.hpp> in any one of its .cpp files (one that the linker keeps).
#pragma once

#include <atomic>
#include <cstdint>

#include "eigenq/core/types.hpp"
#include "eigenq/kernels/arithmetic.hpp"
#include "eigenq/kernels/elementwise_bodies.hpp"

namespace eigenq {
namespace kernels {

struct PolicyKernels {
  using QuantizeS8 = void (*)(const float*, Index, float, std::int32_t, CodeRange, Scaling, Rounding, std::int8_t*);
  using QuantizeU8 = void (*)(const float*, Index, float, std::int32_t, CodeRange, Scaling, Rounding,
                              std::uint8_t*);
  using QuantizeS8Cols = void (*)(const float*, Index, Index, Index, const float*, const std::int32_t*, CodeRange,
                                  Scaling, Rounding, std::int8_t*, Index);
  using QuantizeU8Cols = void (*)(const float*, Index, Index, Index, const float*, const std::int32_t*, CodeRange,
                                  Scaling, Rounding, std::uint8_t*, Index);
  using DequantizeS8 = void (*)(const std::int8_t*, Index, float, std::int32_t, float*);
  using DequantizeU8 = void (*)(const std::uint8_t*, Index, float, std::int32_t, float*);
  using DequantizeS8Cols = void (*)(const std::int8_t*, Index, Index, Index, const float*, const std::int32_t*,
                                    float*, Index);
  using DequantizeU8Cols = void (*)(const std::uint8_t*, Index, Index, Index, const float*, const std::int32_t*,
                                    float*, Index);

  QuantizeS8 quantize_f32_s8;
  QuantizeU8 quantize_f32_u8;
  QuantizeS8Cols quantize_f32_s8_cols;
  QuantizeU8Cols quantize_f32_u8_cols;
  DequantizeS8 dequantize_s8_f32;
  DequantizeU8 dequantize_u8_f32;
  DequantizeS8Cols dequantize_s8_f32_cols;
  DequantizeU8Cols dequantize_u8_f32_cols;
};

namespace detail {

// The same entry points on the scalar path, with the same argument checks and messages.
inline const PolicyKernels scalar_policy_kernels{
    [](const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range, Scaling scaling,
       Rounding rounding, std::int8_t* y) {
      quantize<ScalarPath>("quantize_f32_s8", x, n, scale, zero_point, range, scaling, rounding, y);
    },
    [](const float* x, Index n, float scale, std::int32_t zero_point, CodeRange range, Scaling scaling,
       Rounding rounding, std::uint8_t* y) {
      quantize<ScalarPath>("quantize_f32_u8", x, n, scale, zero_point, range, scaling, rounding, y);
    },
    [](const float* x, Index rows, Index cols, Index ldx, const float* scale, const std::int32_t* zero_point,
       CodeRange range, Scaling scaling, Rounding rounding, std::int8_t* y, Index ldy) {
      quantize_cols<ScalarPath>("quantize_f32_s8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling,
                                rounding, y, ldy);
    },
    [](const float* x, Index rows, Index cols, Index ldx, const float* scale, const std::int32_t* zero_point,
       CodeRange range, Scaling scaling, Rounding rounding, std::uint8_t* y, Index ldy) {
      quantize_cols<ScalarPath>("quantize_f32_u8_cols", x, rows, cols, ldx, scale, zero_point, range, scaling,
                                rounding, y, ldy);
    },
    [](const std::int8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
      dequantize<ScalarPath>("dequantize_s8_f32", q, n, scale, zero_point, y);
    },
    [](const std::uint8_t* q, Index n, float scale, std::int32_t zero_point, float* y) {
      dequantize<ScalarPath>("dequantize_u8_f32", q, n, scale, zero_point, y);
    },
    [](const std::int8_t* q, Index rows, Index cols, Index ldq, const float* scale, const std::int32_t* zero_point,
       float* y, Index ldy) {
      dequantize_cols<ScalarPath>("dequantize_s8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
    },
    [](const std::uint8_t* q, Index rows, Index cols, Index ldq, const float* scale, const std::int32_t* zero_point,
       float* y, Index ldy) {
      dequantize_cols<ScalarPath>("dequantize_u8_f32_cols", q, rows, cols, ldq, scale, zero_point, y, ldy);
    }};

// Constant-initialized, so it holds nullptr before any dynamic initializer runs.
inline std::atomic<const PolicyKernels*> installed_policy_kernels{nullptr};

// Installs `simd` (a static table) for the whole program; true, for an initializer to keep.
inline bool install_policy_kernels(const PolicyKernels& simd) {
  installed_policy_kernels.store(&simd, std::memory_order_release);
  return true;
}

}  // namespace detail

// The table the policies call: the SIMD entry points once installed, else the scalar ones.
inline const PolicyKernels& policy_kernels() {
  const PolicyKernels* simd = detail::installed_policy_kernels.load(std::memory_order_acquire);
  return simd != nullptr ? *simd : detail::scalar_policy_kernels;
}

}  // namespace kernels
}  // namespace eigenq
