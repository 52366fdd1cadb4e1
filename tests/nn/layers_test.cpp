// Float and quantized Linear layers: each against an independent reference.
#include "eigenq/nn/channel_mixed_linear.hpp"
#include "eigenq/nn/dynamic_linear.hpp"
#include "eigenq/nn/grouped_linear.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/sequential.hpp"
#include "eigenq/nn/static_linear.hpp"
#include "eigenq/nn/weight_only_linear.hpp"
#include "eigenq/kernels/gemv_lut4.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/log.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/nn_models.hpp"
#include "support/scoped_thread_pool.hpp"
#include "support/random_data.hpp"

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;

// Weights N(0, 0.2); inputs N(shift, 1), row-major.
Eigen::MatrixXf random_weight(Index out, Index in, unsigned seed) {
  return eigenq_test::normal_matrix(out, in, seed, 0.0f, 0.2f);
}

Matrix random_input(Index batch, Index in, unsigned seed, float shift = 0.0f) {
  return eigenq_test::normal_matrix<Matrix>(batch, in, seed, shift);
}

TEST(FloatLayers, LinearReluSequential) {
  const Eigen::MatrixXf w = random_weight(5, 7, 1);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(5, -1.0f, 1.0f);
  const Matrix x = random_input(3, 7, 2);
  eigenq::nn::Sequential model;
  model.add(eigenq::nn::FloatLinear(w, b)).add(eigenq::nn::ReLU());
  const Matrix y = model(x);
  for (Index r = 0; r < 3; ++r)
    for (Index n = 0; n < 5; ++n) {
      double acc = b[n];
      for (Index k = 0; k < 7; ++k) acc += double(x(r, k)) * w(n, k);
      EXPECT_NEAR(y(r, n), std::max(acc, 0.0), 1e-5);
    }
  EXPECT_EQ(model.weight_count(), 35);
  const eigenq::nn::Sequential copy = model;  // deep copy
  EXPECT_EQ(copy(x), y);
  EXPECT_THROW(model(random_input(3, 6, 3)), eigenq::ShapeError);
  EXPECT_THROW(eigenq::nn::FloatLinear(w, Eigen::VectorXf::Zero(4)), eigenq::ShapeError);
  EXPECT_THROW(model.at(2), eigenq::InvalidArgument);
}

// The dynamic layer computes exactly dequant(quant(x)) . dequant(W)^T + b.
Matrix dynamic_reference(const eigenq::nn::DynamicLinear& layer, const Matrix& x, bool per_row) {
  const Eigen::MatrixXf w_hat = eigenq::dequantize(layer.weight());
  Matrix x_hat(x.rows(), x.cols());
  const eigenq::CodeRange range = layer.activation_range();
  for (Index r = 0; r < x.rows(); ++r) {
    const float lo = per_row ? x.row(r).minCoeff() : x.minCoeff();
    const float hi = per_row ? x.row(r).maxCoeff() : x.maxCoeff();
    const auto p = layer.activation_params(lo, hi);
    for (Index k = 0; k < x.cols(); ++k) {
      const float q = std::nearbyint(x(r, k) * (1.0f / p.scale)) + float(p.zero_point);
      const float c = std::min(std::max(q, float(range.qmin)), float(range.qmax));
      x_hat(r, k) = (c - float(p.zero_point)) * p.scale;
    }
  }
  Matrix y = (x_hat.cast<double>() * w_hat.cast<double>().transpose()).cast<float>();
  y.rowwise() += layer.bias().transpose();
  return y;
}

TEST(DynamicLinear, EqualsItsDocumentedSemantics) {
  const Eigen::MatrixXf w = random_weight(33, 70, 4);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(33, -0.5f, 0.5f);
  for (bool per_row : {false, true}) {
    for (bool is_signed : {false, true}) {
      for (bool rr : {false, true}) {
        for (bool per_channel : {true, false}) {
          eigenq::nn::DynamicLinearOptions o;
          o.activations = per_row ? eigenq::nn::ActivationGranularity::per_row
                                  : eigenq::nn::ActivationGranularity::per_tensor;
          o.signed_activations = is_signed;
          o.reduce_range = rr;
          o.per_channel_weights = per_channel;
          if (!per_channel) o.weight_policy = eigenq::Linear<std::int8_t>::affine();
          const eigenq::nn::DynamicLinear layer(w, b, o);
          const Matrix x = random_input(9, 70, 5, 0.3f);
          const Matrix y = layer(x);
          const Matrix ref = dynamic_reference(layer, x, per_row);
          EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 2e-5f * (1.0f + ref.cwiseAbs().maxCoeff()))
              << "per_row " << per_row << " signed " << is_signed << " rr " << rr;
        }
      }
    }
  }
}

