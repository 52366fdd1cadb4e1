#include "eigenq/nn/convert.hpp"
#include "eigenq/nn.hpp"

#include "eigenq/analysis/mixed_precision.hpp"
#include "eigenq/analysis/mlp_model.hpp"

#include "support/nn_models.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <list>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::nn::Matrix;
using eigenq::nn::Sequential;

Sequential small_mlp(unsigned seed) { return eigenq_test::random_mlp(seed, 96, 64, 0.1f); }

std::vector<Matrix> batches(int count, Index rows, unsigned seed) { return eigenq_test::random_batches(count, rows, seed); }

double sqnr_db(const Matrix& ref, const Matrix& y) {
  return 10.0 * std::log10(ref.squaredNorm() / (y - ref).squaredNorm());
}

TEST(Convert, DynamicReplacesEveryLinear) {
  const Sequential m = small_mlp(1);
  const Sequential q = eigenq::nn::quantize_dynamic(m);
  ASSERT_EQ(q.size(), m.size());
  EXPECT_EQ(q[0].kind(), "DynamicLinear");
  EXPECT_EQ(q[1].kind(), "ReLU");
  EXPECT_EQ(q[4].kind(), "DynamicLinear");
  const Matrix x = batches(1, 32, 2)[0];
  EXPECT_GT(sqnr_db(m(x), q(x)), 30.0);
  EXPECT_LT(q.weight_bytes(), m.weight_bytes() / 3);
  EXPECT_EQ(q.weight_count(), m.weight_count());
}

TEST(Convert, StaticIsFullIntegerAndCalibrated) {
  const Sequential m = small_mlp(3);
  const auto calib = batches(8, 32, 4);
  for (auto cal : {eigenq::nn::Calibration::minmax, eigenq::nn::Calibration::percentile,
                   eigenq::nn::Calibration::mse, eigenq::nn::Calibration::kl}) {
    eigenq::nn::StaticQuantOptions o;
    o.calibration = cal;
    const Sequential q = eigenq::nn::quantize_static(m, calib, o);
    ASSERT_EQ(q.size(), 3u) << "ReLUs are fused";
    EXPECT_TRUE(q.integer_io());
    const auto& first = dynamic_cast<const eigenq::nn::StaticLinear&>(q[0]);
    const auto& second = dynamic_cast<const eigenq::nn::StaticLinear&>(q[1]);
    EXPECT_TRUE(first.relu());
    EXPECT_FALSE(dynamic_cast<const eigenq::nn::StaticLinear&>(q[2]).relu());
    // Boundaries chain: a layer's output parameters are the next one's input.
    EXPECT_EQ(first.output_params(), second.input_params());
    const Matrix x = batches(1, 32, 5)[0];
    std::printf("calibration %d: output SQNR %.1f dB\n", static_cast<int>(cal), sqnr_db(m(x), q(x)));
    // KL (TensorRT's method) clips the mixed-sign logits hard on this toy data.
    const double floor_db = cal == eigenq::nn::Calibration::kl ? 12.0 : 30.0;
    EXPECT_GT(sqnr_db(m(x), q(x)), floor_db) << static_cast<int>(cal);
  }
  // The min-max input boundary covers the calibration data: inputs in [0, 1].
  const Sequential q = eigenq::nn::quantize_static(m, calib);
  const auto in = dynamic_cast<const eigenq::nn::StaticLinear&>(q[0]).input_params();
  EXPECT_NEAR(in.scale, 1.0f / 255.0f, 1e-4f);
  EXPECT_EQ(in.zero_point, -128);
}

TEST(Convert, StaticRejectsWhatItCannotConvert) {
  EXPECT_THROW(eigenq::nn::quantize_static(small_mlp(1), {}), eigenq::InvalidArgument);
  Sequential starts_with_relu;
  starts_with_relu.add(eigenq::nn::ReLU());
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::nn::quantize_static(starts_with_relu, batches(1, 4, 1)); },
      {"quantize_static: layer 0 (ReLU) is not a FloatLinear, or a ReLU following one"});
}

