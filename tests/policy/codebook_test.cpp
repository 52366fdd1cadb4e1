// Tests include/eigenq/policy/codebook.hpp and policy/kmeans_1d.hpp.
#include "eigenq/policy/codebook.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "eigenq/policy/kmeans_1d.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"
#include "policy_test_util.hpp"

namespace {

using eigenq::Codebook;
using eigenq::Index;
using eigenq::KMeans1dOptions;
using eigenq::KMeans1dResult;
using eigenq_test::Distribution;
using eigenq_test::Rng;

using eigenq_test::expect_error;

// ------------------------------------------------------------- brute-force references

// Index of the nearest centre by distance (ties to the lower index): O(k).
std::size_t nearest_brute(const std::vector<double>& centres, double x) {
  std::size_t best = 0;
  for (std::size_t j = 1; j < centres.size(); ++j) {
    if (std::fabs(x - centres[j]) < std::fabs(x - centres[best])) best = j;
  }
  return best;
}

double mse_brute(const std::vector<float>& x, const std::vector<double>& centres) {
  double s = 0.0;
  for (float v : x) {
    const double d = v - centres[nearest_brute(centres, v)];
    s += d * d;
  }
  return s / static_cast<double>(x.size());
}

// Plain Lloyd: O(n k) per iteration, from given centres, until the assignment is stable.
std::vector<double> lloyd_brute(const std::vector<float>& x, std::vector<double> centres, int& iterations) {
  std::vector<std::size_t> assign(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) assign[i] = nearest_brute(centres, x[i]);
  iterations = 0;
  for (int it = 1; it <= 10000; ++it) {
    std::vector<double> sum(centres.size(), 0.0);
    std::vector<double> count(centres.size(), 0.0);
    for (std::size_t i = 0; i < x.size(); ++i) {
      sum[assign[i]] += x[i];
      count[assign[i]] += 1;
    }
    for (std::size_t j = 0; j < centres.size(); ++j) {
      if (count[j] > 0) centres[j] = sum[j] / count[j];
    }
    iterations = it;
    bool changed = false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const std::size_t a = nearest_brute(centres, x[i]);
      changed = changed || a != assign[i];
      assign[i] = a;
    }
    if (!changed) break;
  }
  return centres;
}

// ------------------------------------------------------------- sorting

TEST(KMeans1d, RadixSortMatchesStdSort) {
  for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{5000}, std::size_t{70001}}) {
    Rng rng(n);
    std::vector<float> v(n);
    for (float& x : v) {
      const double u = rng.open01();
      if (u < 0.05) x = 0.0f;
      else if (u < 0.1) x = -0.0f;
      else if (u < 0.15) x = std::numeric_limits<float>::denorm_min() * static_cast<float>(rng.integer(-50, 50));
      else if (u < 0.2) x = static_cast<float>(rng.integer(-3, 3));  // duplicates
      else x = static_cast<float>(rng.gaussian() * std::exp(rng.uniform(-30, 30)));
    }
    v[0] = std::numeric_limits<float>::max();
    if (n > 1) v[1] = -std::numeric_limits<float>::max();
    std::vector<float> expected = v;
    std::sort(expected.begin(), expected.end());
    eigenq::detail::sort_floats(v);
    ASSERT_EQ(v, expected) << "n = " << n;
    // The radix path (n >= 4096) also puts -0.0 before +0.0, as the keys order them.
    for (std::size_t i = 1; i < n && n >= 4096; ++i) {
      if (v[i] == 0.0f && v[i - 1] == 0.0f) {
        ASSERT_FALSE(std::signbit(v[i]) && !std::signbit(v[i - 1]));
      }
    }
  }
}

// ------------------------------------------------------------- k-means

