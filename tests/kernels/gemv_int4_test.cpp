// int4 grouped GEMV (kernels/gemv_int4.hpp), its packing and the f16 helpers:
// f16 conversions against Eigen::half; the scalar path against a reference
// written here from the definition and against double-precision x W^T within
// the quantization error; every ISA path (kernels::all_isas, skipped with the
// reason where this build or CPU lacks it), forced in turn, against the scalar
// path bit for bit.
#include "eigenq/kernels/gemv_int4.hpp"

#include <Eigen/Core>
#include <gtest/gtest.h>

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

class GemvInt4Isa : public eigenq_test::IsaTest {};

std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float bits_float(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// ---- f16 ------------------------------------------------------------------------------------

TEST(Float16, EveryHalfWidensLikeEigen) {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float ours = k::half_bits_to_float(bits);
    const float eigen = static_cast<float>(Eigen::numext::bit_cast<Eigen::half>(bits));
    if (std::isnan(eigen)) {
      ASSERT_TRUE(std::isnan(ours)) << h;
    } else {
      ASSERT_EQ(float_bits(ours), float_bits(eigen)) << "half 0x" << std::hex << h;
      ASSERT_EQ(k::float_to_half_bits(ours), bits) << "round trip of 0x" << std::hex << h;
    }
  }
}

TEST(Float16, NarrowingRoundsLikeEigen) {
  std::vector<float> values = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, 1e9f, -1e9f,
                               std::numeric_limits<float>::infinity(), 6.1035156e-5f, 6.0e-5f,
                               2.9802322e-8f, 2.9802326e-8f, 5.9604645e-8f, 8.940697e-8f, 1e-10f,
                               std::numeric_limits<float>::denorm_min(), 1.00048828125f, 1.00146484375f};
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) values.push_back(bits_float(static_cast<std::uint32_t>(rng()) & 0xBFFFFFFFu));
  // Every tie between two neighbouring halves, normal and subnormal.
  for (std::uint32_t h = 0; h < 0x7BFF; h += 7) {
    const float a = k::half_bits_to_float(static_cast<std::uint16_t>(h));
    const float b = k::half_bits_to_float(static_cast<std::uint16_t>(h + 1));
    values.push_back(static_cast<float>((double(a) + double(b)) / 2));
  }
  for (float v : values) {
    if (std::isnan(v)) continue;
    const std::uint16_t eigen = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(v));
    ASSERT_EQ(k::float_to_half_bits(v), eigen) << v << " (0x" << std::hex << float_bits(v) << ")";
  }
  EXPECT_TRUE(std::isnan(k::half_bits_to_float(k::float_to_half_bits(std::numeric_limits<float>::quiet_NaN()))));
}

// ---- problems -------------------------------------------------------------------------------

struct Weights {
  Index n = 0, kk = 0, group = 32;
  std::vector<std::int8_t> codes;  // N x K
  std::vector<float> scales;       // N x groups
  Index groups() const { return (kk + group - 1) / group; }
};

Weights make_weights(Index n, Index kk, Index group, unsigned seed) {
  std::mt19937 rng(seed);
  Weights w;
  w.n = n;
  w.kk = kk;
  w.group = group;
  w.codes.resize(static_cast<std::size_t>(std::max<Index>(1, n * kk)));
  for (auto& c : w.codes) c = static_cast<std::int8_t>(std::uniform_int_distribution<int>(-8, 7)(rng));
  w.scales.resize(static_cast<std::size_t>(std::max<Index>(1, n * w.groups())));
  for (auto& s : w.scales) s = std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng);
  return w;
}

k::PackedInt4Weights pack(const Weights& w, k::ScaleType type) {
  return k::pack_int4_weights(w.codes.data(), w.n, w.kk, w.kk, w.scales.data(), w.groups(), w.group, type);
}

std::vector<float> make_x(Index m, Index ld, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<std::size_t>(std::max<Index>(1, m * ld)));
  for (auto& v : x) v = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  return x;
}