// ---- quantize_static's calibration: one matrix or any range of them, either storage order -----

using ColMajor = Eigen::MatrixXf;

// Two static models are the same: parameters, weight codes, biases and outputs, bit for bit.
void expect_same_static_model(const Sequential& expected, const Sequential& got) {
  ASSERT_EQ(expected.size(), got.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("layer " + std::to_string(i));
    const auto& e = dynamic_cast<const eigenq::nn::StaticLinear&>(expected[i]);
    const auto& g = dynamic_cast<const eigenq::nn::StaticLinear&>(got[i]);
    EXPECT_EQ(e.input_params(), g.input_params());
    EXPECT_EQ(e.output_params(), g.output_params());
    EXPECT_EQ(e.relu(), g.relu());
    EXPECT_EQ(e.weight().unpacked_codes(), g.weight().unpacked_codes());
    EXPECT_EQ(e.bias(), g.bias());
  }
  const Matrix x = batches(1, 16, 99)[0];
  const Matrix ye = expected(x);
  const Matrix yg = got(x);
  EXPECT_TRUE(eigenq_test::same_bits(std::vector<float>(ye.data(), ye.data() + ye.size()),
                                     std::vector<float>(yg.data(), yg.data() + yg.size())));
}

std::vector<ColMajor> column_major(const std::vector<Matrix>& v) { return std::vector<ColMajor>(v.begin(), v.end()); }

TEST(Convert, StaticTakesAnyRangeOfBatchesOfEitherOrder) {
  const Sequential m = small_mlp(3);
  const std::vector<Matrix> calib = batches(3, 32, 4);
  const Sequential expected = eigenq::nn::quantize_static(m, calib);

  // Column-major batches hold the same values: exactly the same model.
  const std::vector<ColMajor> col = column_major(calib);
  ASSERT_FALSE(ColMajor::IsRowMajor);
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, col));
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, std::array<Matrix, 3>{calib[0], calib[1], calib[2]}));
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, std::array<ColMajor, 3>{col[0], col[1], col[2]}));
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, std::list<ColMajor>(col.begin(), col.end())));
  // Maps and Refs of the batches (nothing copied by the caller).
  std::vector<Eigen::Map<const ColMajor>> maps;
  std::vector<Eigen::Ref<const Matrix>> refs;
  for (std::size_t b = 0; b < calib.size(); ++b) {
    maps.emplace_back(col[b].data(), col[b].rows(), col[b].cols());
    refs.emplace_back(calib[b]);
  }
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, maps));
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, refs));
  // A braced list converts to row-major batches.
  expect_same_static_model(expected, eigenq::nn::quantize_static(m, {col[0], col[1], col[2]}));
}

TEST(Convert, StaticTakesOneMatrixOfEitherOrder) {
  const Sequential m = small_mlp(3);
  const Matrix x = batches(1, 96, 4)[0];  // [batch, in] = [96, 64]
  const ColMajor x_col = x;
  for (auto cal : {eigenq::nn::Calibration::minmax, eigenq::nn::Calibration::percentile,
                   eigenq::nn::Calibration::mse, eigenq::nn::Calibration::kl}) {
    SCOPED_TRACE(static_cast<int>(cal));
    eigenq::nn::StaticQuantOptions o;
    o.calibration = cal;
    const Sequential expected = eigenq::nn::quantize_static(m, std::vector<Matrix>{x}, o);
    expect_same_static_model(expected, eigenq::nn::quantize_static(m, x, o));
    expect_same_static_model(expected, eigenq::nn::quantize_static(m, x_col, o));
    expect_same_static_model(expected, eigenq::nn::quantize_static(m, Eigen::Map<const ColMajor>(x_col.data(), 96, 64), o));
    expect_same_static_model(expected, eigenq::nn::quantize_static(m, Eigen::Ref<const ColMajor>(x_col), o));
  }
  // A block of a larger matrix is a batch too.
  ColMajor big(200, 64);
  big.setRandom();
  big.middleRows(50, 96) = x_col;
  expect_same_static_model(eigenq::nn::quantize_static(m, x), eigenq::nn::quantize_static(m, big.middleRows(50, 96)));
}

