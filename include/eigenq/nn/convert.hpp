// Model conversion: the two flows of the seed document, and mixed precision.
//
//   auto dyn = eigenq::nn::quantize_dynamic(model);                 // torch quantize_dynamic
//   auto full = eigenq::nn::quantize_static(model, calibration);    // TFLite full-integer int8;
//                                                     // calibration: one [batch, in] matrix or a range of them
//   auto mix = eigenq::nn::quantize_mixed(model, {layer_schemes::int8_dynamic(),
//                                                 layer_schemes::int4_grouped(32), ...});
//
// With calibration-driven options (StaticQuantOptions / DynamicQuantOptions): SmoothQuant,
// cross-layer equalization and bias correction:
//   StaticQuantOptions o;  o.smoothquant = SmoothQuantOptions{};  o.bias_correction = true;
//   auto sq = eigenq::nn::quantize_static(model, calibration, o);
//   auto dq = eigenq::nn::quantize_dynamic(model, calibration, DynamicQuantOptions{...});
// GPTQ, AWQ and importance-weighted rounding: convert_methods.hpp.
//
// Each returns a new Sequential; the float model is left as it is. Layers other
// than Linear (ReLU) are kept, except that quantize_static fuses a ReLU that
// follows a Linear into the StaticLinear's clamp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/calibrate/kl_entropy.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/mse_clip.hpp"
#include "eigenq/calibrate/percentile.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/methods/bias_correction.hpp"
#include "eigenq/methods/smoothquant.hpp"
#include "eigenq/nn/channel_mixed_linear.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/input_scale.hpp"
#include "eigenq/nn/model_statistics.hpp"
#include "eigenq/nn/rescale.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"
#include "eigenq/nn/weight_only_linear.hpp"
#include "eigenq/policy/linear.hpp"

namespace eigenq {
namespace nn {

namespace detail {

inline const FloatLinear* as_float_linear(const Module& m) { return dynamic_cast<const FloatLinear*>(&m); }
inline bool is_relu(const Module& m) { return dynamic_cast<const ReLU*>(&m) != nullptr; }

// Copies `model`, replacing every float Linear with make(linear, index among Linears).
inline Sequential replace_linears(const Sequential& model,
                                  const std::function<std::unique_ptr<Module>(const FloatLinear&, std::size_t)>& make) {
  Sequential out;
  std::size_t linear_index = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (const FloatLinear* lin = as_float_linear(model[i])) {
      out.add(make(*lin, linear_index++));
    } else {
      out.add(model[i].clone());
    }
  }
  return out;
}

}  // namespace detail

// ---- dynamic (PyTorch quantize_dynamic) ---------------------------------------------------

inline Sequential quantize_dynamic(const Sequential& model, const DynamicLinearOptions& options = {}) {
  return detail::replace_linears(model, [&](const FloatLinear& lin, std::size_t) {
    return std::make_unique<DynamicLinear>(lin, options);
  });
}

// ---- weight-only int4 groups ---------------------------------------------------------------

inline Sequential quantize_grouped(const Sequential& model, const GroupedLinearOptions& options = {}) {
  return detail::replace_linears(model, [&](const FloatLinear& lin, std::size_t) {
    return std::make_unique<GroupedLinear>(lin, options);
  });
}

// ---- static full-integer (TFLite int8 conversion) ------------------------------------------

enum class Calibration { minmax, percentile, mse, kl };

struct StaticQuantOptions {
  Calibration calibration = Calibration::minmax;
  double percentile = 99.99;  // for Calibration::percentile
  StaticLinearOptions layer;
  // Activations: int8 affine with TFLite's parameter choice.
  eigenq::Linear<std::int8_t> activation_policy = eigenq::Linear<std::int8_t>::affine(Profile::tflite);
  // Before calibration: cross-layer equalization of FloatLinear -> ReLU -> FloatLinear pairs
  // (nn/rescale.hpp).
  bool equalization = false;
  // SmoothQuant on every Linear's input (nn/rescale.hpp): scales folded into the previous
  // Linear, or an InputScale kept in float in front of the first one.
  std::optional<SmoothQuantOptions> smoothquant;
  // Empirical bias correction of every layer: b += (W - W^) E[x], E[x] over the calibration
  // inputs of the (rescaled) float model (methods/bias_correction.hpp).
  bool bias_correction = false;
};

// Observes a stream of activation batches with the calibrator of `options` (min-max,
// percentile, MSE, KL) and returns the per-tensor parameters of options.activation_policy:
// what quantize_static calibrates every boundary with, for models it does not convert itself.
class ActivationCalibrator {
 public:
  explicit ActivationCalibrator(const StaticQuantOptions& o) : options_(o) {}