std::vector<float> run(k::Isa isa, const std::vector<float>& x, Index m, Index ldx,
                       const k::PackedInt4Weights& w, const float* bias, int threads = 1,
                       Index ldy_pad = 0) {
  const k::ScopedIsa scoped(isa);
  const Index ldy = w.cols() + ldy_pad;
  std::vector<float> y(static_cast<std::size_t>(std::max<Index>(1, m * ldy)), 77.0f);
  k::gemv_int4(x.data(), m, ldx, w, bias, y.data(), ldy, threads);
  return y;
}

// The definition of scalar/gemv_int4.hpp, written again from its comment.
std::vector<float> reference(const std::vector<float>& x, Index m, Index ldx, const Weights& w,
                             k::ScaleType type, const float* bias) {
  const Index g_count = w.groups();
  std::vector<float> y(static_cast<std::size_t>(m * w.n));
  for (Index i = 0; i < m; ++i) {
    std::vector<std::int32_t> q(static_cast<std::size_t>(g_count * w.group), 0);
    std::vector<float> d(static_cast<std::size_t>(g_count));
    for (Index g = 0; g < g_count; ++g) {
      float amax = 0.0f;
      for (Index t = g * w.group; t < std::min(w.kk, (g + 1) * w.group); ++t) {
        const float a = std::fabs(x[static_cast<std::size_t>(i * ldx + t)]);
        if (!std::isnan(a)) amax = std::max(amax, a);
      }
      d[static_cast<std::size_t>(g)] = amax / 127.0f;
      const float inv = d[static_cast<std::size_t>(g)] > 0 ? 1.0f / d[static_cast<std::size_t>(g)] : 0.0f;
      for (Index t = g * w.group; t < std::min(w.kk, (g + 1) * w.group); ++t) {
        float v = x[static_cast<std::size_t>(i * ldx + t)] * inv;
        v = std::isnan(v) ? 0.0f : std::min(127.0f, std::max(-127.0f, v));
        q[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(std::nearbyint(v));
      }
    }
    for (Index j = 0; j < w.n; ++j) {
      float acc = 0.0f;
      for (Index g = 0; g < g_count; ++g) {
        std::int32_t isum = 0;
        for (Index t = g * w.group; t < std::min(w.kk, (g + 1) * w.group); ++t) {
          isum += w.codes[static_cast<std::size_t>(j * w.kk + t)] * q[static_cast<std::size_t>(t)];
        }
        float s = w.scales[static_cast<std::size_t>(j * g_count + g)];
        if (type == k::ScaleType::f16) s = static_cast<float>(Eigen::half(s));
        acc = std::fma(s * d[static_cast<std::size_t>(g)], static_cast<float>(isum), acc);
      }
      y[static_cast<std::size_t>(i * w.n + j)] = acc + (bias != nullptr ? bias[j] : 0.0f);
    }
  }
  return y;
}

// ---- packing --------------------------------------------------------------------------------

TEST(PackInt4Weights, ReadsBackCodesAndScales) {
  for (Index group : {32, 128}) {
    for (auto type : {k::ScaleType::f32, k::ScaleType::f16}) {
      for (Index n : {1, 16, 17, 63, 64, 65, 130}) {
        for (Index kk : {1, 31, 32, 33, 200}) {
          const Weights w = make_weights(n, kk, group, static_cast<unsigned>(n * 1000 + kk));
          const auto p = pack(w, type);
          EXPECT_EQ(p.padded_depth() % group, 0);
          EXPECT_EQ(p.padded_cols() % 16, 0);
          EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p.panel(0)) % 64, 0u);
          for (Index j = 0; j < n; ++j) {
            for (Index t = 0; t < p.padded_depth(); ++t) {
              const int want = t < kk ? w.codes[static_cast<std::size_t>(j * kk + t)] : 0;
              ASSERT_EQ(p.code(j, t), want) << j << "," << t;
            }
            for (Index g = 0; g < w.groups(); ++g) {
              const float s = w.scales[static_cast<std::size_t>(j * w.groups() + g)];
              const float want = type == k::ScaleType::f32 ? s : static_cast<float>(Eigen::half(s));
              ASSERT_EQ(p.scale(j, g), want);
            }
          }
          for (Index j = n; j < p.padded_cols(); ++j) EXPECT_EQ(p.scale(j, 0), 0.0f);
        }
      }
    }
  }
}