TEST(Convert, StaticRejectsBatchesThatAreNotBatchByIn) {
  using eigenq_test::expect_error;
  const Sequential m = small_mlp(3);  // 64 inputs
  const std::vector<Matrix> calib = batches(2, 32, 4);
  // [in, batch] instead of [batch, in].
  const ColMajor transposed = calib[1].transpose();
  expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_static(m, std::vector<ColMajor>{calib[0], transposed}); },
                                   {"calibration batch 1 has shape [64, 32]", "expected [batch, 64]", "one example per row"});
  expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_static(m, transposed); }, {"batch 0 has shape [64, 32]"});
  expect_error<eigenq::ShapeError>([&] { eigenq::nn::quantize_static(m, Matrix(0, 64)); }, {"batch 0 has shape [0, 64]"});
  expect_error<eigenq::InvalidArgument>([&] { eigenq::nn::quantize_static(m, std::vector<ColMajor>{}); },
                                        {"no calibration batches"});
  expect_error<eigenq::InvalidArgument>([&] { eigenq::nn::quantize_static(m, std::array<Matrix, 0>{}); },
                                        {"no calibration batches"});
}

// The README's flow, from the entry header <eigenq/nn.hpp> alone.
TEST(Convert, EntryHeaderOffersTheReadmeFlow) {
  const Sequential model = small_mlp(8);
  const Eigen::MatrixXf X_calib = batches(1, 64, 9)[0];  // [batch, in], column-major
  const Sequential dyn = eigenq::nn::quantize_dynamic(model);
  const Sequential full = eigenq::nn::quantize_static(model, X_calib);
  const Sequential q4 = eigenq::nn::quantize_grouped(model);
  const eigenq::MlpModel mlp = eigenq::to_mlp_model(model);
  EXPECT_EQ(mlp.layers().size(), 3u);
  const Matrix x = batches(1, 8, 10)[0];
  for (const Sequential* q : {&dyn, &full, &q4}) EXPECT_GT(sqnr_db(model(x), (*q)(x)), 12.0);
}

TEST(Convert, MixedPlansByNameOrFactory) {
  namespace ls = eigenq::nn::layer_schemes;
  const Sequential m = small_mlp(6);
  const std::vector<eigenq::nn::LayerScheme> candidates = {
      ls::int8_dynamic(), ls::int4_grouped(32), ls::float32(),
      ls::weight_only("codebook-3bit", eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>(
                                            eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0}))};
  const Sequential q = eigenq::nn::quantize_mixed(m, {"int4-g32", "int8-per-channel", "codebook-3bit"}, candidates);
  EXPECT_EQ(q[0].kind(), "GroupedLinear");
  EXPECT_EQ(q[2].kind(), "DynamicLinear");
  EXPECT_EQ(q[4].kind(), "WeightOnlyLinear");
  const Matrix x = batches(1, 8, 7)[0];
  EXPECT_GT(sqnr_db(m(x), q(x)), 10.0);
  EXPECT_THROW(eigenq::nn::quantize_mixed(m, {"int8-per-channel"}, candidates), eigenq::ShapeError);
  EXPECT_THROW(eigenq::nn::quantize_mixed(m, {"a", "b", "c"}, candidates), eigenq::InvalidArgument);
}

// ---- per-channel mixed precision ------------------------------------------------------------

using eigenq::nn::LayerScheme;
using Int3 = eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>;

std::vector<LayerScheme> channel_candidates() {
  namespace ls = eigenq::nn::layer_schemes;
  return {ls::int8_dynamic(), ls::int4_grouped(32), ls::float32(),
          ls::weight_only("int3-per-channel",
                          Int3(eigenq::Linear<std::int8_t>::symmetric().with_bits(3), eigenq::PerChannel{0}))};
}

