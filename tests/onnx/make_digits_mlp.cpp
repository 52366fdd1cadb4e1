// Trains the digits MLP of tests/onnx/digits_mlp.safetensors (64 -> 32 -> 10, Linear + ReLU, the
// demo's deterministic Adam training on examples/data/digits.csv; 96.9 % test accuracy) and
// writes its weights (fc0.weight [32, 64], fc0.bias, fc1.weight [10, 32], fc1.bias, F32).
// Not built by CMake; the file is committed so the tests never train:
//   g++ -std=c++17 -O2 -Iinclude -Iexamples/demo -I/usr/include/eigen3 tests/onnx/make_digits_mlp.cpp \
//       -o /tmp/make_digits_mlp && /tmp/make_digits_mlp examples/data/digits.csv tests/onnx/digits_mlp.safetensors
#include "digits.hpp"
#include <eigenq/io/safetensors.hpp>
#include <eigenq/nn/float_linear.hpp>
#include <cstdio>
int main(int, char** argv) {
  const auto data = digits::load(argv[1]);
  const eigenq::nn::Sequential m = digits::train_mlp(data, {64, 32, 10});
  std::printf("test accuracy %.4f\n", digits::accuracy(m.forward(data.x_test), data.y_test));
  std::vector<eigenq::io::OwnedTensor> t;
  std::vector<std::vector<float>> keep;
  int li = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const auto* f = dynamic_cast<const eigenq::nn::FloatLinear*>(&m[i]);
    if (!f) continue;
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w = f->weight();
    keep.emplace_back(w.data(), w.data() + w.size());
    t.push_back(eigenq::io::make_tensor("fc" + std::to_string(li) + ".weight", {w.rows(), w.cols()}, keep.back().data()));
    keep.emplace_back(f->bias().data(), f->bias().data() + f->bias().size());
    t.push_back(eigenq::io::make_tensor("fc" + std::to_string(li) + ".bias", {f->bias().size()}, keep.back().data()));
    ++li;
  }
  eigenq::io::write_safetensors(argv[2], t);
}
