// A matrix quantized to a ggml type, as a value: the type, the shape [rows, row length] and
// the bytes ggml stores (rows x ggml_row_size), with the Eigen-shaped entry points around
// quantize_rows / dequantize_row (row.hpp):
//
//   namespace gg = eigenq::ggml;
//   Eigen::MatrixXf w = ...;                                  // [rows, row length]
//   gg::QuantizedRows q = gg::quantize(gg::Type::q4_K, w);     // = ggml_quantize_chunk, row by row
//   gg::QuantizedRows qi = gg::quantize(gg::Type::q4_K, w, importance);   // one value per column
//   Eigen::MatrixXf back = q.dequantize();                     // = ggml's to_float
//   q.bytes();                                                  // what a GGUF tensor of that type holds
//
// Rows quantize independently (ggml's blocks never cross a row), so any subset of rows
// quantizes to the same bytes alone as inside the whole matrix, and the storage is exactly
// rows * row_size(type, row length) bytes. The row length must be a whole number of the
// type's blocks (InvalidArgument otherwise, naming both). The importance (ggml's
// quant_weights, an imatrix row) has one value per column, shared by all rows; types whose
// ggml quantizer ignores it (uses_importance) ignore it here too.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/type.hpp"

namespace eigenq {
namespace ggml {

class QuantizedRows {
 public:
  QuantizedRows() = default;

  // Takes bytes already in ggml's layout (e.g. a GGUF tensor's): rows * row_size(type, row_length).
  QuantizedRows(Type type, Index rows, Index row_length, std::vector<std::uint8_t> bytes)
      : type_(type), rows_(rows), row_length_(row_length), bytes_(std::move(bytes)) {
    require_supported(type);
    if (rows < 0 || row_length <= 0) {
      raise("QuantizedRows: a matrix of ", rows, " rows of ", row_length, " elements (", type_name(type), ")");
    }
    const Index expected = rows * row_size(type, row_length);  // throws unless whole blocks
    if (static_cast<Index>(bytes_.size()) != expected) {
      raise("QuantizedRows: ", rows, " rows of ", row_length, " elements of ", type_name(type), " take ", expected,
            " bytes, got ", bytes_.size());
    }
  }

  Type type() const { return type_; }
  Index rows() const { return rows_; }
  Index row_length() const { return row_length_; }
  Index cols() const { return row_length_; }
  // Bytes of one row: ggml_row_size(type, row_length).
  Index row_bytes() const { return rows_ == 0 ? row_size(type_, row_length_) : static_cast<Index>(bytes_.size()) / rows_; }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  std::size_t storage_bytes() const { return bytes_.size(); }
  // Bits per element, everything stored counted (4.5 for q4_K).
  double bits_per_weight() const {
    return 8.0 * static_cast<double>(type_size(type_)) / static_cast<double>(block_size(type_));
  }
  const std::uint8_t* row(Index r) const {
    if (r < 0 || r >= rows_) raise("QuantizedRows::row(", r, ") of ", rows_, " rows");
    return bytes_.data() + static_cast<std::size_t>(r) * static_cast<std::size_t>(row_bytes());
  }

  // The values ggml's to_float gives, row-major, into `out` (rows * row_length floats).
  void dequantize_into(float* out) const {
    if (rows_ == 0) return;
    const Index rb = row_bytes();
    for (Index r = 0; r < rows_; ++r) {
      dequantize_row(type_, bytes_.data() + static_cast<std::size_t>(r * rb), out + r * row_length_, row_length_);
    }
  }

  // The dequantized matrix [rows, row length] as any Eigen dense type (MatrixXf by default).
  template <class Matrix = Eigen::MatrixXf>
  Matrix dequantize() const {
    std::vector<float> values(static_cast<std::size_t>(rows_ * row_length_));
    dequantize_into(values.data());
    return from_row_major<Matrix>(values.data(), Shape{rows_, row_length_});
  }

 private:
  Type type_ = Type::f32;
  Index rows_ = 0;
  Index row_length_ = 1;
  std::vector<std::uint8_t> bytes_;
};

// Quantizes row-major floats, `rows` rows of `row_length`, with optional importance (row_length
// values, or null).
inline QuantizedRows quantize_row_major(Type type, const float* x, Index rows, Index row_length,
                                        const float* importance = nullptr) {
  require_supported(type);
  if (rows < 0 || row_length <= 0) {
    raise("ggml::quantize: a matrix of ", rows, " rows of ", row_length, " elements (", type_name(type), ")");
  }
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(rows * row_size(type, row_length)));
  if (rows > 0) quantize_rows(type, x, bytes.data(), rows, row_length, importance);
  return QuantizedRows(type, rows, row_length, std::move(bytes));
}

// Quantizes the rows of any Eigen matrix or expression [rows, row length] to `type`: the
// bytes ggml_quantize_chunk gives for those rows.
template <class Derived>
QuantizedRows quantize(Type type, const Eigen::DenseBase<Derived>& x, const float* importance = nullptr) {
  const RowMajorView v = row_major_view(x);
  return quantize_row_major(type, v.data(), static_cast<Index>(x.rows()), static_cast<Index>(x.cols()), importance);
}

// The same with the importance as a vector, which must hold one value per column.
template <class Derived>
QuantizedRows quantize(Type type, const Eigen::DenseBase<Derived>& x, const std::vector<float>& importance) {
  if (importance.empty()) return quantize(type, x);
  if (static_cast<Index>(importance.size()) != static_cast<Index>(x.cols())) {
    raise("ggml::quantize: ", importance.size(), " importance values for rows of ", x.cols(), " elements (",
          type_name(type), "); give one per column");
  }
  return quantize(type, x, importance.data());
}

}  // namespace ggml
}  // namespace eigenq
