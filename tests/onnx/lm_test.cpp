// The language model of examples/lm (lm.safetensors, a byte-level GPT: embeddings, 4 blocks of
// LayerNorm, causal attention, GELU MLP, tied head) exported to ONNX (examples/lm/lm_onnx.hpp),
// as it is and with eigenq's int4 GroupedLinear layers, and rewritten as `eigenq quantize` does
// in each format (QDQ, dynamic, MatMulNBits) with the head kept in float: ONNX Runtime's logits
// (export_onnxruntime.txt, cases lm_*) against eigenq's forward of the same model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <eigenq/nn/grouped_linear.hpp>
#include <eigenq/onnx/rewrite.hpp>

#include "golden/golden_file.hpp"
#include "lm/lm_onnx.hpp"
#include "onnx/onnx_models.hpp"

namespace onnx_lm_test {  // named: the unity build puts the other test files' names beside these
namespace {

namespace ox = eigenq::onnx;
using eigenq_onnx_test::Matrix;

const std::string kDir = EIGENQ_TEST_DATA_DIR;
const std::string kLmData = kDir + "/../examples/lm/data";
constexpr eigenq::Index kLength = 40;                       // bytes of held-out text
// Unoptimized builds (the sanitize preset, -O0) run two cases, the float export and the dynamic
// rewrite: quantizing the model's 3.3M weights and running it take minutes there for all six,
// and the other cases' code paths run on the MLPs of export_test.cpp and rewrite_test.cpp.
#if defined(__OPTIMIZE__)
constexpr bool kEveryCase = true;
#else
constexpr bool kEveryCase = false;
#endif
const std::vector<eigenq::Index> kRows = {0, 13, 26, 39};  // logits rows in the golden file

const lm::ByteGpt& model() {
  static const lm::ByteGpt gpt = lm::ByteGpt::load(kLmData + "/lm.safetensors");
  return gpt;
}

std::vector<std::uint8_t> input_bytes() {
  std::ifstream in(kLmData + "/heldout.txt", std::ios::binary);
  std::vector<std::uint8_t> b(static_cast<std::size_t>(kLength));
  in.read(reinterpret_cast<char*>(b.data()), kLength);
  if (!in) throw std::runtime_error("cannot read " + std::to_string(kLength) + " bytes of heldout.txt");
  return b;
}

// The model with every Linear layer an int4 GroupedLinear (G = 128, f16 scales).
lm::ByteGpt grouped_model() {
  lm::ByteGpt gpt = model();
  eigenq::nn::GroupedLinearOptions o;
  o.group_size = 128;
  for (const std::string& n : gpt.linear_names()) {
    const auto& f = dynamic_cast<const eigenq::nn::FloatLinear&>(gpt.linear(n));
    gpt.set_linear(n, std::make_unique<eigenq::nn::GroupedLinear>(f, o));
  }
  return gpt;
}

struct Rewrite {
  const char* name;
  ox::Format format;
  int bits;
  bool symmetric;
  eigenq::Index block;
};
const Rewrite kRewrites[] = {
    {"lm_qdq_channel", ox::Format::qdq, 8, true, 0},
    {"lm_dynamic_channel", ox::Format::dynamic, 8, true, 0},
    {"lm_nbits4_g128", ox::Format::matmulnbits, 4, true, 128},
    {"lm_nbits4_g32_affine", ox::Format::matmulnbits, 4, false, 32},
};

ox::RewriteOptions options_for(const Rewrite& v) {
  ox::RewriteOptions o;
  o.format = v.format;
  o.bits = v.bits;
  o.symmetric = v.symmetric;
  o.per_channel = true;
  if (v.block > 0) o.block_size = v.block;
  o.select = [](const ox::WeightedNode& n) { return n.node.find("lm_head") == std::string::npos; };  // --exclude lm_head
  return o;
}

// The float model with each rewritten node in place of its Linear layer, computed as ORT does.
lm::ByteGpt rewritten_model(const ox::RewriteResult& r, ox::Format format) {
  lm::ByteGpt gpt = model();
  for (const ox::RewrittenNode& n : r.rewritten) {
    const std::string name = n.site.weight.substr(0, n.site.weight.size() - std::string(".weight").size());
    const auto& f = dynamic_cast<const eigenq::nn::FloatLinear&>(gpt.linear(name));
    gpt.set_linear(name, std::make_unique<eigenq_onnx_test::RewrittenLayer>(n, f.bias(), format));
  }
  return gpt;
}

struct LmCase {
  std::string name;
  ::onnx::ModelProto model;
  lm::ByteGpt reference;  // eigenq's forward of what the graph computes
};

std::vector<LmCase> lm_cases(bool every_case = true) {
  std::vector<LmCase> cases;
  const ::onnx::ModelProto float_model = lm::to_onnx(model());
  cases.push_back({"lm_float", float_model, model()});
  if (every_case) {
    const lm::ByteGpt grouped = grouped_model();
    cases.push_back({"lm_grouped_g128", lm::to_onnx(grouped), grouped});
  }
  for (const Rewrite& v : kRewrites) {
    if (!every_case && std::string(v.name) != "lm_dynamic_channel") continue;
    ::onnx::ModelProto m = float_model;
    const ox::RewriteResult r = ox::rewrite(m, options_for(v));
    cases.push_back({v.name, std::move(m), rewritten_model(r, v.format)});
  }
  return cases;
}

TEST(OnnxLm, WritesFilesForTheGoldenScript) {
  const char* dir = std::getenv("EIGENQ_ONNX_EXPORT_DIR");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "EIGENQ_ONNX_EXPORT_DIR not set";
  for (const LmCase& c : lm_cases()) ox::write_file(std::string(dir) + "/" + c.name + ".onnx", ox::serialize(c.model));
  const std::vector<std::uint8_t> b = input_bytes();
  ox::write_file(std::string(dir) + "/lm_bytes.bin", std::string(b.begin(), b.end()));
}

TEST(OnnxLm, GraphHasTheTransformersOperators) {
  const ::onnx::ModelProto m = lm::to_onnx(model());
  std::map<std::string, int> ops;
  for (const auto& n : m.graph().node()) ++ops[n.op_type()];
  const auto blocks = static_cast<int>(model().blocks());
  EXPECT_EQ(ops["LayerNormalization"], 2 * blocks + 1);
  EXPECT_EQ(ops["Softmax"], blocks);
  EXPECT_EQ(ops["Erf"], blocks);
  EXPECT_EQ(ops["Gemm"], 4 * blocks + 1);  // the Linear layers and the head
  EXPECT_EQ(m.graph().input(0).name(), "bytes");
  EXPECT_EQ(m.graph().output(0).name(), "logits");
  // The tool's names: every Linear weight by its safetensors name, the head's node "lm_head".
  const auto nodes = ox::weighted_nodes(m);
  ASSERT_EQ(nodes.size(), static_cast<std::size_t>(4 * blocks + 1));
  EXPECT_EQ(nodes[0].weight, "blocks.0.attn.qkv.weight");
  EXPECT_NE(nodes.back().node.find("lm_head"), std::string::npos);
  EXPECT_EQ(nodes.back().weight, "wte");
}

TEST(OnnxLm, OrtRunsTheModelsAsEigenqComputesThem) {
  const auto golden = eigenq_test::load_golden(kDir + "/onnx/export_onnxruntime.txt");
  const std::vector<std::uint8_t> bytes = input_bytes();
  int checked = 0;
  for (const LmCase& c : lm_cases(kEveryCase)) {
    SCOPED_TRACE(c.name);
    const std::string serialized = ox::serialize(c.model);
    const auto& gc = eigenq_test::find_case(golden, c.name);
    ASSERT_EQ(eigenq_onnx_test::fnv1a(serialized.data(), serialized.size()), gc.text("model_fnv1a"))
        << "the exported bytes changed; re-run tests/onnx/make_export_golden.mjs";
    ASSERT_EQ(eigenq_onnx_test::fnv1a(bytes.data(), bytes.size()), gc.text("input_fnv1a"));
    const Matrix y = c.reference.forward(bytes.data(), kLength);
    const std::vector<std::int64_t> rows = gc.ints("rows");
    ASSERT_EQ(rows, std::vector<std::int64_t>(kRows.begin(), kRows.end()));
    const std::vector<float> ort = gc.floats("output");
    ASSERT_EQ(ort.size(), rows.size() * 256);
    double worst = 0.0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto row = y.row(rows[i]);
      const double row_max = row.cwiseAbs().maxCoeff();
      for (eigenq::Index v = 0; v < 256; ++v) {
        const double d = std::abs(double(ort[i * 256 + static_cast<std::size_t>(v)]) - double(row(v)));
        worst = std::max(worst, d / row_max);
      }
    }
    EXPECT_LE(worst, 1e-5);
    std::printf("%s: largest difference %.3g of the row's largest logit; %llu bytes\n", c.name.c_str(), worst,
                static_cast<unsigned long long>(serialized.size()));
    ++checked;
  }
  EXPECT_EQ(checked, kEveryCase ? 2 + static_cast<int>(std::size(kRewrites)) : 2);
}

}  // namespace
}  // namespace onnx_lm_test
