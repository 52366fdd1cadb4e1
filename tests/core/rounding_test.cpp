#include "eigenq/core/rounding.hpp"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace {

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

TEST(Rounding, HalfToEvenMatchesNearbyintOnTies) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  for (int k = -1000; k <= 1000; ++k) {
    const float x = static_cast<float>(k) + 0.5f;
    EXPECT_EQ(eigenq::round_half_to_even(x), std::nearbyint(x)) << x;
  }
  EXPECT_EQ(eigenq::round_half_to_even(0.5f), 0.0f);
  EXPECT_EQ(eigenq::round_half_to_even(1.5f), 2.0f);
  EXPECT_EQ(eigenq::round_half_to_even(2.5f), 2.0f);
  EXPECT_EQ(eigenq::round_half_to_even(-2.5f), -2.0f);
  EXPECT_EQ(eigenq::round_half_to_even(-3.5f), -4.0f);
}

TEST(Rounding, HalfToEvenMatchesNearbyintOnRandomBitPatterns) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const float x = from_bits(bits(rng));
    if (std::isnan(x)) continue;
    ASSERT_EQ(eigenq::round_half_to_even(x), std::nearbyint(x)) << x;
  }
  // Around 2^22..2^24 where float spacing becomes 0.5 and 1.
  for (float x = 4194300.0f; x < 4194320.0f; x += 0.5f) {
    ASSERT_EQ(eigenq::round_half_to_even(x), std::nearbyint(x)) << x;
  }
  for (float x = 8388600.0f; x < 8388620.0f; x += 1.0f) {
    ASSERT_EQ(eigenq::round_half_to_even(x), std::nearbyint(x)) << x;
  }
}

TEST(Rounding, HalfAwayMatchesStdRound) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    const float x = from_bits(bits(rng));
    if (std::isnan(x)) continue;
    ASSERT_EQ(eigenq::round_half_away_from_zero(x), std::round(x)) << x;
  }
  EXPECT_EQ(eigenq::round_half_away_from_zero(2.5f), 3.0f);
  EXPECT_EQ(eigenq::round_half_away_from_zero(-2.5f), -3.0f);
  // The classic x + 0.5 bug: 0.49999997f must round to 0.
  EXPECT_EQ(eigenq::round_half_away_from_zero(0.49999997f), 0.0f);
  EXPECT_EQ(eigenq::round_half_away_from_zero(2.5), 3.0);
}

TEST(Rounding, DoubleHalfToEven) {
  EXPECT_EQ(eigenq::round_half_to_even(126.5), 126.0);
  EXPECT_EQ(eigenq::round_half_to_even(127.5), 128.0);
  EXPECT_EQ(eigenq::round_half_to_even(-0.5), 0.0);
  EXPECT_EQ(eigenq::round_half_to_even(1e300), 1e300);
}

TEST(Rounding, NonFiniteStayNonFinite) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isnan(eigenq::round_half_to_even(std::nanf(""))));
  EXPECT_EQ(eigenq::round_half_to_even(inf), inf);
  EXPECT_EQ(eigenq::round_half_to_even(-inf), -inf);
  EXPECT_TRUE(std::isnan(eigenq::round_half_away_from_zero(std::nanf(""))));
  EXPECT_EQ(eigenq::round_half_away_from_zero(-inf), -inf);
}

TEST(Rounding, SaturateToIntIsTotal) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(eigenq::saturate_to_int(inf, -128, 127, 3), 127);
  EXPECT_EQ(eigenq::saturate_to_int(-inf, -128, 127, 3), -128);
  EXPECT_EQ(eigenq::saturate_to_int(std::nanf(""), -128, 127, 3), 3);
  EXPECT_EQ(eigenq::saturate_to_int(1e30f, 0, 255, 0), 255);
  EXPECT_EQ(eigenq::saturate_to_int(-5.0f, 0, 255, 0), 0);
  EXPECT_EQ(eigenq::saturate_to_int(42.0f, 0, 255, 0), 42);
}

}  // namespace
