// The command line's quantization method: --method rtn|gptq|awq|weighted with
// --calibration-stats FILE (docs/calibration_stats.md) or, for weighted, --imatrix FILE
// (llama.cpp's importance matrix), and --allow-missing-stats.
//
// A method applies to the tensors of rank 2 that are quantized (weights [out, in], the
// statistics' NAME); tensors of another rank are rounded to nearest, and the summary says so.
// A matrix with no statistics in the file, or without the fields its method reads, is an error
// naming the tensor; with --allow-missing-stats it is rounded to nearest and the summary lists
// it. AWQ's input scales s cannot be folded into a previous layer the tool does not know: they
// are written as NAME.input_scale (F32 [in]) next to the quantized Q(W diag(s)), and a reader
// divides the layer's input by them (or folds 1/s into the layer before).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <Eigen/Core>

#include <eigenq/calibrate/calibration_stats.hpp>
#include <eigenq/core/eigen_view.hpp>
#include <eigenq/core/granularity.hpp>
#include <eigenq/io/calibration_stats.hpp>
#include <eigenq/io/imatrix.hpp>
#include <eigenq/methods/awq.hpp>
#include <eigenq/methods/gptq.hpp>
#include <eigenq/methods/weighted_rounding.hpp>
#include <eigenq/quantizer/qtensor.hpp>
#include <eigenq/quantizer/quantizer.hpp>

#include "cli_util.hpp"
#include "scheme.hpp"

namespace eigenq_cli {

struct MethodOptions {
  std::string method = "rtn";
  std::string calibration_stats;  // --calibration-stats FILE
  std::string imatrix;            // --imatrix FILE (weighted)
  bool allow_missing_stats = false;

  bool is_rtn() const { return method == "rtn"; }
  const std::string& stats_path() const { return imatrix.empty() ? calibration_stats : imatrix; }

  // Checks the combination with the scheme options; UsageError on anything wrong.
  void validate(const SchemeOptions& s) const {
    if (method != "rtn" && method != "gptq" && method != "awq" && method != "weighted") {
      throw UsageError("--method '" + method + "' is not one of rtn, gptq, awq, weighted");
    }
    if (!calibration_stats.empty() && !imatrix.empty()) {
      throw UsageError("--calibration-stats and --imatrix both given: choose one statistics file");
    }
    if (is_rtn()) {
      if (!calibration_stats.empty()) throw UsageError("--calibration-stats needs --method gptq, awq or weighted");
      if (!imatrix.empty()) {
        throw UsageError("--imatrix needs --method weighted (eigenq's schemes) or a ggml type (--type TYPE; "
                         "quantize writes ggml types to an OUT named .gguf)");
      }
      if (allow_missing_stats) throw UsageError("--allow-missing-stats needs --method gptq, awq or weighted");
      return;
    }
    if (!imatrix.empty() && method != "weighted") {
      throw UsageError("--imatrix holds only sums of squares, which --method " + method +
                       " cannot use: give --calibration-stats (with a Hessian), or use --method weighted");
    }
    if (stats_path().empty()) {
      throw UsageError("--method " + method + " needs --calibration-stats FILE" +
                       (method == "weighted" ? std::string(" or --imatrix FILE") : std::string()));
    }
    if (s.calibration_kind != SchemeOptions::Calibration::minmax) {
      throw UsageError("--calibration " + s.calibration + " does not apply to --method " + method +
                       " (the method chooses the parameters)");
    }
    if (s.double_quant > 0) throw UsageError("--double-quant does not apply to --method " + method);
  }
};

// The statistics a method reads: does `s` have them?
inline bool has_method_fields(const std::string& method, const eigenq::CalibrationStats& s) {
  using eigenq::StatsField;
  if (method == "gptq") return s.has(StatsField::hessian);
  if (method == "awq") return s.has(StatsField::hessian) && s.has(StatsField::in_abs_sum) && s.has(StatsField::count);
  if (method == "weighted") return s.has(StatsField::in_sum2) || s.has(StatsField::hessian);
  return true;
}

inline const char* method_fields(const std::string& method) {
  if (method == "gptq") return "hessian";
  if (method == "awq") return "hessian, in_abs_sum and count";
  return "in_sum2 or hessian";
}

// Reads the statistics file of the options, checked against the matrices of the input
// (name -> input features): every NAME in the file must be one of them.
inline eigenq::io::CalibrationStatsMap load_method_stats(const MethodOptions& m,
                                                         const std::map<std::string, eigenq::Index>& matrices) {
  if (m.is_rtn()) return {};
  if (!m.imatrix.empty()) {
    std::vector<std::string> skipped;
    eigenq::io::CalibrationStatsMap stats =
        eigenq::io::calibration_stats_from_imatrix(eigenq::io::read_imatrix(m.imatrix), &skipped);
    eigenq::io::check_stats_names(stats, matrices, m.imatrix);
    return stats;
  }
  return eigenq::io::read_calibration_stats(m.calibration_stats, matrices);
}

template <class Policy>
struct MethodResult {
  eigenq::QTensor<Policy> weights;
  Eigen::VectorXf input_scales;  // AWQ's s (empty for the other methods)
};

// Quantizes the matrix x [out, in] (row-major) with the method.
template <class Policy>
MethodResult<Policy> quantize_with_method(const std::string& method, const Policy& policy, const eigenq::Granularity& g,
                                          const eigenq::RowMajorView& x, const eigenq::CalibrationStats& stats) {
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const eigenq::Shape& shape = x.shape();
  const Eigen::MatrixXf w = Eigen::Map<const RowMajor>(x.data(), shape[0], shape[1]);
  const eigenq::Quantizer<Policy, eigenq::Granularity> quantizer(policy, g);
  if (method == "gptq") return {eigenq::gptq(w, stats, quantizer).weights, {}};
  if (method == "weighted") return {eigenq::weighted_rounding(w, stats, quantizer).weights, {}};
  auto r = eigenq::awq(w, stats, quantizer);
  return {std::move(r.weights), std::move(r.input_scales)};
}

}  // namespace eigenq_cli