// Layers large enough to share (over 2^22 multiply-adds a thread) give the same output on 1, 2
// and 3 threads of a 3-thread pool, whatever the machine's cores.
TEST(Layers, ThreadsDoNotChangeTheOutput) {
  eigenq_test::ScopedThreadPool pool(3);
  const Eigen::MatrixXf w = random_weight(768, 512, 21);
  const Eigen::VectorXf b = Eigen::VectorXf::Constant(768, 0.125f);
  const Matrix x = random_input(64, 512, 22);  // 25M multiply-adds
  Matrix dynamic_one;
  Matrix grouped_one;
  for (int threads : {1, 2, 3}) {
    eigenq::nn::DynamicLinearOptions d;
    d.threads = threads;
    const Matrix yd = eigenq::nn::DynamicLinear(w, b, d)(x);
    eigenq::nn::GroupedLinearOptions g;
    g.threads = threads;
    const Matrix yg = eigenq::nn::GroupedLinear(w, b, g)(random_input(40, 512, 24));  // 15.7M
    if (threads == 1) {
      dynamic_one = yd;
      grouped_one = yg;
      continue;
    }
    EXPECT_EQ(yd, dynamic_one) << threads << " threads";
    EXPECT_EQ(yg, grouped_one) << threads << " threads";
  }
}

TEST(DynamicLinear, CloseToFloatAndIndependentOfThreadsAndIsa) {
  const Eigen::MatrixXf w = random_weight(130, 256, 6);
  const Eigen::VectorXf b = Eigen::VectorXf::Zero(130);
  const eigenq::nn::FloatLinear fl(w, b);
  const Matrix x = random_input(17, 256, 7);
  const eigenq::nn::DynamicLinear one(fl);
  eigenq::nn::DynamicLinearOptions three;
  three.threads = 3;
  const eigenq::nn::DynamicLinear many(fl, three);
  const Matrix y = one(x);
  EXPECT_EQ(y, many(x));
  const Matrix yf = fl(x);
  const double sqnr = 10 * std::log10(yf.squaredNorm() / (y - yf).squaredNorm());
  EXPECT_GT(sqnr, 30.0) << "int8 dynamic should be within ~1% of float";
  for (auto isa : {eigenq::kernels::Isa::scalar, eigenq::kernels::Isa::avx2,
                   eigenq::kernels::Isa::avx512, eigenq::kernels::Isa::avx512vnni,
                   eigenq::kernels::Isa::neon_dotprod}) {
    if (!eigenq::kernels::supported(isa)) continue;
    eigenq::kernels::ScopedIsa scoped(isa);
    EXPECT_EQ(one(x), y) << eigenq::kernels::to_string(isa);
  }
}

