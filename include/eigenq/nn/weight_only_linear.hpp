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
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

template <class Policy>
class WeightOnlyLinear : public Module {
 public:
  using WeightTensor = QTensor<Policy>;

  WeightOnlyLinear(WeightTensor weight, Eigen::VectorXf bias, std::string scheme_name)
      : weight_(std::move(weight)), bias_(std::move(bias)), name_(std::move(scheme_name)) {
    if (weight_.rank() != 2) {
      raise<ShapeError>("WeightOnlyLinear: weight of shape ", to_string(weight_.shape()), " is not [out, in]");
    }
    if (bias_.size() == 0) bias_ = Eigen::VectorXf::Zero(weight_.shape()[0]);
    if (bias_.size() != weight_.shape()[0]) {
      raise<ShapeError>("WeightOnlyLinear: bias has ", bias_.size(), " entries for ", weight_.shape()[0],
                        " output channels");
    }
    decoded_ = weight_.template dequantize<Eigen::MatrixXf>();
  }

  template <class G>
  WeightOnlyLinear(const nn::FloatLinear& layer, const Quantizer<Policy, G>& quantizer, std::string scheme_name)
      : WeightOnlyLinear(quantizer.quantize(layer.weight()), layer.bias(), std::move(scheme_name)) {}

  Index in_features() const { return weight_.shape()[1]; }
  Index out_features() const { return weight_.shape()[0]; }
  const WeightTensor& weight() const { return weight_; }
  const Eigen::VectorXf& bias() const { return bias_; }
  const std::string& scheme_name() const { return name_; }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, in_features(), "WeightOnlyLinear");
    Matrix y = x * decoded_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  std::string kind() const override { return "WeightOnlyLinear"; }
  std::size_t weight_bytes() const override {
    return weight_.storage_bytes() + sizeof(float) * static_cast<std::size_t>(bias_.size());
  }
  Index weight_count() const override { return weight_.size(); }
  Eigen::MatrixXf dequantized_weight() const override {
    return weight_.template dequantize<Eigen::MatrixXf>();
  }
  std::unique_ptr<Module> clone() const override { return std::make_unique<WeightOnlyLinear>(*this); }

 private:
  WeightTensor weight_;
  Eigen::VectorXf bias_;
  std::string name_;
  Eigen::MatrixXf decoded_;
};

}  // namespace nn
}  // namespace eigenq
