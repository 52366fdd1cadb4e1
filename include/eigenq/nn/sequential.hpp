// A chain of modules, run in order. Copyable (layers are cloned).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(const Sequential& other) { *this = other; }
  Sequential& operator=(const Sequential& other) {
    if (this != &other) {
      layers_.clear();
      for (const auto& layer : other.layers_) layers_.push_back(layer->clone());
    }
    return *this;
  }
  Sequential(Sequential&&) noexcept = default;
  Sequential& operator=(Sequential&&) noexcept = default;

  template <class Layer>
  Sequential& add(Layer layer) {
    layers_.push_back(std::make_unique<Layer>(std::move(layer)));
    return *this;
  }
  Sequential& add(std::unique_ptr<Module> layer) {
    if (!layer) raise("Sequential::add: null layer");
    layers_.push_back(std::move(layer));
    return *this;
  }

  std::size_t size() const { return layers_.size(); }
  const Module& operator[](std::size_t i) const { return at(i); }
  const Module& at(std::size_t i) const {
    if (i >= layers_.size()) raise("layer index ", i, " out of range (the model has ", layers_.size(), " layers)");
    return *layers_[i];
  }
  // Replaces layer i (conversion functions swap float layers for quantized ones).
  void replace(std::size_t i, std::unique_ptr<Module> layer) {
    at(i);
    if (!layer) raise("Sequential::replace: null layer");
    layers_[i] = std::move(layer);
  }

  // Float in, float out. Consecutive full-integer layers pass int8
  // activations to each other; the boundaries quantize and dequantize.
  Matrix forward(const Matrix& x) const override {
    Matrix y = x;
    std::size_t i = 0;
    while (i < layers_.size()) {
      if (!layers_[i]->integer_io()) {
        y = layers_[i++]->forward(y);
        continue;
      }
      QActivations q = layers_[i]->quantize_input(y);
      while (i < layers_.size() && layers_[i]->integer_io()) q = layers_[i++]->forward_integer(q);
      y = q.dequantize();
    }
    return y;
  }

  // Integer in, integer out, for a model made only of full-integer layers
  // (TFLite's int8 inputs and outputs).
  QActivations forward_integer(const QActivations& x) const override {
    if (!integer_io()) raise("forward_integer: the model has float layers; use forward()");
    QActivations q = x;
    for (const auto& layer : layers_) q = layer->forward_integer(q);
    return q;
  }
  bool integer_io() const override {
    if (layers_.empty()) return false;
    for (const auto& layer : layers_) {
      if (!layer->integer_io()) return false;
    }
    return true;
  }
  QActivations quantize_input(const Matrix& x) const override {
    if (layers_.empty()) raise("quantize_input: the model is empty");
    return layers_.front()->quantize_input(x);
  }

  std::string kind() const override { return "Sequential"; }
  std::size_t weight_bytes() const override {
    std::size_t bytes = 0;
    for (const auto& layer : layers_) bytes += layer->weight_bytes();
    return bytes;
  }
  Index weight_count() const override {
    Index n = 0;
    for (const auto& layer : layers_) n += layer->weight_count();
    return n;
  }
  std::unique_ptr<Module> clone() const override { return std::make_unique<Sequential>(*this); }

 private:
  std::vector<std::unique_ptr<Module>> layers_;
};

}  // namespace nn
}  // namespace eigenq
