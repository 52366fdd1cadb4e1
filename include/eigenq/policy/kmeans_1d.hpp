// One-dimensional k-means (k-means++ seeding, then Lloyd iterations to
// convergence), the fitting step of the codebook policy.
//
// In 1-D every cluster of a sorted sample is a contiguous run, bounded by the
// midpoints between neighbouring centres. So the data is sorted once (a radix
// sort: O(n)), and both the seeding and each Lloyd iteration work on run
// boundaries (binary searches) and run sums (block prefix sums): an iteration
// costs O(k (log n + B)) instead of the naive O(n k). Deterministic for a
// given seed on every platform (mt19937_64 words, mapped to [0, 1) by hand).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

struct KMeans1dOptions {
  int clusters = 16;
  std::uint64_t seed = 0;
  int max_iterations = 10000;     // a backstop: 1-D Lloyd converges in tens to ~2000 updates
  bool record_codebooks = false;  // keep every iteration's centres (tests, analysis)
};

struct KMeans1dResult {
  // Sorted, distinct centres. Fewer than `clusters` when the data has fewer
  // distinct values (then every distinct value is a centre).
  std::vector<double> centroids;
  // mse[t]: mean squared error of the centres after t Lloyd updates (t = 0:
  // the k-means++ seeds), each value assigned to its nearest centre. Lloyd's
  // algorithm never increases it.
  std::vector<double> mse;
  // codebooks[t]: the centres behind mse[t] (only with record_codebooks).
  std::vector<std::vector<double>> codebooks;
  int iterations = 0;      // Lloyd updates done
  bool converged = false;  // the assignment stopped changing
};

