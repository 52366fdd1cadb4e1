// int8 GEMM/GEMV (kernels/gemm.hpp): the scalar path against a plain int64
// reference written here from the definition, and every ISA path
// (kernels::all_isas, skipped with the reason where this build or CPU lacks
// it), forced in turn, against the scalar path bit for bit (int32 sums,
// requantized codes, dequantized floats); the Requantize factories and the
// multiplier helpers.
#include "eigenq/kernels/gemm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kernels/isa_test.hpp"
#include "support/scoped_thread_pool.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::expect_error;
using eigenq_test::same_bits;
namespace k = eigenq::kernels;

class GemmIsa : public eigenq_test::IsaTest {};
class GemmRequantizeIsa : public eigenq_test::IsaTest {};
class GemmDequantizeIsa : public eigenq_test::IsaTest {};

// ---- problems and references ---------------------------------------------------------------

template <class A>
struct Problem {
  Index m = 0, n = 0, kk = 0;
  Index lda = 0;
  std::vector<A> a;
  std::vector<std::int8_t> b;  // row-major K x N
  std::int32_t za = 0;
  std::vector<std::int32_t> zb;  // empty or N values
};

template <class T>
T random_value(std::mt19937& rng) {
  return static_cast<T>(std::uniform_int_distribution<int>(std::numeric_limits<T>::min(),
                                                           std::numeric_limits<T>::max())(rng));
}

template <class A>
Problem<A> make_problem(Index m, Index n, Index kk, unsigned seed, bool zero_points = true,
                        Index lda_pad = 0) {
  std::mt19937 rng(seed);
  Problem<A> p;
  p.m = m;
  p.n = n;
  p.kk = kk;
  p.lda = kk + lda_pad;
  p.a.resize(static_cast<std::size_t>(std::max<Index>(1, m * p.lda)));
  for (auto& v : p.a) v = random_value<A>(rng);
  p.b.resize(static_cast<std::size_t>(std::max<Index>(1, kk * n)));
  for (auto& v : p.b) v = random_value<std::int8_t>(rng);
  if (zero_points) {
    p.za = random_value<A>(rng);
    p.zb.resize(static_cast<std::size_t>(n));
    for (auto& v : p.zb) v = random_value<std::int8_t>(rng);
  }
  return p;
}

template <class A>
k::PackedWeights pack(const Problem<A>& p) {
  if (p.zb.empty()) return k::pack_weights(p.b.data(), p.kk, p.n, p.n, 1);
  return k::pack_weights(p.b.data(), p.kk, p.n, p.n, 1, p.zb.data(), p.n);
}

// sum_k (A - za)(B - zb) in int64, then wrapped to int32 as the kernels define it.
template <class A>
std::vector<std::int32_t> reference_acc(const Problem<A>& p) {
  std::vector<std::int32_t> acc(static_cast<std::size_t>(p.m * p.n));
  for (Index i = 0; i < p.m; ++i) {
    for (Index j = 0; j < p.n; ++j) {
      std::int64_t s = 0;
      const std::int64_t zb = p.zb.empty() ? 0 : p.zb[static_cast<std::size_t>(j)];
      for (Index q = 0; q < p.kk; ++q) {
        s += (std::int64_t{p.a[static_cast<std::size_t>(i * p.lda + q)]} - p.za) *
             (std::int64_t{p.b[static_cast<std::size_t>(q * p.n + j)]} - zb);
      }
      acc[static_cast<std::size_t>(i * p.n + j)] =
          static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(s)));
    }
  }
  return acc;
}

// Runs the product on one path; C has row stride ldc and is pre-filled with a canary.
template <class A, class Out, class Stage>
std::vector<Out> run(k::Isa isa, const Problem<A>& p, const k::PackedWeights& w, const Stage& stage,
                     int threads = 1, Index ldc_pad = 0) {
  const k::ScopedIsa scoped(isa);
  const Index ldc = p.n + ldc_pad;
  std::vector<Out> c(static_cast<std::size_t>(std::max<Index>(1, p.m * ldc)), Out(77));
  k::gemm(p.a.data(), p.m, p.lda, p.za, w, c.data(), ldc, stage, threads);
  return c;
}

std::string describe(k::Isa isa, Index m, Index n, Index kk) {
  return std::string(k::to_string(isa)) + " " + std::to_string(m) + "x" + std::to_string(n) + "x" +
         std::to_string(kk);
}

