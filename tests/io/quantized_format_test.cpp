#include "eigenq/io/quantized_format.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "eigenq/quantizer/quantizer.hpp"
#include "io_test_util.hpp"
#include "support/random_data.hpp"

namespace {

using eigenq::Index;
using eigenq::Shape;
using eigenq::io::DType;

Eigen::MatrixXf random_matrix(Index rows, Index cols, unsigned seed, float offset = 0.0f) {
  return eigenq_test::normal_matrix(rows, cols, seed, offset);
}

using eigenq_test::same_bits;

template <class Policy, class G>
void check_round_trip(const std::string& label, const Policy& policy, G granularity, const Eigen::MatrixXf& x) {
  SCOPED_TRACE(label);
  io_test::TempDir dir;
  const auto q = eigenq::Quantizer<Policy, G>(policy, granularity).quantize(x);
  eigenq::io::QuantizedFileWriter out;
  out.add("w", q);
  out.write(dir / "q.safetensors");

  const eigenq::io::QuantizedFile in(dir / "q.safetensors");
  ASSERT_TRUE(in.is_quantized("w"));
  const auto back = in.load<Policy>("w");
  EXPECT_EQ(back.shape(), q.shape());
  EXPECT_EQ(back.granularity(), q.granularity());
  EXPECT_EQ(back.bits(), q.bits());
  EXPECT_EQ(back.policy().range(), q.policy().range());
  EXPECT_TRUE(back.params() == q.params());
  EXPECT_EQ(back.unpacked_codes(), q.unpacked_codes());
  EXPECT_EQ(back.codes().bytes(), q.codes().bytes());
  EXPECT_TRUE(same_bits(back.dequantize_flat(), q.dequantize_flat())) << "load, then dequantize: bit for bit";
  EXPECT_TRUE(same_bits(in.dequantize("w"), q.dequantize_flat())) << "dequantize by metadata alone: bit for bit";
}

TEST(QuantizedFormat, RoundTripsEveryPolicyAndGranularity) {
  using namespace eigenq;
  const Eigen::MatrixXf w = random_matrix(6, 21, 1);
  const Eigen::MatrixXf positive = random_matrix(6, 21, 2).cwiseAbs().array() + 0.01f;
  check_round_trip("linear sym int8 channel", Linear<std::int8_t>::symmetric(), PerChannel{0}, w);
  check_round_trip("linear sym int8 channel axis 1", Linear<std::int8_t>::symmetric(), PerChannel{1}, w);
  check_round_trip("linear affine uint8 tensor", Linear<std::uint8_t>::affine(), PerTensor{}, w);
  check_round_trip("linear affine uint8 4-bit group", Linear<std::uint8_t>::affine().with_bits(4), PerGroup{-1, 8}, w);
  check_round_trip("linear sym int8 2-bit group axis 0", Linear<std::int8_t>::symmetric().with_bits(2), PerGroup{0, 4}, w);
  check_round_trip("linear sym int8 3-bit", Linear<std::int8_t>::symmetric().with_bits(3), PerChannel{0}, w);
  check_round_trip("linear sym uint8 (zero point 128)", Linear<std::uint8_t>::symmetric(), PerChannel{0}, w);
  check_round_trip("linear onnx int8", Linear<std::int8_t>::symmetric(Profile::onnx), PerChannel{0}, w);
  check_round_trip("linear tflite uint8 affine", Linear<std::uint8_t>::affine(Profile::tflite), PerTensor{}, w);
  check_round_trip("linear reduce range", Linear<std::uint8_t>::affine().with_reduce_range(), PerTensor{}, w);
  check_round_trip("linear custom range", Linear<std::int8_t>::affine().with_range(-100, 90), PerChannel{0}, w);
  check_round_trip("linear int16 12-bit", Linear<std::int16_t>::symmetric().with_bits(12), PerChannel{0}, w);
  check_round_trip("linear uint16 affine", Linear<std::uint16_t>::affine(), PerGroup{1, 5}, w);
  check_round_trip("seed uint8", LinearRealOffset<std::uint8_t>(), PerChannel{0}, w);
  check_round_trip("seed uint8 4-bit", LinearRealOffset<std::uint8_t>().with_bits(4), PerTensor{}, w);
  check_round_trip("log uint8", Log<std::uint8_t>(), PerChannel{0}, positive);
  check_round_trip("log uint8 4-bit group", Log<std::uint8_t>().with_bits(4), PerGroup{-1, 7}, positive);
  check_round_trip("exp uint8 3-bit", Exp<std::uint8_t>().with_bits(3), PerChannel{0}, w);
  check_round_trip("exp uint16", Exp<std::uint16_t>().with_bits(10), PerTensor{}, w);
  check_round_trip("log-signed int8 4-bit", LogSigned<std::int8_t>().with_bits(4), PerChannel{0}, w);
  check_round_trip("log-signed int8 2-bit", LogSigned<std::int8_t>().with_bits(2), PerChannel{0}, w);
  check_round_trip("log-signed int8 octaves", LogSigned<std::int8_t>().with_octaves(9.5), PerTensor{}, w);
  check_round_trip("log-signed int16", LogSigned<std::int16_t>().with_bits(11), PerChannel{0}, w);
  check_round_trip("log2 int8 4-bit", Log2<std::int8_t>().with_bits(4), PerChannel{0}, w);
  check_round_trip("log2 int16", Log2<std::int16_t>(), PerGroup{-1, 3}, w);
  check_round_trip("codebook uint8 3-bit", Codebook<std::uint8_t>().with_bits(3), PerChannel{0}, w);
  check_round_trip("codebook int8 k=5", Codebook<std::int8_t>().with_bits(4).with_clusters(5), PerTensor{}, w);
  // Fewer distinct values than levels: the codebook rows are padded.
  Eigen::MatrixXf few = Eigen::MatrixXf::Zero(4, 6);
  few(1, 2) = 1.0f;
  few(3, 5) = -2.0f;
  check_round_trip("codebook padded rows", Codebook<std::uint8_t>().with_bits(4), PerChannel{0}, few);
}

TEST(QuantizedFormat, DoubleQuantizedScalesRoundTrip) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Eigen::MatrixXf w = random_matrix(6, 70, 13);
  for (bool affine : {false, true}) {
    SCOPED_TRACE(affine);
    const auto policy = affine ? Linear<std::int8_t>::affine().with_bits(4) : Linear<std::int8_t>::symmetric().with_bits(4);
    const Quantizer<Linear<std::int8_t>, PerGroup> quantizer(policy, PerGroup{-1, 8});
    const auto dq = double_quantize(quantizer, w, 4);  // 9 groups per row, super-blocks of 4: 3 per row
    io::QuantizedFileWriter out;
    out.add("w", dq);
    out.write(dir / "dq.safetensors");

    const io::QuantizedFile in(dir / "dq.safetensors");
    EXPECT_EQ(in.file().info("w.scale_code").dtype, DType::u8);
    EXPECT_EQ(in.file().info("w.scale_code").shape, (Shape{6, 9}));
    EXPECT_EQ(in.file().info("w.super_scale").shape, (Shape{6, 3}));
    EXPECT_FALSE(in.file().contains("w.scale"));
    EXPECT_EQ(in.file().contains("w.zero_point"), affine);
    const auto back = in.load_double_quantized<std::int8_t>("w");
    EXPECT_EQ(back.scales.scale_codes, dq.scales.scale_codes);
    EXPECT_EQ(back.scales.block_scales, dq.scales.block_scales);
    EXPECT_EQ(back.scales.block_of_group, dq.scales.block_of_group);
    EXPECT_TRUE(back.tensor.params() == dq.tensor.params()) << "effective scales code * d, bit for bit";
    EXPECT_EQ(back.tensor.unpacked_codes(), dq.tensor.unpacked_codes());
    EXPECT_TRUE(same_bits(in.dequantize("w"), dq.tensor.dequantize_flat()));
    EXPECT_TRUE(same_bits(in.load<Linear<std::int8_t>>("w").dequantize_flat(), dq.tensor.dequantize_flat()));
    EXPECT_EQ(nlohmann::json::parse(in.file().metadata().at("eigenq:w"))["double_quant"]["groups_per_block"], 4);
  }
  io::QuantizedFileWriter out;
  io::QuantizedTensorOptions options;
  options.double_quant_groups_per_block = 4;
  EXPECT_THROW_WITH(out.add("q", quantize(w, Linear<std::int8_t>::symmetric(), PerGroup{-1, 8}), options),
                    InvalidArgument, "add a DoubleQuantized");
  EXPECT_THROW_WITH(io::plan_quantized("q", Log2<std::int8_t>(), {6, 70}, PerGroup{-1, 8}, options), InvalidArgument,
                    "double quantization needs a linear policy");
}