TEST(PackInt4Weights, RejectsBadArguments) {
  const Weights w = make_weights(3, 40, 32, 1);
  const auto pack_with = [&](const std::int8_t* codes, const float* scales, Index group, k::ScaleType type) {
    return k::pack_int4_weights(codes, 3, 40, 40, scales, 2, group, type);
  };
  EXPECT_THROW(pack_with(w.codes.data(), w.scales.data(), 64, k::ScaleType::f32), eigenq::InvalidArgument);
  EXPECT_THROW(pack_with(w.codes.data(), w.scales.data(), 16, k::ScaleType::f32), eigenq::InvalidArgument);  // 8-bit codes only
  std::vector<std::int8_t> bad_codes = w.codes;
  bad_codes[45] = 8;
  try {
    pack_with(bad_codes.data(), w.scales.data(), 32, k::ScaleType::f32);
    FAIL();
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("(1, 5)"), std::string::npos) << e.what();
  }
  std::vector<float> bad_scales = w.scales;
  bad_scales[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(pack_with(w.codes.data(), bad_scales.data(), 32, k::ScaleType::f32), eigenq::NonFiniteError);
  bad_scales[3] = 70000.0f;
  EXPECT_NO_THROW(pack_with(w.codes.data(), bad_scales.data(), 32, k::ScaleType::f32));
  EXPECT_THROW(pack_with(w.codes.data(), bad_scales.data(), 32, k::ScaleType::f16), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_int4_weights(w.codes.data(), 3, 40, 39, w.scales.data(), 2, 32), eigenq::ShapeError);
  EXPECT_THROW(k::pack_int4_weights(w.codes.data(), 3, 40, 40, w.scales.data(), 1, 32), eigenq::ShapeError);
  EXPECT_THROW(k::pack_int4_weights(nullptr, 3, 40, 40, w.scales.data(), 2, 32), eigenq::InvalidArgument);
}

// ---- the product ----------------------------------------------------------------------------

void check_shape(k::Isa isa, Index m, Index n, Index kk, Index group, k::ScaleType type, bool with_bias,
                 unsigned seed, Index ldx_pad = 0) {
  const Weights w = make_weights(n, kk, group, seed);
  const auto packed = pack(w, type);
  const Index ldx = kk + ldx_pad;
  const auto x = make_x(m, ldx, seed + 1);
  std::vector<float> bias(static_cast<std::size_t>(n));
  for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.01f * float(j % 7) - 0.03f;
  const float* b = with_bias ? bias.data() : nullptr;
  const auto expected = run(k::Isa::scalar, x, m, ldx, packed, b);
  ASSERT_TRUE(same_bits(reference(x, m, ldx, w, type, b), expected))
      << "scalar vs reference " << m << "x" << n << "x" << kk << " G" << group;
  ASSERT_TRUE(same_bits(expected, run(isa, x, m, ldx, packed, b)))
      << k::to_string(isa) << " " << m << "x" << n << "x" << kk << " G" << group
      << (type == k::ScaleType::f16 ? " f16" : " f32") << (with_bias ? " bias" : "");
}

