// nn::GgmlLinear (nn/ggml_linear.hpp): a GGUF weight tensor run as stored, on the kernel of its
// type (every type with one, bit for bit the definition of ggml/mul_mat.hpp) or decoded once.
#include "eigenq/nn/ggml_linear.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ggml/mul_mat_definition.hpp"
#include "support/test_support.hpp"

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;
using eigenq_test::activations;
using eigenq_test::definition;
using eigenq_test::ggml_rows;
using eigenq_test::q4_0_rows;

TEST(GgmlLinear, RunsAQ4_0TensorOnTheKernelAndKeepsOnlyItsBlocks) {
  const Index n = 96, kk = 256;
  const auto rows = q4_0_rows(n, kk, 23);
  Eigen::VectorXf bias = Eigen::VectorXf::LinSpaced(n, -1.0f, 1.0f);
  const eigenq::nn::GgmlLinear layer(gg::Type::q4_0, rows.data(), n, kk, bias);
  EXPECT_TRUE(layer.runs_on_kernel());
  EXPECT_EQ(layer.kind(), "GgmlLinear(q4_0)");
  EXPECT_EQ(layer.weight_bytes(), static_cast<std::size_t>(n * 144 + n * 4));
  const auto xv = activations(5, kk, 24);
  eigenq::nn::Matrix x = Eigen::Map<const eigenq::nn::Matrix>(xv.data(), 5, kk);
  const eigenq::nn::Matrix y = layer.forward(x);
  const auto expected = definition(gg::Type::q4_0, rows, n, kk, xv, 5, kk, bias.data());
  ASSERT_TRUE(eigenq_test::same_bits(expected, std::vector<float>(y.data(), y.data() + y.size())));
  // The weight it computes with is ggml's decoding of the blocks.
  const Eigen::MatrixXf w = layer.dequantized_weight();
  std::vector<float> decoded(static_cast<std::size_t>(kk));
  for (Index r = 0; r < n; ++r) {
    gg::dequantize_row(gg::Type::q4_0, rows.data() + r * 144, decoded.data(), kk);
    for (Index c = 0; c < kk; ++c) ASSERT_EQ(w(r, c), decoded[static_cast<std::size_t>(c)]) << r << ", " << c;
  }
  // Against the float product of that weight, the Q8_0 activations cost well under 1%.
  const eigenq::nn::Matrix reference = (x * w.transpose()).rowwise() + bias.transpose();
  EXPECT_LT((y - reference).norm() / reference.norm(), 0.01);
}

TEST(GgmlLinear, RunsEveryKernelTypesTensorOnItsKernel) {
  const Index n = 40, kk = 256;
  for (gg::Type type : {gg::Type::q8_0, gg::Type::iq4_nl, gg::Type::q4_K, gg::Type::q6_K}) {
    const auto rows = ggml_rows(type, n, kk, 25);
    const Index row_bytes = gg::row_size(type, kk);
    const eigenq::nn::GgmlLinear layer(type, rows.data(), n, kk);
    EXPECT_TRUE(layer.runs_on_kernel());
    EXPECT_EQ(layer.weight_bytes(), static_cast<std::size_t>(n * row_bytes + n * 4));
    const auto xv = activations(3, kk, 26);
    eigenq::nn::Matrix x = Eigen::Map<const eigenq::nn::Matrix>(xv.data(), 3, kk);
    const eigenq::nn::Matrix y = layer.forward(x);
    const auto expected = definition(type, rows, n, kk, xv, 3, kk, nullptr);
    ASSERT_TRUE(eigenq_test::same_bits(expected, std::vector<float>(y.data(), y.data() + y.size())))
        << gg::type_name(type);
    std::vector<float> decoded(static_cast<std::size_t>(kk));
    const Eigen::MatrixXf w = layer.dequantized_weight();
    for (Index r = 0; r < n; ++r) {
      gg::dequantize_row(type, rows.data() + r * row_bytes, decoded.data(), kk);
      for (Index c = 0; c < kk; ++c) {
        ASSERT_EQ(w(r, c), decoded[static_cast<std::size_t>(c)]) << gg::type_name(type) << " " << r << ", " << c;
      }
    }
  }
}

TEST(GgmlLinear, TypesWithoutAKernelRunDecodedRows) {
  const Index n = 8, kk = 256;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  Eigen::MatrixXf w(n, kk);
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
  const eigenq::nn::FloatLinear f(w, Eigen::VectorXf::Zero(n));
  const eigenq::nn::GgmlLinear layer(f, gg::Type::q5_K);
  EXPECT_FALSE(layer.runs_on_kernel());
  const auto xv = activations(2, kk, 4);
  eigenq::nn::Matrix x = Eigen::Map<const eigenq::nn::Matrix>(xv.data(), 2, kk);
  const eigenq::nn::Matrix expected = x * layer.dequantized_weight().transpose();
  EXPECT_TRUE(layer.forward(x).isApprox(expected, 1e-6f));
  EXPECT_THROW(eigenq::nn::GgmlLinear(gg::Type::q5_K, nullptr, n, kk), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::nn::GgmlLinear(gg::Type::q4_0, xv.data(), n, 40), eigenq::ShapeError);
}

}  // namespace
