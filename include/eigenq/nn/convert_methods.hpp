// Model conversion with the methods beyond round to nearest (methods/): GPTQ, AWQ and
// importance-weighted rounding of every FloatLinear of a Sequential, from calibration batches
// or from statistics of each Linear's input.
//
//   auto q4 = eigenq::Quantizer(eigenq::Linear<int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128});
//   auto g = eigenq::nn::quantize_gptq(model, X_calib, q4);      // WeightOnlyLinear<Linear<int8_t>> layers
//   auto a = eigenq::nn::quantize_awq(model, X_calib, q4);       // scales folded where the model allows
//   auto w = eigenq::nn::quantize_weighted(model, X_calib, q4);  // importance-weighted rounding
//   auto s = eigenq::nn::quantize_gptq(model, stats, q4);        // stats[k]: the k-th Linear's input
//
// Layers other than FloatLinear are kept. Each FloatLinear becomes a WeightOnlyLinear of the
// quantizer's policy (the codes the method chose, the quantizer's granularity), or, with
// int4_kernel, a GroupedLinear when the result is int4 symmetric in groups of 32 or 128 along
// the input (the int4 GEMV; it quantizes activations to int8 per group and stores f16 scales).
//
// GPTQ (sequential, the default) quantizes the Linears in order, each from the statistics of its
// inputs in the model whose earlier Linears are already quantized, as the reference does block
// by block; sequential = false takes every Linear's statistics from the float model.
// AWQ takes statistics from the float model and the Linears back to front; each one's input
// scales s go into the layer before it (a FloatLinear, a FloatLinear + ReLU, or a LayerNorm:
// rescale.hpp) or, where there is none, into an InputScale module inserted in front of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/methods/awq.hpp"
#include "eigenq/methods/gptq.hpp"
#include "eigenq/methods/weighted_rounding.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/model_statistics.hpp"
#include "eigenq/nn/rescale.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/weight_only_linear.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

struct GptqModelOptions {
  GptqOptions gptq;
  bool sequential = true;            // statistics from the partly quantized model (see above)
  bool int4_kernel = false;          // int4 symmetric g32/g128 results run as GroupedLinear
  std::string scheme_name = "gptq";  // the WeightOnlyLinear's scheme name (saved with the model)
};

struct AwqModelOptions {
  AwqOptions awq;
  bool int4_kernel = false;
  std::string scheme_name = "awq";
};

struct WeightedModelOptions {
  WeightedRoundingOptions weighted;
  bool int4_kernel = false;
  std::string scheme_name = "weighted";
};

namespace detail {

// The layer for a quantized weight: a GroupedLinear when asked for and the weight is int4
// symmetric in groups of 32 or 128 along its input, else a WeightOnlyLinear.
template <class Policy>
std::unique_ptr<Module> weight_layer(QTensor<Policy> w, Eigen::VectorXf bias, const std::string& name, bool int4_kernel) {
  if constexpr (std::is_same_v<Policy, eigenq::Linear<std::int8_t>>) {
    const Granularity& g = w.granularity();
    bool fits = int4_kernel && w.rank() == 2 && w.bits() == 4 && g.kind == Granularity::Kind::group && g.axis == 1 &&
                (g.group_size == 32 || g.group_size == 128) && w.shape()[1] % g.group_size == 0;
    for (const auto& p : w.params()) fits = fits && p.zero_point == 0;
    if (fits) {
      GroupedLinearOptions o;
      o.group_size = g.group_size;
      return std::make_unique<GroupedLinear>(std::move(w), std::move(bias), o);
    }
  }
  return std::make_unique<WeightOnlyLinear<Policy>>(std::move(w), std::move(bias), name);
}

inline void check_linear_statistics(const Sequential& model, const std::vector<CalibrationStats>& stats, const char* caller) {
  const std::vector<std::size_t> pos = float_linear_positions(model);
  if (pos.empty()) raise(caller, ": the model has no FloatLinear layer");
  if (stats.size() != pos.size()) {
    raise<ShapeError>(caller, ": statistics for ", stats.size(), " Linear layers, the model has ", pos.size());
  }
  for (std::size_t k = 0; k < pos.size(); ++k) {
    const Index in = float_linear_at(model, pos[k])->in_features();
    if (stats[k].in != in) {
      raise<ShapeError>(caller, ": the statistics of Linear ", k, " have ", stats[k].in, " input features, the layer ", in);
    }
  }
}

// Replaces every FloatLinear by quantize(layer, k) (k: its index among the Linears).
template <class Quantize>
Sequential replace_each_linear(const Sequential& model, Quantize&& quantize) {
  Sequential out = model;
  std::size_t k = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (const FloatLinear* l = float_linear_at(out, i)) out.replace(i, quantize(*l, k++));
  }
  return out;
}

}  // namespace detail

