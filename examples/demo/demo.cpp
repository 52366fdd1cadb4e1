// eigenq demo: quantize a Gaussian weight matrix to int8 per tensor and per
// channel, with each profile and both conventions, and print what it costs.
#include <eigenq/eigenq.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

namespace {

struct Error {
  double mse = 0;
  double sqnr_db = 0;
  double max_abs = 0;
};

Error measure(const Eigen::MatrixXf& w, const Eigen::MatrixXf& w_hat) {
  const Eigen::ArrayXXd d = (w - w_hat).cast<double>().array();
  Error e;
  e.mse = d.square().mean();
  e.sqnr_db = 10.0 * std::log10(w.cast<double>().array().square().mean() / e.mse);
  e.max_abs = d.abs().maxCoeff();
  return e;
}

template <class Policy, class G>
void row(const char* name, const Eigen::MatrixXf& w, const Policy& policy, G granularity) {
  const auto q = eigenq::quantize(w, policy, granularity);
  const Eigen::MatrixXf w_hat = eigenq::dequantize(q);
  const Error e = measure(w, w_hat);
  std::printf("%-34s %12.3e %9.2f %10.3e %10zu\n", name, e.mse, e.sqnr_db, e.max_abs,
              q.storage_bytes());
}

}  // namespace

int main() {
  // A 512x1024 "layer": Gaussian weights whose rows have very different
  // spreads, as trained layers do, which is why per-channel scales help.
  const int rows = 512;
  const int cols = 1024;
  std::mt19937 rng(2024);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::lognormal_distribution<float> row_spread(-3.0f, 1.0f);
  Eigen::MatrixXf w(rows, cols);
  for (int r = 0; r < rows; ++r) {
    const float sigma = row_spread(rng);
    for (int c = 0; c < cols; ++c) w(r, c) = sigma * gauss(rng);
  }
  std::printf("eigenq %s demo: %dx%d Gaussian weights (float32: %zu bytes), best ISA %s\n\n",
              eigenq::version_string(), rows, cols, sizeof(float) * rows * cols,
              eigenq::kernels::to_string(eigenq::kernels::best_isa()));
  std::printf("%-34s %12s %9s %10s %10s\n", "scheme", "MSE", "SQNR dB", "max |err|", "bytes");
  using eigenq::Linear;
  using eigenq::Profile;
  row("int8 affine, per tensor", w, Linear<std::int8_t>::affine(), eigenq::PerTensor{});
  row("int8 symmetric, per tensor", w, Linear<std::int8_t>::symmetric(), eigenq::PerTensor{});
  row("int8 affine, per channel", w, Linear<std::int8_t>::affine(), eigenq::PerChannel{0});
  row("int8 symmetric, per channel", w, Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0});
  row("int8 symmetric [-127,127] (onnx)", w, Linear<std::int8_t>::symmetric(Profile::onnx),
      eigenq::PerChannel{0});
  row("int8 symmetric (tflite)", w, Linear<std::int8_t>::symmetric(Profile::tflite),
      eigenq::PerChannel{0});
  row("uint8 seed convention, per tensor", w, eigenq::LinearSeed<std::uint8_t>(), eigenq::PerTensor{});
  row("uint8 seed convention, per channel", w, eigenq::LinearSeed<std::uint8_t>(), eigenq::PerChannel{0});
  row("int4 symmetric, per channel", w, Linear<std::int8_t>::symmetric().with_bits(4),
      eigenq::PerChannel{0});
  row("int4 symmetric, groups of 32", w, Linear<std::int8_t>::symmetric().with_bits(4),
      eigenq::PerGroup{1, 32});
  std::printf("\nPer-channel scales follow each row's spread; per-tensor scales waste most\n"
              "codes on the widest rows. The seed convention maps [min, max] exactly onto the\n"
              "codes with a real offset; the inference convention keeps 0.0 exact instead.\n");
  return 0;
}
