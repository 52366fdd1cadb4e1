#include "eigenq/analysis/metrics.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cmath>
#include <limits>
#include <string>

namespace {

// Reference [3, 4], reconstruction [3, 3]: error [0, 1].
TEST(ErrorMetrics, HandComputedValues) {
  Eigen::RowVector2f r(3.0f, 4.0f);
  Eigen::RowVector2f x(3.0f, 3.0f);
  const auto e = eigenq::compare(r, x);
  EXPECT_EQ(e.count, 2);
  EXPECT_DOUBLE_EQ(e.mse, 0.5);
  EXPECT_DOUBLE_EQ(e.rmse, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(e.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(e.mean_abs, 0.5);
  EXPECT_DOUBLE_EQ(e.sqnr_db, 10.0 * std::log10(25.0 / 1.0));  // signal 9 + 16, noise 1
  EXPECT_DOUBLE_EQ(e.cosine, 21.0 / (5.0 * std::sqrt(18.0)));
}

// A known error of SQNR exactly 20 dB: noise power 1/100 of the signal.
TEST(ErrorMetrics, SqnrOfKnownNoiseIsExact) {
  Eigen::MatrixXf r = Eigen::MatrixXf::Constant(10, 10, 2.0f);  // signal 400
  Eigen::MatrixXf x = r;
  x(0, 0) += 2.0f;  // noise 4 -> ratio 100
  const auto e = eigenq::compare(r, x);
  EXPECT_DOUBLE_EQ(e.sqnr_db, 20.0);
  EXPECT_DOUBLE_EQ(e.mse, 0.04);
  EXPECT_DOUBLE_EQ(e.max_abs, 2.0);
}

TEST(ErrorMetrics, PerfectAndDegenerateCases) {
  const Eigen::MatrixXf r = Eigen::MatrixXf::Random(4, 5);
  const auto same = eigenq::compare(r, r);
  EXPECT_EQ(same.mse, 0.0);
  EXPECT_TRUE(std::isinf(same.sqnr_db) && same.sqnr_db > 0);
  EXPECT_DOUBLE_EQ(same.cosine, 1.0);
  EXPECT_NE(same.to_json().find("\"sqnr_db\":null"), std::string::npos) << same.to_json();
  EXPECT_NE(same.to_row().find(" inf "), std::string::npos) << same.to_row();
  const Eigen::MatrixXf zero = Eigen::MatrixXf::Zero(4, 5);
  const auto from_zero = eigenq::compare(zero, r);
  EXPECT_TRUE(std::isinf(from_zero.sqnr_db) && from_zero.sqnr_db < 0);
  EXPECT_EQ(from_zero.cosine, 0.0);
  EXPECT_EQ(eigenq::compare(zero, zero).cosine, 1.0);
  EXPECT_DOUBLE_EQ(eigenq::compare(r, (-r).eval()).cosine, -1.0);
}

TEST(ErrorMetrics, AnyLayoutAndTensors) {
  Eigen::Matrix<float, 3, 4, Eigen::RowMajor> a;
  a.setRandom();
  const Eigen::MatrixXf b = a;  // column-major copy of the same logical matrix
  EXPECT_EQ(eigenq::compare(a, b).mse, 0.0);
  Eigen::Tensor<float, 3> t(2, 3, 4);
  t.setRandom();
  Eigen::Tensor<float, 3> u = t + t.constant(0.5f);
  const auto e = eigenq::compare(t, u);
  EXPECT_EQ(e.count, 24);
  EXPECT_NEAR(e.mse, 0.25, 1e-12);
  EXPECT_NEAR(e.max_abs, 0.5, 1e-6);
}

TEST(ErrorMetrics, PerChannelOnEachAxis) {
  Eigen::MatrixXf r(2, 3);
  r << 1, 2, 3, 4, 5, 6;
  Eigen::MatrixXf x = r;
  x(0, 1) += 1.0f;
  x(1, 2) -= 2.0f;
  const auto rows = eigenq::compare_per_channel(r, x, 0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].mse, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(rows[1].mse, 4.0 / 3.0);
  const auto cols = eigenq::compare_per_channel(r, x, -1);
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(cols[0].mse, 0.0);
  EXPECT_DOUBLE_EQ(cols[1].mse, 0.5);
  EXPECT_DOUBLE_EQ(cols[2].mse, 2.0);
  EXPECT_DOUBLE_EQ(cols[2].sqnr_db, 10.0 * std::log10((9.0 + 36.0) / 4.0));
  // The channels together are the whole.
  const auto whole = eigenq::compare(r, x);
  EXPECT_DOUBLE_EQ(whole.mse, (rows[0].mse * 3 + rows[1].mse * 3) / 6.0);
  EXPECT_THROW(eigenq::compare_per_channel(r, x, 2), eigenq::ShapeError);
}

TEST(ErrorMetrics, ErrorsNameShapesAndValues) {
  try {
    eigenq::compare(Eigen::MatrixXf::Zero(2, 3), Eigen::MatrixXf::Zero(3, 2));
    FAIL();
  } catch (const eigenq::ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 2]"), std::string::npos) << m;
  }
  Eigen::MatrixXf bad = Eigen::MatrixXf::Zero(2, 2);
  bad(1, 0) = std::numeric_limits<float>::quiet_NaN();
  try {
    eigenq::compare(Eigen::MatrixXf::Zero(2, 2), bad);
    FAIL();
  } catch (const eigenq::NonFiniteError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("reconstruction"), std::string::npos) << m;
    EXPECT_NE(m.find("[1, 0]"), std::string::npos) << m;
  }
  EXPECT_THROW(eigenq::compare(Eigen::MatrixXf(0, 2), Eigen::MatrixXf(0, 2)), eigenq::ShapeError);
}

TEST(ErrorMetrics, TableRowAndJson) {
  Eigen::RowVector2f r(3.0f, 4.0f);
  Eigen::RowVector2f x(3.0f, 3.0f);
  const auto e = eigenq::compare(r, x);
  const std::string header = eigenq::ErrorMetrics::table_header("tensor");
  const std::string row = e.to_row("w");
  EXPECT_EQ(header.size(), row.size());  // columns line up
  EXPECT_NE(row.find("13.98"), std::string::npos) << row;  // 10 log10(25)
  EXPECT_EQ(e.to_json().substr(0, 11), "{\"mse\":0.5,");
  EXPECT_NE(e.to_json().find("\"count\":2}"), std::string::npos);
}

}  // namespace
