// GgmlLinear: a Linear whose weight is stored as rows of one of ggml's block types (q4_0, q4_K,
// q3_K, iq4_nl, ...; eigenq/ggml, the bytes ggml_quantize_chunk gives), with or without an
// importance matrix (llama.cpp's imatrix: E[x^2] per input channel), computed in float from the
// rows decoded once, as WeightOnlyLinear does for eigenq's own codes.
//
// The smallest adapter the language-model demo needs: the ggml "quantized rows" value type and
// analysis scheme being written on branch gguf-tool had not landed in main when this was
// written; when they do, this goes.
#pragma once

#include <eigenq/core/error.hpp>
#include <eigenq/ggml/row.hpp>
#include <eigenq/ggml/type.hpp>
#include <eigenq/nn/float_linear.hpp>
#include <eigenq/nn/module.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lm {

class GgmlLinear : public eigenq::nn::Module {
 public:
  // importance: one value per input channel (shared by every row), or empty.
  GgmlLinear(const eigenq::nn::FloatLinear& layer, eigenq::ggml::Type type, const Eigen::VectorXf& importance = {})
      : type_(type), rows_(layer.out_features()), cols_(layer.in_features()), bias_(layer.bias()) {
    if (importance.size() != 0 && importance.size() != cols_) {
      eigenq::raise<eigenq::ShapeError>("GgmlLinear: ", importance.size(), " importance values for ", cols_, " inputs");
    }
    const eigenq::nn::Matrix w = layer.weight();  // row-major: ggml's rows
    const eigenq::Index row_bytes = eigenq::ggml::row_size(type, cols_);
    bytes_.resize(static_cast<std::size_t>(rows_ * row_bytes));
    eigenq::ggml::quantize_rows(type, w.data(), bytes_.data(), rows_, cols_,
                                importance.size() ? importance.data() : nullptr);
    eigenq::nn::Matrix decoded(rows_, cols_);
    for (eigenq::Index r = 0; r < rows_; ++r) {
      eigenq::ggml::dequantize_row(type, bytes_.data() + r * row_bytes, decoded.data() + r * cols_, cols_);
    }
    decoded_ = decoded;
  }

  eigenq::ggml::Type type() const { return type_; }

  eigenq::nn::Matrix forward(const eigenq::nn::Matrix& x) const override {
    eigenq::nn::detail::check_input_features(x, cols_, "GgmlLinear");
    eigenq::nn::Matrix y = x * decoded_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  std::string kind() const override { return std::string("GgmlLinear(") + eigenq::ggml::type_name(type_) + ")"; }
  // The blocks (codes and every block scale) plus the float32 bias.
  std::size_t weight_bytes() const override { return bytes_.size() + sizeof(float) * static_cast<std::size_t>(bias_.size()); }
  eigenq::Index weight_count() const override { return rows_ * cols_; }
  Eigen::MatrixXf dequantized_weight() const override { return decoded_; }
  std::unique_ptr<eigenq::nn::Module> clone() const override { return std::make_unique<GgmlLinear>(*this); }

 private:
  eigenq::ggml::Type type_;
  eigenq::Index rows_ = 0, cols_ = 0;
  std::vector<std::uint8_t> bytes_;
  Eigen::VectorXf bias_;
  Eigen::MatrixXf decoded_;
};

}  // namespace lm