TEST(KMeans1d, HandExample) {
  // Two clusters: {0,0,0,1,1,1} (mean 0.5) and {10,10}, whatever the seeds.
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    std::vector<float> x{1, 10, 0, 1, 0, 10, 1, 0};
    KMeans1dOptions o;
    o.clusters = 2;
    o.seed = seed;
    const KMeans1dResult r = eigenq::kmeans_1d(x, o);
    ASSERT_EQ(r.centroids, (std::vector<double>{0.5, 10.0})) << "seed " << seed;
    EXPECT_TRUE(r.converged);
    EXPECT_DOUBLE_EQ(r.mse.back(), 6 * 0.25 / 8);
  }
}

TEST(KMeans1d, MatchesBruteForceLloydFromTheSameSeeds) {
  for (Distribution d : {Distribution::gaussian, Distribution::laplacian, Distribution::uniform}) {
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      for (int k : {2, 5, 16}) {
        std::vector<float> x = eigenq_test::sample(d, 3000, seed * 31 + static_cast<std::uint64_t>(k));
        const std::vector<float> original = x;
        KMeans1dOptions o;
        o.clusters = k;
        o.seed = seed;
        o.record_codebooks = true;
        const KMeans1dResult r = eigenq::kmeans_1d(x, o);
        ASSERT_TRUE(r.converged);
        ASSERT_EQ(static_cast<int>(r.centroids.size()), k);
        // Seeds are distinct data points, sorted.
        const auto& seeds = r.codebooks.front();
        for (std::size_t j = 0; j < seeds.size(); ++j) {
          ASSERT_NE(std::find(original.begin(), original.end(), static_cast<float>(seeds[j])), original.end());
          if (j > 0) {
            ASSERT_LT(seeds[j - 1], seeds[j]);
          }
        }
        int iterations = 0;
        const std::vector<double> brute = lloyd_brute(original, seeds, iterations);
        EXPECT_EQ(r.iterations, iterations) << to_string(d) << " seed " << seed << " k " << k;
        for (std::size_t j = 0; j < brute.size(); ++j) {
          ASSERT_NEAR(r.centroids[j], brute[j], 1e-9 * (1 + std::fabs(brute[j])));
        }
      }
    }
  }
}

TEST(KMeans1d, MseNeverIncreasesAcrossIterations) {
  for (Distribution d : {Distribution::gaussian, Distribution::laplacian, Distribution::lognormal}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      std::vector<float> x = eigenq_test::sample(d, 4000, seed);
      const std::vector<float> original = x;
      KMeans1dOptions o;
      o.clusters = 8;
      o.seed = seed;
      o.record_codebooks = true;
      const KMeans1dResult r = eigenq::kmeans_1d(x, o);
      ASSERT_EQ(r.mse.size(), r.codebooks.size());
      ASSERT_EQ(static_cast<int>(r.mse.size()), r.iterations + 1);
      ASSERT_GT(r.iterations, 1);
      double prev = INFINITY;
      for (std::size_t t = 0; t < r.mse.size(); ++t) {
        // The reported history is the true MSE of that iteration's codebook ...
        const double brute = mse_brute(original, r.codebooks[t]);
        ASSERT_NEAR(r.mse[t], brute, 1e-9 * brute) << "iteration " << t;
        // ... and it never goes up (up to summation rounding).
        ASSERT_LE(brute, prev * (1 + 1e-12)) << to_string(d) << " seed " << seed << " iteration " << t;
        prev = brute;
      }
      EXPECT_LT(r.mse.back(), r.mse.front());
    }
  }
}

TEST(KMeans1d, ConvergedCentresAreTheirClusterMeans) {
  std::vector<float> x = eigenq_test::sample(Distribution::laplacian, 5000, 77);
  const std::vector<float> original = x;
  KMeans1dOptions o;
  o.clusters = 6;
  const KMeans1dResult r = eigenq::kmeans_1d(x, o);
  ASSERT_TRUE(r.converged);
  std::vector<double> sum(6, 0.0), count(6, 0.0);
  for (float v : original) {
    const std::size_t j = nearest_brute(r.centroids, v);
    sum[j] += v;
    count[j] += 1;
  }
  for (std::size_t j = 0; j < 6; ++j) {
    ASSERT_GT(count[j], 0);
    EXPECT_NEAR(r.centroids[j], sum[j] / count[j], 1e-9);
  }
}

