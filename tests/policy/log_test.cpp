// Tests include/eigenq/policy/log.hpp: Log (the seed's formula), LogSigned, Log2.
#include "eigenq/policy/log.hpp"

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

using eigenq::Index;
using eigenq::Log;
using eigenq::Log2;
using eigenq::LogSigned;
using eigenq_test::Rng;

// Expects `f` to throw E with every fragment in its message.
using eigenq_test::expect_error;

// ---------------------------------------------------------------- Log: closed forms

TEST(LogSeedFormula, BaseTwoOnOneTo256) {
  // [1, 256] onto [0, 8]: b = 256^(1/8) = 2, q = log2(r).
  const auto log = Log<std::uint8_t>().with_range(0, 8);
  const auto p = log.fit(1.0f, 256.0f);
  EXPECT_NEAR(log.base(p), 2.0, 1e-12);
  EXPECT_EQ(log.quantize(16.0f, p), 4);
  EXPECT_EQ(log.quantize(1.0f, p), 0);
  EXPECT_EQ(log.quantize(256.0f, p), 8);
  EXPECT_EQ(log.quantize(10.0f, p), 3);   // log2 10 = 3.32
  EXPECT_EQ(log.quantize(12.0f, p), 4);   // log2 12 = 3.58
  // Rounding is in the log domain: 11.5 is nearer 8 than 16 in value, but
  // log2 11.5 = 3.52 is nearer 4. The log-domain midpoint is sqrt(8 * 16) = 11.31.
  EXPECT_EQ(log.quantize(11.5f, p), 4);
  EXPECT_EQ(log.quantize(11.25f, p), 3);  // log2 11.25 = 3.49
  EXPECT_FLOAT_EQ(log.dequantize(3, p), 8.0f);
  EXPECT_FLOAT_EQ(log.dequantize(5, p), 32.0f);
  EXPECT_FLOAT_EQ(log.dequantize(8, p), 256.0f);
  // Outside the range: saturate.
  EXPECT_EQ(log.quantize(0.5f, p), 0);
  EXPECT_EQ(log.quantize(1000.0f, p), 8);
}

TEST(LogSeedFormula, BaseThreeAndSignedCodes) {
  // [0.5, 40.5] onto [0, 4]: b = 81^(1/4) = 3; r = 4.5 = 0.5 * 3^2 -> q = 2.
  const auto log = Log<std::uint8_t>().with_range(0, 4);
  const auto p = log.fit(0.5f, 40.5f);
  EXPECT_NEAR(log.base(p), 3.0, 1e-12);
  EXPECT_EQ(log.quantize(4.5f, p), 2);
  EXPECT_FLOAT_EQ(log.dequantize(3, p), 13.5f);
  // A signed code range: q_min = -4, so r = 16 in [1, 256] is -4 + 4 = 0.
  const auto slog = Log<std::int8_t>().with_range(-4, 4);
  const auto sp = slog.fit(1.0f, 256.0f);
  EXPECT_EQ(slog.quantize(16.0f, sp), 0);
  EXPECT_EQ(slog.quantize(1.0f, sp), -4);
  EXPECT_FLOAT_EQ(slog.dequantize(-2, sp), 4.0f);
}

TEST(LogSeedFormula, ZeroNegativeNanAndInfSaturate) {
  const auto log = Log<std::uint8_t>().with_bits(4);
  const auto p = log.fit(0.25f, 4.0f);
  EXPECT_EQ(log.quantize(0.0f, p), 0);
  EXPECT_EQ(log.quantize(-3.0f, p), 0);
  EXPECT_EQ(log.quantize(std::numeric_limits<float>::quiet_NaN(), p), 0);
  EXPECT_EQ(log.quantize(std::numeric_limits<float>::infinity(), p), 15);
  EXPECT_EQ(log.quantize(-std::numeric_limits<float>::infinity(), p), 0);
}

TEST(LogSeedFormula, SingleValueRange) {
  const Log<std::uint8_t> log;
  const auto p = log.fit(2.5f, 2.5f);
  EXPECT_EQ(log.quantize(2.5f, p), 0);
  EXPECT_EQ(log.dequantize(0, p), 2.5f);
  EXPECT_EQ(log.dequantize(200, p), 2.5f);
}

// ---------------------------------------------------------------- Log: errors

