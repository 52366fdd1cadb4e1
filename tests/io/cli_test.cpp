// Tests of the eigenq command-line tool: runs the built binary (EIGENQ_CLI) on small files
// written with the library, checks exit codes, messages, and that what it writes is what the
// library itself computes, bit for bit.
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "eigenq/analysis/metrics.hpp"
#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/calibrate/percentile.hpp"
#include "eigenq/io.hpp"
#include "eigenq/methods/awq.hpp"
#include "eigenq/methods/gptq.hpp"
#include "eigenq/methods/weighted_rounding.hpp"
#include "eigenq/quantizer/quantizer.hpp"
#include "cli_test_util.hpp"
#include "io_test_util.hpp"
#include "support/random_data.hpp"

namespace {

using cli_test::Result;
using cli_test::run;
using cli_test::slurp;
using eigenq::Index;
using eigenq::Shape;
using eigenq::io::DType;

Eigen::MatrixXf random_matrix(Index rows, Index cols, unsigned seed) {
  return eigenq_test::normal_matrix(rows, cols, seed);
}

std::vector<float> row_major(const Eigen::MatrixXf& m) {
  std::vector<float> v(static_cast<std::size_t>(m.size()));
  Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), m.rows(), m.cols()) = m;
  return v;
}

// A small model: two matrices, a bias, an F16 matrix, integer ids.
struct Model {
  Eigen::MatrixXf w1 = random_matrix(8, 40, 1);
  Eigen::MatrixXf w2 = random_matrix(12, 16, 2) * 3.0f;
  Eigen::MatrixXf bias = random_matrix(1, 12, 3);
  std::vector<Eigen::half> half;
  std::vector<std::int64_t> ids{1, 2, 3, 4};

  Model() {
    const Eigen::MatrixXf h = random_matrix(5, 6, 4);
    for (float v : row_major(h)) half.push_back(Eigen::half(v));
  }

  // The F16 tensor as the floats the tool quantizes (exact widening).
  Eigen::MatrixXf half_as_float() const {
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(5, 6);
    for (Index i = 0; i < 30; ++i) m.data()[i] = static_cast<float>(half[static_cast<std::size_t>(i)]);
    return m;
  }

  void write(const std::string& path) const {
    const auto a = row_major(w1);
    const auto b = row_major(w2);
    const auto c = row_major(bias);
    eigenq::io::write_safetensors(path,
                                  {eigenq::io::make_tensor("layers.0.weight", {8, 40}, a.data()),
                                   eigenq::io::make_tensor("layers.1.weight", {12, 16}, b.data()),
                                   eigenq::io::make_tensor("layers.1.bias", {12}, c.data()),
                                   eigenq::io::make_tensor("embed", {5, 6}, half.data()),
                                   eigenq::io::make_tensor("ids", {4}, ids.data())},
                                  {{"format", "pt"}});
  }
};

using eigenq_test::same_bits;

// The tool's output for `name` (quantized and dequantized files) against the library's own
// quantization of the same floats with the same policy and granularity.
template <class Policy, class G>
void expect_matches_library(const io_test::TempDir& dir, const std::string& name, const Eigen::MatrixXf& x,
                            const Policy& policy, G g) {
  SCOPED_TRACE(name);
  const auto expected = eigenq::Quantizer<Policy, G>(policy, g).quantize(x);
  const eigenq::io::QuantizedFile q(dir / "q.safetensors");
  const auto got = q.load<Policy>(name);
  EXPECT_EQ(got.unpacked_codes(), expected.unpacked_codes());
  EXPECT_TRUE(got.params() == expected.params());
  const eigenq::io::SafetensorsFile d(dir / "d.safetensors");
  EXPECT_EQ(d.info(name).dtype, DType::f32);
  EXPECT_TRUE(same_bits(d.tensor(name).to_float(), expected.dequantize_flat()))
      << "eigenq dequantize reproduces the library's dequantize bit for bit";
}