// Checks one shape: scalar against the reference, the path against scalar.
template <class A>
void check_int32(k::Isa isa, Index m, Index n, Index kk, unsigned seed, bool zero_points = true) {
  const Problem<A> p = make_problem<A>(m, n, kk, seed, zero_points);
  const k::PackedWeights w = pack(p);
  const auto expected = run<A, std::int32_t>(k::Isa::scalar, p, w, k::Int32Output{});
  ASSERT_TRUE(same_bits(reference_acc(p), expected)) << describe(k::Isa::scalar, m, n, kk);
  ASSERT_TRUE(same_bits(expected, run<A, std::int32_t>(isa, p, w, k::Int32Output{}))) << describe(isa, m, n, kk);
}

// ---- packing --------------------------------------------------------------------------------

TEST(PackWeights, ReadsBackBothLayoutsWithSumsAndZeroPoints) {
  for (Index kk : {1, 3, 4, 5, 31, 70}) {
    for (Index n : {1, 15, 16, 17, 47, 48, 49, 97}) {
      std::mt19937 rng(static_cast<unsigned>(kk * 100 + n));
      std::vector<std::int8_t> kn(static_cast<std::size_t>(kk * n));  // row-major K x N
      for (auto& v : kn) v = random_value<std::int8_t>(rng);
      std::vector<std::int8_t> nk(kn.size());  // the same matrix as N x K (a Linear weight)
      for (Index q = 0; q < kk; ++q) {
        for (Index j = 0; j < n; ++j) {
          nk[static_cast<std::size_t>(j * kk + q)] = kn[static_cast<std::size_t>(q * n + j)];
        }
      }
      const auto a = k::pack_weights(kn.data(), kk, n, n, 1, std::int32_t{-3});
      const auto b = k::pack_weights(nk.data(), kk, n, 1, kk, std::int32_t{-3});
      EXPECT_EQ(a.padded_depth() % 4, 0);
      EXPECT_EQ(a.padded_cols() % 16, 0);
      EXPECT_GE(a.padded_cols(), n);
      EXPECT_LT(a.padded_cols() - n, 16);
      for (Index j = 0; j < n; ++j) {
        std::int32_t sum = 0;
        for (Index q = 0; q < kk; ++q) {
          const std::int8_t v = kn[static_cast<std::size_t>(q * n + j)];
          ASSERT_EQ(a.at(q, j), v);
          ASSERT_EQ(b.at(q, j), v);
          sum += v;
        }
        EXPECT_EQ(a.column_sums()[j], sum);
        EXPECT_EQ(b.column_sums()[j], sum);
        EXPECT_EQ(a.zero_points()[j], -3);
      }
      for (Index j = n; j < a.padded_cols(); ++j) {
        EXPECT_EQ(a.column_sums()[j], 0);
        EXPECT_EQ(a.zero_points()[j], 0);
      }
      for (Index q = kk; q < a.padded_depth(); ++q) EXPECT_EQ(a.at(q, 0), 0);  // zero padding
      EXPECT_TRUE(a.has_zero_points());
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.panel(0)) % 64, 0u);
      if (a.panel_count() > 1) {
        EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.panel(1)) % 64, 0u);
      }
    }
  }
}