  void observe(const Matrix& batch) {
    switch (options_.calibration) {
      case Calibration::minmax: minmax_.observe(batch); break;
      case Calibration::percentile: percentile_.observe(batch); break;
      case Calibration::mse: mse_.observe(batch); break;
      case Calibration::kl: kl_.observe(batch); break;
    }
  }

  LinearParams params() const {
    const auto& pol = options_.activation_policy;
    switch (options_.calibration) {
      case Calibration::minmax: return minmax_.params(pol).front();
      case Calibration::percentile: return percentile_.params(pol).front();
      case Calibration::mse: return mse_.params(pol).front();
      case Calibration::kl: return kl_.params(pol).front();
    }
    return {};
  }

 private:
  StaticQuantOptions options_;
  MinMaxObserver minmax_{PerTensor{}};
  PercentileObserver percentile_{PerTensor{}, options_.percentile};
  MseClipObserver mse_{PerTensor{}};
  KlEntropyObserver kl_{PerTensor{}};
};

namespace detail {

// The model's structure for quantize_static: Linear layers (each with the ReLU after it, if
// any), and InputScale layers kept in float in front of them.
struct StaticBlock {
  std::size_t position;
  const FloatLinear* linear;  // null: a float layer kept as it is (an InputScale)
  bool relu;
};

inline std::vector<StaticBlock> static_blocks(const Sequential& model) {
  std::vector<StaticBlock> blocks;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (dynamic_cast<const InputScale*>(&model[i]) != nullptr) {
      blocks.push_back({i, nullptr, false});
      continue;
    }
    const FloatLinear* lin = as_float_linear(model[i]);
    if (lin == nullptr) {
      raise("quantize_static: layer ", i, " (", model[i].kind(),
            ") is not a FloatLinear, or a ReLU following one (or an InputScale)");
    }
    const bool relu = i + 1 < model.size() && is_relu(model[i + 1]);
    blocks.push_back({i, lin, relu});
    if (relu) ++i;
  }
  return blocks;
}

// The conversion, on row-major batches.
inline Sequential quantize_static_batches(const Sequential& float_model, const std::vector<Matrix>& batches,
                                          const StaticQuantOptions& options) {
  // Equalization and SmoothQuant rescale the float model first; the rest calibrates that one.
  Sequential model = options.equalization ? equalize(float_model) : float_model;
  if (options.smoothquant) {
    model = smooth(model, linear_statistics(model, batches, {/*hessian=*/false}), *options.smoothquant);
  }
  const std::vector<StaticBlock> blocks = static_blocks(model);
  // The input and the output (after its ReLU) of every Linear block, calibrated apart: where one
  // Linear feeds the next they see the same values and get the same parameters, so the two
  // layers pass int8 codes to each other; an InputScale between them runs in float.
  std::vector<ActivationCalibrator> input_cal(blocks.size(), ActivationCalibrator(options));
  std::vector<ActivationCalibrator> output_cal(blocks.size(), ActivationCalibrator(options));
  std::vector<CalibrationStatsObserver> inputs;  // bias correction: E[x] of every Linear's input
  for (const StaticBlock& b : blocks) {
    inputs.emplace_back(b.linear ? b.linear->in_features() : 1, CalibrationStatsOptions{/*hessian=*/false});
  }
  for (const Matrix& batch : batches) {
    Matrix x = batch;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      if (blocks[b].linear == nullptr) {
        x = model[blocks[b].position].forward(x);
        continue;
      }
      input_cal[b].observe(x);
      if (options.bias_correction) inputs[b].observe(x);
      x = blocks[b].linear->forward(x);
      if (blocks[b].relu) x = x.cwiseMax(0.0f);
      output_cal[b].observe(x);
    }
  }
  Sequential out;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    if (blocks[b].linear == nullptr) {
      out.add(model[blocks[b].position].clone());
      continue;
    }
    const FloatLinear& lin = *blocks[b].linear;
    Eigen::VectorXf bias = lin.bias();
    if (options.bias_correction) {
      const Quantizer<eigenq::Linear<std::int8_t>, PerChannel> q(options.layer.weight_policy, PerChannel{0});
      correct_bias(bias, lin.weight(), q.quantize(lin.weight()).template dequantize<Eigen::MatrixXf>(), inputs[b].stats());
    }
    out.add(StaticLinear(lin.weight(), bias, input_cal[b].params(), output_cal[b].params(), blocks[b].relu, options.layer));
  }
  return out;
}

}  // namespace detail