TEST(QuantizedFormat, PackedCodesLowBitsFirst) {
  using namespace eigenq;
  io_test::TempDir dir;
  // 4-bit signed codes [-8, 7, 0, -1, 3] -> bytes 0x78, 0xF0, 0x03 (low nibble = even element).
  const std::vector<std::int8_t> c4{-8, 7, 0, -1, 3};
  QTensor<Linear<std::int8_t>> q4(Linear<std::int8_t>::symmetric().with_bits(4), {5}, PerTensor{}, {{0.5f, 0}},
                                  CodeStorage<std::int8_t>(c4.data(), 5, 4));
  // 2-bit signed codes [-2, -1, 0, 1, 1] -> fields 2, 3, 0, 1 | 1 -> bytes 0x4E, 0x01.
  const std::vector<std::int8_t> c2{-2, -1, 0, 1, 1};
  QTensor<Linear<std::int8_t>> q2(Linear<std::int8_t>::symmetric().with_bits(2), {5}, PerTensor{}, {{0.5f, 0}},
                                  CodeStorage<std::int8_t>(c2.data(), 5, 2));
  io::QuantizedFileWriter out;
  out.add("q4", q4);
  out.add("q2", q2);
  out.write(dir / "p.safetensors");
  const io::SafetensorsFile f(dir / "p.safetensors");
  EXPECT_EQ(f.info("q4").dtype, DType::u8);
  EXPECT_EQ(f.tensor("q4").values<int>(), (std::vector<int>{0x78, 0xF0, 0x03}));
  EXPECT_EQ(f.tensor("q2").values<int>(), (std::vector<int>{0x4E, 0x01}));
  EXPECT_EQ(io::QuantizedFile(dir / "p.safetensors").dequantize("q4"), (std::vector<float>{-4.0f, 3.5f, 0.0f, -0.5f, 1.5f}));
}