TEST(LogErrors, NonPositiveDataNamesTheValue) {
  const Log<std::uint8_t> log;
  expect_error<eigenq::InvalidArgument>([&] { log.fit(0.0f, 1.0f); }, {"r_min = 0", "positive"});
  expect_error<eigenq::InvalidArgument>([&] { log.fit(-1.5f, 1.0f); }, {"r_min = -1.5"});
  expect_error<eigenq::NonFiniteError>([&] { log.fit(std::nanf(""), 1.0f); }, {"not finite"});
  // Through the quantizer the message also says which channel.
  eigenq_test::RowMatrix w(2, 3);
  w << 1, 2, 3, 4, 0, 6;
  const eigenq::Quantizer q(log, eigenq::PerChannel{0});
  expect_error<eigenq::InvalidArgument>([&] { q.quantize(w); }, {"r_min = 0", "channel 1 of axis 0"});
}

TEST(LogErrors, BitsAndRanges) {
  expect_error<eigenq::InvalidArgument>([] { Log<std::uint8_t>().with_bits(9); }, {"bits = 9"});
  expect_error<eigenq::InvalidArgument>([] { Log<std::uint8_t>().with_bits(1); }, {"bits = 1"});
  expect_error<eigenq::InvalidArgument>([] { Log<std::uint16_t>().with_bits(17); }, {"bits = 17"});
  expect_error<eigenq::InvalidArgument>([] { Log<std::uint8_t>().with_range(3, 3); }, {"q_max > q_min"});
  expect_error<eigenq::InvalidArgument>([] { Log<std::uint8_t>().with_range(0, 300); }, {"300"});
  expect_error<eigenq::InvalidArgument>([] { LogSigned<std::int8_t>().with_bits(9); }, {"bits = 9"});
  expect_error<eigenq::InvalidArgument>([] { LogSigned<std::int8_t>().with_octaves(-1); }, {"octaves = -1"});
  expect_error<eigenq::InvalidArgument>([] { LogSigned<std::int8_t>().with_octaves(0); }, {"octaves = 0"});
  expect_error<eigenq::InvalidArgument>([] { Log2<std::int8_t>().with_bits(9); }, {"bits = 9"});
  expect_error<eigenq::InvalidArgument>([] { Log2<std::int16_t>().with_bits(12); }, {"bits = 12"});
  expect_error<eigenq::InvalidArgument>([] { Log2<std::int8_t>().with_bits(1); }, {"bits = 1"});
  EXPECT_EQ(Log<std::uint16_t>().with_bits(16).range().qmax, 65535);
}

// ---------------------------------------------------------------- Log: properties

// Every code is a fixed point, codes are monotone in r, and the relative
// error inside the range is at most sqrt(b) - 1: rounding moves q by at most
// 1/2 in the log domain, so r_hat / r lies in [b^-1/2, b^1/2].
template <class Code>
void check_log_properties(int bits, std::uint64_t seed) {
  Rng rng(seed);
  const auto log = Log<Code>().with_bits(bits);
  const double lo = std::exp(rng.uniform(-6.0, 3.0));
  const double ratio = std::exp(rng.uniform(std::log(2.0), 12.0));
  const auto p = log.fit(static_cast<float>(lo), static_cast<float>(lo * ratio));
  const eigenq::CodeRange r = log.range();
  for (std::int32_t q = r.qmin; q <= r.qmax; ++q) {
    const Code c = static_cast<Code>(q);
    ASSERT_EQ(log.quantize(log.dequantize(c, p), p), c) << "bits " << bits << " code " << q;
  }
  const double bound = std::sqrt(log.base(p)) - 1.0;
  std::vector<float> x(2000);
  for (float& v : x) v = static_cast<float>(std::exp(rng.uniform(std::log(double{p.r_min}), std::log(double{p.r_max}))));
  x[0] = p.r_min;
  x[1] = p.r_max;
  std::sort(x.begin(), x.end());
  Code prev = log.quantize(x[0], p);
  for (float v : x) {
    const Code c = log.quantize(v, p);
    ASSERT_GE(c, prev) << "not monotone at " << v;
    prev = c;
    const double rel = std::fabs(double{log.dequantize(c, p)} - v) / v;
    ASSERT_LE(rel, bound * (1 + 1e-6) + 1e-6) << "r = " << v << " bits " << bits;
  }
}

