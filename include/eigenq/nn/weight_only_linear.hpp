// WeightOnlyLinear<Policy>: a Linear whose weights are stored quantized under
// any policy (log, codebook, 2/3-bit linear, ...) for which eigenq has no
// integer kernel. It keeps the QTensor (what is saved and what the storage
// cost counts) and computes with the dequantized weights in float, decoded
// once on construction: the gain is the model's size, not its speed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/quantized_linear_base.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

template <class Policy>
class WeightOnlyLinear : public QuantizedLinearBase<WeightOnlyLinear<Policy>, Policy> {
  using Base = QuantizedLinearBase<WeightOnlyLinear<Policy>, Policy>;
  using Base::bias_;
  using Base::weight_;

 public:
  using typename Base::WeightTensor;

  WeightOnlyLinear(WeightTensor weight, Eigen::VectorXf bias, std::string scheme_name)
      : Base(std::move(weight), std::move(bias)), name_(std::move(scheme_name)) {
    if (weight_.rank() != 2) {
      raise<ShapeError>("WeightOnlyLinear: weight of shape ", to_string(weight_.shape()), " is not [out, in]");
    }
    if (bias_.size() == 0) bias_ = Eigen::VectorXf::Zero(weight_.shape()[0]);
    detail::check_bias_size("WeightOnlyLinear", bias_.size(), weight_.shape()[0]);
    decoded_ = weight_.template dequantize<Eigen::MatrixXf>();
  }

  template <class G>
  WeightOnlyLinear(const nn::FloatLinear& layer, const Quantizer<Policy, G>& quantizer, std::string scheme_name)
      : WeightOnlyLinear(quantizer.quantize(layer.weight()), layer.bias(), std::move(scheme_name)) {}

  const std::string& scheme_name() const { return name_; }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, this->in_features(), "WeightOnlyLinear");
    Matrix y = x * decoded_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  std::string kind() const override { return "WeightOnlyLinear"; }
  std::size_t weight_bytes() const override {
    return weight_.storage_bytes() + sizeof(float) * static_cast<std::size_t>(bias_.size());
  }

 private:
  std::string name_;
  Eigen::MatrixXf decoded_;
};

}  // namespace nn
}  // namespace eigenq
