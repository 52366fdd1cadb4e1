#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cmath>
#include <cstdint>
#include <string>

namespace {

TEST(MinMaxObserver, StreamingEqualsOneShot) {
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(4, 6);
  Eigen::MatrixXf b = 3.0f * Eigen::MatrixXf::Random(4, 6);
  Eigen::MatrixXf both(8, 6);
  both << a, b;
  eigenq::MinMaxObserver streaming;
  streaming.observe(a);
  streaming.observe(b);
  EXPECT_EQ(streaming.batches(), 2);
  EXPECT_EQ(streaming.ranges().min[0], both.minCoeff());
  EXPECT_EQ(streaming.ranges().max[0], both.maxCoeff());
  const auto pol = eigenq::Linear<std::uint8_t>::affine();
  EXPECT_EQ(streaming.params(pol)[0], pol.fit(both.minCoeff(), both.maxCoeff()));
}

TEST(MinMaxObserver, PerChannelOnEitherAxis) {
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(3, 5);
  eigenq::MinMaxObserver rows(eigenq::PerChannel{0});
  rows.observe(a);
  ASSERT_EQ(rows.ranges().min.size(), 3u);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(rows.ranges().min[static_cast<std::size_t>(r)], a.row(r).minCoeff());
    EXPECT_EQ(rows.ranges().max[static_cast<std::size_t>(r)], a.row(r).maxCoeff());
  }
  eigenq::MinMaxObserver cols(eigenq::PerChannel{-1});
  cols.observe(a);
  ASSERT_EQ(cols.ranges().min.size(), 5u);
  for (int c = 0; c < 5; ++c) EXPECT_EQ(cols.ranges().max[static_cast<std::size_t>(c)], a.col(c).maxCoeff());
  // Rank-3 tensor, channels on the middle axis.
  Eigen::Tensor<float, 3> t(2, 3, 4);
  t.setRandom();
  eigenq::MinMaxObserver mid(eigenq::PerChannel{1});
  mid.observe(t);
  for (int c = 0; c < 3; ++c) {
    float hi = -1e30f;
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 4; ++k) hi = std::max(hi, t(i, c, k));
    EXPECT_EQ(mid.ranges().max[static_cast<std::size_t>(c)], hi);
  }
}

TEST(MinMaxObserver, BadBatchesGetClearErrors) {
  eigenq::MinMaxObserver obs(eigenq::PerChannel{0});
  EXPECT_THROW(obs.params(eigenq::Linear<std::int8_t>::affine()), eigenq::InvalidArgument);
  obs.observe(Eigen::MatrixXf::Random(3, 4).eval());
  try {
    obs.observe(Eigen::MatrixXf::Random(5, 4).eval());
    FAIL();
  } catch (const eigenq::ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("batch 1"), std::string::npos) << m;
    EXPECT_NE(m.find("5 channels"), std::string::npos) << m;
  }
  Eigen::MatrixXf bad = Eigen::MatrixXf::Random(3, 4);
  bad(1, 2) = std::nanf("");
  try {
    obs.observe(bad);
    FAIL();
  } catch (const eigenq::NonFiniteError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("NaN"), std::string::npos) << m;
    EXPECT_NE(m.find("[1, 2]"), std::string::npos) << m;
    EXPECT_NE(m.find("channel 1"), std::string::npos) << m;
  }
  EXPECT_THROW(obs.observe(Eigen::MatrixXf(0, 4)), eigenq::ShapeError);
  EXPECT_EQ(obs.batches(), 1) << "failed batches are not counted";
  EXPECT_THROW(eigenq::MinMaxObserver(eigenq::PerGroup{0, 4}), eigenq::InvalidArgument);
}

}  // namespace
