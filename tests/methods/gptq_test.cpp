// GPTQ behaviour: better than round to nearest on the layer error for every kind of scheme whose
// rows quantize independently, singular and indefinite Hessians handled without a crash, typed
// errors for bad input. (The comparison with the reference algorithm is gptq_golden_test.cpp.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "eigenq/methods/gptq.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/log.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq_test::calibration_rows;
using eigenq_test::hessian_of;
using eigenq_test::normal;

struct Layer {
  Eigen::MatrixXf w;
  Eigen::MatrixXd h;
};

Layer make_layer(Index out, Index in, Index samples, std::uint32_t seed) {
  return {normal(out, in, seed), hessian_of(calibration_rows(samples, in, seed + 1, {3, 17}, 8.0f))};
}

template <class Q>
void expect_better_than_rtn(const Layer& l, const Q& q, const char* what, double at_most = 0.95) {
  const auto r = eigenq::gptq(l.w, l.h, q);
  const Eigen::MatrixXf w_hat = r.weights.template dequantize<Eigen::MatrixXf>();
  const double e = eigenq::layer_error(l.w, w_hat, l.h);
  const double e_rtn = eigenq::layer_error(l.w, eigenq_test::rtn(q, l.w), l.h);
  std::printf("gptq %-28s layer error %.4g, rtn %.4g (%.1f%%)\n", what, e, e_rtn, 100.0 * e / e_rtn);
  EXPECT_LT(e, at_most * e_rtn) << what;
  EXPECT_EQ(r.weights.shape(), (eigenq::Shape{l.w.rows(), l.w.cols()}));
  EXPECT_EQ(r.weights.granularity(), q.quantize(l.w).granularity());
  EXPECT_NEAR(r.report.layer_error / e, 1.0, 1e-3) << what;
}

TEST(Gptq, BeatsRoundToNearestForEveryRowIndependentScheme) {
  const Layer l = make_layer(48, 256, 512, 1);
  using eigenq::Linear;
  for (int bits : {2, 3, 4, 8}) {
    const std::string b = std::to_string(bits);
    expect_better_than_rtn(l, eigenq::Quantizer(Linear<std::int8_t>::symmetric().with_bits(bits), eigenq::PerGroup{-1, 64}),
                           ("int" + b + "-g64-symmetric").c_str());
    expect_better_than_rtn(l, eigenq::Quantizer(Linear<std::uint8_t>::affine().with_bits(bits), eigenq::PerChannel{0}),
                           ("uint" + b + "-per-channel-affine").c_str());
  }
  expect_better_than_rtn(l, eigenq::Quantizer(Linear<std::int8_t>::symmetric(eigenq::Profile::onnx).with_bits(4),
                                              eigenq::PerGroup{-1, 32}), "int4-g32-onnx");
  expect_better_than_rtn(l, eigenq::Quantizer(Linear<std::uint8_t>::affine(eigenq::Profile::tflite).with_bits(3),
                                              eigenq::PerGroup{1, 128}), "uint3-g128-tflite");
  expect_better_than_rtn(l, eigenq::Quantizer(eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0}),
                         "codebook3-per-channel");
  expect_better_than_rtn(l, eigenq::Quantizer(eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0}),
                         "log-signed4-per-channel");
}

TEST(Gptq, OptionsAllWork) {
  const Layer l = make_layer(32, 200, 300, 2);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 64});
  const double e_rtn = eigenq::layer_error(l.w, eigenq_test::rtn(q, l.w), l.h);
  for (bool act : {false, true}) {
    for (bool stat : {false, true}) {
      if (act && !stat) continue;
      for (Index block : {Index{1}, Index{16}, Index{128}, Index{1000}}) {
        eigenq::GptqOptions o;
        o.act_order = act;
        o.static_groups = stat;
        o.block_size = block;
        o.exact_layer_error = true;
        const auto r = eigenq::gptq(l.w, l.h, q, o);
        EXPECT_TRUE(r.report.layer_error_exact);
        EXPECT_LT(r.report.layer_error, e_rtn);
        EXPECT_EQ(r.report.order.empty(), !act);
      }
    }
  }
  // With parameters fixed before the loop (per channel, or static groups) the block size changes
  // only the order of the floating-point sums (a code may flip where a value sits on a rounding
  // boundary). Dynamic groups are fitted on W as of the start of the block, as the reference
  // does, so there the block size is part of the algorithm.
  eigenq::GptqOptions a;
  a.precision = eigenq::GptqPrecision::f64;
  eigenq::GptqOptions b = a;
  b.block_size = 7;
  const eigenq::Quantizer pc(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  const auto ca = eigenq::gptq(l.w, l.h, pc, a).weights.unpacked_codes();
  const auto cb = eigenq::gptq(l.w, l.h, pc, b).weights.unpacked_codes();
  std::size_t same = 0;
  for (std::size_t i = 0; i < ca.size(); ++i) same += ca[i] == cb[i];
  EXPECT_GE(static_cast<double>(same), 0.999 * static_cast<double>(ca.size()));
}

