// Codebook quantization (weight sharing, as in Deep Compression): each group
// of values gets k shared float levels found by 1-D k-means, and a code is the
// index of the nearest level. k = 2^bits by default; a smaller k may be given.
// A data-driven policy (fits_from_range = false): the Quantizer hands it each
// group's values, so it works per tensor, per channel and per group.
//   eigenq::Quantizer q(eigenq::Codebook<std::uint8_t>().with_bits(4), eigenq::PerChannel{0});
//   auto qt = q.quantize(W);   // codes: 4-bit indices; params: one codebook per channel
//
// Named levels instead of k-means: Codebook<>::nf4() is NF4, the 4-bit NormalFloat of QLoRA
// (Dettmers et al., 2023): each group's codebook is the 16 NF4 values times the group's absmax
// (QLoRA quantizes blocks of 64: PerGroup{1, 64}), and a code is the nearest level.
//   eigenq::Quantizer q(eigenq::Codebook<std::uint8_t>::nf4(), eigenq::PerGroup{1, 64});
// Its parameters are still the levels (a group's codebook), so an NF4 tensor is saved and read
// as a codebook; param_bytes() counts the one float (the absmax) NF4 needs.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/policy/kmeans_1d.hpp"

namespace eigenq {

template <class Code = std::uint8_t>
class Codebook {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  using code_type = Code;
  // The levels, strictly increasing. Code q stands for centroids[q - q_min]
  // (q_min = 0 for unsigned codes, -2^(bits-1) for signed ones).
  struct Params {
    std::vector<float> centroids;
    friend bool operator==(const Params& a, const Params& b) { return a.centroids == b.centroids; }
  };
  static constexpr bool fits_from_range = false;

  Codebook() = default;

