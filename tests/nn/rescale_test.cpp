// nn/rescale.hpp and nn/input_scale.hpp: cross-layer equalization and SmoothQuant of a
// Sequential leave its float function unchanged, whichever layer takes the scales (a Linear, a
// Linear + ReLU, a LayerNorm, or an InputScale where none can); nn/model_statistics.hpp.
#include "eigenq/nn/input_scale.hpp"
#include "eigenq/nn/model_statistics.hpp"
#include "eigenq/nn/rescale.hpp"

#include "eigenq/nn/gelu.hpp"
#include "eigenq/nn/layer_norm.hpp"

#include "support/nn_models.hpp"
#include "support/random_data.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;


eigenq::nn::FloatLinear linear(Index in, Index out, unsigned seed) {
  return eigenq::nn::FloatLinear(eigenq_test::random_matrix(out, in, seed, 0.3f),
                                 eigenq_test::random_matrix(out, 1, seed + 1, 0.1f));
}

// Every kind of predecessor: the model input, Linear + ReLU, LayerNorm, GELU, Linear.
Sequential mixed_model() {
  Sequential m;
  m.add(linear(64, 96, 1)).add(eigenq::nn::ReLU());
  m.add(linear(96, 64, 3));
  m.add(eigenq::nn::LayerNorm(Eigen::VectorXf::Constant(64, 1.5f), Eigen::VectorXf::Constant(64, 0.2f)));
  m.add(linear(64, 128, 5)).add(eigenq::nn::GELU());
  m.add(linear(128, 32, 7));
  m.add(linear(32, 10, 9));
  return m;
}

// Inputs in [0, 1) with channels 3 and 17 ten times larger.
std::vector<Matrix> outlier_batches(int count, Index rows, unsigned seed) {
  std::vector<Matrix> b = eigenq_test::random_batches(count, rows, seed);
  for (Matrix& x : b) {
    x.col(3) *= 10.0f;
    x.col(17) *= 10.0f;
  }
  return b;
}

TEST(ModelStatistics, EveryLinearInputObserved) {
  const Sequential m = mixed_model();
  const std::vector<Matrix> xs = outlier_batches(3, 20, 1);
  const std::vector<eigenq::CalibrationStats> s = eigenq::nn::collect_linear_statistics(m, xs);
  ASSERT_EQ(s.size(), 5u);
  // The third Linear reads the LayerNorm's output: recompute it by hand.
  eigenq::CalibrationStatsObserver obs(64);
  for (const Matrix& x : xs) obs.observe(m[3].forward(m[2].forward(m[1].forward(m[0].forward(x)))));
  EXPECT_EQ(s[2].count, 60);
  EXPECT_LT((s[2].hessian - obs.stats().hessian).norm(), 1e-9 * obs.stats().hessian.norm());
  EXPECT_EQ(s[0].in, 64);
  EXPECT_EQ(s[3].in, 128);
  // One matrix is one batch.
  const auto one = eigenq::nn::collect_linear_statistics(m, xs[0]);
  EXPECT_EQ(one[4].count, 20);
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::collect_linear_statistics(m, Matrix(4, 65)); },
                                                {"calibration batch 0 has shape [4, 65]", "expected [batch, 64]"});
}

TEST(InputScale, DividesEachFeature) {
  const Eigen::VectorXf s = (Eigen::VectorXf(3) << 2.0f, 0.5f, 4.0f).finished();
  const eigenq::nn::InputScale layer(s);
  Matrix x(2, 3);
  x << 2, 1, 8, -4, 0.5, 1;
  Matrix expected(2, 3);
  expected << 1, 2, 2, -2, 1, 0.25;
  EXPECT_EQ(layer.forward(x), expected);
  EXPECT_EQ(layer.weight_bytes(), 12u);
  EXPECT_EQ(layer.weight_count(), 0);
  EXPECT_EQ(layer.kind(), "InputScale");
  eigenq_test::expect_error<eigenq::InvalidArgument>([] { eigenq::nn::InputScale(Eigen::VectorXf::Constant(2, -1.0f)); },
                                                     {"scale [0] = -1"});
  EXPECT_THROW(layer.forward(Matrix(2, 4)), eigenq::ShapeError);
}

