// Bit-exact agreement of eigenq's `onnx` profile with ONNX Runtime
// (tests/golden/linear_onnxruntime.txt, written by make_onnx_golden.mjs with onnxruntime-node;
// see README.md there).
//
//   quantize     QuantizeLinear (opset 13, per tensor / per axis): Linear<Code>::affine(Profile::onnx)
//                with ORT's scale and zero point gives ORT's codes, dequantize gives
//                DequantizeLinear's floats. `scheme symmetric` cases also run the profile's
//                symmetric int8 weights, whose range is [-127, 127] (ORT saturates to -128).
//   dequantize   DequantizeLinear on chosen codes (all 256, extreme scales).
//   dynamic      DynamicQuantizeLinear: choose_params_onnx_dynamic on eigenq's min/max gives
//                ORT's scale and zero point, and quantizing with them gives ORT's codes.
//   dynamic_params  DynamicQuantizeLinear's parameters for (min, max) pairs.
//
// The one documented exception: where x / scale is NaN (NaN input, 0/0, inf/inf) ORT returns
// the code range's minimum and eigenq the zero point. Those elements are skipped explicitly,
// counted, and checked against eigenq's own contract.
#include "golden_file.hpp"

#include "eigenq/calibrate/minmax.hpp"
#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::LinearParams;
using eigenq::Profile;
using eigenq_test::GoldenCase;

const std::vector<GoldenCase>& onnx_cases() {
  static const std::vector<GoldenCase> cases =
      eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/golden/linear_onnxruntime.txt");
  return cases;
}

// Bit-exact, except that any NaN equals any NaN (ORT writes the x86 default NaN ffc00000).
bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || eigenq_test::bits_of(a) == eigenq_test::bits_of(b); }

std::string hex(float f) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(eigenq_test::bits_of(f)));
  return buf;
}

eigenq::Shape shape_of(const GoldenCase& c) {
  const std::vector<std::int64_t> s = c.ints("shape");
  return eigenq::Shape(s.begin(), s.end());
}

eigenq::Granularity granularity_of(const GoldenCase& c) {
  const auto axis = c.integer("axis");
  if (axis >= 0) return eigenq::PerChannel{static_cast<int>(axis)};
  return eigenq::PerTensor{};
}

std::vector<LinearParams> params_of(const GoldenCase& c) {
  const std::vector<float> scales = c.floats("scale");
  const std::vector<std::int64_t> zps = c.ints("zero_point");
  std::vector<LinearParams> out;
  for (std::size_t k = 0; k < scales.size(); ++k) out.push_back({scales[k], static_cast<std::int32_t>(zps[k])});
  return out;
}

// eigenq's bulk quantization (the dispatched SIMD kernels for 8-bit codes).
template <class Code>
std::vector<std::int64_t> eigenq_codes(const eigenq::Linear<Code>& pol, const GoldenCase& c,
                                       const std::vector<float>& input, const std::vector<LinearParams>& params) {
  const eigenq::Shape shape = shape_of(c);
  const eigenq::Quantizer<eigenq::Linear<Code>, eigenq::Granularity> quantizer(pol, granularity_of(c));
  const auto q = quantizer.quantize(eigenq::RowMajorView(input.data(), shape), params);
  const auto codes = q.unpacked_codes();
  return std::vector<std::int64_t>(codes.begin(), codes.end());
}

// eigenq's bulk dequantization of given codes, one dequantize_run per run of the layout.
template <class Code>
std::vector<float> eigenq_dequant(const eigenq::Linear<Code>& pol, const GoldenCase& c,
                                  const std::vector<std::int64_t>& codes, const std::vector<LinearParams>& params) {
  std::vector<Code> q(codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) q[i] = static_cast<Code>(codes[i]);
  std::vector<float> out(codes.size());
  const eigenq::ParamLayout layout(shape_of(c), granularity_of(c));
  layout.for_each_run([&](Index first, Index n, Index pbase, Index pstep) {
    pol.dequantize_run(q.data() + first, n, params.data() + pbase, pstep, out.data() + first);
  });
  return out;
}

// Element i's parameters.
std::vector<LinearParams> per_element(const GoldenCase& c, const std::vector<LinearParams>& params) {
  const eigenq::ParamLayout layout(shape_of(c), granularity_of(c));
  std::vector<LinearParams> out(static_cast<std::size_t>(eigenq::element_count(shape_of(c))));
  layout.for_each([&](Index i, Index p) { out[static_cast<std::size_t>(i)] = params[static_cast<std::size_t>(p)]; });
  return out;
}