TEST(LogProperties, FixedPointsMonotoneRelativeErrorBound) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    for (int bits : {2, 3, 4, 5, 8}) check_log_properties<std::uint8_t>(bits, seed);
    for (int bits : {3, 8}) check_log_properties<std::int8_t>(bits, seed);
    check_log_properties<std::uint16_t>(12, seed);
  }
  check_log_properties<std::uint16_t>(16, 99);
}

TEST(LogProperties, QuantizerCodesAreThePolicyCodes) {
  // The bulk run path and the per-element path agree, for every granularity.
  const auto data = eigenq_test::sample(eigenq_test::Distribution::lognormal, 6 * 50, 17);
  const eigenq::Shape shape{6, 50};
  const auto log = Log<std::uint8_t>().with_bits(5);
  for (eigenq::Granularity g : {eigenq::Granularity(eigenq::PerTensor{}),
                                eigenq::Granularity(eigenq::PerChannel{1}),
                                eigenq::Granularity(eigenq::PerGroup{1, 16})}) {
    const eigenq::Quantizer<Log<std::uint8_t>, eigenq::Granularity> q(log, g);
    const auto qt = eigenq_test::quantize_shaped(q, data, shape);
    const auto codes = qt.unpacked_codes();
    const auto deq = qt.dequantize_flat();
    qt.layout().for_each([&](Index flat, Index pi) {
      const auto& p = qt.params()[static_cast<std::size_t>(pi)];
      ASSERT_EQ(codes[static_cast<std::size_t>(flat)], log.quantize(data[static_cast<std::size_t>(flat)], p));
      ASSERT_EQ(deq[static_cast<std::size_t>(flat)], log.dequantize(codes[static_cast<std::size_t>(flat)], p));
    });
  }
}

// ---------------------------------------------------------------- LogSigned

TEST(LogSigned, ClosedFormFourBits) {
  // 4 bits: M = 7 magnitudes; 6 octaves: beta = 2, levels 1/64 .. 1.
  const auto ls = LogSigned<std::int8_t>().with_bits(4).with_octaves(6);
  const auto p = ls.fit(-1.0f, 0.5f);
  EXPECT_EQ(p.m_max, 1.0f);
  EXPECT_EQ(p.m_min, 1.0f / 64);
  EXPECT_NEAR(ls.base(p), 2.0, 1e-12);
  EXPECT_EQ(ls.range().qmin, -7);
  EXPECT_EQ(ls.range().qmax, 7);
  EXPECT_EQ(ls.quantize(-0.25f, p), -5);   // 2^(5 - 7)
  EXPECT_EQ(ls.quantize(1.0f, p), 7);
  EXPECT_EQ(ls.quantize(-3.0f, p), -7);    // saturates
  EXPECT_EQ(ls.quantize(0.0f, p), 0);
  EXPECT_EQ(ls.quantize(-0.0f, p), 0);
  EXPECT_EQ(ls.quantize(0.0075f, p), 0);   // below m_min / 2 = 1/128
  EXPECT_EQ(ls.quantize(0.008f, p), 1);    // nearer 1/64 than 0
  EXPECT_EQ(ls.quantize(-0.012f, p), -1);
  // Log-domain rounding between 0.25 and 0.5: midpoint sqrt(0.125) = 0.3536.
  EXPECT_EQ(ls.quantize(0.36f, p), 6);     // linear rounding would give 0.25
  EXPECT_EQ(ls.quantize(0.35f, p), 5);
  EXPECT_FLOAT_EQ(ls.dequantize(-5, p), -0.25f);
  EXPECT_FLOAT_EQ(ls.dequantize(1, p), 1.0f / 64);
  EXPECT_EQ(ls.dequantize(0, p), 0.0f);
  EXPECT_FLOAT_EQ(ls.dequantize(-8, p), -1.0f);  // the unused code clamps to -M
}

TEST(LogSigned, DefaultDynamicRange) {
  EXPECT_EQ(LogSigned<std::int8_t>().with_bits(3).octaves(), 2.0);   // M = 3: base 2
  EXPECT_EQ(LogSigned<std::int8_t>().with_bits(4).octaves(), 6.0);   // M = 7: base 2
  EXPECT_EQ(LogSigned<std::int8_t>().with_bits(8).octaves(), 16.0);  // capped at 2^16
  EXPECT_EQ(LogSigned<std::int16_t>().octaves(), 16.0);
  const auto ls = LogSigned<std::int8_t>();
  const auto p = ls.fit(-2.0f, 1.0f);
  EXPECT_EQ(p.m_max, 2.0f);
  EXPECT_EQ(p.m_min, 2.0f / 65536);
}