void quantize_and_back(const io_test::TempDir& dir, const std::vector<std::string>& options) {
  std::vector<std::string> args{"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet"};
  args.insert(args.end(), options.begin(), options.end());
  const Result q = run(args);
  ASSERT_EQ(q.exit_code, 0) << q.err;
  const Result d = run({"dequantize", dir / "q.safetensors", dir / "d.safetensors", "--quiet"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
}

TEST(Cli, DefaultsAreInt8PerChannelAndVectorsStayFloat) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  quantize_and_back(dir, {});
  const auto sym = Linear<std::int8_t>::symmetric();
  expect_matches_library(dir, "layers.0.weight", m.w1, sym, PerChannel{0});
  expect_matches_library(dir, "layers.1.weight", m.w2, sym, PerChannel{0});
  expect_matches_library(dir, "embed", m.half_as_float(), sym, PerChannel{0});
  // The bias, a vector, is kept in float (as llama.cpp's quantize keeps tensors of rank < 2).
  const io::QuantizedFile q(dir / "q.safetensors");
  EXPECT_EQ(q.plain(), (std::vector<std::string>{"layers.1.bias", "ids"}));
  EXPECT_EQ(q.file().info("layers.1.bias").dtype, DType::f32);
  EXPECT_TRUE(same_bits(q.file().tensor("layers.1.bias").to_float(), row_major(m.bias)));
  const io::SafetensorsFile d(dir / "d.safetensors");
  EXPECT_TRUE(same_bits(d.tensor("layers.1.bias").to_float(), row_major(m.bias)));
  // Integers are copied, and the user's metadata kept.
  EXPECT_EQ(d.tensor("ids").values<std::int64_t>(), m.ids);
  EXPECT_EQ(d.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(nlohmann::json::parse(q.file().metadata().at("eigenq:embed"))["dtype"], "F16");
}

TEST(Cli, QuantizeVectorsQuantizesRankZeroAndOnePerTensor) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  quantize_and_back(dir, {"--quantize-vectors"});
  const auto sym = Linear<std::int8_t>::symmetric();
  expect_matches_library(dir, "layers.0.weight", m.w1, sym, PerChannel{0});
  // The bias gets one scale: the library quantizes the [12] vector per tensor.
  const auto bias = Quantizer<Linear<std::int8_t>, PerTensor>(sym, PerTensor{}).quantize(m.bias);
  const io::SafetensorsFile d(dir / "d.safetensors");
  EXPECT_EQ(d.info("layers.1.bias").shape, Shape{12});
  EXPECT_TRUE(same_bits(d.tensor("layers.1.bias").to_float(), bias.dequantize_flat()));
  EXPECT_EQ(io::QuantizedFile(dir / "q.safetensors").plain(), std::vector<std::string>{"ids"});

  // A scalar (rank 0) and a norm weight (rank 1) next to a matrix; --include selects by name,
  // the rank rule still applies unless --quantize-vectors.
  const std::vector<float> w = row_major(random_matrix(4, 8, 5));
  const std::vector<float> norm = row_major(random_matrix(1, 8, 6));
  const float temperature = 0.7f;
  io::write_safetensors(dir / "v.safetensors", {io::make_tensor("w", {4, 8}, w.data()),
                                                io::make_tensor("norm.weight", {8}, norm.data()),
                                                io::make_tensor("temperature", {}, &temperature)});
  const Result kept = run({"quantize", dir / "v.safetensors", dir / "kept.safetensors", "--include", "w|norm"});
  ASSERT_EQ(kept.exit_code, 0) << kept.err;
  EXPECT_EQ(io::QuantizedFile(dir / "kept.safetensors").quantized(), std::vector<std::string>{"w"});
  EXPECT_NE(kept.out.find("3 tensors (1 quantized, 2 copied)"), std::string::npos) << kept.out;
  EXPECT_NE(kept.out.find("kept in float: 1 tensor of rank < 2, 32 B (norm.weight); --quantize-vectors quantizes them\n"),
            std::string::npos)
      << kept.out;
  EXPECT_NE(kept.out.find("kept in float: 1 tensor left out by --include/--exclude, 4 B (temperature)\n"),
            std::string::npos)
      << kept.out;
  EXPECT_NE(kept.err.find("norm.weight: F32 [8] -> copied (rank < 2)"), std::string::npos) << kept.err;
  const Result all = run({"quantize", dir / "v.safetensors", dir / "all.safetensors", "--quantize-vectors"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(io::QuantizedFile(dir / "all.safetensors").quantized(),
            (std::vector<std::string>{"w", "norm.weight", "temperature"}));
  EXPECT_EQ(all.out.find("kept in float"), std::string::npos) << all.out;
  // report follows the same rule.
  const auto report = nlohmann::json::parse(run({"report", dir / "v.safetensors", "--json", "--quiet"}).out);
  EXPECT_EQ(report["totals"]["quantized"], 1);
  EXPECT_EQ(report["totals"]["kept_float"], 2);
  EXPECT_EQ(report["totals"]["kept_float_bytes"], 36);
  const auto report_all =
      nlohmann::json::parse(run({"report", dir / "v.safetensors", "--json", "--quiet", "--quantize-vectors"}).out);
  EXPECT_EQ(report_all["totals"]["quantized"], 3);
  EXPECT_EQ(report_all["totals"]["kept_float"], 0);
}

TEST(Cli, EverySchemeMatchesTheLibrary) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");

  quantize_and_back(dir, {"--scheme", "linear-affine", "--bits", "4", "--granularity", "group", "--group-size", "8"});
  expect_matches_library(dir, "layers.0.weight", m.w1, Linear<std::uint8_t>::affine().with_bits(4), PerGroup{-1, 8});

  quantize_and_back(dir, {"--scheme", "linear-symmetric", "--bits", "12", "--profile", "tflite", "--axis", "1"});
  expect_matches_library(dir, "layers.1.weight", m.w2, Linear<std::int16_t>::symmetric(Profile::tflite).with_bits(12),
                         PerChannel{1});

  quantize_and_back(dir, {"--scheme", "linear-affine", "--convention", "real-offset", "--bits", "6"});
  expect_matches_library(dir, "layers.0.weight", m.w1, LinearRealOffset<std::uint8_t>().with_bits(6), PerChannel{0});

  quantize_and_back(dir, {"--scheme", "log-signed", "--bits", "4"});
  expect_matches_library(dir, "layers.0.weight", m.w1, LogSigned<std::int8_t>().with_bits(4), PerChannel{0});

  quantize_and_back(dir, {"--scheme", "log2", "--bits", "3", "--granularity", "tensor"});
  expect_matches_library(dir, "layers.1.weight", m.w2, Log2<std::int8_t>().with_bits(3), PerTensor{});

  quantize_and_back(dir, {"--scheme", "exp", "--bits", "5"});
  expect_matches_library(dir, "layers.0.weight", m.w1, Exp<std::uint8_t>().with_bits(5), PerChannel{0});

  quantize_and_back(dir, {"--scheme", "codebook", "--bits", "3"});
  expect_matches_library(dir, "layers.1.weight", m.w2, Codebook<std::uint8_t>().with_bits(3), PerChannel{0});
}

TEST(Cli, DoubleQuantizationMatchesTheLibrary) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  quantize_and_back(dir, {"--bits", "4", "--granularity", "group", "--group-size", "8", "--double-quant", "2"});
  const Quantizer<Linear<std::int8_t>, PerGroup> quantizer(Linear<std::int8_t>::symmetric().with_bits(4), PerGroup{-1, 8});
  const auto expected = double_quantize(quantizer, m.w1, 2);
  const io::QuantizedFile q(dir / "q.safetensors");
  const auto got = q.load_double_quantized<std::int8_t>("layers.0.weight");
  EXPECT_EQ(got.scales.scale_codes, expected.scales.scale_codes);
  EXPECT_EQ(got.scales.block_scales, expected.scales.block_scales);
  EXPECT_EQ(got.tensor.unpacked_codes(), expected.tensor.unpacked_codes());
  const io::SafetensorsFile d(dir / "d.safetensors");
  EXPECT_TRUE(same_bits(d.tensor("layers.0.weight").to_float(), expected.tensor.dequantize_flat()));
  EXPECT_EQ(q.file().info("layers.0.weight.scale_code").shape, (Shape{8, 5}));
  EXPECT_EQ(q.file().info("layers.0.weight.super_scale").shape, (Shape{8, 3}));
}

TEST(Cli, CalibrationOptionsUseTheObservers) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  quantize_and_back(dir, {"--calibration", "percentile:99"});
  const auto policy = Linear<std::int8_t>::symmetric();
  PercentileObserver observer(PerChannel{0}, 99.0);
  observer.observe(m.w1);
  const auto expected = Quantizer<Linear<std::int8_t>, Granularity>(policy, PerChannel{0}).quantize(m.w1, observer.params(policy));
  const io::QuantizedFile q(dir / "q.safetensors");
  EXPECT_TRUE(q.load<Linear<std::int8_t>>("layers.0.weight").params() == expected.params());
  EXPECT_EQ(nlohmann::json::parse(q.file().metadata().at("eigenq:layers.0.weight"))["calibration"], "percentile:99");
  // A clipped range differs from min-max on this data.
  const auto minmax = quantize(m.w1, policy, PerChannel{0});
  EXPECT_FALSE(minmax.params() == expected.params());
  for (const char* c : {"mse", "kl"}) quantize_and_back(dir, {"--calibration", c});
}

