// Float layers: Linear (y = x W^T + b, weight [out, in] as PyTorch stores it)
// and ReLU.
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

class Linear : public Module {
 public:
  Linear() = default;
  Linear(Eigen::MatrixXf weight, Eigen::VectorXf bias)
      : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (weight_.size() == 0) raise<ShapeError>("Linear: empty weight");
    if (bias_.size() == 0) bias_ = Eigen::VectorXf::Zero(weight_.rows());
    if (bias_.size() != weight_.rows()) {
      raise<ShapeError>("Linear: bias has ", bias_.size(), " entries for a weight of shape ",
                        to_string(Shape{weight_.rows(), weight_.cols()}));
    }
  }
  Linear(Index in_features, Index out_features)
      : Linear(Eigen::MatrixXf::Zero(out_features, in_features), Eigen::VectorXf::Zero(out_features)) {}

  Index in_features() const { return weight_.cols(); }
  Index out_features() const { return weight_.rows(); }
  const Eigen::MatrixXf& weight() const { return weight_; }  // [out, in]
  const Eigen::VectorXf& bias() const { return bias_; }
  Eigen::MatrixXf& weight() { return weight_; }
  Eigen::VectorXf& bias() { return bias_; }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, in_features(), "Linear");
    Matrix y = x * weight_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  std::string kind() const override { return "Linear"; }
  std::size_t weight_bytes() const override {
    return sizeof(float) * static_cast<std::size_t>(weight_.size() + bias_.size());
  }
  Index weight_count() const override { return weight_.size(); }
  Eigen::MatrixXf dequantized_weight() const override { return weight_; }
  std::unique_ptr<Module> clone() const override { return std::make_unique<Linear>(*this); }

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