TEST(DynamicLinear, BadInputs) {
  const eigenq::nn::DynamicLinear layer(random_weight(4, 8, 8), Eigen::VectorXf::Zero(4));
  EXPECT_THROW(layer(random_input(2, 9, 9)), eigenq::ShapeError);
  Matrix x = random_input(2, 8, 10);
  x(1, 3) = std::numeric_limits<float>::quiet_NaN();
  try {
    layer(x);
    FAIL();
  } catch (const eigenq::NonFiniteError& e) {
    EXPECT_NE(std::string(e.what()).find("(0, 11)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eigenq::nn::DynamicLinear(random_weight(4, 8, 8), Eigen::VectorXf::Zero(3)),
               eigenq::ShapeError);
  EXPECT_EQ(layer(Matrix(0, 8)).rows(), 0);
}

// TFLite's integer Linear, written out independently: int64 sums, then the
// double-rounding fixed-point multiply.
std::int32_t tflite_requantize(std::int64_t acc, double real_multiplier, std::int32_t zp, std::int32_t lo) {
  int shift = 0;
  const double frac = std::frexp(real_multiplier, &shift);
  auto m = static_cast<std::int64_t>(std::round(frac * (1ll << 31)));
  if (m == (1ll << 31)) {
    m /= 2;
    ++shift;
  }
  std::int64_t x = acc;
  if (shift > 0) x *= (1ll << shift);
  // SaturatingRoundingDoublingHighMul
  const std::int64_t ab = x * m;
  const std::int64_t nudge = ab >= 0 ? (1ll << 30) : (1 - (1ll << 30));
  std::int64_t high = (ab + nudge) / (1ll << 31);
  if (shift < 0) {
    const int e = -shift;
    const std::int64_t mask = (1ll << e) - 1;
    const std::int64_t rem = high & mask;
    const std::int64_t threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    high = (high >> e) + (rem > threshold ? 1 : 0);
  }
  return static_cast<std::int32_t>(std::min<std::int64_t>(std::max<std::int64_t>(high + zp, lo), 127));
}

TEST(StaticLinear, IntegerResultsEqualTfliteArithmetic) {
  const Eigen::MatrixXf w = random_weight(21, 45, 11);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(21, -0.3f, 0.3f);
  const eigenq::LinearParams in{0.02f, -5};
  const eigenq::LinearParams out{0.05f, 10};
  for (bool relu : {false, true}) {
    const eigenq::nn::StaticLinear layer(w, b, in, out, relu);
    const Matrix x = random_input(6, 45, 12);
    const eigenq::nn::QActivations qx = layer.quantize_input(x);
    const eigenq::nn::QActivations qy = layer.forward_integer(qx);
    const auto codes = layer.weight().unpacked_codes();
    for (Index r = 0; r < 6; ++r) {
      for (Index n = 0; n < 21; ++n) {
        std::int64_t acc = layer.bias()[static_cast<std::size_t>(n)];
        for (Index k = 0; k < 45; ++k) {
          acc += (std::int64_t{qx.codes(r, k)} - in.zero_point) * codes[static_cast<std::size_t>(n * 45 + k)];
        }
        const double real = double(in.scale) * layer.weight().params()[static_cast<std::size_t>(n)].scale / out.scale;
        const std::int32_t expected = tflite_requantize(acc, real, out.zero_point, relu ? out.zero_point : -128);
        ASSERT_EQ(qy.codes(r, n), expected) << "relu " << relu << " (" << r << ", " << n << ")";
      }
    }
    // And the float view is close to the float layer.
    Matrix ref = x * w.transpose();
    ref.rowwise() += b.transpose();
    if (relu) ref = ref.cwiseMax(0.0f);
    const Matrix y = layer(x);
    EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 0.2f);  // a few output steps
  }
}

TEST(StaticLinear, ChainStaysInIntegers) {
  const eigenq::LinearParams a{0.03f, 0}, m{0.05f, -20}, z{0.1f, 3};
  eigenq::nn::Sequential model;
  model.add(eigenq::nn::StaticLinear(random_weight(16, 8, 13), Eigen::VectorXf::Zero(16), a, m, true));
  model.add(eigenq::nn::StaticLinear(random_weight(4, 16, 14), Eigen::VectorXf::Zero(4), m, z, false));
  ASSERT_TRUE(model.integer_io());
  const Matrix x = random_input(5, 8, 15);
  const auto q = model.forward_integer(model.quantize_input(x));
  EXPECT_EQ(q.scale, z.scale);
  EXPECT_EQ(model(x), q.dequantize());
  // Mismatched input parameters are refused.
  eigenq::nn::QActivations wrong = model.quantize_input(x);
  wrong.scale *= 2;
  EXPECT_THROW(model.forward_integer(wrong), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::nn::StaticLinear(random_weight(4, 8, 1), Eigen::VectorXf::Zero(4), {0.0f, 0}, z, false),
               eigenq::InvalidArgument);
  Eigen::VectorXf nan_bias = Eigen::VectorXf::Zero(4);
  nan_bias[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(eigenq::nn::StaticLinear(random_weight(4, 8, 1), nan_bias, a, z, false), eigenq::NonFiniteError);
}

TEST(GroupedLinear, MatchesDequantizedWeights) {
  for (Index g : {32, 128}) {
    const Eigen::MatrixXf w = random_weight(40, 300, 16);  // 300: a partial last group
    const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(40, 0.0f, 1.0f);
    eigenq::nn::GroupedLinearOptions o;
    o.group_size = g;
    const eigenq::nn::GroupedLinear layer(w, b, o);
    const Eigen::MatrixXf w_hat = eigenq::dequantize(layer.weight());
    for (Index batch : {1, 3, 4, 9}) {
      const Matrix x = random_input(batch, 300, 17);
      Matrix ref = x * w_hat.transpose();
      ref.rowwise() += b.transpose();
      const Matrix y = layer(x);
      // Activations are quantized to int8 per group: error about 1% of the output scale.
      EXPECT_LE((y - ref).cwiseAbs().maxCoeff(), 0.02f * ref.cwiseAbs().maxCoeff()) << "G " << g;
    }
    // Codes two a byte, one f16 scale a group, f32 biases.
    EXPECT_EQ(layer.weight_bytes(), (40u * 300u) / 2u + 40u * ((300u + g - 1) / g) * 2u + 40u * 4u);
    for (const auto& p : layer.weight().params()) {
      EXPECT_EQ(p.scale, eigenq::kernels::half_bits_to_float(eigenq::kernels::float_to_half_bits(p.scale)));
    }
  }
  eigenq::nn::GroupedLinearOptions bad;
  bad.group_size = 64;
  EXPECT_THROW(eigenq::nn::GroupedLinear(random_weight(4, 64, 1), Eigen::VectorXf::Zero(4), bad),
               eigenq::InvalidArgument);
}

eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel> int3_per_channel_quantizer() {
  return eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>(
      eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0});
}

// ---- WeightOnlyLinear: codes with at most 16 values run on gemv_lut4 ------------------------

// The layer's output is gemv_lut4's on its packed weights, bit for bit, and within the kernel's
// error bound of the float product with the decoded weights: per output, the int8 table (each
// weight within lmax / 254 of its level, lmax = the table's largest level) and the int8
// activations (each input within amax / 254, amax = its group's largest input) give
//   |y - x W_hat^T - b| <= sum_k (|w_k| amax / 254 + lmax / 254 |x_k| + lmax amax / 254^2).
template <class Policy, class G>
void check_weight_only_kernel(const eigenq::Quantizer<Policy, G>& quantizer, Index act_group, Index table_group,
                              const char* what) {
  SCOPED_TRACE(what);
  const Index n = 70, k = 200;  // a partial panel and a partial group
  const Eigen::MatrixXf w = random_weight(n, k, 31);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(n, -0.5f, 0.5f);
  const eigenq::nn::WeightOnlyLinear<Policy> layer(eigenq::nn::FloatLinear(w, b), quantizer, what);
  ASSERT_TRUE(layer.uses_kernel());
  EXPECT_EQ(layer.packed().group_size(), act_group);
  EXPECT_EQ(layer.packed().table_group(), table_group == 0 ? layer.packed().padded_depth() : table_group);
  const Eigen::MatrixXf w_hat = layer.dequantized_weight();
  // No float copy of the weights: the QTensor's codes and parameters, the packed codes (half a
  // byte a weight, padded to 16 channels and G inputs) and tables, the bias.
  EXPECT_EQ(layer.resident_bytes(),
            layer.weight().storage_bytes() + layer.packed().bytes() + sizeof(float) * static_cast<std::size_t>(n));
  EXPECT_LT(layer.resident_bytes(), static_cast<std::size_t>(4 * n * k));
  double worst = 0.0;
  for (Index batch : {1, 3, 4, 9}) {
    const Matrix x = random_input(batch, k, 32);
    const Matrix y = layer(x);
    Matrix y_kernel(batch, n);
    eigenq::kernels::gemv_lut4(x.data(), batch, k, layer.packed(), b.data(), y_kernel.data(), n);
    ASSERT_EQ(y, y_kernel);
    for (Index r = 0; r < batch; ++r) {
      for (Index c = 0; c < n; ++c) {
        const Index tg = table_group == 0 ? k : table_group;
        double exact = b[c], bound = 0.0;
        for (Index k0 = 0; k0 < k; k0 += act_group) {
          double amax = 0.0;
          for (Index i = k0; i < std::min(k, k0 + act_group); ++i) amax = std::max(amax, std::fabs(double(x(r, i))));
          for (Index i = k0; i < std::min(k, k0 + act_group); ++i) {
            double lmax = 0.0;
            const Index t = i / tg;
            for (int code = 0; code < 16; ++code) {
              lmax = std::max(lmax, std::fabs(double(layer.packed().scale(c, t)) * layer.packed().table(c, t, code)));
            }
            exact += double(w_hat(c, i)) * x(r, i);
            bound += std::fabs(double(w_hat(c, i))) * amax / 254 + lmax / 254 * std::fabs(double(x(r, i))) +
                     lmax * amax / (254.0 * 254.0);
          }
        }
        ASSERT_NEAR(y(r, c), exact, bound * 1.001 + 1e-5) << r << "," << c;
        worst = std::max(worst, std::fabs(y(r, c) - exact) / bound);
      }
    }
    Matrix ref = x * w_hat.transpose();
    ref.rowwise() += b.transpose();
    EXPECT_LE(eigenq_test::relative_error(y, ref), 0.02) << "batch " << batch;
  }
  EXPECT_LE(worst, 1.0);
}

TEST(WeightOnlyLinear, FourBitCodesRunOnTheTableLookupKernel) {
  using Book = eigenq::Codebook<std::uint8_t>;
  using LogS = eigenq::LogSigned<std::int8_t>;
  using Lin = eigenq::Linear<std::int8_t>;
  check_weight_only_kernel(eigenq::Quantizer<Book, eigenq::PerChannel>(Book().with_bits(4), eigenq::PerChannel{0}), 32,
                           0, "codebook 4-bit per channel");
  check_weight_only_kernel(eigenq::Quantizer<Book, eigenq::PerTensor>(Book().with_bits(3), eigenq::PerTensor{}), 32, 0,
                           "codebook 3-bit per tensor");
  check_weight_only_kernel(eigenq::Quantizer<Book, eigenq::PerGroup>(Book::nf4(), eigenq::PerGroup{1, 64}), 64, 64,
                           "nf4 in groups of 64");
  check_weight_only_kernel(eigenq::Quantizer<LogS, eigenq::PerChannel>(LogS().with_bits(4), eigenq::PerChannel{0}), 32,
                           0, "log-signed 4-bit per channel");
  check_weight_only_kernel(int3_per_channel_quantizer(), 32, 0, "int3 per channel");
  check_weight_only_kernel(eigenq::Quantizer<Lin, eigenq::PerGroup>(Lin::symmetric().with_bits(2), eigenq::PerGroup{1, 256}),
                           128, 256, "int2 in groups of 256");
}

TEST(WeightOnlyLinear, OtherCodesComputeInFloat) {
  using Lin = eigenq::Linear<std::int8_t>;
  const Eigen::MatrixXf w = random_weight(20, 48, 33);
  const Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(20, -0.5f, 0.5f);
  const Matrix x = random_input(3, 48, 34);
  // 8-bit codes; 4-bit codes in groups of 16 (not a multiple of 32).
  const eigenq::nn::WeightOnlyLinear<Lin> int8(eigenq::nn::FloatLinear(w, b),
                                               eigenq::Quantizer<Lin, eigenq::PerChannel>(Lin::symmetric(), eigenq::PerChannel{0}), "int8");
  const eigenq::nn::WeightOnlyLinear<Lin> g16(
      eigenq::nn::FloatLinear(w, b),
      eigenq::Quantizer<Lin, eigenq::PerGroup>(Lin::symmetric().with_bits(4), eigenq::PerGroup{1, 16}), "g16");
  for (const auto* layer : {&int8, &g16}) {
    EXPECT_FALSE(layer->uses_kernel());
    Matrix ref = x * layer->dequantized_weight().transpose();
    ref.rowwise() += b.transpose();
    EXPECT_EQ((*layer)(x), ref);
    EXPECT_GE(layer->resident_bytes(), 20u * 48u * 4u);  // the decoded floats
  }
}

TEST(WeightOnlyLinear, ThreadsDoNotChangeTheKernelOutput) {
  eigenq_test::ScopedThreadPool pool(3);
  using Book = eigenq::Codebook<std::uint8_t>;
  const Eigen::MatrixXf w = random_weight(1500, 1024, 35);
  eigenq::nn::WeightOnlyLinear<Book> layer(
      eigenq::nn::FloatLinear(w, Eigen::VectorXf::Zero(1500)),
      eigenq::Quantizer<Book, eigenq::PerGroup>(Book::nf4(), eigenq::PerGroup{1, 64}), "nf4");
  ASSERT_TRUE(layer.uses_kernel());
  const Matrix x = random_input(4, 1024, 36);  // 6.1M multiply-adds: three threads' work
  const Matrix y1 = layer(x);
  for (int threads : {2, 3}) {
    layer.set_threads(threads);
    EXPECT_EQ(layer(x), y1) << threads << " threads";
  }
  EXPECT_THROW(layer.set_threads(0), eigenq::InvalidArgument);
}

// ---- ChannelMixedLinear: output channels computed by different quantized parts --------------

using eigenq::nn::ChannelMixedLinear;
using eigenq::nn::Module;
using Int3 = eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>;

Int3 int3_per_channel() { return Int3(eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0}); }

