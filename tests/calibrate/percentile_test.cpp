#include "eigenq/calibrate/percentile.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include "calibrate_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace {

// The exact P-th percentile (nearest rank) of a sample.
double nearest_rank(std::vector<float> v, double p) {
  std::sort(v.begin(), v.end());
  const auto k = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::max<std::size_t>(k, 1) - 1];
}

TEST(PercentileObserver, MagnitudeMatchesSortedData) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(400, 250, 21, 2.0f);
  eigenq::PercentileObserver obs(eigenq::PerTensor{}, 99.9);
  obs.observe(x.topRows(200));
  obs.observe(x.bottomRows(200));
  std::vector<float> mags(static_cast<std::size_t>(x.size()));
  for (Eigen::Index i = 0; i < x.size(); ++i) mags[static_cast<std::size_t>(i)] = std::fabs(x.data()[i]);
  const double exact = nearest_rank(mags, 99.9);
  const auto r = obs.ranges();
  const double width = obs.histograms().histograms()[0].bin_width();
  EXPECT_NEAR(r.max[0], exact, 1.01 * width + 1e-6);
  EXPECT_NEAR(r.min[0], -exact, 1.01 * width + 1e-6);
  // Independent check: 2 sigma * 3.2905 is the 99.9th percentile of |N(0, 4)|.
  EXPECT_NEAR(r.max[0], 2.0 * 3.2905, 0.1);
}

TEST(PercentileObserver, TailsMatchSortedDataPerChannel) {
  Eigen::MatrixXf x = eigenq_test::gaussian(3000, 3, 22);
  x.col(1) = x.col(1).array().exp().matrix();  // log-normal: skewed, all positive
  x.col(2) *= 10.0f;
  eigenq::PercentileObserver obs(eigenq::PerChannel{1}, 99.0, eigenq::PercentileMode::tails);
  obs.observe(x);
  const auto r = obs.ranges();
  for (int c = 0; c < 3; ++c) {
    const std::vector<float> v(x.col(c).data(), x.col(c).data() + x.rows());
    const double width = obs.histograms().histograms()[static_cast<std::size_t>(c)].bin_width();
    EXPECT_NEAR(r.min[static_cast<std::size_t>(c)], nearest_rank(v, 1.0), 1.01 * width + 1e-6) << c;
    EXPECT_NEAR(r.max[static_cast<std::size_t>(c)], nearest_rank(v, 99.0), 1.01 * width + 1e-6) << c;
  }
  EXPECT_GT(r.min[1], 0.0f);  // the positive channel keeps a positive lower tail
}

TEST(PercentileObserver, HundredIsMinMax) {
  const Eigen::MatrixXf x = eigenq_test::uniform(50, 8, 23, -2.0f, 5.0f);
  eigenq::PercentileObserver obs(eigenq::PerChannel{1}, 100.0, eigenq::PercentileMode::tails);
  obs.observe(x);
  eigenq::MinMaxObserver mm(eigenq::PerChannel{1});
  mm.observe(x);
  EXPECT_EQ(obs.ranges().min, mm.ranges().min);
  EXPECT_EQ(obs.ranges().max, mm.ranges().max);
  const auto pol = eigenq::Linear<std::uint8_t>::affine();
  EXPECT_EQ(obs.params(pol), mm.params(pol));
}

// A few huge outliers: min-max spends the codes on them, percentile clipping does not.
TEST(PercentileObserver, BeatsMinMaxWithOutliers) {
  Eigen::MatrixXf x = eigenq_test::gaussian(1000, 100, 24);
  for (int k = 0; k < 10; ++k) x(k * 97, k % 100) = (k % 2 ? 50.0f : -50.0f);
  const auto pol = eigenq::Linear<std::int8_t>::symmetric().with_bits(4);
  eigenq::MinMaxObserver mm;
  mm.observe(x);
  eigenq::PercentileObserver pct(eigenq::PerTensor{}, 99.9);
  pct.observe(x);
  const double mse_minmax = eigenq_test::quantization_mse(x, pol, mm.params(pol)[0]);
  const double mse_pct = eigenq_test::quantization_mse(x, pol, pct.params(pol)[0]);
  EXPECT_LT(mse_pct * 3.0, mse_minmax) << mse_pct << " vs " << mse_minmax;
}

TEST(PercentileObserver, ParamsFeedTheQuantizer) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(64, 16, 25);
  eigenq::PercentileObserver obs(eigenq::PerChannel{1}, 99.0);
  obs.observe(x);
  const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel> q(eigenq::Linear<std::int8_t>::symmetric(),
                                                                              eigenq::PerChannel{1});
  const auto qt = q.quantize(x, obs.params(q.policy()));
  EXPECT_EQ(qt.params().size(), 16u);
}

TEST(PercentileObserver, RejectsBadSettings) {
  EXPECT_THROW(eigenq::PercentileObserver(eigenq::PerTensor{}, 0.0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::PercentileObserver(eigenq::PerTensor{}, 100.5), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::PercentileObserver(eigenq::PerTensor{}, 30.0, eigenq::PercentileMode::tails),
               eigenq::InvalidArgument);
  eigenq::PercentileObserver obs;
  EXPECT_THROW(obs.ranges(), eigenq::InvalidArgument);
}

}  // namespace
