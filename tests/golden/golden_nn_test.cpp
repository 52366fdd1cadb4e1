// DynamicLinear against PyTorch's dynamic quantized Linear
// (tests/golden/dynamic_linear_pytorch.txt, written by make_nn_golden.py with
// Debian's python3-torch 1.13, oneDNN engine).
#include "golden_file.hpp"

#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/policy/choose_params.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq_test::GoldenCase;

const std::vector<GoldenCase>& nn_cases() {
  static const std::vector<GoldenCase> cases = eigenq_test::load_golden(
      std::string(EIGENQ_TEST_DATA_DIR) + "/golden/dynamic_linear_pytorch.txt");
  return cases;
}

std::vector<std::size_t> nn_case_indices(const std::string& kind) {
  return eigenq_test::case_indices(nn_cases(), kind);
}

std::string nn_test_name(const testing::TestParamInfo<std::size_t>& info) {
  return eigenq_test::case_test_name(nn_cases(), info.param);
}

class GoldenDynamicParams : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenDynamicParams, ActivationParametersBitExact) {
  const GoldenCase& c = nn_cases()[GetParam()];
  const bool rr = c.integer("reduce_range") == 1;
  const auto mins = c.floats("observed_min");
  const auto maxs = c.floats("observed_max");
  const auto scales = c.float_bits("scale");
  const auto zps = c.ints("zero_point");
  ASSERT_GE(mins.size(), 300u);
  for (std::size_t i = 0; i < mins.size(); ++i) {
    const auto p = eigenq::choose_params_pytorch_dynamic(mins[i], maxs[i], {0, 255}, rr);
    EXPECT_EQ(eigenq_test::bits_of(p.scale), scales[i]) << "[" << mins[i] << ", " << maxs[i] << "]";
    EXPECT_EQ(p.zero_point, zps[i]) << "[" << mins[i] << ", " << maxs[i] << "]";
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, GoldenDynamicParams, testing::ValuesIn(nn_case_indices("dynamic_params")),
                         nn_test_name);

class GoldenDynamicLinear : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenDynamicLinear, MatchesTorchDynamicLinear) {
  const GoldenCase& c = nn_cases()[GetParam()];
  const auto dims = c.ints("shape");
  const Index batch = dims[0], in = dims[1], out = dims[2];
  const auto wf = c.floats("weight");
  const auto bf = c.floats("bias");
  const auto xf = c.floats("input");
  Eigen::MatrixXf w(out, in);
  for (Index r = 0; r < out; ++r)
    for (Index k = 0; k < in; ++k) w(r, k) = wf[static_cast<std::size_t>(r * in + k)];
  const Eigen::VectorXf b = Eigen::Map<const Eigen::VectorXf>(bf.data(), out);
  eigenq::nn::Matrix x = Eigen::Map<const eigenq::nn::Matrix>(xf.data(), batch, in);

  eigenq::nn::DynamicLinearOptions options;
  options.per_channel_weights = c.text("weight_qscheme") == "per_channel_symmetric";
  options.reduce_range = c.integer("reduce_range") == 1;
  const eigenq::nn::DynamicLinear layer(w, b, options);

  // Weights: torch's observer choice, bit for bit.
  const auto codes = layer.weight().unpacked_codes();
  const auto torch_codes = c.ints("weight_codes");
  ASSERT_EQ(codes.size(), torch_codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) ASSERT_EQ(codes[i], torch_codes[i]) << "weight code " << i;
  const auto scales = c.float_bits("weight_scale");
  ASSERT_EQ(layer.weight().params().size(), scales.size());
  for (std::size_t i = 0; i < scales.size(); ++i) {
    EXPECT_EQ(eigenq_test::bits_of(layer.weight().params()[i].scale), scales[i]) << "weight scale " << i;
  }
  // Activations: the same parameters and codes as quantize_per_tensor_dynamic.
  const auto p = layer.activation_params(x.minCoeff(), x.maxCoeff());
  EXPECT_EQ(eigenq_test::bits_of(p.scale), c.float_bits("input_scale")[0]);
  EXPECT_EQ(p.zero_point, c.ints("input_zero_point")[0]);
  const auto input_codes = c.ints("input_codes");
  const auto pol = eigenq::Linear<std::uint8_t>::affine().with_range(0, options.reduce_range ? 127 : 255);
  for (std::size_t i = 0; i < xf.size(); ++i) {
    ASSERT_EQ(pol.quantize(xf[i], p), input_codes[i]) << "input code " << i;
  }
  // Output: the same function of the same integers; only the float
  // accumulation order and rounding differ.
  const eigenq::nn::Matrix y = layer.forward(x);
  const auto torch_y = c.floats("output");
  float scale = 1.0f;
  for (float v : torch_y) scale = std::max(scale, std::fabs(v));
  for (Index r = 0; r < batch; ++r) {
    for (Index n = 0; n < out; ++n) {
      EXPECT_NEAR(y(r, n), torch_y[static_cast<std::size_t>(r * out + n)], 2e-6f * scale)
          << "output (" << r << ", " << n << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorch, GoldenDynamicLinear, testing::ValuesIn(nn_case_indices("dynamic_linear")),
                         nn_test_name);

}  // namespace
