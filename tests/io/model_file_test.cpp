#include "eigenq/io/model_file.hpp"

#include "eigenq/nn/convert.hpp"

#include "io_test_util.hpp"
#include "support/nn_models.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;
namespace fs = std::filesystem;

Sequential mlp(unsigned seed) { return eigenq_test::random_mlp(seed, 48, 32, 1.0f); }

Matrix input(Index rows, unsigned seed) { return eigenq_test::random_batches(1, rows, seed).front(); }

class SaveLoad : public testing::Test {
 protected:
  io_test::TempDir temp;  // a fresh folder per test, removed with its files
  const fs::path dir = temp.path();

  // Saving and loading gives a model with the same layers and the same outputs, bit for bit.
  void round_trip(const Sequential& q, const std::string& name) {
    const std::string path = (dir / (name + ".safetensors")).string();
    eigenq::io::save_model(q, path);
    const Sequential back = eigenq::io::load_model(path);
    ASSERT_EQ(back.size(), q.size()) << name;
    for (std::size_t i = 0; i < q.size(); ++i) EXPECT_EQ(back[i].kind(), q[i].kind()) << name << " layer " << i;
    const Matrix x = input(7, 3);
    EXPECT_EQ(back(x), q(x)) << name;
    EXPECT_EQ(back.weight_bytes(), q.weight_bytes()) << name;
  }
};

TEST_F(SaveLoad, EveryConversionRoundTrips) {
  const Sequential m = mlp(1);
  round_trip(m, "float");
  round_trip(eigenq::nn::quantize_dynamic(m), "dynamic");
  eigenq::nn::DynamicLinearOptions o;
  o.per_channel_weights = false;
  o.weight_policy = eigenq::Linear<std::int8_t>::affine();
  o.activations = eigenq::nn::ActivationGranularity::per_row;
  o.signed_activations = true;
  o.reduce_range = true;
  round_trip(eigenq::nn::quantize_dynamic(m, o), "dynamic-options");
  std::vector<Matrix> calib = {input(32, 4), input(32, 5)};
  round_trip(eigenq::nn::quantize_static(m, calib), "static");
  round_trip(eigenq::nn::quantize_grouped(m), "grouped");
  namespace ls = eigenq::nn::layer_schemes;
  using Book = eigenq::Codebook<std::uint8_t>;
  using LogS = eigenq::LogSigned<std::int8_t>;
  round_trip(eigenq::nn::quantize_mixed(
                 m, {ls::weight_only("codebook-3bit", eigenq::Quantizer<Book, eigenq::PerTensor>(Book().with_bits(3))),
                     ls::weight_only("log-4bit", eigenq::Quantizer<LogS, eigenq::PerChannel>(LogS().with_bits(4),
                                                                                            eigenq::PerChannel{0})),
                     ls::int8_dynamic()}),
             "mixed");
}

TEST_F(SaveLoad, RefusesOtherFilesAndVersions) {
  const std::string path = (dir / "model.safetensors").string();
  eigenq::io::save_model(eigenq::nn::quantize_dynamic(mlp(2)), path);
  // Rewrite the architecture record with a future version.
  const eigenq::io::QuantizedFile f(path);
  std::string meta = f.user_metadata().at(eigenq::io::model_metadata_key);
  const auto pos = meta.find("\"version\":1");
  ASSERT_NE(pos, std::string::npos) << meta;
  meta.replace(pos, 11, "\"version\":2");
  eigenq::io::QuantizedFileWriter w;
  for (const auto& info : f.file().tensors()) {
    const auto v = f.file().tensor(info.name);
    eigenq::io::OwnedTensor t{info.name, v.dtype(), v.shape(), std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())};
    w.add_plain(std::move(t));
  }
  w.set_metadata(eigenq::io::model_metadata_key, meta);
  const std::string future = (dir / "future.safetensors").string();
  w.write(future);
  try {
    eigenq::io::load_model(future);
    FAIL() << "a version-2 model loaded";
  } catch (const eigenq::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
  // A plain safetensors file is not a model.
  eigenq::io::QuantizedFileWriter plain;
  const std::vector<float> v(4, 1.0f);
  plain.add_plain(eigenq::io::make_tensor("x", eigenq::Shape{4}, v.data()));
  const std::string other = (dir / "other.safetensors").string();
  plain.write(other);
  EXPECT_THROW(eigenq::io::load_model(other), eigenq::FormatError);
  EXPECT_THROW(eigenq::io::load_model((dir / "missing.safetensors").string()), eigenq::Error);
}

// ---- ChannelMixedLinear ---------------------------------------------------------------------