const LayerScheme& named(const std::vector<LayerScheme>& c, const std::string& name) {
  for (const auto& s : c) {
    if (s.name == name) return s;
  }
  throw std::runtime_error("no candidate " + name);
}


// Each output channel r of a mixed layer is channel r of the candidate it names applied to the
// whole layer: every candidate quantizes output channels independently (per-channel int8,
// int4 groups along the inputs, per-channel 3-bit, float).
TEST(Convert, MixedPerChannelUsesEachRowsScheme) {
  const Sequential m = small_mlp(6);  // Linear 64->96, ReLU, Linear 96->64, ReLU, Linear 64->10
  const auto cands = channel_candidates();
  std::mt19937 rng(17);
  std::vector<std::vector<std::string>> plan(3);
  for (int r = 0; r < 96; ++r) plan[0].push_back(cands[rng() % 4].name);
  for (int r = 0; r < 64; ++r) plan[1].push_back(cands[rng() % 2].name);
  plan[2].assign(10, "int4-g32");
  const Sequential q = eigenq::nn::quantize_mixed_per_channel(m, plan, cands);
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0].kind(), "ChannelMixedLinear");
  EXPECT_EQ(q[1].kind(), "ReLU");
  EXPECT_EQ(q[2].kind(), "ChannelMixedLinear");
  EXPECT_EQ(q[4].kind(), "GroupedLinear");  // one scheme for every channel: the plain layer
  EXPECT_EQ(q.weight_count(), m.weight_count());

  const Matrix x = batches(1, 16, 8)[0];
  Matrix h = x;  // the float model's input to each layer
  const std::size_t linear_at[] = {0, 2, 4};
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& lin = dynamic_cast<const eigenq::nn::FloatLinear&>(m[linear_at[k]]);
    const eigenq::nn::Module& layer = q[linear_at[k]];
    const Eigen::MatrixXf w_hat = layer.dequantized_weight();
    const Matrix y = layer(h);
    Matrix ref(h.rows(), lin.out_features());
    for (const auto& c : cands) {
      const std::unique_ptr<eigenq::nn::Module> whole = c.make(lin);
      const Eigen::MatrixXf wc = whole->dequantized_weight();
      const Matrix yc = whole->forward(h);
      for (Index r = 0; r < lin.out_features(); ++r) {
        if (plan[k][static_cast<std::size_t>(r)] != c.name) continue;
        EXPECT_EQ(w_hat.row(r), wc.row(r)) << "layer " << k << " row " << r << " " << c.name;
        ref.col(r) = yc.col(r);
      }
    }
    EXPECT_LE(eigenq_test::relative_error(y, ref), 1e-5) << "layer " << k;
    if (const auto* mixed = dynamic_cast<const eigenq::nn::ChannelMixedLinear*>(&layer)) {
      // Parts in order of first use, each with its channels in increasing order.
      std::vector<std::string> first_use;
      for (const std::string& n : plan[k]) {
        if (std::find(first_use.begin(), first_use.end(), n) == first_use.end()) first_use.push_back(n);
      }
      ASSERT_EQ(mixed->part_count(), first_use.size());
      std::size_t bytes = static_cast<std::size_t>(lin.out_features());
      for (std::size_t p = 0; p < first_use.size(); ++p) {
        EXPECT_EQ(mixed->part(p).kind(), named(cands, first_use[p]).make(lin)->kind());
        std::vector<Index> rows;
        for (Index r = 0; r < lin.out_features(); ++r) {
          if (plan[k][static_cast<std::size_t>(r)] == first_use[p]) rows.push_back(r);
        }
        EXPECT_EQ(mixed->part_rows(p), rows);
        bytes += mixed->part(p).weight_bytes();
      }
      EXPECT_EQ(layer.weight_bytes(), bytes);
    }
    h = lin.forward(h);
    if (k < 2) h = h.cwiseMax(0.0f);
  }
  EXPECT_EQ(q[4].weight_bytes(), named(cands, "int4-g32").make(dynamic_cast<const eigenq::nn::FloatLinear&>(m[4]))->weight_bytes());
  EXPECT_GT(sqnr_db(m(x), q(x)), 10.0);
}

