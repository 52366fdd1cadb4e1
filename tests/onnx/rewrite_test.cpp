// eigenq::onnx::rewrite (MatMul and Gemm weights as QDQ, dynamic or MatMulNBits graphs), checked
// against ONNX Runtime's outputs for the rewritten bytes (export_onnxruntime.txt, cases
// rewrite_*), and the tool's `quantize IN.onnx OUT.onnx` and `inspect FILE.onnx` with bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <eigenq/calibrate/calibration_stats.hpp>
#include <eigenq/kernels/elementwise.hpp>
#include <eigenq/methods/awq.hpp>
#include <eigenq/methods/gptq.hpp>
#include <eigenq/methods/weighted_rounding.hpp>
#include <eigenq/onnx/evaluate.hpp>
#include <eigenq/onnx/export.hpp>
#include <eigenq/onnx/rewrite.hpp>
#include <eigenq/policy/choose_params.hpp>

#include "golden/golden_file.hpp"
#include "onnx/onnx_models.hpp"

namespace {

namespace ox = eigenq::onnx;
using eigenq_onnx_test::Matrix;

const std::string kDir = EIGENQ_TEST_DATA_DIR;

Matrix inputs() { return eigenq_onnx_test::digits_inputs(kDir + "/../examples/data/digits.csv", 16, 8, 99); }

struct Variant {
  const char* name;
  ox::Format format;
  int bits;
  bool symmetric;
  bool per_channel;
  eigenq::Index block;
  const char* method = "rtn";  // gptq, awq, weighted: statistics from the digits inputs
  bool activations = false;    // qdq: the inputs' ranges from 256 digits images
};

const Variant kVariants[] = {
    {"qdq_channel", ox::Format::qdq, 8, true, true, 32},
    {"qdq_tensor_affine", ox::Format::qdq, 8, false, false, 32},
    {"dynamic_channel", ox::Format::dynamic, 8, true, true, 32},
    {"dynamic_tensor", ox::Format::dynamic, 8, true, false, 32},
    {"nbits4_g32", ox::Format::matmulnbits, 4, true, true, 32},
    {"nbits4_g16_affine", ox::Format::matmulnbits, 4, false, true, 16},
    {"nbits8_g64", ox::Format::matmulnbits, 8, true, true, 64},
    {"nbits2_g16_affine", ox::Format::matmulnbits, 2, false, true, 16},
    {"nbits4_g32_gptq", ox::Format::matmulnbits, 4, true, true, 32, "gptq"},
    {"qdq_channel_awq", ox::Format::qdq, 8, true, true, 32, "awq"},
    {"dynamic_channel_weighted", ox::Format::dynamic, 8, true, true, 32, "weighted"},
    {"qdq_channel_activations", ox::Format::qdq, 8, true, true, 32, "rtn", true},
};
constexpr int kVariantCount = static_cast<int>(sizeof(kVariants) / sizeof(kVariants[0]));

// A source model and its biases (the weights come back from the rewrite).
struct Source {
  std::string name;
  ::onnx::ModelProto model;
  Eigen::VectorXf b1, b2;
};

std::vector<Source> sources() {
  std::vector<Source> s;
  const eigenq::nn::Sequential mlp = eigenq_onnx_test::model_cases().at(0).make();  // Gemm, Relu, Gemm
  s.push_back({"gemm", ox::to_model(mlp), dynamic_cast<const eigenq::nn::FloatLinear&>(mlp[0]).bias(),
               dynamic_cast<const eigenq::nn::FloatLinear&>(mlp[2]).bias()});
  const auto mm = eigenq_onnx_test::matmul_mlp();  // MatMul, Add, Relu, MatMul, Add
  s.push_back({"matmul", mm.model, mm.b1, mm.b2});
  return s;
}

// Calibration statistics for a weight with `in` inputs: the first `in` pixels of the 16 digits
// images (multiples of 1/16: every sum is exact, so the codes are the same with any compiler).
eigenq::CalibrationStats digits_stats(eigenq::Index in) {
  const Matrix x = eigenq_onnx_test::digits_inputs(kDir + "/../examples/data/digits.csv", 16, 0, 1);
  eigenq::CalibrationStatsObserver obs(in);
  obs.observe(x.topRows(16).leftCols(in));
  return obs.stats();
}

ox::RewriteOptions options_for(const Variant& v, const ::onnx::ModelProto& source) {
  ox::RewriteOptions o;
  if (v.activations) {
    std::map<std::string, ox::ValueRange> ranges;
    ox::observe_ranges(source, {{"input", eigenq_onnx_test::digits_calibration()}}, ranges);
    for (const auto& n : ox::weighted_nodes(source)) {
      const std::string& a = source.graph().node(n.index).input(0);
      o.activation_ranges[a] = {ranges.at(a).min, ranges.at(a).max};
    }
  }
  const std::string method = v.method;
  if (method != "rtn") {
    o.quantize = [method](const ox::WeightedNode& n, const Eigen::MatrixXf& w, const eigenq::Linear<std::int8_t>& p,
                          const eigenq::Granularity& g) -> ox::WeightChoice {
      const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::Granularity> q(p, g);
      const eigenq::CalibrationStats st = digits_stats(n.in);
      if (method == "gptq") return {eigenq::gptq(w, st, q).weights, {}};
      if (method == "weighted") return {eigenq::weighted_rounding(w, st, q).weights, {}};
      auto r = eigenq::awq(w, st, q);
      return {std::move(r.weights), std::move(r.input_scales)};
    };
  }
  o.format = v.format;
  o.bits = v.bits;
  o.symmetric = v.symmetric;
  o.per_channel = v.per_channel;
  o.block_size = v.block;
  return o;
}

Matrix reference(const Matrix& x, const ox::RewriteResult& r, const Source& s, ox::Format f) {
  Matrix h = eigenq_onnx_test::rewritten_forward(x, r.rewritten.at(0), s.b1, f).cwiseMax(0.0f);
  return eigenq_onnx_test::rewritten_forward(h, r.rewritten.at(1), s.b2, f);
}

TEST(OnnxRewrite, WritesFilesForTheGoldenScript) {
  const char* dir = std::getenv("EIGENQ_ONNX_EXPORT_DIR");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "EIGENQ_ONNX_EXPORT_DIR not set";
  for (const Source& s : sources()) {
    for (const Variant& v : kVariants) {
      auto m = s.model;
      (void)ox::rewrite(m, options_for(v, s.model));
      ox::write_file(std::string(dir) + "/rewrite_" + s.name + "_" + v.name + ".onnx", ox::serialize(m));
    }
  }
}

TEST(OnnxRewrite, OrtRunsTheRewrittenModelsAsEigenqComputesThem) {
  const auto golden = eigenq_test::load_golden(kDir + "/onnx/export_onnxruntime.txt");
  const Matrix x = inputs();
  int checked = 0;
  for (const Source& s : sources()) {
    for (const Variant& v : kVariants) {
      const std::string name = "rewrite_" + s.name + "_" + v.name;
      SCOPED_TRACE(name);
      auto m = s.model;
      const ox::RewriteResult r = ox::rewrite(m, options_for(v, s.model));
      ASSERT_EQ(r.rewritten.size(), 2u);
      const std::string bytes = ox::serialize(m);
      const auto& gc = eigenq_test::find_case(golden, name);
      ASSERT_EQ(eigenq_onnx_test::fnv1a(bytes.data(), bytes.size()), gc.text("model_fnv1a"))
          << "the rewritten bytes changed; re-run tests/onnx/make_export_golden.mjs";
      const Matrix y = reference(x, r, s, v.format);
      const std::vector<float> ort = gc.floats("output");
      ASSERT_EQ(static_cast<Eigen::Index>(ort.size()), y.size());
      double worst = 0.0;
      for (Eigen::Index i = 0; i < y.rows(); ++i) {
        const double row_max = y.row(i).cwiseAbs().maxCoeff();
        for (Eigen::Index c = 0; c < y.cols(); ++c) {
          const double d = std::abs(double(ort[static_cast<std::size_t>(i * y.cols() + c)]) - double(y(i, c)));
          worst = std::max(worst, d / std::max(row_max, 1e-30));
        }
      }
      EXPECT_LE(worst, 1e-5);
      std::printf("%s: largest difference %.3g of the row's largest magnitude; weights %llu -> %llu bytes\n",
                  name.c_str(), worst,
                  static_cast<unsigned long long>(r.rewritten[0].bytes_before + r.rewritten[1].bytes_before),
                  static_cast<unsigned long long>(r.rewritten[0].bytes_after + r.rewritten[1].bytes_after));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2 * kVariantCount);
}

TEST(OnnxRewrite, KeepsEverythingElse) {
  const auto src = eigenq_onnx_test::matmul_mlp();
  auto m = src.model;
  (void)ox::rewrite(m, options_for(kVariants[4], m));
  EXPECT_EQ(m.metadata_props_size(), 1);
  EXPECT_EQ(m.producer_name(), "eigenq tests");
  EXPECT_EQ(ox::onnx_opset_of(m), 13);
  ASSERT_EQ(m.graph().input_size(), 1);
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(m.graph().output(0).name(), "output");
  int relu = 0, add = 0, nbits = 0, matmul = 0;
  for (const auto& n : m.graph().node()) {
    relu += n.op_type() == "Relu";
    add += n.op_type() == "Add";
    nbits += n.op_type() == "MatMulNBits";
    matmul += n.op_type() == "MatMul";
  }
  EXPECT_EQ(relu, 1);
  EXPECT_EQ(add, 2);
  EXPECT_EQ(nbits, 2);
  EXPECT_EQ(matmul, 0);
  for (const auto& t : m.graph().initializer()) EXPECT_NE(t.name(), "fc1.weight");  // the float weight is gone
}

TEST(OnnxRewrite, SelectsNodesAndSkipsWhatItCannotRewrite) {
  auto m = eigenq_onnx_test::matmul_mlp().model;
  ox::RewriteOptions o = options_for(kVariants[0], m);
  o.select = [](const ox::WeightedNode& n) { return n.node == "fc2/MatMul"; };
  const auto r = ox::rewrite(m, o);
  ASSERT_EQ(r.rewritten.size(), 1u);
  EXPECT_EQ(r.rewritten[0].site.weight, "fc2.weight");
  // A Gemm with alpha != 1 is kept by the dynamic format.
  auto g = ox::to_model(eigenq_onnx_test::model_cases().at(0).make());
  auto* a = g.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("alpha");
  a->set_type(::onnx::AttributeProto::FLOAT);
  a->set_f(2.0f);
  const auto rg = ox::rewrite(g, options_for(kVariants[2], g));
  EXPECT_EQ(rg.rewritten.size(), 1u);
  ASSERT_EQ(rg.skipped.size(), 1u);
  EXPECT_EQ(rg.skipped[0].reason, "Gemm with alpha or beta other than 1");
}

TEST(OnnxModelFile, ParseRejectsBadBytes) {
  const std::string bytes = ox::serialize(eigenq_onnx_test::matmul_mlp().model);
  EXPECT_NO_THROW((void)ox::parse_model(bytes, "m.onnx"));
  EXPECT_THROW((void)ox::parse_model(bytes.substr(0, bytes.size() / 2), "m.onnx"), eigenq::FormatError);
  EXPECT_THROW((void)ox::parse_model("", "m.onnx"), eigenq::FormatError);
  EXPECT_THROW((void)ox::parse_model(std::string(64, '\xff'), "m.onnx"), eigenq::FormatError);
  auto old = eigenq_onnx_test::matmul_mlp().model;
  old.mutable_opset_import(0)->set_version(11);
  try {
    (void)ox::parse_model(ox::serialize(old), "m.onnx");
    FAIL();
  } catch (const eigenq::FormatError& e) {
    EXPECT_STREQ(e.what(), "m.onnx: opset_import ai.onnx version 11 is not supported (13..17)");
  }
}

}  // namespace
