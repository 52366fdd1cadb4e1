// nn/convert_methods.hpp (quantize_gptq, quantize_awq, quantize_weighted) and the calibrated
// options of quantize_static / quantize_dynamic (SmoothQuant, bias correction, equalization).
#include "eigenq/nn/convert.hpp"
#include "eigenq/nn/convert_methods.hpp"

#include "eigenq/methods/layer_error.hpp"
#include "eigenq/nn/gelu.hpp"
#include "eigenq/nn/layer_norm.hpp"
#include "eigenq/policy/linear.hpp"

#include "support/nn_models.hpp"
#include "support/random_data.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;

using Int8 = eigenq::Linear<std::int8_t>;

eigenq::Quantizer<Int8, eigenq::PerGroup> int_g(int bits, Index group) {
  return eigenq::Quantizer<Int8, eigenq::PerGroup>(Int8::symmetric().with_bits(bits), eigenq::PerGroup{-1, group});
}

double output_mse(const Sequential& ref, const Sequential& q, const std::vector<Matrix>& xs) {
  double e = 0;
  for (const Matrix& x : xs) e += (ref(x) - q(x)).squaredNorm();
  return e;
}

// 64 -> 64 -> 64 -> 10 (ReLU between), groups of 32 divide every input.
Sequential mlp(unsigned seed) { return eigenq_test::random_mlp(seed, 64, 64, 0.1f); }

std::vector<Matrix> method_batches(int count, Index rows, unsigned seed, bool outliers = false) {
  std::vector<Matrix> b = eigenq_test::random_batches(count, rows, seed);
  if (outliers) {
    for (Matrix& x : b) {
      x.col(5) *= 20.0f;
      x.col(40) *= 20.0f;
    }
  }
  return b;
}

// The same model with every FloatLinear quantized by round to nearest (weight-only).
template <class Q>
Sequential rtn(const Sequential& m, const Q& q) {
  std::vector<eigenq::nn::LayerScheme> plan;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i].kind() == "Linear") plan.push_back(eigenq::nn::layer_schemes::weight_only("rtn", q));
  }
  return eigenq::nn::quantize_mixed(m, plan);
}

TEST(ConvertMethods, GptqBeatsRoundToNearest) {
  const Sequential m = mlp(1);
  const std::vector<Matrix> calib = method_batches(4, 64, 2);
  for (int bits : {2, 3, 4}) {
    const auto q = int_g(bits, 32);
    const Sequential g = eigenq::nn::quantize_gptq(m, calib, q);
    ASSERT_EQ(g.size(), m.size());
    EXPECT_EQ(g[0].kind(), "WeightOnlyLinear");
    EXPECT_EQ(g[1].kind(), "ReLU");
    EXPECT_EQ(g.weight_bytes(), rtn(m, q).weight_bytes());  // the scheme's own storage
    // Per layer, on the float inputs: no worse than RTN in the layer error.
    const auto stats = eigenq::nn::collect_linear_statistics(m, calib);
    std::size_t k = 0;
    for (std::size_t i : {0u, 2u, 4u}) {
      const Eigen::MatrixXf w = m[i].dequantized_weight();
      const double e_g = eigenq::layer_error(w, g[i].dequantized_weight(), stats[k].hessian);
      const double e_r = eigenq::layer_error(w, q.quantize(w).dequantize<Eigen::MatrixXf>(), stats[k].hessian);
      std::printf("gptq int%d-g32 layer %zu: layer error %.4g, rtn %.4g (%.1f%%)\n", bits, k, e_g, e_r, 100 * e_g / e_r);
      if (k == 0) {  // later layers' inputs are the quantized model's
        EXPECT_LT(e_g, e_r) << bits;
      }
      ++k;
    }
    const double out_g = output_mse(m, g, calib);
    const double out_r = output_mse(m, rtn(m, q), calib);
    const double held_g = output_mse(m, g, method_batches(2, 64, 9));
    const double held_r = output_mse(m, rtn(m, q), method_batches(2, 64, 9));
    std::printf("gptq int%d-g32 output error %.1f%% of rtn (held-out %.1f%%)\n", bits, 100 * out_g / out_r,
                100 * held_g / held_r);
    EXPECT_LT(out_g, 0.8 * out_r) << bits;
    EXPECT_LT(held_g, held_r) << bits;
  }
}