// Rows `rows` of (w, b), in order, as a float Linear.
eigenq::nn::FloatLinear rows_of(const Eigen::MatrixXf& w, const Eigen::VectorXf& b, const std::vector<Index>& rows) {
  Eigen::MatrixXf wr(static_cast<Index>(rows.size()), w.cols());
  Eigen::VectorXf br(static_cast<Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    wr.row(static_cast<Index>(i)) = w.row(rows[i]);
    br(static_cast<Index>(i)) = b(rows[i]);
  }
  return eigenq::nn::FloatLinear(wr, br);
}

// 7 output channels, 40 inputs (a partial group of 8 for the grouped part):
//   part 0 DynamicLinear      channel 1
//   part 1 GroupedLinear      channels 0, 3, 6
//   part 2 WeightOnlyLinear   channels 2, 5 (3-bit per channel)
//   part 3 float Linear       channel 4
struct MixedLayer {
  Eigen::MatrixXf w = random_weight(7, 40, 21);
  Eigen::VectorXf b = Eigen::VectorXf::LinSpaced(7, -0.5f, 0.5f);
  std::vector<std::uint8_t> row_part = {1, 0, 2, 1, 3, 2, 1};
  std::vector<std::vector<Index>> rows = {{1}, {0, 3, 6}, {2, 5}, {4}};