namespace detail {

// Order-preserving float <-> unsigned key (negatives reversed, sign flipped).
inline std::uint32_t float_sort_key(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

inline float float_from_sort_key(std::uint32_t k) {
  const std::uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Sorts floats ascending (-0.0 before +0.0; no NaN expected). LSD radix sort
// on three 11-bit digits of an order-preserving key for large inputs (the
// last pass writes the floats back), std::sort for small ones.
inline void sort_floats(std::vector<float>& values) {
  const std::size_t n = values.size();
  if (n < 4096 || n > std::numeric_limits<std::uint32_t>::max()) {
    std::sort(values.begin(), values.end());
    return;
  }
  constexpr int digit_bits = 11;
  constexpr int passes = 3;
  constexpr std::uint32_t mask = (std::uint32_t{1} << digit_bits) - 1;
  constexpr std::size_t buckets = std::size_t{1} << digit_bits;
  std::vector<std::uint32_t> keys(n);
  std::vector<std::uint32_t> scratch(n);
  std::vector<std::uint32_t> counts(passes * buckets, 0);
  std::uint32_t* c0 = counts.data();
  std::uint32_t* c1 = c0 + buckets;
  std::uint32_t* c2 = c1 + buckets;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = float_sort_key(values[i]);
    keys[i] = k;
    ++c0[k & mask];
    ++c1[(k >> digit_bits) & mask];
    ++c2[k >> (2 * digit_bits)];
  }
  for (int p = 0; p < passes; ++p) {
    std::uint32_t* count = counts.data() + p * buckets;
    std::uint32_t offset = 0;
    for (std::size_t b = 0; b < buckets; ++b) {
      const std::uint32_t c = count[b];
      count[b] = offset;
      offset += c;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = keys[i];
    scratch[c0[k & mask]++] = k;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = scratch[i];
    keys[c1[(k >> digit_bits) & mask]++] = k;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t k = keys[i];
    values[c2[k >> (2 * digit_bits)]++] = float_from_sort_key(k);
  }
}

// Sums of (x - origin) and (x - origin)^2 over any run [lo, hi) of sorted
// data in O(B): prefix sums are kept only at every B-th element. Shifting by
// an origin inside the data keeps the squared sums well conditioned.
class RunSums {
 public:
  static constexpr std::size_t block = 32;

  RunSums(const std::vector<float>& sorted, double origin) : x_(sorted), origin_(origin) {
    const std::size_t blocks = sorted.size() / block + 1;
    s1_.resize(blocks + 1, 0.0);
    s2_.resize(blocks + 1, 0.0);
    double a = 0.0;
    double b = 0.0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      if (i % block == 0) {
        s1_[i / block] = a;
        s2_[i / block] = b;
      }
      const double d = double{sorted[i]} - origin;
      a += d;
      b += d * d;
    }
    if (sorted.size() % block == 0) {
      s1_[sorted.size() / block] = a;
      s2_[sorted.size() / block] = b;
    }
  }

  double origin() const { return origin_; }

  // Sums over [lo, hi): first of (x - origin), second of (x - origin)^2.
  void sums(std::size_t lo, std::size_t hi, double& s1, double& s2) const {
    double a_hi, b_hi, a_lo, b_lo;
    prefix(hi, a_hi, b_hi);
    prefix(lo, a_lo, b_lo);
    s1 = a_hi - a_lo;
    s2 = b_hi - b_lo;
  }

  // Sum of squared distances of [lo, hi) to c (c relative to the origin).
  // Short runs are summed directly: exact zeros where prefix differences
  // would leave rounding noise.
  double cost(std::size_t lo, std::size_t hi, double c) const {
    if (hi <= lo) return 0.0;
    if (hi - lo <= 2 * block) {
      double sum = 0.0;
      for (std::size_t i = lo; i < hi; ++i) {
        const double d = (double{x_[i]} - origin_) - c;
        sum += d * d;
      }
      return sum;
    }
    double s1, s2;
    sums(lo, hi, s1, s2);
    const double n = static_cast<double>(hi - lo);
    return std::max(0.0, s2 - 2.0 * c * s1 + c * c * n);
  }

 private:
  void prefix(std::size_t i, double& a, double& b) const {
    const std::size_t blk = i / block;
    a = s1_[blk];
    b = s2_[blk];
    for (std::size_t j = blk * block; j < i; ++j) {
      const double d = double{x_[j]} - origin_;
      a += d;
      b += d * d;
    }
  }

  const std::vector<float>& x_;
  double origin_;
  std::vector<double> s1_;
  std::vector<double> s2_;
};

// Uniform double in [0, 1) from the 53 high bits of a 64-bit word: the same
// sequence on every standard library (std::uniform_real_distribution is not).
inline double unit_interval(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

// The clusters of sorted data under sorted centres (relative to the origin):
// cluster j is [bounds[j], bounds[j+1]), values above the midpoint of centres
// j-1 and j and not above the midpoint of j and j+1 (ties go to the lower centre).
inline void assign_runs(const std::vector<float>& sorted, double origin,
                        const std::vector<double>& centres, std::vector<std::size_t>& bounds) {
  const std::size_t k = centres.size();
  bounds.assign(k + 1, 0);
  bounds[k] = sorted.size();
  auto from = sorted.begin();
  for (std::size_t j = 0; j + 1 < k; ++j) {
    const double mid = origin + 0.5 * (centres[j] + centres[j + 1]);
    from = std::upper_bound(from, sorted.end(), mid,
                            [](double m, float v) { return m < double{v}; });
    bounds[j + 1] = static_cast<std::size_t>(from - sorted.begin());
  }
}

inline double total_cost(const RunSums& sums, const std::vector<double>& centres,
                         const std::vector<std::size_t>& bounds) {
  double cost = 0.0;
  for (std::size_t j = 0; j < centres.size(); ++j) cost += sums.cost(bounds[j], bounds[j + 1], centres[j]);
  return cost;
}

// A sum tree over cluster costs: set one leaf and sample a leaf with
// probability proportional to its cost, both in O(log k). Parents are
// recomputed from their children (no running deltas, so no drift).
class CostTree {
 public:
  explicit CostTree(std::size_t leaves) {
    while (size_ < leaves) size_ *= 2;
    node_.assign(2 * size_, 0.0);
  }
  double total() const { return node_[1]; }
  void set(std::size_t leaf, double cost) {
    std::size_t i = size_ + leaf;
    node_[i] = cost;
    for (i /= 2; i >= 1; i /= 2) node_[i] = node_[2 * i] + node_[2 * i + 1];
  }
  // The leaf where the running cost passes `target` (0 <= target < total());
  // target becomes the offset inside that leaf. Always a leaf of positive cost.
  std::size_t find(double& target) const {
    std::size_t i = 1;
    while (i < size_) {
      const double left = node_[2 * i];
      const double right = node_[2 * i + 1];
      if ((target < left && left > 0.0) || !(right > 0.0)) {
        i = 2 * i;
      } else {
        target -= left;
        i = 2 * i + 1;
      }
    }
    const double cost = node_[i];
    target = std::clamp(target, 0.0, std::nextafter(cost, 0.0));
    return i - size_;
  }

 private:
  std::size_t size_ = 1;
  std::vector<double> node_;
};

// k-means++ seeding on sorted data: each new centre is a data point drawn
// with probability proportional to its squared distance to the nearest
// centre. The draw picks a cluster by its cost (a sum tree over clusters in
// creation order), then the point inside the cluster by a binary search on
// the running cost. A new centre splits one cluster, so only it and its two
// neighbours (linked in value order) change: O(log n + B + log k) a centre.
// Stops early when every point already is a centre (fewer distinct values than k).
inline std::vector<double> seed_kmeanspp(const std::vector<float>& sorted, const RunSums& sums,
                                         std::size_t k, std::mt19937_64& rng) {
  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  struct Cluster {
    double centre;     // relative to the origin
    std::size_t lo;    // its points: [lo, hi) of the sorted data
    std::size_t hi;
    std::size_t prev;  // neighbours in value order
    std::size_t next;
  };
  const std::size_t n = sorted.size();
  const double origin = sums.origin();
  auto value = [&](std::size_t i) { return double{sorted[i]} - origin; };
  // First index whose value lies above the midpoint of two centres.
  auto boundary = [&](double left, double right) {
    const double mid = origin + 0.5 * (left + right);
    return static_cast<std::size_t>(
        std::upper_bound(sorted.begin(), sorted.end(), mid, [](double m, float x) { return m < double{x}; }) -
        sorted.begin());
  };

  std::vector<Cluster> clusters;
  clusters.reserve(k);
  CostTree costs(k);
  const std::size_t first = std::min(n - 1, static_cast<std::size_t>(unit_interval(rng) * static_cast<double>(n)));
  clusters.push_back({value(first), 0, n, none, none});
  costs.set(0, sums.cost(0, n, clusters[0].centre));

  while (clusters.size() < k) {
    if (!(costs.total() > 0.0)) break;  // every point sits on a centre
    double target = unit_interval(rng) * costs.total();
    const std::size_t j = costs.find(target);
    const std::size_t lo = clusters[j].lo;
    const std::size_t hi = clusters[j].hi;
    const double c = clusters[j].centre;
    // The point where the running cost from lo passes the target:
    // cost(lo, a) <= target < cost(lo, b), and finally b = a + 1.
    std::size_t a = lo;
    std::size_t b = hi;
    while (b - a > 1) {
      const std::size_t m = a + (b - a) / 2;
      if (sums.cost(lo, m, c) <= target) a = m;
      else b = m;
    }
    std::size_t pick = a;
    if (value(pick) == c) {
      // Rounding landed on the centre itself: take the cluster's farthest point.
      pick = std::fabs(value(lo) - c) >= std::fabs(value(hi - 1) - c) ? lo : hi - 1;
      if (value(pick) == c) {
        // Every point of the cluster is its centre: its cost was rounding noise.
        costs.set(j, 0.0);
        continue;
      }
    }
    const double v = value(pick);
    const std::size_t id = clusters.size();
    const std::size_t left = v < c ? clusters[j].prev : j;
    const std::size_t right = v < c ? j : clusters[j].next;
    const std::size_t new_lo = left == none ? 0 : boundary(clusters[left].centre, v);
    const std::size_t new_hi = right == none ? n : boundary(v, clusters[right].centre);
    clusters.push_back({v, new_lo, new_hi, left, right});
    costs.set(id, sums.cost(new_lo, new_hi, v));
    if (left != none) {
      clusters[left].next = id;
      clusters[left].hi = new_lo;
      costs.set(left, sums.cost(clusters[left].lo, new_lo, clusters[left].centre));
    }
    if (right != none) {
      clusters[right].prev = id;
      clusters[right].lo = new_hi;
      costs.set(right, sums.cost(new_hi, clusters[right].hi, clusters[right].centre));
    }
  }

  std::size_t at = 0;
  while (clusters[at].prev != none) at = clusters[at].prev;
  std::vector<double> centres;
  centres.reserve(clusters.size());
  for (; at != none; at = clusters[at].next) centres.push_back(clusters[at].centre);
  return centres;
}

}  // namespace detail

// k-means on the values, which it sorts in place. Throws on an empty or
// non-finite sample and on clusters < 1.
inline KMeans1dResult kmeans_1d(std::vector<float>& values, const KMeans1dOptions& options) {
  if (options.clusters < 1) raise("k-means: clusters k = ", options.clusters, " must be at least 1");
  if (options.max_iterations < 0) {
    raise("k-means: max_iterations = ", options.max_iterations, " must not be negative");
  }
  if (values.empty()) raise<ShapeError>("k-means: cannot cluster an empty sample");
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      raise<NonFiniteError>("k-means: value ", values[i], " at index ", i, " is not finite");
    }
  }
  detail::sort_floats(values);
  const std::size_t n = values.size();
  const detail::RunSums sums(values, double{values[n / 2]});
  std::mt19937_64 rng(options.seed);

