#include "eigenq/calibrate/moving_average.hpp"
#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"

#include "../golden/golden_file.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

std::vector<eigenq_test::GoldenCase> observer_cases() {
  return eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/golden/observers_pytorch.txt");
}

template <class Observer, class Policy>
void check_params(const eigenq_test::GoldenCase& c, const std::string& sfx, const Observer& obs, const Policy& policy) {
  const auto params = obs.params(policy);
  const auto scale = c.floats("scale" + sfx);
  const auto zp = c.ints("zero_point" + sfx);
  ASSERT_EQ(params.size(), scale.size());
  for (std::size_t k = 0; k < params.size(); ++k) {
    EXPECT_EQ(eigenq_test::bits_of(params[k].scale), eigenq_test::bits_of(scale[k])) << c.name << sfx << " group " << k;
    EXPECT_EQ(params[k].zero_point, zp[k]) << c.name << sfx << " group " << k;
  }
}

// PyTorch 1.13's MovingAverage(PerChannel)MinMaxObserver, batch by batch: the running
// min/max and the (scale, zero point) after every batch, bit for bit.
TEST(MovingAverageObserver, BitExactAgainstPyTorchGolden) {
  const auto cases = observer_cases();
  int checked = 0;
  for (const auto& c : cases) {
    if (c.text("kind") != "moving_average") continue;
    const double constant = std::stod(c.text("averaging_constant"));
    const int axis = static_cast<int>(c.integer("axis"));
    const auto shape = c.ints("shape");
    ASSERT_EQ(shape.size(), 2u) << c.name;
    const eigenq::Granularity g = axis < 0 ? eigenq::Granularity(eigenq::PerTensor{})
                                           : eigenq::Granularity(eigenq::PerChannel{axis});
    eigenq::MovingAverageMinMaxObserver obs(g, constant);
    const bool symmetric = c.text("qscheme").find("symmetric") != std::string::npos;
    const std::int64_t batches = c.integer("batches");
    for (std::int64_t b = 0; b < batches; ++b) {
      const std::string sfx = "." + std::to_string(b);
      const auto input = c.floats("input" + sfx);
      using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      const RowMajor x = Eigen::Map<const RowMajor>(input.data(), shape[0], shape[1]);
      obs.observe(x);
      const auto mins = c.floats("observed_min" + sfx);
      const auto maxs = c.floats("observed_max" + sfx);
      ASSERT_EQ(obs.ranges().min.size(), mins.size()) << c.name;
      for (std::size_t k = 0; k < mins.size(); ++k) {
        EXPECT_EQ(eigenq_test::bits_of(obs.ranges().min[k]), eigenq_test::bits_of(mins[k])) << c.name << sfx << " group " << k;
        EXPECT_EQ(eigenq_test::bits_of(obs.ranges().max[k]), eigenq_test::bits_of(maxs[k])) << c.name << sfx << " group " << k;
      }
      if (c.text("dtype") == "quint8") {
        ASSERT_FALSE(symmetric) << c.name;
        check_params(c, sfx, obs, eigenq::Linear<std::uint8_t>::affine());
      } else {
        ASSERT_TRUE(symmetric) << c.name;
        check_params(c, sfx, obs, eigenq::Linear<std::int8_t>::symmetric());
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 60);  // 12 cases x 5 batches
}

// The streaming side of MinMaxObserver against PyTorch's (PerChannel)MinMaxObserver fed the
// same batches (the mm_stream_* cases; the single-batch cases are in golden_linear_test).
TEST(MinMaxObserver, StreamingBitExactAgainstPyTorchGolden) {
  int checked = 0;
  for (const auto& c : observer_cases()) {
    if (c.text("kind") != "minmax_stream") continue;
    const int axis = static_cast<int>(c.integer("axis"));
    const auto shape = c.ints("shape");
    const eigenq::Granularity g = axis < 0 ? eigenq::Granularity(eigenq::PerTensor{})
                                           : eigenq::Granularity(eigenq::PerChannel{axis});
    eigenq::MinMaxObserver obs(g);
    for (std::int64_t b = 0; b < c.integer("batches"); ++b) {
      const std::string sfx = "." + std::to_string(b);
      const auto input = c.floats("input" + sfx);
      obs.observe_view(eigenq::RowMajorView(input.data(), eigenq::Shape{shape[0], shape[1]}));
      const auto mins = c.floats("observed_min" + sfx);
      const auto maxs = c.floats("observed_max" + sfx);
      ASSERT_EQ(obs.ranges().min.size(), mins.size()) << c.name;
      for (std::size_t k = 0; k < mins.size(); ++k) {
        EXPECT_EQ(eigenq_test::bits_of(obs.ranges().min[k]), eigenq_test::bits_of(mins[k])) << c.name << sfx << " group " << k;
        EXPECT_EQ(eigenq_test::bits_of(obs.ranges().max[k]), eigenq_test::bits_of(maxs[k])) << c.name << sfx << " group " << k;
      }
      if (c.text("dtype") == "quint8") check_params(c, sfx, obs, eigenq::Linear<std::uint8_t>::affine());
      else check_params(c, sfx, obs, eigenq::Linear<std::int8_t>::symmetric());
      ++checked;
    }
  }
  EXPECT_EQ(checked, 24);  // 6 cases x 4 batches
}

TEST(MovingAverageObserver, FirstBatchIsMinMaxThenAverages) {
  Eigen::MatrixXf a(2, 3);
  a << -1, 0, 2, 3, -4, 1;
  Eigen::MatrixXf b(2, 3);
  b << 0, 10, 0, 0, 0, 0;
  eigenq::MovingAverageMinMaxObserver obs(eigenq::PerTensor{}, 0.5);
  obs.observe(a);
  eigenq::MinMaxObserver mm;
  mm.observe(a);
  EXPECT_EQ(obs.ranges().min, mm.ranges().min);
  EXPECT_EQ(obs.ranges().max, mm.ranges().max);
  obs.observe(b);
  EXPECT_EQ(obs.ranges().min[0], -2.0f);  // -4 + 0.5 * (0 - -4)
  EXPECT_EQ(obs.ranges().max[0], 6.5f);   // 3 + 0.5 * (10 - 3)
  EXPECT_EQ(obs.batches(), 2);
}

TEST(MovingAverageObserver, ConstantOneKeepsLatestBatch) {
  eigenq::MovingAverageMinMaxObserver obs(eigenq::PerChannel{1}, 1.0);
  obs.observe(Eigen::MatrixXf::Constant(3, 2, 5.0f));
  Eigen::MatrixXf b(3, 2);
  b << 1, -7, 2, 8, 3, 0;
  obs.observe(b);
  EXPECT_EQ(obs.ranges().min, (std::vector<float>{1.0f, -7.0f}));
  EXPECT_EQ(obs.ranges().max, (std::vector<float>{3.0f, 8.0f}));
}

TEST(MovingAverageObserver, RejectsBadConstant) {
  EXPECT_THROW(eigenq::MovingAverageMinMaxObserver(eigenq::PerTensor{}, 0.0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::MovingAverageMinMaxObserver(eigenq::PerTensor{}, 1.5), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::MovingAverageMinMaxObserver(eigenq::PerTensor{}, std::nan("")), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::MovingAverageMinMaxObserver(eigenq::PerGroup{0, 4}), eigenq::InvalidArgument);
}

TEST(MovingAverageObserver, BadBatchesNameTheProblem) {
  eigenq::MovingAverageMinMaxObserver obs(eigenq::PerChannel{1});
  EXPECT_THROW(obs.params(eigenq::Linear<std::int8_t>::symmetric()), eigenq::InvalidArgument);  // no data yet
  Eigen::MatrixXf x = Eigen::MatrixXf::Zero(4, 3);
  obs.observe(x);
  x(2, 1) = std::numeric_limits<float>::quiet_NaN();
  try {
    obs.observe(x);
    FAIL() << "NaN accepted";
  } catch (const eigenq::NonFiniteError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("NaN"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 1]"), std::string::npos) << m;
    EXPECT_NE(m.find("channel 1"), std::string::npos) << m;
  }
  EXPECT_EQ(obs.batches(), 1);  // the bad batch changed nothing
  try {
    obs.observe(Eigen::MatrixXf::Zero(4, 5));
    FAIL() << "channel count change accepted";
  } catch (const eigenq::ShapeError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[4, 5]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  }
  EXPECT_THROW(obs.observe(Eigen::MatrixXf(0, 3)), eigenq::ShapeError);
  obs.observe(Eigen::MatrixXf::Ones(7, 3));  // another batch size is fine
  EXPECT_EQ(obs.batches(), 2);
  obs.reset();
  EXPECT_TRUE(obs.empty());
  obs.observe(Eigen::MatrixXf::Ones(2, 9));  // after reset any shape
  EXPECT_EQ(obs.ranges().min.size(), 9u);
}

}  // namespace
