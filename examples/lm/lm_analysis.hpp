// The byte-level GPT as an eigenq::QuantizableModel, so that the sensitivity analysis and the
// exact mixed-precision search run on it: its 16 Linear weights are the points
// ("blocks.<i>.attn.qkv.weight", ...), a batch is a matrix of byte windows (one window per row,
// byte values as floats), the output the logits of every position of every window
// ([windows * length, 256]), and the metric the mean KL divergence of the quantized model's
// next-byte distribution from the float model's.
//
// A forward pass with only some points quantized starts from the float residual stream cached
// at the first block that has one (the blocks before it compute exactly the float model), which
// is most of the search's cost saved for points in late blocks.
#pragma once

#include "byte_gpt.hpp"
#include "lm_calibration.hpp"

#include <eigenq/analysis/model.hpp>
#include <eigenq/analysis/output_metric.hpp>
#include <eigenq/nn/float_linear.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lm {

// Windows of equal length as a batch matrix [windows, length] of byte values.
inline Eigen::MatrixXf as_batch(const std::vector<std::string>& w) {
  Eigen::MatrixXf b(static_cast<Index>(w.size()), static_cast<Index>(w.front().size()));
  for (Index i = 0; i < b.rows(); ++i) {
    for (Index j = 0; j < b.cols(); ++j) b(i, j) = static_cast<float>(static_cast<unsigned char>(w[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)]));
  }
  return b;
}

// Mean over positions of KL(p_float || p_quantized), nats, from logits [positions, 256].
inline eigenq::OutputMetric kl_metric() {
  return {"kl_divergence", [](const Eigen::MatrixXf& ref, const Eigen::MatrixXf& out) {
            double total = 0;
            for (Index i = 0; i < ref.rows(); ++i) {
              const Eigen::ArrayXd a = ref.row(i).transpose().cast<double>().array();
              const Eigen::ArrayXd b = out.row(i).transpose().cast<double>().array();
              const Eigen::ArrayXd la = a - (a.maxCoeff() + std::log((a - a.maxCoeff()).exp().sum()));
              const Eigen::ArrayXd lb = b - (b.maxCoeff() + std::log((b - b.maxCoeff()).exp().sum()));
              total += (la.exp() * (la - lb)).sum();
            }
            return total / static_cast<double>(ref.rows());
          }};
}

class LmModel : public eigenq::QuantizableModel {
 public:
  explicit LmModel(const ByteGpt& model) : model_(model), names_(model.linear_names()) {}

  std::vector<eigenq::QuantPoint> quant_points() const override {
    std::vector<eigenq::QuantPoint> out;
    for (const std::string& n : names_) {
      const auto& l = dynamic_cast<const eigenq::nn::FloatLinear&>(model_.linear(n));
      out.push_back({n + ".weight", eigenq::PointKind::weight, l.weight().size()});
    }
    return out;
  }

  Eigen::MatrixXf weight(std::size_t point) const override {
    return dynamic_cast<const eigenq::nn::FloatLinear&>(model_.linear(names_.at(point))).weight();
  }

  bool observes_weight_inputs() const override { return true; }
  void observe_weight_inputs(const Eigen::MatrixXf& batch, const eigenq::WeightInputVisitor& f) const override {
    const std::vector<std::vector<std::uint8_t>> w = decode(batch);
    for (const auto& bytes : w) {
      model_.forward(bytes.data(), static_cast<Index>(bytes.size()), [&](const std::string& name, const Matrix& x) {
        f(point_of(name), Eigen::MatrixXf(x));
      });
    }
  }

  using QuantizableModel::forward;
  Eigen::MatrixXf forward(const Eigen::MatrixXf& batch, const eigenq::PointSchemes& schemes) const override {
    const std::vector<std::vector<std::uint8_t>> w = decode(batch);
    if (!(batch.rows() == cached_batch_.rows() && batch.cols() == cached_batch_.cols() && batch == cached_batch_)) {
      fill_cache(batch, w);
    }
    // The first block with a quantized point; the model with those points fake-quantized.
    std::size_t first = model_.blocks();
    ByteGpt m = model_;
    for (std::size_t p = 0; p < names_.size(); ++p) {
      if (schemes.get(p) == nullptr) continue;
      first = std::min(first, p / 4);
      const auto& l = dynamic_cast<const eigenq::nn::FloatLinear&>(model_.linear(names_[p]));
      Eigen::MatrixXf q = l.weight();
      schemes.apply(p, q);
      m.set_linear(names_[p], std::make_unique<eigenq::nn::FloatLinear>(std::move(q), l.bias()));
    }
    const Index len = batch.cols();
    Eigen::MatrixXf out(batch.rows() * len, 256);
    for (std::size_t i = 0; i < w.size(); ++i) {
      Matrix x = cache_[i][first];
      for (std::size_t b = first; b < m.blocks(); ++b) m.run_block(b, x);
      out.middleRows(static_cast<Index>(i) * len, len) = m.head(x);
    }
    return out;
  }

 private:
  static std::vector<std::vector<std::uint8_t>> decode(const Eigen::MatrixXf& batch) {
    std::vector<std::vector<std::uint8_t>> out(static_cast<std::size_t>(batch.rows()));
    for (Index i = 0; i < batch.rows(); ++i) {
      for (Index j = 0; j < batch.cols(); ++j) out[static_cast<std::size_t>(i)].push_back(static_cast<std::uint8_t>(batch(i, j)));
    }
    return out;
  }

  std::size_t point_of(const std::string& linear_name) const {
    for (std::size_t p = 0; p < names_.size(); ++p) {
      if (names_[p] == linear_name) return p;
    }
    eigenq::raise("LmModel: no Linear named '", linear_name, "'");
  }

  // cache_[window][b]: the float residual stream entering block b (b = blocks: the final one).
  void fill_cache(const Eigen::MatrixXf& batch, const std::vector<std::vector<std::uint8_t>>& w) const {
    cache_.assign(w.size(), {});
    for (std::size_t i = 0; i < w.size(); ++i) {
      Matrix x = model_.embed(w[i].data(), static_cast<Index>(w[i].size()));
      cache_[i].push_back(x);
      for (std::size_t b = 0; b < model_.blocks(); ++b) {
        model_.run_block(b, x);
        cache_[i].push_back(x);
      }
    }
    cached_batch_ = batch;
  }

  ByteGpt model_;
  std::vector<std::string> names_;
  mutable Eigen::MatrixXf cached_batch_;
  mutable std::vector<std::vector<Matrix>> cache_;
};

}  // namespace lm
