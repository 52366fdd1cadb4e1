// Table-lookup GEMV (kernels/gemv_lut4.hpp) and its packing: the table quantization against
// its closed form, packing read back, the scalar path against a reference written here from
// the definition and against the double-precision product within the quantization error, and
// every ISA path (kernels::all_isas, skipped with the reason where this build or CPU lacks it),
// forced in turn, against the scalar path bit for bit, on 1, 2 and 3 threads.
#include "eigenq/kernels/gemv_lut4.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/isa_test.hpp"
#include "support/scoped_thread_pool.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::same_bits;
namespace k = eigenq::kernels;

class GemvLut4Isa : public eigenq_test::IsaTest {};

std::uint32_t lut4_float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// ---- problems -------------------------------------------------------------------------------

struct Lut4Weights {
  Index n = 0, kk = 0, group = 32, table_group = 0;  // table_group 0: one table per row
  std::vector<std::uint8_t> codes;                    // N x K, 0..15
  std::vector<float> levels;                          // N x tables x 16
  Index tables() const {
    const Index groups = (kk + group - 1) / group;
    if (table_group == 0) return groups > 0 ? 1 : 0;
    const Index per = table_group / group;
    return (groups + per - 1) / per;
  }
  Index levels_ld() const { return std::max<Index>(16, 16 * tables()); }
  Index table_of(Index t) const { return table_group == 0 ? 0 : t / table_group; }
};

Lut4Weights make_lut4_weights(Index n, Index kk, Index group, Index table_group, unsigned seed) {
  std::mt19937 rng(seed);
  Lut4Weights w;
  w.n = n;
  w.kk = kk;
  w.group = group;
  w.table_group = table_group;
  w.codes.resize(static_cast<std::size_t>(std::max<Index>(1, n * kk)));
  for (auto& c : w.codes) c = static_cast<std::uint8_t>(std::uniform_int_distribution<int>(0, 15)(rng));
  w.levels.resize(static_cast<std::size_t>(std::max<Index>(1, n * w.levels_ld())));
  for (auto& v : w.levels) v = std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng);
  return w;
}

k::PackedLut4Weights pack_lut4(const Lut4Weights& w) {
  return k::pack_lut4_weights(w.codes.data(), w.n, w.kk, w.kk, w.levels.data(), w.levels_ld(), w.group,
                              w.table_group);
}

std::vector<float> make_lut4_x(Index m, Index ld, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<std::size_t>(std::max<Index>(1, m * ld)));
  for (auto& v : x) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  return x;
}

std::vector<float> run_lut4(k::Isa isa, const float* x, Index m, Index ldx, const k::PackedLut4Weights& w,
                            const float* bias, int threads = 1, Index ldy_pad = 0) {
  const k::ScopedIsa scoped(isa);
  const Index ldy = w.cols() + ldy_pad;
  std::vector<float> y(static_cast<std::size_t>(std::max<Index>(1, m * ldy)), 77.0f);
  k::gemv_lut4(x, m, ldx, w, bias, y.data(), ldy, threads);
  return y;
}

// The table of 16 levels, written again from packed_lut4_weights.hpp's definition.
void reference_table(const float* levels, std::int8_t* table, float& scale) {
  double amax = 0;
  for (int c = 0; c < 16; ++c) amax = std::max(amax, std::fabs(double(levels[c])));
  scale = static_cast<float>(amax / 127.0);
  for (int c = 0; c < 16; ++c) {
    table[c] = amax == 0 ? std::int8_t{0} : static_cast<std::int8_t>(std::nearbyint(127.0 * levels[c] / amax));
  }
}