TEST(Cli, OutputDoesNotDependOnJobs) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "a.safetensors", "--jobs", "1", "--quiet"}).exit_code, 0);
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "b.safetensors", "--jobs", "3", "--quiet"}).exit_code, 0);
  EXPECT_EQ(io_test::read_bytes(dir / "a.safetensors"), io_test::read_bytes(dir / "b.safetensors"));
  ASSERT_EQ(run({"dequantize", dir / "a.safetensors", dir / "c.safetensors", "--jobs", "1", "--quiet"}).exit_code, 0);
  ASSERT_EQ(run({"dequantize", dir / "a.safetensors", dir / "d.safetensors", "--jobs", "4", "--quiet"}).exit_code, 0);
  EXPECT_EQ(io_test::read_bytes(dir / "c.safetensors"), io_test::read_bytes(dir / "d.safetensors"));
}

TEST(Cli, IncludeAndExclude) {
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet", "--include", "weight$", "--exclude",
                 "^layers\\.1"})
                .exit_code,
            0);
  const eigenq::io::QuantizedFile q(dir / "q.safetensors");
  EXPECT_EQ(q.quantized(), std::vector<std::string>{"layers.0.weight"});
  const eigenq::io::SafetensorsFile in(dir / "m.safetensors");
  for (const char* name : {"layers.1.weight", "layers.1.bias", "embed", "ids"}) {
    const auto a = in.tensor(name);
    const auto b = q.file().tensor(name);
    EXPECT_EQ(a.dtype(), b.dtype());
    EXPECT_EQ(std::vector<std::uint8_t>(a.data(), a.data() + a.bytes()), std::vector<std::uint8_t>(b.data(), b.data() + b.bytes()))
        << name << " is copied unchanged";
  }
}