struct Counts {
  int checked = 0;
  int nan_quotient = 0;  // skipped: ORT gives the range minimum, eigenq the zero point
};

// Codes and dequantized values of `pol` against the expected ones. Expected codes are ORT's,
// clamped to the policy's range (the identity except for symmetric int8).
template <class Code>
void compare_quantize(const eigenq::Linear<Code>& pol, const GoldenCase& c, const std::vector<float>& input,
                      const std::vector<std::int64_t>& ort_codes, const std::vector<float>& ort_dequant,
                      Counts& counts) {
  const std::vector<LinearParams> params = params_of(c);
  const std::vector<LinearParams> elem = per_element(c, params);
  const std::vector<std::int64_t> ours = eigenq_codes(pol, c, input, params);
  const std::vector<float> back = eigenq_dequant(pol, c, ours, params);
  const eigenq::CodeRange range = pol.range();
  ASSERT_EQ(ours.size(), ort_codes.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    const float x = input[i];
    const LinearParams& p = elem[i];
    const std::int64_t one = pol.quantize(x, p);  // the per-value path
    EXPECT_EQ(one, ours[i]) << "element " << i << ": quantize() and the bulk kernel differ";
    if (std::isnan(x / p.scale)) {
      // ORT: the range minimum (MLAS clamps with maxps, which returns its second operand for
      // NaN). eigenq's contract: the zero point, which dequantizes to 0.
      EXPECT_EQ(ort_codes[i], std::numeric_limits<Code>::min()) << "element " << i << " x " << hex(x);
      EXPECT_EQ(ours[i], p.zero_point) << "element " << i << " x " << hex(x);
      ++counts.nan_quotient;
      continue;
    }
    const std::int64_t expected = std::min<std::int64_t>(std::max<std::int64_t>(ort_codes[i], range.qmin), range.qmax);
    EXPECT_EQ(ours[i], expected) << "element " << i << " x " << hex(x) << " (" << x << ") scale " << hex(p.scale)
                                 << " zp " << p.zero_point;
    EXPECT_TRUE(same_float(back[i], ort_dequant[i]))
        << "element " << i << " code " << ours[i] << ": ours " << hex(back[i]) << " ORT " << hex(ort_dequant[i]);
    EXPECT_TRUE(same_float(pol.dequantize(static_cast<Code>(ours[i]), p), back[i])) << "element " << i;
    ++counts.checked;
  }
}

int nan_inputs(const std::vector<float>& input) {
  return static_cast<int>(std::count_if(input.begin(), input.end(), [](float v) { return std::isnan(v); }));
}

template <class Code>
void check_quantize_case(const GoldenCase& c, Counts& counts) {
  const std::vector<float> input = c.floats("input");
  const std::vector<std::int64_t> codes = c.ints("codes");
  const std::vector<float> dequant = c.floats("dequant");
  ASSERT_EQ(input.size(), codes.size());
  ASSERT_EQ(input.size(), dequant.size());
  ASSERT_EQ(c.text("op"), "QuantizeLinear");

  // Affine: the code type's full range, as QuantizeLinear saturates.
  const auto affine = eigenq::Linear<Code>::affine(Profile::onnx);
  ASSERT_EQ(affine.range(), eigenq::full_range<Code>());
  {
    SCOPED_TRACE("Linear::affine(Profile::onnx)");
    compare_quantize(affine, c, input, codes, dequant, counts);
  }
  EXPECT_EQ(counts.nan_quotient, nan_inputs(input)) << "only NaN inputs may give a NaN quotient here";

  if (c.has("scheme") && c.text("scheme") == "symmetric") {
    // The profile's symmetric int8 weights: [-127, 127], zero point 0.
    const auto sym = eigenq::Linear<Code>::symmetric(Profile::onnx);
    ASSERT_EQ(sym.range(), (eigenq::CodeRange{-127, 127}));
    Counts sym_counts;
    {
      SCOPED_TRACE("Linear::symmetric(Profile::onnx)");
      compare_quantize(sym, c, input, codes, c.floats("dequant_narrow"), sym_counts);
    }
    EXPECT_EQ(sym_counts.checked, static_cast<int>(input.size()));
    if (c.text("scale_source") == "generator_amax/127") {
      // The recorded scales are compute_scale_zp's symmetric formula as the generator computes
      // it (ORT's Python tools are not run): eigenq's fit must agree with that transcription.
      const eigenq::Quantizer<eigenq::Linear<Code>, eigenq::Granularity> q(sym, granularity_of(c));
      const auto fitted = q.fit(eigenq::RowMajorView(input.data(), shape_of(c)));
      const auto recorded = params_of(c);
      ASSERT_EQ(fitted.size(), recorded.size());
      for (std::size_t k = 0; k < fitted.size(); ++k) {
        EXPECT_TRUE(same_float(fitted[k].scale, recorded[k].scale))
            << "channel " << k << ": ours " << hex(fitted[k].scale) << " generator " << hex(recorded[k].scale);
        EXPECT_EQ(fitted[k].zero_point, 0) << "channel " << k;
      }
    }
  }
}