// The definition of scalar/gemv_lut4.hpp, written again from its comment.
std::vector<float> reference_lut4(const float* x, Index m, Index ldx, const Lut4Weights& w, const float* bias) {
  const Index g_count = (w.kk + w.group - 1) / w.group;
  std::vector<float> y(static_cast<std::size_t>(m * w.n));
  for (Index i = 0; i < m; ++i) {
    std::vector<std::int32_t> q(static_cast<std::size_t>(g_count * w.group), 0);
    std::vector<float> d(static_cast<std::size_t>(g_count));
    for (Index g = 0; g < g_count; ++g) {
      float amax = 0.0f;
      for (Index t = g * w.group; t < std::min(w.kk, (g + 1) * w.group); ++t) {
        const float a = std::fabs(x[i * ldx + t]);
        if (!std::isnan(a)) amax = std::max(amax, a);
      }
      d[static_cast<std::size_t>(g)] = amax / 127.0f;
      const float inv = d[static_cast<std::size_t>(g)] > 0 ? 1.0f / d[static_cast<std::size_t>(g)] : 0.0f;
      for (Index t = g * w.group; t < std::min(w.kk, (g + 1) * w.group); ++t) {
        float v = x[i * ldx + t] * inv;
        v = std::isnan(v) ? 0.0f : std::min(127.0f, std::max(-127.0f, v));
        q[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(std::nearbyint(v));
      }
    }
    for (Index j = 0; j < w.n; ++j) {
      float acc = 0.0f;
      for (Index g = 0; g < g_count; ++g) {
        const Index t = w.table_group == 0 ? 0 : (g * w.group) / w.table_group;
        std::int8_t table[16];
        float scale;
        reference_table(&w.levels[static_cast<std::size_t>(j * w.levels_ld() + 16 * t)], table, scale);
        std::int32_t isum = 0;
        for (Index kk = g * w.group; kk < std::min(w.kk, (g + 1) * w.group); ++kk) {
          isum += table[w.codes[static_cast<std::size_t>(j * w.kk + kk)]] * q[static_cast<std::size_t>(kk)];
        }
        acc = std::fma(scale * d[static_cast<std::size_t>(g)], static_cast<float>(isum), acc);
      }
      y[static_cast<std::size_t>(i * w.n + j)] = acc + (bias != nullptr ? bias[j] : 0.0f);
    }
  }
  return y;
}

// ---- tables and packing ---------------------------------------------------------------------

TEST(Lut4Table, ClosedForm) {
  // Levels -1 .. 1 in 16 steps of 2/15: amax 1, table round(127 * level).
  float levels[16];
  for (int c = 0; c < 16; ++c) levels[c] = -1.0f + 2.0f * float(c) / 15.0f;
  std::int8_t table[16];
  EXPECT_EQ(k::quantize_lut4_table(levels, table), static_cast<float>(1.0 / 127.0));
  const int want[16] = {-127, -110, -93, -76, -59, -42, -25, -8, 8, 25, 42, 59, 76, 93, 110, 127};
  for (int c = 0; c < 16; ++c) EXPECT_EQ(table[c], want[c]) << c;
  // Ties round to even: 127 * 1.5 / 3 = 63.5 -> 64 (and -64).
  float ties[16] = {};
  ties[0] = 3.0f;
  ties[1] = 1.5f;
  ties[2] = -1.5f;
  ties[3] = 3.0f * 5.0f / 254.0f;  // near 2.5, not a tie once rounded to float: the formula decides
  EXPECT_EQ(k::quantize_lut4_table(ties, table), static_cast<float>(3.0 / 127.0));
  EXPECT_EQ(table[0], 127);
  EXPECT_EQ(table[1], 64);
  EXPECT_EQ(table[2], -64);
  EXPECT_EQ(table[3], static_cast<std::int8_t>(std::nearbyint(127.0 * double(ties[3]) / 3.0)));
  // An all-zero table.
  const float zeros[16] = {};
  EXPECT_EQ(k::quantize_lut4_table(zeros, table), 0.0f);
  for (int c = 0; c < 16; ++c) EXPECT_EQ(table[c], 0);
}

TEST(PackLut4Weights, ReadsBackCodesTablesAndScales) {
  for (Index group : {32, 64, 128}) {
    for (Index table_group : {Index{0}, group, 2 * group}) {
      for (Index n : {1, 16, 17, 63, 64, 65, 130}) {
        for (Index kk : {1, 31, 32, 33, 200}) {
          const Lut4Weights w = make_lut4_weights(n, kk, group, table_group, static_cast<unsigned>(n * 1000 + kk));
          const auto p = pack_lut4(w);
          EXPECT_EQ(p.padded_depth() % group, 0);
          EXPECT_EQ(p.padded_cols() % 16, 0);
          EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p.panel(0)) % 64, 0u);
          EXPECT_EQ(p.tables_per_row(), w.tables());
          for (Index j = 0; j < n; ++j) {
            for (Index t = 0; t < p.padded_depth(); ++t) {
              const int want = t < kk ? w.codes[static_cast<std::size_t>(j * kk + t)] : 0;
              ASSERT_EQ(p.code(j, t), want) << j << "," << t;
            }
            for (Index t = 0; t < w.tables(); ++t) {
              std::int8_t table[16];
              float scale;
              reference_table(&w.levels[static_cast<std::size_t>(j * w.levels_ld() + 16 * t)], table, scale);
              ASSERT_EQ(p.scale(j, t), scale);
              for (int c = 0; c < 16; ++c) ASSERT_EQ(p.table(j, t, c), table[c]);
            }
          }
          for (Index j = n; j < p.padded_cols(); ++j) EXPECT_EQ(p.scale(j, 0), 0.0f);
        }
      }
    }
  }
}

