// Cross-layer equalization: the pair's float function through ReLU is unchanged, and per-tensor
// quantization of both weights loses less afterwards.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "eigenq/methods/equalization.hpp"
#include "eigenq/policy/linear.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::normal;

Eigen::MatrixXf forward(const Eigen::MatrixXf& x, const Eigen::MatrixXf& w1, const Eigen::VectorXf& b1,
                        const Eigen::MatrixXf& w2) {
  const Eigen::MatrixXf h = ((x * w1.transpose()).rowwise() + b1.transpose()).cwiseMax(0.0f);
  return h * w2.transpose();
}

TEST(Equalization, KeepsTheFunctionAndHelpsPerTensorQuantization) {
  // Output channels of layer 1 with ranges over three orders of magnitude (as after BN folding).
  Eigen::MatrixXf w1 = normal(64, 32, 1);
  Eigen::VectorXf b1 = normal(64, 1, 2);
  for (Index i = 0; i < 64; ++i) {
    const float f = std::pow(10.0f, static_cast<float>(i % 8) / 2.5f - 1.5f);
    w1.row(i) *= f;
    b1[i] *= f;
  }
  Eigen::MatrixXf w2 = normal(16, 64, 3);
  const Eigen::MatrixXf x = normal(256, 32, 4);
  const Eigen::MatrixXf y = forward(x, w1, b1, w2);

  Eigen::MatrixXf e1 = w1;
  Eigen::VectorXf eb1 = b1;
  Eigen::MatrixXf e2 = w2;
  const Eigen::VectorXf s = eigenq::equalize(e1, eb1, e2);
  EXPECT_LT((forward(x, e1, eb1, e2) - y).cwiseAbs().maxCoeff(), 1e-5f * y.cwiseAbs().maxCoeff());
  // Both layers now have the same range per channel.
  const Eigen::VectorXf r1 = e1.cwiseAbs().rowwise().maxCoeff();
  const Eigen::VectorXf r2 = e2.cwiseAbs().colwise().maxCoeff().transpose();
  for (Index i = 0; i < 64; ++i) EXPECT_NEAR(r1[i], r2[i], 1e-5f * r1[i]);

  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(8));  // per tensor
  auto quantized_error = [&](const Eigen::MatrixXf& a, const Eigen::VectorXf& b, const Eigen::MatrixXf& c) {
    return (forward(x, eigenq_test::rtn(q, a), b, eigenq_test::rtn(q, c)) - y).cast<double>().squaredNorm();
  };
  const double before = quantized_error(w1, b1, w2);
  const double after = quantized_error(e1, eb1, e2);
  std::printf("equalization int8 per-tensor output error: %.4g before, %.4g after (%.2f%%)\n", before, after,
              100.0 * after / before);
  EXPECT_LT(after, 0.7 * before);
}

TEST(Equalization, ZeroChannelsAndBadInput) {
  Eigen::MatrixXf w1 = Eigen::MatrixXf::Ones(3, 2);
  w1.row(1).setZero();
  Eigen::MatrixXf w2 = Eigen::MatrixXf::Ones(2, 3) * 4.0f;
  const Eigen::VectorXf s = eigenq::equalization_scales(w1, w2);
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_FLOAT_EQ(s[0], 0.5f);
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::equalization_scales(w1, Eigen::MatrixXf::Ones(2, 4)); },
                                                {"3 output channels", "4 inputs"});
}

}  // namespace