TEST(KMeans1d, DeterministicForASeed) {
  const std::vector<float> data = eigenq_test::sample(Distribution::gaussian, 20000, 5);
  KMeans1dOptions o;
  o.clusters = 16;
  o.seed = 42;
  std::vector<float> a = data, b = data, c = data;
  const auto ra = eigenq::kmeans_1d(a, o);
  const auto rb = eigenq::kmeans_1d(b, o);
  EXPECT_EQ(ra.centroids, rb.centroids);
  EXPECT_EQ(ra.mse, rb.mse);
  o.seed = 43;
  o.max_iterations = 0;  // only the seeds
  const auto rc = eigenq::kmeans_1d(c, o);
  o.seed = 42;
  std::vector<float> d = data;
  const auto rd = eigenq::kmeans_1d(d, o);
  EXPECT_NE(rc.centroids, rd.centroids);
  EXPECT_FALSE(rc.converged);
  EXPECT_EQ(rc.iterations, 0);
}

TEST(KMeans1d, FewerDistinctValuesThanClusters) {
  std::vector<float> x;
  for (int i = 0; i < 1000; ++i) x.push_back(static_cast<float>(i % 3) * 0.5f - 0.25f);
  KMeans1dOptions o;
  o.clusters = 16;
  const auto r = eigenq::kmeans_1d(x, o);
  EXPECT_EQ(r.centroids, (std::vector<double>{-0.25, 0.25, 0.75}));
  EXPECT_EQ(r.mse.back(), 0.0);
  std::vector<float> constant(50, 3.0f);
  const auto rc = eigenq::kmeans_1d(constant, o);
  EXPECT_EQ(rc.centroids, (std::vector<double>{3.0}));
}

TEST(KMeans1d, SeedingReachesKWithManyClustersAndDuplicates) {
  // Large k: every centre is placed (the sum tree never samples a cluster
  // whose cost is only rounding noise).
  std::vector<float> x = eigenq_test::sample(Distribution::gaussian, 200000, 4);
  KMeans1dOptions o;
  o.clusters = 65536;
  const auto r = eigenq::kmeans_1d(x, o);
  EXPECT_EQ(r.centroids.size(), 65536u);
  EXPECT_TRUE(std::is_sorted(r.centroids.begin(), r.centroids.end()));
  // A heavy duplicate mass sitting on a centre has zero cost; the rest is still clustered.
  std::vector<float> y(100000, 0.25f);
  const auto extra = eigenq_test::sample(Distribution::laplacian, 5000, 6);
  y.insert(y.end(), extra.begin(), extra.end());
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    std::vector<float> z = y;
    o.clusters = 64;
    o.seed = seed;
    const auto rz = eigenq::kmeans_1d(z, o);
    EXPECT_EQ(rz.centroids.size(), 64u) << "seed " << seed;
  }
}

TEST(KMeans1d, Errors) {
  std::vector<float> empty;
  expect_error<eigenq::ShapeError>([&] { eigenq::kmeans_1d(empty, KMeans1dOptions{}); }, {"empty"});
  std::vector<float> bad{1.0f, std::nanf(""), 2.0f};
  expect_error<eigenq::NonFiniteError>([&] { eigenq::kmeans_1d(bad, KMeans1dOptions{}); }, {"index 1"});
  std::vector<float> ok{1.0f};
  KMeans1dOptions o;
  o.clusters = 0;
  expect_error<eigenq::InvalidArgument>([&] { eigenq::kmeans_1d(ok, o); }, {"k = 0"});
}

// ------------------------------------------------------------- the policy