namespace detail {

template <class Calibration>
Sequential quantize_static_any(const Sequential& model, const Calibration& calibration, const StaticQuantOptions& options) {
  const std::vector<StaticBlock> blocks = static_blocks(model);  // the structure first
  Index in = 0;
  for (const StaticBlock& b : blocks) {
    if (b.linear != nullptr) {
      in = b.linear->in_features();
      break;
    }
  }
  if (in == 0) {  // no Linear: nothing to calibrate, but the batches must exist
    if constexpr (!is_eigen_matrix_v<Calibration>) {
      if (std::begin(calibration) == std::end(calibration)) raise("quantize_static: no calibration batches");
    }
    return quantize_static_batches(model, {}, options);
  }
  return quantize_static_batches(model, calibration_batches(calibration, in, "quantize_static"), options);
}

}  // namespace detail

// Calibrates every activation boundary on the model's float inputs, then converts each Linear
// (+ a following ReLU) into a StaticLinear. The model must start with a Linear (or an
// InputScale).
//
// A calibration batch is a matrix [batch, in]: one example per row, `in` the first layer's
// input features, like the inputs of forward(). It may be any Eigen matrix or expression, of
// either storage order (Matrix, Map, Ref, a block); a column-major batch gives exactly the
// model its row-major copy gives. `calibration` is one batch, or a range of batches
// (std::vector, std::array, ... of Eigen matrices, observed in order):
//
//   auto q = eigenq::nn::quantize_static(model, X_calib);                  // one [N, in] matrix
//   auto q = eigenq::nn::quantize_static(model, std::vector<Eigen::MatrixXf>{x1, x2});
//
// Options beyond the calibrator (StaticQuantOptions): equalization (cross-layer equalization of
// Linear -> ReLU -> Linear pairs), smoothquant (SmoothQuant scales, folded into the previous
// Linear or kept as an InputScale in front of the first), bias_correction (b += (W - W^) E[x]).
//
// Throws InvalidArgument without a batch, ShapeError for a batch that is not [batch >= 1, in].
template <class Batch, std::enable_if_t<detail::is_eigen_matrix_v<Batch>, int> = 0>
Sequential quantize_static(const Sequential& model, const Batch& calibration, const StaticQuantOptions& options = {}) {
  return detail::quantize_static_any(model, calibration, options);
}

template <class Range, std::enable_if_t<detail::is_batch_range<Range>::value, int> = 0>
Sequential quantize_static(const Sequential& model, const Range& calibration, const StaticQuantOptions& options = {}) {
  return detail::quantize_static_any(model, calibration, options);
}

// Row-major batches; also takes a braced list ({x1, x2}; {} has no batch and throws).
inline Sequential quantize_static(const Sequential& model, const std::vector<Matrix>& calibration,
                                  const StaticQuantOptions& options = {}) {
  return detail::quantize_static_any(model, calibration, options);
}

// ---- dynamic with calibration: SmoothQuant, bias correction, equalization -------------------

struct DynamicQuantOptions {
  DynamicLinearOptions layer;
  bool equalization = false;                      // CLE of Linear -> ReLU -> Linear pairs first
  std::optional<SmoothQuantOptions> smoothquant;  // SmoothQuant scales, folded or an InputScale
  bool bias_correction = false;                   // b += (W - W^) E[x] over the calibration inputs
};

