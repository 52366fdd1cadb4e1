// The layer interface of eigenq's small inference graph: a module maps a batch
// of activations [batch, features] (row-major, the layout the int8 kernels
// read) to the next batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {
namespace nn {

// Activations: one row per example.
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Integer activations of a full-integer (static) model: int8 codes with one
// affine scale and zero point for the tensor, r = scale * (q - zero_point).
struct QActivations {
  Eigen::Matrix<std::int8_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> codes;
  float scale = 1.0f;
  std::int32_t zero_point = 0;

  Matrix dequantize() const {
    return (codes.cast<float>().array() - static_cast<float>(zero_point)).matrix() * scale;
  }
};

class Module {
 public:
  virtual ~Module() = default;

  virtual Matrix forward(const Matrix& x) const = 0;
  Matrix operator()(const Matrix& x) const { return forward(x); }

  // "Linear", "ReLU", "DynamicLinear", ... (also the type tag in saved files).
  virtual std::string kind() const = 0;
  // Bytes of weights and parameters as stored (0 for parameter-free layers).
  virtual std::size_t weight_bytes() const { return 0; }
  // Number of weights (for average bits per weight).
  virtual Index weight_count() const { return 0; }
  // The weight [out, in] the layer effectively computes with (dequantized for
  // quantized layers); empty for layers without weights.
  virtual Eigen::MatrixXf dequantized_weight() const { return {}; }
  virtual std::unique_ptr<Module> clone() const = 0;

  // Full-integer layers (StaticLinear) also take int8 activations and give
  // int8 activations, so a chain of them never leaves the integers.
  virtual bool integer_io() const { return false; }
  virtual QActivations quantize_input(const Matrix&) const {
    raise("layer ", kind(), " has no integer input");
  }
  virtual QActivations forward_integer(const QActivations&) const {
    raise("layer ", kind(), " has no integer path");
  }
};

}  // namespace nn
}  // namespace eigenq
