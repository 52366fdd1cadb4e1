#include "eigenq/nn/convert.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;

Sequential small_mlp(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  auto layer = [&](Index in, Index out) {
    Eigen::MatrixXf w(out, in);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
    Eigen::VectorXf b(out);
    for (Index i = 0; i < b.size(); ++i) b[i] = 0.1f * g(rng);
    return eigenq::nn::Linear(w, b);
  };
  Sequential m;
  m.add(layer(64, 96)).add(eigenq::nn::ReLU()).add(layer(96, 64)).add(eigenq::nn::ReLU()).add(layer(64, 10));
  return m;
}

std::vector<Matrix> batches(int count, Index rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<Matrix> out;
  for (int b = 0; b < count; ++b) {
    Matrix x(rows, 64);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
    out.push_back(x);
  }
  return out;
}

double sqnr_db(const Matrix& ref, const Matrix& y) {
  return 10.0 * std::log10(ref.squaredNorm() / (y - ref).squaredNorm());
}

TEST(Convert, DynamicReplacesEveryLinear) {
  const Sequential m = small_mlp(1);
  const Sequential q = eigenq::nn::quantize_dynamic(m);
  ASSERT_EQ(q.size(), m.size());
  EXPECT_EQ(q[0].kind(), "DynamicLinear");
  EXPECT_EQ(q[1].kind(), "ReLU");
  EXPECT_EQ(q[4].kind(), "DynamicLinear");
  const Matrix x = batches(1, 32, 2)[0];
  EXPECT_GT(sqnr_db(m(x), q(x)), 30.0);
  EXPECT_LT(q.weight_bytes(), m.weight_bytes() / 3);
  EXPECT_EQ(q.weight_count(), m.weight_count());
}

TEST(Convert, StaticIsFullIntegerAndCalibrated) {
  const Sequential m = small_mlp(3);
  const auto calib = batches(8, 32, 4);
  for (auto cal : {eigenq::nn::Calibration::minmax, eigenq::nn::Calibration::percentile,
                   eigenq::nn::Calibration::mse, eigenq::nn::Calibration::kl}) {
    eigenq::nn::StaticQuantOptions o;
    o.calibration = cal;
    const Sequential q = eigenq::nn::quantize_static(m, calib, o);
    ASSERT_EQ(q.size(), 3u) << "ReLUs are fused";
    EXPECT_TRUE(q.integer_io());
    const auto& first = dynamic_cast<const eigenq::nn::StaticLinear&>(q[0]);
    const auto& second = dynamic_cast<const eigenq::nn::StaticLinear&>(q[1]);
    EXPECT_TRUE(first.relu());
    EXPECT_FALSE(dynamic_cast<const eigenq::nn::StaticLinear&>(q[2]).relu());
    // Boundaries chain: a layer's output parameters are the next one's input.
    EXPECT_EQ(first.output_params(), second.input_params());
    const Matrix x = batches(1, 32, 5)[0];
    std::printf("calibration %d: output SQNR %.1f dB\n", static_cast<int>(cal), sqnr_db(m(x), q(x)));
    // KL (TensorRT's method) clips the mixed-sign logits hard on this toy data.
    const double floor_db = cal == eigenq::nn::Calibration::kl ? 12.0 : 30.0;
    EXPECT_GT(sqnr_db(m(x), q(x)), floor_db) << static_cast<int>(cal);
  }
  // The min-max input boundary covers the calibration data: inputs in [0, 1].
  const Sequential q = eigenq::nn::quantize_static(m, calib);
  const auto in = dynamic_cast<const eigenq::nn::StaticLinear&>(q[0]).input_params();
  EXPECT_NEAR(in.scale, 1.0f / 255.0f, 1e-4f);
  EXPECT_EQ(in.zero_point, -128);
}

TEST(Convert, StaticRejectsWhatItCannotConvert) {
  EXPECT_THROW(eigenq::nn::quantize_static(small_mlp(1), {}), eigenq::InvalidArgument);
  Sequential starts_with_relu;
  starts_with_relu.add(eigenq::nn::ReLU());
  EXPECT_THROW(eigenq::nn::quantize_static(starts_with_relu, batches(1, 4, 1)), eigenq::InvalidArgument);
}

TEST(Convert, MixedPlansByNameOrFactory) {
  namespace ls = eigenq::nn::layer_schemes;
  const Sequential m = small_mlp(6);
  const std::vector<eigenq::nn::LayerScheme> candidates = {
      ls::int8_dynamic(), ls::int4_grouped(32), ls::float32(),
      ls::weight_only("codebook-3bit", eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>(
                                            eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0}))};
  const Sequential q = eigenq::nn::quantize_mixed(m, {"int4-g32", "int8-per-channel", "codebook-3bit"}, candidates);
  EXPECT_EQ(q[0].kind(), "GroupedLinear");
  EXPECT_EQ(q[2].kind(), "DynamicLinear");
  EXPECT_EQ(q[4].kind(), "WeightOnlyLinear");
  const Matrix x = batches(1, 8, 7)[0];
  EXPECT_GT(sqnr_db(m(x), q(x)), 10.0);
  EXPECT_THROW(eigenq::nn::quantize_mixed(m, {"int8-per-channel"}, candidates), eigenq::ShapeError);
  EXPECT_THROW(eigenq::nn::quantize_mixed(m, {"a", "b", "c"}, candidates), eigenq::InvalidArgument);
}

}  // namespace