TEST(QuantizedFormat, MetadataAndTensorsAreTheDocumentedOnes) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Eigen::MatrixXf w = random_matrix(4, 10, 3);
  const auto q = quantize(w, Linear<std::uint8_t>::affine().with_bits(4), PerGroup{-1, 4});
  io::QuantizedFileWriter out;
  io::QuantizedTensorOptions options;
  options.original_dtype = DType::bf16;
  options.extra["calibration"] = "minmax";
  out.add("layer.weight", q, options);
  out.set_metadata("format", "pt");
  out.write(dir / "q.safetensors");

  const io::SafetensorsFile f(dir / "q.safetensors");
  EXPECT_EQ(f.metadata().at("eigenq.format"), "1");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  const auto meta = nlohmann::json::parse(f.metadata().at("eigenq:layer.weight"));
  EXPECT_EQ(meta["scheme"], "linear-affine");
  EXPECT_EQ(meta["bits"], 4);
  EXPECT_EQ(meta["code_dtype"], "U8");
  EXPECT_EQ(meta["storage_bits"], 4);
  EXPECT_EQ(meta["qmin"], 0);
  EXPECT_EQ(meta["qmax"], 15);
  EXPECT_EQ(meta["granularity"], "group");
  EXPECT_EQ(meta["axis"], 1);  // normalized from -1
  EXPECT_EQ(meta["group_size"], 4);
  EXPECT_EQ(meta["convention"], "inference");
  EXPECT_EQ(meta["profile"], "pytorch");
  EXPECT_EQ(meta["shape"], nlohmann::json::array({4, 10}));
  EXPECT_EQ(meta["dtype"], "BF16");
  EXPECT_EQ(meta["params"], nlohmann::json::array({"scale", "zero_point"}));
  EXPECT_EQ(meta["calibration"], "minmax");
  EXPECT_EQ(f.info("layer.weight").dtype, DType::u8);
  EXPECT_EQ(f.info("layer.weight").shape, Shape{20});  // 40 codes, two per byte
  EXPECT_EQ(f.info("layer.weight.scale").dtype, DType::f32);
  EXPECT_EQ(f.info("layer.weight.scale").shape, (Shape{4, 3}));  // ceil(10 / 4) groups per row
  EXPECT_EQ(f.info("layer.weight.zero_point").dtype, DType::i32);
  EXPECT_EQ(f.tensors().size(), 3u);
  EXPECT_THROW_WITH(out.set_metadata("eigenq:x", "y"), InvalidArgument, "reserved");
}

