#include "eigenq/calibrate/mse_clip.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"

#include "calibrate_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * 3.14159265358979323846); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// E[(X - Q(X))^2] for X ~ N(0, 1) and the uniform quantizer with levels (q - zp) * scale,
// q in [qmin, qmax], decision boundaries halfway between levels; closed form per cell:
// int_a^b (x - c)^2 phi = [Phi]_a^b (1 + c^2) + [a phi(a) - b phi(b)] - 2c [phi(a) - phi(b)].
double gaussian_expected_mse(const eigenq::Linear<std::int8_t>& pol, const eigenq::LinearParams& p) {
  const auto r = pol.range();
  double sum = 0.0;
  for (int q = r.qmin; q <= r.qmax; ++q) {
    const double c = (q - p.zero_point) * static_cast<double>(p.scale);
    const double a = q == r.qmin ? -std::numeric_limits<double>::infinity() : c - 0.5 * p.scale;
    const double b = q == r.qmax ? std::numeric_limits<double>::infinity() : c + 0.5 * p.scale;
    const double pa = std::isinf(a) ? 0.0 : phi(a);
    const double pb = std::isinf(b) ? 0.0 : phi(b);
    const double apa = std::isinf(a) ? 0.0 : a * pa;
    const double bpb = std::isinf(b) ? 0.0 : b * pb;
    sum += (Phi(b) - Phi(a)) * (1.0 + c * c) + (apa - bpb) - 2.0 * c * (pa - pb);
  }
  return sum;
}

// On Gaussian data the searched 4-bit clip lands at the analytic optimum, found here by
// brute force over a fine grid of the exact expected error of the same quantizer.
TEST(MseClip, GaussianFourBitMatchesAnalyticOptimum) {
  const auto pol = eigenq::Linear<std::int8_t>::symmetric().with_bits(4);
  double best_t = 0.0;
  double best_e = std::numeric_limits<double>::infinity();
  for (double t = 1.0; t <= 4.0; t += 0.0005) {
    const double e = gaussian_expected_mse(pol, pol.fit(static_cast<float>(-t), static_cast<float>(t)));
    if (e < best_e) {
      best_e = e;
      best_t = t;
    }
  }
  EXPECT_NEAR(best_t, 2.5, 0.3);  // sanity: the literature's ~2.5 sigma for 4 bits

  const Eigen::MatrixXf x = eigenq_test::gaussian(1000, 200, 31);
  eigenq::MseClipObserver obs;
  for (int b = 0; b < 4; ++b) obs.observe(x.middleRows(250 * b, 250));
  const auto found = obs.search(pol)[0];
  EXPECT_NEAR(found.clip, best_t, 0.1) << "analytic optimum " << best_t;
  const double e_found = gaussian_expected_mse(pol, pol.fit(found.lo, found.hi));
  EXPECT_LT(e_found, best_e * 1.01) << "found t = " << found.clip << ", optimum " << best_t;
  // The reported error estimates the true expected error.
  EXPECT_NEAR(found.mse, best_e, 0.05 * best_e);
}

TEST(MseClip, BeatsMinMaxWithOutliers) {
  Eigen::MatrixXf x = eigenq_test::gaussian(1000, 100, 32);
  for (int k = 0; k < 10; ++k) x(k * 89, (k * 7) % 100) = (k % 2 ? 50.0f : -50.0f);
  const auto pol = eigenq::Linear<std::int8_t>::symmetric().with_bits(4);
  eigenq::MinMaxObserver mm;
  mm.observe(x);
  eigenq::MseClipObserver obs;
  obs.observe(x);
  const double mse_minmax = eigenq_test::quantization_mse(x, pol, mm.params(pol)[0]);
  const double mse_clip = eigenq_test::quantization_mse(x, pol, obs.params(pol)[0]);
  EXPECT_LT(mse_clip * 3.0, mse_minmax) << mse_clip << " vs " << mse_minmax;
}