TEST(ConvertMethods, GptqSequentialOrFromStatistics) {
  const Sequential m = mlp(3);
  const std::vector<Matrix> calib = method_batches(3, 48, 4);
  const auto q = int_g(3, 32);
  eigenq::nn::GptqModelOptions o;
  o.sequential = false;
  const Sequential from_float = eigenq::nn::quantize_gptq(m, calib, q, o);
  const Sequential from_stats = eigenq::nn::quantize_gptq(m, eigenq::nn::collect_linear_statistics(m, calib), q);
  const Sequential sequential = eigenq::nn::quantize_gptq(m, calib, q);
  for (std::size_t i : {0u, 2u, 4u}) {
    EXPECT_EQ(from_float[i].dequantized_weight(), from_stats[i].dequantized_weight()) << i;
  }
  // The first layer sees the same inputs either way; later ones see the quantized model's.
  EXPECT_EQ(sequential[0].dequantized_weight(), from_float[0].dequantized_weight());
  EXPECT_NE(sequential[2].dequantized_weight(), from_float[2].dequantized_weight());
  // One matrix is one batch.
  const Sequential one = eigenq::nn::quantize_gptq(m, calib[0], q);
  EXPECT_EQ(one.size(), m.size());
}

TEST(ConvertMethods, Int4KernelLayers) {
  const Sequential m = mlp(5);
  const std::vector<Matrix> calib = method_batches(2, 64, 6);
  eigenq::nn::GptqModelOptions o;
  o.int4_kernel = true;
  const Sequential g = eigenq::nn::quantize_gptq(m, calib, int_g(4, 32), o);
  EXPECT_EQ(g[0].kind(), "GroupedLinear");
  EXPECT_EQ(g[4].kind(), "GroupedLinear");
  const Sequential g3 = eigenq::nn::quantize_gptq(m, calib, int_g(3, 32), o);
  EXPECT_EQ(g3[0].kind(), "WeightOnlyLinear");  // 3-bit: no kernel
  const double e = output_mse(m, g, calib);
  EXPECT_LT(e, output_mse(m, rtn(m, int_g(4, 32)), calib));
}

TEST(ConvertMethods, StatisticsMustMatchTheModel) {
  const Sequential m = mlp(7);
  auto stats = eigenq::nn::collect_linear_statistics(m, method_batches(1, 16, 8));
  const auto q = int_g(4, 32);
  stats.pop_back();
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_gptq(m, stats, q); },
                                                {"quantize_gptq", "statistics for 2 Linear layers, the model has 3"});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_awq(m, stats, q); }, {"quantize_awq"});
  stats = eigenq::nn::collect_linear_statistics(m, method_batches(1, 16, 8));
  eigenq::CalibrationStatsObserver narrow(32);
  narrow.observe(Eigen::MatrixXf::Ones(4, 32));
  stats[1] = narrow.stats();
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_weighted(m, stats, q); },
                                                {"the statistics of Linear 1 have 32 input features, the layer 64"});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_gptq(m, Matrix(3, 10), q); },
                                                {"calibration batch 0 has shape [3, 10]"});
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::nn::quantize_gptq(m, std::vector<Matrix>{}, q); }, {"no calibration batches"});
}

// A model with every kind of predecessor, inputs with outlier channels.
Sequential transformer_like(unsigned seed) {
  auto lin = [&](Index in, Index out, unsigned s) {
    return eigenq::nn::FloatLinear(eigenq_test::random_matrix(out, in, seed + s, 0.3f),
                                   eigenq_test::random_matrix(out, 1, seed + s + 1, 0.1f));
  };
  Sequential m;
  m.add(lin(64, 64, 1)).add(eigenq::nn::ReLU());
  m.add(lin(64, 64, 3));
  m.add(eigenq::nn::LayerNorm(eigenq_test::random_matrix(64, 1, seed + 5, 0.5f).array() + 1.0f,
                              eigenq_test::random_matrix(64, 1, seed + 6, 0.1f)));
  m.add(lin(64, 128, 7)).add(eigenq::nn::GELU());
  m.add(lin(128, 10, 9));
  return m;
}

