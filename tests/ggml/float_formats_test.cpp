// eigenq/ggml/float_formats.hpp on values whose encoding is known by hand
// (the oracle test compares every fp16 and a dense sweep of floats with ggml).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "eigenq/ggml/float_formats.hpp"

namespace {

namespace gg = eigenq::ggml;

TEST(GgmlFloatFormats, HalfRoundsToNearestEvenAndMakesNaNCanonical) {
  EXPECT_EQ(gg::fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(gg::fp32_to_fp16(-2.0f), 0xC000);
  EXPECT_EQ(gg::fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(gg::fp32_to_fp16(65520.0f), 0x7C00);  // the tie above the largest half rounds to inf
  EXPECT_EQ(gg::fp32_to_fp16(1.0f + 1.0f / 2048), 0x3C00);  // tie to even
  EXPECT_EQ(gg::fp32_to_fp16(1.0f + 3.0f / 2048), 0x3C02);
  EXPECT_EQ(gg::fp32_to_fp16(5.9604645e-08f), 0x0001);  // smallest subnormal half
  EXPECT_EQ(gg::fp32_to_fp16(2.9802322e-08f), 0x0000);  // half of it: tie to even (zero)
  EXPECT_EQ(gg::fp32_to_fp16(std::numeric_limits<float>::quiet_NaN()), 0x7E00);
  EXPECT_EQ(gg::fp32_to_fp16(-std::numeric_limits<float>::quiet_NaN()), 0xFE00);
  EXPECT_EQ(gg::fp16_to_fp32(0x0001), 5.9604645e-08f);
  EXPECT_EQ(gg::fp16_to_fp32(0xFBFF), -65504.0f);
  EXPECT_TRUE(std::isinf(gg::fp16_to_fp32(0x7C00)));
}

TEST(GgmlFloatFormats, Bfloat16) {
  EXPECT_EQ(gg::fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(gg::fp32_to_bf16(gg::float_from_bits(0x3F808000u)), 0x3F80);  // tie to even
  EXPECT_EQ(gg::fp32_to_bf16(gg::float_from_bits(0x3F818000u)), 0x3F82);
  EXPECT_EQ(gg::fp32_to_bf16(gg::float_from_bits(0x7F800001u)), 0x7FC0);  // signalling NaN made quiet
  EXPECT_EQ(gg::bf16_to_fp32(0xC040), -3.0f);
}

TEST(GgmlFloatFormats, MicroscalingScales) {
  EXPECT_EQ(gg::e8m0_to_fp32_half(127), 0.5f);
  EXPECT_EQ(gg::e8m0_to_fp32_half(0), std::ldexp(1.0f, -128));
  EXPECT_EQ(gg::e8m0_to_fp32_half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(gg::ue4m3_to_fp32_half(0x7E), 224.0f);  // 448 halved
  EXPECT_EQ(gg::ue4m3_to_fp32_half(0x38), 0.5f);    // 1.0 halved
  EXPECT_EQ(gg::ue4m3_to_fp32_half(0x01), std::ldexp(1.0f, -10));
  EXPECT_EQ(gg::ue4m3_to_fp32_half(0x7F), 0.0f);
  EXPECT_EQ(gg::fp32_to_ue4m3(1.0f), 0x38);
  EXPECT_EQ(gg::fp32_to_ue4m3(1000.0f), 0x7E);
  EXPECT_EQ(gg::fp32_to_ue4m3(-1.0f), 0);
  EXPECT_EQ(gg::fp32_to_ue4m3(std::numeric_limits<float>::quiet_NaN()), 0);
  // Codes below exponent 15 encode back to themselves; ggml's encoder sends every value of
  // exponent 15 (256..448) to 0x7E (448).
  for (int code = 1; code < 0x7F; ++code) {
    const int expected = code < 0x78 ? code : 0x7E;
    EXPECT_EQ(gg::fp32_to_ue4m3(2 * gg::ue4m3_to_fp32_half(static_cast<std::uint8_t>(code))), expected) << code;
  }
}

}  // namespace
