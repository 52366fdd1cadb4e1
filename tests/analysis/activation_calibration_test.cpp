#include "eigenq/analysis/activation_calibration.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/calibrate/percentile.hpp"
#include "eigenq/policy/linear.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cstdint>
#include <string>

namespace {

TEST(ActivationCalibration, CapturesEveryActivationPoint) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(2);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(20, 16, 3);
  const auto acts = eigenq::capture_activations(m, x);
  ASSERT_EQ(acts.size(), 6u);
  Eigen::MatrixXf h = x;
  for (std::size_t l = 0; l < 3; ++l) {
    const auto& layer = m.layers()[l];
    Eigen::MatrixXf y = h * layer.weight.transpose();
    y.rowwise() += layer.bias.transpose();
    if (layer.relu) y = y.cwiseMax(0.0f);
    EXPECT_EQ(acts[2 * l].size(), 0) << "weight point " << 2 * l;
    EXPECT_TRUE(acts[2 * l + 1].isApprox(y, 1e-6f)) << "layer " << l;
    h = y;
  }
}

// Calibrated on exactly the batch it is applied to, a static min-max uint8 scheme has the
// parameters the dynamic one takes from that batch: the outputs agree bit for bit.
TEST(ActivationCalibration, StaticMinMaxEqualsDynamicOnItsOwnBatch) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(3);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(50, 16, 4);
  const auto schemes = eigenq::calibrate_activation_schemes(m, x, eigenq::MinMaxObserver(),
                                                            eigenq::Linear<std::uint8_t>::affine(), 1000, "minmax");
  ASSERT_EQ(schemes.size(), 3u);
  EXPECT_EQ(schemes.at("fc1.output").name, "linear-affine-minmax-static");
  // One point at a time (with earlier points quantized, later activations would differ from
  // the float ones the static parameters were calibrated on).
  const auto points = m.quant_points();
  const eigenq::Scheme dynamic = eigenq::schemes::uint8_per_tensor();
  const auto batched = eigenq::calibrate_activation_schemes(m, x, eigenq::MinMaxObserver(),
                                                            eigenq::Linear<std::uint8_t>::affine(), 7);
  for (std::size_t p = 1; p < points.size(); p += 2) {
    eigenq::PointSchemes stat(points.size()), dyn(points.size()), stat7(points.size());
    stat.set(p, &schemes.at(points[p].name));
    dyn.set(p, &dynamic);
    stat7.set(p, &batched.at(points[p].name));  // batches of 7 rows: the same min-max range
    EXPECT_EQ(m.forward(x, stat), m.forward(x, dyn)) << points[p].name;
    EXPECT_EQ(m.forward(x, stat7), m.forward(x, stat)) << points[p].name;
    EXPECT_NE(m.forward(x, stat), m.forward(x)) << points[p].name;
  }
}

// A clipping observer clips: values beyond the calibrated range saturate.
TEST(ActivationCalibration, PercentileSchemeClips) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(4);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(400, 16, 5);
  const auto schemes = eigenq::calibrate_activation_schemes(
      m, x, eigenq::PercentileObserver(eigenq::PerTensor{}, 90.0), eigenq::Linear<std::uint8_t>::affine());
  const auto acts = eigenq::capture_activations(m, x);
  Eigen::MatrixXf a = acts[1];
  schemes.at("fc1.output").apply(a);
  EXPECT_LT(a.maxCoeff(), 0.9f * acts[1].maxCoeff());
  EXPECT_THROW(eigenq::calibrate_activation_schemes(m, x, eigenq::MinMaxObserver(), eigenq::Linear<std::uint8_t>::affine(), 0),
               eigenq::InvalidArgument);
}

}  // namespace