// mlp(seed) with per-channel mixed layers whose parts are of every kind a part can be: dynamic
// int8 (non-default options), grouped int4 (f16 and f32 scales), weight-only log and codebook,
// float. The last layer uses one scheme (a plain DynamicLinear).
Sequential per_channel_model(unsigned seed) {
  namespace ls = eigenq::nn::layer_schemes;
  using Book = eigenq::Codebook<std::uint8_t>;
  using LogS = eigenq::LogSigned<std::int8_t>;
  eigenq::nn::DynamicLinearOptions dyn;
  dyn.activations = eigenq::nn::ActivationGranularity::per_row;
  dyn.signed_activations = true;
  dyn.reduce_range = true;
  const eigenq::nn::LayerScheme grouped_f32{"int4-g32-f32", [](const eigenq::nn::FloatLinear& l) {
                                              eigenq::nn::GroupedLinearOptions o;
                                              o.scale_type = eigenq::kernels::ScaleType::f32;
                                              return std::make_unique<eigenq::nn::GroupedLinear>(l, o);
                                            },
                                            true};  // groups run inside each output channel
  const std::vector<eigenq::nn::LayerScheme> cands = {
      ls::int8_dynamic(dyn, "int8-dyn"),
      ls::int4_grouped(32),
      ls::weight_only("log-4bit", eigenq::Quantizer<LogS, eigenq::PerChannel>(LogS().with_bits(4), eigenq::PerChannel{0})),
      ls::weight_only("codebook-3bit", eigenq::Quantizer<Book, eigenq::PerChannel>(Book().with_bits(3), eigenq::PerChannel{0})),
      ls::float32(),
      grouped_f32};
  std::vector<std::vector<std::string>> plan(3);
  for (std::size_t r = 0; r < 48; ++r) plan[0].push_back(cands[(r * 7) % 6].name);
  for (std::size_t r = 0; r < 32; ++r) plan[1].push_back(cands[2 - r % 3].name);
  plan[2].assign(10, "int8-dyn");
  return eigenq::nn::quantize_mixed_per_channel(mlp(seed), plan, cands);
}

TEST_F(SaveLoad, ChannelMixedLinearRoundTrips) {
  const Sequential q = per_channel_model(5);
  ASSERT_EQ(q[0].kind(), "ChannelMixedLinear");
  ASSERT_EQ(q[2].kind(), "ChannelMixedLinear");
  ASSERT_EQ(q[4].kind(), "DynamicLinear");
  round_trip(q, "per-channel");  // outputs bit for bit, weight_bytes

  const std::string path = (dir / "pc.safetensors").string();
  eigenq::io::save_model(q, path);
  const Sequential back = eigenq::io::load_model(path);
  for (const std::size_t i : {0u, 2u}) {
    const auto& a = dynamic_cast<const eigenq::nn::ChannelMixedLinear&>(q[i]);
    const auto& b = dynamic_cast<const eigenq::nn::ChannelMixedLinear&>(back[i]);
    EXPECT_EQ(b.row_part(), a.row_part());
    ASSERT_EQ(b.part_count(), a.part_count());
    for (std::size_t k = 0; k < a.part_count(); ++k) {
      EXPECT_EQ(b.part(k).kind(), a.part(k).kind()) << "layer " << i << " part " << k;
      EXPECT_EQ(b.part(k).weight_bytes(), a.part(k).weight_bytes()) << "layer " << i << " part " << k;
      EXPECT_EQ(b.part(k).dequantized_weight(), a.part(k).dequantized_weight()) << "layer " << i << " part " << k;
    }
    EXPECT_EQ(b.weight_bytes(), a.weight_bytes());
  }
  EXPECT_EQ(dynamic_cast<const eigenq::nn::ChannelMixedLinear&>(back[0]).part_count(), 6u);
  // The tensors are where the format says.
  const eigenq::io::QuantizedFile f(path);
  const auto map = f.file().tensor("layers.0.row_part");
  EXPECT_EQ(map.dtype(), eigenq::io::DType::u8);
  EXPECT_EQ(map.shape(), (eigenq::Shape{48}));
  EXPECT_NO_THROW(f.file().tensor("layers.0.parts.5.weight"));
  EXPECT_NO_THROW(f.file().tensor("layers.2.parts.2.bias"));
  // A second round trip gives the same file contents' model again.
  round_trip(back, "per-channel-again");
}

// A saved per-channel model rewritten with `edit` applied to its tensors and metadata.
using Tensors = std::vector<eigenq::io::OwnedTensor>;
using Metadata = std::map<std::string, std::string>;

std::string rewritten(const std::string& from, const std::string& to,
                      const std::function<void(Tensors&, Metadata&)>& edit) {
  const eigenq::io::QuantizedFile f(from);
  Tensors tensors;
  for (const auto& info : f.file().tensors()) {
    const auto v = f.file().tensor(info.name);
    tensors.push_back({info.name, v.dtype(), v.shape(), std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())});
  }
  Metadata meta = f.file().metadata();
  edit(tensors, meta);
  eigenq::io::write_safetensors(to, tensors, meta);
  return to;
}

eigenq::io::OwnedTensor& named_tensor(Tensors& t, const std::string& name) {
  for (auto& x : t) {
    if (x.name == name) return x;
  }
  throw std::runtime_error("no tensor " + name);
}