// quantize_dynamic after the rescalings and with the bias correction of `options`, which read
// the calibration batches (one [batch, in] matrix or a range of them). Layers other than
// FloatLinear are kept (they run in float).
template <class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
Sequential quantize_dynamic(const Sequential& float_model, const Calibration& calibration,
                            const DynamicQuantOptions& options = {}) {
  const Index in = detail::model_input_features(float_model);
  if (in == 0) raise("quantize_dynamic: the model has no FloatLinear layer");
  const std::vector<Matrix> batches = detail::calibration_batches(calibration, in, "quantize_dynamic");
  Sequential model = options.equalization ? equalize(float_model) : float_model;
  if (options.smoothquant) {
    model = smooth(model, detail::linear_statistics(model, batches, {/*hessian=*/false}), *options.smoothquant);
  }
  std::vector<CalibrationStats> stats;
  if (options.bias_correction) stats = detail::linear_statistics(model, batches, {/*hessian=*/false});
  return detail::replace_linears(model, [&](const FloatLinear& lin, std::size_t k) {
    auto layer = std::make_unique<DynamicLinear>(lin, options.layer);
    if (!options.bias_correction) return layer;
    Eigen::VectorXf bias = lin.bias();
    correct_bias(bias, lin.weight(), layer->dequantized_weight(), stats[k]);
    return std::make_unique<DynamicLinear>(layer->weight(), std::move(bias), options.layer);
  });
}

// ---- mixed precision -----------------------------------------------------------------------

// How one Linear layer is converted: a name (matching the analysis scheme that
// chose it) and a factory.
struct LayerScheme {
  std::string name;
  std::function<std::unique_ptr<Module>(const FloatLinear&)> make;
  // The layer quantizes its output channels independently (per-channel or in-row group
  // weights), so it can compute a subset of channels inside a ChannelMixedLinear and give
  // the same result as on the whole layer.
  bool rows_independent = false;
};

namespace layer_schemes {

inline LayerScheme float32() {
  return {"float32", [](const FloatLinear& l) { return std::make_unique<FloatLinear>(l); }, true};
}

inline LayerScheme int8_dynamic(const DynamicLinearOptions& o = {}, std::string name = "int8-per-channel") {
  return {std::move(name), [o](const FloatLinear& l) { return std::make_unique<DynamicLinear>(l, o); },
          o.per_channel_weights};
}

inline LayerScheme int4_grouped(Index group = 32, std::string name = "") {
  if (name.empty()) name = "int4-g" + std::to_string(group);
  return {std::move(name), [group](const FloatLinear& l) {
            GroupedLinearOptions o;
            o.group_size = group;
            return std::make_unique<GroupedLinear>(l, o);
          },
          true};
}

// Any policy and granularity, stored quantized, computed in float.
template <class Policy, class G>
LayerScheme weight_only(std::string name, Quantizer<Policy, G> quantizer) {
  return {name,
          [name, quantizer](const FloatLinear& l) { return std::make_unique<WeightOnlyLinear<Policy>>(l, quantizer, name); },
          quantizes_rows_independently(quantizer.granularity())};
}

}  // namespace layer_schemes

namespace detail {

// The first of `candidates` named `name`; `caller` names the conversion in the error.
inline const LayerScheme& find_layer_scheme(const std::vector<LayerScheme>& candidates, const std::string& name,
                                            const char* caller) {
  for (const auto& c : candidates) {
    if (c.name == name) return c;
  }
  raise(caller, ": no layer scheme named '", name, "' among the candidates");
}

}  // namespace detail

// One scheme per float Linear, in order.
inline Sequential quantize_mixed(const Sequential& model, const std::vector<LayerScheme>& plan) {
  std::size_t linears = 0;
  for (std::size_t i = 0; i < model.size(); ++i) linears += detail::as_float_linear(model[i]) != nullptr;
  if (plan.size() != linears) {
    raise<ShapeError>("quantize_mixed: the plan has ", plan.size(), " schemes for ", linears, " FloatLinear layers");
  }
  return detail::replace_linears(model, [&](const FloatLinear& lin, std::size_t k) {
    if (!plan[k].make) raise("quantize_mixed: scheme '", plan[k].name, "' has no layer factory");
    return plan[k].make(lin);
  });
}