TEST(Gptq, DeadInputsAndSingularHessians) {
  Eigen::MatrixXf x = calibration_rows(16, 64, 3);  // 16 rows < 64 inputs: H is singular
  x.col(5).setZero();
  x.col(40).setZero();
  const Eigen::MatrixXd h = hessian_of(x);
  const Eigen::MatrixXf w = normal(8, 64, 4);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerGroup{-1, 16});
  const auto r = eigenq::gptq(w, h, q);
  EXPECT_EQ(r.report.dead_inputs, (std::vector<Index>{5, 40}));
  EXPECT_EQ(r.report.damp_retries, 0);
  const Eigen::MatrixXf w_hat = r.weights.dequantize<Eigen::MatrixXf>();
  EXPECT_EQ(w_hat.col(5), Eigen::VectorXf::Zero(8));  // dead inputs are quantized from 0
  EXPECT_LT(eigenq::layer_error(w, w_hat, h), eigenq::layer_error(w, eigenq_test::rtn(q, w), h));

  // All inputs dead: H = 0.
  const auto zero = eigenq::gptq(w, Eigen::MatrixXd::Zero(64, 64), q);
  EXPECT_EQ(zero.report.dead_inputs.size(), 64u);
  EXPECT_EQ(zero.weights.dequantize<Eigen::MatrixXf>(), Eigen::MatrixXf::Zero(8, 64));
  EXPECT_EQ(zero.report.layer_error, 0.0);
}

TEST(Gptq, IndefiniteHessianRaisesTheDampingAndSaysSo) {
  // Positive diagonal, but not positive semi-definite: [[1, 2], [2, 1]] blocks.
  Eigen::MatrixXd h = Eigen::MatrixXd::Identity(32, 32);
  for (Index j = 0; j + 1 < 32; j += 2) h(j, j + 1) = h(j + 1, j) = 2.0;
  const Eigen::MatrixXf w = normal(4, 32, 5);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  const auto r = eigenq::gptq(w, h, q);
  // percdamp 0.01, 0.1, 1 (H + I is singular), 10: positive definite.
  EXPECT_EQ(r.report.damp_retries, 3);
  EXPECT_DOUBLE_EQ(r.report.percdamp, 10.0);
  EXPECT_FALSE(r.report.diagonal_fallback);
  EXPECT_EQ(r.report.warnings.size(), 3u);
  EXPECT_NE(r.report.warnings[0].find("not positive definite"), std::string::npos);

  eigenq::GptqOptions o;
  o.max_damp_retries = 1;
  const auto f = eigenq::gptq(w, h, q, o);
  EXPECT_TRUE(f.report.diagonal_fallback);
  EXPECT_TRUE(f.report.layer_error_exact);
  EXPECT_EQ(f.weights.unpacked_codes(), q.quantize(w).unpacked_codes());  // no feedback: round to nearest
  EXPECT_NE(f.report.warnings.back().find("diagonal"), std::string::npos);
}

TEST(Gptq, FromCalibrationStatistics) {
  const Eigen::MatrixXf x = calibration_rows(200, 32, 6);
  eigenq::CalibrationStatsObserver obs(32);
  obs.observe(x.topRows(77));
  obs.observe(x.bottomRows(123));
  const Eigen::MatrixXf w = normal(8, 32, 7);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerChannel{0});
  const auto a = eigenq::gptq(w, obs.stats(), q);
  const auto b = eigenq::gptq(w, hessian_of(x), q);
  EXPECT_EQ(a.weights.unpacked_codes(), b.weights.unpacked_codes());

  eigenq::CalibrationStatsObserver sums(32, {false});
  sums.observe(x);
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::gptq(w, sums.stats(), q); }, {"gptq", "hessian"});
}

