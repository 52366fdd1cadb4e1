// eigenq/ggml/scale_search.hpp: the searches over consecutive groups (four at a time in SIMD
// lanes where the compiler has vector extensions) give exactly the bits of the one-group
// searches, group by group, for every setting the ggml types use; the two-pass scans
// (signed_absmax here, min_max of legacy_quants.hpp) give the bits of ggml's one-pass loops. Each batch of groups mixes
// row kinds (zeros, constants, tiny, huge, subnormal, ties, infinities ...) so that lanes
// which leave a search early sit beside lanes which do not.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/scale_search.hpp"
#include "ggml_test_data.hpp"

namespace {

namespace gg = eigenq::ggml;
using eigenq_test::SplitMix64;

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// Same bits, or both NaN (a NaN's sign may depend on operand order, which C leaves open).
bool same_float(float a, float b) { return bits(a) == bits(b) || (std::isnan(a) && std::isnan(b)); }

constexpr int kBatches = 1000;

// `groups` groups of n values, each group of a random kind; one group in 50 gets an infinity.
void fill_groups(SplitMix64& rng, int groups, int n, std::vector<float>* x, std::vector<float>* w) {
  x->resize(static_cast<std::size_t>(groups * n));
  w->resize(x->size());
  for (int g = 0; g < groups; ++g) {
    const auto kind = eigenq_test::kAllRowKinds[rng.below(std::size(eigenq_test::kAllRowKinds))];
    eigenq_test::fill_row(kind, rng, x->data() + g * n, n);
    if (rng.below(50) == 0) {
      (*x)[static_cast<std::size_t>(g * n + rng.below(n))] =
          rng.below(2) ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
    }
  }
  eigenq_test::fill_importance(rng, w->data(), groups * n);
}

struct AffineSetting {
  int n, nmax;
  float rmin, rdelta;
  int nstep;
  bool use_mad;
};

// ggml's loops, transcribed literally.
float ggml_signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void ggml_min_max(const float* x, int n, float* min, float* max) {
  *min = FLT_MAX;
  *max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < *min) *min = x[j];
    if (x[j] > *max) *max = x[j];
  }
}

// Blocks built to catch an order-dependent scan: few distinct values, so ties of equal
// magnitude and opposite sign, zeros of both signs, NaNs and infinities are common.
TEST(GgmlScaleSearch, TwoPassScansEqualGgmlsLoops) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float pool[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, -0.5f, inf, -inf, nan, -nan, 1e-40f, -1e-40f};
  SplitMix64 rng(0x5ca1e5ea'0000'0004ull);
  std::vector<float> x(32);
  for (int rep = 0; rep < 200000; ++rep) {
    const int n = 1 + rng.below(32);
    const int kinds = 1 + rng.below(static_cast<int>(std::size(pool)));  // draw from the first `kinds`
    const int offset = rng.below(static_cast<int>(std::size(pool)));
    for (int j = 0; j < n; ++j) x[j] = pool[(offset + rng.below(kinds)) % std::size(pool)];
    const float a = gg::detail::signed_absmax(x.data(), n), b = ggml_signed_absmax(x.data(), n);
    ASSERT_EQ(bits(a), bits(b)) << "signed_absmax, rep " << rep;
    float mn, mx, gmn, gmx;
    gg::detail::min_max(x.data(), n, &mn, &mx);
    ggml_min_max(x.data(), n, &gmn, &gmx);
    ASSERT_EQ(bits(mn), bits(gmn)) << "min, rep " << rep;
    ASSERT_EQ(bits(mx), bits(gmx)) << "max, rep " << rep;
  }
}

