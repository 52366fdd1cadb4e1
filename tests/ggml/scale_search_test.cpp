// eigenq/ggml/scale_search.hpp: the searches over consecutive groups (four at a time in SIMD
// lanes where the compiler has vector extensions) give exactly the bits of the one-group
// searches, group by group, for every setting the ggml types use. Each batch of groups mixes
// row kinds (zeros, constants, tiny, huge, subnormal, ties, infinities ...) so that lanes
// which leave a search early sit beside lanes which do not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

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
