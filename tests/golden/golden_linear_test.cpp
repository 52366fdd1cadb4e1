// Bit-exact agreement with PyTorch (tests/golden/linear_pytorch.txt, written by
// make_linear_golden.py with Debian's python3-torch; see README.md there).
#include "golden_file.hpp"

#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq_test::GoldenCase;

const std::vector<GoldenCase>& linear_cases() {
  static const std::vector<GoldenCase> cases =
      eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/golden/linear_pytorch.txt");
  return cases;
}

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || eigenq_test::bits_of(a) == eigenq_test::bits_of(b);
}

template <class Code>
eigenq::Linear<Code> policy_for(const GoldenCase& c) {
  const std::string qs = c.text("qscheme");
  const bool symmetric = qs.find("symmetric") != std::string::npos;
  auto pol = eigenq::Linear<Code>(symmetric ? eigenq::Symmetry::symmetric : eigenq::Symmetry::affine);
  const auto qmin = static_cast<std::int32_t>(c.integer("quant_min"));
  const auto qmax = static_cast<std::int32_t>(c.integer("quant_max"));
  if (c.has("custom_range") && c.integer("custom_range") == 1) {
    pol.with_range(qmin, qmax);  // the file gives the effective (post reduce_range) range
  } else if (c.has("reduce_range") && c.integer("reduce_range") == 1) {
    pol.with_reduce_range();
  }
  return pol;
}

eigenq::Granularity granularity_of(const GoldenCase& c) {
  if (c.text("qscheme").rfind("per_channel", 0) == 0) {
    return eigenq::PerChannel{static_cast<int>(c.integer("axis"))};
  }
  return eigenq::PerTensor{};
}

template <class Code>
void check_quantize_case(const GoldenCase& c, int& elements_checked) {
  SCOPED_TRACE(c.name);
  const auto pol = policy_for<Code>(c);
  const bool observed = c.text("observer") != "none";
  if (observed) {
    ASSERT_EQ(pol.range(), (eigenq::CodeRange{static_cast<std::int32_t>(c.integer("quant_min")),
                                             static_cast<std::int32_t>(c.integer("quant_max"))}));
  }
  const std::vector<float> input = c.floats("input");
  const std::vector<std::int64_t> shape64 = c.ints("shape");
  const eigenq::Shape shape(shape64.begin(), shape64.end());
  const eigenq::Granularity g = granularity_of(c);
  const eigenq::RowMajorView view(input.data(), shape);
  const eigenq::Quantizer<eigenq::Linear<Code>, eigenq::Granularity> quantizer(pol, g);

  std::vector<eigenq::LinearParams> params;
  const std::vector<float> scales = c.floats("scale");
  const std::vector<std::int64_t> zps = c.ints("zero_point");
  if (observed) {
    // The observed ranges and the parameters chosen from them.
    const eigenq::Ranges r = eigenq::observe_ranges(view, eigenq::ParamLayout(shape, g));
    ASSERT_EQ(r.min.size(), c.floats("observed_min").size());
    for (std::size_t k = 0; k < r.min.size(); ++k) {
      // By value: which zero a min of {-0.0, +0.0} reports is unspecified.
      EXPECT_EQ(r.min[k], c.floats("observed_min")[k]) << "min of group " << k;
      EXPECT_EQ(r.max[k], c.floats("observed_max")[k]) << "max of group " << k;
    }
    params = quantizer.fit(view);
    ASSERT_EQ(params.size(), scales.size());
    for (std::size_t k = 0; k < scales.size(); ++k) {
      EXPECT_TRUE(same_float(params[k].scale, scales[k]))
          << "scale " << k << ": ours " << params[k].scale << " torch " << scales[k];
      EXPECT_EQ(params[k].zero_point, zps[k]) << "zero point " << k;
    }
  }
  // Codes and dequantized values for torch's parameters.
  params.clear();
  for (std::size_t k = 0; k < scales.size(); ++k) {
    params.push_back({scales[k], static_cast<std::int32_t>(zps[k])});
  }
  const auto q = quantizer.quantize(view, params);
  const auto codes = q.unpacked_codes();
  const std::vector<float> back = q.dequantize_flat();
  const std::vector<std::int64_t> torch_codes = c.ints("codes");
  const std::vector<float> torch_dequant = c.floats("dequant");
  const bool ub = c.has("torch_ub");
  const eigenq::CodeRange range = pol.range();
  const eigenq::ParamLayout layout(shape, g);
  layout.for_each([&](Index i, Index p) {
    const auto k = static_cast<std::size_t>(i);
    const float x = input[k];
    const auto& prm = params[static_cast<std::size_t>(p)];
    const float steps = x * (1.0f / prm.scale);  // PyTorch's product
    if (ub && !(std::fabs(steps) < 2147483648.0f)) {
      // torch is undefined here; our contract: saturate, NaN to the zero point.
      const int expected = std::isnan(steps) ? prm.zero_point : (steps > 0 ? range.qmax : range.qmin);
      EXPECT_EQ(codes[k], expected) << "element " << i << " x " << x;
      ++elements_checked;
      return;
    }
    // torch clamps codes to the dtype; eigenq to the quantizer's own range.
    const std::int64_t expected = std::min<std::int64_t>(std::max<std::int64_t>(torch_codes[k], range.qmin), range.qmax);
    EXPECT_EQ(codes[k], expected) << "element " << i << " x " << x;
    const float expected_back = expected == torch_codes[k] ? torch_dequant[k]
                                                           : c.floats("fake_quant")[k];
    EXPECT_TRUE(same_float(back[k], expected_back))
        << "element " << i << ": ours " << back[k] << " torch " << expected_back;
    ++elements_checked;
  });
}