TEST(LogSigned, TwoBitsIsTernary) {
  const auto ls = LogSigned<std::int8_t>().with_bits(2);
  const auto p = ls.fit(-0.8f, 0.6f);
  EXPECT_EQ(ls.quantize(0.39f, p), 0);
  EXPECT_EQ(ls.quantize(0.41f, p), 1);
  EXPECT_EQ(ls.quantize(-0.5f, p), -1);
  EXPECT_FLOAT_EQ(ls.dequantize(-1, p), -0.8f);
}

TEST(LogSigned, AllZeroTensor) {
  const eigenq_test::RowMatrix z = eigenq_test::RowMatrix::Zero(3, 4);
  const auto qt = eigenq::quantize(z, LogSigned<std::int8_t>().with_bits(4));
  for (auto c : qt.unpacked_codes()) EXPECT_EQ(c, 0);
  for (float v : qt.dequantize_flat()) EXPECT_EQ(v, 0.0f);
}

// Fixed points, symmetry, monotonicity; relative error <= sqrt(beta) - 1 on
// [m_min, m_max], absolute error <= m_min / 2 below m_min.
template <class Code>
void check_log_signed(int bits, std::uint64_t seed) {
  Rng rng(seed);
  const double scale = std::exp(rng.uniform(-8.0, 8.0));
  auto ls = LogSigned<Code>().with_bits(bits);
  if (seed % 2) ls.with_octaves(rng.uniform(1.0, 20.0));
  const auto p = ls.fit(static_cast<float>(-scale * rng.uniform(0.1, 1.0)), static_cast<float>(scale));
  const std::int32_t m = ls.magnitude_codes();
  for (std::int32_t q = -m; q <= m; ++q) {
    const Code c = static_cast<Code>(q);
    ASSERT_EQ(ls.quantize(ls.dequantize(c, p), p), c) << "bits " << bits << " code " << q;
    ASSERT_EQ(ls.dequantize(static_cast<Code>(-q), p), -ls.dequantize(c, p));
  }
  const double beta_bound = std::sqrt(ls.base(p)) - 1.0;
  std::vector<float> x(3000);
  for (float& v : x) {
    const double mag = std::exp(rng.uniform(std::log(double{p.m_min}) - 3.0, std::log(double{p.m_max})));
    v = static_cast<float>(rng.open01() < 0.5 ? -mag : mag);
  }
  std::sort(x.begin(), x.end());
  Code prev = ls.quantize(x[0], p);
  for (float v : x) {
    const Code c = ls.quantize(v, p);
    ASSERT_GE(c, prev) << "not monotone at " << v;
    prev = c;
    ASSERT_EQ(ls.quantize(-v, p), -c);
    const double a = std::fabs(double{v});
    const double err = std::fabs(double{ls.dequantize(c, p)} - v);
    if (a >= p.m_min) {
      ASSERT_LE(err / a, beta_bound * (1 + 1e-6) + 1e-6) << "r = " << v;
    } else {
      ASSERT_LE(err, 0.5 * p.m_min * (1 + 1e-6)) << "r = " << v;
    }
  }
}

TEST(LogSigned, Properties) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    for (int bits : {2, 3, 4, 6, 8}) check_log_signed<std::int8_t>(bits, seed);
    check_log_signed<std::int16_t>(12, seed);
  }
  check_log_signed<std::int16_t>(16, 7);
}

// ---------------------------------------------------------------- Log2