TEST_P(GemvInt4Isa, EveryChannelCount) {
  for (Index n = 1; n <= 70; ++n) {
    check_shape(isa(), 1, n, 64, 32, k::ScaleType::f16, n % 2 == 0, static_cast<unsigned>(n));
    check_shape(isa(), 3, n, 40, 32, k::ScaleType::f32, n % 3 == 0, static_cast<unsigned>(100 + n));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemvInt4Isa, EveryDepthAndGroupTail) {
  for (Index kk = 1; kk <= 300; kk += (kk < 70 ? 1 : 13)) {
    check_shape(isa(), 1, 40, kk, 32, k::ScaleType::f32, true, static_cast<unsigned>(kk));
    check_shape(isa(), 2, 17, kk, 128, k::ScaleType::f16, false, static_cast<unsigned>(500 + kk));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemvInt4Isa, RowCountsGroupSizesAndScaleTypes) {
  for (Index m = 1; m <= 9; ++m) {
    for (Index group : {32, 128}) {
      for (auto type : {k::ScaleType::f32, k::ScaleType::f16}) {
        check_shape(isa(), m, 130, 384, group, type, m % 2 == 1, static_cast<unsigned>(m * 10 + group), m % 3);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Batches: several row tiles of every path (up to 6 rows each) through every panel, and a
// last tile of each remainder.
TEST_P(GemvInt4Isa, BatchesThroughEveryRowTile) {
  for (Index m : {12, 13, 17, 40}) {
    check_shape(isa(), m, 200, 256, 32, k::ScaleType::f16, true, static_cast<unsigned>(m));
    check_shape(isa(), m, 72, 300, 128, k::ScaleType::f32, false, static_cast<unsigned>(m + 1), 3);
    if (HasFatalFailure()) return;
  }
}

// Activations quantized by the caller (quantize_int4_activations, then gemv_int4_quantized: what
// ggml/mul_mat.hpp does) give the bits of the one-call product.
TEST_P(GemvInt4Isa, QuantizedActivationsGiveTheSameProduct) {
  for (Index group : {32, 128}) {
    const Index m = 7, n = 150, kk = 300, ldx = 303;
    const Weights w = make_weights(n, kk, group, 31);
    const auto packed = pack(w, k::ScaleType::f16);
    const auto x = make_x(m, ldx, 32);
    const auto expected = run(isa(), x, m, ldx, packed, nullptr);
    const k::ScopedIsa scoped(isa());
    const Index groups = packed.groups();
    std::vector<std::int8_t> q(static_cast<std::size_t>(m * packed.padded_depth()), 99);
    std::vector<float> d(static_cast<std::size_t>(m * groups));
    std::vector<std::int32_t> sums(static_cast<std::size_t>(m * groups));
    k::quantize_int4_activations(x.data(), m, ldx, kk, group, q.data(), d.data(), sums.data());
    std::vector<float> y(static_cast<std::size_t>(m * n));
    k::gemv_int4_quantized(k::Int4ActivationGroups{q.data(), packed.padded_depth(), d.data(), sums.data()}, m, packed,
                           nullptr, y.data(), n);
    ASSERT_TRUE(same_bits(expected, y)) << k::to_string(isa()) << " G" << group;
    EXPECT_EQ(q[static_cast<std::size_t>(packed.padded_depth() - 1)], 0) << "codes past K are 0";
  }
}

// Table codes (gemv_int4_table_quantized, ggml's iq4_nl): the same packed nibbles read through a
// 16-entry int8 table, extremes -128 and 127 included, bit for bit the definition.
TEST_P(GemvInt4Isa, TableCodesAreTheDefinition) {
  const std::int8_t table[16] = {-128, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 127};
  for (Index group : {32, 128}) {
    for (Index m : {1, 3, 7}) {
      const Index n = 90, kk = 300;
      const Weights w = make_weights(n, kk, group, static_cast<unsigned>(40 + m));
      const auto packed = pack(w, group == 32 ? k::ScaleType::f16 : k::ScaleType::f32);
      const auto x = make_x(m, kk, static_cast<unsigned>(41 + m));
      const Index groups = packed.groups(), kp = packed.padded_depth();
      std::vector<std::int8_t> q(static_cast<std::size_t>(m * kp));
      std::vector<float> d(static_cast<std::size_t>(m * groups));
      std::vector<std::int32_t> sums(static_cast<std::size_t>(m * groups));
      {
        const k::ScopedIsa scalar(k::Isa::scalar);
        k::quantize_int4_activations(x.data(), m, kk, kk, group, q.data(), d.data(), sums.data());
      }
      std::vector<float> expected(static_cast<std::size_t>(m * n));
      for (Index i = 0; i < m; ++i) {
        for (Index j = 0; j < n; ++j) {
          float acc = 0.0f;
          for (Index g = 0; g < groups; ++g) {
            std::int32_t isum = 0;
            for (Index t = g * group; t < std::min(kk, (g + 1) * group); ++t) {
              isum += table[w.codes[static_cast<std::size_t>(j * kk + t)] + 8] * q[static_cast<std::size_t>(i * kp + t)];
            }
            acc = std::fma(packed.scale(j, g) * d[static_cast<std::size_t>(i * groups + g)], static_cast<float>(isum), acc);
          }
          expected[static_cast<std::size_t>(i * n + j)] = acc;
        }
      }
      for (int threads : {1, 3}) {
        eigenq_test::ScopedThreadPool pool(3);
        const k::ScopedIsa scoped(isa());
        std::vector<float> y(static_cast<std::size_t>(m * n));
        k::gemv_int4_table_quantized(k::Int4ActivationGroups{q.data(), kp, d.data(), sums.data()}, m, packed, table,
                                     nullptr, y.data(), n, threads);
        ASSERT_TRUE(same_bits(expected, y)) << k::to_string(isa()) << " G" << group << " M" << m << " threads " << threads;
      }
    }
  }
}

// Weights with minimums (gemv_int4_min_quantized, ggml's q4_K): W = scale * code - min, codes
// 0..15, bit for bit the definition on every ISA, with threads.
TEST_P(GemvInt4Isa, MinimumsAreTheDefinition) {
  for (Index group : {32, 128}) {
    for (Index m : {1, 2, 7}) {
      const Index n = 150, kk = 300;
      std::mt19937 rng(static_cast<unsigned>(60 + m + group));
      const Index groups = (kk + group - 1) / group;
      std::vector<std::uint8_t> codes(static_cast<std::size_t>(n * kk));
      for (auto& c : codes) c = static_cast<std::uint8_t>(rng() % 16);
      std::vector<float> scales(static_cast<std::size_t>(n * groups)), mins(scales.size());
      for (auto& v : scales) v = std::uniform_real_distribution<float>(0.0f, 0.01f)(rng);
      for (auto& v : mins) v = std::uniform_real_distribution<float>(-0.05f, 0.05f)(rng);
      const auto type = group == 32 ? k::ScaleType::f16 : k::ScaleType::f32;
      const auto packed = k::pack_int4_weights_with_mins(codes.data(), n, kk, kk, scales.data(), mins.data(), groups,
                                                         group, type);
      ASSERT_TRUE(packed.has_mins());
      const auto x = make_x(m, kk, static_cast<unsigned>(61 + m));
      const Index kp = packed.padded_depth();
      std::vector<std::int8_t> q(static_cast<std::size_t>(m * kp));
      std::vector<float> d(static_cast<std::size_t>(m * groups));
      std::vector<std::int32_t> sums(static_cast<std::size_t>(m * groups));
      {
        const k::ScopedIsa scalar(k::Isa::scalar);
        k::quantize_int4_activations(x.data(), m, kk, kk, group, q.data(), d.data(), sums.data());
      }
      std::vector<float> expected(static_cast<std::size_t>(m * n));
      for (Index i = 0; i < m; ++i) {
        for (Index j = 0; j < n; ++j) {
          float acc = 0.0f;
          for (Index g = 0; g < groups; ++g) {
            std::int32_t isum = 0;
            for (Index t = g * group; t < std::min(kk, (g + 1) * group); ++t) {
              ASSERT_EQ(packed.code(j, t), codes[static_cast<std::size_t>(j * kk + t)]);
              isum += codes[static_cast<std::size_t>(j * kk + t)] * q[static_cast<std::size_t>(i * kp + t)];
            }
            const float dg = d[static_cast<std::size_t>(i * groups + g)];
            acc = std::fma(packed.scale(j, g) * dg, static_cast<float>(isum), acc);
            acc = std::fma(packed.min(j, g) * dg, -static_cast<float>(sums[static_cast<std::size_t>(i * groups + g)]), acc);
          }
          expected[static_cast<std::size_t>(i * n + j)] = acc;
        }
      }
      for (int threads : {1, 3}) {
        eigenq_test::ScopedThreadPool pool(3);
        const k::ScopedIsa scoped(isa());
        std::vector<float> y(static_cast<std::size_t>(m * n));
        k::gemv_int4_min_quantized(k::Int4ActivationGroups{q.data(), kp, d.data(), sums.data()}, m, packed, nullptr,
                                   y.data(), n, threads);
        ASSERT_TRUE(same_bits(expected, y)) << k::to_string(isa()) << " G" << group << " M" << m;
        std::vector<float> y2(static_cast<std::size_t>(m * n));
        EXPECT_THROW(k::gemv_int4(x.data(), m, kk, packed, nullptr, y2.data(), n), eigenq::InvalidArgument);
      }
    }
  }
}

TEST_P(GemvInt4Isa, LargeShape) { check_shape(isa(), 1, 1000, 2048, 32, k::ScaleType::f16, true, 9); }

TEST_P(GemvInt4Isa, ExtremeCodesAndActivations) {
  Weights w = make_weights(70, 256, 32, 3);
  for (std::size_t i = 0; i < w.codes.size(); ++i) w.codes[i] = i % 3 == 0 ? -8 : 7;
  for (auto type : {k::ScaleType::f32, k::ScaleType::f16}) {
    const auto packed = pack(w, type);
    std::vector<float> x(512);
    for (std::size_t i = 0; i < x.size(); ++i) {
      x[i] = i % 5 == 0 ? -3e38f : i % 5 == 1 ? 3e38f : i % 5 == 2 ? 1e-40f : -1e-44f;
    }
    // Whole groups of denormals and of zeros, where 1 / d overflows or d is 0.
    for (std::size_t i = 64; i < 96; ++i) x[i] = std::numeric_limits<float>::denorm_min() * float(i % 3);
    for (std::size_t i = 96; i < 128; ++i) x[i] = 0.0f;
    const auto expected = run(k::Isa::scalar, x, 2, 256, packed, nullptr);
    ASSERT_TRUE(same_bits(reference(x, 2, 256, w, type, nullptr), expected));
    ASSERT_TRUE(same_bits(expected, run(isa(), x, 2, 256, packed, nullptr))) << k::to_string(isa());
  }
}

TEST_P(GemvInt4Isa, NonFiniteActivationsAreTotal) {
  const Weights w = make_weights(40, 128, 32, 4);
  const auto packed = pack(w, k::ScaleType::f16);
  auto x = make_x(1, 128, 5);
  x[3] = std::numeric_limits<float>::quiet_NaN();                // NaN counts as 0 in its group
  x[40] = std::numeric_limits<float>::infinity();                 // Inf: that group's products are NaN
  x[70] = -std::numeric_limits<float>::signaling_NaN();
  const auto expected = run(k::Isa::scalar, x, 1, 128, packed, nullptr);
  ASSERT_TRUE(same_bits(reference(x, 1, 128, w, k::ScaleType::f16, nullptr), expected));
  ASSERT_TRUE(same_bits(expected, run(isa(), x, 1, 128, packed, nullptr)));
  EXPECT_TRUE(std::isnan(expected[0]));  // the infinite group poisons the sum
  x[40] = 0.5f;                          // without it the NaNs only drop out
  const auto finite = run(k::Isa::scalar, x, 1, 128, packed, nullptr);
  for (float v : finite) EXPECT_TRUE(std::isfinite(v));
}

// The quantized product stays within its error bound of the float product.
TEST(GemvInt4, CloseToTheFloatProduct) {
  const Index n = 50, kk = 320;
  const Weights w = make_weights(n, kk, 32, 6);
  const auto packed = pack(w, k::ScaleType::f32);
  const auto x = make_x(2, kk, 7);
  const auto y = run(k::Isa::scalar, x, 2, kk, packed, nullptr);
  for (Index i = 0; i < 2; ++i) {
    for (Index j = 0; j < n; ++j) {
      double exact = 0, bound = 0;
      for (Index g = 0; g < kk / 32; ++g) {
        double amax = 0;
        for (Index t = g * 32; t < g * 32 + 32; ++t) amax = std::max(amax, std::fabs(double(x[static_cast<std::size_t>(i * kk + t)])));
        for (Index t = g * 32; t < g * 32 + 32; ++t) {
          const double wv = double(w.scales[static_cast<std::size_t>(j * 10 + g)]) * w.codes[static_cast<std::size_t>(j * kk + t)];
          exact += wv * x[static_cast<std::size_t>(i * kk + t)];
          bound += std::fabs(wv) * (amax / 127.0 / 2.0 * 1.0001);  // half a step of the activation code
        }
      }
      EXPECT_NEAR(y[static_cast<std::size_t>(i * n + j)], exact, bound + 1e-5) << i << "," << j;
    }
  }
}

TEST_P(GemvInt4Isa, ThreadsUnalignedPointersAndStrides) {
  const Weights w = make_weights(300, 200, 32, 8);
  const auto packed = pack(w, k::ScaleType::f16);
  const auto x = make_x(3, 203, 9);
  std::vector<float> bias(300, 0.25f);
  {
    // 3 and 11 x 2000 x 1600 (9.6M+ multiply-adds): work for three threads, on a pool of three and
    // the caller whatever the machine's cores.
    eigenq_test::ScopedThreadPool pool(3);
    const Weights big = make_weights(2000, 1600, 32, 10);
    const auto big_packed = pack(big, k::ScaleType::f16);
    for (Index m : {3, 11}) {
      const auto big_x = make_x(m, 1600, 11);
      std::vector<float> big_bias(2000, -0.5f);
      const auto big_expected = run(k::Isa::scalar, big_x, m, 1600, big_packed, big_bias.data(), 1, 0);
      for (int threads : {1, 2, 3, 16}) {
        ASSERT_TRUE(same_bits(big_expected, run(this->isa(), big_x, m, 1600, big_packed, big_bias.data(), threads, 0)))
            << k::to_string(this->isa()) << " rows " << m << " threads " << threads;
      }
    }
  }
  const auto expected = run(k::Isa::scalar, x, 3, 203, packed, bias.data(), 1, 5);
  {
    const k::Isa isa = this->isa();
    // x and y one element off their allocations' alignment; nothing written past N.
    const k::ScopedIsa scoped(isa);
    std::vector<float> xs(x.size() + 1);
    std::copy(x.begin(), x.end(), xs.begin() + 1);
    std::vector<float> y(3 * 305 + 1, 77.0f);
    k::gemv_int4(xs.data() + 1, 3, 203, packed, bias.data(), y.data() + 1, 305);
    for (Index i = 0; i < 3; ++i) {
      for (Index j = 0; j < 305; ++j) {
        const float got = y[static_cast<std::size_t>(1 + i * 305 + j)];
        if (j < 300) {
          ASSERT_EQ(float_bits(got), float_bits(expected[static_cast<std::size_t>(i * 305 + j)]));
        } else {
          ASSERT_EQ(got, 77.0f) << "wrote past N";
        }
      }
    }
    EXPECT_EQ(y[0], 77.0f);
  }
}

TEST(GemvInt4, RejectsBadArguments) {
  const Weights w = make_weights(5, 64, 32, 1);
  const auto packed = pack(w, k::ScaleType::f32);
  std::vector<float> x(128), y(10);
  EXPECT_THROW(k::gemv_int4(x.data(), -1, 64, packed, nullptr, y.data(), 5), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_int4(x.data(), 2, 63, packed, nullptr, y.data(), 5), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_int4(x.data(), 2, 64, packed, nullptr, y.data(), 4), eigenq::ShapeError);
  EXPECT_THROW(k::gemv_int4(nullptr, 2, 64, packed, nullptr, y.data(), 5), eigenq::InvalidArgument);
  EXPECT_THROW(k::gemv_int4(x.data(), 2, 64, packed, nullptr, nullptr, 5), eigenq::InvalidArgument);
  EXPECT_THROW(k::gemv_int4(x.data(), 2, 64, packed, nullptr, y.data(), 5, 0), eigenq::InvalidArgument);
  EXPECT_NO_THROW(k::gemv_int4(nullptr, 0, 64, packed, nullptr, nullptr, 5));
}

EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemvInt4Isa);

}  // namespace
