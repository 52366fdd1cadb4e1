// Schemes whose codes come from a method beyond rounding to nearest (methods/): GPTQ, AWQ and
// importance-weighted rounding. Their fake quantization reads the calibration statistics of
// the point's input (Scheme::fake_quantize_calibrated), which the sensitivity analysis and the
// mixed-precision search pass to them (collected from the model, or given in the options), so
// they are candidates like any other scheme:
//
//   auto q3 = eigenq::Quantizer(eigenq::Linear<int8_t>::symmetric().with_bits(3), eigenq::PerGroup{-1, 128});
//   opt.candidates = {eigenq::schemes::int8_per_channel(),
//                     eigenq::make_gptq_scheme("int3-g128-gptq", q3),
//                     eigenq::make_awq_scheme("int3-g128-awq", q3),
//                     eigenq::make_weighted_scheme("int3-g128-weighted", q3)};
//   auto mix = eigenq::choose_mixed_precision(model, X, eigenq::Budget::average_bits(4), opt);
//
// Storage is the quantizer's QTensor (the methods keep the scheme's own codes and parameters);
// AWQ adds its input scales (32 bits per input feature) when they are stored with the layer
// rather than folded into the previous one (AwqInputScales::stored).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "eigenq/analysis/scheme.hpp"
#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/methods/awq.hpp"
#include "eigenq/methods/gptq.hpp"
#include "eigenq/methods/row_quantizer.hpp"
#include "eigenq/methods/weighted_rounding.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

// Where AWQ's per-input-channel scales live: folded into the previous layer (free) or stored
// with the layer as an input scale (one float32 per input feature, counted in its storage).
enum class AwqInputScales { folded, stored };

namespace detail {

template <class Policy, class G>
std::int64_t quantized_storage_bits(const Quantizer<Policy, G>& q, const Eigen::MatrixXf& x) {
  return 8 * static_cast<std::int64_t>(q.quantize(x).storage_bytes());
}

// A scheme of a method whose rows quantize independently: `quantize(x, stats)` gives the
// QTensor, which the scheme dequantizes; storage as the quantizer's.
template <class Policy, class G, class Quantize>
Scheme rows_independent_method_scheme(std::string name, const Quantizer<Policy, G>& quantizer, const char* fn,
                                      Quantize quantize) {
  require_rows_independent(quantizer.granularity(), fn);
  Scheme s;
  s.name = std::move(name);
  s.rows_independent = true;
  s.fake_quantize_calibrated = [quantize](Eigen::MatrixXf& x, const CalibrationStats& stats) {
    x = quantize(x, stats).template dequantize<Eigen::MatrixXf>();
  };
  s.storage_bits = [quantizer](const Eigen::MatrixXf& x) { return quantized_storage_bits(quantizer, x); };
  return s;
}

}  // namespace detail

// GPTQ (methods/gptq.hpp) with the quantizer's policy and granularity; needs the Hessian.
// Rows are independent (each row's updates read that row and H only), up to float rounding.
template <class Policy, class G>
Scheme make_gptq_scheme(std::string name, Quantizer<Policy, G> quantizer, GptqOptions options = {}) {
  return detail::rows_independent_method_scheme(std::move(name), quantizer, "make_gptq_scheme",
      [quantizer, options](const Eigen::MatrixXf& x, const CalibrationStats& stats) {
        return gptq(x, stats, quantizer, options).weights;
      });
}

// AWQ (methods/awq.hpp): the fake quantization is the effective weight Q(W diag(s)) diag(s)^-1,
// which computes on x what the layer computes on x / s. Needs in_abs_sum, count and the Hessian.
// Not rows independent: the exponent is chosen on the whole weight.
template <class Policy, class G>
Scheme make_awq_scheme(std::string name, Quantizer<Policy, G> quantizer, AwqOptions options = {},
                       AwqInputScales scales = AwqInputScales::folded) {
  Scheme s;
  s.name = std::move(name);
  s.rows_independent = false;
  s.fake_quantize_calibrated = [quantizer, options](Eigen::MatrixXf& x, const CalibrationStats& stats) {
    x = awq(x, stats, quantizer, options).effective_weight();
  };
  s.storage_bits = [quantizer, scales](const Eigen::MatrixXf& x) {
    const std::int64_t scale_bits = scales == AwqInputScales::stored ? 32 * static_cast<std::int64_t>(x.cols()) : 0;
    return detail::quantized_storage_bits(quantizer, x) + scale_bits;
  };
  return s;
}

// Importance-weighted rounding (methods/weighted_rounding.hpp): needs in_sum2 (or the Hessian)
// and count; with a Hessian, each row keeps RTN where that has the smaller layer error.
template <class Policy, class G>
Scheme make_weighted_scheme(std::string name, Quantizer<Policy, G> quantizer, WeightedRoundingOptions options = {}) {
  return detail::rows_independent_method_scheme(std::move(name), quantizer, "make_weighted_scheme",
      [quantizer, options](const Eigen::MatrixXf& x, const CalibrationStats& stats) {
        return weighted_rounding(x, stats, quantizer, options).weights;
      });
}

}  // namespace eigenq