TEST(Convert, MixedPerChannelWithOneSchemeIsThePlainLayer) {
  const Sequential m = small_mlp(7);
  const auto cands = channel_candidates();
  const std::vector<std::string> names = {"int8-per-channel", "float32", "int3-per-channel"};
  const Sequential q = eigenq::nn::quantize_mixed_per_channel(
      m, {std::vector<std::string>(96, names[0]), std::vector<std::string>(64, names[1]), std::vector<std::string>(10, names[2])},
      cands);
  EXPECT_EQ(q[0].kind(), "DynamicLinear");
  EXPECT_EQ(q[2].kind(), "Linear");
  EXPECT_EQ(q[4].kind(), "WeightOnlyLinear");
  const Sequential plain = eigenq::nn::quantize_mixed(m, names, cands);
  const Matrix x = batches(1, 8, 9)[0];
  EXPECT_EQ(q(x), plain(x));
  EXPECT_EQ(q.weight_bytes(), plain.weight_bytes());
}

TEST(Convert, MixedPerChannelRejectsBadPlans) {
  const Sequential m = small_mlp(8);
  const auto cands = channel_candidates();
  const std::vector<std::vector<std::string>> good = {std::vector<std::string>(96, "int8-per-channel"),
                                                      std::vector<std::string>(64, "int4-g32"),
                                                      std::vector<std::string>(10, "float32")};
  EXPECT_NO_THROW(eigenq::nn::quantize_mixed_per_channel(m, good, cands));
  auto message = [&](const std::vector<std::vector<std::string>>& plan, const std::vector<LayerScheme>& c) -> std::string {
    try {
      eigenq::nn::quantize_mixed_per_channel(m, plan, c);
    } catch (const eigenq::ShapeError& e) {
      return std::string("ShapeError: ") + e.what();
    } catch (const eigenq::InvalidArgument& e) {
      return std::string("InvalidArgument: ") + e.what();
    }
    return "no exception";
  };
  std::string e = message({good[0], good[1]}, cands);
  EXPECT_NE(e.find("ShapeError: "), std::string::npos) << e;
  EXPECT_NE(e.find("2 layers for 3"), std::string::npos) << e;
  auto short_plan = good;
  short_plan[1].pop_back();
  e = message(short_plan, cands);
  EXPECT_NE(e.find("ShapeError: "), std::string::npos) << e;
  EXPECT_NE(e.find("64 output channels, the plan names 63"), std::string::npos) << e;
  auto long_plan = good;
  long_plan[2].push_back("float32");
  e = message(long_plan, cands);
  EXPECT_NE(e.find("ShapeError: "), std::string::npos) << e;
  auto unknown = good;
  unknown[1][40] = "int5-g32";
  e = message(unknown, cands);
  EXPECT_NE(e.find("InvalidArgument: "), std::string::npos) << e;
  EXPECT_NE(e.find("'int5-g32'"), std::string::npos) << e;
  auto no_factory = cands;
  no_factory[1].make = nullptr;
  e = message(good, no_factory);
  EXPECT_NE(e.find("InvalidArgument: "), std::string::npos) << e;
  EXPECT_NE(e.find("'int4-g32' has no layer factory"), std::string::npos) << e;
}

