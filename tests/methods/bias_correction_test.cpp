// Empirical bias correction removes the mean output shift quantization causes.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "eigenq/methods/bias_correction.hpp"
#include "eigenq/policy/linear.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq_test::normal;

TEST(BiasCorrection, RemovesTheMeanOutputShift) {
  // Inputs with a large mean (post-ReLU-like), weights quantized coarsely.
  const Eigen::MatrixXf x = (normal(400, 64, 1).array().abs() + 0.5f).matrix();
  const Eigen::MatrixXf w = normal(32, 64, 2);
  const Eigen::VectorXf b = normal(32, 1, 3);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0});
  const Eigen::MatrixXf w_hat = eigenq_test::rtn(q, w);
  eigenq::CalibrationStatsObserver obs(64, {false});
  obs.observe(x.topRows(150));
  obs.observe(x.bottomRows(250));
  Eigen::VectorXf b2 = b;
  eigenq::correct_bias(b2, w, w_hat, obs.stats());

  const Eigen::MatrixXf y = (x * w.transpose()).rowwise() + b.transpose();
  const Eigen::MatrixXf yq = (x * w_hat.transpose()).rowwise() + b.transpose();
  const Eigen::MatrixXf yc = (x * w_hat.transpose()).rowwise() + b2.transpose();
  const Eigen::VectorXf shift = (yq - y).colwise().mean();
  const Eigen::VectorXf shift_corrected = (yc - y).colwise().mean();
  std::printf("bias correction: max mean output shift %.4g before, %.4g after\n", shift.cwiseAbs().maxCoeff(),
              shift_corrected.cwiseAbs().maxCoeff());
  EXPECT_GT(shift.cwiseAbs().maxCoeff(), 0.05f);
  EXPECT_LT(shift_corrected.cwiseAbs().maxCoeff(), 1e-4f);
  // The mean-square output error drops by the shift's share.
  EXPECT_LT((yc - y).squaredNorm(), (yq - y).squaredNorm());

  Eigen::VectorXf none;
  eigenq::correct_bias(none, w, w_hat, obs.stats());
  EXPECT_EQ(none.size(), 32);
}

TEST(BiasCorrection, BadInput) {
  const Eigen::MatrixXf w = normal(4, 8, 4);
  eigenq::CalibrationStats s;
  s.in = 8;
  s.in_sum2 = Eigen::VectorXd::Ones(8);
  s.count = 3;
  Eigen::VectorXf b = Eigen::VectorXf::Zero(4);
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::correct_bias(b, w, w, s); }, {"bias_correction", "in_sum"});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::bias_correction(w, w, Eigen::VectorXd::Ones(7)); }, {"7 input"});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::bias_correction(w, normal(4, 7, 1), Eigen::VectorXd::Ones(8)); },
                                                {"W^"});
}

}  // namespace
