// Where does quantization hurt, and what mix of bit widths should a model use?
//
// Trains the small digits MLP (64-64-32-10) the demo uses, then:
//   1. calibrates fc1's output activation with every observer and compares 4-bit errors;
//   2. ranks the model's quantization points by sensitivity;
//   3. picks a mixed-precision scheme per layer under a 4.6 bits/weight budget,
//      verified end to end, with the Pareto front of size against error.
//
//   eigenq_analysis_example [path/to/digits.csv]
#include <eigenq/analysis/metrics.hpp>
#include <eigenq/analysis/mixed_precision.hpp>
#include <eigenq/analysis/sensitivity.hpp>
#include <eigenq/nn/to_mlp_model.hpp>
#include <eigenq/calibrate/kl_entropy.hpp>
#include <eigenq/calibrate/minmax.hpp>
#include <eigenq/calibrate/moving_average.hpp>
#include <eigenq/calibrate/mse_clip.hpp>
#include <eigenq/calibrate/percentile.hpp>
#include <eigenq/policy/codebook.hpp>
#include <eigenq/policy/linear.hpp>
#include <eigenq/quantizer/quantizer.hpp>

#include "../demo/digits.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#ifndef EIGENQ_DIGITS_CSV
#define EIGENQ_DIGITS_CSV "examples/data/digits.csv"
#endif

namespace {

// Fake-quantizes x with parameters from an observer that has seen x in batches of 64 rows.
template <class Observer, class Policy>
Eigen::MatrixXf calibrate_and_fake_quantize(Observer obs, const Eigen::MatrixXf& x, const Policy& policy) {
  for (Eigen::Index r = 0; r < x.rows(); r += 64) obs.observe(x.middleRows(r, std::min<Eigen::Index>(64, x.rows() - r)));
  const eigenq::Quantizer<Policy, eigenq::PerTensor> q(policy);
  return q.quantize(x, obs.params(policy)).template dequantize<Eigen::MatrixXf>();
}

std::vector<eigenq::Index> to_index(const std::vector<int>& v) { return {v.begin(), v.end()}; }

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string path = argc > 1 ? argv[1] : EIGENQ_DIGITS_CSV;
    const digits::Split data = digits::load(path);
    const eigenq::MlpModel mlp = eigenq::to_mlp_model(digits::train_mlp(data, {64, 64, 32, 10}));
    const Eigen::MatrixXf calib = data.x_train;  // calibration batch
    const Eigen::MatrixXf test = data.x_test;
    const auto labels = to_index(data.y_test);
    std::printf("digits MLP 64-64-32-10: float test accuracy %.2f%%\n\n",
                100.0 * eigenq::argmax_accuracy(mlp.forward(test), labels));

    // 1. Observers on fc1's output (ReLU activations), 4-bit affine codes.
    {
      const Eigen::MatrixXf w1 = mlp.layers()[0].weight;
      const Eigen::MatrixXf act = (calib * w1.transpose()).rowwise() + mlp.layers()[0].bias.transpose();
      const Eigen::MatrixXf a = act.cwiseMax(0.0f);
      auto policy = eigenq::Linear<std::uint8_t>::affine();
      policy.with_bits(4);
      std::printf("1. calibrating fc1.output (%lld x %lld) for 4-bit affine codes\n",
                  static_cast<long long>(a.rows()), static_cast<long long>(a.cols()));
      std::cout << eigenq::ErrorMetrics::table_header("observer");
      std::cout << eigenq::compare(a, calibrate_and_fake_quantize(eigenq::MinMaxObserver(), a, policy)).to_row("min-max");
      std::cout << eigenq::compare(a, calibrate_and_fake_quantize(eigenq::MovingAverageMinMaxObserver(), a, policy))
                       .to_row("moving-average (0.01)");
      std::cout << eigenq::compare(a, calibrate_and_fake_quantize(eigenq::PercentileObserver(eigenq::PerTensor{}, 99.9), a, policy))
                       .to_row("percentile 99.9");
      std::cout << eigenq::compare(a, calibrate_and_fake_quantize(eigenq::MseClipObserver(), a, policy)).to_row("mse-clip");
      std::cout << eigenq::compare(a, calibrate_and_fake_quantize(eigenq::KlEntropyObserver(), a, policy)).to_row("kl-entropy");
      std::printf("\n");
    }

    // 2. Sensitivity: int4 (groups of 32) weights, uint8 activations, one point at a time.
    eigenq::SensitivityOptions sopt;
    sopt.weight_scheme = eigenq::schemes::int4_per_group(32);
    const auto report = eigenq::analyze_sensitivity(mlp, calib, sopt);
    std::printf("2. sensitivity (one point quantized at a time, output MSE against float)\n%s\n",
                report.to_table().c_str());

    // 3. Mixed precision under 4.6 bits per weight (codes and scales included).
    eigenq::MixedPrecisionOptions mopt;
    // A 3-bit codebook per output row (8 levels fitted by k-means) is a different trade from
    // the linear grids: fewer code bits, but 8 float centroids per row.
    mopt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(32),
                       eigenq::schemes::int2_per_group(32),
                       eigenq::make_scheme("codebook3-per-row",
                                           eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerChannel>(
                                               eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0}))};
    mopt.front_samples = 10;
    const auto mixed = eigenq::choose_mixed_precision(mlp, calib, eigenq::Budget::average_bits(4.6), mopt);
    std::printf("3. mixed precision: each candidate measured on each layer\n%s\n", mixed.candidates_table().c_str());
    std::printf("   the choice under 4.6 bits/weight (exact DP, verified end to end)\n%s\n", mixed.to_table().c_str());
    eigenq::PointSchemes chosen(mlp.quant_points().size());
    for (std::size_t i = 0; i < mixed.choices.size(); ++i) {
      for (const auto& s : mopt.candidates) {
        if (s.name == mixed.choices[i].scheme) chosen.set(2 * i, &s);
      }
    }
    std::printf("mixed model test accuracy %.2f%%\n\n", 100.0 * eigenq::argmax_accuracy(mlp.forward(test, chosen), labels));
    std::printf("Pareto front (size against predicted and measured output MSE)\n%s", mixed.front_table().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eigenq_analysis_example: %s\n", e.what());
    return 1;
  }
}