TEST(Cli, NpyInAndOut) {
  io_test::TempDir dir;
  const Eigen::MatrixXf w = random_matrix(6, 7, 9);  // column-major: written as fortran_order True
  eigenq::io::write_npy(dir / "proj.npy", w);
  ASSERT_EQ(run({"quantize", dir / "proj.npy", dir / "q.safetensors", "--quiet", "--bits", "4"}).exit_code, 0);
  ASSERT_EQ(run({"dequantize", dir / "q.safetensors", dir / "back.npy", "--quiet"}).exit_code, 0);
  const auto expected = eigenq::quantize(w, eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  const eigenq::io::NpyArray back = eigenq::io::read_npy(dir / "back.npy");
  EXPECT_EQ(back.shape, (Shape{6, 7}));
  EXPECT_TRUE(same_bits(back.values<float>(), expected.dequantize_flat()));
  EXPECT_EQ(eigenq::io::QuantizedFile(dir / "q.safetensors").quantized(), std::vector<std::string>{"proj"});
}

TEST(Cli, ReportJsonHasTheDocumentedKeys) {
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  const Result r = run({"report", dir / "m.safetensors", "--json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty());
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tensors"].size(), 5u);
  std::int64_t before = 0;
  std::int64_t after = 0;
  for (const auto& t : j["tensors"]) {
    for (const char* key : {"name", "shape", "scheme", "bits", "copied_because", "mse", "sqnr_db", "max_abs", "cosine",
                            "bytes_before", "bytes_after"}) {
      EXPECT_TRUE(t.contains(key)) << key;
    }
    before += t["bytes_before"].get<std::int64_t>();
    after += t["bytes_after"].get<std::int64_t>();
  }
  EXPECT_EQ(j["totals"]["bytes_before"], before);
  EXPECT_EQ(j["totals"]["bytes_after"], after);
  EXPECT_EQ(j["totals"]["tensors"], 5);
  EXPECT_EQ(j["totals"]["quantized"], 3);
  EXPECT_EQ(j["totals"]["kept_float"], 1) << "the bias";
  EXPECT_EQ(j["totals"]["kept_float_bytes"], 12 * 4);
  EXPECT_TRUE(j["tensors"][0]["copied_because"].is_null());
  EXPECT_EQ(j["tensors"][2]["name"], "layers.1.bias");
  EXPECT_EQ(j["tensors"][2]["copied_because"], "rank < 2");
  EXPECT_EQ(j["tensors"][2]["scheme"], "copy");
  EXPECT_EQ(j["tensors"][4]["copied_because"], "not a float");
  // The first tensor's numbers are the library's compare() of the same reconstruction.
  const auto& t0 = j["tensors"][0];
  EXPECT_EQ(t0["name"], "layers.0.weight");
  EXPECT_EQ(t0["bytes_before"], 8 * 40 * 4);
  EXPECT_EQ(t0["bytes_after"], 8 * 40 + 8 * 4);  // int8 codes + one float scale per row
  const auto q = eigenq::quantize(m.w1, eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0});
  const Eigen::MatrixXf w_hat = eigenq::dequantize(q);
  const eigenq::ErrorMetrics e = eigenq::compare(m.w1, w_hat);
  EXPECT_NEAR(t0["mse"].get<double>(), e.mse, 1e-12 * e.mse);
  EXPECT_NEAR(t0["sqnr_db"].get<double>(), e.sqnr_db, 1e-9);
  EXPECT_EQ(t0["max_abs"].get<double>(), e.max_abs);
  EXPECT_NEAR(t0["cosine"].get<double>(), e.cosine, 1e-12);
  EXPECT_TRUE(j["tensors"][4]["sqnr_db"].is_null()) << "the copied ids are lossless: infinite SQNR is null in JSON";

  // quantize --report writes the same object.
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet", "--report", dir / "r.json"}).exit_code, 0);
  const auto written = nlohmann::json::parse(slurp(dir / "r.json"));
  EXPECT_EQ(written["tensors"], j["tensors"]);
  EXPECT_EQ(written["totals"], j["totals"]);
}

TEST(Cli, TablesProgressAndQuiet) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  const Result q = run({"quantize", dir / "m.safetensors", dir / "q.safetensors"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  // "[k/5]" counts tensors as they finish, in whatever order the jobs finish them.
  EXPECT_NE(q.err.find("5] layers.0.weight: F32 [8, 40] -> linear-symmetric 8-bit channel(0)"), std::string::npos) << q.err;
  EXPECT_NE(q.err.find("[5/5]"), std::string::npos) << "one plain line per tensor when stderr is not a terminal";
  EXPECT_NE(q.out.find("5 tensors (3 quantized, 2 copied)"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("kept in float: 1 tensor of rank < 2, 48 B (layers.1.bias); --quantize-vectors quantizes them"),
            std::string::npos)
      << q.out;
  EXPECT_NE(q.out.find("copy (rank < 2)"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("copy (not a float)"), std::string::npos) << q.out;
  EXPECT_NE(q.err.find("5] layers.1.bias: F32 [12] -> copied (rank < 2), 48 B -> 48 B"), std::string::npos) << q.err;
  const Result quiet = run({"quantize", dir / "m.safetensors", dir / "q2.safetensors", "--quiet"});
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_TRUE(quiet.out.empty() && quiet.err.empty());
  const Result report = run({"report", dir / "m.safetensors", "--quiet", "--scheme", "log-signed", "--bits", "4"});
  EXPECT_NE(report.out.find("sqnr_db"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("all quantized elements: mse"), std::string::npos);
  EXPECT_NE(report.out.find("kept in float: 1 tensor of rank < 2, 48 B (layers.1.bias)"), std::string::npos) << report.out;
}

TEST(Cli, InspectDescribesFiles) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet", "--bits", "4", "--granularity", "group"}).exit_code, 0);
  const Result text = run({"inspect", dir / "q.safetensors"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("eigenq format 1: 3 quantized, 2 plain tensors"), std::string::npos) << text.out;
  // Each tensor's original dtype and bytes, then what is stored for it and its bytes.
  const auto line_of = [&](const std::string& tensor) {
    const std::size_t at = text.out.find("\n" + tensor + " ");
    return at == std::string::npos ? std::string() : text.out.substr(at + 1, text.out.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(text.out.find("original dtype  original bytes  stored dtype"), std::string::npos) << text.out;
  // [8, 40] F32 = 1280 B; 160 B of packed codes + 8 x 2 F32 scales = 224 B.
  EXPECT_TRUE(std::regex_search(line_of("layers.0.weight"),
                                std::regex(R"(\[8, 40\] +F32 +1\.2 KiB +I8 4-bit packed 2/byte \+ F32 scale +224 B +)"
                                           R"(linear-symmetric 4-bit, per group \(axis 1, G = 32\), codes \[-8, 7\])")))
      << text.out;
  EXPECT_TRUE(std::regex_search(line_of("embed"), std::regex(R"(\[5, 6\] +F16 +60 B +I8 4-bit packed 2/byte \+ F32 scale)"))) << text.out;
  EXPECT_TRUE(std::regex_search(line_of("layers.1.bias"), std::regex(R"(\[12\] +F32 +48 B +F32 +48 B +-$)"))) << text.out;
  EXPECT_TRUE(std::regex_search(line_of("ids"), std::regex(R"(\[4\] +I64 +32 B +I64 +32 B +-$)"))) << text.out;
  const Result json = run({"inspect", dir / "q.safetensors", "--json"});
  ASSERT_EQ(json.exit_code, 0);
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["eigenq_format"], "1");
  EXPECT_EQ(j["metadata"]["format"], "pt");
  const auto& t0 = j["tensors"][0];
  EXPECT_EQ(t0["name"], "layers.0.weight");
  EXPECT_EQ(t0["original_dtype"], "F32");
  EXPECT_EQ(t0["original_bytes"], 8 * 40 * 4);
  EXPECT_EQ(t0["stored_dtype"], "I8");
  EXPECT_EQ(t0["stored_bytes"], 224);
  EXPECT_EQ(t0["quantization"]["storage_bits"], 4);
  EXPECT_EQ(t0["stored"].size(), 2u);
  EXPECT_EQ(j["tensors"][3]["name"], "embed");
  EXPECT_EQ(j["tensors"][3]["original_dtype"], "F16");
  EXPECT_EQ(j["tensors"][3]["original_bytes"], 60);
  const auto& ids = j["tensors"][4];
  EXPECT_EQ(ids["original_dtype"], "I64");
  EXPECT_EQ(ids["stored_dtype"], "I64");
  EXPECT_EQ(ids["original_bytes"], ids["stored_bytes"]);
  // 3-bit codes pack 8 to 3 bytes.
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "c.safetensors", "--quiet", "--scheme", "codebook", "--bits", "3"})
                .exit_code,
            0);
  const Result codebook = run({"inspect", dir / "c.safetensors"});
  EXPECT_NE(codebook.out.find("U8 3-bit packed 8 per 3 bytes + F32 codebook"), std::string::npos) << codebook.out;
  const Result plain = run({"inspect", dir / "m.safetensors", "--json"});
  EXPECT_TRUE(nlohmann::json::parse(plain.out)["eigenq_format"].is_null());
  eigenq::io::write_npy(dir / "v.npy", random_matrix(2, 3, 1));
  const Result npy = run({"inspect", dir / "v.npy"});
  EXPECT_NE(npy.out.find("F32 ('<f4')"), std::string::npos) << npy.out;
  EXPECT_NE(npy.out.find("Fortran"), std::string::npos);
}

// ---- Errors: exit code 2, one line on stderr naming file, tensor and problem, nothing on stdout.

using cli_test::expect_exit_2;

TEST(CliErrors, UsageErrors) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  const std::string in = dir / "m.safetensors";
  const std::string out = dir / "q.safetensors";
  expect_exit_2(run({}), {"eigenq:"});
  expect_exit_2(run({"quantize", in}), {"OUT is required"});
  expect_exit_2(run({"frobnicate"}), {"unknown command 'frobnicate'"});
  expect_exit_2(run({"quantize", in, out, "--scheme", "linear"}), {"--scheme 'linear' is not one of"});
  expect_exit_2(run({"quantize", in, out, "--bits", "17"}), {"--bits 17 is out of range"});
  expect_exit_2(run({"quantize", in, out, "--bits", "x"}), {"--bits"});
  expect_exit_2(run({"quantize", in, out, "--scheme", "log2", "--bits", "9"}), {"log2"});
  expect_exit_2(run({"quantize", in, out, "--group-size", "8"}), {"--group-size needs --granularity group"});
  expect_exit_2(run({"quantize", in, out, "--granularity", "tensor", "--axis", "1"}), {"--axis does not apply"});
  expect_exit_2(run({"quantize", in, out, "--scheme", "log", "--profile", "onnx"}), {"--profile applies to linear"});
  expect_exit_2(run({"quantize", in, out, "--convention", "real-offset"}), {"use --scheme linear-affine"});
  expect_exit_2(run({"quantize", in, out, "--calibration", "percentile:0"}), {"percentile:P needs P in (0, 100]"});
  expect_exit_2(run({"quantize", in, out, "--calibration", "entropy"}), {"--calibration 'entropy'"});
  expect_exit_2(run({"quantize", in, out, "--scheme", "codebook", "--calibration", "mse"}), {"k-means"});
  expect_exit_2(run({"quantize", in, out, "--granularity", "group", "--calibration", "kl"}), {"not per group"});
  expect_exit_2(run({"quantize", in, out, "--include", "("}), {"--include '(' is not a valid regular expression"});
  expect_exit_2(run({"quantize", in, out, "--jobs", "0"}), {"--jobs 0"});
  expect_exit_2(run({"quantize", in, out, "--double-quant", "4"}), {"--double-quant needs", "--granularity group"});
  expect_exit_2(run({"quantize", in, dir / "q.npy"}), {"ends in .npy"});
  EXPECT_TRUE(dir.entries() == std::vector<std::string>{"m.safetensors"}) << "no output from any failed run";
  EXPECT_EQ(run({"--help"}).exit_code, 0);
  EXPECT_EQ(run({"quantize", "--help"}).exit_code, 0);
  EXPECT_EQ(run({"--version"}).exit_code, 0);
}

TEST(CliErrors, OutEqualToInIsRefusedUpFront) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  const auto before = io_test::read_bytes(dir / "m.safetensors");
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "m.safetensors"}), {"is the same file as IN"});
  ASSERT_EQ(::link((dir / "m.safetensors").c_str(), (dir / "alias.safetensors").c_str()), 0);
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "alias.safetensors"}), {"alias.safetensors", "same file"});
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet"}).exit_code, 0);
  expect_exit_2(run({"dequantize", dir / "q.safetensors", dir / "q.safetensors"}), {"same file"});
  EXPECT_EQ(io_test::read_bytes(dir / "m.safetensors"), before);
}

