#include "eigenq/analysis/scheme.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/quantizer.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <vector>

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

// Non-linear and data-fitted policies plug in the same way.
TEST(QuantScheme, LogAndCodebookPolicies) {
  const Eigen::MatrixXf w = eigenq_test::random_matrix(8, 40, 4);
  const eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerChannel> cb(
      eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0});
  const eigenq::Quantizer<eigenq::LogSigned<std::int8_t>, eigenq::PerChannel> lg(
      eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0});
  const eigenq::QuantScheme cs = eigenq::make_scheme("codebook3", cb);
  const eigenq::QuantScheme ls = eigenq::make_scheme("log4", lg);
  Eigen::MatrixXf a = w, b = w;
  cs.apply(a);
  ls.apply(b);
  EXPECT_EQ(a, cb.quantize(w).dequantize<Eigen::MatrixXf>());
  EXPECT_EQ(b, lg.quantize(w).dequantize<Eigen::MatrixXf>());
  EXPECT_EQ(cs.bits_for(w), 8 * static_cast<std::int64_t>(cb.quantize(w).storage_bytes()));
  // The packed 3-bit codes + each row's float centroids (at most 8).
  std::int64_t centroid_bytes = 0;
  const auto cq = cb.quantize(w);
  EXPECT_LE(cq.codes().bytes(), 160u);  // at most a nibble per code
  for (const auto& p : cq.params()) {
    EXPECT_LE(p.centroids.size(), 8u);
    centroid_bytes += 4 * static_cast<std::int64_t>(p.centroids.size());
  }
  EXPECT_EQ(cs.bits_for(w), 8 * (static_cast<std::int64_t>(cq.codes().bytes()) + centroid_bytes));
  EXPECT_EQ(ls.bits_for(w), 8 * static_cast<std::int64_t>(lg.quantize(w).storage_bytes()));
  for (Eigen::Index r = 0; r < w.rows(); ++r) {  // at most 8 distinct values per row
    std::vector<float> v;
    for (Eigen::Index c = 0; c < w.cols(); ++c) v.push_back(a(r, c));
    std::sort(v.begin(), v.end());
    EXPECT_LE(std::unique(v.begin(), v.end()) - v.begin(), 8);
  }
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
