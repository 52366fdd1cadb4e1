// LayerNorm, GELU and causal self-attention (include/eigenq/nn/) against PyTorch 1.13
// (tests/golden/lm_layers_pytorch.txt, written by make_lm_layers_golden.py the way
// examples/lm/train_lm.py computes them, in float64 and rounded once). Float sums run in
// another order, so results agree within a few ulps of the largest output, not bit for bit.
#include "golden_file.hpp"

#include "eigenq/nn/attention.hpp"
#include "eigenq/nn/gelu.hpp"
#include "eigenq/nn/layer_norm.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq_test::GoldenCase;

const std::vector<GoldenCase>& cases() {
  static const std::vector<GoldenCase> all =
      eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/golden/lm_layers_pytorch.txt");
  return all;
}

Matrix matrix(const GoldenCase& c, const std::string& key) {
  const auto shape = c.ints("shape");
  const std::vector<float> v = c.floats(key);
  return Eigen::Map<const Matrix>(v.data(), shape.at(0), static_cast<Index>(v.size()) / shape.at(0));
}

// |a - b| <= 1e-5 max|b| + 1e-6 element by element: float sums of terms as large as the
// largest output may cancel to a much smaller one.
void expect_close(const Matrix& actual, const std::vector<float>& expected) {
  ASSERT_EQ(static_cast<std::size_t>(actual.size()), expected.size());
  float largest = 0.0f;
  for (float e : expected) largest = std::max(largest, std::fabs(e));
  for (Index i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual.data()[i], expected[static_cast<std::size_t>(i)], 1e-5f * largest + 1e-6f) << "element " << i;
  }
}

TEST(GoldenLmLayers, LayerNormMatchesPyTorch) {
  int seen = 0;
  for (const GoldenCase& c : cases()) {
    if (c.text("kind") != "layer_norm") continue;
    SCOPED_TRACE(c.name);
    const std::vector<float> w = c.floats("weight"), b = c.floats("bias");
    const eigenq::nn::LayerNorm ln(Eigen::Map<const Eigen::VectorXf>(w.data(), static_cast<Index>(w.size())),
                                   Eigen::Map<const Eigen::VectorXf>(b.data(), static_cast<Index>(b.size())));
    expect_close(ln.forward(matrix(c, "input")), c.floats("output"));
    ++seen;
  }
  EXPECT_EQ(seen, 3);
}

TEST(GoldenLmLayers, GeluMatchesPyTorch) {
  const GoldenCase& c = eigenq_test::find_case(cases(), "gelu");
  const std::vector<float> x = c.floats("input");
  const Matrix in = Eigen::Map<const Matrix>(x.data(), 1, static_cast<Index>(x.size()));
  expect_close(eigenq::nn::GELU().forward(in), c.floats("output"));
}

TEST(GoldenLmLayers, CausalSelfAttentionMatchesPyTorch) {
  int seen = 0;
  for (const GoldenCase& c : cases()) {
    if (c.text("kind") != "attention") continue;
    SCOPED_TRACE(c.name);
    expect_close(eigenq::nn::causal_self_attention(matrix(c, "input"), c.integer("heads")), c.floats("output"));
    ++seen;
  }
  EXPECT_EQ(seen, 3);
}

TEST(LmLayers, BadShapesAreErrors) {
  EXPECT_THROW(eigenq::nn::LayerNorm(Eigen::VectorXf::Ones(4), Eigen::VectorXf::Zero(3)), eigenq::ShapeError);
  const eigenq::nn::LayerNorm ln(Eigen::VectorXf::Ones(4), Eigen::VectorXf::Zero(4));
  EXPECT_THROW(ln.forward(Matrix::Zero(2, 5)), eigenq::ShapeError);
  EXPECT_THROW(eigenq::nn::causal_self_attention(Matrix::Zero(3, 10), 2), eigenq::ShapeError);
}

}  // namespace
