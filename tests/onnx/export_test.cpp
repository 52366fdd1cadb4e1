// eigenq::onnx::save / to_model: eigenq's models as ONNX graphs, checked against ONNX Runtime.
//
// export_onnxruntime.txt holds, per model of onnx_models.hpp, the FNV-1a of the exported bytes
// and of the inputs, and ONNX Runtime's outputs for them (make_export_golden.mjs runs ORT on the
// files this test writes when EIGENQ_ONNX_EXPORT_DIR is set). Here eigenq exports the model
// again, checks the bytes are the ones ORT ran, and compares its own forward() with ORT's
// outputs: bit for bit for the static (int8) model, within 1e-5 of the row's largest magnitude
// for the float, dynamic, grouped and mixed ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <eigenq/nn/layer_norm.hpp>
#include <eigenq/onnx/export.hpp>

#include "golden/golden_file.hpp"
#include "onnx/onnx_models.hpp"

namespace {

using eigenq_onnx_test::Matrix;

const std::string kTestDir = EIGENQ_TEST_DATA_DIR;
const std::string kGolden = kTestDir + "/onnx/export_onnxruntime.txt";

Matrix test_inputs() {
  return eigenq_onnx_test::digits_inputs(kTestDir + "/../examples/data/digits.csv", 16, 8, 99);
}

std::string inputs_fnv(const Matrix& x) {
  return eigenq_onnx_test::fnv1a(x.data(), static_cast<std::size_t>(x.size()) * sizeof(float));
}

// With EIGENQ_ONNX_EXPORT_DIR set: writes <dir>/<model>.onnx and <dir>/inputs.f32 (row-major
// float32, 64 columns) for make_export_golden.mjs.
TEST(OnnxExport, WritesFilesForTheGoldenScript) {
  const char* dir = std::getenv("EIGENQ_ONNX_EXPORT_DIR");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "EIGENQ_ONNX_EXPORT_DIR not set";
  for (const auto& c : eigenq_onnx_test::model_cases()) {
    eigenq::onnx::save(c.make(), std::string(dir) + "/" + c.name + ".onnx");
  }
  const Matrix x = test_inputs();
  std::ofstream out(std::string(dir) + "/inputs.f32", std::ios::binary);
  out.write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size() * sizeof(float)));
  ASSERT_TRUE(out.good());
}

class OnnxExportGolden : public ::testing::TestWithParam<std::size_t> {};

TEST_P(OnnxExportGolden, OrtRunsTheExportedBytesAsEigenqDoes) {
  const auto cases = eigenq_onnx_test::model_cases();
  const auto& mc = cases.at(GetParam());
  const auto golden = eigenq_test::load_golden(kGolden);
  const auto& gc = eigenq_test::find_case(golden, mc.name);

  const eigenq::nn::Sequential model = mc.make();
  const std::string bytes = eigenq::onnx::to_bytes(model);
  ASSERT_EQ(eigenq_onnx_test::fnv1a(bytes.data(), bytes.size()), gc.text("model_fnv1a"))
      << mc.name << ": the exported bytes changed; re-run tests/onnx/make_export_golden.mjs";
  const Matrix x = test_inputs();
  ASSERT_EQ(inputs_fnv(x), gc.text("input_fnv1a"));

  const Matrix y = model.forward(x);
  const std::vector<std::int64_t> shape = gc.ints("shape");
  ASSERT_EQ(shape.size(), 2u);
  ASSERT_EQ(shape[0], y.rows());
  ASSERT_EQ(shape[1], y.cols());
  const std::vector<float> ort = gc.floats("output");
  ASSERT_EQ(static_cast<Eigen::Index>(ort.size()), y.size());
  double worst = 0.0;
  int differing = 0;
  for (Eigen::Index r = 0; r < y.rows(); ++r) {
    const float row_max = y.row(r).cwiseAbs().maxCoeff();
    for (Eigen::Index c = 0; c < y.cols(); ++c) {
      const float o = ort[static_cast<std::size_t>(r * y.cols() + c)];
      const float e = y(r, c);
      if (mc.bit_exact) {
        std::uint32_t ob = 0, eb = 0;
        std::memcpy(&ob, &o, 4);
        std::memcpy(&eb, &e, 4);
        EXPECT_EQ(ob, eb) << mc.name << " (" << r << ", " << c << "): ORT " << o << ", eigenq " << e;
        continue;
      }
      const double rel = std::abs(double(o) - double(e)) / std::max(double(row_max), 1e-30);
      worst = std::max(worst, rel);
      differing += o != e;
      EXPECT_LE(rel, 1e-5) << mc.name << " (" << r << ", " << c << "): ORT " << o << ", eigenq " << e;
    }
  }
  // The comparison means something only if the outputs are not all clamped to a few codes.
  std::vector<float> distinct(ort);
  std::sort(distinct.begin(), distinct.end());
  EXPECT_GE(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 40) << mc.name;
  RecordProperty("max_relative_difference", std::to_string(worst));
  RecordProperty("differing_outputs", differing);
  std::printf("%s: %d of %ld outputs differ from ORT's, largest difference %.3g of the row's largest magnitude\n",
              mc.name.c_str(), differing, static_cast<long>(y.size()), worst);
}