TEST(GgmlScaleSearch, AffineGroupsEqualOneGroupAtATime) {
  // q4_K and q5_K without importance, q4_K/q4_1 and q5_K/q5_1 with, q2_K both ways, and a
  // search without steps.
  const AffineSetting settings[] = {{32, 15, -1.f, 0.1f, 20, false},   {32, 31, -0.5f, 0.1f, 15, false},
                                    {32, 15, -0.9f, 0.05f, 36, false}, {32, 31, -0.9f, 0.05f, 36, false},
                                    {16, 3, -0.5f, 0.1f, 15, true},    {16, 3, -0.9f, 0.05f, 36, false},
                                    {32, 15, 0.f, 0.f, 0, false}};
  SplitMix64 rng(0x5ca1e5ea'0000'0001ull);
  std::vector<float> x, w;
  long groups_checked = 0;
  for (const AffineSetting& s : settings) {
    for (int batch = 0; batch < kBatches; ++batch) {
      const int groups = 1 + rng.below(10);  // remainders after the lanes too
      fill_groups(rng, groups, s.n, &x, &w);
      std::vector<std::uint8_t> L(x.size(), 0xEE), L1(x.size(), 0xDD), Laux(32);
      std::vector<float> scales(groups), mins(groups);
      gg::search_affine_scales(groups, s.n, s.nmax, x.data(), w.data(), L.data(), scales.data(), mins.data(), s.rmin,
                               s.rdelta, s.nstep, s.use_mad);
      for (int g = 0; g < groups; ++g) {
        float min1 = 0;
        const float scale1 = gg::search_affine_scale(s.n, s.nmax, x.data() + g * s.n, w.data() + g * s.n,
                                                     L1.data() + g * s.n, &min1, Laux.data(), s.rmin, s.rdelta,
                                                     s.nstep, s.use_mad);
        ASSERT_TRUE(same_float(scales[g], scale1)) << "n=" << s.n << " nmax=" << s.nmax << " group " << g << ": "
                                                   << scales[g] << " vs " << scale1;
        ASSERT_TRUE(same_float(mins[g], min1)) << "n=" << s.n << " nmax=" << s.nmax << " group " << g;
        ++groups_checked;
      }
      ASSERT_EQ(L, L1) << "n=" << s.n << " nmax=" << s.nmax << " batch " << batch;
    }
  }
  EXPECT_GT(groups_checked, 20000);
}

TEST(GgmlScaleSearch, SymmetricGroupsEqualOneGroupAtATime) {
  struct Setting {
    int n, nmax;
    bool weighted;
  };
  // q6_K without importance (x^2) and with, q3_K's weighted search, q4_0's and q5_0's blocks.
  const Setting settings[] = {{16, 32, false}, {16, 32, true}, {16, 4, true},
                              {32, 8, true},   {32, 16, true}, {32, 8, false}};
  SplitMix64 rng(0x5ca1e5ea'0000'0002ull);
  std::vector<float> x, w;
  for (const Setting& s : settings) {
    for (int batch = 0; batch < kBatches; ++batch) {
      const int groups = 1 + rng.below(10);
      fill_groups(rng, groups, s.n, &x, &w);
      const float* weights = s.weighted ? w.data() : nullptr;
      std::vector<std::int8_t> L(x.size(), 77), L1(x.size(), 66);
      std::vector<float> scales(groups);
      gg::search_symmetric_scales(groups, s.n, s.nmax, x.data(), L.data(), scales.data(), weights);
      for (int g = 0; g < groups; ++g) {
        const float scale1 = gg::search_symmetric_scale(s.n, s.nmax, x.data() + g * s.n, L1.data() + g * s.n,
                                                        weights ? weights + g * s.n : nullptr);
        ASSERT_TRUE(same_float(scales[g], scale1)) << "n=" << s.n << " nmax=" << s.nmax << " group " << g << ": "
                                                   << scales[g] << " vs " << scale1;
      }
      ASSERT_EQ(L, L1) << "n=" << s.n << " nmax=" << s.nmax << " batch " << batch;
    }
  }
}

TEST(GgmlScaleSearch, RefinedSymmetricGroupsEqualOneGroupAtATime) {
  SplitMix64 rng(0x5ca1e5ea'0000'0003ull);
  std::vector<float> x, w;
  for (const int nmax : {4, 8}) {  // q3_K's, and one more code range
    for (int batch = 0; batch < kBatches; ++batch) {
      const int groups = 1 + rng.below(20);
      fill_groups(rng, groups, 16, &x, &w);
      std::vector<std::int8_t> L(x.size(), 77), L1(x.size(), 66);
      std::vector<float> scales(groups);
      gg::refine_symmetric_codes_groups(groups, 16, nmax, x.data(), L.data(), scales.data());
      for (int g = 0; g < groups; ++g) {
        const float scale1 = gg::refine_symmetric_codes(16, nmax, x.data() + g * 16, L1.data() + g * 16);
        ASSERT_TRUE(same_float(scales[g], scale1)) << "nmax=" << nmax << " group " << g;
      }
      ASSERT_EQ(L, L1) << "nmax=" << nmax << " batch " << batch;
    }
  }
}

}  // namespace
