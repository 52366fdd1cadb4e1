// eigenq/ggml/quantized_rows.hpp: an Eigen matrix quantized to a ggml type holds exactly the
// bytes quantize_rows gives for its rows (any storage order), dequantizes to dequantize_row's
// floats, and checks its arguments.
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "eigenq/ggml/quantized_rows.hpp"

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;
using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

RowMajor gaussian(Index rows, Index cols, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> g;
  RowMajor m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = g(gen);
  return m;
}

bool same_floats(const float* a, const float* b, Index n) { return std::memcmp(a, b, sizeof(float) * n) == 0; }

TEST(GgmlQuantizedRows, BytesAreQuantizeRowsForEveryType) {
  const RowMajor x = gaussian(5, 512, 1);
  std::vector<float> importance(512);
  for (std::size_t i = 0; i < importance.size(); ++i) importance[i] = 0.1f + static_cast<float>(i % 7);
  for (const gg::Type t : gg::supported_types()) {
    SCOPED_TRACE(gg::type_name(t));
    for (const bool weighted : {false, true}) {
      const float* imp = weighted ? importance.data() : nullptr;
      std::vector<std::uint8_t> expected(static_cast<std::size_t>(5 * gg::row_size(t, 512)));
      gg::quantize_rows(t, x.data(), expected.data(), 5, 512, imp);
      // Row-major, column-major and an expression all give the rows' bytes.
      const gg::QuantizedRows a = gg::quantize(t, x, imp);
      const gg::QuantizedRows b = gg::quantize(t, Eigen::MatrixXf(x), imp);
      const gg::QuantizedRows c = weighted ? gg::quantize(t, x * 1.0f, importance) : gg::quantize(t, x * 1.0f);
      EXPECT_EQ(a.bytes(), expected);
      EXPECT_EQ(b.bytes(), expected);
      EXPECT_EQ(c.bytes(), expected);
      EXPECT_EQ(a.type(), t);
      EXPECT_EQ(a.rows(), 5);
      EXPECT_EQ(a.cols(), 512);
      EXPECT_EQ(a.row_bytes(), gg::row_size(t, 512));
      EXPECT_EQ(a.storage_bytes(), expected.size());
      EXPECT_DOUBLE_EQ(a.bits_per_weight(), 8.0 * static_cast<double>(gg::type_size(t)) / static_cast<double>(gg::block_size(t)));
      // Dequantized: dequantize_row of each row, as a matrix in either storage order.
      RowMajor expected_back(5, 512);
      for (Index r = 0; r < 5; ++r) gg::dequantize_row(t, a.row(r), expected_back.data() + 512 * r, 512);
      const RowMajor back_rm = a.dequantize<RowMajor>();
      EXPECT_TRUE(same_floats(back_rm.data(), expected_back.data(), back_rm.size()));
      const Eigen::MatrixXf back_cm = a.dequantize();
      EXPECT_TRUE(same_floats(RowMajor(back_cm).data(), expected_back.data(), back_cm.size()));
      // Rows are independent: one row alone gives its bytes inside the whole.
      const gg::QuantizedRows one = gg::quantize(t, x.row(3), imp);
      EXPECT_EQ(0, std::memcmp(one.row(0), a.row(3), static_cast<std::size_t>(a.row_bytes())));
      // Bytes taken back (e.g. from a GGUF tensor) decode the same.
      const gg::QuantizedRows taken(t, 5, 512, expected);
      EXPECT_TRUE(same_floats(taken.dequantize<RowMajor>().data(), expected_back.data(), 5 * 512));
    }
  }
}

TEST(GgmlQuantizedRows, BadArgumentsThrowNamingTheValues) {
  const RowMajor x = gaussian(2, 96, 2);
  EXPECT_NE(eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize(gg::Type::q4_K, x); }).find("row length 96 is not a multiple of the q4_K block size 256"),
            std::string::npos);
  EXPECT_NE(eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize(gg::Type::q8_0, x, std::vector<float>(32, 1.0f)); })
                .find("32 importance values for rows of 96 elements"),
            std::string::npos);
  EXPECT_NE(eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::quantize(gg::Type::iq2_xxs, gaussian(1, 256, 3)); }).find("iq2_xxs is not supported"),
            std::string::npos);
  EXPECT_NE(eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::QuantizedRows(gg::Type::q8_0, 2, 96, std::vector<std::uint8_t>(100)); })
                .find("take 204 bytes, got 100"),
            std::string::npos);
  EXPECT_NE(eigenq_test::message_of<eigenq::InvalidArgument>([&] { gg::QuantizedRows(gg::Type::q8_0, 1, 32, std::vector<std::uint8_t>(34)).row(1); }).find("row(1) of 1 rows"),
            std::string::npos);
  // An empty matrix (no rows) is fine.
  const gg::QuantizedRows none = gg::quantize(gg::Type::q8_0, RowMajor(0, 64));
  EXPECT_EQ(none.rows(), 0);
  EXPECT_EQ(none.storage_bytes(), 0u);
  EXPECT_EQ(none.dequantize().rows(), 0);
}

}  // namespace