TEST(QuantizedFormat, PlainTensorsTravelAlongside) {
  using namespace eigenq;
  io_test::TempDir dir;
  const auto q = quantize(random_matrix(3, 4, 4), Linear<std::int8_t>::symmetric(), PerChannel{0});
  const std::vector<std::int64_t> ids{4, 5, 6};
  io::QuantizedFileWriter out;
  out.add_plain(io::make_tensor("ids", {3}, ids.data()));
  out.add("w", q);
  out.set_metadata("note", "hello");
  out.write(dir / "q.safetensors");
  const io::QuantizedFile in(dir / "q.safetensors");
  EXPECT_TRUE(in.is_eigenq());
  EXPECT_EQ(in.quantized(), std::vector<std::string>{"w"});
  EXPECT_EQ(in.plain(), std::vector<std::string>{"ids"});
  EXPECT_EQ(in.logical(), (std::vector<std::string>{"ids", "w"}));
  EXPECT_EQ(in.stored_tensors("w"), (std::vector<std::string>{"w", "w.scale"}));
  EXPECT_EQ(in.user_metadata(), (std::map<std::string, std::string>{{"note", "hello"}}));
  EXPECT_EQ(in.dequantize("ids"), (std::vector<float>{4, 5, 6}));
  std::vector<float> buffer(12, -1.0f);
  in.dequantize_into("w", buffer.data());
  EXPECT_TRUE(same_bits(buffer, q.dequantize_flat()));
  in.dequantize_into("ids", buffer.data());
  EXPECT_EQ(buffer[2], 6.0f);
}

TEST(QuantizedFormat, OtherVersionsAndForeignFiles) {
  using namespace eigenq;
  io_test::TempDir dir;
  const std::vector<float> v{1, 2};
  io::write_safetensors(dir / "v2.safetensors", {io::make_tensor("a", {2}, v.data())}, {{"eigenq.format", "2"}});
  EXPECT_THROW_WITH(io::QuantizedFile(dir / "v2.safetensors"), FormatError, "v2.safetensors",
                    "eigenq format version \"2\" is not supported");
  io::write_safetensors(dir / "half.safetensors", {io::make_tensor("a", {2}, v.data())}, {{"eigenq:a", "{}"}});
  EXPECT_THROW_WITH(io::QuantizedFile(dir / "half.safetensors"), FormatError, "no \"eigenq.format\"");
  io::write_safetensors(dir / "plain.safetensors", {io::make_tensor("a", {2}, v.data())});
  const io::QuantizedFile plain(dir / "plain.safetensors");
  EXPECT_FALSE(plain.is_eigenq());
  EXPECT_EQ(plain.plain(), std::vector<std::string>{"a"});
  EXPECT_THROW_WITH(plain.load<Linear<std::int8_t>>("a"), InvalidArgument, "not an eigenq-quantized file");
}