// ---- one test per case ------------------------------------------------------------------

std::vector<std::size_t> onnx_case_indices(const std::string& kind) {
  return eigenq_test::case_indices(onnx_cases(), kind);
}

std::string onnx_test_name(const testing::TestParamInfo<std::size_t>& info) {
  return eigenq_test::case_test_name(onnx_cases(), info.param);
}

class GoldenOnnxQuantize : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenOnnxQuantize, BitExactWithOnnxRuntime) {
  const GoldenCase& c = onnx_cases()[GetParam()];
  SCOPED_TRACE(c.name);
  Counts counts;
  if (c.text("dtype") == "int8") check_quantize_case<std::int8_t>(c, counts);
  else check_quantize_case<std::uint8_t>(c, counts);
  EXPECT_GT(counts.checked, 0);
}

INSTANTIATE_TEST_SUITE_P(onnx, GoldenOnnxQuantize, testing::ValuesIn(onnx_case_indices("quantize")), onnx_test_name);

template <class Code>
void check_dequantize_case(const GoldenCase& c) {
  const auto pol = eigenq::Linear<Code>::affine(Profile::onnx);
  const std::vector<std::int64_t> codes = c.ints("codes");
  const std::vector<float> expected = c.floats("dequant");
  const std::vector<LinearParams> params = params_of(c);
  const std::vector<LinearParams> elem = per_element(c, params);
  const std::vector<float> back = eigenq_dequant(pol, c, codes, params);
  ASSERT_EQ(back.size(), expected.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    EXPECT_TRUE(same_float(back[i], expected[i]))
        << "element " << i << " code " << codes[i] << " scale " << hex(elem[i].scale) << " zp "
        << elem[i].zero_point << ": ours " << hex(back[i]) << " ORT " << hex(expected[i]);
    EXPECT_TRUE(same_float(pol.dequantize(static_cast<Code>(codes[i]), elem[i]), expected[i])) << "element " << i;
  }
}

class GoldenOnnxDequantize : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenOnnxDequantize, BitExactWithOnnxRuntime) {
  const GoldenCase& c = onnx_cases()[GetParam()];
  SCOPED_TRACE(c.name);
  ASSERT_EQ(c.text("op"), "DequantizeLinear");
  if (c.text("dtype") == "int8") check_dequantize_case<std::int8_t>(c);
  else check_dequantize_case<std::uint8_t>(c);
}

INSTANTIATE_TEST_SUITE_P(onnx, GoldenOnnxDequantize, testing::ValuesIn(onnx_case_indices("dequantize")), onnx_test_name);

class GoldenOnnxDynamic : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenOnnxDynamic, BitExactWithDynamicQuantizeLinear) {
  const GoldenCase& c = onnx_cases()[GetParam()];
  SCOPED_TRACE(c.name);
  ASSERT_EQ(c.text("op"), "DynamicQuantizeLinear");
  ASSERT_EQ(c.text("dtype"), "uint8");
  const std::vector<float> input = c.floats("input");
  const LinearParams ort = params_of(c).at(0);
  const eigenq::RowMajorView view(input.data(), shape_of(c));
  const bool finite = std::all_of(input.begin(), input.end(), [](float v) { return std::isfinite(v); });
  if (finite) {
    const eigenq::Ranges r = eigenq::observe_ranges(view, eigenq::ParamLayout(shape_of(c), eigenq::PerTensor{}));
    const LinearParams p = eigenq::choose_params_onnx_dynamic(r.min[0], r.max[0]);
    EXPECT_TRUE(same_float(p.scale, ort.scale)) << "scale: ours " << hex(p.scale) << " ORT " << hex(ort.scale);
    EXPECT_EQ(p.zero_point, ort.zero_point);
  } else {
    // eigenq's contract: calibration rejects NaN and Inf. ORT skips NaN in its min/max and
    // takes infinities into the range (scale inf); README.md records what it returns.
    EXPECT_THROW((void)eigenq::observe_ranges(view, eigenq::ParamLayout(shape_of(c), eigenq::PerTensor{})),
                 eigenq::NonFiniteError);
  }
  // Quantizing with ORT's parameters gives ORT's codes (NaN quotients excepted, see above).
  Counts counts;
  compare_quantize(eigenq::Linear<std::uint8_t>::affine(Profile::onnx), c, input, c.ints("codes"),
                   c.floats("dequant"), counts);
  EXPECT_EQ(counts.checked + counts.nan_quotient, static_cast<int>(input.size()));
}