TEST(Codebook, QuantizeIsNearestEntryAndFixedPoint) {
  for (int bits : {2, 3, 4, 6, 8}) {
    const auto cb = Codebook<std::uint8_t>().with_bits(bits).with_seed(static_cast<std::uint64_t>(bits));
    std::vector<float> x = eigenq_test::sample(Distribution::gaussian, 6000, static_cast<std::uint64_t>(bits));
    const std::vector<float> original = x;
    const auto p = cb.fit_values(x);
    ASSERT_EQ(static_cast<int>(p.centroids.size()), 1 << bits);
    ASSERT_TRUE(std::is_sorted(p.centroids.begin(), p.centroids.end()));
    std::vector<double> centres(p.centroids.begin(), p.centroids.end());
    for (std::size_t q = 0; q < p.centroids.size(); ++q) {
      ASSERT_EQ(cb.quantize(cb.dequantize(static_cast<std::uint8_t>(q), p), p), q);
    }
    std::vector<std::uint8_t> run(original.size());
    cb.quantize_run(original.data(), static_cast<Index>(original.size()), &p, 0, run.data());
    for (std::size_t i = 0; i < original.size(); ++i) {
      ASSERT_EQ(run[i], nearest_brute(centres, original[i])) << "x = " << original[i];
      ASSERT_EQ(cb.quantize(original[i], p), run[i]);
    }
  }
}

TEST(Codebook, SignedCodesAndSmallerK) {
  const auto cb = Codebook<std::int8_t>().with_bits(4).with_clusters(5);
  std::vector<float> x = eigenq_test::sample(Distribution::uniform, 1000, 3);
  const auto p = cb.fit_values(x);
  ASSERT_EQ(p.centroids.size(), 5u);
  EXPECT_EQ(cb.quantize(-10.0f, p), -8);  // index 0 is code q_min = -8
  EXPECT_EQ(cb.quantize(10.0f, p), -4);   // index 4
  EXPECT_EQ(cb.dequantize(-6, p), p.centroids[2]);
  EXPECT_EQ(cb.dequantize(7, p), p.centroids[4]);  // beyond the codebook: clamps
  EXPECT_EQ(cb.param_bytes(p), 5 * sizeof(float));
}

TEST(Codebook, DuplicateHeavyInputIsExact) {
  eigenq_test::RowMatrix w(8, 64);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>((i * 7) % 3) - 1.0f;  // -1, 0, 1
  const auto qt = eigenq::quantize(w, Codebook<std::uint8_t>().with_bits(4));
  ASSERT_EQ(qt.params().size(), 1u);
  EXPECT_EQ(qt.params()[0].centroids, (std::vector<float>{-1.0f, 0.0f, 1.0f}));
  const eigenq_test::RowMatrix back = eigenq::dequantize(qt);
  EXPECT_EQ(back, w);
  EXPECT_EQ(qt.storage_bytes(), static_cast<std::size_t>(8 * 64 / 2 + 3 * 4));  // nibbles + 3 entries
}

TEST(Codebook, PerChannelFitsEachChannelAlone) {
  const eigenq_test::RowMatrix w =
      eigenq_test::with_channel_scales(eigenq_test::sample_matrix(Distribution::laplacian, 5, 300, 9), 10);
  const auto cb = Codebook<std::uint8_t>().with_bits(3).with_seed(7);
  const eigenq::Quantizer q(cb, eigenq::PerChannel{0});
  const auto qt = q.quantize(w);
  ASSERT_EQ(qt.params().size(), 5u);
  for (Index r = 0; r < 5; ++r) {
    std::vector<float> row(w.row(r).data(), w.row(r).data() + w.cols());
    EXPECT_EQ(qt.params()[static_cast<std::size_t>(r)], cb.fit_values(row)) << "channel " << r;
  }
}

