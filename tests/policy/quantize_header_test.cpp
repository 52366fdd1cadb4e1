// Tests <eigenq/quantize.hpp> alone, in an executable where no translation unit includes
// kernels/elementwise.hpp: the Linear policy's bulk loops run the scalar fallback of
// kernels/policy_kernels.hpp and give the per-value definition's bits (Linear::quantize and
// Linear::dequantize) on edge and random data, per tensor and per channel, s8 and u8.
// tests/kernels/elementwise_test.cpp checks that including elementwise.hpp installs the SIMD
// entry points, and that they give the scalar path's bits on every ISA.
#include <eigenq/quantize.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <Eigen/Core>

#include "support/test_support.hpp"

namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

TEST(QuantizeHeader, RunsTheScalarKernelsWhenNoSimdEntryPointIsInstalled) {
  EXPECT_EQ(eigenq::kernels::detail::installed_policy_kernels.load(), nullptr);
  EXPECT_EQ(&eigenq::kernels::policy_kernels(), &eigenq::kernels::detail::scalar_policy_kernels);
}

// Rows of edge values (ties at every scale step, saturation, NaN, Inf, denormals, zeros) and
// random ones, with an odd column count so no row is a multiple of a vector width.
RowMatrix edge_and_random_rows() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  RowMatrix x(4, 37);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  const float edges[] = {0.5f, -0.5f, 1.5f, -2.5f, 1e30f, -1e30f, nan, inf, -inf, 1e-41f, -0.0f, 0.0f};
  for (int k = 0; k < 12; ++k) x(k % 4, 3 * k) = edges[k] * (k < 4 ? 3.0f / 127.0f : 1.0f);
  return x;
}

template <class Code>
void expect_bulk_equals_per_value(const eigenq::Linear<Code>& policy) {
  const RowMatrix x = edge_and_random_rows();
  const RowMatrix fit = RowMatrix::Random(4, 37) * 3.0f;  // finite data to fit parameters on
  for (bool per_channel : {false, true}) {
    SCOPED_TRACE(per_channel ? "per channel" : "per tensor");
    const std::vector<typename eigenq::Linear<Code>::Params> params =
        per_channel ? eigenq::Quantizer<eigenq::Linear<Code>, eigenq::PerChannel>(policy, eigenq::PerChannel{0})
                          .fit(fit)
                    : eigenq::Quantizer<eigenq::Linear<Code>, eigenq::PerTensor>(policy).fit(fit);
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      const Eigen::Index cols = x.cols();
      std::vector<Code> codes(static_cast<std::size_t>(cols));
      std::vector<float> back(static_cast<std::size_t>(cols));
      // A row with one parameter set (step 0) and the same row with one set per element (step 1).
      std::vector<typename eigenq::Linear<Code>::Params> per_element(static_cast<std::size_t>(cols),
                                                                   params[per_channel ? r : 0]);
      for (int step : {0, 1}) {
        const auto* p = step == 0 ? &params[per_channel ? r : 0] : per_element.data();
        policy.quantize_run(&x(r, 0), cols, p, step, codes.data());
        policy.dequantize_run(codes.data(), cols, p, step, back.data());
        std::vector<Code> expected_codes(static_cast<std::size_t>(cols));
        std::vector<float> expected_back(static_cast<std::size_t>(cols));
        for (Eigen::Index c = 0; c < cols; ++c) {
          const auto& pc = step == 0 ? *p : p[c];
          const auto k = static_cast<std::size_t>(c);
          expected_codes[k] = policy.quantize(x(r, c), pc);
          expected_back[k] = policy.dequantize(expected_codes[k], pc);
        }
        EXPECT_TRUE(eigenq_test::same_bits(expected_codes, codes)) << "row " << r << ", step " << step;
        EXPECT_TRUE(eigenq_test::same_bits(expected_back, back)) << "row " << r << ", step " << step;
      }
    }
  }
}

TEST(QuantizeHeader, ScalarBulkLoopsGiveThePerValueBits) {
  expect_bulk_equals_per_value(eigenq::Linear<std::int8_t>::symmetric());
  expect_bulk_equals_per_value(eigenq::Linear<std::uint8_t>::affine());
  expect_bulk_equals_per_value(eigenq::Linear<std::int8_t>::symmetric(eigenq::Profile::onnx));
  expect_bulk_equals_per_value(eigenq::Linear<std::uint8_t>::affine(eigenq::Profile::tflite));
}

TEST(QuantizeHeader, QuantizeAndDequantizeAMatrix) {
  // [-1, 0.5, 1] symmetric int8 per tensor, PyTorch's parameters: scale = 1 / 127.5 in float32,
  // x * (1 / scale) = [-127.49999, 63.75, 127.49999], rounded half to even: [-127, 64, 127].
  Eigen::MatrixXf w(1, 3);
  w << -1.0f, 0.5f, 1.0f;
  const auto q = eigenq::quantize(w, eigenq::Linear<std::int8_t>::symmetric());
  const float scale = q.params()[0].scale;
  EXPECT_EQ(scale, 1.0f / 127.5f);
  const std::vector<std::int8_t> codes = q.unpacked_codes();
  EXPECT_EQ(codes, (std::vector<std::int8_t>{-127, 64, 127}));
  const Eigen::MatrixXf back = eigenq::dequantize<Eigen::MatrixXf>(q);
  EXPECT_EQ(back(0, 0), -127 * scale);
  EXPECT_EQ(back(0, 1), 64 * scale);
  EXPECT_EQ(back(0, 2), 127 * scale);
}

}  // namespace
