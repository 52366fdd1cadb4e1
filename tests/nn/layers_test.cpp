// Float and quantized Linear layers: each against an independent reference.
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/linear.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;

Eigen::MatrixXf random_weight(Index out, Index in, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.2f);
  Eigen::MatrixXf w(out, in);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
  return w;
}

Matrix random_input(Index batch, Index in, unsigned seed, float shift = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(shift, 1.0f);
  Matrix x(batch, in);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = g(rng);
  return x;
}

TEST(FloatLayers, LinearReluSequential) {
  const Eigen::MatrixXf w = random_weight(5, 7, 1);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(5, -1.0f, 1.0f);
  const Matrix x = random_input(3, 7, 2);
  eigenq::nn::Sequential model;
  model.add(eigenq::nn::Linear(w, b)).add(eigenq::nn::ReLU());
  const Matrix y = model(x);
  for (Index r = 0; r < 3; ++r)
    for (Index n = 0; n < 5; ++n) {
      double acc = b[n];
      for (Index k = 0; k < 7; ++k) acc += double(x(r, k)) * w(n, k);
      EXPECT_NEAR(y(r, n), std::max(acc, 0.0), 1e-5);
    }
  EXPECT_EQ(model.weight_count(), 35);
  const eigenq::nn::Sequential copy = model;  // deep copy
  EXPECT_EQ(copy(x), y);
  EXPECT_THROW(model(random_input(3, 6, 3)), eigenq::ShapeError);
  EXPECT_THROW(eigenq::nn::Linear(w, Eigen::VectorXf::Zero(4)), eigenq::ShapeError);
  EXPECT_THROW(model.at(2), eigenq::InvalidArgument);
}

// The dynamic layer computes exactly dequant(quant(x)) . dequant(W)^T + b.
Matrix dynamic_reference(const eigenq::nn::DynamicLinear& layer, const Matrix& x, bool per_row) {
  const Eigen::MatrixXf w_hat = eigenq::dequantize(layer.weight());
  Matrix x_hat(x.rows(), x.cols());
  const eigenq::CodeRange range = layer.activation_range();
  for (Index r = 0; r < x.rows(); ++r) {
    const float lo = per_row ? x.row(r).minCoeff() : x.minCoeff();
    const float hi = per_row ? x.row(r).maxCoeff() : x.maxCoeff();
    const auto p = layer.activation_params(lo, hi);
    for (Index k = 0; k < x.cols(); ++k) {
      const float q = std::nearbyint(x(r, k) * (1.0f / p.scale)) + float(p.zero_point);
      const float c = std::min(std::max(q, float(range.qmin)), float(range.qmax));
      x_hat(r, k) = (c - float(p.zero_point)) * p.scale;
    }
  }
  Matrix y = (x_hat.cast<double>() * w_hat.cast<double>().transpose()).cast<float>();
  y.rowwise() += layer.bias().transpose();
  return y;
}

TEST(DynamicLinear, EqualsItsDocumentedSemantics) {
  const Eigen::MatrixXf w = random_weight(33, 70, 4);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(33, -0.5f, 0.5f);
  for (bool per_row : {false, true}) {
    for (bool is_signed : {false, true}) {
      for (bool rr : {false, true}) {
        for (bool per_channel : {true, false}) {
          eigenq::nn::DynamicLinearOptions o;
          o.activations = per_row ? eigenq::nn::ActivationGranularity::per_row
                                  : eigenq::nn::ActivationGranularity::per_tensor;
          o.signed_activations = is_signed;
          o.reduce_range = rr;
          o.per_channel_weights = per_channel;
          if (!per_channel) o.weight_policy = eigenq::Linear<std::int8_t>::affine();
          const eigenq::nn::DynamicLinear layer(w, b, o);
          const Matrix x = random_input(9, 70, 5, 0.3f);
          const Matrix y = layer(x);
          const Matrix ref = dynamic_reference(layer, x, per_row);
          EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 2e-5f * (1.0f + ref.cwiseAbs().maxCoeff()))
              << "per_row " << per_row << " signed " << is_signed << " rr " << rr;
        }
      }
    }
  }
}