TEST(QuantizedFormat, LoadingWithAnotherPolicyTypeIsRefused) {
  using namespace eigenq;
  io_test::TempDir dir;
  io::QuantizedFileWriter out;
  out.add("w", quantize(random_matrix(3, 4, 5), Linear<std::int8_t>::symmetric(), PerChannel{0}));
  out.write(dir / "q.safetensors");
  const io::QuantizedFile in(dir / "q.safetensors");
  EXPECT_THROW_WITH(in.load<Linear<std::uint8_t>>("w"), InvalidArgument, "tensor 'w' is quantized as linear-symmetric",
                    "I8 codes");
  EXPECT_THROW_WITH(in.load<Log<std::int8_t>>("w"), InvalidArgument, "cannot be loaded with this policy type");
  EXPECT_NO_THROW(in.load<Linear<std::int8_t>>("w"));
}

// ---- Corrupt files: rewrite a good file with one fault, expect a FormatError naming file and tensor.

struct Contents {
  std::vector<eigenq::io::OwnedTensor> tensors;
  std::map<std::string, std::string> metadata;

  eigenq::io::OwnedTensor& tensor(const std::string& name) {
    for (auto& t : tensors) {
      if (t.name == name) return t;
    }
    throw std::runtime_error("no tensor " + name);
  }
  nlohmann::json meta(const std::string& name) const { return nlohmann::json::parse(metadata.at("eigenq:" + name)); }
  void set_meta(const std::string& name, const nlohmann::json& j) { metadata["eigenq:" + name] = j.dump(); }
};

Contents read_contents(const std::string& path) {
  const eigenq::io::SafetensorsFile f(path);
  Contents c{{}, f.metadata()};
  for (const auto& info : f.tensors()) {
    const auto v = f.tensor(info.name);
    c.tensors.push_back({info.name, info.dtype, info.shape, std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())});
  }
  return c;
}

// Test-side packer of docs/format.md section 3: codes as a little-endian bit stream of `field`-bit fields.
std::vector<std::uint8_t> pack_stream(const std::vector<std::int8_t>& codes, int field) {
  std::vector<std::uint8_t> out((codes.size() * static_cast<std::size_t>(field) + 7) / 8, 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const unsigned v = static_cast<unsigned>(codes[i]) & ((1u << field) - 1u);
    for (int b = 0; b < field; ++b) {
      const std::size_t bit = i * static_cast<std::size_t>(field) + static_cast<std::size_t>(b);
      if ((v >> b) & 1u) out[bit / 8] = static_cast<std::uint8_t>(out[bit / 8] | (1u << (bit % 8)));
    }
  }
  return out;
}

TEST(QuantizedFormat, ThreeBitCodesReadFromThreeOrFourBitFields) {
  using namespace eigenq;
  io_test::TempDir dir;
  const auto q = quantize(random_matrix(5, 7, 12), Linear<std::int8_t>::symmetric().with_bits(3), PerChannel{0});
  io::QuantizedFileWriter out;
  out.add("w", q);
  out.write(dir / "q.safetensors");
  const std::vector<std::int8_t> codes = q.unpacked_codes();
  for (int field : {3, 4}) {
    SCOPED_TRACE(field);
    Contents c = read_contents(dir / "q.safetensors");
    auto& w = c.tensors.front();
    ASSERT_EQ(w.name, "w");
    w.data = pack_stream(codes, field);
    w.shape = {static_cast<Index>(w.data.size())};
    auto m = nlohmann::json::parse(c.metadata.at("eigenq:w"));
    m["storage_bits"] = field;
    c.metadata["eigenq:w"] = m.dump();
    io::write_safetensors(dir / "f.safetensors", c.tensors, c.metadata);
    const io::QuantizedFile f(dir / "f.safetensors");
    const auto back = f.load<Linear<std::int8_t>>("w");
    EXPECT_EQ(back.unpacked_codes(), codes);
    EXPECT_TRUE(same_bits(back.dequantize_flat(), q.dequantize_flat()));
  }
}