// What loading `path` throws: the exception's type and message.
std::string load_error(const std::string& path) {
  try {
    eigenq::io::load_model(path);
  } catch (const eigenq::FormatError& e) {
    return std::string("FormatError: ") + e.what();
  } catch (const eigenq::ShapeError& e) {
    return std::string("ShapeError: ") + e.what();
  } catch (const eigenq::Error& e) {
    return std::string("Error: ") + e.what();
  }
  return "loaded";
}

TEST_F(SaveLoad, ChannelMixedLinearRefusesTamperedFiles) {
  const std::string path = (dir / "pc.safetensors").string();
  eigenq::io::save_model(per_channel_model(6), path);
  const std::string out = (dir / "edited.safetensors").string();
  auto contains = [](const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; };
  // Control: the rewrite itself keeps the model loadable.
  EXPECT_EQ(load_error(rewritten(path, out, [](Tensors&, Metadata&) {})), "loaded");

  // The channel map as I8: same bytes, wrong type.
  std::string e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    named_tensor(t, "layers.0.row_part").dtype = eigenq::io::DType::i8;
  }));
  EXPECT_TRUE(contains(e, "FormatError: ") && contains(e, "layers.0.row_part") && contains(e, "U8")) << e;
  // As a matrix.
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    named_tensor(t, "layers.2.row_part").shape = eigenq::Shape{1, 32};
  }));
  EXPECT_TRUE(contains(e, "FormatError: ") && contains(e, "layers.2.row_part")) << e;
  // A channel of a part that does not exist (layer 0 has 6 parts).
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    named_tensor(t, "layers.0.row_part").data[5] = 200;
  }));
  EXPECT_TRUE(contains(e, "ShapeError: ") && contains(e, "belongs to part 200 of 6")) << e;
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    named_tensor(t, "layers.0.row_part").data[0] = 6;
  }));
  EXPECT_TRUE(contains(e, "ShapeError: ") && contains(e, "part 6 of 6")) << e;
  // Channels moved between parts: the counts no longer match the parts.
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    auto& d = named_tensor(t, "layers.2.row_part").data;
    d[0] = d[1];
  }));
  EXPECT_TRUE(contains(e, "ShapeError: ") && contains(e, "output channels, but")) << e;
  // A map one channel short.
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    auto& m = named_tensor(t, "layers.0.row_part");
    m.data.pop_back();
    m.shape = eigenq::Shape{47};
  }));
  EXPECT_TRUE(contains(e, "ShapeError: ")) << e;
  // No map at all.
  e = load_error(rewritten(path, out, [](Tensors& t, Metadata&) {
    t.erase(std::find_if(t.begin(), t.end(), [](const auto& x) { return x.name == "layers.0.row_part"; }));
  }));
  EXPECT_TRUE(contains(e, "Error") && contains(e, "layers.0.row_part")) << e;

  // The architecture record: parts missing, empty, or not layers with weights.
  auto edit_model = [&](const std::string& from, const std::string& to) {
    return [from, to](Tensors&, Metadata& meta) {
      std::string& j = meta.at(eigenq::io::model_metadata_key);
      const auto pos = j.find(from);
      ASSERT_NE(pos, std::string::npos) << j;
      j.replace(pos, from.size(), to);
    };
  };
  // The first layer's first part is int8-dyn, a DynamicLinear.
  e = load_error(rewritten(path, out, edit_model("\"parts\":[{", "\"parts_\":[{")));
  EXPECT_TRUE(contains(e, "FormatError: ")) << e;
  e = load_error(rewritten(path, out, edit_model("\"kind\":\"DynamicLinear\"", "\"kind\":\"ReLU\"")));
  EXPECT_TRUE(contains(e, "ShapeError: ") && contains(e, "part 0")) << e;
  e = load_error(rewritten(path, out, edit_model("\"kind\":\"DynamicLinear\"", "\"kind\":\"Sequential\"")));
  EXPECT_TRUE(contains(e, "FormatError: ") && contains(e, "layers.0.parts.0")) << e;
  e = load_error(rewritten(path, out, [](Tensors&, Metadata& meta) {
    nlohmann::json j = nlohmann::json::parse(meta.at(eigenq::io::model_metadata_key));
    j["layers"][0]["parts"] = nlohmann::json::array();
    meta[eigenq::io::model_metadata_key] = j.dump();
  }));
  EXPECT_TRUE(contains(e, "ShapeError: ") && contains(e, "no parts")) << e;
  e = load_error(rewritten(path, out, [](Tensors&, Metadata& meta) {
    nlohmann::json j = nlohmann::json::parse(meta.at(eigenq::io::model_metadata_key));
    j["layers"][0]["parts"] = "DynamicLinear";
    meta[eigenq::io::model_metadata_key] = j.dump();
  }));
  EXPECT_TRUE(contains(e, "FormatError: ")) << e;
}

}  // namespace