TEST(ConvertMethods, AwqFoldsWhereItCan) {
  const Sequential m = transformer_like(1);
  const std::vector<Matrix> calib = method_batches(4, 64, 2, true);
  const auto q = int_g(3, 32);
  const Sequential a = eigenq::nn::quantize_awq(m, calib, q);
  std::string kinds;
  for (std::size_t i = 0; i < a.size(); ++i) kinds += a[i].kind() + " ";
  // The first Linear reads the model input and the last a GELU's output: their scales stay in an
  // InputScale in front; the others went into the Linear, the Linear + ReLU and the LayerNorm.
  EXPECT_EQ(kinds, "InputScale WeightOnlyLinear ReLU WeightOnlyLinear LayerNorm WeightOnlyLinear GELU InputScale "
                   "WeightOnlyLinear ");
  EXPECT_EQ(a.weight_count(), m.weight_count());
  EXPECT_EQ(a.weight_bytes(), rtn(m, q).weight_bytes() + 4 * (64 + 128));  // + the two InputScales
  const auto& ln = dynamic_cast<const eigenq::nn::LayerNorm&>(a[4]);
  EXPECT_NE(ln.weight(), dynamic_cast<const eigenq::nn::LayerNorm&>(m[3]).weight());
  const double e_a = output_mse(m, a, calib);
  const double e_r = output_mse(m, rtn(m, q), calib);
  // Each layer is never worse than RTN on its own inputs; end to end on a random model it can be.
  std::printf("awq int3-g32 transformer-like model: output error %.1f%% of rtn\n", 100 * e_a / e_r);
  // At 12 bits the result is the float function: the scales went where they had to.
  const auto fine = eigenq::Quantizer<eigenq::Linear<std::int16_t>, eigenq::PerGroup>(
      eigenq::Linear<std::int16_t>::symmetric().with_bits(12), eigenq::PerGroup{-1, 32});
  const Sequential f = eigenq::nn::quantize_awq(m, calib, fine);
  std::size_t scaled = 0;
  for (std::size_t i = 0; i < f.size(); ++i) scaled += f[i].kind() == "InputScale";
  EXPECT_GE(scaled, 1u);
  for (const Matrix& x : calib) EXPECT_LT((f(x) - m(x)).norm() / m(x).norm(), 2e-3);
}

TEST(ConvertMethods, AwqBeatsRoundToNearestOnOutlierInputs) {
  Sequential m;
  m.add(eigenq::nn::FloatLinear(eigenq_test::random_matrix(32, 64, 31, 0.3f), eigenq_test::random_matrix(32, 1, 32, 0.1f)));
  const std::vector<Matrix> calib = method_batches(4, 64, 33, true);
  for (int bits : {3, 4}) {
    const auto q = int_g(bits, 32);
    const Sequential a = eigenq::nn::quantize_awq(m, calib, q);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].kind(), "InputScale");
    const double e_a = output_mse(m, a, calib);
    const double e_r = output_mse(m, rtn(m, q), calib);
    const double held_a = output_mse(m, a, method_batches(2, 64, 34, true));
    const double held_r = output_mse(m, rtn(m, q), method_batches(2, 64, 34, true));
    std::printf("awq int%d-g32, inputs with two x20 channels: output error %.1f%% of rtn (held-out %.1f%%)\n", bits,
                100 * e_a / e_r, 100 * held_a / held_r);
    EXPECT_LT(e_a, 0.9 * e_r) << bits;
    EXPECT_LT(held_a, held_r) << bits;
  }
}

TEST(ConvertMethods, WeightedRoundingNeverWorseOnTheFirstLayer) {
  const Sequential m = mlp(9);
  const std::vector<Matrix> calib = method_batches(4, 64, 10, true);
  const auto q = int_g(3, 32);
  const Sequential w = eigenq::nn::quantize_weighted(m, calib, q);
  EXPECT_EQ(w[0].kind(), "WeightOnlyLinear");
  const auto stats = eigenq::nn::collect_linear_statistics(m, calib);
  for (std::size_t k = 0; k < 3; ++k) {
    const Eigen::MatrixXf weight = m[2 * k].dequantized_weight();
    const double e_w = eigenq::layer_error(weight, w[2 * k].dequantized_weight(), stats[k].hessian);
    const double e_r = eigenq::layer_error(weight, q.quantize(weight).dequantize<Eigen::MatrixXf>(), stats[k].hessian);
    std::printf("weighted int3-g32 layer %zu: %.1f%% of rtn\n", k, 100 * e_w / e_r);
    EXPECT_LE(e_w, e_r * (1 + 1e-6)) << k;
  }
}

// ---- the calibrated options of quantize_static / quantize_dynamic ---------------------------

