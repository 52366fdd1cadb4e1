// eigenq/ggml/row.hpp: argument checking and basic behaviour of the two entry points.
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "eigenq/ggml/row.hpp"

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;

TEST(GgmlRow, BadArgumentsThrowNamingTheValue) {
  std::vector<float> x(512, 1.0f), y(512);
  std::vector<std::uint8_t> q(4096);
  const std::string partial = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize_rows(gg::Type::q4_K, x.data(), q.data(), 1, 300, nullptr); });
  EXPECT_NE(partial.find("300"), std::string::npos) << partial;
  EXPECT_NE(partial.find("q4_K"), std::string::npos) << partial;
  const std::string negative = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize_rows(gg::Type::q8_0, x.data(), q.data(), -2, 32, nullptr); });
  EXPECT_NE(negative.find("-2"), std::string::npos) << negative;
  const std::string empty = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize_rows(gg::Type::q8_0, x.data(), q.data(), 1, 0, nullptr); });
  EXPECT_NE(empty.find("row length 0"), std::string::npos) << empty;
  const std::string null_src = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize_rows(gg::Type::q8_0, nullptr, q.data(), 1, 32, nullptr); });
  EXPECT_NE(null_src.find("source is null"), std::string::npos) << null_src;
  const std::string iq2 = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize_rows(gg::Type::iq2_xxs, x.data(), q.data(), 1, 256, x.data()); });
  EXPECT_NE(iq2.find("iq2_xxs is not supported"), std::string::npos) << iq2;
  const std::string unknown = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::dequantize_row(static_cast<gg::Type>(5), q.data(), y.data(), 32); });
  EXPECT_NE(unknown.find("5"), std::string::npos) << unknown;
  const std::string deq = eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::dequantize_row(gg::Type::nvfp4, q.data(), y.data(), 96); });
  EXPECT_NE(deq.find("96"), std::string::npos) << deq;
  EXPECT_THROW(gg::quantize_rows(gg::Type::q8_0, x.data(), q.data(), Index{1} << 60, 32, nullptr),
               eigenq::InvalidArgument);
}

// Built normally and with -march=native (ggml_native_tests): the strict-FP region holds.
TEST(GgmlRow, ThisBuildDoesNotContract) { EXPECT_FALSE(gg::detail::fp_contraction_detected()); }

TEST(GgmlRow, ZeroRowsWriteNothing) {
  EXPECT_EQ(gg::quantize_rows(gg::Type::q4_0, nullptr, nullptr, 0, 32, nullptr), 0);
}

TEST(GgmlRow, ImportanceIsIgnoredWhereGgmlIgnoresIt) {
  std::vector<float> x(256), w(256, 0.0f);
  for (int i = 0; i < 256; ++i) x[i] = std::sin(0.1f * static_cast<float>(i));
  for (const gg::Type t : gg::supported_types()) {
    if (gg::uses_importance(t)) continue;
    const Index n = 256;
    std::vector<std::uint8_t> a(static_cast<std::size_t>(gg::row_size(t, n))), b(a.size());
    gg::quantize_rows(t, x.data(), a.data(), 1, n, nullptr);
    gg::quantize_rows(t, x.data(), b.data(), 1, n, w.data());
    EXPECT_EQ(a, b) << gg::type_name(t);
  }
}

TEST(GgmlRow, RoundTripErrorIsSmallForEveryType) {
  std::vector<float> x(768), y(768);
  for (int i = 0; i < 768; ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * static_cast<float>(1 + i % 5);
  for (const gg::Type t : gg::supported_types()) {
    const Index n = 768 % gg::block_size(t) == 0 ? 768 : 384;
    std::vector<std::uint8_t> q(static_cast<std::size_t>(gg::row_size(t, n)));
    gg::quantize_rows(t, x.data(), q.data(), 1, n, nullptr);
    gg::dequantize_row(t, q.data(), y.data(), n);
    double err = 0, ref = 0;
    for (Index i = 0; i < n; ++i) {
      err += (y[i] - x[i]) * (y[i] - x[i]);
      ref += x[i] * x[i];
    }
    // Ternary and 1-2 bit types have large errors on smooth data; the rest are within 35%.
    const bool coarse = t == gg::Type::tq1_0 || t == gg::Type::tq2_0 || t == gg::Type::q1_0 || t == gg::Type::q2_0;
    EXPECT_LT(std::sqrt(err / ref), coarse ? 1.0 : 0.35) << gg::type_name(t);
  }
}

}  // namespace