TEST(CliErrors, BadTensorLateInTheFileLeavesNoOutputAndKeepsAnOldOne) {
  io_test::TempDir dir;
  std::vector<eigenq::io::OwnedTensor> tensors;
  std::vector<float> good(4096, 0.5f);
  for (int i = 0; i < 6; ++i) tensors.push_back(eigenq::io::make_tensor("t" + std::to_string(i), {64, 64}, good.data()));
  std::vector<float> bad(good);
  bad[100] = std::nanf("");
  tensors.push_back(eigenq::io::make_tensor("late", {64, 64}, bad.data()));
  eigenq::io::write_safetensors(dir / "m.safetensors", tensors);
  for (const char* jobs : {"1", "2"}) {
    const Result r = run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--jobs", jobs});
    EXPECT_EQ(r.exit_code, 2);
    const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    EXPECT_NE(last.find("m.safetensors: tensor 'late': "), std::string::npos) << last;
    EXPECT_NE(last.find("NaN at index [1, 36] (channel 1 of axis 0)"), std::string::npos) << last;
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"}) << "no OUT, no temporary file";
  }
  // Every calibration names the tensor, the option and the index, in the tool's words.
  for (const char* calibration : {"percentile:99.9", "mse", "kl"}) {
    expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet", "--calibration", calibration}),
                  {"m.safetensors: tensor 'late': --calibration ", calibration, " found NaN at index [1, 36] (channel 1 of axis 0)"});
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
  }
  // A bad vector fails only when vectors are quantized; the failure leaves nothing either.
  std::vector<float> bad_vector(64, 1.0f);
  bad_vector[5] = std::numeric_limits<float>::infinity();
  tensors.pop_back();
  tensors.push_back(eigenq::io::make_tensor("norm", {64}, bad_vector.data()));
  eigenq::io::write_safetensors(dir / "v.safetensors", tensors);
  ASSERT_EQ(run({"quantize", dir / "v.safetensors", dir / "v.q.safetensors", "--quiet"}).exit_code, 0);
  expect_exit_2(run({"quantize", dir / "v.safetensors", dir / "v.q2.safetensors", "--quiet", "--quantize-vectors"}),
                {"v.safetensors: tensor 'norm': ", "+Inf at index [5]"});
  ::unlink((dir / "v.safetensors").c_str());
  ::unlink((dir / "v.q.safetensors").c_str());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
  io_test::write_text(dir / "q.safetensors", "an older good output");
  EXPECT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet"}).exit_code, 2);
  EXPECT_EQ(slurp(dir / "q.safetensors"), "an older good output") << "a failure never clobbers an existing file";
  EXPECT_EQ(dir.entries().size(), 2u);
}

