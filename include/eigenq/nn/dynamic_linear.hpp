// DynamicLinear: what torch.ao.quantization.quantize_dynamic(model, {Linear},
// qint8) gives Python users. int8 weights quantized once (per-channel
// symmetric by default, any linear scheme allowed) and pre-packed for the int8
// GEMM; activations quantized on the fly at every call (per tensor or per row,
// affine uint8 or int8, optional reduce_range); int32 accumulation; output
// dequantized with the bias to float inside the GEMM's output stage.
//
// Activation parameters are chosen as PyTorch's dynamic quantization does
// (quant_utils::ChooseQuantizationParams, see choose_params.hpp). PyTorch's
// dynamic Linear module always passes reduce_range = true (FBGEMM needs it to
// keep vpmaddubsw from saturating); eigenq's kernels accumulate in int32
// without saturation, so reduce_range is off by default (one more bit of
// activation precision) and on request for bit-compatible activations.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/kernels/elementwise.hpp"
#include "eigenq/kernels/gemm.hpp"
#include "eigenq/kernels/packed_weights.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/quantized_linear_base.hpp"
#include "eigenq/policy/choose_params.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

enum class ActivationGranularity { per_tensor, per_row };

struct DynamicLinearOptions {
  eigenq::Linear<std::int8_t> weight_policy = eigenq::Linear<std::int8_t>::symmetric();
  bool per_channel_weights = true;
  ActivationGranularity activations = ActivationGranularity::per_tensor;
  bool signed_activations = false;  // false: affine uint8 (PyTorch); true: affine int8
  bool reduce_range = false;        // PyTorch's module: true
  int threads = 1;                  // GEMM threads over output channels
};

namespace detail {

// A batch's (or row's) finite range; NaN/Inf in an activation is an error.
inline void activation_range(const float* x, Index n, const std::string& layer, Index row, float& lo,
                             float& hi) {
  Eigen::Map<const Eigen::ArrayXf> a(x, n);
  if (!a.allFinite()) {
    for (Index i = 0; i < n; ++i) {
      if (!std::isfinite(x[i])) {
        raise<NonFiniteError>(layer, ": input (", row, ", ", i, ") is ", x[i],
                              "; activations must be finite");
      }
    }
  }
  lo = n > 0 ? a.minCoeff() : 0.0f;
  hi = n > 0 ? a.maxCoeff() : 0.0f;
}

}  // namespace detail

class DynamicLinear : public QuantizedLinearBase<DynamicLinear, eigenq::Linear<std::int8_t>> {
 public:
  DynamicLinear(const Eigen::MatrixXf& weight, const Eigen::VectorXf& bias,
                DynamicLinearOptions options = {})
      : options_(std::move(options)) {
    if (weight.size() == 0) raise<ShapeError>("DynamicLinear: empty weight");
    if (bias.size() != 0) detail::check_bias_size("DynamicLinear", bias.size(), weight.rows());
    const Granularity g = options_.per_channel_weights ? Granularity(PerChannel{0}) : Granularity(PerTensor{});
    const Quantizer<eigenq::Linear<std::int8_t>, Granularity> quantizer(options_.weight_policy, g);
    init(quantizer.quantize(weight), bias.size() ? bias : Eigen::VectorXf(Eigen::VectorXf::Zero(weight.rows())));
  }

  explicit DynamicLinear(const nn::FloatLinear& layer, DynamicLinearOptions options = {})
      : DynamicLinear(layer.weight(), layer.bias(), std::move(options)) {}

  // From already quantized weights (loading a saved model).
  DynamicLinear(WeightTensor weight, Eigen::VectorXf bias, DynamicLinearOptions options)
      : options_(std::move(options)) {
    init(std::move(weight), std::move(bias));
  }

  const DynamicLinearOptions& options() const { return options_; }

  // The activation code range after reduce_range.
  CodeRange activation_range() const {
    CodeRange r = options_.signed_activations ? CodeRange{-128, 127} : CodeRange{0, 255};
    if (options_.reduce_range) r = {r.qmin / 2, r.qmax / 2};
    return r;
  }

