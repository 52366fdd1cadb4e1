// InputScale: y = x / s per feature (column), the input scale that AWQ and SmoothQuant leave in
// front of a Linear whose input no previous layer can take the scales into (the model's
// input, the output of a GELU, a residual stream other layers read too). The Linear after it
// holds W diag(s), so the pair computes the float function W x.
//
//   model.add(eigenq::nn::InputScale(s)).add(layer_with_scaled_weight);
//
// Stored as float32 (one per feature): weight_bytes() counts them, weight_count() is 0 (they
// are not weights of a Linear).
#pragma once

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class InputScale : public Module {
 public:
  InputScale() = default;
  explicit InputScale(Eigen::VectorXf scales) : scales_(std::move(scales)) {
    if (scales_.size() == 0) raise<ShapeError>("InputScale: no scales");
    for (Index j = 0; j < scales_.size(); ++j) {
      if (!(scales_[j] > 0.0f) || !std::isfinite(scales_[j])) {
        raise("InputScale: scale [", j, "] = ", scales_[j], " is not positive and finite");
      }
    }
    inverse_ = scales_.cwiseInverse();
  }

  Index features() const { return scales_.size(); }
  // s: the layer computes x / s.
  const Eigen::VectorXf& scales() const { return scales_; }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, features(), "InputScale");
    return x * inverse_.asDiagonal();
  }

  std::string kind() const override { return "InputScale"; }
  std::size_t weight_bytes() const override { return sizeof(float) * static_cast<std::size_t>(scales_.size()); }
  std::unique_ptr<Module> clone() const override { return std::make_unique<InputScale>(*this); }

 private:
  Eigen::VectorXf scales_;
  Eigen::VectorXf inverse_;
};

}  // namespace nn
}  // namespace eigenq
