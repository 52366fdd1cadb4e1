// Calibration of the byte-level GPT on training text (calibration.txt, never the held-out
// slice): windows of bytes, the calibration statistics of every Linear's input (GPTQ, AWQ,
// weighted rounding, SmoothQuant), the activation ranges of every Linear's input and output
// (static int8), and a measure of activation outliers.
#pragma once

#include "byte_gpt.hpp"

#include <eigenq/calibrate/calibration_stats.hpp>
#include <eigenq/nn/convert.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace lm {

using Stats = std::map<std::string, eigenq::CalibrationStats>;  // by Linear name (without ".weight")

// `count` non-overlapping windows of `length` bytes from the start of `text` (fewer if it is short).
inline std::vector<std::string> windows(const std::string& text, Index length, Index count) {
  std::vector<std::string> out;
  for (Index i = 0; i < count && (i + 1) * length <= static_cast<Index>(text.size()); ++i) {
    out.push_back(text.substr(static_cast<std::size_t>(i * length), static_cast<std::size_t>(length)));
  }
  if (out.empty()) eigenq::raise("calibration text of ", text.size(), " bytes holds no window of ", length);
  return out;
}

inline const std::uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

// The statistics of every Linear's input over the windows (the model run as it is).
inline Stats collect_stats(const ByteGpt& model, const std::vector<std::string>& calib, bool hessian = true) {
  std::map<std::string, eigenq::CalibrationStatsObserver> obs;
  for (const std::string& w : calib) {
    model.forward(bytes_of(w), static_cast<Index>(w.size()), [&](const std::string& name, const Matrix& x) {
      auto it = obs.find(name);
      if (it == obs.end()) it = obs.emplace(name, eigenq::CalibrationStatsObserver(x.cols(), {hessian})).first;
      it->second.observe(x);
    });
  }
  Stats out;
  for (const auto& kv : obs) out.emplace(kv.first, kv.second.stats());
  return out;
}

// The per-tensor int8 parameters of every Linear's input and output (StaticLinear's), with
// quantize_static's calibrators, from the model run as it is (float).
struct ActivationParams {
  eigenq::LinearParams input, output;
};

inline std::map<std::string, ActivationParams> calibrate_activations(const ByteGpt& model,
                                                                     const std::vector<std::string>& calib,
                                                                     const eigenq::nn::StaticQuantOptions& options) {
  std::map<std::string, std::pair<eigenq::nn::ActivationCalibrator, eigenq::nn::ActivationCalibrator>> cal;
  for (const std::string& w : calib) {
    model.forward(bytes_of(w), static_cast<Index>(w.size()), [&](const std::string& name, const Matrix& x) {
      auto it = cal.find(name);
      if (it == cal.end()) {
        it = cal.emplace(name, std::make_pair(eigenq::nn::ActivationCalibrator(options),
                                              eigenq::nn::ActivationCalibrator(options)))
                 .first;
      }
      it->second.first.observe(x);
      it->second.second.observe(model.linear(name).forward(x));
    });
  }
  std::map<std::string, ActivationParams> out;
  for (auto& kv : cal) out[kv.first] = {kv.second.first.params(), kv.second.second.params()};
  return out;
}

// How much larger the largest input channel's maximum |x| is than the median channel's, per
// Linear: SmoothQuant moves ranges out of such outlier channels (LLMs show 100x and more).
inline std::map<std::string, double> outlier_ratios(const Stats& stats) {
  std::map<std::string, double> out;
  for (const auto& kv : stats) {
    std::vector<double> m(kv.second.in_abs_max.data(), kv.second.in_abs_max.data() + kv.second.in_abs_max.size());
    std::sort(m.begin(), m.end());
    const double median = m[m.size() / 2];
    out[kv.first] = median > 0 ? m.back() / median : 0.0;
  }
  return out;
}

}  // namespace lm