TEST(DynamicLinear, CloseToFloatAndIndependentOfThreadsAndIsa) {
  const Eigen::MatrixXf w = random_weight(130, 256, 6);
  const Eigen::VectorXf b = Eigen::VectorXf::Zero(130);
  const eigenq::nn::Linear fl(w, b);
  const Matrix x = random_input(17, 256, 7);
  const eigenq::nn::DynamicLinear one(fl);
  eigenq::nn::DynamicLinearOptions three;
  three.threads = 3;
  const eigenq::nn::DynamicLinear many(fl, three);
  const Matrix y = one(x);
  EXPECT_EQ(y, many(x));
  const Matrix yf = fl(x);
  const double sqnr = 10 * std::log10(yf.squaredNorm() / (y - yf).squaredNorm());
  EXPECT_GT(sqnr, 30.0) << "int8 dynamic should be within ~1% of float";
  for (auto isa : {eigenq::kernels::Isa::scalar, eigenq::kernels::Isa::avx2,
                   eigenq::kernels::Isa::avx512, eigenq::kernels::Isa::avx512vnni,
                   eigenq::kernels::Isa::neon}) {
    if (!eigenq::kernels::supported(isa)) continue;
    eigenq::kernels::ScopedIsa scoped(isa);
    EXPECT_EQ(one(x), y) << eigenq::kernels::to_string(isa);
  }
}