TEST(Codebook, BeatsLinearAtEqualBits) {
  // Lloyd-Max on a log-concave density has one fixed point, the optimum, so
  // it is at least as good as the uniform grid of a linear quantizer.
  for (Distribution d : {Distribution::gaussian, Distribution::laplacian}) {
    const eigenq_test::RowMatrix w = eigenq_test::sample_matrix(d, 64, 256, 1234);
    for (int bits : {2, 3, 4}) {
      const eigenq_test::RowMatrix cb = eigenq::Quantizer(Codebook<std::uint8_t>().with_bits(bits)).fake_quantize(w);
      const eigenq_test::RowMatrix la =
          eigenq::Quantizer(eigenq::Linear<std::uint8_t>::affine().with_bits(bits)).fake_quantize(w);
      const eigenq_test::RowMatrix ls =
          eigenq::Quantizer(eigenq::Linear<std::int8_t>::symmetric().with_bits(bits)).fake_quantize(w);
      const double e_cb = (cb - w).squaredNorm() / static_cast<double>(w.size());
      const double e_la = (la - w).squaredNorm() / static_cast<double>(w.size());
      const double e_ls = (ls - w).squaredNorm() / static_cast<double>(w.size());
      EXPECT_LT(e_cb, e_la) << to_string(d) << " bits " << bits;
      EXPECT_LT(e_cb, e_ls) << to_string(d) << " bits " << bits;
    }
  }
}

TEST(Codebook, WideCodes) {
  const auto cb = Codebook<std::uint16_t>().with_bits(12).with_clusters(1000);
  std::vector<float> x = eigenq_test::sample(Distribution::gaussian, 50000, 8);
  const auto p = cb.fit_values(x);
  ASSERT_EQ(p.centroids.size(), 1000u);
  for (std::uint16_t q = 0; q < 1000; ++q) ASSERT_EQ(cb.quantize(cb.dequantize(q, p), p), q);
  EXPECT_EQ(Codebook<std::uint16_t>().clusters(), 65536);
}

TEST(Codebook, Errors) {
  expect_error<eigenq::InvalidArgument>([] { Codebook<std::uint8_t>().with_bits(4).with_clusters(17); },
                                        {"k = 17", "4-bit", "1..16"});
  expect_error<eigenq::InvalidArgument>([] { Codebook<std::uint8_t>().with_clusters(100).with_bits(6); },
                                        {"k = 100", "at most 64"});
  expect_error<eigenq::InvalidArgument>([] { Codebook<std::uint8_t>().with_bits(9); }, {"bits = 9"});
  expect_error<eigenq::InvalidArgument>([] { Codebook<std::uint8_t>().with_bits(1); }, {"bits = 1"});
  expect_error<eigenq::InvalidArgument>([] { Codebook<std::uint8_t>().with_max_iterations(-1); },
                                        {"max_iterations = -1"});
  const Codebook<std::uint8_t> cb;
  expect_error<eigenq::InvalidArgument>([&] { cb.quantize(1.0f, Codebook<std::uint8_t>::Params{}); },
                                        {"no entries"});
  eigenq_test::RowMatrix w = eigenq_test::RowMatrix::Ones(3, 3);
  w(2, 1) = std::numeric_limits<float>::infinity();
  expect_error<eigenq::NonFiniteError>([&] { eigenq::quantize(w, cb); }, {"[2, 1]"});
}

TEST(Codebook, NanAndInfQuantizeTotally) {
  const auto cb = Codebook<std::uint8_t>().with_bits(2);
  std::vector<float> x{-3.0f, -1.0f, 0.2f, 4.0f};
  const auto p = cb.fit_values(x);
  ASSERT_EQ(p.centroids, (std::vector<float>{-3.0f, -1.0f, 0.2f, 4.0f}));
  const float in[3] = {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY};
  std::uint8_t out[3];
  cb.quantize_run(in, 3, &p, 0, out);
  EXPECT_EQ(out[0], 2);  // where 0.0 goes
  EXPECT_EQ(out[1], 3);
  EXPECT_EQ(out[2], 0);
  EXPECT_EQ(cb.quantize(in[0], p), 2);
}

