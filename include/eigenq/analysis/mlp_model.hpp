// A multilayer perceptron on Eigen (Linear layers, ReLU between them) that implements
// QuantizableModel: every layer's weight is a quantization point "<name>.weight", and
// every layer's output (after its ReLU) an activation point "<name>.output".
//
//   eigenq::MlpModel mlp;
//   mlp.add_layer("fc1", W1, b1);                 // W1: [hidden, in], ReLU after
//   mlp.add_layer("fc2", W2, b2, /*relu=*/false);
//   Eigen::MatrixXf logits = mlp.forward(X);     // X: [samples, in]
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/model.hpp"
#include "eigenq/core/error.hpp"

namespace eigenq {

class MlpModel : public QuantizableModel {
 public:
  struct Layer {
    std::string name;
    Eigen::MatrixXf weight;  // [out, in]
    Eigen::VectorXf bias;    // [out]
    bool relu = true;
  };

  using QuantizableModel::forward;

  // Appends y = relu?(x W^T + b). The input size must match the previous layer's output.
  MlpModel& add_layer(std::string name, Eigen::MatrixXf weight, Eigen::VectorXf bias, bool relu = true) {
    if (weight.size() == 0) raise<ShapeError>("MlpModel layer '", name, "': empty weight");
    if (bias.size() != weight.rows()) {
      raise<ShapeError>("MlpModel layer '", name, "': bias of size ", bias.size(), " for a weight of shape [",
                        weight.rows(), ", ", weight.cols(), "]");
    }
    if (!layers_.empty() && layers_.back().weight.rows() != weight.cols()) {
      raise<ShapeError>("MlpModel layer '", name, "': weight of shape [", weight.rows(), ", ", weight.cols(),
                        "] takes ", weight.cols(), " inputs, but layer '", layers_.back().name, "' gives ",
                        layers_.back().weight.rows());
    }
    for (const Layer& l : layers_) {
      if (l.name == name) raise("MlpModel: duplicate layer name '", name, "'");
    }
    layers_.push_back(Layer{std::move(name), std::move(weight), std::move(bias), relu});
    return *this;
  }

  const std::vector<Layer>& layers() const { return layers_; }
  Index inputs() const { return layers_.empty() ? 0 : layers_.front().weight.cols(); }
  Index outputs() const { return layers_.empty() ? 0 : layers_.back().weight.rows(); }

  // Points 2l and 2l+1: layer l's weight and its output.
  std::vector<QuantPoint> quant_points() const override {
    std::vector<QuantPoint> out;
    for (const Layer& l : layers_) {
      out.push_back({l.name + ".weight", PointKind::weight, static_cast<Index>(l.weight.size())});
      out.push_back({l.name + ".output", PointKind::activation, 0});
    }
    return out;
  }

  Eigen::MatrixXf weight(std::size_t point) const override {
    if (point % 2 != 0 || point / 2 >= layers_.size()) {
      raise("MlpModel: point ", point, " is not a weight point");
    }
    return layers_[point / 2].weight;
  }

  // Layer l's weight (point 2l) multiplies the previous layer's output (after its ReLU).
  bool observes_weight_inputs() const override { return true; }
  void observe_weight_inputs(const Eigen::MatrixXf& batch, const WeightInputVisitor& f) const override {
    check_batch(batch);
    Eigen::MatrixXf h = batch;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      f(2 * l, h);
      Eigen::MatrixXf out = h * layer.weight.transpose();
      out.rowwise() += layer.bias.transpose();
      if (layer.relu) out = out.cwiseMax(0.0f);
      h = std::move(out);
    }
  }

  Eigen::MatrixXf forward(const Eigen::MatrixXf& batch, const PointSchemes& schemes) const override {
    check_batch(batch);
    if (schemes.size() != 2 * layers_.size()) {
      raise("MlpModel: ", schemes.size(), " point schemes for ", 2 * layers_.size(), " points");
    }
    Eigen::MatrixXf h = batch;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      Eigen::MatrixXf out;
      if (schemes.get(2 * l) != nullptr) {
        Eigen::MatrixXf w = layer.weight;
        schemes.apply(2 * l, w);
        out = h * w.transpose();
      } else {
        out = h * layer.weight.transpose();
      }
      out.rowwise() += layer.bias.transpose();
      if (layer.relu) out = out.cwiseMax(0.0f);
      schemes.apply(2 * l + 1, out);
      h = std::move(out);
    }
    return h;
  }

 private:
  void check_batch(const Eigen::MatrixXf& batch) const {
    if (layers_.empty()) raise("MlpModel has no layers");
    if (batch.cols() != inputs()) {
      raise<ShapeError>("MlpModel: batch of shape [", batch.rows(), ", ", batch.cols(), "] for a model with ",
                        inputs(), " inputs");
    }
  }

  std::vector<Layer> layers_;
};

}  // namespace eigenq
