// The models and inputs of the ONNX export tests, made deterministically (integer generator, no
// floating-point training), so the exported bytes are the same on every machine and compiler and
// the committed ONNX Runtime outputs (export_onnxruntime.txt) stay valid.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include <eigenq/io/safetensors.hpp>
#include <eigenq/kernels/elementwise.hpp>
#include <eigenq/nn/convert.hpp>
#include <eigenq/nn/dynamic_linear.hpp>
#include <eigenq/nn/float_linear.hpp>
#include <eigenq/nn/gelu.hpp>
#include <eigenq/nn/grouped_linear.hpp>
#include <eigenq/nn/layer_norm.hpp>
#include <eigenq/nn/sequential.hpp>
#include <eigenq/nn/static_linear.hpp>
#include <eigenq/onnx/rewrite.hpp>
#include <eigenq/policy/choose_params.hpp>

namespace eigenq_onnx_test {

using eigenq::nn::Matrix;
using eigenq::nn::Sequential;

// 64-bit LCG (Knuth's MMIX constants); floats from the top 24 bits, exact in binary32.
class Lcg {
 public:
  explicit Lcg(std::uint64_t seed) : state_(seed * 2862933555777941757ULL + 3037000493ULL) {}
  std::uint64_t next() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return state_;
  }
  // Uniform in [-a, a), a multiple of 2^-23 * a.
  float uniform(float a) {
    const auto top = static_cast<std::int32_t>(next() >> 40);  // 24 bits
    return a * (static_cast<float>(top - (1 << 23)) / static_cast<float>(1 << 23));
  }

 private:
  std::uint64_t state_;
};

inline Eigen::MatrixXf weights(Lcg& rng, Eigen::Index out, Eigen::Index in, float a) {
  Eigen::MatrixXf w(out, in);
  for (Eigen::Index r = 0; r < out; ++r) {
    for (Eigen::Index c = 0; c < in; ++c) w(r, c) = rng.uniform(a);
  }
  return w;
}
inline Eigen::VectorXf bias(Lcg& rng, Eigen::Index out, float a) {
  Eigen::VectorXf b(out);
  for (Eigen::Index r = 0; r < out; ++r) b[r] = rng.uniform(a);
  return b;
}
inline eigenq::nn::FloatLinear linear(Lcg& rng, Eigen::Index in, Eigen::Index out) {
  // About PyTorch's default initialization, U(-1/sqrt(in), 1/sqrt(in)), rounded to a power of two.
  const float a = in <= 16 ? 0.25f : in <= 64 ? 0.125f : 0.0625f;
  Eigen::MatrixXf w = weights(rng, out, in, a);  // in this order: argument order is unspecified
  Eigen::VectorXf b = bias(rng, out, a);
  return eigenq::nn::FloatLinear(std::move(w), std::move(b));
}

// The first `rows` images of examples/data/digits.csv, pixels / 16 (exact), then `random_rows`
// rows uniform in [-1, 1), then three rows for the dynamic activation parameters' special cases:
// zeros (scale 0 -> 0.1), tiny values of both signs and tiny values >= 0 (torch's small-scale rule).
inline Matrix digits_inputs(const std::string& csv, int rows, int random_rows, std::uint64_t seed) {
  std::ifstream in(csv);
  if (!in) throw std::runtime_error("cannot open " + csv);
  Matrix x(rows + random_rows + 3, 64);
  std::string line;
  int r = 0;
  while (r < rows && std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    for (int c = 0; c < 64; ++c) {
      if (!std::getline(ss, cell, ',')) throw std::runtime_error(csv + ": short line");
      x(r, c) = static_cast<float>(std::stoi(cell)) / 16.0f;
    }
    ++r;
  }
  if (r != rows) throw std::runtime_error(csv + ": fewer than the rows asked for");
  Lcg rng(seed);
  for (int i = rows; i < rows + random_rows; ++i) {
    for (int c = 0; c < 64; ++c) x(i, c) = rng.uniform(1.0f);
  }
  const int special = rows + random_rows;
  for (int c = 0; c < 64; ++c) {
    x(special, c) = 0.0f;
    x(special + 1, c) = rng.uniform(1.0f / 65536.0f);
    x(special + 2, c) = std::abs(rng.uniform(1.0f / 65536.0f));
  }
  return x;
}

struct ModelCase {
  std::string name;
  bool bit_exact;  // int8 outputs dequantized: ORT's float outputs equal eigenq's bit for bit
  std::function<Sequential()> make;
};