TEST(PackWeights, RejectsBadArguments) {
  const std::int8_t b[4] = {1, 2, 3, 4};
  EXPECT_THROW(k::pack_weights(b, -1, 2, 2, 1), eigenq::ShapeError);
  EXPECT_THROW(k::pack_weights(b, 2, 2, -2, 1), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_weights(nullptr, 2, 2, 2, 1), eigenq::InvalidArgument);
  EXPECT_THROW(k::pack_weights(b, 2, 2, 2, 1, std::int32_t{128}), eigenq::InvalidArgument);
  const std::int32_t zps[3] = {0, 0, 0};
  EXPECT_THROW(k::pack_weights(b, 2, 2, 2, 1, zps, 3), eigenq::ShapeError);
  try {
    k::pack_weights(b, 2, 2, 2, 1, std::int32_t{-129});
    FAIL();
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("-129"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(k::pack_weights(nullptr, 0, 5, 5, 1));
}

// ---- int32 sums: sizes ---------------------------------------------------------------------

TEST_P(GemmIsa, EverySizeAlongEachDimension) {
  for (Index s = 1; s <= 70; ++s) {
    check_int32<std::uint8_t>(isa(), s, 37, 29, static_cast<unsigned>(s));
    check_int32<std::int8_t>(isa(), 5, s, 19, static_cast<unsigned>(100 + s));
    check_int32<std::uint8_t>(isa(), 7, 50, s, static_cast<unsigned>(200 + s));
    check_int32<std::int8_t>(isa(), 9, 20, s, static_cast<unsigned>(300 + s));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmIsa, RandomShapes) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> size(1, 70);
  for (int i = 0; i < 60; ++i) {
    const Index m = size(rng), n = size(rng), kk = size(rng);
    if (i % 2 == 0) {
      check_int32<std::uint8_t>(isa(), m, n, kk, static_cast<unsigned>(i), i % 3 != 0);
    } else {
      check_int32<std::int8_t>(isa(), m, n, kk, static_cast<unsigned>(i), i % 3 != 0);
    }
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmIsa, GemvShapes) {
  for (Index m = 1; m <= 4; ++m) {
    check_int32<std::uint8_t>(isa(), m, 200, 515, static_cast<unsigned>(m));
    check_int32<std::int8_t>(isa(), m, 97, 1024, static_cast<unsigned>(10 + m), false);
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmIsa, LargeShapes) {
  check_int32<std::uint8_t>(isa(), 130, 200, 300, 1);
  check_int32<std::int8_t>(isa(), 67, 145, 1030, 2);
  check_int32<std::uint8_t>(isa(), 1, 1000, 2000, 3, false);
}

// A block of rows bigger than one L2-sized A block (the driver's M blocking).
TEST_P(GemmIsa, ManyRowsAcrossActivationBlocks) { check_int32<std::uint8_t>(isa(), 600, 20, 2048, 4, false); }

TEST_P(GemmIsa, EmptyProblemsWriteNothing) {
  const Problem<std::uint8_t> empty = make_problem<std::uint8_t>(0, 5, 7, 1);
  const auto c0 = run<std::uint8_t, std::int32_t>(isa(), empty, pack(empty), k::Int32Output{});
  EXPECT_EQ(c0[0], 77);
  // K = 0: every sum is empty, so C = 0 (plus zero-point terms, which vanish too).
  const Problem<std::uint8_t> p = make_problem<std::uint8_t>(3, 5, 0, 1);
  const auto c = run<std::uint8_t, std::int32_t>(isa(), p, pack(p), k::Int32Output{});
  EXPECT_TRUE(std::all_of(c.begin(), c.end(), [](std::int32_t v) { return v == 0; }));
}

// ---- extremes -------------------------------------------------------------------------------

template <class A>
void check_extremes(k::Isa isa, A a_value, std::int8_t b_value, std::int32_t za, std::int32_t zb, Index kk) {
  Problem<A> p = make_problem<A>(5, 33, kk, 1, false);
  std::fill(p.a.begin(), p.a.end(), a_value);
  std::fill(p.b.begin(), p.b.end(), b_value);
  p.za = za;
  p.zb.assign(static_cast<std::size_t>(p.n), zb);
  const auto w = pack(p);
  const auto expected = run<A, std::int32_t>(k::Isa::scalar, p, w, k::Int32Output{});
  ASSERT_TRUE(same_bits(reference_acc(p), expected));
  ASSERT_TRUE(same_bits(expected, run<A, std::int32_t>(isa, p, w, k::Int32Output{})))
      << k::to_string(isa) << " a=" << +a_value << " b=" << +b_value << " za=" << za << " zb=" << zb << " K=" << kk;
}

TEST_P(GemmIsa, SaturationExtremesAndZeroPointsAtBothEnds) {
  for (Index kk : {1, 63, 300}) {
    for (std::uint8_t a : {0, 255}) {
      for (std::int8_t b : {-128, 127}) {
        for (std::int32_t za : {0, 255}) {
          for (std::int32_t zb : {-128, 0, 127}) check_extremes<std::uint8_t>(isa(), a, b, za, zb, kk);
        }
      }
    }
    for (std::int8_t a : {-128, 127}) {
      for (std::int8_t b : {-128, 127}) {
        for (std::int32_t za : {-128, 127}) {
          for (std::int32_t zb : {-128, 0, 127}) check_extremes<std::int8_t>(isa(), a, b, za, zb, kk);
        }
      }
    }
    if (HasFatalFailure()) return;
  }
}

// Past K = 65793 the true sums leave int32: every path wraps the same way.
TEST_P(GemmIsa, SumsBeyondInt32WrapIdentically) {
  check_extremes<std::uint8_t>(isa(), 255, -128, 0, 0, 70001);
  check_extremes<std::uint8_t>(isa(), 255, 127, 0, -128, 70001);
  check_extremes<std::int8_t>(isa(), -128, -128, 127, 127, 70001);
}

// ---- strides, alignment, threads ------------------------------------------------------------

TEST_P(GemmIsa, UnalignedPointersAndPaddedStrides) {
  const Index m = 11, n = 53, kk = 45;
  Problem<std::uint8_t> p = make_problem<std::uint8_t>(m, n, kk, 9, true, /*lda_pad=*/3);
  const auto w = pack(p);
  const auto expected = reference_acc(p);
  {
    const k::Isa isa = this->isa();
    const k::ScopedIsa scoped(isa);
    // A one byte off its allocation's alignment, C one element off and with ldc > N.
    std::vector<std::uint8_t> a(p.a.size() + 1);
    std::copy(p.a.begin(), p.a.end(), a.begin() + 1);
    const Index ldc = n + 5;
    std::vector<std::int32_t> c(static_cast<std::size_t>(m * ldc + 1), 77);
    k::gemm(a.data() + 1, m, p.lda, p.za, w, c.data() + 1, ldc, k::Int32Output{});
    for (Index i = 0; i < m; ++i) {
      for (Index j = 0; j < ldc; ++j) {
        const std::int32_t got = c[static_cast<std::size_t>(1 + i * ldc + j)];
        if (j < n) {
          ASSERT_EQ(got, expected[static_cast<std::size_t>(i * n + j)]) << k::to_string(isa);
        } else {
          ASSERT_EQ(got, 77) << k::to_string(isa) << ": wrote past N in row " << i;
        }
      }
    }
    EXPECT_EQ(c[0], 77);
  }
}

// Without zero points and with K % 4 == 0 a path may read byte activations in
// place (row stride lda) instead of packing them: strides other than K must hold.
template <class A>
void check_in_place(k::Isa isa, Index m, Index n, Index kk, Index lda_pad, unsigned seed) {
  const Problem<A> p = make_problem<A>(m, n, kk, seed, /*zero_points=*/false, lda_pad);
  const auto w = pack(p);
  const auto expected = run<A, std::int32_t>(k::Isa::scalar, p, w, k::Int32Output{});
  ASSERT_TRUE(same_bits(reference_acc(p), expected));
  ASSERT_TRUE(same_bits(expected, run<A, std::int32_t>(isa, p, w, k::Int32Output{})))
      << k::to_string(isa) << " " << m << "x" << n << "x" << kk << " lda " << p.lda;
}

TEST_P(GemmIsa, ActivationsReadInPlaceWithAnyRowStride) {
  for (Index m : {1, 2, 3, 4, 5, 9, 17}) {
    for (Index pad : {0, 1, 4, 61}) {
      check_in_place<std::uint8_t>(isa(), m, 50, 64, pad, static_cast<unsigned>(m * 100 + pad));
      check_in_place<std::int8_t>(isa(), m, 33, 20, pad, static_cast<unsigned>(m * 100 + pad + 1));
      if (HasFatalFailure()) return;
    }
  }
}

// Large enough (16.8M multiply-adds) for four threads' worth of work, on a pool of three
// threads and the caller whatever the machine's cores.
// The threads share the panels (40 rows: too few to share) or the rows (250 rows over 120
// columns); both shapes have work for three threads or more.
TEST_P(GemmIsa, ThreadsDoNotChangeTheResult) {
  eigenq_test::ScopedThreadPool pool(3);
  for (const auto& shape : {std::array<Index, 3>{40, 700, 600}, std::array<Index, 3>{250, 120, 420}}) {
    const Problem<std::int8_t> p = make_problem<std::int8_t>(shape[0], shape[1], shape[2], 5);
    const auto w = pack(p);
    const auto expected = run<std::int8_t, std::int32_t>(k::Isa::scalar, p, w, k::Int32Output{});
    for (int threads : {1, 2, 3, 64}) {
      ASSERT_TRUE(same_bits(expected, run<std::int8_t, std::int32_t>(isa(), p, w, k::Int32Output{}, threads)))
          << k::to_string(isa()) << " threads " << threads << " M " << shape[0];
    }
    // Requantized output through threads too.
    const float mult = 0.001f;
    const auto rq = k::Requantize::per_tensor(mult);
    const auto codes = run<std::int8_t, std::int8_t>(k::Isa::scalar, p, w, rq);
    for (int threads : {2, 3}) {
      ASSERT_TRUE(same_bits(codes, run<std::int8_t, std::int8_t>(isa(), p, w, rq, threads))) << "M " << shape[0];
    }
  }
}

// ---- output stages --------------------------------------------------------------------------

struct StageData {
  std::vector<float> multipliers;
  std::vector<k::FixedPointMultiplier> fixed;
  std::vector<std::int32_t> bias;
  std::vector<float> row_scales, col_scales, fbias;
};

StageData make_stage_data(Index m, Index n, unsigned seed, bool wide_bias) {
  std::mt19937 rng(seed);
  StageData d;
  std::uniform_real_distribution<double> log_mult(-24.0, 2.0);
  for (Index j = 0; j < n; ++j) {
    const double real = std::exp2(log_mult(rng));
    d.multipliers.push_back(static_cast<float>(real));
    d.fixed.push_back(k::fixed_point_multiplier(real));
    // A wide bias moves t = acc + bias anywhere in int32, extremes included.
    d.bias.push_back(wide_bias ? random_value<std::int32_t>(rng)
                               : std::uniform_int_distribution<std::int32_t>(-5000, 5000)(rng));
    d.col_scales.push_back(std::uniform_real_distribution<float>(1e-4f, 1e-1f)(rng));
    d.fbias.push_back(std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng));
  }
  if (wide_bias && n > 3) {
    d.bias[0] = std::numeric_limits<std::int32_t>::max();
    d.bias[1] = std::numeric_limits<std::int32_t>::min();
    d.fixed[2] = k::fixed_point_multiplier(std::ldexp(0.75, 30));  // the largest exponent
    d.fixed[3] = k::fixed_point_multiplier(std::ldexp(0.75, -31));  // the smallest
  }
  for (Index i = 0; i < m; ++i) {
    d.row_scales.push_back(std::uniform_real_distribution<float>(1e-3f, 1.0f)(rng));
  }
  return d;
}

template <class A, class Out, class Stage>
void check_stage(k::Isa isa, const Problem<A>& p, const k::PackedWeights& w, const Stage& stage,
                 const std::string& what) {
  const auto expected = run<A, Out>(k::Isa::scalar, p, w, stage, 1, 3);
  ASSERT_TRUE(same_bits(expected, run<A, Out>(isa, p, w, stage, 1, 3)))
      << k::to_string(isa) << " " << what << " " << p.m << "x" << p.n << "x" << p.kk;
}

// The scalar path's codes follow the element definitions (arithmetic.hpp, as output_stage.hpp
// states them).
template <class A, class Out>
void check_scalar_requantize(const Problem<A>& p, const k::PackedWeights& w, const k::Requantize& rq) {
  const auto acc = reference_acc(p);
  const auto got = run<A, Out>(k::Isa::scalar, p, w, rq);
  const std::int32_t qmin = std::max<std::int32_t>(rq.qmin, std::numeric_limits<Out>::min());
  const std::int32_t qmax = std::min<std::int32_t>(rq.qmax, std::numeric_limits<Out>::max());
  for (Index i = 0; i < p.m; ++i) {
    for (Index j = 0; j < p.n; ++j) {
      const Index c = rq.multiplier_count == 1 ? 0 : j;
      const std::int32_t t = k::wrapping_add(acc[static_cast<std::size_t>(i * p.n + j)],
                                             rq.bias != nullptr ? rq.bias[j] : 0);
      const std::int32_t want =
          rq.float_multipliers != nullptr
              ? k::requantize_float_value<Out>(t, rq.float_multipliers[c], rq.zero_point, {qmin, qmax})
              : k::requantize_fixed_point_value<Out>(t, rq.fixed_point_multipliers[c], rq.fixed_point_rounding,
                                                     rq.zero_point, {qmin, qmax});
      ASSERT_EQ(+got[static_cast<std::size_t>(i * p.n + j)], want) << i << "," << j;
    }
  }
}

template <class A, class Out>
void check_requantize_variants(k::Isa isa, Index m, Index n, Index kk, unsigned seed) {
  const Problem<A> p = make_problem<A>(m, n, kk, seed);
  const auto w = pack(p);
  for (bool wide_bias : {false, true}) {
    const StageData d = make_stage_data(m, n, seed + 1, wide_bias);
    for (bool per_channel : {false, true}) {
      for (int kind = 0; kind < 3; ++kind) {
        k::Requantize rq;
        rq.multiplier_count = per_channel ? n : 1;
        if (kind == 0) {
          rq.float_multipliers = d.multipliers.data();
        } else {
          rq.fixed_point_multipliers = d.fixed.data();
          rq.fixed_point_rounding =
              kind == 1 ? k::FixedPointRounding::double_rounding : k::FixedPointRounding::single_rounding;
        }
        rq.bias = d.bias.data();
        rq.zero_point = std::is_signed_v<Out> ? -7 : 131;
        const std::string what = std::string(kind == 0 ? "float" : kind == 1 ? "double" : "single") +
                                 (per_channel ? " per channel" : " per tensor") +
                                 (wide_bias ? " wide bias" : "");
        check_stage<A, Out>(isa, p, w, rq, what);
        check_scalar_requantize<A, Out>(p, w, rq);
        rq.qmin = rq.zero_point;  // ReLU
        rq.qmax = rq.zero_point + 90;
        check_stage<A, Out>(isa, p, w, rq, what + " relu");
        check_scalar_requantize<A, Out>(p, w, rq);
        rq.zero_point = std::numeric_limits<Out>::min();  // zero points at both ends
        rq.qmin = std::numeric_limits<std::int32_t>::min();
        rq.qmax = std::numeric_limits<std::int32_t>::max();
        check_stage<A, Out>(isa, p, w, rq, what + " zp min");
        rq.zero_point = std::numeric_limits<Out>::max();
        check_stage<A, Out>(isa, p, w, rq, what + " zp max");
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(GemmRequantizeIsa, AllVariantsMatchScalarAndTheDefinition) {
  check_requantize_variants<std::uint8_t, std::uint8_t>(isa(), 7, 53, 33, 1);
  check_requantize_variants<std::uint8_t, std::int8_t>(isa(), 3, 16, 64, 2);
  check_requantize_variants<std::int8_t, std::int8_t>(isa(), 10, 70, 9, 3);
  check_requantize_variants<std::int8_t, std::uint8_t>(isa(), 1, 97, 200, 4);
}

TEST_P(GemmRequantizeIsa, EveryColumnCountOfTheTail) {
  for (Index n = 1; n <= 40; ++n) {
    check_requantize_variants<std::uint8_t, std::int8_t>(isa(), 2, n, 5, static_cast<unsigned>(n));
    if (HasFatalFailure()) return;
  }
}

TEST_P(GemmDequantizeIsa, MatchesScalarAndADoubleReference) {
  for (auto [m, n, kk] : {std::tuple<Index, Index, Index>{7, 53, 33}, {1, 100, 300}, {17, 9, 70}, {4, 64, 128}}) {
    const Problem<std::uint8_t> p = make_problem<std::uint8_t>(m, n, kk, static_cast<unsigned>(m + n));
    const auto w = pack(p);
    const StageData d = make_stage_data(m, n, 7, false);
    const auto acc = reference_acc(p);
    for (bool per_row : {false, true}) {
      for (bool per_col : {false, true}) {
        for (bool bias : {false, true}) {
          k::Dequantize dq;
          dq.row_scales = d.row_scales.data();
          dq.row_scale_count = per_row ? m : 1;
          dq.col_scales = d.col_scales.data();
          dq.col_scale_count = per_col ? n : 1;
          dq.bias = bias ? d.fbias.data() : nullptr;
          check_stage<std::uint8_t, float>(isa(), p, w, dq, "dequantize");
          // Independent check: double arithmetic, within a few float roundings.
          const auto y = run<std::uint8_t, float>(k::Isa::scalar, p, w, dq);
          for (Index i = 0; i < m; ++i) {
            for (Index j = 0; j < n; ++j) {
              const double want = double(acc[static_cast<std::size_t>(i * n + j)]) *
                                      double(d.row_scales[per_row ? i : 0]) *
                                      double(d.col_scales[per_col ? j : 0]) +
                                  (bias ? double(d.fbias[static_cast<std::size_t>(j)]) : 0.0);
              const double got = y[static_cast<std::size_t>(i * n + j)];
              const double scale = std::abs(double(acc[static_cast<std::size_t>(i * n + j)]) *
                                            d.row_scales[per_row ? i : 0] * d.col_scales[per_col ? j : 0]) +
                                   (bias ? std::abs(double(d.fbias[static_cast<std::size_t>(j)])) : 0.0);
              ASSERT_NEAR(got, want, 4.0 * std::ldexp(scale, -24) + 1e-30) << i << "," << j;
            }
          }
        }
      }
    }
  }
}

TEST_P(GemmDequantizeIsa, DenormalAndZeroScales) {
  const Problem<std::int8_t> p = make_problem<std::int8_t>(3, 40, 21, 3);
  const auto w = pack(p);
  std::vector<float> cols(40);
  for (std::size_t j = 0; j < cols.size(); ++j) {
    cols[j] = j % 3 == 0 ? std::numeric_limits<float>::denorm_min() * float(j + 1) : j % 3 == 1 ? 0.0f : -1e-38f;
  }
  const float rows[3] = {1.0f, 1e-30f, 3.0f};
  k::Dequantize dq;
  dq.row_scales = rows;
  dq.row_scale_count = 3;
  dq.col_scales = cols.data();
  dq.col_scale_count = 40;
  check_stage<std::int8_t, float>(isa(), p, w, dq, "denormal scales");
}

// ---- errors ---------------------------------------------------------------------------------

template <class F>
void expect_message(F&& f, const std::string& fragment) {
  expect_error<eigenq::InvalidArgument>(std::forward<F>(f), {fragment});
}

TEST(Gemm, RejectsBadArguments) {
  const Problem<std::uint8_t> p = make_problem<std::uint8_t>(2, 3, 4, 1);
  const auto w = pack(p);
  std::vector<std::int32_t> c(6);
  std::vector<std::int8_t> c8(6);
  std::vector<float> cf(6);
  const std::uint8_t* a = p.a.data();
  expect_message([&] { k::gemm(a, 2, 4, 256, w, c.data(), 3, k::Int32Output{}); }, "256");
  expect_message([&] { k::gemm(a, 2, 3, 0, w, c.data(), 3, k::Int32Output{}); }, "lda = 3");
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c.data(), 2, k::Int32Output{}); }, "ldc = 2");
  expect_message([&] { k::gemm(a, -1, 4, 0, w, c.data(), 3, k::Int32Output{}); }, "M = -1");
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c.data(), 3, k::Int32Output{}, 0); }, "threads = 0");
  expect_message([&] { k::gemm(static_cast<const std::uint8_t*>(nullptr), 2, 4, 0, w, c.data(), 3, k::Int32Output{}); },
                 "A is null");
  expect_message([&] { k::gemm(a, 2, 4, 0, w, static_cast<std::int32_t*>(nullptr), 3, k::Int32Output{}); },
                 "C is null");
  const std::int8_t* s8 = reinterpret_cast<const std::int8_t*>(a);
  expect_message([&] { k::gemm(s8, 2, 4, 128, w, c.data(), 3, k::Int32Output{}); }, "128");

  const float mults[2] = {0.5f, 0.25f};
  k::Requantize rq;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "exactly one");
  rq.float_multipliers = mults;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "multiplier_count is 0");
  rq.multiplier_count = 2;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "2 multipliers for 3");
  rq.multiplier_count = 1;
  rq.zero_point = 200;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "zero point 200");
  rq.zero_point = 0;
  rq.qmin = 10;
  rq.qmax = 5;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "empty");
  rq.qmin = -128;
  rq.qmax = 127;
  const float bad = -1.0f;
  rq.float_multipliers = &bad;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "multiplier -1");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  rq.float_multipliers = &nan;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "multiplier nan");
  const k::FixedPointMultiplier not_q31{12345, 0};
  rq.float_multipliers = nullptr;
  rq.fixed_point_multipliers = &not_q31;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, c8.data(), 3, rq); }, "12345");

  k::Dequantize dq;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, cf.data(), 3, dq); }, "required");
  const float inf = std::numeric_limits<float>::infinity();
  const float one = 1.0f;
  dq.row_scales = &one;
  dq.col_scales = &inf;
  EXPECT_THROW(k::gemm(a, 2, 4, 0, w, cf.data(), 3, dq), eigenq::NonFiniteError);
  dq.col_scales = &one;
  dq.row_scale_count = 3;
  expect_message([&] { k::gemm(a, 2, 4, 0, w, cf.data(), 3, dq); }, "3 row scales for 2");
}

