// The eigenq tool on ONNX files: `quantize IN.onnx OUT.onnx --format ...`, `inspect FILE.onnx`,
// and bad input (exit code 2, one line naming the node or field, no output file).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/calibrate/calibration_stats.hpp>
#include <eigenq/io/calibration_stats.hpp>
#include <eigenq/io/npy.hpp>
#include <eigenq/onnx/model_file.hpp>

#include "golden/golden_file.hpp"
#include "io/cli_test_util.hpp"
#include "lm/lm_onnx.hpp"
#include "onnx/onnx_models.hpp"

namespace {

namespace ox = eigenq::onnx;
using cli_test::expect_exit_2;
using cli_test::run;

// Per test (ctest runs the cases in parallel processes): eigenq_cli_onnx_<test>_<name>.
std::string temp(const std::string& name) {
  return ::testing::TempDir() + "eigenq_cli_onnx_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
         "_" + name;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

std::string source_file() {
  const std::string path = temp("matmul_mlp.onnx");
  write_bytes(path, ox::serialize(eigenq_onnx_test::matmul_mlp().model));
  return path;
}

TEST(CliOnnx, QuantizeWritesEachFormat) {
  const std::string in = source_file();
  const std::vector<std::vector<std::string>> options = {
      {"--format", "qdq"},
      {"--format", "qdq", "--granularity", "tensor", "--scheme", "linear-affine"},
      {"--format", "dynamic"},
      {"--format", "matmulnbits"},
      {"--bits", "4", "--granularity", "group", "--group-size", "64"},
      {"--bits", "2", "--granularity", "group", "--group-size", "16", "--scheme", "linear-affine"},
  };
  for (const auto& o : options) {
    const std::string out = temp("out.onnx");
    std::remove(out.c_str());
    std::vector<std::string> args = {"quantize", in, out};
    args.insert(args.end(), o.begin(), o.end());
    const auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("fc1/MatMul"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fc2/MatMul"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("wrote " + out), std::string::npos) << r.out;
    EXPECT_NO_THROW((void)ox::load_model(out));
    std::remove(out.c_str());
  }
}

// The language model (examples/lm) as the tool quantizes it: the same bytes as the library's
// rewrite in lm_test.cpp, so ONNX Runtime's logits for those (export_onnxruntime.txt) are the
// tool's output's.
TEST(CliOnnx, QuantizesTheLanguageModelToTheBytesOrtRan) {
  const std::string in = temp("lm.onnx");
  write_bytes(in, ox::serialize(lm::to_onnx(lm::ByteGpt::load(std::string(EIGENQ_TEST_DATA_DIR) +
                                                                "/../examples/lm/data/lm.safetensors"))));
  const auto golden = eigenq_test::load_golden(std::string(EIGENQ_TEST_DATA_DIR) + "/onnx/export_onnxruntime.txt");
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"lm_qdq_channel", {}},
      {"lm_dynamic_channel", {"--format", "dynamic"}},
      {"lm_nbits4_g128", {"--bits", "4", "--granularity", "group", "--group-size", "128"}},
      {"lm_nbits4_g32_affine", {"--bits", "4", "--granularity", "group", "--group-size", "32", "--scheme", "linear-affine"}},
  };
  for (const auto& [name, options] : cases) {
    SCOPED_TRACE(name);
#if !defined(__OPTIMIZE__)
    // Unoptimized builds (the sanitize preset) run the tool once here: each run is tens of
    // seconds there, and the formats' code paths run on the MLP above.
    if (name != "lm_nbits4_g128") continue;
#endif
    const std::string out = temp(name + ".onnx");
    std::vector<std::string> args = {"quantize", in, out, "--exclude", "lm_head", "--quiet"};
    args.insert(args.end(), options.begin(), options.end());
    const auto r = run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string bytes = cli_test::slurp(out);
    EXPECT_EQ(eigenq_onnx_test::fnv1a(bytes.data(), bytes.size()), eigenq_test::find_case(golden, name).text("model_fnv1a"));
    std::remove(out.c_str());
  }
  // Its activations cannot be calibrated: the evaluator knows MLP graphs, not attention.
  const std::string npy = temp("bytes.npy");
  const std::vector<float> zeros(4 * 40, 0.0f);
  eigenq::io::write_npy(npy, zeros.data(), eigenq::Shape{4, 40});
  const std::string out = temp("activations.onnx");
  expect_exit_2(run({"quantize", in, out, "--exclude", "lm_head", "--activations", "--calibration-data", npy}),
                {"(Shape) cannot be evaluated for calibration"});
  EXPECT_FALSE(exists(out));
  std::remove(npy.c_str());
  std::remove(in.c_str());
}

TEST(CliOnnx, ReportAndIncludeExclude) {
  const std::string in = source_file();
  const std::string out = temp("report.onnx");
  const std::string report = temp("report.json");
  const auto r = run({"quantize", in, out, "--exclude", "fc1", "--report", report, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  const auto j = nlohmann::json::parse(cli_test::slurp(report));
  ASSERT_EQ(j["tensors"].size(), 1u);
  EXPECT_EQ(j["tensors"][0]["name"], "fc2/MatMul");
  EXPECT_GT(j["tensors"][0]["sqnr_db"].get<double>(), 30.0);
  const auto m = ox::load_model(out);
  bool float_fc1 = false;
  for (const auto& t : m.graph().initializer()) float_fc1 = float_fc1 || t.name() == "fc1.weight";
  EXPECT_TRUE(float_fc1);
  std::remove(out.c_str());
  std::remove(report.c_str());
}

TEST(CliOnnx, Inspect) {
  const std::string in = source_file();
  const auto r = run({"inspect", in, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "onnx");
  EXPECT_EQ(j["opset_import"]["ai.onnx"], 13);
  ASSERT_EQ(j["weighted_nodes"].size(), 2u);
  EXPECT_EQ(j["weighted_nodes"][0]["weight"], "fc1.weight");
  EXPECT_EQ(j["weighted_nodes"][0]["in"], 64);
  EXPECT_EQ(j["weighted_nodes"][0]["out"], 48);
  const auto t = run({"inspect", in});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("opset imports: ai.onnx 13"), std::string::npos) << t.out;
}

// --method awq|gptq with statistics named after the weight initializers.
TEST(CliOnnx, Methods) {
  const std::string in = source_file();
  const eigenq_onnx_test::Matrix x =
      eigenq_onnx_test::digits_inputs(std::string(EIGENQ_TEST_DATA_DIR) + "/../examples/data/digits.csv", 16, 8, 3);
  auto stats_for = [&](eigenq::Index n) {
    eigenq::CalibrationStatsObserver obs(n);
    obs.observe(x.leftCols(n));
    return obs.stats();
  };
  const std::string all = temp("stats_all.safetensors");
  eigenq::io::write_calibration_stats(all, {{"fc1.weight", stats_for(64)}, {"fc2.weight", stats_for(48)}});
  const std::string fc1 = temp("stats_fc1.safetensors");
  eigenq::io::write_calibration_stats(fc1, {{"fc1.weight", stats_for(64)}});
  const std::string out = temp("method.onnx");

  auto r = run({"quantize", in, out, "--method", "awq", "--calibration-stats", all, "--bits", "4", "--granularity",
                "group"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("awq"), std::string::npos) << r.out;
  int div = 0;
  const auto model = ox::load_model(out);
  for (const auto& n : model.graph().node()) div += n.op_type() == "Div";
  EXPECT_EQ(div, 2);  // x / s before each MatMulNBits
  std::remove(out.c_str());

  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", fc1}),
                {"node 'fc2/MatMul'", "weight 'fc2.weight' has no hessian", "--allow-missing-stats"});
  EXPECT_FALSE(exists(out));
  r = run({"quantize", in, out, "--method", "gptq", "--calibration-stats", fc1, "--allow-missing-stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rounded to nearest instead"), std::string::npos) << r.out;
  for (const auto& p : {all, fc1, out, in}) std::remove(p.c_str());
}

// --activations with the graph's inputs from a .npy.
TEST(CliOnnx, Activations) {
  const std::string in = source_file();
  const eigenq_onnx_test::Matrix x = eigenq_onnx_test::digits_calibration();
  const std::string npy = temp("calibration.npy");
  eigenq::io::write_npy(npy, x.data(), eigenq::Shape{x.rows(), x.cols()});
  const std::string out = temp("activations.onnx");
  const auto r = run({"quantize", in, out, "--activations", "--calibration-data", npy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("+activations"), std::string::npos) << r.out;
  const auto model = ox::load_model(out);
  int q = 0, dq = 0;
  for (const auto& n : model.graph().node()) {
    q += n.op_type() == "QuantizeLinear";
    dq += n.op_type() == "DequantizeLinear";
  }
  EXPECT_EQ(q, 2);
  EXPECT_EQ(dq, 4);  // two weights, two activations
  std::remove(out.c_str());
  expect_exit_2(run({"quantize", in, out, "--activations"}), {"--activations needs --calibration-data"});
  expect_exit_2(run({"quantize", in, out, "--activations", "--calibration-data", npy, "--format", "dynamic"}),
                {"--activations needs --format qdq"});
  const std::string wrong = temp("wrong.npy");
  const std::vector<float> three(3 * 5, 1.0f);
  eigenq::io::write_npy(wrong, three.data(), eigenq::Shape{3, 5});
  expect_exit_2(run({"quantize", in, out, "--activations", "--calibration-data", wrong}), {"fc1/MatMul", "MatMul"});
  EXPECT_FALSE(exists(out));
  for (const auto& p : {npy, wrong, in}) std::remove(p.c_str());
}

// Each bad input: exit code 2, one line with the fragments, no OUT.
void expect_refused(const std::string& in, const std::vector<std::string>& extra, std::initializer_list<const char*> fragments) {
  const std::string out = temp("refused.onnx");
  std::remove(out.c_str());
  std::vector<std::string> args = {"quantize", in, out};
  args.insert(args.end(), extra.begin(), extra.end());
  expect_exit_2(run(args), fragments);
  EXPECT_FALSE(exists(out)) << "an output file was written for bad input";
}

TEST(CliOnnx, BadInput) {
  const std::string good = ox::serialize(eigenq_onnx_test::matmul_mlp().model);
  const std::string truncated = temp("truncated.onnx");
  write_bytes(truncated, good.substr(0, good.size() - 100));
  expect_refused(truncated, {}, {"truncated.onnx", "not an ONNX model"});
  expect_exit_2(run({"inspect", truncated}), {"truncated.onnx", "not an ONNX model"});

  const std::string corrupt = temp("corrupt.onnx");
  write_bytes(corrupt, std::string(200, '\xfe'));
  expect_refused(corrupt, {}, {"corrupt.onnx", "not an ONNX model"});

  auto broken = eigenq_onnx_test::matmul_mlp().model;
  broken.mutable_graph()->mutable_node(1)->set_input(0, "no_such_value");
  const std::string unchecked = temp("unchecked.onnx");
  write_bytes(unchecked, ox::serialize(broken));
  expect_refused(unchecked, {}, {"unchecked.onnx", "fails ONNX's checker", "no_such_value"});

  auto old = eigenq_onnx_test::matmul_mlp().model;
  old.mutable_opset_import(0)->set_version(11);
  const std::string opset = temp("opset11.onnx");
  write_bytes(opset, ox::serialize(old));
  expect_refused(opset, {}, {"opset11.onnx", "opset_import ai.onnx version 11 is not supported"});

  // A MatMul whose weight is double: named when --include selects it.
  ::onnx::ModelProto d;
  d.set_ir_version(ox::ir_version);
  ox::require_opset(d, "", 13);
  ox::GraphBuilder b(d.mutable_graph());
  d.mutable_graph()->set_name("double");
  const std::string w = b.tensor<double>("w", {4, 3}, std::vector<double>(12, 0.5));
  b.node("MatMul", {"x", w}, {"y"});
  ox::set_value_info(d.mutable_graph()->add_input(), "x", ::onnx::TensorProto::DOUBLE, {-1, 4});
  ox::set_value_info(d.mutable_graph()->add_output(), "y", ::onnx::TensorProto::DOUBLE, {-1, 3});
  ox::check(d);
  const std::string dbl = temp("double.onnx");
  write_bytes(dbl, ox::serialize(d));
  expect_refused(dbl, {}, {"double.onnx", "node 'y'", "weight 'w' is double of rank 2", "--exclude"});
  const std::string kept = temp("kept.onnx");
  const auto r = run({"quantize", dbl, kept, "--exclude", "y"});  // nothing left to rewrite: a copy
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(exists(kept));
  std::remove(kept.c_str());

  const std::string in = source_file();
  expect_refused(in, {"--format", "int3"}, {"--format 'int3'"});
  expect_refused(in, {"--bits", "3", "--granularity", "group"}, {"matmulnbits", "--bits 2, 4 or 8"});
  expect_refused(in, {"--format", "dynamic", "--bits", "4"}, {"--format dynamic", "--bits 8"});
  expect_refused(in, {"--method", "gptq"}, {"--method gptq"});
  expect_exit_2(run({"quantize", in, temp("out.safetensors")}), {"both .onnx"});
  for (const auto& p : {truncated, corrupt, unchecked, opset, dbl, in}) std::remove(p.c_str());
}

}  // namespace
