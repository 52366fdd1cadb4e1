// WeightOnlyLinear<Policy>: a Linear whose weights are stored quantized under any policy (log,
// codebook, NF4, 2/3/4-bit linear, ...). It keeps the QTensor (what is saved and what the
// storage cost counts) and computes in one of two ways:
//
// - On the table-lookup kernel (kernels/gemv_lut4.hpp) when the codes take at most 16 values
//   (policy.range().levels() <= 16: 2, 3 and 4-bit codes of every policy) and the parameters
//   are per tensor, per output channel (PerChannel{0}) or in groups along the input
//   (PerGroup{1, G}) whose size is a multiple of 32. Each row (or group) gets a table of its
//   16 dequantized levels, kept as int8 values and a scale (packed_lut4_weights.hpp), and the
//   activations are quantized to int8 per group of 32 inputs (per row tables) or per the
//   largest of 128, 64, 32 dividing G. No float copy of the weights is kept. The int8 table
//   (within amax / 254 of each level) and the int8 activations (within amax / 254 of each
//   input of its group) add error to the float product of the decoded weights; the nn tests
//   assert the bound.
// - Otherwise (more than 16 codes, other granularities, codes outside the policy's range) in
//   float with the dequantized weights, decoded once on construction: the gain is the model's
//   size, not its speed.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/kernels/gemv_lut4.hpp"
#include "eigenq/kernels/packed_lut4_weights.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"
#include "eigenq/nn/quantized_linear_base.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {
namespace nn {

template <class Policy>
class WeightOnlyLinear : public QuantizedLinearBase<WeightOnlyLinear<Policy>, Policy> {
  using Base = QuantizedLinearBase<WeightOnlyLinear<Policy>, Policy>;
  using Base::bias_;
  using Base::weight_;

 public:
  using typename Base::WeightTensor;

  WeightOnlyLinear(WeightTensor weight, Eigen::VectorXf bias, std::string scheme_name)
      : Base(std::move(weight), std::move(bias)), name_(std::move(scheme_name)) {
    if (weight_.rank() != 2) {
      raise<ShapeError>("WeightOnlyLinear: weight of shape ", to_string(weight_.shape()), " is not [out, in]");
    }
    if (bias_.size() == 0) bias_ = Eigen::VectorXf::Zero(weight_.shape()[0]);
    detail::check_bias_size("WeightOnlyLinear", bias_.size(), weight_.shape()[0]);
    if (!pack_for_kernel()) decoded_ = weight_.template dequantize<Eigen::MatrixXf>();
  }

  template <class G>
  WeightOnlyLinear(const nn::FloatLinear& layer, const Quantizer<Policy, G>& quantizer, std::string scheme_name)
      : WeightOnlyLinear(quantizer.quantize(layer.weight()), layer.bias(), std::move(scheme_name)) {}

  const std::string& scheme_name() const { return name_; }

  // Whether forward runs on gemv_lut4 (else in float with the decoded weights).
  bool uses_kernel() const { return kernel_; }
  // The kernel's weights (empty when !uses_kernel()).
  const kernels::PackedLut4Weights& packed() const { return packed_; }
  // Threads for the kernel (results do not depend on it).
  void set_threads(int threads) {
    if (threads < 1) raise("WeightOnlyLinear: threads = ", threads, " must be >= 1");
    threads_ = threads;
  }
  // Bytes the layer holds for its weights while it runs: the QTensor (counted as stored, by
  // storage_bytes(); a codebook's levels take more in memory, in their vectors), the kernel's
  // packed codes and tables or the decoded floats, and the bias.
  std::size_t resident_bytes() const {
    return weight_.storage_bytes() + (kernel_ ? packed_.bytes() : 0) +
           sizeof(float) * static_cast<std::size_t>(decoded_.size() + bias_.size());
  }

  Matrix forward(const Matrix& x) const override {
    nn::detail::check_input_features(x, this->in_features(), "WeightOnlyLinear");
    if (kernel_) {
      Matrix y(x.rows(), this->out_features());
      kernels::gemv_lut4(x.data(), x.rows(), this->in_features(), packed_, bias_.data(), y.data(),
                         this->out_features(), threads_);
      return y;
    }
    Matrix y = x * decoded_.transpose();
    y.rowwise() += bias_.transpose();
    return y;
  }

  std::string kind() const override { return "WeightOnlyLinear"; }
  std::size_t weight_bytes() const override {
    return weight_.storage_bytes() + sizeof(float) * static_cast<std::size_t>(bias_.size());
  }

 private:
  // Packs codes and tables for gemv_lut4 when the kernel applies (see the top); false if not.
  bool pack_for_kernel() {
    const CodeRange range = weight_.policy().range();
    if (range.levels() > 16) return false;
    const Index n = weight_.shape()[0];
    const Index k = weight_.shape()[1];
    const Granularity& g = weight_.granularity();
    Index group = 32;
    Index table_group = 0;  // one table per row
    Index tables = 1;
    if (g.kind == Granularity::Kind::group) {
      if (g.axis != 1 || g.group_size % 32 != 0) return false;
      table_group = g.group_size;
      group = g.group_size % 128 == 0 ? 128 : g.group_size % 64 == 0 ? 64 : 32;
      tables = weight_.layout().groups_per_axis();
    } else if (g.kind == Granularity::Kind::channel && g.axis != 0) {
      return false;
    }
    using Code = typename WeightTensor::code_type;
    const std::vector<Code> codes = weight_.unpacked_codes();
    std::vector<std::uint8_t> indices(codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      const std::int64_t c = std::int64_t{codes[i]} - range.qmin;
      if (c < 0 || c > 15) return false;  // foreign codes outside the policy's range
      indices[i] = static_cast<std::uint8_t>(c);
    }
    // level(n, t)[c] = dequantize(qmin + c) with the parameters of row n (and group t).
    Code all_codes[16];
    for (int c = 0; c < 16; ++c) {
      all_codes[c] = static_cast<Code>(c < range.levels() ? range.qmin + c : range.qmin);
    }
    const auto& params = weight_.params();
    std::vector<float> levels(static_cast<std::size_t>(std::max<Index>(1, n * tables * 16)), 0.0f);
    for (Index row = 0; row < n; ++row) {
      for (Index t = 0; t < tables; ++t) {
        const Index p = g.kind == Granularity::Kind::tensor ? 0
                        : g.kind == Granularity::Kind::channel ? row
                                                               : row * tables + t;
        float* out = levels.data() + (row * tables + t) * 16;
        dequantize_run(weight_.policy(), all_codes, 16, &params[static_cast<std::size_t>(p)], 0, out);
        for (int c = static_cast<int>(range.levels()); c < 16; ++c) out[c] = 0.0f;
      }
    }
    for (float v : levels) {
      if (!std::isfinite(v)) return false;  // a level the int8 table cannot hold
    }
    packed_ = kernels::pack_lut4_weights(indices.data(), n, k, k, levels.data(), 16 * tables, group, table_group);
    kernel_ = true;
    return true;
  }

  std::string name_;
  bool kernel_ = false;
  int threads_ = 1;
  kernels::PackedLut4Weights packed_;
  Eigen::MatrixXf decoded_;  // only without the kernel
};

}  // namespace nn
}  // namespace eigenq