// ---- building a Requantize stage ------------------------------------------------------------

// Whether Requantize::per_tensor / per_channel take an argument of type T (a temporary must not:
// the stage would point at it after it is gone).
template <class T, class = void>
struct per_tensor_takes : std::false_type {};
template <class T>
struct per_tensor_takes<T, std::void_t<decltype(k::Requantize::per_tensor(std::declval<T>()))>> : std::true_type {};
template <class T, class = void>
struct per_channel_takes : std::false_type {};
template <class T>
struct per_channel_takes<T, std::void_t<decltype(k::Requantize::per_channel(std::declval<T>()))>> : std::true_type {};

static_assert(per_tensor_takes<const float&>::value && !per_tensor_takes<float>::value);
static_assert(per_tensor_takes<const k::FixedPointMultiplier&>::value &&
              !per_tensor_takes<k::FixedPointMultiplier>::value);
static_assert(per_channel_takes<const std::vector<float>&>::value && !per_channel_takes<std::vector<float>>::value);
static_assert(per_channel_takes<std::vector<k::FixedPointMultiplier>&>::value &&
              !per_channel_takes<std::vector<k::FixedPointMultiplier>>::value);

TEST(Requantize, FactoriesSetTheCountAndMatchTheFields) {
  const Problem<std::int8_t> p = make_problem<std::int8_t>(5, 37, 50, 11);
  const auto w = pack(p);
  const StageData d = make_stage_data(5, 37, 12, false);
  // Per channel, float: the factory against the same stage written field by field.
  k::Requantize by_fields;
  by_fields.float_multipliers = d.multipliers.data();
  by_fields.multiplier_count = 37;
  by_fields.bias = d.bias.data();
  by_fields.zero_point = -3;
  by_fields.qmin = -3;
  by_fields.qmax = 100;
  const auto by_factory =
      k::Requantize::per_channel(d.multipliers).with_bias(d.bias.data()).with_zero_point(-3).with_clamp(-3, 100);
  EXPECT_EQ(by_factory.multiplier_count, 37);
  EXPECT_TRUE(same_bits(run<std::int8_t, std::int8_t>(k::Isa::scalar, p, w, by_fields),
                        run<std::int8_t, std::int8_t>(k::Isa::scalar, p, w, by_factory)));
  // Per tensor and per channel, fixed point, with the rounding.
  const auto tensor = k::Requantize::per_tensor(d.fixed[0], k::FixedPointRounding::single_rounding);
  EXPECT_EQ(tensor.multiplier_count, 1);
  EXPECT_EQ(tensor.fixed_point_rounding, k::FixedPointRounding::single_rounding);
  EXPECT_EQ(tensor.fixed_point_multipliers, &d.fixed[0]);
  const auto channels = k::Requantize::per_channel(d.fixed.data(), 37);
  EXPECT_EQ(channels.multiplier_count, 37);
  EXPECT_EQ(channels.float_multipliers, nullptr);
  EXPECT_EQ(channels.fixed_point_rounding, k::FixedPointRounding::double_rounding);
  // ReLU is the clamp at the zero point.
  const auto relu = k::Requantize::per_tensor(d.multipliers[0]).with_zero_point(7).with_clamp(7, 127);
  for (std::int8_t v : run<std::int8_t, std::int8_t>(k::Isa::scalar, p, w, relu)) EXPECT_GE(v, 7);
}

