// AWQ: never worse than round to nearest on the calibration rows' layer error, at least 30% less
// layer error than RTN on a layer whose inputs have outlier channels, and scales that leave the
// float function unchanged once folded.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "eigenq/methods/awq.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/log.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::calibration_rows;
using eigenq_test::normal;

struct Calibrated {
  Eigen::MatrixXf x;
  eigenq::CalibrationStats stats;
};

Calibrated calibrate(Index samples, Index in, std::uint32_t seed, const std::vector<Index>& outliers = {},
                     float outlier_scale = 30.0f) {
  Calibrated c{calibration_rows(samples, in, seed, outliers, outlier_scale), {}};
  eigenq::CalibrationStatsObserver obs(in);
  obs.observe(c.x);
  c.stats = obs.stats();
  return c;
}

template <class Q>
double check_never_worse(const Eigen::MatrixXf& w, const Calibrated& c, const Q& q, const char* what,
                         eigenq::AwqOptions o = {}) {
  const auto r = eigenq::awq(w, c.stats, q, o);
  const double e = eigenq::layer_error_rows(w, r.effective_weight(), c.x);
  const double e_rtn = eigenq::layer_error_rows(w, eigenq_test::rtn(q, w), c.x);
  std::printf("awq %-34s alpha %.2f%s layer error %.4g, rtn %.4g (%.1f%%)\n", what, r.alpha, r.clipped ? " clipped" : "",
              e, e_rtn, 100.0 * e / e_rtn);
  EXPECT_LE(e, e_rtn * (1.0 + 1e-5)) << what;
  EXPECT_NEAR(r.layer_error / e, 1.0, 1e-3) << what;
  EXPECT_NEAR(r.rtn_layer_error / e_rtn, 1.0, 1e-3) << what;
  EXPECT_EQ(r.alpha_errors.size(), static_cast<std::size_t>(o.grid));
  return e / e_rtn;
}

TEST(Awq, NeverWorseThanRoundToNearest) {
  using eigenq::Linear;
  for (std::uint32_t seed : {1u, 2u, 3u}) {
    const Calibrated c = calibrate(256, 128, seed);
    const Eigen::MatrixXf w = normal(32, 128, seed + 10);
    check_never_worse(w, c, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 32}),
                      "int4-g32 (no outliers)");
    check_never_worse(w, c, eigenq::Quantizer(Linear<std::uint8_t>::affine().with_bits(3), eigenq::PerChannel{0}),
                      "uint3-per-channel (no outliers)");
    check_never_worse(w, c, eigenq::Quantizer(eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0}),
                      "codebook3 (no outliers)");
    check_never_worse(w, c, eigenq::Quantizer(eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0}),
                      "log-signed4 (no outliers)");
    eigenq::AwqOptions clip;
    clip.clip_search = true;
    check_never_worse(w, c, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerGroup{-1, 64}),
                      "int3-g64 + clip", clip);
  }
}

TEST(Awq, OutlierChannelsAtLeast30PercentLessErrorThanRtn) {
  const std::vector<Index> outliers{5, 77, 130, 200};
  const Calibrated c = calibrate(512, 256, 21, outliers, 30.0f);
  const Eigen::MatrixXf w = normal(64, 256, 22);
  using eigenq::Linear;
  eigenq::AwqOptions clip;
  clip.clip_search = true;
  const double g128 = check_never_worse(
      w, c, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128}), "int4-g128 outliers");
  const double g128c = check_never_worse(
      w, c, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128}),
      "int4-g128 outliers + clip", clip);
  const double g3 = check_never_worse(
      w, c, eigenq::Quantizer(Linear<std::uint8_t>::affine().with_bits(3), eigenq::PerGroup{-1, 128}), "uint3-g128 outliers");
  const double pc = check_never_worse(
      w, c, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0}), "int4-per-channel outliers");
  EXPECT_LE(g128, 0.7);
  EXPECT_LE(g128c, 0.7);
  EXPECT_LE(g3, 0.7);
  EXPECT_LE(pc, 0.7);
}

TEST(Awq, FoldedScalesKeepTheFloatFunction) {
  const Calibrated c = calibrate(64, 32, 31, {4}, 20.0f);
  const Eigen::MatrixXf w = normal(16, 32, 32);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 16});
  const auto r = eigenq::awq(w, c.stats, q);
  ASSERT_GT(r.alpha, 0.0);
  // The previous layer: a Linear producing x from z.
  const Eigen::MatrixXf prev = normal(32, 8, 33);
  Eigen::VectorXf prev_b = normal(32, 1, 34);
  const Eigen::MatrixXf z = normal(10, 8, 35);
  Eigen::MatrixXf prev_folded = prev;
  Eigen::VectorXf b_folded = prev_b;
  eigenq::fold_input_scales_into_linear(prev_folded, &b_folded, r.input_scales);
  Eigen::MatrixXf w_scaled = w;
  eigenq::scale_columns(w_scaled, r.input_scales);
  const Eigen::MatrixXf x = (z * prev.transpose()).rowwise() + prev_b.transpose();
  const Eigen::MatrixXf x_folded = (z * prev_folded.transpose()).rowwise() + b_folded.transpose();
  const Eigen::MatrixXf y = x * w.transpose();
  const Eigen::MatrixXf y_folded = x_folded * w_scaled.transpose();
  EXPECT_LT((y - y_folded).cwiseAbs().maxCoeff(), 1e-4f * y.cwiseAbs().maxCoeff());
  // The quantized layer in that form computes x_folded * Q(W diag(s))^T = x * effective_weight^T.
  const Eigen::MatrixXf wq = r.weights.dequantize<Eigen::MatrixXf>();
  EXPECT_LT((x_folded * wq.transpose() - x * r.effective_weight().transpose()).cwiseAbs().maxCoeff(),
            1e-4f * y.cwiseAbs().maxCoeff());
}

TEST(Awq, BadInput) {
  const Calibrated c = calibrate(32, 16, 41);
  const Eigen::MatrixXf w = normal(4, 16, 42);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  eigenq::CalibrationStats s = c.stats;
  s.in_abs_sum.resize(0);
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::awq(w, s, q); }, {"awq", "in_abs_sum"});
  s = c.stats;
  s.hessian.resize(0, 0);
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::awq(w, s, q); }, {"awq", "hessian"});
  eigenq_test::expect_error<eigenq::ShapeError>(
      [&] { eigenq::awq(w, Eigen::VectorXd::Ones(15), c.stats.hessian, q); }, {"15", "16"});
  Eigen::VectorXd m = c.stats.mean_abs();
  m[3] = -1.0;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::awq(w, m, c.stats.hessian, q); }, {"[3]"});
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::awq(w, c.stats, eigenq::Quantizer(eigenq::Linear<std::int8_t>::symmetric())); },
      {"rows quantize independently"});
}

}  // namespace
