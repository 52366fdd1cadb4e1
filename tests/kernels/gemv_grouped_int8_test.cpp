// The grouped int8 GEMV (kernels/gemv_grouped_int8.hpp, ggml's Q8_0 weights): packing read back,
// every ISA path (forced in turn) bit for bit the definition computed here value by value, on
// every channel count, depth tail, row count, extreme codes and thread count.
#include "eigenq/kernels/gemv_grouped_int8.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/isa_test.hpp"
#include "support/scoped_thread_pool.hpp"
#include "support/test_support.hpp"

namespace {

namespace k = eigenq::kernels;
using eigenq::Index;

struct Int8Weights {
  Index n, kk, group;
  std::vector<std::int8_t> codes;  // n x kk
  std::vector<float> scales;       // n x groups
};

Int8Weights make_int8_weights(Index n, Index kk, Index group, unsigned seed, bool extremes = false) {
  std::mt19937 rng(seed);
  Int8Weights w{n, kk, group, {}, {}};
  w.codes.resize(static_cast<std::size_t>(n * kk));
  for (auto& c : w.codes) {
    c = static_cast<std::int8_t>(extremes ? (rng() % 2 ? -128 : 127) : static_cast<int>(rng() % 256) - 128);
  }
  const Index groups = (kk + group - 1) / group;
  w.scales.resize(static_cast<std::size_t>(n * groups));
  for (auto& s : w.scales) s = (static_cast<float>(rng() % 2000) - 1000.0f) * 1e-5f;
  return w;
}

struct Activations {
  Index m, kp, groups;
  std::vector<std::int8_t> q;
  std::vector<float> d;
  std::vector<std::int32_t> sums;
  k::Int4ActivationGroups view() const { return {q.data(), kp, d.data(), sums.data()}; }
};

Activations make_activations(Index m, Index kk, Index group, unsigned seed, bool extremes = false) {
  std::mt19937 rng(seed);
  std::vector<float> x(static_cast<std::size_t>(m * kk));
  for (auto& v : x) v = extremes ? (rng() % 2 ? -3.0f : 3.0f) : static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 1e-3f;
  const Index groups = (kk + group - 1) / group;
  Activations a{m, groups * group, groups, {}, {}, {}};
  a.q.resize(static_cast<std::size_t>(std::max<Index>(1, m * a.kp)));
  a.d.resize(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  a.sums.resize(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  const k::ScopedIsa scalar(k::Isa::scalar);
  k::quantize_int4_activations(x.data(), m, kk, kk, group, a.q.data(), a.d.data(), a.sums.data());
  return a;
}

float stored_scale(float s, k::ScaleType type) {
  return type == k::ScaleType::f32 ? s : k::half_bits_to_float(k::float_to_half_bits(s));
}

// The definition (scalar/gemv_int4.hpp) from the unpacked codes and scales.
std::vector<float> reference(const Int8Weights& w, const Activations& a, k::ScaleType type, const float* bias) {
  std::vector<float> y(static_cast<std::size_t>(a.m * w.n));
  for (Index i = 0; i < a.m; ++i) {
    for (Index j = 0; j < w.n; ++j) {
      float acc = 0.0f;
      for (Index g = 0; g < a.groups; ++g) {
        std::int32_t isum = 0;
        for (Index t = 0; t < w.group && g * w.group + t < w.kk; ++t) {
          isum += w.codes[static_cast<std::size_t>(j * w.kk + g * w.group + t)] *
                  a.q[static_cast<std::size_t>(i * a.kp + g * w.group + t)];
        }
        const float s = stored_scale(w.scales[static_cast<std::size_t>(j * a.groups + g)], type);
        acc = std::fma(s * a.d[static_cast<std::size_t>(i * a.groups + g)], static_cast<float>(isum), acc);
      }
      y[static_cast<std::size_t>(i * w.n + j)] = acc + (bias ? bias[j] : 0.0f);
    }
  }
  return y;
}

std::vector<float> run_int8(k::Isa isa, const k::PackedGroupedInt8Weights& packed, const Activations& a,
                            const float* bias, int threads = 1) {
  const k::ScopedIsa scoped(isa);
  std::vector<float> y(static_cast<std::size_t>(std::max<Index>(1, a.m * packed.cols())));
  k::gemv_grouped_int8_quantized(a.view(), a.m, packed, bias, y.data(), packed.cols(), threads);
  y.resize(static_cast<std::size_t>(a.m * packed.cols()));
  return y;
}

void check_int8(k::Isa isa, Index m, Index n, Index kk, Index group, k::ScaleType type, bool with_bias, unsigned seed,
                bool extremes = false) {
  const Int8Weights w = make_int8_weights(n, kk, group, seed, extremes);
  const auto packed = k::pack_grouped_int8_weights(w.codes.data(), n, kk, kk, w.scales.data(), (kk + group - 1) / group,
                                                   group, type);
  const Activations a = make_activations(m, kk, group, seed + 1, extremes);
  std::vector<float> bias(static_cast<std::size_t>(n));
  for (std::size_t j = 0; j < bias.size(); ++j) bias[j] = 0.5f - 0.125f * static_cast<float>(j % 9);
  const float* b = with_bias ? bias.data() : nullptr;
  ASSERT_TRUE(eigenq_test::same_bits(reference(w, a, type, b), run_int8(isa, packed, a, b)))
      << k::to_string(isa) << " " << m << "x" << n << "x" << kk << " G" << group;
}

TEST(PackGroupedInt8Weights, ReadsBackCodesAndScales) {
  const Int8Weights w = make_int8_weights(70, 200, 32, 1);
  const auto packed = k::pack_grouped_int8_weights(w.codes.data(), 70, 200, 200, w.scales.data(), 7, 32,
                                                   k::ScaleType::f32);
  EXPECT_EQ(packed.padded_depth(), 224);
  EXPECT_EQ(packed.padded_cols(), 80);
  for (Index n = 0; n < 70; ++n) {
    for (Index kk = 0; kk < 200; ++kk) ASSERT_EQ(packed.code(n, kk), w.codes[static_cast<std::size_t>(n * 200 + kk)]);
    for (Index kk = 200; kk < 224; ++kk) ASSERT_EQ(packed.code(n, kk), 0) << "padding";
    for (Index g = 0; g < 7; ++g) ASSERT_EQ(packed.scale(n, g), w.scales[static_cast<std::size_t>(n * 7 + g)]);
  }
  EXPECT_EQ(packed.scale(75, 0), 0.0f);
}

TEST(PackGroupedInt8Weights, RejectsBadArguments) {
  const Int8Weights w = make_int8_weights(3, 64, 32, 2);
  EXPECT_THROW(k::pack_grouped_int8_weights(w.codes.data(), 3, 64, 64, w.scales.data(), 2, 64), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_grouped_int8_weights(w.codes.data(), 3, 64, 64, w.scales.data(), 8, 8), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_grouped_int8_weights(w.codes.data(), 3, 64, 63, w.scales.data(), 2, 32), eigenq::ShapeError);
  EXPECT_THROW(k::pack_grouped_int8_weights(nullptr, 3, 64, 64, w.scales.data(), 2, 32), eigenq::InvalidArgument);
  auto bad = w.scales;
  bad[1] = std::nanf("");
  EXPECT_THROW(k::pack_grouped_int8_weights(w.codes.data(), 3, 64, 64, bad.data(), 2, 32), eigenq::NonFiniteError);
}

class GroupedInt8Isa : public eigenq_test::IsaTest {};

TEST_P(GroupedInt8Isa, EveryChannelCount) {
  for (Index n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
    check_int8(isa(), 1, n, 64, 32, k::ScaleType::f16, n % 2 == 0, static_cast<unsigned>(n));
    check_int8(isa(), 3, n, 96, 32, k::ScaleType::f32, n % 3 == 0, static_cast<unsigned>(300 + n));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GroupedInt8Isa, DepthTailsRowsAndGroupSizes) {
  for (Index kk : {1, 31, 33, 100, 128, 300}) {
    for (Index m : {1, 2, 5, 6, 7, 13}) {
      for (Index group : {16, 32, 128}) {
        check_int8(isa(), m, 130, kk, group, group == 32 ? k::ScaleType::f16 : k::ScaleType::f32, m % 2 == 1,
                   static_cast<unsigned>(kk * 100 + m + group));
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(GroupedInt8Isa, ExtremeCodesAndActivations) {
  // Codes -128 and 127 against activations +-127: the sums the AVX2 path's vpsignb /
  // vpmaddubsw and the VNNI path's offset must carry without saturating.
  check_int8(isa(), 4, 64, 256, 128, k::ScaleType::f32, false, 7, true);
  check_int8(isa(), 9, 48, 128, 32, k::ScaleType::f16, true, 8, true);
}

TEST_P(GroupedInt8Isa, EveryThreadCountGivesTheSameBits) {
  eigenq_test::ScopedThreadPool pool(3);
  const Int8Weights w = make_int8_weights(2000, 1600, 32, 9);
  const auto packed = k::pack_grouped_int8_weights(w.codes.data(), 2000, 1600, 1600, w.scales.data(), 50, 32);
  const Activations a = make_activations(5, 1600, 32, 10);
  const auto expected = run_int8(k::Isa::scalar, packed, a, nullptr);
  for (int threads : {1, 2, 3}) {
    ASSERT_TRUE(eigenq_test::same_bits(expected, run_int8(isa(), packed, a, nullptr, threads)))
        << k::to_string(isa()) << " threads " << threads;
  }
}

EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GroupedInt8Isa);

}  // namespace