TEST(Log2, ClosedFormFourBits) {
  // m_max = 3: e_max = round(log2 3 = 1.58) = 2; M = 7 levels 2^-4 .. 2^2.
  const auto l2 = Log2<std::int8_t>().with_bits(4);
  const auto p = l2.fit(-3.0f, 1.0f);
  EXPECT_EQ(p.max_exponent, 2);
  EXPECT_EQ(l2.quantize(3.0f, p), 7);
  EXPECT_EQ(l2.dequantize(7, p), 4.0f);
  EXPECT_EQ(l2.quantize(-0.3f, p), -3);  // log2 0.3 = -1.74 -> -2: code -2 + 4 + 1
  EXPECT_EQ(l2.dequantize(-3, p), -0.25f);
  EXPECT_EQ(l2.quantize(0.02f, p), 0);   // below 2^-5, half the smallest level
  EXPECT_EQ(l2.quantize(0.04f, p), 1);
  EXPECT_EQ(l2.dequantize(1, p), 0.0625f);
  EXPECT_EQ(l2.exponent(1, p), -4);
  EXPECT_EQ(l2.exponent(-7, p), 2);
  // 2^(k + 1/2) is the log-domain midpoint: 1.41 -> 1, 1.42 -> 2.
  EXPECT_EQ(l2.dequantize(l2.quantize(1.41f, p), p), 1.0f);
  EXPECT_EQ(l2.dequantize(l2.quantize(1.42f, p), p), 2.0f);
  EXPECT_EQ(l2.param_bytes(p), 1u);
}

TEST(Log2, MultiplyIsAShift) {
  Rng rng(11);
  for (int bits : {2, 3, 4, 8}) {
    const auto l2 = Log2<std::int8_t>().with_bits(bits);
    for (int trial = 0; trial < 20; ++trial) {
      const auto p = l2.fit(static_cast<float>(-rng.uniform(0.01, 100.0)), static_cast<float>(rng.uniform(0.01, 100.0)));
      const std::int32_t m = l2.magnitude_codes();
      for (std::int32_t q = -m; q <= m; ++q) {
        const auto c = static_cast<std::int8_t>(q);
        const float w = l2.dequantize(c, p);
        if (q != 0) {
          ASSERT_EQ(std::fabs(w), std::ldexp(1.0f, l2.exponent(c, p)));
        }
        const float x = static_cast<float>(rng.gaussian() * 10.0);
        ASSERT_EQ(l2.multiply(x, c, p), x * w) << "x " << x << " code " << q;
      }
    }
  }
}

TEST(Log2, Properties) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    Rng rng(seed);
    for (int bits : {2, 3, 4, 5, 8}) {
      const auto l2 = Log2<std::int8_t>().with_bits(bits);
      // Scales keep every level a float (8 bits reach 126 octaves below the max).
      const double scale = std::exp(rng.uniform(-8.0, 8.0));
      const auto p = l2.fit(static_cast<float>(-scale), static_cast<float>(scale * rng.uniform(0.0, 1.0)));
      const std::int32_t m = l2.magnitude_codes();
      for (std::int32_t q = -m; q <= m; ++q) {
        const auto c = static_cast<std::int8_t>(q);
        ASSERT_EQ(l2.quantize(l2.dequantize(c, p), p), c);
      }
      // Relative error <= sqrt(2) - 1 between the smallest and largest level.
      const double lo = std::max(std::ldexp(1.0, p.max_exponent - m + 1), std::ldexp(1.0, -100));
      const double hi = std::ldexp(1.0, p.max_exponent);
      std::vector<float> x(500);
      for (float& v : x) v = static_cast<float>((rng.open01() < 0.5 ? -1 : 1) * std::exp(rng.uniform(std::log(lo), std::log(hi))));
      std::sort(x.begin(), x.end());
      std::int8_t prev = l2.quantize(x[0], p);
      for (float v : x) {
        const std::int8_t c = l2.quantize(v, p);
        ASSERT_GE(c, prev);
        prev = c;
        ASSERT_LE(std::fabs(double{l2.dequantize(c, p)} - v) / std::fabs(v), std::sqrt(2.0) - 1 + 1e-6);
      }
    }
  }
}

TEST(Log2, ExponentStaysInOneByte) {
  const Log2<std::int8_t> l2;
  EXPECT_EQ(l2.fit(0.0f, 3.4e38f).max_exponent, 127);  // log2 = 127.99 rounds to 128: clamped
  EXPECT_TRUE(std::isfinite(l2.dequantize(127, l2.fit(0.0f, 3.4e38f))));
  EXPECT_EQ(l2.fit(0.0f, 1e-45f).max_exponent, -128);
  EXPECT_EQ(l2.fit(0.0f, 0.0f).max_exponent, 0);
  const auto p = l2.fit(0.0f, 0.0f);
  EXPECT_EQ(l2.quantize(0.0f, p), 0);
  EXPECT_EQ(l2.quantize(std::numeric_limits<float>::quiet_NaN(), p), 0);
}

}  // namespace
