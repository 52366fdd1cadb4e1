// ggml's block types as analysis schemes: the sensitivity analysis and the mixed-precision
// search compare them with eigenq's own schemes on the same model.
//
//   namespace gg = eigenq::ggml;
//   opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::ggml_scheme(gg::Type::q8_0),
//                     eigenq::ggml_scheme(gg::Type::q4_K), eigenq::ggml_scheme(gg::Type::q6_K)};
//   opt.per_point["fc2"] = ... ggml_scheme(gg::Type::iq4_nl, importance_of_fc2_inputs) ...
//
// A scheme quantizes a matrix [rows, row length] row by row exactly as ggml_quantize_chunk does
// (ggml/quantized_rows.hpp) and dequantizes it with ggml's to_float; its storage is exactly
// rows * ggml_row_size(type, row length) bytes (scales included), and its rows are
// independent, so per-channel mixed precision accepts it. The row length must be a whole
// number of the type's blocks (32, 64, 128 or 256 elements): other matrices throw
// InvalidArgument naming the scheme and both lengths. `importance` (ggml's quant_weights, e.g.
// an imatrix entry or calibration statistics' in_sum2 / rows) holds one value per column and
// applies to every matrix the scheme quantizes; empty means none.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/scheme.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/ggml/quantized_rows.hpp"
#include "eigenq/ggml/type.hpp"

namespace eigenq {

// The scheme of ggml type `type`, named as ggml names the type ("q4_K"; "q4_K+imatrix" with
// importance, for the types whose quantizer reads it).
inline Scheme ggml_scheme(ggml::Type type, std::vector<float> importance = {}) {
  ggml::require_supported(type);
  Scheme s;
  const bool weighted = !importance.empty() && ggml::uses_importance(type);
  s.name = std::string(ggml::type_name(type)) + (weighted ? "+imatrix" : "");
  s.rows_independent = true;
  const std::string name = s.name;
  auto check = [type, name, importance](const Eigen::MatrixXf& x) {
    const Index block = ggml::block_size(type);
    if (x.cols() % block != 0) {
      raise("scheme ", name, ": rows of ", x.cols(), " elements are not a whole number of ", ggml::type_name(type),
            " blocks of ", block);
    }
    if (!importance.empty() && static_cast<Index>(importance.size()) != x.cols()) {
      raise("scheme ", name, ": ", importance.size(), " importance values for rows of ", x.cols(), " elements");
    }
  };
  s.fake_quantize = [type, importance, check](Eigen::MatrixXf& x) {
    check(x);
    x = ggml::quantize(type, x, importance).dequantize();
  };
  s.storage_bits = [type, check](const Eigen::MatrixXf& x) {
    check(x);
    return 8 * static_cast<std::int64_t>(x.rows()) * static_cast<std::int64_t>(ggml::row_size(type, x.cols()));
  };
  return s;
}

}  // namespace eigenq
