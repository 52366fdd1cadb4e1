// Tests include/eigenq/policy/exp.hpp: the seed's exponential quantizer.
#include "eigenq/policy/exp.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "eigenq/quantizer/quantizer.hpp"
#include "policy_test_util.hpp"

namespace {

using eigenq::Exp;
using eigenq::Index;
using eigenq_test::Rng;

using eigenq_test::expect_error;

TEST(ExpSeedFormula, BaseTwo) {
  // r in [0, 7] onto [1, 128]: b = 128^(1/7) = 2, q = 2^r.
  const auto e = Exp<std::uint8_t>().with_range(1, 128);
  const auto p = e.fit(0.0f, 7.0f);
  EXPECT_NEAR(e.base(p), 2.0, 1e-12);
  EXPECT_EQ(e.quantize(3.0f, p), 8);
  EXPECT_EQ(e.quantize(0.0f, p), 1);
  EXPECT_EQ(e.quantize(7.0f, p), 128);
  EXPECT_EQ(e.quantize(2.5f, p), 6);  // 2^2.5 = 5.66
  EXPECT_EQ(e.quantize(2.4f, p), 5);  // 2^2.4 = 5.28
  EXPECT_FLOAT_EQ(e.dequantize(8, p), 3.0f);
  EXPECT_FLOAT_EQ(e.dequantize(6, p), static_cast<float>(std::log2(6.0)));
  // Outside the range: saturate; NaN goes to q_min.
  EXPECT_EQ(e.quantize(-5.0f, p), 1);
  EXPECT_EQ(e.quantize(50.0f, p), 128);
  EXPECT_EQ(e.quantize(std::numeric_limits<float>::quiet_NaN(), p), 1);
  EXPECT_EQ(e.quantize(std::numeric_limits<float>::infinity(), p), 128);
}

TEST(ExpSeedFormula, BaseThreeShiftedRange) {
  // r in [1, 3] onto [2, 18]: b = 9^(1/2) = 3, q = 2 * 3^(r - 1).
  const auto e = Exp<std::uint8_t>().with_range(2, 18);
  const auto p = e.fit(1.0f, 3.0f);
  EXPECT_NEAR(e.base(p), 3.0, 1e-12);
  EXPECT_EQ(e.quantize(2.0f, p), 6);
  EXPECT_EQ(e.quantize(1.5f, p), 3);  // 2 sqrt 3 = 3.46
  EXPECT_FLOAT_EQ(e.dequantize(18, p), 3.0f);
  EXPECT_FLOAT_EQ(e.dequantize(2, p), 1.0f);
  // Negative data is fine: the range may have any sign.
  const auto pn = e.fit(-3.0f, -1.0f);
  EXPECT_EQ(e.quantize(-2.0f, pn), 6);
}

TEST(ExpSeedFormula, DefaultsAndBits) {
  EXPECT_EQ(Exp<std::uint8_t>().range().qmin, 1);
  EXPECT_EQ(Exp<std::uint8_t>().range().qmax, 255);
  EXPECT_EQ(Exp<std::uint8_t>().with_bits(4).range().qmax, 15);
  EXPECT_EQ(Exp<std::uint8_t>().with_bits(4).bits(), 4);
  EXPECT_EQ(Exp<std::int8_t>().with_bits(4).range().qmax, 7);
  EXPECT_EQ(Exp<std::int8_t>().with_bits(4).bits(), 4);
  EXPECT_EQ(Exp<std::uint16_t>().with_bits(16).range().qmax, 65535);
  const Exp<std::uint8_t> e;
  const auto p = e.fit(4.0f, 4.0f);  // one value: everything is q_min
  EXPECT_EQ(e.quantize(4.0f, p), 1);
  EXPECT_EQ(e.dequantize(1, p), 4.0f);
  EXPECT_EQ(e.dequantize(0, p), 4.0f);
}

TEST(ExpErrors, QminMustBePositive) {
  expect_error<eigenq::InvalidArgument>([] { Exp<std::uint8_t>().with_range(0, 10); }, {"q_min > 0", "q_min = 0"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::int8_t>().with_range(-3, 10); }, {"q_min = -3"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::uint8_t>().with_range(5, 5); }, {"q_max > q_min"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::uint8_t>().with_range(1, 256); }, {"256"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::uint8_t>().with_bits(9); }, {"bits = 9"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::uint8_t>().with_bits(1); }, {"bits = 1"});
  expect_error<eigenq::InvalidArgument>([] { Exp<std::int8_t>().with_bits(2); }, {"bits = 2", "single positive code"});
  expect_error<eigenq::NonFiniteError>([] { Exp<std::uint8_t>().fit(0.0f, INFINITY); }, {"not finite"});
}

// Fixed points, monotonicity, and rounding to the nearest integer code:
// |q_min * b^(r - r_min) - q| <= 1/2 for r inside the range.
template <class Code>
void check_exp(int bits, std::uint64_t seed) {
  Rng rng(seed);
  const auto e = Exp<Code>().with_bits(bits);
  // Offsets comparable to the width keep adjacent levels distinct floats
  // (16-bit codes are 1.4e-6 widths apart at the top).
  const double width = std::exp(rng.uniform(-3.0, 4.0));
  const double lo = width * rng.uniform(-2.0, 1.0);
  const auto p = e.fit(static_cast<float>(lo), static_cast<float>(lo + width));
  const eigenq::CodeRange r = e.range();
  for (std::int32_t q = r.qmin; q <= r.qmax; ++q) {
    const Code c = static_cast<Code>(q);
    ASSERT_EQ(e.quantize(e.dequantize(c, p), p), c) << "bits " << bits << " code " << q;
  }
  const double b = e.base(p);
  std::vector<float> x(2000);
  for (float& v : x) v = static_cast<float>(rng.uniform(p.r_min, p.r_max));
  std::sort(x.begin(), x.end());
  Code prev = e.quantize(x[0], p);
  for (float v : x) {
    const Code c = e.quantize(v, p);
    ASSERT_GE(c, prev) << "not monotone at " << v;
    prev = c;
    const double exact = r.qmin * std::pow(b, double{v} - p.r_min);
    ASSERT_LE(std::fabs(exact - c), 0.5 + 1e-6) << "r = " << v;
  }
}

TEST(ExpProperties, FixedPointsMonotoneNearestCode) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    for (int bits : {2, 3, 4, 5, 8}) check_exp<std::uint8_t>(bits, seed);
    check_exp<std::int8_t>(6, seed);
    check_exp<std::uint16_t>(12, seed);
  }
  check_exp<std::uint16_t>(16, 3);
}