TEST(DynamicLinear, BadInputs) {
  const eigenq::nn::DynamicLinear layer(random_weight(4, 8, 8), Eigen::VectorXf::Zero(4));
  EXPECT_THROW(layer(random_input(2, 9, 9)), eigenq::ShapeError);
  Matrix x = random_input(2, 8, 10);
  x(1, 3) = std::numeric_limits<float>::quiet_NaN();
  try {
    layer(x);
    FAIL();
  } catch (const eigenq::NonFiniteError& e) {
    EXPECT_NE(std::string(e.what()).find("(0, 11)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eigenq::nn::DynamicLinear(random_weight(4, 8, 8), Eigen::VectorXf::Zero(3)),
               eigenq::ShapeError);
  EXPECT_EQ(layer(Matrix(0, 8)).rows(), 0);
}

// TFLite's integer Linear, written out independently: int64 sums, then the
// double-rounding fixed-point multiply.
std::int32_t tflite_requantize(std::int64_t acc, double real_multiplier, std::int32_t zp, std::int32_t lo) {
  int shift = 0;
  const double frac = std::frexp(real_multiplier, &shift);
  auto m = static_cast<std::int64_t>(std::round(frac * (1ll << 31)));
  if (m == (1ll << 31)) {
    m /= 2;
    ++shift;
  }
  std::int64_t x = acc;
  if (shift > 0) x *= (1ll << shift);
  // SaturatingRoundingDoublingHighMul
  const std::int64_t ab = x * m;
  const std::int64_t nudge = ab >= 0 ? (1ll << 30) : (1 - (1ll << 30));
  std::int64_t high = (ab + nudge) / (1ll << 31);
  if (shift < 0) {
    const int e = -shift;
    const std::int64_t mask = (1ll << e) - 1;
    const std::int64_t rem = high & mask;
    const std::int64_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    high = (high >> e) + (rem > threshold ? 1 : 0);
  }
  return static_cast<std::int32_t>(std::min<std::int64_t>(std::max<std::int64_t>(high + zp, lo), 127));
}

TEST(StaticLinear, IntegerResultsEqualTfliteArithmetic) {
  const Eigen::MatrixXf w = random_weight(21, 45, 11);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(21, -0.3f, 0.3f);
  const eigenq::LinearParams in{0.02f, -5};
  const eigenq::LinearParams out{0.05f, 10};
  for (bool relu : {false, true}) {
    const eigenq::nn::StaticLinear layer(w, b, in, out, relu);
    const Matrix x = random_input(6, 45, 12);
    const eigenq::nn::QActivations qx = layer.quantize_input(x);
    const eigenq::nn::QActivations qy = layer.forward_integer(qx);
    const auto codes = layer.weight().unpacked_codes();
    for (Index r = 0; r < 6; ++r) {
      for (Index n = 0; n < 21; ++n) {
        std::int64_t acc = layer.bias()[static_cast<std::size_t>(n)];
        for (Index k = 0; k < 45; ++k) {
          acc += (std::int64_t{qx.codes(r, k)} - in.zero_point) * codes[static_cast<std::size_t>(n * 45 + k)];
        }
        const double real = double(in.scale) * layer.weight().params()[static_cast<std::size_t>(n)].scale / out.scale;
        const std::int32_t expected = tflite_requantize(acc, real, out.zero_point, relu ? out.zero_point : -128);
        ASSERT_EQ(qy.codes(r, n), expected) << "relu " << relu << " (" << r << ", " << n << ")";
      }
    }
    // And the float view is close to the float layer.
    Matrix ref = x * w.transpose();
    ref.rowwise() += b.transpose();
    if (relu) ref = ref.cwiseMax(0.0f);
    const Matrix y = layer(x);
    EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 0.2f);  // a few output steps
  }
}

TEST(StaticLinear, ChainStaysInIntegers) {
  const eigenq::LinearParams a{0.03f, 0}, m{0.05f, -20}, z{0.1f, 3};
  eigenq::nn::Sequential model;
  model.add(eigenq::nn::StaticLinear(random_weight(16, 8, 13), Eigen::VectorXf::Zero(16), a, m, true));
  model.add(eigenq::nn::StaticLinear(random_weight(4, 16, 14), Eigen::VectorXf::Zero(4), m, z, false));
  ASSERT_TRUE(model.integer_io());
  const Matrix x = random_input(5, 8, 15);
  const auto q = model.forward_integer(model.quantize_input(x));
  EXPECT_EQ(q.scale, z.scale);
  EXPECT_EQ(model(x), q.dequantize());
  // Mismatched input parameters are refused.
  eigenq::nn::QActivations wrong = model.quantize_input(x);
  wrong.scale *= 2;
  EXPECT_THROW(model.forward_integer(wrong), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::nn::StaticLinear(random_weight(4, 8, 1), Eigen::VectorXf::Zero(4), {0.0f, 0}, z, false),
               eigenq::InvalidArgument);
  Eigen::VectorXf nan_bias = Eigen::VectorXf::Zero(4);
  nan_bias[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(eigenq::nn::StaticLinear(random_weight(4, 8, 1), nan_bias, a, z, false), eigenq::NonFiniteError);
}

TEST(GroupedLinear, MatchesDequantizedWeights) {
  for (Index g : {32, 128}) {
    const Eigen::MatrixXf w = random_weight(40, 300, 16);  // 300: a partial last group
    const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(40, 0.0f, 1.0f);
    eigenq::nn::GroupedLinearOptions o;
    o.group_size = g;
    const eigenq::nn::GroupedLinear layer(w, b, o);
    const Eigen::MatrixXf w_hat = eigenq::dequantize(layer.weight());
    for (Index batch : {1, 3, 4, 9}) {
      const Matrix x = random_input(batch, 300, 17);
      Matrix ref = x * w_hat.transpose();
      ref.rowwise() += b.transpose();
      const Matrix y = layer(x);
      // Activations are quantized to int8 per group: error about 1% of the output scale.
      EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 0.02f * ref.cwiseAbs().maxCoeff()) << "G " << g;
    }
    // Codes two a byte, one f16 scale a group, f32 biases.
    EXPECT_EQ(layer.weight_bytes(), (40u * 300u) / 2u + 40u * ((300u + g - 1) / g) * 2u + 40u * 4u);
    for (const auto& p : layer.weight().params()) {
      EXPECT_EQ(p.scale, eigenq::kernels::half_bits_to_float(eigenq::kernels::float_to_half_bits(p.scale)));
    }
  }
  eigenq::nn::GroupedLinearOptions bad;
  bad.group_size = 64;
  EXPECT_THROW(eigenq::nn::GroupedLinear(random_weight(4, 64, 1), Eigen::VectorXf::Zero(4), bad),
               eigenq::InvalidArgument);
}

}  // namespace