INSTANTIATE_TEST_SUITE_P(onnx, GoldenOnnxDynamic, testing::ValuesIn(onnx_case_indices("dynamic")), onnx_test_name);

class GoldenOnnxDynamicParams : public testing::TestWithParam<std::size_t> {};

TEST_P(GoldenOnnxDynamicParams, ParameterChoiceBitExactWithDynamicQuantizeLinear) {
  const GoldenCase& c = onnx_cases()[GetParam()];
  SCOPED_TRACE(c.name);
  const auto mins = c.floats("observed_min");
  const auto maxs = c.floats("observed_max");
  const auto scales = c.floats("scale");
  const auto zps = c.ints("zero_point");
  ASSERT_GE(mins.size(), 200u);
  for (std::size_t i = 0; i < mins.size(); ++i) {
    const LinearParams p = eigenq::choose_params_onnx_dynamic(mins[i], maxs[i]);
    EXPECT_TRUE(same_float(p.scale, scales[i]))
        << "pair " << i << " [" << hex(mins[i]) << ", " << hex(maxs[i]) << "]: ours " << hex(p.scale) << " ORT "
        << hex(scales[i]);
    EXPECT_EQ(p.zero_point, zps[i]) << "pair " << i << " [" << hex(mins[i]) << ", " << hex(maxs[i]) << "]";
  }
}

// Linear<uint8_t>::affine(Profile::onnx).fit is compute_scale_zp (ORT's Python tools), not
// DynamicQuantizeLinear. Wherever the two differ, it is for one of the two documented reasons:
// compute_scale_zp's float64 zero point (the same scale, a zero point one apart) or its
// scale-1 rule for scales below FLT_MIN.
TEST_P(GoldenOnnxDynamicParams, ComputeScaleZpDiffersOnlyAsDocumented) {
  const GoldenCase& c = onnx_cases()[GetParam()];
  const auto mins = c.floats("observed_min");
  const auto maxs = c.floats("observed_max");
  const auto scales = c.floats("scale");
  const auto zps = c.ints("zero_point");
  const auto profile = eigenq::Linear<std::uint8_t>::affine(Profile::onnx);
  int zero_point_f64 = 0, tiny_scale = 0;
  for (std::size_t i = 0; i < mins.size(); ++i) {
    const LinearParams p = profile.fit(mins[i], maxs[i]);
    if (same_float(p.scale, scales[i]) && p.zero_point == zps[i]) continue;
    const double range = static_cast<double>(std::max(maxs[i], 0.0f) - std::min(mins[i], 0.0f));
    if (range / 255.0 < static_cast<double>(std::numeric_limits<float>::min())) {
      EXPECT_EQ(p.scale, 1.0f);
      EXPECT_EQ(p.zero_point, 0);
      ++tiny_scale;
    } else {
      EXPECT_TRUE(same_float(p.scale, scales[i])) << "pair " << i;
      EXPECT_EQ(std::abs(p.zero_point - zps[i]), 1) << "pair " << i;
      ++zero_point_f64;
    }
  }
  // [-1, 1]: compute_scale_zp gives 128, DynamicQuantizeLinear (like PyTorch) 127.
  EXPECT_EQ(profile.fit(-1.0f, 1.0f).zero_point, 128);
  EXPECT_EQ(eigenq::choose_params_onnx_dynamic(-1.0f, 1.0f).zero_point, 127);
  EXPECT_GT(zero_point_f64, 0);
  EXPECT_GT(tiny_scale, 0);
}

INSTANTIATE_TEST_SUITE_P(onnx, GoldenOnnxDynamicParams, testing::ValuesIn(onnx_case_indices("dynamic_params")),
                         onnx_test_name);

class GoldenOnnxFile : public testing::TestWithParam<const char*> {};

TEST_P(GoldenOnnxFile, HasCasesOfKind) {
  const std::size_t minimum = std::string(GetParam()) == "dynamic_params" ? 1u : 5u;
  EXPECT_GE(onnx_case_indices(GetParam()).size(), minimum);
}

INSTANTIATE_TEST_SUITE_P(onnx, GoldenOnnxFile, testing::Values("quantize", "dequantize", "dynamic", "dynamic_params"),
                         [](const testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