TEST(CliErrors, BadFilesNameTheFileAndTheProblem) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  auto bytes = io_test::read_bytes(dir / "m.safetensors");
  io_test::write_bytes(dir / "cut.safetensors", std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 10));
  expect_exit_2(run({"quantize", dir / "cut.safetensors", dir / "q.safetensors"}), {"cut.safetensors", "truncated?"});
  io_test::write_bytes(dir / "short.safetensors", std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 50));
  expect_exit_2(run({"report", dir / "short.safetensors"}), {"short.safetensors", "header size", "larger than the file"});
  io_test::write_text(dir / "junk.safetensors", std::string("\x10\0\0\0\0\0\0\0{\"a\": nonsense}", 24));
  expect_exit_2(run({"inspect", dir / "junk.safetensors"}), {"junk.safetensors", "not valid JSON"});
  expect_exit_2(run({"quantize", dir / "missing.safetensors", dir / "q.safetensors"}), {"missing.safetensors", "cannot open"});
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--axis", "2"}),
               {"m.safetensors: tensor 'layers.0.weight'", "axis 2 is out of range"});
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--scheme", "log"}),
               {"tensor 'layers.0.weight'", "log quantization needs positive data",
                "use --scheme log-signed or --scheme log2 for data with zeros or negative values"});
  expect_exit_2(run({"dequantize", dir / "m.safetensors", dir / "d.safetensors"}), {"not an eigenq-quantized file"});
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.safetensors", "--quiet"}).exit_code, 0);
  expect_exit_2(run({"quantize", dir / "q.safetensors", dir / "qq.safetensors"}), {"already an eigenq-quantized file"});
  expect_exit_2(run({"dequantize", dir / "q.safetensors", dir / "d.npy"}), {"holds one tensor, but IN has 5"});
  // A tensor named like another's parameter tensor.
  const std::vector<float> v{1, 2, 3};
  eigenq::io::write_safetensors(dir / "clash.safetensors",
                                {eigenq::io::make_tensor("w", {3}, v.data()), eigenq::io::make_tensor("w.scale", {3}, v.data())});
  expect_exit_2(run({"quantize", dir / "clash.safetensors", dir / "c.safetensors", "--quantize-vectors"}),
               {"clash.safetensors: tensors 'w' and 'w.scale' would both be stored as 'w.scale'"});
  // Vectors are kept in float by default, so nothing clashes.
  EXPECT_EQ(run({"quantize", dir / "clash.safetensors", dir / "c.safetensors", "--quiet"}).exit_code, 0);
}

// --- methods (--method gptq|awq|weighted with calibration statistics) ---

// Statistics of both matrices of Model from random inputs with a few loud channels, written
// with the library and read back (F32 Hessian), so the test feeds the library what the tool reads.
eigenq::io::CalibrationStatsMap write_model_stats(const std::string& path, bool with_second = true) {
  eigenq::io::CalibrationStatsMap stats;
  const std::vector<std::pair<std::string, Index>> layers = {{"layers.0.weight", 40}, {"layers.1.weight", 16}};
  for (std::size_t k = 0; k < (with_second ? 2u : 1u); ++k) {
    Eigen::MatrixXf x = random_matrix(64, layers[k].second, 10 + static_cast<unsigned>(k));
    x.col(3) *= 20.0f;
    eigenq::CalibrationStatsObserver obs(layers[k].second);
    obs.observe(x);
    stats[layers[k].first] = obs.stats();
  }
  eigenq::io::write_calibration_stats(path, stats);
  return eigenq::io::read_calibration_stats(path);
}