  std::vector<std::unique_ptr<Module>> parts() const {
    std::vector<std::unique_ptr<Module>> p;
    p.push_back(std::make_unique<eigenq::nn::DynamicLinear>(rows_of(w, b, rows[0])));
    p.push_back(std::make_unique<eigenq::nn::GroupedLinear>(rows_of(w, b, rows[1])));
    p.push_back(std::make_unique<eigenq::nn::WeightOnlyLinear<eigenq::Linear<std::int8_t>>>(rows_of(w, b, rows[2]),
                                                                                              int3_per_channel(), "int3"));
    p.push_back(std::make_unique<eigenq::nn::FloatLinear>(rows_of(w, b, rows[3])));
    return p;
  }
  ChannelMixedLinear layer() const { return ChannelMixedLinear(parts(), row_part); }
};

// Relative Frobenius distance.

TEST(ChannelMixedLinear, ScattersEachPartToItsChannels) {
  const MixedLayer f;
  const ChannelMixedLinear layer = f.layer();
  EXPECT_EQ(layer.kind(), "ChannelMixedLinear");
  EXPECT_EQ(layer.in_features(), 40);
  EXPECT_EQ(layer.out_features(), 7);
  ASSERT_EQ(layer.part_count(), 4u);
  EXPECT_EQ(layer.row_part(), f.row_part);
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(layer.part_rows(k), f.rows[k]) << k;
  EXPECT_EQ(layer.part(0).kind(), "DynamicLinear");
  EXPECT_EQ(layer.part(1).kind(), "GroupedLinear");
  EXPECT_EQ(layer.part(2).kind(), "WeightOnlyLinear");
  EXPECT_EQ(layer.part(3).kind(), "Linear");
  // The 3-bit weight-only part runs on the table-lookup kernel, without a float copy.
  EXPECT_TRUE(dynamic_cast<const eigenq::nn::WeightOnlyLinear<eigenq::Linear<std::int8_t>>&>(layer.part(2)).uses_kernel());

  // The assembled weight: row r is row c of part k, where r is the c-th channel of part k;
  // each part quantizes rows independently, so those are the rows of the same layer kind
  // built on the whole weight.
  const Eigen::MatrixXf w_hat = layer.dequantized_weight();
  ASSERT_EQ(w_hat.rows(), 7);
  ASSERT_EQ(w_hat.cols(), 40);
  const eigenq::nn::FloatLinear full(f.w, f.b);
  const Eigen::MatrixXf whole[] = {
      eigenq::nn::DynamicLinear(full).dequantized_weight(), eigenq::nn::GroupedLinear(full).dequantized_weight(),
      eigenq::nn::WeightOnlyLinear<eigenq::Linear<std::int8_t>>(full, int3_per_channel(), "int3").dequantized_weight(),
      f.w};
  for (std::size_t k = 0; k < 4; ++k) {
    const Eigen::MatrixXf wk = layer.part(k).dequantized_weight();
    for (std::size_t c = 0; c < f.rows[k].size(); ++c) {
      EXPECT_EQ(w_hat.row(f.rows[k][c]), wk.row(static_cast<Index>(c))) << "part " << k;
      EXPECT_EQ(w_hat.row(f.rows[k][c]), whole[k].row(f.rows[k][c])) << "part " << k;
    }
  }

  for (Index batch : {1, 2, 5}) {
    const Matrix x = random_input(batch, 40, 22);
    const Matrix y = layer(x);
    ASSERT_EQ(y.rows(), batch);
    ASSERT_EQ(y.cols(), 7);
    // Every output channel is its part's output, exactly (the same computation).
    for (std::size_t k = 0; k < 4; ++k) {
      const Matrix yk = layer.part(k).forward(x);
      for (std::size_t c = 0; c < f.rows[k].size(); ++c) {
        EXPECT_EQ(y.col(f.rows[k][c]), yk.col(static_cast<Index>(c))) << "part " << k << " batch " << batch;
      }
    }
    // x W_hat^T + b: exact up to float rounding for the float part; the dynamic, grouped and
    // weight-only parts (the last on the table-lookup kernel, with int8 tables) quantize the
    // activations to int8: within a few percent of the output's scale.
    Matrix ref = x * w_hat.transpose();
    ref.rowwise() += f.b.transpose();
    EXPECT_LE(eigenq_test::relative_error(y.col(4), ref.col(4)), 1e-5);
    const float scale = ref.cwiseAbs().maxCoeff();
    for (Index r : {0, 1, 2, 3, 5, 6}) {
      EXPECT_LE((y.col(r) - ref.col(r)).cwiseAbs().maxCoeff(), 0.03f * scale) << "channel " << r;
    }
  }
  // An empty batch gives an empty output.
  const Matrix none = layer(Matrix(0, 40));
  EXPECT_EQ(none.rows(), 0);
  EXPECT_EQ(none.cols(), 7);
  // Parts that all compute in float (8-bit codes: WeightOnlyLinear's float path): the whole
  // layer is x W_hat^T + b.
  std::vector<std::unique_ptr<Module>> float_parts;
  float_parts.push_back(std::make_unique<eigenq::nn::WeightOnlyLinear<eigenq::Linear<std::int8_t>>>(
      rows_of(f.w, f.b, {0, 2, 3}), Int3(eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0}), "int8"));
  float_parts.push_back(std::make_unique<eigenq::nn::FloatLinear>(rows_of(f.w, f.b, {1, 4, 5, 6})));
  const ChannelMixedLinear wo(std::move(float_parts), {0, 1, 0, 0, 1, 1, 1});
  const Matrix x = random_input(4, 40, 23);
  Matrix ref = x * wo.dequantized_weight().transpose();
  ref.rowwise() += f.b.transpose();
  EXPECT_LE(eigenq_test::relative_error(wo(x), ref), 1e-5);
}

