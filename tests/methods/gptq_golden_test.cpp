// GPTQ against the reference algorithm: tests/golden/gptq_reference.txt, written by a float64
// PyTorch transcription of IST-DASLab/gptq's fasterquant (tests/golden/make_gptq_golden.py).
// Required: the same codes on >= 99.9% of the weights, and a layer error ||(W - W^) X^T||^2
// within 0.1% of the reference's, in both precisions. The figures are printed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "eigenq/methods/gptq.hpp"
#include "eigenq/policy/linear.hpp"
#include "golden/golden_file.hpp"
#include "methods/methods_test_util.hpp"

namespace {

using eigenq::Index;

std::vector<Index> index_list(const eigenq_test::GoldenCase& c, const std::string& key) {
  const auto& t = c.tokens(key);
  std::vector<Index> out;
  for (std::size_t i = 1; i < t.size(); ++i) out.push_back(std::stoll(t[i]));
  EXPECT_EQ(out.size(), static_cast<std::size_t>(std::stoll(t[0]))) << key;
  return out;
}

struct Figures {
  double codes_identical = 0.0;  // fraction
  double params_identical = 0.0;
  double error_ratio = 0.0;      // eigenq / reference
  double estimate_ratio = 0.0;   // the report's layer error (from the algorithm's terms) / exact
  int retries = 0;
};

template <class Policy>
Figures run_case(const eigenq_test::GoldenCase& c, eigenq::GptqPrecision precision) {
  const auto shape = index_list(c, "shape");
  const Index out = shape[0];
  const Index in = shape[1];
  const auto data = eigenq_test::make_golden_data(static_cast<std::uint64_t>(c.integer("seed")), out, in,
                                                  c.integer("samples"), index_list(c, "dead"),
                                                  index_list(c, "outliers"), c.integer("flat_columns") != 0);
  const Eigen::MatrixXd hx = data.x.transpose() * data.x;
  Eigen::MatrixXd h = hx;
  h.diagonal().array() -= std::stod(c.tokens("diagonal_shift")[0]);

  const int bits = static_cast<int>(c.integer("bits"));
  const Index group = c.integer("group");
  Policy policy = c.integer("symmetric") ? Policy::symmetric() : Policy::affine();
  policy.with_bits(bits);
  eigenq::GptqOptions o;
  o.act_order = c.integer("act_order") != 0;
  o.static_groups = c.integer("static_groups") != 0;
  o.precision = precision;
  const auto run = [&](auto g) { return eigenq::gptq(data.w, h, eigenq::Quantizer<Policy, decltype(g)>(policy, g), o); };
  const auto r = group > 0 ? run(eigenq::PerGroup{-1, group}) : run(eigenq::PerChannel{0});

  Figures f;
  f.retries = r.report.damp_retries;
  EXPECT_EQ(r.report.damp_retries, c.integer("damp_retries")) << c.name;
  EXPECT_DOUBLE_EQ(r.report.percdamp, std::stod(c.tokens("percdamp")[0])) << c.name;
  EXPECT_EQ(r.report.diagonal_fallback, c.integer("diagonal_fallback") != 0) << c.name;
  EXPECT_EQ(r.report.dead_inputs, index_list(c, "dead")) << c.name;

  const std::string& hex = c.tokens("codes_hex")[0];
  EXPECT_EQ(hex.size(), static_cast<std::size_t>(2 * out * in));
  const auto codes = r.weights.unpacked_codes();
  const int qmin = policy.range().qmin;
  Index same = 0;
  for (Index i = 0; i < out * in; ++i) {
    const int ref = std::stoi(hex.substr(static_cast<std::size_t>(2 * i), 2), nullptr, 16) + qmin;
    same += (ref == codes[static_cast<std::size_t>(i)]);
  }
  f.codes_identical = static_cast<double>(same) / static_cast<double>(out * in);

  const auto scales = c.floats("scale");
  const auto& zp_tokens = c.tokens("zero_point");
  EXPECT_EQ(scales.size(), r.weights.params().size());
  Index params_same = 0;
  for (std::size_t k = 0; k < scales.size() && k < r.weights.params().size(); ++k) {
    const auto& p = r.weights.params()[k];
    params_same += (p.scale == scales[k] && p.zero_point == std::stoi(zp_tokens[k + 1]));
  }
  f.params_identical = static_cast<double>(params_same) / static_cast<double>(scales.size());

  const Eigen::MatrixXf w_hat = r.weights.template dequantize<Eigen::MatrixXf>();
  const double err = eigenq::layer_error(data.w, w_hat, hx);
  const double ref = std::stod(c.tokens("layer_error")[0]);
  f.error_ratio = err / ref;
  const double exact_given_h = eigenq::layer_error(data.w, w_hat, h);
  f.estimate_ratio = r.report.layer_error / exact_given_h;
  return f;
}

TEST(GptqGolden, MatchesTheReferenceTranscription) {
  const auto cases = eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/golden/gptq_reference.txt");
  ASSERT_GE(cases.size(), 10u);
  std::printf("%-38s %5s %10s %10s %12s %12s %8s\n", "case", "prec", "codes=%", "params=%", "err/ref", "est/exact",
              "retries");
  for (const auto& c : cases) {
    for (auto precision : {eigenq::GptqPrecision::f64, eigenq::GptqPrecision::f32}) {
      const Figures f = c.integer("symmetric") ? run_case<eigenq::Linear<std::int8_t>>(c, precision)
                                               : run_case<eigenq::Linear<std::uint8_t>>(c, precision);
      std::printf("%-38s %5s %10.4f %10.4f %12.8f %12.8f %8d\n", c.name.c_str(), eigenq::to_string(precision),
                  100.0 * f.codes_identical, 100.0 * f.params_identical, f.error_ratio, f.estimate_ratio, f.retries);
      EXPECT_GE(f.codes_identical, 0.999) << c.name << " " << eigenq::to_string(precision);
      EXPECT_NEAR(f.error_ratio, 1.0, 1e-3) << c.name << " " << eigenq::to_string(precision);
      if (std::stod(c.tokens("diagonal_shift")[0]) != 0.0) {
        // An indefinite H (shifted on purpose) has no meaningful "layer error" of its own.
      } else if (precision == eigenq::GptqPrecision::f64) {
        EXPECT_NEAR(f.estimate_ratio, 1.0, 1e-6) << c.name;
      } else {
        EXPECT_NEAR(f.estimate_ratio, 1.0, 1e-2) << c.name;
      }
    }
  }
}

}  // namespace