TEST(ConvertOptions, StaticSmoothQuantHelpsOutlierInputs) {
  const Sequential m = mlp(11);
  const std::vector<Matrix> calib = method_batches(4, 64, 12, true);
  const Sequential plain = eigenq::nn::quantize_static(m, calib);
  eigenq::nn::StaticQuantOptions o;
  o.smoothquant = eigenq::SmoothQuantOptions{};
  const Sequential smoothed = eigenq::nn::quantize_static(m, calib, o);
  ASSERT_EQ(smoothed.size(), plain.size() + 1);
  EXPECT_EQ(smoothed[0].kind(), "InputScale");
  EXPECT_EQ(smoothed[1].kind(), "StaticLinear");
  const double e_plain = output_mse(m, plain, calib);
  const double e_smooth = output_mse(m, smoothed, calib);
  std::printf("static int8: smoothquant output error %.1f%% of plain\n", 100 * e_smooth / e_plain);
  EXPECT_LT(e_smooth, 0.8 * e_plain);
  // The layers after the InputScale still pass int8 codes to each other.
  const Matrix y = smoothed(calib[0]);
  EXPECT_EQ(y.cols(), 10);
}

TEST(ConvertOptions, BiasCorrectionRemovesTheMeanShift) {
  // Per-tensor int8 weights with one large weight per layer: a coarse step, a visible mean shift.
  Sequential m = mlp(13);
  for (std::size_t i : {0u, 2u, 4u}) {
    auto l = dynamic_cast<const eigenq::nn::FloatLinear&>(m[i]);
    l.weight()(0, 0) = 40.0f;
    m.replace(i, std::make_unique<eigenq::nn::FloatLinear>(l));
  }
  const std::vector<Matrix> calib = method_batches(4, 64, 14);
  auto mean_shift = [&](const Sequential& q) {
    Eigen::VectorXd shift = Eigen::VectorXd::Zero(10);
    for (const Matrix& x : calib) shift += (q(x) - m(x)).cast<double>().colwise().sum().transpose();
    return shift.norm();
  };
  eigenq::nn::DynamicQuantOptions o;
  o.layer.per_channel_weights = false;
  const Sequential plain = eigenq::nn::quantize_dynamic(m, calib, o);
  o.bias_correction = true;
  const Sequential corrected = eigenq::nn::quantize_dynamic(m, calib, o);
  std::printf("dynamic per-tensor int8: mean output shift %.4g, corrected %.4g\n", mean_shift(plain), mean_shift(corrected));
  EXPECT_LT(mean_shift(corrected), 0.5 * mean_shift(plain));
  // Default options with calibration: exactly quantize_dynamic without.
  const Sequential d = eigenq::nn::quantize_dynamic(m, calib, eigenq::nn::DynamicQuantOptions{});
  const Sequential e = eigenq::nn::quantize_dynamic(m);
  EXPECT_EQ(d(calib[0]), e(calib[0]));
  // Static: the same correction of the weights' share (activations add their own error).
  eigenq::nn::StaticQuantOptions so;
  const Sequential s_plain = eigenq::nn::quantize_static(m, calib, so);
  so.bias_correction = true;
  const Sequential s_corr = eigenq::nn::quantize_static(m, calib, so);
  std::printf("static int8: mean output shift %.4g, corrected %.4g\n", mean_shift(s_plain), mean_shift(s_corr));
  EXPECT_LE(mean_shift(s_corr), mean_shift(s_plain));
}

TEST(ConvertOptions, EqualizationHelpsPerTensorWeights) {
  Sequential m;
  eigenq::nn::FloatLinear a(eigenq_test::random_matrix(64, 64, 21, 0.3f), eigenq_test::random_matrix(64, 1, 22, 0.1f));
  eigenq::nn::FloatLinear b(eigenq_test::random_matrix(10, 64, 23, 0.3f), eigenq_test::random_matrix(10, 1, 24, 0.1f));
  for (Index i = 0; i < 64; i += 4) {
    a.weight().row(i) *= 20.0f;
    a.bias()(i) *= 20.0f;
    b.weight().col(i) /= 20.0f;
  }
  m.add(a).add(eigenq::nn::ReLU()).add(b);
  const std::vector<Matrix> calib = method_batches(2, 64, 25);
  eigenq::nn::DynamicQuantOptions o;
  o.layer.per_channel_weights = false;
  const Sequential plain = eigenq::nn::quantize_dynamic(m, calib, o);
  o.equalization = true;
  const Sequential eq = eigenq::nn::quantize_dynamic(m, calib, o);
  const double e_plain = output_mse(m, plain, calib);
  const double e_eq = output_mse(m, eq, calib);
  std::printf("dynamic per-tensor weights: equalized output error %.1f%% of plain\n", 100 * e_eq / e_plain);
  EXPECT_LT(e_eq, 0.5 * e_plain);
  eigenq::nn::StaticQuantOptions so;
  so.equalization = true;
  EXPECT_EQ(eigenq::nn::quantize_static(m, calib, so).size(), 2u);
}

}  // namespace