TEST(Requantize, MultipliersFromTheScales) {
  const float s_in = 0.0217f, s_out = 0.0931f;
  const std::vector<float> s_w = {0.0012f, 0.5f, 3e-5f, 0.0078125f};
  const auto fm = k::float_multipliers(s_in, s_w.data(), 4, s_out);
  const auto xm = k::fixed_point_multipliers(s_in, s_w.data(), 4, s_out);
  ASSERT_EQ(fm.size(), 4u);
  ASSERT_EQ(xm.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const double real = double(s_in) * double(s_w[i]) / double(s_out);
    EXPECT_EQ(fm[i], static_cast<float>(real));
    const k::FixedPointMultiplier want = k::fixed_point_multiplier(real);
    EXPECT_EQ(xm[i].multiplier, want.multiplier);
    EXPECT_EQ(xm[i].exponent, want.exponent);
    EXPECT_NEAR(std::ldexp(double(xm[i].multiplier), xm[i].exponent - 31), real, real * 1e-9);
  }
  expect_message([&] { k::float_multipliers(0.0f, s_w.data(), 4, s_out); }, "input scale");
  const float bad[2] = {0.5f, -1.0f};
  expect_message([&] { k::fixed_point_multipliers(s_in, bad, 2, s_out); }, "weight scale 1");
}

EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemmIsa);
EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemmRequantizeIsa);
EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemmDequantizeIsa);

}  // namespace
