#include "eigenq/calibrate/kl_entropy.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"

#include "calibrate_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

// A plain transcription of TensorRT's procedure, written independently of the library's
// (explicit P and Q arrays, group assignment by comparing against the linspace edges
// k * i / levels as np.digitize does, both distributions normalized, then
// sum p log(p / q)), used to check the library's search on arbitrary histograms.
double reference_kl(const std::vector<std::int64_t>& bins, std::size_t i, std::size_t levels) {
  std::vector<double> P(bins.begin(), bins.begin() + static_cast<std::ptrdiff_t>(i));
  for (std::size_t j = i; j < bins.size(); ++j) P[i - 1] += static_cast<double>(bins[j]);
  std::vector<long> group(i);
  for (std::size_t j = 0; j < i; ++j) {
    long g = -1;
    for (std::size_t k = 0; k <= levels; ++k) {
      if (static_cast<double>(k) * (static_cast<double>(i) / static_cast<double>(levels)) <= static_cast<double>(j)) g = static_cast<long>(k);
    }
    group[j] = g;
  }
  std::vector<double> sum(levels, 0.0), nonzero(levels, 0.0);
  for (std::size_t j = 0; j < i; ++j) {
    if (bins[j] == 0) continue;
    sum[static_cast<std::size_t>(group[j])] += static_cast<double>(bins[j]);
    nonzero[static_cast<std::size_t>(group[j])] += 1.0;
  }
  std::vector<double> Q(i, 0.0);
  for (std::size_t j = 0; j < i; ++j) {
    if (bins[j] != 0) Q[j] = sum[static_cast<std::size_t>(group[j])] / nonzero[static_cast<std::size_t>(group[j])];
  }
  double sp = 0.0, sq = 0.0;
  for (std::size_t j = 0; j < i; ++j) {
    sp += P[j];
    sq += Q[j];
  }
  double kl = 0.0;
  for (std::size_t j = 0; j < i; ++j) {
    const double p = P[j] / sp;
    const double q = Q[j] / sq;
    if (p == 0.0) continue;
    if (q == 0.0) return std::numeric_limits<double>::infinity();
    kl += p * std::log(p / q);
  }
  return kl;
}

eigenq::Histogram magnitudes(const Eigen::MatrixXf& x, eigenq::Index bins = 2048) {
  eigenq::Histogram h(bins, eigenq::HistogramKind::magnitudes);
  h.add(x.data(), x.size());
  return h;
}

TEST(KlEntropy, SearchMatchesReferenceTranscription) {
  const Eigen::MatrixXf g = eigenq_test::gaussian(300, 100, 41);
  const Eigen::MatrixXf heavy = g.array().cube().matrix();
  Eigen::MatrixXf sparse = g;
  for (Eigen::Index i = 0; i < sparse.size(); i += 3) sparse.data()[i] = 0.0f;  // gaps in the histogram
  for (const Eigen::MatrixXf* x : std::vector<const Eigen::MatrixXf*>{&g, &heavy, &sparse}) {
    const eigenq::Histogram h = magnitudes(*x, 256);
    for (eigenq::Index levels : {eigenq::Index{8}, eigenq::Index{128}}) {
      const eigenq::KlEntropyResult r = eigenq::kl_threshold(h, levels, {levels, 1, 0});
      double best = std::numeric_limits<double>::infinity();
      std::size_t best_i = 0;
      std::size_t used = h.counts().size();
      while (h.counts()[used - 1] == 0) --used;
      std::vector<double> prefix(used + 1, 0.0);
      for (std::size_t j = 0; j < used; ++j) prefix[j + 1] = prefix[j] + static_cast<double>(h.counts()[j]);
      const std::vector<std::int64_t> bins(h.counts().begin(), h.counts().begin() + static_cast<std::ptrdiff_t>(used));
      for (std::size_t i = static_cast<std::size_t>(levels); i <= used; ++i) {
        const double kl = reference_kl(bins, i, static_cast<std::size_t>(levels));
        const double mine = eigenq::kl_divergence_at(h.counts(), prefix, static_cast<double>(h.total()),
                                                     static_cast<eigenq::Index>(i), levels);
        if (std::isinf(kl)) {
          EXPECT_TRUE(std::isinf(mine)) << "i = " << i;
        } else {
          EXPECT_NEAR(mine, kl, 1e-9 * (1.0 + kl)) << "i = " << i;
        }
        if (kl < best) {
          best = kl;
          best_i = i;
        }
      }
      EXPECT_EQ(r.bin, static_cast<eigenq::Index>(best_i)) << "levels " << levels;
      EXPECT_NEAR(r.divergence, best, 1e-9);
    }
  }
}

