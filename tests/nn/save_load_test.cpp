#include "eigenq/nn/save_load.hpp"

#include "eigenq/nn/convert.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;
namespace fs = std::filesystem;

Sequential mlp(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  auto layer = [&](Index in, Index out) {
    Eigen::MatrixXf w(out, in);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
    Eigen::VectorXf b(out);
    for (Index i = 0; i < b.size(); ++i) b[i] = g(rng);
    return eigenq::nn::Linear(w, b);
  };
  Sequential m;
  m.add(layer(64, 48)).add(eigenq::nn::ReLU()).add(layer(48, 32)).add(eigenq::nn::ReLU()).add(layer(32, 10));
  return m;
}

Matrix input(Index rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Matrix x(rows, 64);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

class SaveLoad : public testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("eigenq_nn_" + std::to_string(::getpid()));
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }

  // Saving and loading gives a model with the same layers and the same outputs, bit for bit.
  void round_trip(const Sequential& q, const std::string& name) {
    const std::string path = (dir / (name + ".safetensors")).string();
    eigenq::nn::save(q, path);
    const Sequential back = eigenq::nn::load(path);
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
  eigenq::nn::save(eigenq::nn::quantize_dynamic(mlp(2)), path);
  // Rewrite the architecture record with a future version.
  const eigenq::io::QuantizedFile f(path);
  std::string meta = f.user_metadata().at(eigenq::nn::model_metadata_key);
  const auto pos = meta.find("\"version\":1");
  ASSERT_NE(pos, std::string::npos) << meta;
  meta.replace(pos, 11, "\"version\":2");
  eigenq::io::QuantizedFileWriter w;
  for (const auto& info : f.file().tensors()) {
    const auto v = f.file().tensor(info.name);
    eigenq::io::OwnedTensor t{info.name, v.dtype(), v.shape(), std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())};
    w.add_plain(std::move(t));
  }
  w.set_metadata(eigenq::nn::model_metadata_key, meta);
  const std::string future = (dir / "future.safetensors").string();
  w.write(future);
  try {
    eigenq::nn::load(future);
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
  EXPECT_THROW(eigenq::nn::load(other), eigenq::FormatError);
  EXPECT_THROW(eigenq::nn::load((dir / "missing.safetensors").string()), eigenq::Error);
}

}  // namespace