  // The parameters a batch (or one row) with this range is quantized with.
  LinearParams activation_params(float min, float max) const {
    const CodeRange full = options_.signed_activations ? CodeRange{-128, 127} : CodeRange{0, 255};
    return choose_params_pytorch_dynamic(min, max, full, options_.reduce_range);
  }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, in_features(), "DynamicLinear");
    Matrix y(x.rows(), out_features());
    if (x.rows() == 0) return y;
    if (options_.signed_activations) run<std::int8_t>(x, y);
    else run<std::uint8_t>(x, y);
    return y;
  }

  std::string kind() const override { return "DynamicLinear"; }
  std::size_t weight_bytes() const override {
    return weight_.storage_bytes() + sizeof(float) * static_cast<std::size_t>(bias_.size());
  }

 private:
  void init(WeightTensor weight, Eigen::VectorXf bias) {
    if (weight.rank() != 2) raise<ShapeError>("DynamicLinear: weight of shape ", to_string(weight.shape()), " is not [out, in]");
    if (weight.bits() != 8) raise("DynamicLinear: weights must be 8-bit codes, got ", weight.bits());
    const auto kind = weight.granularity().kind;
    if (kind == Granularity::Kind::group || (kind == Granularity::Kind::channel && weight.axis() != 0)) {
      raise("DynamicLinear: weights must be quantized per tensor or per output channel (axis 0)");
    }
    detail::check_bias_size("DynamicLinear", bias.size(), weight.shape()[0]);
    weight_ = std::move(weight);
    bias_ = std::move(bias);
    const Index n = weight_.shape()[0];
    const Index k = weight_.shape()[1];
    std::vector<std::int32_t> zero_points;
    for (const auto& p : weight_.params()) {
      weight_scales_.push_back(p.scale);
      zero_points.push_back(p.zero_point);
    }
    // B(k, n) = W(n, k): the [out, in] row-major codes have strides (1, K).
    packed_ = kernels::pack_weights(weight_.codes().data(), k, n, 1, k, zero_points.data(),
                                    static_cast<Index>(zero_points.size()));
  }

  template <class A>
  void run(const Matrix& x, Matrix& y) const {
    const Index m = x.rows();
    const Index k = in_features();
    const Index n = out_features();
    const CodeRange range = activation_range();
    std::vector<A> codes(static_cast<std::size_t>(m * k));
    if (options_.activations == ActivationGranularity::per_tensor) {
      float lo = 0.0f;
      float hi = 0.0f;
      detail::activation_range(x.data(), m * k, "DynamicLinear", 0, lo, hi);
      const LinearParams p = activation_params(lo, hi);
      quantize_codes(x.data(), m * k, p, range, codes.data());
      kernels::Dequantize stage;
      stage.row_scales = &p.scale;
      stage.col_scales = weight_scales_.data();
      stage.col_scale_count = static_cast<Index>(weight_scales_.size());
      stage.bias = bias_.data();
      kernels::gemm(codes.data(), m, k, p.zero_point, packed_, y.data(), n, stage, options_.threads);
      return;
    }
    // Per row: each row has its own zero point, which the GEMM cannot take, so
    // it runs with zero point 0 and the correction zp(m) * sum_k (B - zb) is
    // applied with the dequantization.
    std::vector<float> scales(static_cast<std::size_t>(m));
    std::vector<std::int32_t> zps(static_cast<std::size_t>(m));
    for (Index r = 0; r < m; ++r) {
      float lo = 0.0f;
      float hi = 0.0f;
      detail::activation_range(x.data() + r * k, k, "DynamicLinear", r, lo, hi);
      const LinearParams p = activation_params(lo, hi);
      scales[static_cast<std::size_t>(r)] = p.scale;
      zps[static_cast<std::size_t>(r)] = p.zero_point;
      quantize_codes(x.data() + r * k, k, p, range, codes.data() + r * k);
    }
    Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> acc(m, n);
    kernels::gemm(codes.data(), m, k, 0, packed_, acc.data(), n, kernels::Int32Output{}, options_.threads);
    const std::int32_t* colsum = packed_.column_sums();
    const std::int32_t* wzp = packed_.zero_points();
    for (Index r = 0; r < m; ++r) {
      const std::int64_t za = zps[static_cast<std::size_t>(r)];
      for (Index c = 0; c < n; ++c) {
        const std::int64_t centered_sum = std::int64_t{colsum[c]} - k * std::int64_t{wzp[c]};
        const auto corrected = static_cast<float>(std::int64_t{acc(r, c)} - za * centered_sum);
        const float w_scale = weight_scales_[weight_scales_.size() == 1 ? 0 : static_cast<std::size_t>(c)];
        y(r, c) = std::fma(corrected, scales[static_cast<std::size_t>(r)] * w_scale, bias_[c]);
      }
    }
  }

  template <class A>
  static void quantize_codes(const float* x, Index n, const LinearParams& p, CodeRange range, A* out) {
    if constexpr (std::is_same_v<A, std::uint8_t>) {
      kernels::quantize_f32_u8(x, n, p.scale, p.zero_point, range,
                               kernels::Scaling::multiply_by_reciprocal, Rounding::half_to_even, out);
    } else {
      kernels::quantize_f32_s8(x, n, p.scale, p.zero_point, range,
                               kernels::Scaling::multiply_by_reciprocal, Rounding::half_to_even, out);
    }
  }

  DynamicLinearOptions options_;
  std::vector<float> weight_scales_;
  kernels::PackedWeights packed_;
};

}  // namespace nn
}  // namespace eigenq
