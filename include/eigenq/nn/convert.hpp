// Model conversion: the two flows of the seed document, and mixed precision.
//
//   auto dyn = eigenq::nn::quantize_dynamic(model);                 // torch quantize_dynamic
//   auto full = eigenq::nn::quantize_static(model, calibration);    // TFLite full-integer int8;
//                                                     // calibration: one [batch, in] matrix or a range of them
//   auto mix = eigenq::nn::quantize_mixed(model, {layer_schemes::int8_dynamic(),
//                                                 layer_schemes::int4_grouped(32), ...});
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
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/kl_entropy.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/mse_clip.hpp"
#include "eigenq/calibrate/percentile.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/nn/channel_mixed_linear.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
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
};

namespace detail {

// Observes a stream of activation batches with the chosen calibrator and
// returns the per-tensor parameters.
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

// Whether T is an Eigen matrix or matrix expression (Matrix of either storage order, Map, Ref,
// a block...): deduction against MatrixBase<D> fails quietly for anything else.
template <class D>
std::true_type derives_from_matrix_base(const Eigen::MatrixBase<D>*);
std::false_type derives_from_matrix_base(...);
template <class T>
constexpr bool is_eigen_matrix_v = decltype(derives_from_matrix_base(std::declval<const T*>()))::value;

// Whether R is a range (std::begin/std::end) of Eigen matrices: std::vector, std::array, ...
// (Eigen 3.4 vectors have begin() too: an Eigen type is one batch, never a range.)
template <class R, class = void>
struct has_matrix_elements : std::false_type {};
template <class R>
struct has_matrix_elements<R, std::void_t<decltype(*std::begin(std::declval<const R&>())),
                                          decltype(std::end(std::declval<const R&>()))>>
    : std::bool_constant<is_eigen_matrix_v<std::decay_t<decltype(*std::begin(std::declval<const R&>()))>>> {};
template <class R>
struct is_batch_range : std::conjunction<std::bool_constant<!is_eigen_matrix_v<R>>, has_matrix_elements<R>> {};

// The conversion; for_each_batch(f) calls f(batch) on every calibration batch in order.
template <class ForEachBatch>
Sequential quantize_static_batches(const Sequential& model, bool no_batches, ForEachBatch&& for_each_batch,
                                   const StaticQuantOptions& options) {
  if (no_batches) raise("quantize_static: no calibration batches");
  // Blocks: a Linear, optionally with the ReLU after it.
  struct Block {
    const FloatLinear* linear;
    bool relu;
  };
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const FloatLinear* lin = as_float_linear(model[i]);
    if (lin == nullptr) {
      raise("quantize_static: layer ", i, " (", model[i].kind(),
            ") is not a FloatLinear, or a ReLU following one");
    }
    const bool relu = i + 1 < model.size() && is_relu(model[i + 1]);
    blocks.push_back({lin, relu});
    if (relu) ++i;
  }
  const Index in_features = blocks.empty() ? 0 : blocks.front().linear->in_features();
  // Boundary b is the input of block b (b = blocks.size(): the model's output).
  std::vector<ActivationCalibrator> boundaries(blocks.size() + 1, ActivationCalibrator(options));
  std::size_t batch = 0;
  for_each_batch([&](const auto& calibration_batch) {
    Matrix x = calibration_batch;  // row-major whatever the batch's storage order: the same values
    if (!blocks.empty() && (x.rows() == 0 || x.cols() != in_features)) {
      raise<ShapeError>("quantize_static: calibration batch ", batch, " has shape ", to_string(Shape{x.rows(), x.cols()}),
                        ", expected [batch, ", in_features, "] (one example per row, batch >= 1)");
    }
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      boundaries[b].observe(x);
      x = blocks[b].linear->forward(x);
      if (blocks[b].relu) x = x.cwiseMax(0.0f);
    }
    boundaries.back().observe(x);
    ++batch;
  });
  Sequential out;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    out.add(StaticLinear(blocks[b].linear->weight(), blocks[b].linear->bias(), boundaries[b].params(),
                         boundaries[b + 1].params(), blocks[b].relu, options.layer));
  }
  return out;
}

// The same over a range of batches.
template <class Range>
Sequential quantize_static_range(const Sequential& model, const Range& calibration, const StaticQuantOptions& options) {
  return quantize_static_batches(
      model, std::begin(calibration) == std::end(calibration),
      [&](auto&& f) {
        for (const auto& batch : calibration) f(batch);
      },
      options);
}

}  // namespace detail

// Calibrates every activation boundary on the model's float inputs, then converts each Linear
// (+ a following ReLU) into a StaticLinear. The model must start with a Linear.
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
// Throws InvalidArgument without a batch, ShapeError for a batch that is not [batch >= 1, in].
template <class Batch, std::enable_if_t<detail::is_eigen_matrix_v<Batch>, int> = 0>
Sequential quantize_static(const Sequential& model, const Batch& calibration, const StaticQuantOptions& options = {}) {
  return detail::quantize_static_batches(
      model, false, [&](auto&& f) { f(calibration); }, options);
}

template <class Range, std::enable_if_t<detail::is_batch_range<Range>::value, int> = 0>
Sequential quantize_static(const Sequential& model, const Range& calibration, const StaticQuantOptions& options = {}) {
  return detail::quantize_static_range(model, calibration, options);
}

// Row-major batches; also takes a braced list ({x1, x2}; {} has no batch and throws).
inline Sequential quantize_static(const Sequential& model, const std::vector<Matrix>& calibration,
                                  const StaticQuantOptions& options = {}) {
  return detail::quantize_static_range(model, calibration, options);
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