TEST(Rescale, SmoothQuantKeepsTheFunction) {
  const Sequential m = mixed_model();
  const std::vector<Matrix> xs = outlier_batches(2, 32, 2);
  const Sequential s = eigenq::nn::smooth(m, xs);
  // The first Linear has no layer before it (an InputScale), the GELU's successor neither.
  ASSERT_EQ(s.size(), m.size() + 2);
  EXPECT_EQ(s[0].kind(), "InputScale");
  EXPECT_EQ(s[7].kind(), "InputScale");
  for (const Matrix& x : xs) EXPECT_LT(eigenq_test::relative_error(s(x), m(x)), 1e-5);
  // The Linear after the Linear + ReLU took scales, and its predecessor divided its rows.
  const auto& before = dynamic_cast<const eigenq::nn::FloatLinear&>(m[0]);
  const auto& after = dynamic_cast<const eigenq::nn::FloatLinear&>(s[1]);
  EXPECT_GT((before.weight() - after.weight()).norm(), 1e-3 * before.weight().norm());
  // The LayerNorm's gamma took the next Linear's scales.
  const auto& ln = dynamic_cast<const eigenq::nn::LayerNorm&>(s[4]);
  EXPECT_GT((ln.weight().array() - 1.5f).abs().maxCoeff(), 1e-3f);
  // The outlier channels of the input are scaled down the most: their activations shrink.
  const auto& in_scale = dynamic_cast<const eigenq::nn::InputScale&>(s[0]);
  Index largest = 0;
  in_scale.scales().maxCoeff(&largest);
  EXPECT_TRUE(largest == 3 || largest == 17) << largest;
}

TEST(Rescale, SmoothQuantFromStatisticsChecksThem) {
  const Sequential m = mixed_model();
  auto stats = eigenq::nn::collect_linear_statistics(m, outlier_batches(1, 16, 3));
  stats.pop_back();
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::smooth(m, stats); },
                                                {"statistics for 4 Linear layers, the model has 5"});
}

TEST(Rescale, EqualizationKeepsTheFunctionAndBalancesRanges) {
  // Rows of the first layer 10x apart, the second layer's columns compensating.
  Sequential m;
  eigenq::nn::FloatLinear a = linear(64, 32, 11);
  eigenq::nn::FloatLinear b = linear(32, 16, 13);
  for (Index i = 0; i < 32; i += 2) {
    a.weight().row(i) *= 10.0f;
    a.bias()(i) *= 10.0f;
    b.weight().col(i) /= 10.0f;
  }
  m.add(a).add(eigenq::nn::ReLU()).add(b).add(eigenq::nn::ReLU()).add(linear(16, 10, 15));
  const Sequential e = eigenq::nn::equalize(m, 3);
  ASSERT_EQ(e.size(), m.size());
  const Matrix x = eigenq_test::random_batches(1, 32, 4)[0];
  EXPECT_LT(eigenq_test::relative_error(e(x), m(x)), 1e-5);
  const auto& ea = dynamic_cast<const eigenq::nn::FloatLinear&>(e[0]);
  const Eigen::VectorXf ranges = ea.weight().cwiseAbs().rowwise().maxCoeff();
  const Eigen::VectorXf before = a.weight().cwiseAbs().rowwise().maxCoeff();
  EXPECT_LT(ranges.maxCoeff() / ranges.minCoeff(), 0.5f * before.maxCoeff() / before.minCoeff());
  EXPECT_THROW(eigenq::nn::equalize(m, 0), eigenq::InvalidArgument);
}

}  // namespace
