// Rescalings of a float Sequential that leave its function unchanged and make it easier to
// quantize: cross-layer equalization of Linear -> ReLU -> Linear pairs, SmoothQuant, and the
// folding of a layer's per-input-channel scales into the layer before it.
//
//   auto eq = eigenq::nn::equalize(model);                           // CLE (Nagel et al. 2019)
//   auto sq = eigenq::nn::smooth(model, X_calib);                    // SmoothQuant, alpha 0.5
//   auto q  = eigenq::nn::quantize_static(sq, X_calib);             // or StaticQuantOptions::smoothquant
//
// Input scales s of the Linear at position i (it then holds W diag(s) and must be fed x / s) go
// into the layer before it when that layer is linear in its output channels
// (fold_input_scales): a FloatLinear right before it, a FloatLinear then a ReLU (ReLU is
// positively homogeneous), or a LayerNorm; otherwise an InputScale module is inserted in
// front of it (the model's input, after a GELU, ...).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/methods/equalization.hpp"
#include "eigenq/methods/scale_folding.hpp"
#include "eigenq/methods/smoothquant.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/input_scale.hpp"
#include "eigenq/nn/layer_norm.hpp"
#include "eigenq/nn/model_statistics.hpp"
#include "eigenq/nn/sequential.hpp"

namespace eigenq {
namespace nn {
namespace detail {

inline bool is_relu_layer(const Module& m) { return dynamic_cast<const ReLU*>(&m) != nullptr; }

// The position of the layer that can take the input scales of layer i, if any: a FloatLinear
// at i - 1, a FloatLinear at i - 2 followed by a ReLU, or a LayerNorm at i - 1.
inline std::optional<std::size_t> scale_sink(const Sequential& model, std::size_t i) {
  if (i >= 1 && (float_linear_at(model, i - 1) != nullptr || dynamic_cast<const LayerNorm*>(&model[i - 1]) != nullptr)) {
    return i - 1;
  }
  if (i >= 2 && is_relu_layer(model[i - 1]) && float_linear_at(model, i - 2) != nullptr) return i - 2;
  return std::nullopt;
}

// Divides the output channels of layer `sink` (a FloatLinear or LayerNorm) by s.
inline void fold_into_layer(Sequential& model, std::size_t sink, const Eigen::VectorXf& s) {
  if (const FloatLinear* l = float_linear_at(model, sink)) {
    FloatLinear folded = *l;
    fold_input_scales_into_linear(folded.weight(), &folded.bias(), s);
    model.replace(sink, std::make_unique<FloatLinear>(std::move(folded)));
    return;
  }
  if (const auto* ln = dynamic_cast<const LayerNorm*>(&model[sink])) {
    Eigen::VectorXf gamma = ln->weight();
    Eigen::VectorXf beta = ln->bias();
    fold_input_scales_into_layer_norm(gamma, beta, s);
    model.replace(sink, std::make_unique<LayerNorm>(std::move(gamma), std::move(beta), ln->eps()));
    return;
  }
  raise("fold_into_layer: layer ", sink, " (", model[sink].kind(), ") cannot take input scales");
}

// A copy of `model` with an InputScale(s) inserted before position i.
inline Sequential insert_input_scale(const Sequential& model, std::size_t i, const Eigen::VectorXf& s) {
  Sequential out;
  for (std::size_t j = 0; j < model.size(); ++j) {
    if (j == i) out.add(InputScale(s));
    out.add(model[j].clone());
  }
  return out;
}

// The input scales of the layer at `pos` go into the layer before it, or an InputScale.
// Returns whether they were folded (else the model grew by one layer before `pos`).
inline bool place_input_scales(Sequential& model, std::size_t pos, const Eigen::VectorXf& s) {
  if (const std::optional<std::size_t> sink = scale_sink(model, pos)) {
    fold_into_layer(model, *sink, s);
    return true;
  }
  model = insert_input_scale(model, pos, s);
  return false;
}

}  // namespace detail

// Cross-layer equalization (methods/equalization.hpp) of every FloatLinear -> ReLU ->
// FloatLinear pair, front to back; `sweeps` passes over the model (a layer between two pairs
// is rescaled by both, so repeating converges, as Nagel et al. iterate). The function is unchanged.
inline Sequential equalize(const Sequential& model, int sweeps = 1) {
  if (sweeps < 1) raise("equalize: sweeps = ", sweeps, " must be >= 1");
  Sequential out = model;
  for (int sweep = 0; sweep < sweeps; ++sweep) {
    for (std::size_t i = 0; i + 2 < out.size(); ++i) {
      const FloatLinear* a = detail::float_linear_at(out, i);
      const FloatLinear* b = detail::float_linear_at(out, i + 2);
      if (a == nullptr || b == nullptr || !detail::is_relu_layer(out[i + 1])) continue;
      FloatLinear first = *a;
      FloatLinear second = *b;
      eigenq::equalize(first.weight(), first.bias(), second.weight());
      out.replace(i, std::make_unique<FloatLinear>(std::move(first)));
      out.replace(i + 2, std::make_unique<FloatLinear>(std::move(second)));
    }
  }
  return out;
}

// SmoothQuant (methods/smoothquant.hpp) on every FloatLinear, from the statistics of its input
// (stats[k] for the k-th FloatLinear, with in_abs_max; as collect_linear_statistics gives them
// for `model`). Layers are taken back to front, each one's scales from its input's maxima and
// its weight as it is then, folded into the layer before it or kept as an InputScale.
inline Sequential smooth(const Sequential& model, const std::vector<CalibrationStats>& stats,
                         const SmoothQuantOptions& options = {}) {
  Sequential out = model;
  std::vector<std::size_t> pos = detail::float_linear_positions(out);
  if (stats.size() != pos.size()) {
    raise<ShapeError>("smooth: statistics for ", stats.size(), " Linear layers, the model has ", pos.size());
  }
  for (std::size_t k = pos.size(); k-- > 0;) {
    FloatLinear layer = *detail::float_linear_at(out, pos[k]);
    if (stats[k].in != layer.in_features()) {
      raise<ShapeError>("smooth: the statistics of Linear ", k, " have ", stats[k].in, " input features, the layer ",
                        layer.in_features());
    }
    const Eigen::VectorXf s = smoothquant_scales(stats[k], {&layer.weight()}, options);
    scale_columns(layer.weight(), s);
    out.replace(pos[k], std::make_unique<FloatLinear>(std::move(layer)));
    detail::place_input_scales(out, pos[k], s);  // an inserted InputScale shifts only later layers
  }
  return out;
}

// The same, with the statistics collected on the calibration batches.
template <class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
Sequential smooth(const Sequential& model, const Calibration& calibration, const SmoothQuantOptions& options = {}) {
  return smooth(model, collect_linear_statistics(model, calibration, {/*hessian=*/false}), options);
}

}  // namespace nn
}  // namespace eigenq
