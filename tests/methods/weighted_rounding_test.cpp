// Importance-weighted rounding: never worse than round to nearest in the weighted error and (with
// a Hessian) in the layer error, at least 30% less layer error than RTN on a layer whose inputs
// have outlier channels, and it reads llama.cpp importance matrices.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>

#include "eigenq/methods/weighted_rounding.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/log.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::calibration_rows;
using eigenq_test::normal;

eigenq::CalibrationStats stats_of(const Eigen::MatrixXf& x, bool hessian = true) {
  eigenq::CalibrationStatsObserver obs(x.cols(), {hessian});
  obs.observe(x);
  return obs.stats();
}

double weighted_error(const Eigen::MatrixXf& w, const Eigen::MatrixXf& w_hat, const Eigen::VectorXd& importance) {
  const Eigen::ArrayXXd d = (w - w_hat).cast<double>().array();
  return (d.square().rowwise() * importance.transpose().array()).sum();
}

template <class Q>
double check(const Eigen::MatrixXf& w, const Eigen::MatrixXf& x, const Q& q, const char* what, bool hessian = true) {
  const auto s = stats_of(x, hessian);
  const auto r = eigenq::weighted_rounding(w, s, q);
  const Eigen::MatrixXf w_hat = r.weights.template dequantize<Eigen::MatrixXf>();
  const Eigen::MatrixXf w_rtn = eigenq_test::rtn(q, w);
  const Eigen::VectorXd imp = s.mean_square();
  const double we = weighted_error(w, w_hat, imp);
  const double we_rtn = weighted_error(w, w_rtn, imp);
  const double e = eigenq::layer_error_rows(w, w_hat, x);
  const double e_rtn = eigenq::layer_error_rows(w, w_rtn, x);
  std::printf("weighted %-34s weighted error %.1f%% of rtn, layer error %.4g vs rtn %.4g (%.1f%%), rows kept rtn %lld\n",
              what, 100.0 * we / we_rtn, e, e_rtn, 100.0 * e / e_rtn, static_cast<long long>(r.rows_rtn));
  EXPECT_LE(we, we_rtn * (1.0 + 1e-6)) << what;
  if (hessian) {
    EXPECT_LE(e, e_rtn * (1.0 + 1e-5)) << what;
  }
  // The result is the quantizer's own form: Quantizer::quantize(W, params) gives the same codes.
  EXPECT_EQ(q.quantize(w, r.weights.params()).unpacked_codes(), r.weights.unpacked_codes()) << what;
  return e / e_rtn;
}

TEST(WeightedRounding, NeverWorseThanRoundToNearest) {
  using eigenq::Linear;
  for (std::uint32_t seed : {1u, 2u}) {
    const Eigen::MatrixXf x = calibration_rows(256, 128, seed, {9}, 4.0f);
    const Eigen::MatrixXf w = normal(24, 128, seed + 5);
    for (int bits : {2, 3, 4, 8}) {
      check(w, x, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(bits), eigenq::PerGroup{-1, 32}),
            ("int" + std::to_string(bits) + "-g32").c_str());
      check(w, x, eigenq::Quantizer(Linear<std::uint8_t>::affine().with_bits(bits), eigenq::PerChannel{0}),
            ("uint" + std::to_string(bits) + "-per-channel").c_str());
    }
    check(w, x, eigenq::Quantizer(Linear<std::uint8_t>::affine(eigenq::Profile::onnx).with_bits(4), eigenq::PerGroup{-1, 64}),
          "uint4-g64-onnx (imatrix only)", false);
    check(w, x, eigenq::Quantizer(eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0}), "codebook3");
    check(w, x, eigenq::Quantizer(eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0}), "log-signed4");
  }
}

TEST(WeightedRounding, OutlierChannelsAtLeast30PercentLessErrorThanRtn) {
  const Eigen::MatrixXf x = calibration_rows(512, 256, 21, {5, 77, 130, 200}, 30.0f);
  const Eigen::MatrixXf w = normal(64, 256, 22);
  using eigenq::Linear;
  EXPECT_LE(check(w, x, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128}),
                  "int4-g128 outliers"), 0.7);
  EXPECT_LE(check(w, x, eigenq::Quantizer(Linear<std::uint8_t>::affine().with_bits(4), eigenq::PerGroup{-1, 128}),
                  "uint4-g128-affine outliers"), 0.7);
  EXPECT_LE(check(w, x, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerGroup{-1, 64}),
                  "int3-g64 outliers"), 0.7);
  EXPECT_LE(check(w, x, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128}),
                  "int4-g128 outliers (imatrix only)", false), 0.7);
}

TEST(WeightedRounding, BadInput) {
  const Eigen::MatrixXf w = normal(4, 16, 3);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::weighted_rounding(w, Eigen::VectorXd::Ones(8), q); },
                                                {"8 importances", "16"});
  Eigen::VectorXd imp = Eigen::VectorXd::Ones(16);
  imp[2] = -1.0;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::weighted_rounding(w, imp, q); }, {"importance [2]"});
  imp[2] = std::nan("");
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::weighted_rounding(w, imp, q); }, {"importance [2]"});
  eigenq::CalibrationStats empty;
  empty.in = 16;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::weighted_rounding(w, empty, q); }, {"in_sum2"});
}

}  // namespace
