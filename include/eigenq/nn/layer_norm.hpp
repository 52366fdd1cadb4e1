// LayerNorm over the features of each row, as torch.nn.LayerNorm(d) computes it:
// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance of the row.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class LayerNorm : public Module {
 public:
  LayerNorm() = default;
  LayerNorm(Eigen::VectorXf weight, Eigen::VectorXf bias, float eps = 1e-5f)
      : weight_(std::move(weight)), bias_(std::move(bias)), eps_(eps) {
    if (weight_.size() == 0 || weight_.size() != bias_.size()) {
      raise<ShapeError>("LayerNorm: weight has ", weight_.size(), " entries and bias ", bias_.size(),
                        " (expected the same, > 0)");
    }
    if (!(eps_ > 0.0f)) raise("LayerNorm: eps = ", eps_, " must be > 0");
  }

  Index features() const { return weight_.size(); }
  const Eigen::VectorXf& weight() const { return weight_; }
  const Eigen::VectorXf& bias() const { return bias_; }
  float eps() const { return eps_; }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, features(), "LayerNorm");
    Matrix y(x.rows(), x.cols());
    const double n = static_cast<double>(x.cols());
    for (Index r = 0; r < x.rows(); ++r) {
      // In double: rows whose mean is large against their spread lose digits to cancellation
      // in float (PyTorch's float kernel does; this is closer to the exact result).
      const Eigen::ArrayXd row = x.row(r).transpose().cast<double>().array();
      const double mean = row.sum() / n;
      const Eigen::ArrayXd centered = row - mean;
      const double inv = 1.0 / std::sqrt((centered.square().sum() / n) + static_cast<double>(eps_));
      y.row(r) = ((centered * inv).cast<float>() * weight_.array() + bias_.array()).matrix().transpose();
    }
    return y;
  }

  std::string kind() const override { return "LayerNorm"; }
  std::size_t weight_bytes() const override {
    return sizeof(float) * static_cast<std::size_t>(weight_.size() + bias_.size());
  }
  std::unique_ptr<Module> clone() const override { return std::make_unique<LayerNorm>(*this); }

 private:
  Eigen::VectorXf weight_;
  Eigen::VectorXf bias_;
  float eps_ = 1e-5f;
};

}  // namespace nn
}  // namespace eigenq
