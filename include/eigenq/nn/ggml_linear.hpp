// GgmlLinear: a Linear whose weight is a GGUF weight tensor, rows of one of ggml's block types
// (q4_0, q4_K, iq4_nl, ...: the bytes ggml_quantize_chunk and llama.cpp's files hold), run as it
// is stored. A type with a kernel (ggml::has_kernel: q4_0, q8_0, iq4_nl, q4_K, q6_K) runs on it (ggml/mul_mat.hpp:
// the activations quantized to Q8_0 or Q8_K as ggml's CPU backend does, eigenq's kernels on every
// ISA) and keeps only the repacked blocks in memory; the other types decode their rows to float
// once and run the float product, until their kernels exist.
//
//   eigenq::nn::GgmlLinear layer(eigenq::ggml::Type::q4_0, tensor_bytes, out, in, bias);
//   eigenq::nn::GgmlLinear layer(float_linear, eigenq::ggml::Type::q4_0);   // quantized here
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/ggml/mul_mat.hpp"
#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/type.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class GgmlLinear : public Module {
 public:
  // `rows`: out rows of `in` values of `type` (out * ggml::row_size(type, in) bytes, ggml's
  // layout); bias: out values or empty. threads: as the kernels' (kernel types only).
  GgmlLinear(ggml::Type type, const void* rows, Index out, Index in, const Eigen::VectorXf& bias = {},
             int threads = 1)
      : type_(type), out_(out), in_(in), threads_(threads) {
    if (out <= 0 || in <= 0) raise<ShapeError>("GgmlLinear: weight is ", out, " x ", in);
    if (in % ggml::block_size(type) != 0) {
      raise<ShapeError>("GgmlLinear: ", in, " inputs are not whole ", ggml::type_name(type), " blocks of ",
                        ggml::block_size(type));
    }
    if (rows == nullptr) raise("GgmlLinear: rows is null");
    if (bias.size() != 0 && bias.size() != out) {
      raise<ShapeError>("GgmlLinear: ", bias.size(), " bias values for ", out, " outputs");
    }
    if (threads < 1) raise("GgmlLinear: threads = ", threads, " must be >= 1");
    bias_ = bias.size() ? bias : Eigen::VectorXf(Eigen::VectorXf::Zero(out));
    row_bytes_ = ggml::row_size(type, in);
    if (ggml::has_kernel(type)) {
      packed_ = ggml::pack_weights(type, rows, out, in);
    } else {
      decoded_.resize(out, in);
      const auto* bytes = static_cast<const std::uint8_t*>(rows);
      for (Index r = 0; r < out; ++r) ggml::dequantize_row(type, bytes + r * row_bytes_, decoded_.data() + r * in, in);
    }
  }

  // A float layer's weight quantized to `type` by ggml's algorithm (ggml::quantize_rows), with
  // llama.cpp's importance (E[x^2] per input) when given.
  GgmlLinear(const FloatLinear& layer, ggml::Type type, const Eigen::VectorXf& importance = {}, int threads = 1)
      : GgmlLinear(type, quantized_rows(layer, type, importance).data(), layer.out_features(), layer.in_features(),
                   layer.bias(), threads) {}

  ggml::Type type() const { return type_; }
  bool runs_on_kernel() const { return ggml::has_kernel(type_); }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, in_, "GgmlLinear");
    if (!runs_on_kernel()) {
      Matrix y = x * decoded_.transpose();
      y.rowwise() += bias_.transpose();
      return y;
    }
    Matrix y(x.rows(), out_);
    ggml::mul_mat(x.data(), x.rows(), in_, packed_, bias_.data(), y.data(), out_, threads_);
    return y;
  }

  std::string kind() const override { return std::string("GgmlLinear(") + ggml::type_name(type_) + ")"; }
  // The blocks as ggml stores them (codes and every block scale) plus the float32 bias.
  std::size_t weight_bytes() const override {
    return static_cast<std::size_t>(out_ * row_bytes_) + sizeof(float) * static_cast<std::size_t>(bias_.size());
  }
  Index weight_count() const override { return out_ * in_; }
  Eigen::MatrixXf dequantized_weight() const override {
    if (!runs_on_kernel()) return decoded_;
    Matrix d(out_, in_);  // row-major, as ggml::dequantize writes
    ggml::dequantize(packed_, d.data());
    return d;
  }
  std::unique_ptr<Module> clone() const override { return std::make_unique<GgmlLinear>(*this); }

 private:
  static std::vector<std::uint8_t> quantized_rows(const FloatLinear& layer, ggml::Type type,
                                                  const Eigen::VectorXf& importance) {
    const Index in = layer.in_features();
    if (importance.size() != 0 && importance.size() != in) {
      raise<ShapeError>("GgmlLinear: ", importance.size(), " importance values for ", in, " inputs");
    }
    const Matrix w = layer.weight();  // row-major: ggml's rows
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(layer.out_features() * ggml::row_size(type, in)));
    ggml::quantize_rows(type, w.data(), bytes.data(), layer.out_features(), in,
                        importance.size() ? importance.data() : nullptr);
    return bytes;
  }

  ggml::Type type_;
  Index out_ = 0, in_ = 0;
  Index row_bytes_ = 0;
  int threads_ = 1;
  Eigen::VectorXf bias_;
  ggml::PackedWeights packed_;   // types with a kernel
  Eigen::MatrixXf decoded_;      // the others
};

}  // namespace nn
}  // namespace eigenq