// One test per golden case, named after it.
std::vector<std::size_t> linear_case_indices(const std::string& kind) {
  return eigenq_test::case_indices(linear_cases(), kind);
}

std::string linear_test_name(const testing::TestParamInfo<std::size_t>& info) {
  return eigenq_test::case_test_name(linear_cases(), info.param);
}

class GoldenQuantize : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenQuantize, BitExactWithPyTorch) {
  const GoldenCase& c = linear_cases()[GetParam()];
  int elements = 0;
  if (c.text("dtype") == "qint8") check_quantize_case<std::int8_t>(c, elements);
  else check_quantize_case<std::uint8_t>(c, elements);
  EXPECT_GT(elements, 0);
}

INSTANTIATE_TEST_SUITE_P(Linear, GoldenQuantize, testing::ValuesIn(linear_case_indices("quantize")),
                         linear_test_name);

TEST(GoldenPyTorch, FileHasEveryKindOfCase) {
  EXPECT_GE(linear_case_indices("quantize").size(), 150u);
  EXPECT_GE(linear_case_indices("params").size(), 13u);
}

template <class Code>
void check_params_case(const GoldenCase& c, int& pairs) {
  SCOPED_TRACE(c.name);
  const auto pol = policy_for<Code>(c);
  ASSERT_EQ(pol.range(), (eigenq::CodeRange{static_cast<std::int32_t>(c.integer("quant_min")),
                                           static_cast<std::int32_t>(c.integer("quant_max"))}));
  const auto mins = c.floats("observed_min");
  const auto maxs = c.floats("observed_max");
  const auto scales = c.floats("scale");
  const auto zps = c.ints("zero_point");
  for (std::size_t i = 0; i < mins.size(); ++i) {
    // Includes ranges wider than FLT_MAX, where torch's affine scale is +inf.
    const auto p = pol.fit(mins[i], maxs[i]);
    EXPECT_TRUE(same_float(p.scale, scales[i]))
        << "pair " << i << " [" << mins[i] << ", " << maxs[i] << "]: ours " << p.scale
        << " torch " << scales[i];
    EXPECT_EQ(p.zero_point, zps[i]) << "pair " << i << " [" << mins[i] << ", " << maxs[i] << "]";
    ++pairs;
  }
}

class GoldenParams : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenParams, ParameterChoiceBitExactWithPyTorch) {
  const GoldenCase& c = linear_cases()[GetParam()];
  int pairs = 0;
  if (c.text("dtype") == "qint8") check_params_case<std::int8_t>(c, pairs);
  else check_params_case<std::uint8_t>(c, pairs);
  EXPECT_GE(pairs, 300);
}

INSTANTIATE_TEST_SUITE_P(Linear, GoldenParams, testing::ValuesIn(linear_case_indices("params")), linear_test_name);

TEST(GoldenPyTorch, SeedExampleMatchesCorrection) {
  for (const GoldenCase& c : linear_cases()) {
    if (c.name.rfind("seed_example", 0) != 0) continue;
    EXPECT_EQ(c.ints("zero_point"), (std::vector<std::int64_t>{127}));
    EXPECT_EQ(c.ints("codes"), (std::vector<std::int64_t>{0, 191, 254}));
    return;
  }
  FAIL() << "seed example case missing";
}

}  // namespace
