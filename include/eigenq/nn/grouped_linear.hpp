// GroupedLinear: weight-only 4-bit Linear for memory-bound inference (the
// GPTQ/AWQ/llama.cpp Q4 shape). Weights are int4 codes in [-8, 7] with one
// scale per group of G = 32 or 128 inputs (symmetric, PyTorch's 4-bit scale
// amax / 7.5 by default), run on the int4 grouped GEMV kernel, which quantizes
// the activations to int8 per group on the fly. Scales are stored as f16 by
// default (4.5 bits per weight at G = 32, as llama.cpp's Q4_0): codes are chosen
// with the f32 scale, then the scale is rounded to f16, and the layer's QTensor
// holds those rounded scales, so it describes exactly what the kernel computes.
// ScaleType::f32 keeps the f32 scales (5 bits per weight at G = 32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/kernels/float16.hpp"
#include "eigenq/kernels/gemv_int4.hpp"
#include "eigenq/kernels/packed_int4_weights.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/quantized_linear_base.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

struct GroupedLinearOptions {
  Index group_size = 32;  // 32 or 128 (the kernel's group sizes)
  kernels::ScaleType scale_type = kernels::ScaleType::f16;
  int threads = 1;
};

class GroupedLinear : public QuantizedLinearBase<GroupedLinear, eigenq::Linear<std::int8_t>> {
 public:
  static eigenq::Linear<std::int8_t> weight_policy() {
    return eigenq::Linear<std::int8_t>::symmetric().with_bits(4);
  }

  GroupedLinear(const Eigen::MatrixXf& weight, const Eigen::VectorXf& bias, GroupedLinearOptions options = {})
      : options_(options) {
    if (weight.size() == 0) raise<ShapeError>("GroupedLinear: empty weight");
    const Quantizer<eigenq::Linear<std::int8_t>, PerGroup> quantizer(weight_policy(),
                                                                      PerGroup{1, options_.group_size});
    init(quantizer.quantize(weight), bias.size() ? bias : Eigen::VectorXf(Eigen::VectorXf::Zero(weight.rows())));
  }

  explicit GroupedLinear(const nn::FloatLinear& layer, GroupedLinearOptions options = {})
      : GroupedLinear(layer.weight(), layer.bias(), options) {}

  GroupedLinear(WeightTensor weight, Eigen::VectorXf bias, GroupedLinearOptions options)
      : options_(options) {
    init(std::move(weight), std::move(bias));
  }

  const GroupedLinearOptions& options() const { return options_; }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, in_features(), "GroupedLinear");
    Matrix y(x.rows(), out_features());
    kernels::gemv_int4(x.data(), x.rows(), in_features(), packed_, bias_.data(), y.data(), out_features(),
                       options_.threads);
    return y;
  }

  std::string kind() const override { return "GroupedLinear"; }
  // Codes (two a byte) plus one scale per group in its stored type, plus the bias.
  std::size_t weight_bytes() const override {
    const std::size_t scale_bytes = options_.scale_type == kernels::ScaleType::f32 ? 4 : 2;
    return weight_.codes().bytes() + weight_.params().size() * scale_bytes +
           sizeof(float) * static_cast<std::size_t>(bias_.size());
  }

 private:
  void init(WeightTensor weight, Eigen::VectorXf bias) {
    const Granularity g = weight.granularity();
    if (weight.rank() != 2 || g.kind != Granularity::Kind::group || g.axis != 1 ||
        (g.group_size != 32 && g.group_size != 128)) {
      raise("GroupedLinear: weights must be quantized in groups of 32 or 128 along the input axis");
    }
    if (weight.bits() > 4) raise("GroupedLinear: weights must be 4-bit codes, got ", weight.bits());
    for (const auto& p : weight.params()) {
      if (p.zero_point != 0) raise("GroupedLinear: weights must be symmetric (zero point 0)");
    }
    detail::check_bias_size("GroupedLinear", bias.size(), weight.shape()[0]);
    if (options_.scale_type == kernels::ScaleType::f16) weight = with_f16_scales(std::move(weight));
    weight_ = std::move(weight);
    bias_ = std::move(bias);
    const Index n = weight_.shape()[0];
    const Index k = weight_.shape()[1];
    const std::vector<std::int8_t> codes = weight_.unpacked_codes();
    std::vector<float> scales;
    scales.reserve(weight_.params().size());
    for (const auto& p : weight_.params()) scales.push_back(p.scale);
    const Index groups = weight_.layout().groups_per_axis();
    packed_ = kernels::pack_int4_weights(codes.data(), n, k, k, scales.data(), groups, g.group_size,
                                         options_.scale_type);
  }

  // The same codes with every scale rounded to the nearest f16 value.
  static WeightTensor with_f16_scales(WeightTensor w) {
    std::vector<LinearParams> params = w.params();
    for (auto& p : params) p.scale = kernels::half_bits_to_float(kernels::float_to_half_bits(p.scale));
    return WeightTensor(w.policy(), w.shape(), w.granularity(), std::move(params), w.codes());
  }

  GroupedLinearOptions options_;
  kernels::PackedInt4Weights packed_;
};

}  // namespace nn
}  // namespace eigenq