std::string case_name(const ::testing::TestParamInfo<std::size_t>& info) {
  return eigenq_onnx_test::model_cases().at(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Models, OnnxExportGolden,
                         ::testing::Range<std::size_t>(0, eigenq_onnx_test::model_cases().size()), case_name);

TEST(OnnxExport, ModelPassesTheCheckerAndRoundTripsThroughProtobuf) {
  for (const auto& c : eigenq_onnx_test::model_cases()) {
    const auto m = eigenq::onnx::to_model(c.make());
    EXPECT_NO_THROW(eigenq::onnx::check(m));
    ::onnx::ModelProto back;
    const std::string bytes = eigenq::onnx::serialize(m);
    ASSERT_TRUE(back.ParseFromString(bytes));
    EXPECT_EQ(eigenq::onnx::serialize(back), bytes);
    EXPECT_EQ(back.graph().input(0).name(), "input");
    EXPECT_EQ(back.graph().output(0).name(), "output");
  }
}

TEST(OnnxExport, SaveWritesTheBytesAtomically) {
  const auto c = eigenq_onnx_test::model_cases().at(0);
  const std::string path = ::testing::TempDir() + "/eigenq_onnx_save_test.onnx";
  eigenq::onnx::save(c.make(), path);
  std::ifstream in(path, std::ios::binary);
  const std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(read, eigenq::onnx::to_bytes(c.make()));
  std::remove(path.c_str());
}

TEST(OnnxExport, MicrosoftDomainOnlyForMatMulNBits) {
  const auto cases = eigenq_onnx_test::model_cases();
  for (const auto& c : cases) {
    const auto m = eigenq::onnx::to_model(c.make());
    bool ms = false;
    for (const auto& o : m.opset_import()) ms = ms || o.domain() == eigenq::onnx::microsoft_domain;
    bool nbits = false;
    for (const auto& n : m.graph().node()) nbits = nbits || n.op_type() == "MatMulNBits";
    EXPECT_EQ(ms, nbits) << c.name;
  }
}

// A layer kind the exporter does not know.
struct Doubling : eigenq::nn::Module {
  eigenq::nn::Matrix forward(const eigenq::nn::Matrix& x) const override { return 2.0f * x; }
  std::string kind() const override { return "Doubling"; }
  std::unique_ptr<eigenq::nn::Module> clone() const override { return std::make_unique<Doubling>(*this); }
};

TEST(OnnxExport, RefusesLayersWithoutAnOnnxForm) {
  eigenq::nn::Sequential m;
  m.add(eigenq::nn::FloatLinear(4, 3)).add(Doubling{});
  try {
    (void)eigenq::onnx::to_model(m);
    FAIL() << "no error";
  } catch (const eigenq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1 (Doubling) has no ONNX form"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)eigenq::onnx::to_model(eigenq::nn::Sequential{}), eigenq::Error);
  eigenq::nn::Sequential relu_only;
  relu_only.add(eigenq::nn::ReLU{});
  EXPECT_THROW((void)eigenq::onnx::to_model(relu_only), eigenq::Error);
}

TEST(OnnxExport, RefusesMismatchedFeatures) {
  eigenq::nn::Sequential m;
  m.add(eigenq::nn::FloatLinear(4, 3)).add(eigenq::nn::FloatLinear(5, 2));
  EXPECT_THROW((void)eigenq::onnx::to_model(m), eigenq::ShapeError);
}

TEST(OnnxExport, CheckerRejectsABrokenGraph) {
  auto m = eigenq::onnx::to_model(eigenq_onnx_test::model_cases().at(0).make());
  m.mutable_graph()->mutable_node(0)->set_input(0, "no_such_value");
  EXPECT_THROW(eigenq::onnx::check(m), eigenq::FormatError);
}

}  // namespace