inline eigenq::LinearParams params(float scale, std::int32_t zero_point) {
  eigenq::LinearParams p;
  p.scale = scale;
  p.zero_point = zero_point;
  return p;
}

// The trained digits MLP (tests/onnx/digits_mlp.safetensors, make_digits_mlp.cpp): Linear 64 -> 32,
// ReLU, Linear 32 -> 10.
inline Sequential digits_mlp() {
  const eigenq::io::SafetensorsFile f(std::string(EIGENQ_TEST_DATA_DIR) + "/onnx/digits_mlp.safetensors");
  auto layer = [&](const std::string& name) {
    const auto w = f.tensor(name + ".weight");
    const auto b = f.tensor(name + ".bias");
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wm(w.shape()[0], w.shape()[1]);
    w.convert_to(wm.data());
    Eigen::VectorXf bv(b.shape()[0]);
    b.convert_to(bv.data());
    return eigenq::nn::FloatLinear(Eigen::MatrixXf(wm), bv);
  };
  Sequential m;
  m.add(layer("fc0")).add(eigenq::nn::ReLU{}).add(layer("fc1"));
  return m;
}

// Calibration for the static digits model: 256 images of the digits set from row 1000 on.
inline Matrix digits_calibration() {
  const Matrix all = digits_inputs(std::string(EIGENQ_TEST_DATA_DIR) + "/../examples/data/digits.csv", 1256, 0, 1);
  return all.middleRows(1000, 256);
}

// The models: 64 inputs (a digits image), 10 outputs (a digit's logits).
inline std::vector<ModelCase> model_cases() {
  using namespace eigenq::nn;
  std::vector<ModelCase> cases;
  cases.push_back({"float_mlp", false, [] {
                     Lcg rng(1);
                     Sequential m;
                     m.add(linear(rng, 64, 32)).add(ReLU{}).add(linear(rng, 32, 10));
                     return m;
                   }});
  cases.push_back({"dynamic_mlp", false, [] {
                     Lcg rng(2);
                     const FloatLinear l1 = linear(rng, 64, 32);
                     const FloatLinear l2 = linear(rng, 32, 24);
                     const FloatLinear l3 = linear(rng, 24, 10);
                     DynamicLinearOptions per_row;  // per-row int8 activations, affine weights
                     per_row.activations = ActivationGranularity::per_row;
                     per_row.signed_activations = true;
                     per_row.weight_policy = eigenq::Linear<std::int8_t>::affine();
                     DynamicLinearOptions reduced;  // PyTorch's module: reduce_range, per tensor weights
                     reduced.reduce_range = true;
                     reduced.per_channel_weights = false;
                     Sequential m;
                     m.add(DynamicLinear(l1, per_row)).add(ReLU{}).add(DynamicLinear(l2)).add(ReLU{}).add(
                         DynamicLinear(l3, reduced));
                     return m;
                   }});
  cases.push_back({"static_mlp", true, [] {
                     Lcg rng(3);
                     const FloatLinear l1 = linear(rng, 64, 32);
                     const FloatLinear l2 = linear(rng, 32, 24);
                     const FloatLinear l3 = linear(rng, 24, 10);
                     const eigenq::LinearParams in = params(2.0f / 255.0f, -1);
                     const eigenq::LinearParams h1 = params(1.0f / 255.0f, -128);  // after ReLU: [0, 1]
                     const eigenq::LinearParams h2 = params(0.5f / 255.0f, -128);
                     const eigenq::LinearParams out = params(0.5f / 255.0f, 3);
                     StaticLinearOptions single;
                     single.rounding = eigenq::kernels::FixedPointRounding::single_rounding;
                     Sequential m;
                     m.add(StaticLinear(l1.weight(), l1.bias(), in, h1, true))
                         .add(StaticLinear(l2.weight(), l2.bias(), h1, h2, true, single))
                         .add(StaticLinear(l3.weight(), l3.bias(), h2, out, false));
                     return m;
                   }});
  cases.push_back({"grouped_mlp", false, [] {
                     Lcg rng(4);
                     const FloatLinear l1 = linear(rng, 64, 48);
                     const FloatLinear l2 = linear(rng, 48, 10);
                     GroupedLinearOptions f32;
                     f32.scale_type = eigenq::kernels::ScaleType::f32;
                     Sequential m;
                     m.add(GroupedLinear(l1)).add(ReLU{}).add(GroupedLinear(l2, f32));  // K = 48: a padded group
                     return m;
                   }});
  cases.push_back({"mixed_mlp", false, [] {
                     Lcg rng(5);
                     const FloatLinear l1 = linear(rng, 64, 32);
                     const FloatLinear l2 = linear(rng, 32, 32);
                     const FloatLinear l3 = linear(rng, 32, 128);
                     const FloatLinear l4 = linear(rng, 128, 10);
                     GroupedLinearOptions g128;
                     g128.group_size = 128;
                     Sequential m;
                     m.add(StaticLinear(l1.weight(), l1.bias(), params(2.0f / 255.0f, 0), params(3.0f / 255.0f, -128), true))
                         .add(DynamicLinear(l2))
                         .add(ReLU{})
                         .add(l3)
                         .add(ReLU{})
                         .add(GroupedLinear(l4, g128));
                     return m;
                   }});
  cases.push_back({"norm_gelu_mlp", false, [] {  // a transformer's MLP: LayerNorm and GELU
                     Lcg rng(6);
                     FloatLinear l1 = linear(rng, 64, 48);
                     Eigen::VectorXf gamma = bias(rng, 48, 0.5f);
                     gamma.array() += 1.0f;
                     Eigen::VectorXf beta = bias(rng, 48, 0.25f);
                     FloatLinear l2 = linear(rng, 48, 10);
                     Sequential m;
                     m.add(std::move(l1)).add(LayerNorm(std::move(gamma), std::move(beta))).add(GELU{}).add(std::move(l2));
                     return m;
                   }});
  cases.push_back({"digits_float", false, [] { return digits_mlp(); }});
  cases.push_back({"digits_dynamic", false, [] { return quantize_dynamic(digits_mlp()); }});
  cases.push_back({"digits_static", true, [] { return quantize_static(digits_mlp(), digits_calibration()); }});
  cases.push_back({"digits_grouped", false, [] { return quantize_grouped(digits_mlp()); }});
  return cases;
}