// The search minimizes the error of the actual policy: its choice is at least as good on
// the data as every grid point a brute-force search over the raw values tries.
TEST(MseClip, NoWorseThanBruteForceOnRawData) {
  Eigen::MatrixXf x = eigenq_test::gaussian(200, 50, 33);
  x = x.array().cube().matrix();  // heavy tails
  const auto pol = eigenq::Linear<std::uint8_t>::affine();
  eigenq::MseClipObserver obs;
  obs.observe(x);
  const auto found = obs.search(pol)[0];
  const double mse_found = eigenq_test::quantization_mse(x, pol, pol.fit(found.lo, found.hi));
  const double amax = x.cwiseAbs().maxCoeff();
  double brute = std::numeric_limits<double>::infinity();
  for (int k = 1; k <= 400; ++k) {
    const float t = static_cast<float>(amax * k / 400.0);
    const float lo = std::max(x.minCoeff(), -t);
    const float hi = std::min(x.maxCoeff(), t);
    brute = std::min(brute, eigenq_test::quantization_mse(x, pol, pol.fit(lo, hi)));
  }
  EXPECT_LE(mse_found, brute * 1.02);
}

// Generic over the policy: the seed convention's quantizer, shrink search, per channel.
TEST(MseClip, SeedPolicyShrinkPerChannel) {
  Eigen::MatrixXf x = eigenq_test::gaussian(4, 3000, 34);
  x.row(2) *= 5.0f;
  x(1, 7) = 80.0f;  // an outlier in channel 1 only
  const auto pol = eigenq::LinearRealOffset<std::uint8_t>().with_bits(3);
  eigenq::MseClipObserver obs(eigenq::PerChannel{0}, {eigenq::ClipSearch::shrink, 64, 2});
  obs.observe(x);
  const auto found = obs.search(pol);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_LT(found[1].clip, 0.2);  // channel 1 shrinks far below its outlier
  for (int c = 0; c < 4; ++c) {
    const Eigen::MatrixXf row = x.row(c);
    eigenq::MinMaxObserver mm;
    mm.observe(row);
    const double mse_minmax = eigenq_test::quantization_mse(row, pol, mm.params(pol)[0]);
    const double mse_clip = eigenq_test::quantization_mse(row, pol, obs.params(pol)[static_cast<std::size_t>(c)]);
    EXPECT_LE(mse_clip, mse_minmax * 1.001) << "channel " << c;
  }
}

// A logarithmic policy: the search moves its top level (and so every level) down until
// the squared error stops falling; never worse than min-max, which is one of the candidates.
TEST(MseClip, LogPolicy) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(500, 100, 36);
  const auto pol = eigenq::LogSigned<std::int8_t>().with_bits(4);
  eigenq::MseClipObserver obs;
  obs.observe(x);
  eigenq::MinMaxObserver mm;
  mm.observe(x);
  const double mse_minmax = eigenq_test::quantization_mse(x, pol, mm.params(pol)[0]);
  const double mse_clip = eigenq_test::quantization_mse(x, pol, obs.params(pol)[0]);
  EXPECT_LT(mse_clip, mse_minmax) << mse_clip << " vs " << mse_minmax;
  EXPECT_LT(obs.search(pol)[0].clip, x.cwiseAbs().maxCoeff());
}

TEST(MseClip, ConstantAndOneSidedData) {
  const auto pol = eigenq::Linear<std::uint8_t>::affine();
  eigenq::MseClipObserver zeros;
  zeros.observe(Eigen::MatrixXf::Zero(3, 3));
  const auto z = zeros.search(pol)[0];
  EXPECT_EQ(z.lo, 0.0f);
  EXPECT_EQ(z.hi, 0.0f);
  EXPECT_EQ(z.mse, 0.0);
  // ReLU-like data keep their zero side: the range starts at 0.
  const Eigen::MatrixXf relu = eigenq_test::gaussian(300, 100, 35).cwiseMax(0.0f);
  eigenq::MseClipObserver obs;
  obs.observe(relu);
  auto four_bit = eigenq::Linear<std::uint8_t>::affine();
  four_bit.with_range(0, 15);
  const auto r = obs.search(four_bit)[0];
  EXPECT_EQ(r.lo, 0.0f);
  EXPECT_GT(r.hi, 1.5f);
  EXPECT_LT(r.hi, relu.maxCoeff());
}

TEST(MseClip, RejectsBadOptions) {
  EXPECT_THROW(eigenq::MseClipObserver(eigenq::PerTensor{}, {eigenq::ClipSearch::magnitude, 2, 1}),
               eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::MseClipObserver(eigenq::PerTensor{}, {eigenq::ClipSearch::magnitude, 10, -1}),
               eigenq::InvalidArgument);
  eigenq::MseClipObserver obs;
  EXPECT_THROW(obs.params(eigenq::Linear<std::int8_t>()), eigenq::InvalidArgument);  // no data
}

}  // namespace