template <class Policy, class G>
void expect_corrupt(const Policy& policy, G g, const Eigen::MatrixXf& x, const std::function<void(Contents&)>& corrupt,
                    const char* fragment) {
  io_test::TempDir dir;
  eigenq::io::QuantizedFileWriter out;
  out.add("w", eigenq::Quantizer<Policy, G>(policy, g).quantize(x));
  out.write(dir / "good.safetensors");
  Contents c = read_contents(dir / "good.safetensors");
  corrupt(c);
  eigenq::io::write_safetensors(dir / "bad.safetensors", c.tensors, c.metadata);
  EXPECT_THROW_WITH(
      {
        const eigenq::io::QuantizedFile in(dir / "bad.safetensors");
        (void)in.load<Policy>("w");
      },
      eigenq::FormatError, "bad.safetensors", fragment);
}

template <class T>
void set_value(eigenq::io::OwnedTensor& t, std::size_t i, T v) {
  std::memcpy(t.data.data() + i * sizeof(T), &v, sizeof(T));
}

TEST(QuantizedFormatCorrupt, ParametersOutOfTheirDomain) {
  using namespace eigenq;
  const Eigen::MatrixXf w = random_matrix(3, 8, 6);
  const auto sym = Linear<std::int8_t>::symmetric();
  expect_corrupt(sym, PerChannel{0}, w, [](Contents& c) { set_value(c.tensor("w.scale"), 1, -1.0f); },
                 "tensor 'w': scale of parameter set 1 is -1");
  expect_corrupt(sym, PerChannel{0}, w, [](Contents& c) { set_value(c.tensor("w.scale"), 2, std::nanf("")); },
                 "scale of parameter set 2 is nan");
  expect_corrupt(Log<std::uint8_t>(), PerTensor{}, Eigen::MatrixXf(w.cwiseAbs().array() + 1.0f),
                 [](Contents& c) { set_value(c.tensor("w.r_min"), 0, 0.0f); }, "log needs > 0");
  expect_corrupt(Exp<std::uint8_t>(), PerTensor{}, w, [](Contents& c) { set_value(c.tensor("w.r_max"), 0, -100.0f); },
                 "r_min");
  expect_corrupt(Codebook<std::uint8_t>().with_bits(2), PerTensor{}, w,
                 [](Contents& c) { set_value(c.tensor("w.codebook"), 0, 100.0f); }, "not sorted");
}

TEST(QuantizedFormatCorrupt, TensorsOfTheWrongDtypeShapeOrMissing) {
  using namespace eigenq;
  const Eigen::MatrixXf w = random_matrix(3, 8, 7);
  const auto affine = Linear<std::uint8_t>::affine();
  expect_corrupt(affine, PerChannel{0}, w, [](Contents& c) { c.tensor("w.scale").shape = {1, 3}; },
                 "'w.scale' has shape [1, 3], expected [3]");
  expect_corrupt(affine, PerChannel{0}, w, [](Contents& c) { c.tensor("w.zero_point").dtype = DType::f32; },
                 "'w.zero_point' is F32, expected I32");
  expect_corrupt(affine, PerChannel{0}, w, [](Contents& c) { c.tensor("w").shape = {8, 3}; }, "'w' has shape [8, 3]");
  expect_corrupt(affine, PerChannel{0}, w,
                 [](Contents& c) {
                   auto& t = c.tensors;
                   t.erase(std::remove_if(t.begin(), t.end(), [](const io::OwnedTensor& x) { return x.name == "w.zero_point"; }),
                           t.end());
                 },
                 "parameter tensor 'w.zero_point' is missing");
}

TEST(QuantizedFormatCorrupt, CodesOutsideTheirRange) {
  using namespace eigenq;
  // Codes on [-7, 7] live in 4-bit fields: the nibble 0x8 is -8, outside the range.
  expect_corrupt(Linear<std::int8_t>::symmetric().with_range(-7, 7), PerTensor{}, random_matrix(2, 3, 8),
                 [](Contents& c) { c.tensor("w").data[0] = 0x88; }, "code -8 at element 0 lies outside [-7, 7]");
  expect_corrupt(Exp<std::uint8_t>(), PerTensor{}, random_matrix(2, 3, 9), [](Contents& c) { c.tensor("w").data[4] = 0; },
                 "code 0 at element 4 lies outside [1, 255]");
}