  KMeans1dResult result;
  std::vector<double> centres =
      detail::seed_kmeanspp(values, sums, static_cast<std::size_t>(options.clusters), rng);
  std::vector<std::size_t> bounds;
  detail::assign_runs(values, sums.origin(), centres, bounds);
  auto record = [&](const std::vector<double>& c, const std::vector<std::size_t>& b) {
    result.mse.push_back(detail::total_cost(sums, c, b) / static_cast<double>(n));
    if (options.record_codebooks) {
      std::vector<double> absolute(c);
      for (double& v : absolute) v += sums.origin();
      result.codebooks.push_back(std::move(absolute));
    }
  };
  record(centres, bounds);

  std::vector<double> next(centres.size());
  std::vector<std::size_t> next_bounds;
  for (int it = 1; it <= options.max_iterations; ++it) {
    // Update: every centre moves to the mean of its cluster (an empty
    // cluster keeps its centre; the order of centres is preserved).
    for (std::size_t j = 0; j < centres.size(); ++j) {
      const std::size_t lo = bounds[j];
      const std::size_t hi = bounds[j + 1];
      if (hi > lo) {
        double s1, s2;
        sums.sums(lo, hi, s1, s2);
        next[j] = s1 / static_cast<double>(hi - lo);
      } else {
        next[j] = centres[j];
      }
    }
    detail::assign_runs(values, sums.origin(), next, next_bounds);
    record(next, next_bounds);
    result.iterations = it;
    centres.swap(next);
    const bool same = next_bounds == bounds;
    bounds.swap(next_bounds);
    if (same) {
      result.converged = true;
      break;
    }
  }
  if (options.max_iterations == 0) result.converged = false;

  result.centroids.reserve(centres.size());
  for (double c : centres) result.centroids.push_back(c + sums.origin());
  return result;
}

}  // namespace eigenq
