// SmoothQuant: folded scales leave the float function unchanged, and W8A8 (activations int8 per
// tensor, weights int8 per channel) loses less on inputs with outlier channels.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "eigenq/methods/smoothquant.hpp"
#include "eigenq/policy/linear.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::normal;

Eigen::MatrixXf layer_norm(const Eigen::MatrixXf& x, const Eigen::VectorXf& gamma, const Eigen::VectorXf& beta) {
  Eigen::MatrixXf y(x.rows(), x.cols());
  for (Index r = 0; r < x.rows(); ++r) {
    const float mean = x.row(r).mean();
    const float var = (x.row(r).array() - mean).square().mean();
    y.row(r) = ((x.row(r).array() - mean) / std::sqrt(var + 1e-5f)).matrix();
  }
  return (y * gamma.asDiagonal()).rowwise() + beta.transpose();
}

// W8A8: X int8 per tensor (symmetric), W int8 per output channel.
double w8a8_error(const Eigen::MatrixXf& x, const Eigen::MatrixXf& w) {
  const eigenq::Quantizer qa(eigenq::Linear<std::int8_t>::symmetric());
  const eigenq::Quantizer qw(eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0});
  const Eigen::MatrixXf y = x * w.transpose();
  const Eigen::MatrixXf yq = eigenq_test::rtn(qa, x) * eigenq_test::rtn(qw, w).transpose();
  return (y - yq).cast<double>().squaredNorm();
}

TEST(SmoothQuant, FoldingKeepsTheFloatFunctionAndHelpsW8A8) {
  const Index in = 64;
  Eigen::VectorXf gamma = Eigen::VectorXf::Ones(in);
  Eigen::VectorXf beta = normal(in, 1, 1) * 0.1f;
  for (Index j : {3, 20, 41}) gamma[j] = 40.0f;  // LayerNorm outputs with outlier channels, as in LLMs
  const Eigen::MatrixXf h = normal(300, in, 2);
  const Eigen::MatrixXf x = layer_norm(h, gamma, beta);
  const Eigen::MatrixXf wq = normal(48, in, 3) * 0.05f;
  const Eigen::MatrixXf wk = normal(32, in, 4) * 0.05f;

  eigenq::CalibrationStatsObserver obs(in, {false});
  obs.observe(x);
  const Eigen::VectorXf s = eigenq::smoothquant_scales(obs.stats(), {&wq, &wk});
  // s_j = max|X_j|^0.5 / max|W_j|^0.5 over both weights.
  const Eigen::VectorXd xmax = x.cwiseAbs().colwise().maxCoeff().transpose().cast<double>();
  const Eigen::VectorXd wmax = wq.cwiseAbs().colwise().maxCoeff().cwiseMax(wk.cwiseAbs().colwise().maxCoeff()).transpose().cast<double>();
  for (Index j = 0; j < in; ++j) EXPECT_NEAR(s[j], std::sqrt(xmax[j] / wmax[j]), 1e-5 * s[j]);

  Eigen::VectorXf g2 = gamma;
  Eigen::VectorXf b2 = beta;
  eigenq::fold_input_scales_into_layer_norm(g2, b2, s);
  Eigen::MatrixXf wq2 = wq;
  Eigen::MatrixXf wk2 = wk;
  eigenq::scale_columns(wq2, s);
  eigenq::scale_columns(wk2, s);
  const Eigen::MatrixXf x2 = layer_norm(h, g2, b2);
  const Eigen::MatrixXf y = x * wq.transpose();
  const Eigen::MatrixXf y2 = x2 * wq2.transpose();
  EXPECT_LT((y - y2).cwiseAbs().maxCoeff(), 1e-5f * y.cwiseAbs().maxCoeff());
  EXPECT_LT((x * wk.transpose() - x2 * wk2.transpose()).cwiseAbs().maxCoeff(), 1e-5f * y.cwiseAbs().maxCoeff());

  const double before = w8a8_error(x, wq);
  const double after = w8a8_error(x2, wq2);
  std::printf("smoothquant w8a8 output error: %.4g before, %.4g after (%.1f%%)\n", before, after, 100.0 * after / before);
  EXPECT_LT(after, 0.5 * before);

  // alpha = 0: s = 1 / max|W|^1 ... alpha = 1: s = max|X| (all the range moves to the weights).
  eigenq::SmoothQuantOptions o;
  o.alpha = 1.0;
  const Eigen::VectorXf s1 = eigenq::smoothquant_scales(obs.stats().in_abs_max, wq, o);
  EXPECT_NEAR(s1[3], xmax[3], 1e-4 * xmax[3]);
}

TEST(SmoothQuant, ZeroChannelsKeepScaleOneAndBadInputIsTyped) {
  Eigen::VectorXd amax = Eigen::VectorXd::Ones(4);
  amax[1] = 0.0;
  Eigen::MatrixXf w = Eigen::MatrixXf::Ones(2, 4);
  w.col(2).setZero();
  const Eigen::VectorXf s = eigenq::smoothquant_scales(amax, w);
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(s[2], 1.0f);
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::smoothquant_scales(Eigen::VectorXd::Ones(3), w); }, {"3 input"});
  amax[0] = -1.0;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::smoothquant_scales(amax, w); }, {"in_abs_max [0]"});
  eigenq::SmoothQuantOptions o;
  o.alpha = 1.5;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::smoothquant_scales(Eigen::VectorXd::Ones(4), w, o); }, {"alpha"});
  eigenq::CalibrationStats st;
  st.in = 4;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::smoothquant_scales(st, {&w}); }, {"in_abs_max"});
  Eigen::VectorXf gamma = Eigen::VectorXf::Ones(4);
  Eigen::VectorXf beta;
  Eigen::VectorXf bad = Eigen::VectorXf::Ones(4);
  bad[2] = 0.0f;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::fold_input_scales_into_layer_norm(gamma, beta, bad); },
                                                     {"scale [2]"});
}

}  // namespace