TEST(QuantizedFormatCorrupt, DoubleQuantizedScales) {
  using namespace eigenq;
  io_test::TempDir dir;
  const Quantizer<Linear<std::int8_t>, PerGroup> quantizer(Linear<std::int8_t>::symmetric().with_bits(4), PerGroup{-1, 4});
  io::QuantizedFileWriter out;
  out.add("w", double_quantize(quantizer, random_matrix(3, 16, 14), 2));
  out.write(dir / "good.safetensors");
  auto check = [&](const std::function<void(Contents&)>& corrupt, const char* fragment) {
    Contents c = read_contents(dir / "good.safetensors");
    corrupt(c);
    io::write_safetensors(dir / "bad.safetensors", c.tensors, c.metadata);
    EXPECT_THROW_WITH((void)io::QuantizedFile(dir / "bad.safetensors").dequantize("w"), FormatError, "bad.safetensors",
                      fragment);
  };
  check([](Contents& c) { set_value(c.tensor("w.super_scale"), 1, 0.0f); }, "super_scale of super-block 1 is 0");
  check([](Contents& c) { c.tensor("w.scale_code").data[0] = 0; }, "scale of parameter set 0 is 0");
  check([](Contents& c) { c.tensor("w.super_scale").shape = {2, 3}; }, "'w.super_scale' has shape [2, 3], expected [3, 2]");
  check(
      [](Contents& c) {
        auto m = c.meta("w");
        m["double_quant"] = {{"groups_per_block", 0}};
        c.set_meta("w", m);
      },
      "groups_per_block");
  check(
      [](Contents& c) {
        auto m = c.meta("w");
        m["double_quant"] = {{"groups_per_block", std::numeric_limits<std::int64_t>::max()}};
        c.set_meta("w", m);
      },
      "out of range");
}

TEST(QuantizedFormatCorrupt, Metadata) {
  using namespace eigenq;
  const Eigen::MatrixXf w = random_matrix(3, 8, 10);
  const auto sym = Linear<std::int8_t>::symmetric();
  expect_corrupt(sym, PerChannel{0}, w, [](Contents& c) { c.metadata["eigenq:w"] = "{not json"; }, "not valid JSON");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m.erase("bits");
                   c.set_meta("w", m);
                 },
                 "no \"bits\"");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["storage_bits"] = 4;
                   c.set_meta("w", m);
                 },
                 "storage_bits = 4");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["axis"] = 5;
                   c.set_meta("w", m);
                 },
                 "granularity");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["shape"] = {4000000000, 4000000000, 4000000000};
                   c.set_meta("w", m);
                 },
                 "more elements than an int64");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["shape"] = {3000000, 8000000};  // huge claim, tiny tensors: refused before allocating
                   c.set_meta("w", m);
                 },
                 "has shape [3, 8], expected [3000000, 8000000]");
  expect_corrupt(sym, PerChannel{0}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["bits"] = 7;
                   c.set_meta("w", m);
                 },
                 "code range [-128, 127] of 7 bits does not match");
  expect_corrupt(sym, PerChannel{0}, w, [](Contents& c) { c.metadata["eigenq:ghost"] = c.metadata["eigenq:w"]; },
                 "names no tensor");
  // Values that would overflow index arithmetic are refused before any layout is computed.
  const auto four = Linear<std::int8_t>::symmetric().with_bits(4);
  expect_corrupt(four, PerGroup{-1, 4}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["group_size"] = std::numeric_limits<std::int64_t>::max();
                   c.set_meta("w", m);
                 },
                 "group size 9223372036854775807 is out of range");
  expect_corrupt(four, PerTensor{}, w,
                 [](Contents& c) {
                   auto m = c.meta("w");
                   m["shape"] = {std::numeric_limits<std::int64_t>::max()};
                   c.set_meta("w", m);
                 },
                 "'w' has shape [12], expected [4611686018427387904]");
}

}  // namespace