// ---- GPTQ ------------------------------------------------------------------------------------

// From statistics of each Linear's input (stats[k] for the k-th FloatLinear, with a Hessian).
template <class Policy, class G>
Sequential quantize_gptq(const Sequential& model, const std::vector<CalibrationStats>& stats,
                         const Quantizer<Policy, G>& quantizer, const GptqModelOptions& options = {}) {
  detail::check_linear_statistics(model, stats, "quantize_gptq");
  return detail::replace_each_linear(model, [&](const FloatLinear& l, std::size_t k) {
    return detail::weight_layer(gptq(l.weight(), stats[k], quantizer, options.gptq).weights, l.bias(),
                                options.scheme_name, options.int4_kernel);
  });
}

// From calibration batches (one [batch, in] matrix or a range of them).
template <class Policy, class G, class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
Sequential quantize_gptq(const Sequential& model, const Calibration& calibration, const Quantizer<Policy, G>& quantizer,
                         const GptqModelOptions& options = {}) {
  const Index in = detail::model_input_features(model);
  if (in == 0) raise("quantize_gptq: the model has no FloatLinear layer");
  std::vector<Matrix> xs = detail::calibration_batches(calibration, in, "quantize_gptq");
  if (!options.sequential) return quantize_gptq(model, detail::linear_statistics(model, xs, {}), quantizer, options);
  Sequential out = model;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (const FloatLinear* l = detail::float_linear_at(out, i)) {
      CalibrationStatsObserver obs(l->in_features());
      for (const Matrix& x : xs) obs.observe(x);
      out.replace(i, detail::weight_layer(gptq(l->weight(), obs.stats(), quantizer, options.gptq).weights, l->bias(),
                                          options.scheme_name, options.int4_kernel));
    }
    if (i + 1 < out.size()) {
      for (Matrix& x : xs) x = out[i].forward(x);
    }
  }
  return out;
}

// ---- AWQ -------------------------------------------------------------------------------------

// From statistics of each Linear's input in the float model (in_abs_sum, count, hessian).
template <class Policy, class G>
Sequential quantize_awq(const Sequential& model, const std::vector<CalibrationStats>& stats,
                        const Quantizer<Policy, G>& quantizer, const AwqModelOptions& options = {}) {
  detail::check_linear_statistics(model, stats, "quantize_awq");
  Sequential out = model;
  const std::vector<std::size_t> pos = detail::float_linear_positions(out);
  for (std::size_t k = pos.size(); k-- > 0;) {
    const FloatLinear layer = *detail::float_linear_at(out, pos[k]);  // rows already scaled by the next layer's fold
    AwqResult<Policy> r = awq(layer.weight(), stats[k], quantizer, options.awq);
    const bool unscaled = (r.input_scales.array() == 1.0f).all();
    out.replace(pos[k], detail::weight_layer(std::move(r.weights), layer.bias(), options.scheme_name, options.int4_kernel));
    if (!unscaled) detail::place_input_scales(out, pos[k], r.input_scales);
  }
  return out;
}

template <class Policy, class G, class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
Sequential quantize_awq(const Sequential& model, const Calibration& calibration, const Quantizer<Policy, G>& quantizer,
                        const AwqModelOptions& options = {}) {
  return quantize_awq(model, collect_linear_statistics(model, calibration), quantizer, options);
}

// ---- importance-weighted rounding ------------------------------------------------------------

// From statistics of each Linear's input (in_sum2 or a Hessian, and count; with a Hessian each
// row keeps round to nearest where that has the smaller layer error).
template <class Policy, class G>
Sequential quantize_weighted(const Sequential& model, const std::vector<CalibrationStats>& stats,
                             const Quantizer<Policy, G>& quantizer, const WeightedModelOptions& options = {}) {
  detail::check_linear_statistics(model, stats, "quantize_weighted");
  return detail::replace_each_linear(model, [&](const FloatLinear& l, std::size_t k) {
    return detail::weight_layer(weighted_rounding(l.weight(), stats[k], quantizer, options.weighted).weights, l.bias(),
                                options.scheme_name, options.int4_kernel);
  });
}

template <class Policy, class G, class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
Sequential quantize_weighted(const Sequential& model, const Calibration& calibration, const Quantizer<Policy, G>& quantizer,
                             const WeightedModelOptions& options = {}) {
  return quantize_weighted(model, collect_linear_statistics(model, calibration), quantizer, options);
}

}  // namespace nn
}  // namespace eigenq