// The analysis chooses per row; the conversion deploys that choice: the layers' weights are the
// analysis' fake-quantized weights, exactly, when the layer candidates quantize as the schemes do.
TEST(Convert, MixedPerChannelDeploysTheAnalysisChoice) {
  const Sequential m = small_mlp(9);
  eigenq::MlpModel mlp;
  const std::size_t linear_at[] = {0, 2, 4};
  for (std::size_t k = 0; k < 3; ++k) {
    const auto& lin = dynamic_cast<const eigenq::nn::FloatLinear&>(m[linear_at[k]]);
    mlp.add_layer("fc" + std::to_string(k + 1), lin.weight(), lin.bias(), k < 2);
  }
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(32)};
  opt.rows_per_block = 1;
  opt.front_samples = 1;
  const Matrix calib = batches(1, 64, 10)[0];
  const auto r = eigenq::choose_mixed_precision(mlp, calib, eigenq::Budget::average_bits(7.0), opt);
  namespace ls = eigenq::nn::layer_schemes;
  const std::vector<LayerScheme> cands = {
      ls::int8_dynamic(),  // symmetric int8 per output channel, as schemes::int8_per_channel
      ls::weight_only("int4-g32", eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerGroup>(
                                      eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 32}))};
  std::vector<std::vector<std::string>> plan;
  for (const auto& c : r.choices) plan.push_back(c.row_schemes);
  const Sequential q = eigenq::nn::quantize_mixed_per_channel(m, plan, cands);
  int mixed_layers = 0;
  for (std::size_t k = 0; k < 3; ++k) {
    std::vector<std::size_t> choice;
    for (const std::string& n : plan[k]) choice.push_back(n == "int8-per-channel" ? 0 : 1);
    Eigen::MatrixXf w = mlp.weight(2 * k);
    eigenq::per_row_scheme("chosen", opt.candidates, choice).apply(w);
    EXPECT_EQ(q[linear_at[k]].dequantized_weight(), w) << "layer " << k;
    mixed_layers += q[linear_at[k]].kind() == "ChannelMixedLinear";
  }
  EXPECT_GT(mixed_layers, 0) << "7 bits/weight between int4-g32 (5) and int8 (~8.5) should mix";
}

}  // namespace

// A part computes a subset of its layer's channels: only schemes whose channels do not depend
// on each other may be parts (a per-tensor scale would change with the subset).
TEST(Convert, MixedPerChannelRefusesSchemesThatCoupleRows) {
  namespace ls = eigenq::nn::layer_schemes;
  using Lin8 = eigenq::Linear<std::int8_t>;
  using PerTensor4 = eigenq::Quantizer<Lin8, eigenq::PerTensor>;
  EXPECT_TRUE(ls::float32().rows_independent);
  EXPECT_TRUE(ls::int8_dynamic().rows_independent);
  eigenq::nn::DynamicLinearOptions tensor_weights;
  tensor_weights.per_channel_weights = false;
  EXPECT_FALSE(ls::int8_dynamic(tensor_weights, "int8-per-tensor").rows_independent);
  EXPECT_TRUE(ls::int4_grouped(32).rows_independent);
  EXPECT_TRUE(ls::weight_only("int3-per-channel", Int3(Lin8::symmetric().with_bits(3), eigenq::PerChannel{0})).rows_independent);
  EXPECT_FALSE(ls::weight_only("int3-per-input", Int3(Lin8::symmetric().with_bits(3), eigenq::PerChannel{1})).rows_independent);

  const Sequential m = small_mlp(10);
  auto cands = channel_candidates();
  cands.push_back(ls::weight_only("int4-per-tensor", PerTensor4(Lin8::symmetric().with_bits(4), eigenq::PerTensor{})));
  cands.push_back(ls::int8_dynamic(tensor_weights, "int8-per-tensor"));
  // A whole layer under a per-tensor scheme is fine: no subset is taken.
  std::vector<std::vector<std::string>> plan = {std::vector<std::string>(96, "int4-per-tensor"),
                                                std::vector<std::string>(64, "int8-per-tensor"),
                                                std::vector<std::string>(10, "float32")};
  EXPECT_NO_THROW(eigenq::nn::quantize_mixed_per_channel(m, plan, cands));
  for (const std::string bad : {"int4-per-tensor", "int8-per-tensor"}) {
    auto mixed = plan;
    mixed[0].assign(96, "int8-per-channel");
    mixed[0][5] = bad;
    try {
      eigenq::nn::quantize_mixed_per_channel(m, mixed, cands);
      ADD_FAILURE() << bad << " accepted as a part";
    } catch (const eigenq::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + bad + "' of layer 0"), std::string::npos) << e.what();
    }
  }
}