TEST(CliMethods, GptqAwqAndWeightedMatchTheLibrary) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  const auto stats = write_model_stats(dir / "stats.safetensors");
  const std::string stats_file = dir / "stats.safetensors";
  const auto policy = Linear<std::int8_t>::symmetric().with_bits(4);
  const Quantizer<Linear<std::int8_t>, Granularity> quantizer(policy, PerGroup{-1, 8});
  // embed [5, 6] has no statistics (not a Linear input): rounded to nearest.
  const std::vector<std::string> scheme{"--bits", "4", "--granularity", "group", "--group-size", "8",
                                        "--allow-missing-stats"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = scheme;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  for (const char* name : {"layers.0.weight", "layers.1.weight"}) {
    SCOPED_TRACE(name);
    const Eigen::MatrixXf& w = std::string(name) == "layers.0.weight" ? m.w1 : m.w2;
    const CalibrationStats& s = stats.at(name);

    quantize_and_back(dir, with({"--method", "gptq", "--calibration-stats", stats_file}));
    {
      const auto expected = gptq(w, s, quantizer).weights;
      const io::QuantizedFile q(dir / "q.safetensors");
      const auto got = q.load<Linear<std::int8_t>>(name);
      EXPECT_EQ(got.unpacked_codes(), expected.unpacked_codes());
      EXPECT_TRUE(got.params() == expected.params());
      EXPECT_NE(got.unpacked_codes(), quantizer.quantize(w).unpacked_codes()) << "GPTQ's codes are not RTN's";
      EXPECT_EQ(nlohmann::json::parse(q.file().metadata().at("eigenq:" + std::string(name)))["method"], "gptq");
    }

    quantize_and_back(dir, with({"--method", "weighted", "--calibration-stats", stats_file}));
    {
      const auto expected = weighted_rounding(w, s, quantizer).weights;
      const io::QuantizedFile q(dir / "q.safetensors");
      const auto got = q.load<Linear<std::int8_t>>(name);
      EXPECT_EQ(got.unpacked_codes(), expected.unpacked_codes());
      EXPECT_TRUE(got.params() == expected.params());
    }

    quantize_and_back(dir, with({"--method", "awq", "--calibration-stats", stats_file}));
    {
      const auto expected = awq(w, s, quantizer);
      const io::QuantizedFile q(dir / "q.safetensors");
      const auto got = q.load<Linear<std::int8_t>>(name);
      EXPECT_EQ(got.unpacked_codes(), expected.weights.unpacked_codes());
      EXPECT_TRUE(got.params() == expected.weights.params());
      const std::string scales = std::string(name) + ".input_scale";
      EXPECT_EQ(nlohmann::json::parse(q.file().metadata().at("eigenq:" + std::string(name)))["input_scale"], scales);
      const auto v = q.file().tensor(scales).to_float();
      ASSERT_EQ(static_cast<Index>(v.size()), w.cols());
      EXPECT_TRUE(same_bits(v, std::vector<float>(expected.input_scales.data(),
                                                  expected.input_scales.data() + expected.input_scales.size())));
      // dequantize keeps the scales as a float tensor next to the weight they go with.
      const io::SafetensorsFile d(dir / "d.safetensors");
      EXPECT_TRUE(d.contains(scales));
    }
  }
  // report measures the error of the method and says which one each tensor got.
  const Result r = run({"report", dir / "m.safetensors", "--json", "--quiet", "--method", "gptq", "--calibration-stats",
                        stats_file, "--bits", "4", "--granularity", "group", "--group-size", "8",
                        "--allow-missing-stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tensors"][0]["method"], "gptq");
  EXPECT_EQ(j["tensors"][3]["name"], "embed");
  EXPECT_EQ(j["tensors"][3]["method"], "rtn");
  EXPECT_EQ(j["tensors"][3]["method_fallback"], "no statistics");
  EXPECT_TRUE(j["tensors"][2]["method"].is_null()) << "the bias is copied";
}

TEST(CliMethods, WeightedReadsAnImatrix) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Model m;
  m.write(dir / "m.safetensors");
  // A legacy llama.cpp imatrix for layers.0.weight: i32 entries; name, ncall, nval, values.
  std::vector<float> importance(40);
  for (std::size_t k = 0; k < importance.size(); ++k) importance[k] = 0.5f + static_cast<float>(k % 7);
  std::vector<std::uint8_t> bytes;
  auto i32 = [&](std::int32_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    bytes.insert(bytes.end(), p, p + 4);
  };
  i32(1);
  const std::string name = "layers.0.weight";
  i32(static_cast<std::int32_t>(name.size()));
  bytes.insert(bytes.end(), name.begin(), name.end());
  i32(1);
  i32(40);
  for (float f : importance) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&f);
    bytes.insert(bytes.end(), p, p + 4);
  }
  io_test::write_bytes(dir / "i.dat", bytes);
  const std::vector<std::string> scheme{"--bits", "3", "--granularity", "group", "--group-size", "8"};
  std::vector<std::string> args{"--method", "weighted", "--imatrix", dir / "i.dat", "--allow-missing-stats"};
  args.insert(args.end(), scheme.begin(), scheme.end());
  quantize_and_back(dir, args);
  const auto stats = io::calibration_stats_from_imatrix(io::read_imatrix(dir / "i.dat"));
  const Quantizer<Linear<std::int8_t>, Granularity> quantizer(Linear<std::int8_t>::symmetric().with_bits(3), PerGroup{-1, 8});
  const auto expected = weighted_rounding(m.w1, stats.at(name), quantizer).weights;
  const io::QuantizedFile q(dir / "q.safetensors");
  EXPECT_EQ(q.load<Linear<std::int8_t>>(name).unpacked_codes(), expected.unpacked_codes());
  // layers.1.weight had no entry: rounded to nearest, as the summary says.
  EXPECT_EQ(q.load<Linear<std::int8_t>>("layers.1.weight").unpacked_codes(), quantizer.quantize(m.w2).unpacked_codes());
  std::vector<std::string> loud{"quantize", dir / "m.safetensors", dir / "q2.safetensors"};
  loud.insert(loud.end(), args.begin(), args.end());
  const Result r = run(loud);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("method weighted: 1 tensor with statistics from"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rounded to nearest instead: 2 tensors, no statistics (layers.1.weight, embed)"), std::string::npos)
      << r.out;
}