TEST(ChannelMixedLinear, StorageIsThePartsPlusAByteAChannel) {
  const MixedLayer f;
  const ChannelMixedLinear layer = f.layer();
  std::size_t parts = 0;
  for (std::size_t k = 0; k < layer.part_count(); ++k) parts += layer.part(k).weight_bytes();
  EXPECT_EQ(layer.weight_bytes(), parts + 7);
  // The parts, in closed form: int8 codes + a float scale (symmetric: no zero point) + a float
  // bias (dynamic, 1 channel); nibbles + one f16 scale per group of 32 (2 groups of 40 inputs)
  // + bias (grouped, 3 channels); float weights and bias (float, 1 channel).
  EXPECT_EQ(layer.part(0).weight_bytes(), 40u + 4u + 4u);
  EXPECT_EQ(layer.part(1).weight_bytes(), 3u * 20u + 3u * 2u * 2u + 3u * 4u);
  EXPECT_EQ(layer.part(3).weight_bytes(), 4u * 40u + 4u);
  EXPECT_EQ(layer.weight_count(), 7 * 40);
}

TEST(ChannelMixedLinear, CloneAndCopiesAreDeep) {
  const MixedLayer f;
  const Matrix x = random_input(3, 40, 24);
  std::unique_ptr<Module> clone;
  ChannelMixedLinear copy = MixedLayer().layer();
  Matrix y;
  Eigen::MatrixXf w_hat;
  std::size_t bytes = 0;
  {
    const ChannelMixedLinear original = f.layer();
    y = original(x);
    w_hat = original.dequantized_weight();
    bytes = original.weight_bytes();
    clone = original.clone();
    const auto& c = dynamic_cast<const ChannelMixedLinear&>(*clone);
    for (std::size_t k = 0; k < original.part_count(); ++k) EXPECT_NE(&c.part(k), &original.part(k));
    // Assignment over a layer of another layout.
    std::vector<std::unique_ptr<Module>> one;
    one.push_back(std::make_unique<eigenq::nn::FloatLinear>(rows_of(f.w, f.b, {0, 1})));
    copy = ChannelMixedLinear(std::move(one), {0, 0});
    EXPECT_EQ(copy.out_features(), 2);
    copy = original;
    EXPECT_NE(&copy.part(0), &original.part(0));
  }  // the original and its parts are gone
  EXPECT_EQ(clone->kind(), "ChannelMixedLinear");
  EXPECT_EQ((*clone)(x), y);
  EXPECT_EQ(clone->dequantized_weight(), w_hat);
  EXPECT_EQ(clone->weight_bytes(), bytes);
  EXPECT_EQ(copy(x), y);
  EXPECT_EQ(copy.row_part(), f.row_part);
  EXPECT_EQ(copy.part_rows(1), f.rows[1]);
  const ChannelMixedLinear moved = std::move(copy);
  EXPECT_EQ(moved(x), y);
}

