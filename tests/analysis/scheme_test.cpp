#include "eigenq/analysis/scheme.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cstdint>

namespace {

TEST(QuantScheme, FloatIsIdentityAt32Bits) {
  const eigenq::QuantScheme s = eigenq::float_scheme();
  EXPECT_TRUE(s.is_float());
  Eigen::MatrixXf w = eigenq_test::random_matrix(5, 7, 1);
  const Eigen::MatrixXf before = w;
  s.apply(w);
  EXPECT_EQ(w, before);
  EXPECT_EQ(s.bits_for(w), 32 * 35);
}

// make_scheme fake-quantizes exactly as the Quantizer quantizes and dequantizes, and
// costs exactly the QTensor's storage.
TEST(QuantScheme, MakeSchemeIsTheQuantizer) {
  const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerGroup> q(
      eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 8});
  const eigenq::QuantScheme s = eigenq::make_scheme("int4-g8", q);
  Eigen::MatrixXf w = eigenq_test::random_matrix(6, 20, 2);
  const auto qt = q.quantize(w);
  const Eigen::MatrixXf expected = qt.dequantize<Eigen::MatrixXf>();
  EXPECT_EQ(s.bits_for(w), 8 * static_cast<std::int64_t>(qt.storage_bytes()));
  // 120 codes of 4 bits (60 bytes) + 6 rows x 3 groups of one float scale (72 bytes).
  EXPECT_EQ(s.bits_for(w), 8 * (60 + 18 * 4));
  s.apply(w);
  EXPECT_EQ(w, expected);
  EXPECT_EQ(s.name, "int4-g8");
  EXPECT_FALSE(s.is_float());
}

TEST(QuantScheme, ReadyMadeSchemes) {
  const Eigen::MatrixXf w = eigenq_test::random_matrix(4, 64, 3);
  EXPECT_EQ(eigenq::schemes::int8_per_channel().bits_for(w), 8 * (256 + 4 * 4));
  EXPECT_EQ(eigenq::schemes::int4_per_group(32).bits_for(w), 8 * (128 + 8 * 4));
  EXPECT_EQ(eigenq::schemes::int2_per_group(32).bits_for(w), 8 * (64 + 8 * 4));
  EXPECT_EQ(eigenq::schemes::uint8_per_tensor().bits_for(w), 8 * (256 + 8));
  EXPECT_EQ(eigenq::schemes::linear_per_channel(3).name, "int3-per-channel");
  // Fewer bits, more error.
  double previous = 0.0;
  for (const auto& s : {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(32),
                        eigenq::schemes::int2_per_group(32)}) {
    Eigen::MatrixXf x = w;
    s.apply(x);
    const double err = (x - w).squaredNorm();
    EXPECT_GT(err, previous) << s.name;
    previous = err;
  }
}

}  // namespace
