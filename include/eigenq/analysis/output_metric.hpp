// How much a quantized model's output has degraded against the float model's output:
// a named function (reference output, quantized output) -> degradation, larger is worse.
// Sensitivity analysis ranks by it and mixed-precision selection minimizes its sum.
//
//   output_mse_metric()              mean squared difference of the outputs (the default)
//   accuracy_drop_metric(labels)     float accuracy minus quantized accuracy (argmax per row)
//   OutputMetric{"my", [](const Eigen::MatrixXf& ref, const Eigen::MatrixXf& out) { ... }}
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/metrics.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

struct OutputMetric {
  std::string name;
  std::function<double(const Eigen::MatrixXf& reference, const Eigen::MatrixXf& output)> degradation;

  double operator()(const Eigen::MatrixXf& reference, const Eigen::MatrixXf& output) const {
    if (!degradation) raise("OutputMetric '", name, "' has no function");
    return degradation(reference, output);
  }
};

inline OutputMetric output_mse_metric() {
  return {"output_mse", [](const Eigen::MatrixXf& ref, const Eigen::MatrixXf& out) { return compare(ref, out).mse; }};
}

// Fraction of rows whose argmax (first maximum) equals the label.
inline double argmax_accuracy(const Eigen::MatrixXf& scores, const std::vector<Index>& labels) {
  if (static_cast<Index>(labels.size()) != scores.rows()) {
    raise<ShapeError>("argmax_accuracy: ", labels.size(), " labels for ", scores.rows(), " rows of scores");
  }
  if (scores.rows() == 0 || scores.cols() == 0) raise<ShapeError>("argmax_accuracy: empty scores");
  Index hits = 0;
  for (Index i = 0; i < scores.rows(); ++i) {
    Index best = 0;
    scores.row(i).maxCoeff(&best);
    hits += best == labels[static_cast<std::size_t>(i)];
  }
  return static_cast<double>(hits) / static_cast<double>(scores.rows());
}

// Accuracy lost against the labels: accuracy(reference) - accuracy(output).
inline OutputMetric accuracy_drop_metric(std::vector<Index> labels) {
  return {"accuracy_drop", [labels = std::move(labels)](const Eigen::MatrixXf& ref, const Eigen::MatrixXf& out) {
            return argmax_accuracy(ref, labels) - argmax_accuracy(out, labels);
          }};
}

}  // namespace eigenq
