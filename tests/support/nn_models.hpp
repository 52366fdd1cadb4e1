// Deterministic float models and inputs shared by the nn and io tests.
#pragma once

#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/sequential.hpp"

#include <Eigen/Core>

#include <random>
#include <vector>

namespace eigenq_test {

// Linear 64->hidden1, ReLU, Linear hidden1->hidden2, ReLU, Linear hidden2->10; weights
// N(0, 0.3), biases bias_scale * N(0, 0.3), drawn layer by layer (weights, then biases).
inline eigenq::nn::Sequential random_mlp(unsigned seed, eigenq::Index hidden1, eigenq::Index hidden2,
                                         float bias_scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  auto layer = [&](eigenq::Index in, eigenq::Index out) {
    Eigen::MatrixXf w(out, in);
    for (eigenq::Index i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
    Eigen::VectorXf b(out);
    for (eigenq::Index i = 0; i < b.size(); ++i) b[i] = bias_scale * g(rng);
    return eigenq::nn::FloatLinear(w, b);
  };
  eigenq::nn::Sequential m;
  m.add(layer(64, hidden1)).add(eigenq::nn::ReLU()).add(layer(hidden1, hidden2)).add(eigenq::nn::ReLU());
  m.add(layer(hidden2, 10));
  return m;
}

// `count` batches of `rows` x 64 inputs uniform in [0, 1), from one generator.
inline std::vector<eigenq::nn::Matrix> random_batches(int count, eigenq::Index rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<eigenq::nn::Matrix> out;
  for (int b = 0; b < count; ++b) {
    eigenq::nn::Matrix x(rows, 64);
    for (eigenq::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
    out.push_back(x);
  }
  return out;
}

// |actual - expected| / |expected| (Frobenius norms).
inline double relative_error(const eigenq::nn::Matrix& actual, const eigenq::nn::Matrix& expected) {
  return double((actual - expected).norm()) / double(expected.norm());
}

}  // namespace eigenq_test