// FNV-1a, 64 bits, as 16 hex digits: the exported bytes' and inputs' fingerprint in the golden file.
inline std::string fnv1a(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i) {
    s[static_cast<std::size_t>(i)] = digits[h & 15];
    h >>= 4;
  }
  return s;
}

}  // namespace eigenq_onnx_test

#include <eigenq/onnx/graph_builder.hpp>

namespace eigenq_onnx_test {

// A float MLP as another exporter writes it: MatMul with a [in, out] weight, Add, Relu, MatMul,
// Add (64 -> 48 -> 10), and its layers [out, in] for the reference forward.
struct MatMulMlp {
  Eigen::MatrixXf w1, w2;  // [out, in]
  Eigen::VectorXf b1, b2;
  ::onnx::ModelProto model;
};

inline MatMulMlp matmul_mlp() {
  namespace ox = eigenq::onnx;
  MatMulMlp m;
  Lcg rng(6);
  const eigenq::nn::FloatLinear l1 = linear(rng, 64, 48);
  const eigenq::nn::FloatLinear l2 = linear(rng, 48, 10);
  m.w1 = l1.weight();
  m.w2 = l2.weight();
  m.b1 = l1.bias();
  m.b2 = l2.bias();
  m.model.set_ir_version(ox::ir_version);
  m.model.set_producer_name("eigenq tests");
  ox::require_opset(m.model, "", 13);
  auto* g = m.model.mutable_graph();
  g->set_name("matmul_mlp");
  ox::GraphBuilder b(g);
  auto in_out = [](const Eigen::MatrixXf& w) {  // [out, in] -> row-major [in, out]
    std::vector<float> v(static_cast<std::size_t>(w.size()));
    for (Eigen::Index o = 0; o < w.rows(); ++o) {
      for (Eigen::Index i = 0; i < w.cols(); ++i) v[static_cast<std::size_t>(i * w.rows() + o)] = w(o, i);
    }
    return v;
  };
  auto vec = [](const Eigen::VectorXf& v) { return std::vector<float>(v.data(), v.data() + v.size()); };
  const std::string w1 = b.tensor<float>("fc1.weight", {64, 48}, in_out(m.w1));
  const std::string b1 = b.tensor<float>("fc1.bias", {48}, vec(m.b1));
  const std::string w2 = b.tensor<float>("fc2.weight", {48, 10}, in_out(m.w2));
  const std::string b2 = b.tensor<float>("fc2.bias", {10}, vec(m.b2));
  std::string h = b.node("MatMul", {"input", w1}, {"fc1/MatMul"});
  h = b.node("Add", {h, b1}, {"fc1/Add"});
  h = b.node("Relu", {h}, {"relu"});
  h = b.node("MatMul", {h, w2}, {"fc2/MatMul"});
  b.node("Add", {h, b2}, {"output"});
  ox::set_value_info(g->add_input(), "input", ::onnx::TensorProto::FLOAT, {-1, 64});
  ox::set_value_info(g->add_output(), "output", ::onnx::TensorProto::FLOAT, {-1, 10});
  auto* meta = m.model.add_metadata_props();
  meta->set_key("source");
  meta->set_value("tests/onnx/onnx_models.hpp");
  ox::check(m.model);
  return m;
}

namespace ox = eigenq::onnx;

// One rewritten node as ORT computes it (with its bias): the float layer with the dequantized
// weights (QDQ, MatMulNBits without accuracy_level), or ORT's dynamic graph.
inline Matrix rewritten_forward(const Matrix& x_in, const ox::RewrittenNode& r, const Eigen::VectorXf& b, ox::Format format) {
  // AWQ: the graph divides the input by s, then multiplies by the codes of W diag(s).
  Matrix x = x_in;
  if (r.input_scales.size() != 0) x = (x_in.array().rowwise() / r.input_scales.transpose().array()).matrix();
  if (r.has_activation) {  // QuantizeLinear (divide, half to even, int8) then DequantizeLinear
    std::vector<std::int8_t> q(static_cast<std::size_t>(x.size()));
    eigenq::kernels::quantize_f32_s8(x.data(), x.size(), r.activation.scale, r.activation.zero_point, {-128, 127},
                                     eigenq::kernels::Scaling::divide, eigenq::Rounding::half_to_even, q.data());
    for (eigenq::Index i = 0; i < x.size(); ++i) {
      x.data()[i] = (static_cast<float>(q[static_cast<std::size_t>(i)]) - static_cast<float>(r.activation.zero_point)) *
                    r.activation.scale;
    }
  }
  if (format != ox::Format::dynamic) {
    Matrix y = x * r.weight.dequantize<Eigen::MatrixXf>().transpose();
    y.rowwise() += b.transpose();
    return y;
  }
  // DynamicQuantizeLinear (ORT's parameters, divide, half to even), MatMulInteger, Cast,
  // Mul by a_scale * w_scale, Add.
  const eigenq::LinearParams p = eigenq::choose_params_onnx_dynamic(x.minCoeff(), x.maxCoeff());
  std::vector<std::uint8_t> a(static_cast<std::size_t>(x.size()));
  eigenq::kernels::quantize_f32_u8(x.data(), x.size(), p.scale, p.zero_point, {0, 255},
                                   eigenq::kernels::Scaling::divide, eigenq::Rounding::half_to_even, a.data());
  const std::vector<std::int8_t> w = r.weight.unpacked_codes();
  const auto& params = r.weight.params();
  const eigenq::Index n = r.site.out;
  const eigenq::Index k = r.site.in;
  using IntMatrix = Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  IntMatrix ai(x.rows(), k);
  for (eigenq::Index i = 0; i < ai.size(); ++i) ai.data()[i] = std::int32_t{a[static_cast<std::size_t>(i)]} - p.zero_point;
  IntMatrix wi(n, k);
  for (eigenq::Index c = 0; c < n; ++c) {
    const auto& wp = params[params.size() == 1 ? 0 : static_cast<std::size_t>(c)];
    for (eigenq::Index i = 0; i < k; ++i) wi(c, i) = std::int32_t{w[static_cast<std::size_t>(c * k + i)]} - wp.zero_point;
  }
  const IntMatrix acc = ai * wi.transpose();  // exact: |sums| < 2^31
  Matrix y(x.rows(), n);
  for (eigenq::Index m = 0; m < x.rows(); ++m) {
    for (eigenq::Index c = 0; c < n; ++c) {
      const float scale = p.scale * params[params.size() == 1 ? 0 : static_cast<std::size_t>(c)].scale;
      const float prod = static_cast<float>(acc(m, c)) * scale;
      y(m, c) = prod + b[c];
    }
  }
  return y;
}

// A rewritten node as an nn layer, to run it inside eigenq's models.
class RewrittenLayer : public eigenq::nn::Module {
 public:
  RewrittenLayer(ox::RewrittenNode node, Eigen::VectorXf bias, ox::Format format)
      : node_(std::move(node)), bias_(std::move(bias)), format_(format) {}
  Matrix forward(const Matrix& x) const override { return rewritten_forward(x, node_, bias_, format_); }
  std::string kind() const override { return "RewrittenLayer"; }
  std::unique_ptr<eigenq::nn::Module> clone() const override { return std::make_unique<RewrittenLayer>(*this); }

 private:
  ox::RewrittenNode node_;
  Eigen::VectorXf bias_;
  ox::Format format_;
};

}  // namespace eigenq_onnx_test