// The same, choosing each layer's scheme by name among `candidates` (the names a
// mixed-precision selection returned).
inline Sequential quantize_mixed(const Sequential& model, const std::vector<std::string>& names,
                                 const std::vector<LayerScheme>& candidates) {
  std::vector<LayerScheme> plan;
  for (const std::string& n : names) plan.push_back(detail::find_layer_scheme(candidates, n, "quantize_mixed"));
  return quantize_mixed(model, plan);
}

// Per-channel mixed precision: row_schemes[k][r] names the scheme (among `candidates`) of
// output channel r of the k-th Linear, as MixedPrecisionResult::choices[k].row_schemes gives
// it. A layer whose channels all use one scheme becomes that plain layer; otherwise a
// ChannelMixedLinear with one part per scheme (the part's rows, in increasing order), and
// every scheme it uses must be rows_independent.
inline Sequential quantize_mixed_per_channel(const Sequential& model,
                                             const std::vector<std::vector<std::string>>& row_schemes,
                                             const std::vector<LayerScheme>& candidates) {
  std::size_t linears = 0;
  for (std::size_t i = 0; i < model.size(); ++i) linears += detail::as_float_linear(model[i]) != nullptr;
  if (row_schemes.size() != linears) {
    raise<ShapeError>("quantize_mixed_per_channel: the plan has ", row_schemes.size(), " layers for ", linears,
                      " FloatLinear layers");
  }
  auto find = [&](const std::string& n) -> const LayerScheme& {
    const LayerScheme& c = detail::find_layer_scheme(candidates, n, "quantize_mixed_per_channel");
    if (!c.make) raise("quantize_mixed_per_channel: scheme '", n, "' has no layer factory");
    return c;
  };
  return detail::replace_linears(model, [&](const FloatLinear& lin, std::size_t k) -> std::unique_ptr<Module> {
    const std::vector<std::string>& names = row_schemes[k];
    if (static_cast<Index>(names.size()) != lin.out_features()) {
      raise<ShapeError>("quantize_mixed_per_channel: layer ", k, " has ", lin.out_features(),
                        " output channels, the plan names ", names.size());
    }
    // Parts in order of first use.
    std::vector<std::string> part_names;
    std::vector<std::uint8_t> row_part(names.size());
    for (std::size_t r = 0; r < names.size(); ++r) {
      std::size_t p = 0;
      while (p < part_names.size() && part_names[p] != names[r]) ++p;
      if (p == part_names.size()) {
        if (p == 256) raise("quantize_mixed_per_channel: layer ", k, " uses more than 256 schemes");
        part_names.push_back(names[r]);
      }
      row_part[r] = static_cast<std::uint8_t>(p);
    }
    if (part_names.size() == 1) return find(part_names.front()).make(lin);
    for (const std::string& n : part_names) {
      if (!find(n).rows_independent) {
        raise("quantize_mixed_per_channel: scheme '", n, "' of layer ", k,
              " does not quantize output channels independently (per-tensor parameters?), so it cannot "
              "compute a subset of them");
      }
    }
    std::vector<std::unique_ptr<Module>> parts;
    for (std::size_t p = 0; p < part_names.size(); ++p) {
      std::vector<Index> rows;
      for (std::size_t r = 0; r < names.size(); ++r) {
        if (row_part[r] == p) rows.push_back(static_cast<Index>(r));
      }
      Eigen::MatrixXf w(static_cast<Index>(rows.size()), lin.in_features());
      Eigen::VectorXf b(static_cast<Index>(rows.size()));
      for (std::size_t c = 0; c < rows.size(); ++c) {
        w.row(static_cast<Index>(c)) = lin.weight().row(rows[c]);
        b(static_cast<Index>(c)) = lin.bias()(rows[c]);
      }
      parts.push_back(find(part_names[p]).make(FloatLinear(std::move(w), std::move(b))));
    }
    return std::make_unique<ChannelMixedLinear>(std::move(parts), std::move(row_part));
  });
}

}  // namespace nn
}  // namespace eigenq
