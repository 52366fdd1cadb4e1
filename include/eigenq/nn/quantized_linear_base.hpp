// What the quantized Linear layers (DynamicLinear, StaticLinear, GroupedLinear,
// WeightOnlyLinear) share: a QTensor weight [out, in] and a bias, their shapes as features,
// and the Module overrides that read only the weight. Each layer checks what its kernels
// need (bits, granularity, symmetry) and says how its weight and bias are stored.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/quantizer/qtensor.hpp"

namespace eigenq {
namespace nn {
namespace detail {

// "Layer: bias has N entries for M output channels".
inline void check_bias_size(const char* layer, Index bias_size, Index out_features) {
  if (bias_size != out_features) {
    raise<ShapeError>(layer, ": bias has ", bias_size, " entries for ", out_features, " output channels");
  }
}

}  // namespace detail

template <class Derived, class Policy, class Bias = Eigen::VectorXf>
class QuantizedLinearBase : public Module {
 public:
  using WeightTensor = QTensor<Policy>;

  Index in_features() const { return weight_.shape()[1]; }
  Index out_features() const { return weight_.shape()[0]; }
  const WeightTensor& weight() const { return weight_; }
  const Bias& bias() const { return bias_; }

  Index weight_count() const override { return weight_.size(); }
  Eigen::MatrixXf dequantized_weight() const override { return weight_.template dequantize<Eigen::MatrixXf>(); }
  std::unique_ptr<Module> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }

 protected:
  QuantizedLinearBase() = default;
  QuantizedLinearBase(WeightTensor weight, Bias bias) : weight_(std::move(weight)), bias_(std::move(bias)) {}

  WeightTensor weight_;
  Bias bias_;
};

}  // namespace nn
}  // namespace eigenq