TEST(PackLut4Weights, RejectsBadArguments) {
  const Lut4Weights w = make_lut4_weights(3, 40, 32, 0, 1);
  const auto pack_with = [&](const std::uint8_t* codes, const float* levels, Index group, Index table_group) {
    return k::pack_lut4_weights(codes, 3, 40, 40, levels, 16, group, table_group);
  };
  EXPECT_NO_THROW(pack_with(w.codes.data(), w.levels.data(), 32, 0));
  EXPECT_THROW(pack_with(w.codes.data(), w.levels.data(), 16, 0), eigenq::InvalidArgument);
  EXPECT_THROW(pack_with(w.codes.data(), w.levels.data(), 32, 48), eigenq::InvalidArgument);
  std::vector<std::uint8_t> bad_codes = w.codes;
  bad_codes[45] = 16;
  try {
    pack_with(bad_codes.data(), w.levels.data(), 32, 0);
    FAIL();
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("(1, 5)"), std::string::npos) << e.what();
  }
  std::vector<float> bad_levels = w.levels;
  bad_levels[20] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(pack_with(w.codes.data(), bad_levels.data(), 32, 0), eigenq::NonFiniteError);
  EXPECT_THROW(k::pack_lut4_weights(w.codes.data(), 3, 40, 39, w.levels.data(), 16, 32), eigenq::ShapeError);
  // Two tables of 32 per row need 32 levels a row.
  EXPECT_THROW(k::pack_lut4_weights(w.codes.data(), 3, 40, 40, w.levels.data(), 16, 32, 32), eigenq::ShapeError);
  EXPECT_THROW(k::pack_lut4_weights(nullptr, 3, 40, 40, w.levels.data(), 16, 32), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_lut4_weights(w.codes.data(), -1, 40, 40, w.levels.data(), 16, 32), eigenq::ShapeError);
}

// ---- the product ----------------------------------------------------------------------------

void check_lut4_shape(k::Isa isa, Index m, Index n, Index kk, Index group, Index table_group, bool with_bias,
                      unsigned seed, Index ldx_pad = 0) {
  const Lut4Weights w = make_lut4_weights(n, kk, group, table_group, seed);
  const auto packed = pack_lut4(w);
  const Index ldx = kk + ldx_pad;
  const auto x = make_lut4_x(m, ldx, seed + 1);
  std::vector<float> bias(static_cast<std::size_t>(n));
  for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.01f * float(j % 7) - 0.03f;
  const float* b = with_bias ? bias.data() : nullptr;
  const auto expected = run_lut4(k::Isa::scalar, x.data(), m, ldx, packed, b);
  ASSERT_TRUE(same_bits(reference_lut4(x.data(), m, ldx, w, b), expected))
      << "scalar vs reference " << m << "x" << n << "x" << kk << " G" << group << " T" << table_group;
  ASSERT_TRUE(same_bits(expected, run_lut4(isa, x.data(), m, ldx, packed, b)))
      << k::to_string(isa) << " " << m << "x" << n << "x" << kk << " G" << group << " T" << table_group
      << (with_bias ? " bias" : "");
}

