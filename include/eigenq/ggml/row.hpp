// One entry point per direction for every supported ggml type:
//
//   quantize_rows(type, src, dst, rows, n_per_row, importance)
//       = ggml_quantize_chunk(type, src, dst, 0, rows, n_per_row, importance)
//   dequantize_row(type, src, dst, n)
//       = ggml_get_type_traits(type)->to_float(src, dst, n)  (a copy for f32)
//
// `importance` is ggml's quant_weights (an imatrix row): n_per_row values
// shared by all rows, or null. Each type takes ggml's choice of algorithm for
// null and non-null importance; types whose ggml quantizer ignores it
// (uses_importance(type) is false) ignore it here too. Bad arguments throw
// InvalidArgument naming the value; nothing is written then.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/fp4.hpp"
#include "eigenq/ggml/iq4.hpp"
#include "eigenq/ggml/k_quants.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/strict_fp.hpp"
#include "eigenq/ggml/ternary.hpp"
#include "eigenq/ggml/type.hpp"

namespace eigenq {
namespace ggml {

// In the strict-FP region too, only so that GCC inlines the conversions into the loops below.
EIGENQ_GGML_STRICT_FP_BEGIN

namespace detail {

// True if this build fuses a*b - c although the strict-FP region forbids it:
// clang 14's backend ignores the pragma under -ffp-contract=fast. With a = 1 + 2^-12
// the product a*a rounds (a tie, to even) to 1 + 2^-11, so a*a - (1 + 2^-11) is 0
// when rounded separately and 2^-24 when fused. (volatile: no constant folding.)
inline bool fp_contraction_detected() {
  volatile float va = 1.0f + 0x1p-12f;
  volatile float vc = 1.0f + 0x1p-11f;
  const float a = va;
  const float c = vc;
  return a * a - c != 0.0f;
}

inline void require_strict_fp() {
  static const bool contracted = fp_contraction_detected();
  if (contracted) {
    raise<Error>("eigenq/ggml was compiled with floating-point contraction forced on (clang before 15 with "
                 "-ffp-contract=fast ignores the strict-FP pragma); its bytes would differ from ggml's. "
                 "Build without -ffp-contract=fast.");
  }
}

inline void check_row_arguments(Type type, const void* src, const void* dst, Index rows, Index n_per_row,
                                const char* what) {
  require_strict_fp();
  require_supported(type);
  const char* name = type_name(type);
  if (rows < 0) raise(what, ": rows = ", rows, " is negative (", name, ")");
  if (n_per_row <= 0) raise(what, ": row length ", n_per_row, " must be positive (", name, ")");
  row_size(type, n_per_row);  // throws unless a whole number of blocks
  if (rows > 0 && n_per_row > std::numeric_limits<Index>::max() / 4 / rows) {
    raise(what, ": ", rows, " rows of ", n_per_row, " elements overflow a byte count (", name, ")");
  }
  if (rows > 0 && (src == nullptr || dst == nullptr)) {
    raise(what, ": ", src == nullptr ? "source" : "destination", " is null for ", rows, " rows of ", name);
  }
}

// One row of a supported type, ggml's algorithm for its importance (null or not).
inline void quantize_one_row(Type type, const float* x, void* dst, Index n, const float* qw) {
  switch (type) {
    case Type::f32: std::memcpy(dst, x, static_cast<std::size_t>(n) * 4); return;
    case Type::f16:
      for (Index j = 0; j < n; ++j) store_le16(static_cast<std::uint8_t*>(dst) + 2 * j, fp32_to_fp16(x[j]));
      return;
    case Type::bf16:
      for (Index j = 0; j < n; ++j) store_le16(static_cast<std::uint8_t*>(dst) + 2 * j, fp32_to_bf16(x[j]));
      return;
    case Type::q4_0: quantize_row_q4_0(x, dst, n, qw); return;
    case Type::q4_1: quantize_row_q4_1(x, dst, n, qw); return;
    case Type::q5_0: quantize_row_q5_0(x, dst, n, qw); return;
    case Type::q5_1: quantize_row_q5_1(x, dst, n, qw); return;
    case Type::q8_0: quantize_row_q8_0(x, dst, n); return;
    case Type::q2_K: quantize_row_q2_K(x, dst, n, qw); return;
    case Type::q3_K: quantize_row_q3_K(x, dst, n, qw); return;
    case Type::q4_K: quantize_row_q4_K(x, dst, n, qw); return;
    case Type::q5_K: quantize_row_q5_K(x, dst, n, qw); return;
    case Type::q6_K: quantize_row_q6_K(x, dst, n, qw); return;
    case Type::iq4_nl: quantize_row_iq4_nl(x, dst, n, qw); return;
    case Type::iq4_xs: quantize_row_iq4_xs(x, dst, n, qw); return;
    case Type::tq1_0: quantize_row_tq1_0(x, dst, n); return;
    case Type::tq2_0: quantize_row_tq2_0(x, dst, n); return;
    case Type::mxfp4: quantize_row_mxfp4(x, dst, n); return;
    case Type::nvfp4: quantize_row_nvfp4(x, dst, n); return;
    case Type::q1_0: quantize_row_q1_0(x, dst, n); return;
    case Type::q2_0: quantize_row_q2_0(x, dst, n); return;
    default: break;
  }
  raise("ggml type ", type_name(type), " has no quantizer");  // unreachable after require_supported
}

}  // namespace detail

// Quantizes `rows` rows of `n_per_row` floats into `rows * row_size(type, n_per_row)`
// bytes at dst. Returns the number of bytes written.
inline Index quantize_rows(Type type, const float* src, void* dst, Index rows, Index n_per_row,
                           const float* importance) {
  detail::check_row_arguments(type, src, dst, rows, n_per_row, "quantize_rows");
  const Index bytes = row_size(type, n_per_row);
  const float* qw = uses_importance(type) ? importance : nullptr;
  for (Index r = 0; r < rows; ++r) {
    detail::quantize_one_row(type, src + r * n_per_row, static_cast<std::uint8_t*>(dst) + r * bytes, n_per_row, qw);
  }
  return rows * bytes;
}

// Decodes n elements (a whole number of blocks) of `type` from src into dst.
inline void dequantize_row(Type type, const void* src, float* dst, Index n) {
  detail::check_row_arguments(type, src, dst, 1, n, "dequantize_row");
  const auto* bytes = static_cast<const std::uint8_t*>(src);
  switch (type) {
    case Type::f32: std::memcpy(dst, src, static_cast<std::size_t>(n) * 4); return;
    case Type::f16:
      for (Index j = 0; j < n; ++j) dst[j] = fp16_to_fp32(load_le16(bytes + 2 * j));
      return;
    case Type::bf16:
      for (Index j = 0; j < n; ++j) dst[j] = bf16_to_fp32(load_le16(bytes + 2 * j));
      return;
    case Type::q4_0: dequantize_row_q4_0(src, dst, n); return;
    case Type::q4_1: dequantize_row_q4_1(src, dst, n); return;
    case Type::q5_0: dequantize_row_q5_0(src, dst, n); return;
    case Type::q5_1: dequantize_row_q5_1(src, dst, n); return;
    case Type::q8_0: dequantize_row_q8_0(src, dst, n); return;
    case Type::q2_K: dequantize_row_q2_K(src, dst, n); return;
    case Type::q3_K: dequantize_row_q3_K(src, dst, n); return;
    case Type::q4_K: dequantize_row_q4_K(src, dst, n); return;
    case Type::q5_K: dequantize_row_q5_K(src, dst, n); return;
    case Type::q6_K: dequantize_row_q6_K(src, dst, n); return;
    case Type::iq4_nl: dequantize_row_iq4_nl(src, dst, n); return;
    case Type::iq4_xs: dequantize_row_iq4_xs(src, dst, n); return;
    case Type::tq1_0: dequantize_row_tq1_0(src, dst, n); return;
    case Type::tq2_0: dequantize_row_tq2_0(src, dst, n); return;
    case Type::mxfp4: dequantize_row_mxfp4(src, dst, n); return;
    case Type::nvfp4: dequantize_row_nvfp4(src, dst, n); return;
    case Type::q1_0: dequantize_row_q1_0(src, dst, n); return;
    case Type::q2_0: dequantize_row_q2_0(src, dst, n); return;
    default: break;
  }
  raise("ggml type ", type_name(type), " has no dequantizer");
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
