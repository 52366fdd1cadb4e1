#include "eigenq/calibrate/histogram.hpp"

#include "calibrate_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace {

using eigenq::Histogram;
using eigenq::HistogramKind;
using eigenq::Index;

// The bin each value falls in, computed directly from the final window.
std::vector<std::int64_t> direct_counts(const Histogram& h, const std::vector<float>& values) {
  std::vector<std::int64_t> c(static_cast<std::size_t>(h.bins()), 0);
  for (float v : values) {
    const double b = h.kind() == HistogramKind::values ? v : std::fabs(v);
    double j = std::floor((b - h.origin()) / h.bin_width());
    j = std::clamp(j, 0.0, static_cast<double>(h.bins() - 1));
    ++c[static_cast<std::size_t>(j)];
  }
  return c;
}

std::int64_t count_mismatch(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  std::int64_t d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += std::llabs(a[i] - b[i]);
  return d;
}

std::vector<float> flat(const Eigen::MatrixXf& m) { return std::vector<float>(m.data(), m.data() + m.size()); }

TEST(Histogram, FirstBatchSpansEveryBin) {
  Histogram h(64);
  const Eigen::MatrixXf x = eigenq_test::uniform(100, 10, 1, -3.0f, 5.0f);
  h.add(x.data(), x.size());
  EXPECT_EQ(h.total(), 1000);
  EXPECT_EQ(h.min(), x.minCoeff());
  EXPECT_EQ(h.max(), x.maxCoeff());
  EXPECT_DOUBLE_EQ(h.origin(), x.minCoeff());
  EXPECT_DOUBLE_EQ(h.bin_upper(63), x.maxCoeff());
  EXPECT_GT(h.counts().front(), 0);
  EXPECT_GT(h.counts().back(), 0);
  EXPECT_EQ(count_mismatch(h.counts(), direct_counts(h, flat(x))), 0);
}

// Growth merges whole bins: the streamed counts equal the counts of all the data binned
// directly on the final window (up to values within rounding of a bin edge).
TEST(Histogram, GrowthMergesBinsExactly) {
  for (HistogramKind kind : {HistogramKind::values, HistogramKind::magnitudes}) {
    Histogram h(256, kind);
    std::vector<float> all;
    const float scales[] = {1.0f, 3.0f, 0.5f, 40.0f, 2.0f};
    for (int b = 0; b < 5; ++b) {
      Eigen::MatrixXf x = eigenq_test::gaussian(200, 50, 10u + static_cast<unsigned>(b), scales[b]);
      if (b == 2) x.array() += 7.0f;  // shifted to the right: growth on one side
      h.add(x.data(), x.size());
      const auto f = flat(x);
      all.insert(all.end(), f.begin(), f.end());
    }
    EXPECT_EQ(h.total(), static_cast<std::int64_t>(all.size()));
    const auto direct = direct_counts(h, all);
    EXPECT_LE(count_mismatch(h.counts(), direct), 4) << to_string(kind);
    EXPECT_EQ(std::accumulate(h.counts().begin(), h.counts().end(), std::int64_t{0}), h.total());
    // The window covers the data, which still span at least a quarter of the bins.
    const double lo = kind == HistogramKind::values ? *std::min_element(all.begin(), all.end()) : 0.0;
    const double hi = kind == HistogramKind::values ? *std::max_element(all.begin(), all.end()) : h.max_abs();
    EXPECT_LE(h.origin(), lo);
    EXPECT_GE(h.bin_upper(h.bins() - 1), hi);
    EXPECT_GE((hi - lo) / h.bin_width(), static_cast<double>(h.bins()) / 4.0 - 1.0);
  }
}

TEST(Histogram, PointMassUntilSpread) {
  Histogram h(32);
  const float sevens[4] = {7, 7, 7, 7};
  h.add(sevens, 4);
  EXPECT_TRUE(h.is_point_mass());
  EXPECT_EQ(h.quantile(0.3), 7.0);
  h.add(sevens, 2);
  EXPECT_TRUE(h.is_point_mass());
  EXPECT_EQ(h.total(), 6);
  const float other[2] = {-1, 3};
  h.add(other, 2);
  ASSERT_FALSE(h.is_point_mass());
  EXPECT_EQ(h.total(), 8);
  EXPECT_DOUBLE_EQ(h.origin(), -1.0);
  EXPECT_EQ(h.counts().back(), 6);  // the sevens sit in the top bin
  EXPECT_EQ(h.counts().front(), 1);
  Histogram zeros(32, HistogramKind::magnitudes);
  const float z[3] = {0, -0.0f, 0};
  zeros.add(z, 3);
  EXPECT_TRUE(zeros.is_point_mass());
  EXPECT_EQ(zeros.quantile(1.0), 0.0);
}