// A large matrix (the fit samples it rather than sorting all of it): 16 centroids, every code
// within them. Its speed is benchmarks/bench_policies.cpp's (codebook_fit/eigenq/4096x4096_k16).
TEST(Codebook, LargeMatrixFitsSixteenCentroids) {
  const Index n = 1024;
  const eigenq_test::RowMatrix w = eigenq_test::sample_matrix(Distribution::gaussian, n, n, 2024);
  const auto qt = eigenq::quantize(w, Codebook<std::uint8_t>().with_bits(4));
  EXPECT_EQ(qt.params()[0].centroids.size(), 16u);
  for (const auto c : qt.unpacked_codes()) ASSERT_LE(c, 15);
}

// ------------------------------------------------------------- NF4

// NF4's levels are the 16 values of QLoRA (bitsandbytes' dDequantizeNF4) times the group's
// absmax, and a code is the nearest level: checked in closed form on blocks of 64.
TEST(CodebookNf4, LevelsAreTheNf4ValuesTimesAbsmax) {
  const auto nf4 = Codebook<std::uint8_t>::nf4();
  EXPECT_TRUE(nf4.is_nf4());
  EXPECT_EQ(nf4.bits(), 4);
  const auto& v = Codebook<std::uint8_t>::nf4_values;
  EXPECT_EQ(v[0], -1.0f);
  EXPECT_EQ(v[7], 0.0f);
  EXPECT_EQ(v[15], 1.0f);
  EXPECT_EQ(v[8], 0.07958029955625534f);
  EXPECT_EQ(v[1], -0.6961928009986877f);
  for (std::size_t c = 1; c < 16; ++c) EXPECT_LT(v[c - 1], v[c]);
  EXPECT_NE(-v[1], v[14]);  // not symmetric: 7 negative and 8 positive levels

  eigenq_test::Rng rng(3);
  Eigen::MatrixXf w(3, 130);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(rng.gaussian()) * 0.02f;
  w(1, 70) = -0.5f;  // group (1, 1)'s absmax, negative
  w.row(2).segment(64, 64).setZero();  // an all-zero group
  const eigenq::Quantizer<Codebook<std::uint8_t>, eigenq::PerGroup> q(nf4, eigenq::PerGroup{1, 64});
  const auto qt = q.quantize(w);
  ASSERT_EQ(qt.params().size(), 9u);  // 3 rows x ceil(130 / 64) groups
  const std::vector<std::uint8_t> codes = qt.unpacked_codes();
  const Eigen::MatrixXf back = qt.dequantize<Eigen::MatrixXf>();
  for (Index r = 0; r < 3; ++r) {
    for (Index g = 0; g < 3; ++g) {
      const auto& p = qt.params()[static_cast<std::size_t>(r * 3 + g)];
      const Index end = std::min<Index>(130, 64 * g + 64);
      float amax = 0.0f;
      for (Index k = 64 * g; k < end; ++k) amax = std::max(amax, std::fabs(w(r, k)));
      if (amax == 0.0f) {
        ASSERT_EQ(p.centroids, std::vector<float>{0.0f});
        continue;
      }
      ASSERT_EQ(p.centroids.size(), 16u);
      for (std::size_t c = 0; c < 16; ++c) ASSERT_EQ(p.centroids[c], v[c] * amax) << r << "," << g << "," << c;
      for (Index k = 64 * g; k < end; ++k) {
        const std::uint8_t code = codes[static_cast<std::size_t>(r * 130 + k)];
        // The nearest level, by distance in double (ties to the lower code).
        std::size_t best = 0;
        for (std::size_t c = 1; c < 16; ++c) {
          if (std::fabs(double(w(r, k)) - double(p.centroids[c])) < std::fabs(double(w(r, k)) - double(p.centroids[best]))) best = c;
        }
        ASSERT_EQ(code, best) << r << "," << k;
        ASSERT_EQ(back(r, k), v[code] * amax);
      }
    }
  }
  EXPECT_EQ(codes[static_cast<std::size_t>(1 * 130 + 70)], 0);  // -absmax is code 0 (-1.0)
  EXPECT_EQ(qt.params().size() * sizeof(float) + qt.codes().bytes(), qt.storage_bytes());
}

}  // namespace