TEST(CliMethods, MissingOrBadStatisticsAreErrorsNamingTheTensorAndLeaveNoOutput) {
  using namespace eigenq;
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  const std::string in = dir / "m.safetensors";
  const std::string out = dir / "q.safetensors";
  write_model_stats(dir / "one.safetensors", false);
  const std::vector<std::string> before = dir.entries();
  // layers.1.weight has no statistics.
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", dir / "one.safetensors"}),
                {"m.safetensors: tensor 'layers.1.weight': no statistics in ", "one.safetensors for --method gptq",
                 "--allow-missing-stats"});
  // Statistics without the Hessian, for the methods that need it.
  {
    auto s = write_model_stats(dir / "full.safetensors");
    for (auto& kv : s) kv.second.hessian.resize(0, 0);
    io::write_calibration_stats(dir / "nohessian.safetensors", s);
  }
  expect_exit_2(run({"quantize", in, out, "--method", "awq", "--calibration-stats", dir / "nohessian.safetensors"}),
                {"tensor 'layers.0.weight': statistics without hessian, in_abs_sum and count in "});
  // ...which weighted rounding does not need.
  ASSERT_EQ(run({"quantize", in, out, "--quiet", "--method", "weighted", "--calibration-stats",
                 dir / "nohessian.safetensors", "--allow-missing-stats"}).exit_code, 0);
  ::unlink(out.c_str());
  // Names that match no tensor, or a tensor of another width.
  {
    auto s = write_model_stats(dir / "full.safetensors");
    s["layers.9.weight"] = s.at("layers.1.weight");
    io::write_calibration_stats(dir / "extra.safetensors", s);
    auto t = write_model_stats(dir / "full.safetensors");
    t["layers.1.weight"] = t.at("layers.0.weight");  // 40 inputs for a [12, 16] weight
    io::write_calibration_stats(dir / "wide.safetensors", t);
  }
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", dir / "extra.safetensors"}),
                {"extra.safetensors", "layers.9.weight"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", dir / "wide.safetensors"}),
                {"wide.safetensors", "layers.1.weight", "40", "16"});
  // A zero count and a negative sum (written by hand: the library's writer refuses them).
  const std::vector<float> sums(16, 1.0f);
  std::vector<float> negative(16, 1.0f);
  negative[2] = -1.0f;
  const std::vector<std::int64_t> zero{0};
  const std::vector<std::int64_t> one{1};
  io::write_safetensors(dir / "zero.safetensors", {io::make_tensor("layers.1.weight.in_sum2", {16}, sums.data()),
                                                    io::make_tensor("layers.1.weight.count", {1}, zero.data())});
  io::write_safetensors(dir / "neg.safetensors", {io::make_tensor("layers.1.weight.in_sum2", {16}, negative.data()),
                                                   io::make_tensor("layers.1.weight.count", {1}, one.data())});
  expect_exit_2(run({"quantize", in, out, "--method", "weighted", "--calibration-stats", dir / "zero.safetensors"}),
                {"zero.safetensors", "layers.1.weight", "count"});
  expect_exit_2(run({"quantize", in, out, "--method", "weighted", "--calibration-stats", dir / "neg.safetensors"}),
                {"neg.safetensors", "layers.1.weight", "in_sum2"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", dir / "absent.safetensors"}),
                {"absent.safetensors"});
  for (const char* f : {"full.safetensors", "nohessian.safetensors", "extra.safetensors", "wide.safetensors",
                        "zero.safetensors", "neg.safetensors"}) {
    ::unlink((dir / f).c_str());
  }
  EXPECT_EQ(dir.entries(), before) << "no output from any failed run";
  // With --allow-missing-stats the tensor is rounded to nearest and the summary says so.
  const Result r = run({"quantize", in, out, "--method", "gptq", "--calibration-stats", dir / "one.safetensors",
                        "--allow-missing-stats"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rounded to nearest instead: 2 tensors, no statistics (layers.1.weight, embed)"), std::string::npos)
      << r.out;
}

TEST(CliMethods, UsageErrors) {
  io_test::TempDir dir;
  Model().write(dir / "m.safetensors");
  const std::string in = dir / "m.safetensors";
  const std::string out = dir / "q.safetensors";
  const std::string stats = dir / "s.safetensors";
  expect_exit_2(run({"quantize", in, out, "--method", "hqq"}), {"--method 'hqq' is not one of rtn, gptq, awq, weighted"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq"}), {"--method gptq needs --calibration-stats FILE"});
  expect_exit_2(run({"quantize", in, out, "--method", "weighted"}), {"--calibration-stats FILE or --imatrix FILE"});
  expect_exit_2(run({"quantize", in, out, "--calibration-stats", stats}), {"--calibration-stats needs --method"});
  expect_exit_2(run({"quantize", in, out, "--imatrix", stats}), {"--imatrix needs --method weighted"});
  expect_exit_2(run({"quantize", in, out, "--allow-missing-stats"}), {"--allow-missing-stats needs --method"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--imatrix", stats}), {"--imatrix", "--method gptq"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", stats, "--imatrix", stats}),
                {"choose one statistics file"});
  expect_exit_2(run({"quantize", in, out, "--method", "gptq", "--calibration-stats", stats, "--calibration", "mse"}),
                {"--calibration mse does not apply to --method gptq"});
  expect_exit_2(run({"report", in, "--method", "awq"}), {"--method awq needs --calibration-stats FILE"});
  EXPECT_TRUE(dir.entries() == std::vector<std::string>{"m.safetensors"}) << "no output from any failed run";
}

}  // namespace