TEST(Histogram, QuantileWithinOneBinOfExact) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(500, 100, 3);
  std::vector<float> v = flat(x);
  Histogram h(2048);
  for (Index r = 0; r < 5; ++r) h.add(v.data() + r * 10000, 10000);  // five batches
  std::sort(v.begin(), v.end());
  for (double q : {0.001, 0.01, 0.25, 0.5, 0.9, 0.999, 0.9999}) {
    const double exact = v[static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1];
    EXPECT_NEAR(h.quantile(q), exact, 1.01 * h.bin_width()) << "q = " << q;
  }
  EXPECT_EQ(h.quantile(1.0), v.back());
  EXPECT_EQ(h.quantile(0.0), v.front());
  EXPECT_THROW(h.quantile(1.5), eigenq::InvalidArgument);
}

TEST(Histogram, RejectsBadInput) {
  EXPECT_THROW(Histogram(8), eigenq::InvalidArgument);
  Histogram h(64);
  EXPECT_THROW(h.quantile(0.5), eigenq::InvalidArgument);  // empty
  const float bad[3] = {1.0f, std::numeric_limits<float>::infinity(), 2.0f};
  EXPECT_THROW(h.add(bad, 3), eigenq::NonFiniteError);
  EXPECT_TRUE(h.empty());
}

// Per channel on any axis equals a per-tensor histogram of that channel's values alone.
TEST(HistogramObserver, PerChannelEqualsEachChannelAlone) {
  Eigen::Tensor<float, 3, Eigen::RowMajor> t(4, 5, 6);
  const Eigen::MatrixXf src = eigenq_test::gaussian(4 * 5, 6, 5);
  std::copy(src.data(), src.data() + src.size(), t.data());
  for (int axis = 0; axis < 3; ++axis) {
    eigenq::HistogramObserver obs(eigenq::PerChannel{axis}, 32);
    obs.observe(t);
    Eigen::Tensor<float, 3, Eigen::RowMajor> t2 = t * 2.0f;
    obs.observe(t2);
    const Index channels = t.dimension(axis);
    ASSERT_EQ(static_cast<Index>(obs.histograms().size()), channels);
    for (Index c = 0; c < channels; ++c) {
      std::vector<float> mine, mine2;
      for (Index i = 0; i < 4; ++i)
        for (Index j = 0; j < 5; ++j)
          for (Index k = 0; k < 6; ++k) {
            const Index idx[3] = {i, j, k};
            if (idx[axis] == c) {
              mine.push_back(t(i, j, k));
              mine2.push_back(t2(i, j, k));
            }
          }
      Histogram alone(32);
      alone.add(mine.data(), static_cast<Index>(mine.size()));
      alone.add(mine2.data(), static_cast<Index>(mine2.size()));
      const Histogram& h = obs.histograms()[static_cast<std::size_t>(c)];
      EXPECT_EQ(h.counts(), alone.counts()) << "axis " << axis << " channel " << c;
      EXPECT_EQ(h.min(), alone.min());
      EXPECT_EQ(h.max(), alone.max());
    }
  }
}

TEST(HistogramObserver, BadBatches) {
  eigenq::HistogramObserver obs(eigenq::PerChannel{0}, 64);
  Eigen::MatrixXf x = Eigen::MatrixXf::Ones(3, 4);
  obs.observe(x);
  x(1, 2) = -std::numeric_limits<float>::infinity();
  try {
    obs.observe(x);
    FAIL();
  } catch (const eigenq::NonFiniteError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("-Inf"), std::string::npos) << m;
    EXPECT_NE(m.find("[1, 2]"), std::string::npos) << m;
    EXPECT_NE(m.find("batch 1"), std::string::npos) << m;
  }
  EXPECT_EQ(obs.histograms()[1].total(), 4);  // unchanged
  EXPECT_THROW(obs.observe(Eigen::MatrixXf::Ones(5, 4)), eigenq::ShapeError);
  EXPECT_THROW(obs.observe(Eigen::MatrixXf(3, 0)), eigenq::ShapeError);
  obs.observe(Eigen::MatrixXf::Ones(3, 9));  // other dimensions may change
  EXPECT_EQ(obs.histograms()[1].total(), 13);
}

// A big per-channel tensor (1024 channels of 1024 values, twice): every value lands in its
// channel's histogram.
TEST(HistogramObserver, PerChannelBigTensorCountsEveryValue) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(1024, 1024, 9);
  eigenq::HistogramObserver obs(eigenq::PerChannel{1}, 2048);
  obs.observe(x);
  obs.observe(x * 3.0f);
  ASSERT_EQ(obs.histograms().size(), 1024u);
  for (const auto& h : obs.histograms()) EXPECT_EQ(h.total(), 2 * 1024);
}

}  // namespace
