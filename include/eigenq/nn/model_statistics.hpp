// Calibration statistics of the Linear layers of a Sequential: for the k-th FloatLinear, those
// of its inputs on the calibration batches (methods/ reads them: GPTQ, AWQ, weighted rounding,
// SmoothQuant, bias correction).
//
//   std::vector<eigenq::CalibrationStats> s = eigenq::nn::collect_linear_statistics(model, X_calib);
//   s[0].hessian;     // the first Linear's H = sum x x^T
//
// Calibration is one batch [batch, in] (any Eigen matrix or expression) or a range of them, as
// for quantize_static.
#pragma once

#include <cstddef>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/sequential.hpp"

namespace eigenq {
namespace nn {
namespace detail {

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

// One batch or a range of batches, as the conversions take calibration data.
template <class C>
constexpr bool is_calibration_v = is_eigen_matrix_v<C> || is_batch_range<C>::value;

// The calibration batches as row-major matrices, each checked to be [rows >= 1, in].
template <class Calibration>
std::vector<Matrix> calibration_batches(const Calibration& calibration, Index in, const char* caller) {
  std::vector<Matrix> out;
  if constexpr (is_eigen_matrix_v<Calibration>) {
    out.emplace_back(calibration);
  } else {
    for (const auto& batch : calibration) out.emplace_back(batch);
  }
  if (out.empty()) raise(caller, ": no calibration batches");
  for (std::size_t b = 0; b < out.size(); ++b) {
    if (out[b].rows() == 0 || out[b].cols() != in) {
      raise<ShapeError>(caller, ": calibration batch ", b, " has shape ", to_string(Shape{out[b].rows(), out[b].cols()}),
                        ", expected [batch, ", in, "] (one example per row, batch >= 1)");
    }
  }
  return out;
}

inline const FloatLinear* float_linear_at(const Sequential& model, std::size_t i) {
  return dynamic_cast<const FloatLinear*>(&model[i]);
}

// Positions of the FloatLinear layers, in order.
inline std::vector<std::size_t> float_linear_positions(const Sequential& model) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (float_linear_at(model, i) != nullptr) out.push_back(i);
  }
  return out;
}

// The model's input features: those of its first layer that has a fixed width (a FloatLinear
// or anything with a weight); 0 if unknown.
inline Index model_input_features(const Sequential& model) {
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (const FloatLinear* l = float_linear_at(model, i)) return l->in_features();
    const Eigen::MatrixXf w = model[i].dequantized_weight();
    if (w.size() > 0) return w.cols();
  }
  return 0;
}

// Runs layers [0, model.size()) on x, calling f(k, input) before the k-th FloatLinear.
template <class F>
void run_observing_linears(const Sequential& model, Matrix x, F&& f) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (float_linear_at(model, i) != nullptr) f(k++, static_cast<const Matrix&>(x));
    x = model[i].forward(x);
  }
}

// Statistics of every FloatLinear's input over the batches.
inline std::vector<CalibrationStats> linear_statistics(const Sequential& model, const std::vector<Matrix>& batches,
                                                       const CalibrationStatsOptions& options) {
  std::vector<CalibrationStatsObserver> obs;
  for (std::size_t i : float_linear_positions(model)) obs.emplace_back(float_linear_at(model, i)->in_features(), options);
  for (const Matrix& b : batches) {
    run_observing_linears(model, b, [&](std::size_t k, const Matrix& x) { obs[k].observe(x); });
  }
  std::vector<CalibrationStats> out;
  for (const auto& o : obs) out.push_back(o.stats());
  return out;
}

}  // namespace detail

// Statistics of the k-th FloatLinear's input (out[k]), from running the model as it is on the
// calibration batches. Calibration: one [batch, in] matrix or a range of them.
template <class Calibration, std::enable_if_t<detail::is_calibration_v<Calibration>, int> = 0>
std::vector<CalibrationStats> collect_linear_statistics(const Sequential& model, const Calibration& calibration,
                                                        const CalibrationStatsOptions& options = {}) {
  const Index in = detail::model_input_features(model);
  if (in == 0) raise("collect_linear_statistics: the model has no Linear layer");
  return detail::linear_statistics(model, detail::calibration_batches(calibration, in, "collect_linear_statistics"),
                                   options);
}

}  // namespace nn
}  // namespace eigenq
