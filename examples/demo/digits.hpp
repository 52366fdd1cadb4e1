// Loading the digits set and training a small MLP on it, deterministically.
// This is demo code, not library code: eigenq quantizes trained models, it
// does not train them.
#pragma once

#include <eigenq/nn/float_linear.hpp>
#include <eigenq/nn/sequential.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace digits {

using Matrix = eigenq::nn::Matrix;

struct Split {
  Matrix x_train, x_test;  // pixels scaled to [0, 1]
  std::vector<int> y_train, y_test;
};

// Reads examples/data/digits.csv (64 pixels 0..16 then the label per line) and
// splits it 75/25 after a fixed shuffle.
inline Split load(const std::string& path, unsigned seed = 1234) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<std::vector<float>> rows;
  std::vector<int> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::vector<float> row;
    while (std::getline(ss, cell, ',')) row.push_back(std::stof(cell));
    if (row.size() != 65) throw std::runtime_error(path + ": a line without 65 values");
    labels.push_back(static_cast<int>(row.back()));
    row.pop_back();
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const std::size_t n_train = rows.size() * 3 / 4;
  Split s;
  s.x_train.resize(static_cast<Eigen::Index>(n_train), 64);
  s.x_test.resize(static_cast<Eigen::Index>(rows.size() - n_train), 64);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& r = rows[order[i]];
    Matrix& dst = i < n_train ? s.x_train : s.x_test;
    const auto k = static_cast<Eigen::Index>(i < n_train ? i : i - n_train);
    for (Eigen::Index j = 0; j < 64; ++j) dst(k, j) = r[static_cast<std::size_t>(j)] / 16.0f;
    (i < n_train ? s.y_train : s.y_test).push_back(labels[order[i]]);
  }
  return s;
}

inline double accuracy(const Matrix& logits, const std::vector<int>& labels) {
  int correct = 0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    Eigen::Index best = 0;
    logits.row(i).maxCoeff(&best);
    correct += static_cast<int>(best) == labels[static_cast<std::size_t>(i)];
  }
  return static_cast<double>(correct) / static_cast<double>(logits.rows());
}

// An MLP of Linear+ReLU layers trained with Adam on softmax cross-entropy.
inline eigenq::nn::Sequential train_mlp(const Split& data, const std::vector<int>& widths,
                                        int epochs = 40, unsigned seed = 7) {
  struct Layer {
    Eigen::MatrixXf w, mw, vw;  // [out, in]
    Eigen::VectorXf b, mb, vb;
  };
  std::mt19937 rng(seed);
  std::vector<Layer> layers;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
    const int in = widths[l];
    const int out = widths[l + 1];
    std::normal_distribution<float> init(0.0f, std::sqrt(2.0f / static_cast<float>(in)));
    Layer layer;
    layer.w.resize(out, in);
    for (Eigen::Index i = 0; i < layer.w.size(); ++i) layer.w.data()[i] = init(rng);
    layer.b = Eigen::VectorXf::Zero(out);
    layer.mw = layer.vw = Eigen::MatrixXf::Zero(out, in);
    layer.mb = layer.vb = Eigen::VectorXf::Zero(out);
    layers.push_back(std::move(layer));
  }
  const float lr = 2e-3f, beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-8f;
  const int batch = 32;
  const Eigen::Index n = data.x_train.rows();
  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  int step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (Eigen::Index start = 0; start < n; start += batch) {
      const Eigen::Index m = std::min<Eigen::Index>(batch, n - start);
      Matrix x(m, data.x_train.cols());
      std::vector<int> y(static_cast<std::size_t>(m));
      for (Eigen::Index i = 0; i < m; ++i) {
        x.row(i) = data.x_train.row(order[static_cast<std::size_t>(start + i)]);
        y[static_cast<std::size_t>(i)] = data.y_train[static_cast<std::size_t>(order[static_cast<std::size_t>(start + i)])];
      }
      // Forward, keeping each layer's input and pre-activation.
      std::vector<Matrix> inputs{x};
      std::vector<Matrix> pre;
      for (std::size_t l = 0; l < layers.size(); ++l) {
        Matrix z = inputs.back() * layers[l].w.transpose();
        z.rowwise() += layers[l].b.transpose();
        pre.push_back(z);
        if (l + 1 < layers.size()) inputs.push_back(z.cwiseMax(0.0f));
      }
      // Softmax cross-entropy gradient.
      Matrix g = pre.back();
      for (Eigen::Index i = 0; i < m; ++i) {
        const float mx = g.row(i).maxCoeff();
        g.row(i) = (g.row(i).array() - mx).exp();
        g.row(i) /= g.row(i).sum();
        g(i, y[static_cast<std::size_t>(i)]) -= 1.0f;
      }
      g /= static_cast<float>(m);
      ++step;
      const float c1 = 1.0f - std::pow(beta1, static_cast<float>(step));
      const float c2 = 1.0f - std::pow(beta2, static_cast<float>(step));
      for (std::size_t l = layers.size(); l-- > 0;) {
        Layer& L = layers[l];
        const Eigen::MatrixXf gw = g.transpose() * inputs[l];
        const Eigen::VectorXf gb = g.colwise().sum().transpose();
        if (l > 0) {
          g = g * L.w;
          g = g.cwiseProduct((pre[l - 1].array() > 0.0f).cast<float>().matrix());
        }
        L.mw = beta1 * L.mw + (1 - beta1) * gw;
        L.vw = beta2 * L.vw + (1 - beta2) * gw.cwiseProduct(gw);
        L.mb = beta1 * L.mb + (1 - beta1) * gb;
        L.vb = beta2 * L.vb + (1 - beta2) * gb.cwiseProduct(gb);
        L.w.array() -= lr * (L.mw.array() / c1) / ((L.vw.array() / c2).sqrt() + adam_eps);
        L.b.array() -= lr * (L.mb.array() / c1) / ((L.vb.array() / c2).sqrt() + adam_eps);
      }
    }
  }
  eigenq::nn::Sequential model;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    model.add(eigenq::nn::FloatLinear(layers[l].w, layers[l].b));
    if (l + 1 < layers.size()) model.add(eigenq::nn::ReLU());
  }
  return model;
}

}  // namespace digits
