// StaticLinear: the full-integer Linear of TFLite's int8 conversion. Input and
// output activation parameters are calibrated ahead of time; int8 in, int8 out
// through fixed-point requantization, ReLU fused into the clamp.
//
// Arithmetic (TFLite's quantization spec): activations int8 affine with one
// scale/zero point per tensor; weights int8 symmetric per output channel on
// [-127, 127]; bias int32 with scale s_in * s_w(n) and zero point 0; the real
// multiplier s_in * s_w(n) / s_out as a Q31 fixed-point multiplier and shift
// (kernels/fixed_point.hpp, double rounding as TFLite's reference by default).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/kernels/elementwise.hpp"
#include "eigenq/kernels/fixed_point.hpp"
#include "eigenq/kernels/gemm.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/quantized_linear_base.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

struct StaticLinearOptions {
  eigenq::Linear<std::int8_t> weight_policy = eigenq::Linear<std::int8_t>::symmetric(Profile::tflite);
  kernels::FixedPointRounding rounding = kernels::FixedPointRounding::double_rounding;
  int threads = 1;
};

// The bias is int32 with scale s_in * s_w(n).
class StaticLinear
    : public QuantizedLinearBase<StaticLinear, eigenq::Linear<std::int8_t>, std::vector<std::int32_t>> {
 public:
  // `input` / `output`: calibrated activation parameters (int8 affine).
  StaticLinear(const Eigen::MatrixXf& weight, const Eigen::VectorXf& bias, LinearParams input,
               LinearParams output, bool relu, StaticLinearOptions options = {})
      : options_(options) {
    if (weight.size() == 0) raise<ShapeError>("StaticLinear: empty weight");
    check_activation_params(input, output);  // before the bias is divided by the input scale
    const Quantizer<eigenq::Linear<std::int8_t>, PerChannel> quantizer(options_.weight_policy, PerChannel{0});
    WeightTensor q = quantizer.quantize(weight);
    std::vector<std::int32_t> b = quantize_bias(bias, weight.rows(), input, q.params());
    init(std::move(q), std::move(b), input, output, relu);
  }

  // From already quantized parts (loading a saved model).
  StaticLinear(WeightTensor weight, std::vector<std::int32_t> bias, LinearParams input,
               LinearParams output, bool relu, StaticLinearOptions options = {})
      : options_(options) {
    init(std::move(weight), std::move(bias), input, output, relu);
  }

  const StaticLinearOptions& options() const { return options_; }
  LinearParams input_params() const { return input_; }
  LinearParams output_params() const { return output_; }
  bool relu() const { return relu_; }
  const std::vector<kernels::FixedPointMultiplier>& multipliers() const { return multipliers_; }

  bool integer_io() const override { return true; }

  QActivations quantize_input(const Matrix& x) const override {
    QActivations q;
    q.codes.resize(x.rows(), x.cols());
    q.scale = input_.scale;
    q.zero_point = input_.zero_point;
    kernels::quantize_f32_s8(x.data(), x.size(), input_.scale, input_.zero_point, {-128, 127},
                             kernels::Scaling::divide, Rounding::half_away_from_zero, q.codes.data());
    return q;
  }

  QActivations forward_integer(const QActivations& x) const override {
    if (x.codes.cols() != in_features()) {
      raise<ShapeError>("StaticLinear expects inputs with ", in_features(), " features, got ",
                        x.codes.cols());
    }
    if (x.scale != input_.scale || x.zero_point != input_.zero_point) {
      raise("StaticLinear: input quantized with scale ", x.scale, ", zero point ", x.zero_point,
            "; the layer was calibrated for scale ", input_.scale, ", zero point ", input_.zero_point);
    }
    QActivations y;
    y.codes.resize(x.codes.rows(), out_features());
    y.scale = output_.scale;
    y.zero_point = output_.zero_point;
    if (x.codes.rows() == 0) return y;
    kernels::Requantize stage;
    stage.fixed_point_multipliers = multipliers_.data();
    stage.multiplier_count = static_cast<Index>(multipliers_.size());
    stage.fixed_point_rounding = options_.rounding;
    stage.bias = bias_.data();
    stage.zero_point = output_.zero_point;
    stage.qmin = relu_ ? std::max(output_.zero_point, -128) : -128;
    stage.qmax = 127;
    kernels::gemm(x.codes.data(), x.codes.rows(), in_features(), input_.zero_point, packed_,
                  y.codes.data(), out_features(), stage, options_.threads);
    return y;
  }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, in_features(), "StaticLinear");
    return forward_integer(quantize_input(x)).dequantize();
  }

  std::string kind() const override { return "StaticLinear"; }
  std::size_t weight_bytes() const override {
    return weight_.storage_bytes() + sizeof(std::int32_t) * bias_.size();
  }

 private:
  // Bias as int32 with scale s_in * s_w(n), zero point 0, rounded half away (TFLite).
  static std::vector<std::int32_t> quantize_bias(const Eigen::VectorXf& bias, Index out, LinearParams input,
                                                 const std::vector<LinearParams>& params) {
    if (bias.size() != 0) detail::check_bias_size("StaticLinear", bias.size(), out);
    std::vector<std::int32_t> q(static_cast<std::size_t>(out), 0);
    for (Index n = 0; n < bias.size(); ++n) {
      const double scale = static_cast<double>(input.scale) * params[static_cast<std::size_t>(n)].scale;
      if (!std::isfinite(bias[n])) raise<NonFiniteError>("StaticLinear: bias ", n, " is ", bias[n]);
      const double v = std::round(static_cast<double>(bias[n]) / scale);
      q[static_cast<std::size_t>(n)] = static_cast<std::int32_t>(std::clamp(
          v, double(std::numeric_limits<std::int32_t>::min()), double(std::numeric_limits<std::int32_t>::max())));
    }
    return q;
  }

  static void check_activation_params(const LinearParams& input, const LinearParams& output) {
    for (const LinearParams* p : {&input, &output}) {
      if (!(p->scale > 0.0f) || !std::isfinite(p->scale) || p->zero_point < -128 || p->zero_point > 127) {
        raise("StaticLinear: activation parameters (scale ", p->scale, ", zero point ", p->zero_point,
              ") are not a valid int8 quantization");
      }
    }
  }

  void init(WeightTensor weight, std::vector<std::int32_t> bias, LinearParams input,
            LinearParams output, bool relu) {
    if (weight.rank() != 2 || weight.bits() != 8 || weight.granularity().kind != Granularity::Kind::channel ||
        weight.axis() != 0) {
      raise("StaticLinear: weights must be 8-bit codes quantized per output channel (axis 0)");
    }
    for (const auto& p : weight.params()) {
      if (p.zero_point != 0) raise("StaticLinear: weights must be symmetric (zero point 0)");
    }
    detail::check_bias_size("StaticLinear", static_cast<Index>(bias.size()), weight.shape()[0]);
    check_activation_params(input, output);
    weight_ = std::move(weight);
    bias_ = std::move(bias);
    input_ = input;
    output_ = output;
    relu_ = relu;
    multipliers_.clear();
    for (const auto& p : weight_.params()) {
      const double real = static_cast<double>(input_.scale) * p.scale / output_.scale;
      multipliers_.push_back(kernels::fixed_point_multiplier(real));
    }
    const Index n = weight_.shape()[0];
    const Index k = weight_.shape()[1];
    packed_ = kernels::pack_weights(weight_.codes().data(), k, n, 1, k);
  }

  StaticLinearOptions options_;
  LinearParams input_;
  LinearParams output_;
  bool relu_ = false;
  std::vector<kernels::FixedPointMultiplier> multipliers_;
  kernels::PackedWeights packed_;
};

}  // namespace nn
}  // namespace eigenq