TEST_P(GemvLut4Isa, EveryChannelCount) {
  for (Index n = 1; n <= 70; ++n) {
    check_lut4_shape(isa(), 1, n, 64, 32, 0, n % 2 == 0, static_cast<unsigned>(n));
    check_lut4_shape(isa(), 3, n, 40, 32, 32, n % 3 == 0, static_cast<unsigned>(100 + n));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemvLut4Isa, EveryDepthAndGroupTail) {
  for (Index kk = 0; kk <= 300; kk += (kk < 70 ? 1 : 13)) {
    check_lut4_shape(isa(), 1, 40, kk, 32, 0, true, static_cast<unsigned>(kk));
    check_lut4_shape(isa(), 2, 17, kk, 128, 128, false, static_cast<unsigned>(500 + kk));
    check_lut4_shape(isa(), 2, 33, kk, 64, 128, true, static_cast<unsigned>(900 + kk));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemvLut4Isa, RowCountsGroupSizesAndTableGroups) {
  for (Index m = 1; m <= 9; ++m) {
    for (Index group : {32, 64, 128}) {
      for (Index table_group : {Index{0}, group, 2 * group}) {
        check_lut4_shape(isa(), m, 130, 384, group, table_group, m % 2 == 1,
                         static_cast<unsigned>(m * 10 + group + table_group), m % 3);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(GemvLut4Isa, LargeShape) { check_lut4_shape(isa(), 1, 1000, 2048, 32, 0, true, 9); }

TEST_P(GemvLut4Isa, SaturatingTablesAndExtremeActivations) {
  Lut4Weights w = make_lut4_weights(70, 256, 32, 64, 3);
  // Tables at +-127 and -127 everywhere (the largest products), a one-level table, an all-zero one.
  for (Index j = 0; j < w.n; ++j) {
    for (Index t = 0; t < w.tables(); ++t) {
      float* lv = &w.levels[static_cast<std::size_t>(j * w.levels_ld() + 16 * t)];
      for (int c = 0; c < 16; ++c) {
        switch ((j + t) % 4) {
          case 0: lv[c] = c % 2 ? 1e30f : -1e30f; break;
          case 1: lv[c] = -3e-38f; break;
          case 2: lv[c] = 0.0f; break;
          default: lv[c] = c == 5 ? 2.0f : -1e-45f; break;
        }
      }
    }
  }
  for (std::size_t i = 0; i < w.codes.size(); ++i) w.codes[i] = i % 3 == 0 ? 0 : 15;
  const auto packed = pack_lut4(w);
  std::vector<float> x(512);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 5 == 0 ? -3e38f : i % 5 == 1 ? 3e38f : i % 5 == 2 ? 1e-40f : -1e-44f;
  // Whole groups of denormals and of zeros, where 1 / d overflows or d is 0.
  for (std::size_t i = 64; i < 96; ++i) x[i] = std::numeric_limits<float>::denorm_min() * float(i % 3);
  for (std::size_t i = 96; i < 128; ++i) x[i] = 0.0f;
  // Activations all at +-127 against +-127 table values: the largest isum.
  for (std::size_t i = 384; i < 512; ++i) x[i] = i % 2 ? 1.0f : -1.0f;
  const auto expected = run_lut4(k::Isa::scalar, x.data(), 2, 256, packed, nullptr);
  ASSERT_TRUE(same_bits(reference_lut4(x.data(), 2, 256, w, nullptr), expected));
  ASSERT_TRUE(same_bits(expected, run_lut4(isa(), x.data(), 2, 256, packed, nullptr))) << k::to_string(isa());
}

TEST_P(GemvLut4Isa, NonFiniteActivationsAreTotal) {
  const Lut4Weights w = make_lut4_weights(40, 128, 32, 0, 4);
  const auto packed = pack_lut4(w);
  auto x = make_lut4_x(1, 128, 5);
  x[3] = std::numeric_limits<float>::quiet_NaN();  // NaN counts as 0 in its group
  x[40] = std::numeric_limits<float>::infinity();   // Inf: that group's products are NaN
  x[70] = -std::numeric_limits<float>::signaling_NaN();
  const auto expected = run_lut4(k::Isa::scalar, x.data(), 1, 128, packed, nullptr);
  ASSERT_TRUE(same_bits(reference_lut4(x.data(), 1, 128, w, nullptr), expected));
  ASSERT_TRUE(same_bits(expected, run_lut4(isa(), x.data(), 1, 128, packed, nullptr)));
  EXPECT_TRUE(std::isnan(expected[0]));
  x[40] = 0.5f;
  const auto finite = run_lut4(k::Isa::scalar, x.data(), 1, 128, packed, nullptr);
  for (float v : finite) EXPECT_TRUE(std::isfinite(v));
}

// The quantized product stays within its error bound of the float product with the levels:
// half a table step (amax / 254) per weight plus half an activation step per input.
TEST(GemvLut4, CloseToTheFloatProduct) {
  const Index n = 50, kk = 320;
  for (Index table_group : {Index{0}, Index{64}}) {
    const Lut4Weights w = make_lut4_weights(n, kk, 32, table_group, 6);
    const auto packed = pack_lut4(w);
    const auto x = make_lut4_x(2, kk, 7);
    const auto y = run_lut4(k::Isa::scalar, x.data(), 2, kk, packed, nullptr);
    for (Index i = 0; i < 2; ++i) {
      for (Index j = 0; j < n; ++j) {
        double exact = 0, bound = 0;
        for (Index g = 0; g < kk / 32; ++g) {
          double amax = 0;
          for (Index t = g * 32; t < g * 32 + 32; ++t) amax = std::max(amax, std::fabs(double(x[static_cast<std::size_t>(i * kk + t)])));
          for (Index t = g * 32; t < g * 32 + 32; ++t) {
            const Index tab = table_group == 0 ? 0 : t / table_group;
            const float* lv = &w.levels[static_cast<std::size_t>(j * w.levels_ld() + 16 * tab)];
            double lmax = 0;
            for (int c = 0; c < 16; ++c) lmax = std::max(lmax, std::fabs(double(lv[c])));
            const double wv = lv[w.codes[static_cast<std::size_t>(j * kk + t)]];
            const double xv = x[static_cast<std::size_t>(i * kk + t)];
            exact += wv * xv;
            bound += (std::fabs(wv) + lmax / 254.0) * (amax / 254.0) + lmax / 254.0 * std::fabs(xv);
          }
        }
        EXPECT_NEAR(y[static_cast<std::size_t>(i * n + j)], exact, bound * 1.0001 + 1e-5) << i << "," << j;
      }
    }
  }
}

TEST_P(GemvLut4Isa, ThreadsUnalignedPointersAndStrides) {
  {
    // 3 x 2000 x 1600 (9.6M multiply-adds): work for three threads, on a pool of three and
    // the caller whatever the machine's cores.
    eigenq_test::ScopedThreadPool pool(3);
    for (Index table_group : {Index{0}, Index{64}}) {
      const Lut4Weights big = make_lut4_weights(2000, 1600, 32, table_group, 10);
      const auto big_packed = pack_lut4(big);
      const auto big_x = make_lut4_x(3, 1600, 11);
      std::vector<float> big_bias(2000, -0.5f);
      const auto big_expected = run_lut4(k::Isa::scalar, big_x.data(), 3, 1600, big_packed, big_bias.data(), 1);
      for (int threads : {1, 2, 3, 16}) {
        ASSERT_TRUE(same_bits(big_expected, run_lut4(isa(), big_x.data(), 3, 1600, big_packed, big_bias.data(), threads)))
            << k::to_string(isa()) << " threads " << threads;
      }
    }
  }
  const Lut4Weights w = make_lut4_weights(300, 200, 32, 0, 8);
  const auto packed = pack_lut4(w);
  const auto x = make_lut4_x(3, 203, 9);
  std::vector<float> bias(300, 0.25f);
  const auto expected = run_lut4(k::Isa::scalar, x.data(), 3, 203, packed, bias.data(), 1, 5);
  {
    // x and y one element off their allocations' alignment; nothing written past N.
    const k::ScopedIsa scoped(isa());
    std::vector<float> xs(x.size() + 1);
    std::copy(x.begin(), x.end(), xs.begin() + 1);
    std::vector<float> y(3 * 305 + 1, 77.0f);
    k::gemv_lut4(xs.data() + 1, 3, 203, packed, bias.data(), y.data() + 1, 305);
    for (Index i = 0; i < 3; ++i) {
      for (Index j = 0; j < 305; ++j) {
        const float got = y[static_cast<std::size_t>(1 + i * 305 + j)];
        if (j < 300) {
          ASSERT_EQ(lut4_float_bits(got), lut4_float_bits(expected[static_cast<std::size_t>(i * 305 + j)]));
        } else {
          ASSERT_EQ(got, 77.0f) << "wrote past N";
        }
      }
    }
    EXPECT_EQ(y[0], 77.0f);
  }
}

TEST(GemvLut4, RejectsBadArguments) {
  const Lut4Weights w = make_lut4_weights(5, 64, 32, 0, 1);
  const auto packed = pack_lut4(w);
  std::vector<float> x(128), y(10);
  EXPECT_THROW(k::gemv_lut4(x.data(), -1, 64, packed, nullptr, y.data(), 5), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_lut4(x.data(), 2, 63, packed, nullptr, y.data(), 5), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_lut4(x.data(), 2, 64, packed, nullptr, y.data(), 4), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_lut4(nullptr, 2, 64, packed, nullptr, y.data(), 5), eigenq::InvalidArgument);
  EXPECT_THROW(k::gemv_lut4(x.data(), 2, 64, packed, nullptr, nullptr, 5), eigenq::InvalidArgument);
  EXPECT_THROW(k::gemv_lut4(x.data(), 2, 64, packed, nullptr, y.data(), 5, 0), eigenq::InvalidArgument);
  EXPECT_NO_THROW(k::gemv_lut4(nullptr, 0, 64, packed, nullptr, nullptr, 5));
}

EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemvLut4Isa);

}  // namespace
