// Float layers: FloatLinear (y = x W^T + b, weight [out, in] as PyTorch stores it;
// torch.nn.Linear) and ReLU. The quantized layers (DynamicLinear, StaticLinear,
// GroupedLinear, ...) are made from a FloatLinear.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

namespace detail {

inline void check_input_features(const Matrix& x, Index in_features, const std::string& layer) {
  if (x.cols() != in_features) {
    raise<ShapeError>(layer, " expects inputs with ", in_features, " features, got a batch of shape ",
                      to_string(Shape{x.rows(), x.cols()}));
  }
}

}  // namespace detail

class FloatLinear : public Module {
 public:
  FloatLinear() = default;
  FloatLinear(Eigen::MatrixXf weight, Eigen::VectorXf bias)
      : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (weight_.size() == 0) raise<ShapeError>("FloatLinear: empty weight");
    if (bias_.size() == 0) bias_ = Eigen::VectorXf::Zero(weight_.rows());
    if (bias_.size() != weight_.rows()) {
      raise<ShapeError>("FloatLinear: bias has ", bias_.size(), " entries for a weight of shape ",
                        to_string(Shape{weight_.rows(), weight_.cols()}));
    }
  }
  FloatLinear(Index in_features, Index out_features)
      : FloatLinear(Eigen::MatrixXf::Zero(out_features, in_features), Eigen::VectorXf::Zero(out_features)) {}

  Index in_features() const { return weight_.cols(); }
  Index out_features() const { return weight_.rows(); }
  const Eigen::MatrixXf& weight() const { return weight_; }  // [out, in]
  const Eigen::VectorXf& bias() const { return bias_; }
  Eigen::MatrixXf& weight() { return weight_; }
  Eigen::VectorXf& bias() { return bias_; }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, in_features(), "FloatLinear");
    Matrix y = x * weight_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  // "Linear" is the kind saved in model files (docs/format.md, Appendix C).
  std::string kind() const override { return "Linear"; }
  std::size_t weight_bytes() const override {
    return sizeof(float) * static_cast<std::size_t>(weight_.size() + bias_.size());
  }
  Index weight_count() const override { return weight_.size(); }
  Eigen::MatrixXf dequantized_weight() const override { return weight_; }
  std::unique_ptr<Module> clone() const override { return std::make_unique<FloatLinear>(*this); }

 private:
  Eigen::MatrixXf weight_;
  Eigen::VectorXf bias_;
};

class ReLU : public Module {
 public:
  Matrix forward(const Matrix& x) const override { return x.cwiseMax(0.0f); }
  std::string kind() const override { return "ReLU"; }
  std::unique_ptr<Module> clone() const override { return std::make_unique<ReLU>(*this); }
};

}  // namespace nn
}  // namespace eigenq