  // The 16 NF4 values, code 0 .. 15, exactly as bitsandbytes dequantizes them (csrc/kernels.cu,
  // dDequantizeNF4, https://github.com/bitsandbytes-foundation/bitsandbytes): the quantiles of
  // N(0, 1) of QLoRA, normalized to [-1, 1], with an exact 0 (code 7).
  static constexpr std::array<float, 16> nf4_values = {
      -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
      0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

  // NF4: 4-bit codes whose group codebook is nf4_values times the group's absmax.
  static Codebook nf4() {
    Codebook c;
    c.with_bits(4);
    c.nf4_ = true;
    return c;
  }
  bool is_nf4() const { return nf4_; }

  Codebook& with_bits(int bits) {
    const CodeRange r = range_for_bits<Code>(bits);
    if (clusters_ > r.levels()) {
      raise("codebook: k = ", clusters_, " clusters do not fit ", bits, "-bit codes (at most ",
            r.levels(), ")");
    }
    range_ = r;
    return *this;
  }
  // k <= 2^bits; 0 restores the default k = 2^bits.
  Codebook& with_clusters(std::int64_t k) {
    if (k < 0 || k > range_.levels()) {
      raise("codebook: k = ", k, " clusters is out of range for ", bits(), "-bit codes (expected 1..",
            range_.levels(), ")");
    }
    clusters_ = k;
    return *this;
  }
  Codebook& with_seed(std::uint64_t seed) {
    seed_ = seed;
    return *this;
  }
  Codebook& with_max_iterations(int iterations) {
    if (iterations < 0) raise("codebook: max_iterations = ", iterations, " must not be negative");
    max_iterations_ = iterations;
    return *this;
  }

  CodeRange range() const { return range_; }
  int bits() const { return bits_for_range(range_, std::is_signed_v<Code>); }
  std::int64_t clusters() const { return clusters_ > 0 ? clusters_ : range_.levels(); }
  std::uint64_t seed() const { return seed_; }
  int max_iterations() const { return max_iterations_; }
  std::string name() const { return "codebook"; }
  // The codebook's entries are the parameters (NF4: the absmax they follow from).
  std::size_t param_bytes(const Params& p) const {
    return nf4_ ? sizeof(float) : p.centroids.size() * sizeof(float);
  }

  KMeans1dOptions kmeans_options(bool record_codebooks = false) const {
    KMeans1dOptions o;
    o.clusters = static_cast<int>(clusters());
    o.seed = seed_;
    o.max_iterations = max_iterations_;
    o.record_codebooks = record_codebooks;
    return o;
  }

  // k-means on the values (sorted in place), with its iteration history.
  KMeans1dResult fit_with_history(std::vector<float>& values, bool record_codebooks = false) const {
    return kmeans_1d(values, kmeans_options(record_codebooks));
  }

  // The codebook of one group: the k-means centres as floats. Centres that
  // round to the same float are merged, so every code has its own level and
  // quantize(dequantize(q)) == q.
  // NF4: the levels are nf4_values[c] * absmax (a float product, as bitsandbytes dequantizes),
  // absmax = max |v| over the finite values; an all-zero group has the one level 0.
  Params fit_values(std::vector<float>& values) const {
    if (nf4_) {
      float amax = 0.0f;
      for (float v : values) {
        if (std::isfinite(v)) amax = std::max(amax, std::fabs(v));
      }
      Params p;
      if (amax == 0.0f) {
        p.centroids = {0.0f};
        return p;
      }
      for (float c : nf4_values) p.centroids.push_back(c * amax);
      // Distinct unless amax is so small that neighbouring levels round together.
      p.centroids.erase(std::unique(p.centroids.begin(), p.centroids.end()), p.centroids.end());
      return p;
    }
    const KMeans1dResult r = fit_with_history(values);
    return from_centres(r.centroids);
  }

  static Params from_centres(const std::vector<double>& centres) {
    Params p;
    p.centroids.reserve(centres.size());
    for (double c : centres) p.centroids.push_back(static_cast<float>(c));
    std::sort(p.centroids.begin(), p.centroids.end());
    p.centroids.erase(std::unique(p.centroids.begin(), p.centroids.end()), p.centroids.end());
    return p;
  }

  Code quantize(float x, const Params& p) const {
    check(p);
    return code_of(nearest(p.centroids, x));
  }

  float dequantize(Code q, const Params& p) const {
    check(p);
    return p.centroids[index_of(q, p)];
  }

  void quantize_run(const float* x, Index n, const Params* p, Index step, Code* out) const {
    if (step == 0) {
      check(*p);
      const std::vector<float>& c = p->centroids;
      // Midpoints in double are exact, so "nearest" has no rounding.
      std::vector<double> mids(c.size() - 1);
      for (std::size_t j = 0; j + 1 < c.size(); ++j) mids[j] = 0.5 * (double{c[j]} + double{c[j + 1]});
      const std::size_t zero_code = nearest(c, 0.0f);
      for (Index i = 0; i < n; ++i) {
        const float v = x[i];
        out[i] = code_of(std::isnan(v) ? zero_code : count_below(mids, double{v}));
      }
    } else {
      for (Index i = 0; i < n; ++i) out[i] = quantize(x[i], p[i]);
    }
  }

 private:
  void check(const Params& p) const {
    if (p.centroids.empty()) raise("codebook: the codebook has no entries");
    if (static_cast<std::int64_t>(p.centroids.size()) > range_.levels()) {
      raise("codebook: ", p.centroids.size(), " entries do not fit ", bits(), "-bit codes (at most ",
            range_.levels(), ")");
    }
  }

  // How many of the sorted midpoints are < v: a branch-free binary search
  // (a conditional move per step), as random data defeats branch prediction.
  static std::size_t count_below(const std::vector<double>& mids, double v) {
    if (mids.empty()) return 0;
    const double* base = mids.data();
    std::size_t len = mids.size();
    while (len > 1) {
      const std::size_t half = len / 2;
      base = base[half] < v ? base + half : base;
      len -= half;
    }
    return static_cast<std::size_t>(base - mids.data()) + (*base < v ? 1 : 0);
  }

  // Index of the nearest level (ties to the lower one); NaN goes where 0.0 goes.
  static std::size_t nearest(const std::vector<float>& c, float x) {
    if (std::isnan(x)) x = 0.0f;
    std::size_t lo = 0;
    std::size_t hi = c.size() - 1;
    // Count the midpoints below x: the first level whose upper midpoint is >= x.
    while (lo < hi) {
      const std::size_t m = lo + (hi - lo) / 2;
      if (0.5 * (double{c[m]} + double{c[m + 1]}) < double{x}) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  Code code_of(std::size_t index) const {
    return static_cast<Code>(range_.qmin + static_cast<std::int32_t>(index));
  }

  // Codes outside the codebook (only from foreign data) clamp to its ends.
  std::size_t index_of(Code q, const Params& p) const {
    const std::int64_t i = std::int64_t{q} - range_.qmin;
    return static_cast<std::size_t>(std::clamp<std::int64_t>(i, 0, static_cast<std::int64_t>(p.centroids.size()) - 1));
  }

  CodeRange range_ = full_range<Code>();
  std::int64_t clusters_ = 0;  // 0: 2^bits
  std::uint64_t seed_ = 0;
  int max_iterations_ = 10000;
  bool nf4_ = false;
};

}  // namespace eigenq