TEST(ExpProperties, QuantizerCodesAreThePolicyCodes) {
  const auto data = eigenq_test::sample(eigenq_test::Distribution::gaussian, 4 * 3 * 10, 23);
  const eigenq::Shape shape{4, 3, 10};
  const auto e = Exp<std::uint8_t>().with_bits(4);
  for (eigenq::Granularity g : {eigenq::Granularity(eigenq::PerTensor{}),
                                eigenq::Granularity(eigenq::PerChannel{1}),
                                eigenq::Granularity(eigenq::PerGroup{2, 4})}) {
    const eigenq::Quantizer<Exp<std::uint8_t>, eigenq::Granularity> q(e, g);
    const auto qt = eigenq_test::quantize_shaped(q, data, shape);
    const auto codes = qt.unpacked_codes();
    const auto deq = qt.dequantize_flat();
    qt.layout().for_each([&](Index flat, Index pi) {
      const auto& p = qt.params()[static_cast<std::size_t>(pi)];
      ASSERT_EQ(codes[static_cast<std::size_t>(flat)], e.quantize(data[static_cast<std::size_t>(flat)], p));
      ASSERT_EQ(deq[static_cast<std::size_t>(flat)], e.dequantize(codes[static_cast<std::size_t>(flat)], p));
    });
  }
}

}  // namespace