// The message of the ShapeError `f` throws (empty if it throws nothing or something else).
template <class F>
std::string shape_error(F&& f) {
  try {
    f();
  } catch (const eigenq::ShapeError& e) {
    return e.what();
  } catch (...) {
    return "(another exception)";
  }
  return "(no exception)";
}

TEST(ChannelMixedLinear, BadPartsAndInputs) {
  const MixedLayer f;
  auto has = [](const std::string& message, const std::string& part) {
    return message.find(part) != std::string::npos;
  };
  // A channel of a part that does not exist.
  std::string m = shape_error([&] { ChannelMixedLinear(f.parts(), {1, 0, 2, 1, 4, 2, 1}); });
  EXPECT_TRUE(has(m, "output channel 4 belongs to part 4 of 4")) << m;
  // A part without channels (a fifth part no channel names).
  {
    auto parts = f.parts();
    parts.push_back(std::make_unique<eigenq::nn::FloatLinear>(rows_of(f.w, f.b, {4})));
    m = shape_error([&] { ChannelMixedLinear(std::move(parts), f.row_part); });
    EXPECT_TRUE(has(m, "part 4 computes no output channel")) << m;
  }
  // A part with another number of channels than assigned (channel 6 moved from part 1 to 2).
  m = shape_error([&] { ChannelMixedLinear(f.parts(), {1, 0, 2, 1, 3, 2, 2}); });
  EXPECT_TRUE(has(m, "part 1 (GroupedLinear) has 3 output channels, but 2")) << m;
  // Fewer or more channels in the map than the parts compute.
  m = shape_error([&] { ChannelMixedLinear(f.parts(), {1, 0, 2, 1, 3, 2}); });
  EXPECT_TRUE(has(m, "output channels, but")) << m;
  // Parts with different input widths.
  {
    auto parts = f.parts();
    parts[3] = std::make_unique<eigenq::nn::FloatLinear>(random_weight(1, 39, 5), Eigen::VectorXf::Zero(1));
    m = shape_error([&] { ChannelMixedLinear(std::move(parts), f.row_part); });
    EXPECT_TRUE(has(m, "part 3 has 39 input features, part 0 has 40")) << m;
  }
  // No parts, a null part, more than 256 parts.
  m = shape_error([] { ChannelMixedLinear({}, {}); });
  EXPECT_TRUE(has(m, "no parts")) << m;
  {
    auto parts = f.parts();
    parts[2].reset();
    m = shape_error([&] { ChannelMixedLinear(std::move(parts), f.row_part); });
    EXPECT_TRUE(has(m, "part 2 is empty")) << m;
  }
  {
    std::vector<std::unique_ptr<Module>> parts;
    for (int k = 0; k < 257; ++k) parts.push_back(std::make_unique<eigenq::nn::FloatLinear>(4, 1));
    m = shape_error([&] { ChannelMixedLinear(std::move(parts), std::vector<std::uint8_t>(257, 0)); });
    EXPECT_TRUE(has(m, "257 parts (at most 256)")) << m;
  }
  // 256 parts, one channel each: every value of the byte map is used.
  {
    std::vector<std::unique_ptr<Module>> parts;
    std::vector<std::uint8_t> map(256);
    Eigen::VectorXf bias(256);
    for (int k = 0; k < 256; ++k) {
      map[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(255 - k);  // channel k: part 255 - k
      bias(k) = static_cast<float>(255 - k);
      parts.push_back(std::make_unique<eigenq::nn::FloatLinear>(Eigen::MatrixXf::Zero(1, 3), Eigen::VectorXf::Constant(1, float(k))));
    }
    const ChannelMixedLinear wide(std::move(parts), map);
    const Matrix y = wide(Matrix::Ones(2, 3));
    for (Index r = 0; r < 2; ++r) EXPECT_EQ(Eigen::VectorXf(y.row(r).transpose()), bias);
    EXPECT_EQ(wide.weight_bytes(), 256u * 4u * 4u + 256u);
  }
  // Inputs of the wrong width.
  const ChannelMixedLinear layer = f.layer();
  m = shape_error([&] { layer(random_input(2, 41, 3)); });
  EXPECT_TRUE(has(m, "ChannelMixedLinear expects inputs with 40 features")) << m;
  m = shape_error([&] { layer(random_input(2, 39, 3)); });
  EXPECT_TRUE(has(m, "40 features")) << m;
}

}  // namespace