// A block quantizer of its own, shaped like ggml's Q4_0 (blocks of 32 along a row, d = max / -8,
// q = clamp(round(x / d) + 8, 0, 15)): the row-quantizer interface a ggml block type plugs into.
class Q4_0LikeRows {
 public:
  using result_type = Eigen::MatrixXf;  // the dequantized weight (a real block type: its bytes)
  Q4_0LikeRows(Index rows, Index cols) : d_(rows, (cols + 31) / 32), fitted_((cols + 31) / 32, false), out_(rows, cols) {}
  Index rows() const { return out_.rows(); }
  Index cols() const { return out_.cols(); }
  Index group_size() const { return 32; }
  bool fitted(Index g) const { return fitted_[static_cast<std::size_t>(g)]; }
  void fit_group(Index g, const Eigen::Ref<const Eigen::MatrixXf>& columns) {
    for (Index r = 0; r < columns.rows(); ++r) {
      float max = 0.0f;
      for (Index c = 0; c < columns.cols(); ++c) {
        if (std::fabs(columns(r, c)) > std::fabs(max)) max = columns(r, c);
      }
      d_(r, g) = max / -8.0f;
    }
    fitted_[static_cast<std::size_t>(g)] = true;
  }
  void quantize_column(Index col, const float* values, float* dequantized) {
    for (Index r = 0; r < rows(); ++r) {
      const float d = d_(r, col / 32);
      const float q = d == 0.0f ? 8.0f : std::min(15.0f, std::max(0.0f, std::nearbyint(values[r] / d) + 8.0f));
      dequantized[r] = out_(r, col) = (q - 8.0f) * d;
    }
  }
  result_type result() const { return out_; }

 private:
  Eigen::MatrixXf d_;
  std::vector<bool> fitted_;
  Eigen::MatrixXf out_;
};

TEST(Gptq, AnyRowQuantizerPlugsIn) {
  const Layer l = make_layer(16, 128, 256, 9);
  const auto r = eigenq::gptq_rows(l.w, l.h, Q4_0LikeRows(16, 128));
  Q4_0LikeRows rtn(16, 128);
  std::vector<float> column(16), out(16);
  for (Index g = 0; g < 4; ++g) rtn.fit_group(g, l.w.middleCols(32 * g, 32));
  for (Index c = 0; c < 128; ++c) {
    for (Index i = 0; i < 16; ++i) column[static_cast<std::size_t>(i)] = l.w(i, c);
    rtn.quantize_column(c, column.data(), out.data());
  }
  const double e = eigenq::layer_error(l.w, r.weights, l.h);
  const double e_rtn = eigenq::layer_error(l.w, rtn.result(), l.h);
  std::printf("gptq %-28s layer error %.4g, rtn %.4g (%.1f%%)\n", "q4_0-like blocks", e, e_rtn, 100.0 * e / e_rtn);
  EXPECT_LT(e, 0.8 * e_rtn);
}

TEST(Gptq, BadInput) {
  const Eigen::MatrixXf w = normal(4, 16, 8);
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(16, 16);
  const eigenq::Quantizer q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 8});
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::gptq(w, Eigen::MatrixXd::Identity(15, 15), q); },
                                                {"Hessian", "[15, 15]", "[16, 16]"});
  Eigen::MatrixXd bad = h;
  bad(3, 4) = std::nan("");
  eigenq_test::expect_error<eigenq::NonFiniteError>([&] { eigenq::gptq(w, bad, q); }, {"Hessian"});
  bad = h;
  bad(2, 2) = -1.0;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::gptq(w, bad, q); }, {"diagonal", "[2]"});
  Eigen::MatrixXf wn = w;
  wn(1, 1) = INFINITY;
  eigenq_test::expect_error<eigenq::NonFiniteError>([&] { eigenq::gptq(wn, h, q); }, {"weight"});
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::gptq(w, h, eigenq::Quantizer(eigenq::Linear<std::int8_t>::symmetric())); }, {"rows quantize independently"});
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::gptq(w, h, eigenq::Quantizer(eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{1})); },
      {"rows quantize independently"});
  eigenq::GptqOptions o;
  o.act_order = true;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::gptq(w, h, q, o); }, {"static_groups"});
  o = {};
  o.block_size = 0;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::gptq(w, h, q, o); }, {"block_size"});
}

}  // namespace