// No outliers, flat distribution: nothing to clip, the threshold is the maximum and the
// parameters are min-max's.
TEST(KlEntropy, UniformDataKeepsTheFullRange) {
  const Eigen::MatrixXf x = eigenq_test::uniform(400, 100, 42, -1.0f, 1.0f);
  eigenq::KlEntropyObserver obs;
  obs.observe(x);
  const auto r = obs.search(8)[0];
  EXPECT_EQ(r.threshold, static_cast<double>(x.cwiseAbs().maxCoeff()));
  eigenq::MinMaxObserver mm;
  mm.observe(x);
  const auto pol = eigenq::Linear<std::int8_t>::symmetric();
  EXPECT_EQ(obs.params(pol), mm.params(pol));
  // With a stride that skips the last bin edge, the full range is still a candidate.
  eigenq::KlEntropyObserver strided(eigenq::PerTensor{}, {128, 7, 0});
  strided.observe(x);
  EXPECT_EQ(strided.search(8)[0].threshold, static_cast<double>(x.cwiseAbs().maxCoeff()));
  EXPECT_EQ(strided.search(8)[0].bin, 2048);
}

// A bulk in [0, 1] plus a few outliers up to 5: the threshold clips just above the bulk.
// (Candidates start at bin 128 of 2048, so TensorRT's method never clips below max/16;
// and a candidate whose last bin is empty while outliers fold into it has infinite KL.)
TEST(KlEntropy, ClipsOutliers) {
  Eigen::MatrixXf x = eigenq_test::uniform(500, 100, 43, 0.0f, 1.0f);
  x(0, 0) = 5.0f;
  x(7, 3) = 4.0f;
  x(9, 9) = 4.5f;
  eigenq::KlEntropyObserver obs;
  obs.observe(x);
  const auto r = obs.search(8)[0];
  EXPECT_GE(r.threshold, 0.95);
  EXPECT_LE(r.threshold, 1.2);
  // One-sided data: 2^8 levels and a range that starts at 0.
  EXPECT_EQ(obs.levels_for(obs.histograms().histograms()[0], 8), 256);
  const auto ranges = obs.ranges(eigenq::Linear<std::uint8_t>::affine());
  EXPECT_EQ(ranges.min[0], x.minCoeff());  // the observed minimum: nothing to clip below
  EXPECT_NEAR(ranges.max[0], r.threshold, 1e-6);
}

// Gaussian data: fewer bits clip harder; the 8-bit threshold sits in the known 3-5 sigma band.
TEST(KlEntropy, GaussianThresholdsShrinkWithBits) {
  const Eigen::MatrixXf x = eigenq_test::gaussian(500, 200, 44);
  eigenq::KlEntropyObserver obs;
  obs.observe(x);
  const double t8 = obs.search(8)[0].threshold;
  const double t6 = obs.search(6)[0].threshold;
  const double t4 = obs.search(4)[0].threshold;
  EXPECT_GT(t8, 3.0);
  EXPECT_LT(t8, x.cwiseAbs().maxCoeff());
  EXPECT_LT(t6, t8);
  EXPECT_LT(t4, t6);
}

TEST(KlEntropy, PerChannelAndErrors) {
  Eigen::MatrixXf x = eigenq_test::gaussian(2000, 2, 45);
  x(5, 1) = 12.0f;
  eigenq::KlEntropyObserver obs(eigenq::PerChannel{1}, {128, 4, 0});
  obs.observe(x);
  const auto found = obs.search(8);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_LT(found[1].threshold, 6.0);  // the outlier is clipped away
  EXPECT_GT(found[0].threshold, 2.5);
  EXPECT_THROW(eigenq::KlEntropyObserver(eigenq::PerTensor{}, {128, 0, 0}), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::KlEntropyObserver(eigenq::PerTensor{}, {128, 1, 1}), eigenq::InvalidArgument);
  eigenq::Histogram values(64);
  values.add(x.data(), 10);
  EXPECT_THROW(eigenq::kl_threshold(values, 128), eigenq::InvalidArgument);  // not magnitudes
  EXPECT_THROW(obs.observe(Eigen::MatrixXf::Zero(3, 3)), eigenq::ShapeError);
}

}  // namespace
