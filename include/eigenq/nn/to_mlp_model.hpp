// Analysis of an nn::Sequential of float Linear and ReLU layers: converts it to an
// MlpModel (weights copied), whose points are "fc<k>.weight" and "fc<k>.output" for the
// k-th Linear layer (1-based), a ReLU right after a Linear folded into it.
//
//   eigenq::MlpModel m = eigenq::to_mlp_model(sequential);
//   auto report = eigenq::analyze_sensitivity(m, X_calib);
#pragma once

#include <string>

#include "eigenq/analysis/mlp_model.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/sequential.hpp"

namespace eigenq {

inline MlpModel to_mlp_model(const nn::Sequential& model) {
  MlpModel out;
  struct Pending {
    const nn::FloatLinear* linear = nullptr;
    bool relu = false;
  } pending;
  int count = 0;
  auto flush = [&] {
    if (pending.linear == nullptr) return;
    out.add_layer("fc" + std::to_string(++count), pending.linear->weight(), pending.linear->bias(), pending.relu);
    pending = Pending{};
  };
  for (std::size_t i = 0; i < model.size(); ++i) {
    const nn::Module& m = model[i];
    if (const auto* linear = dynamic_cast<const nn::FloatLinear*>(&m)) {
      flush();
      pending.linear = linear;
    } else if (dynamic_cast<const nn::ReLU*>(&m) != nullptr && pending.linear != nullptr && !pending.relu) {
      pending.relu = true;
    } else {
      raise("to_mlp_model: layer ", i, " (", m.kind(),
            ") is not supported; expected float FloatLinear layers, each optionally followed by one ReLU");
    }
  }
  flush();
  if (count == 0) raise("to_mlp_model: the model has no FloatLinear layer");
  return out;
}

}  // namespace eigenq
