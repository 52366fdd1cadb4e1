// GELU with the exact Gaussian CDF, as torch.nn.GELU() (approximate="none"):
// y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))).
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class GELU : public Module {
 public:
  Matrix forward(const Matrix& x) const override {
    return x.unaryExpr([](float v) { return 0.5f * v * (1.0f + std::erf(v * 0.70710678118654752f)); });
  }
  std::string kind() const override { return "GELU"; }
  std::unique_ptr<Module> clone() const override { return std::make_unique<GELU>(*this); }
};

}  // namespace nn
}  // namespace eigenq
