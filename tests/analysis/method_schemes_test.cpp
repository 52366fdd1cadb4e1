// analysis/method_schemes.hpp and analysis/point_statistics.hpp: GPTQ, AWQ and weighted rounding
// as schemes that read their point's calibration statistics, in the sensitivity analysis and
// the mixed-precision search (one search choosing GPTQ int3 for one layer and int8 for another).
#include "eigenq/analysis/method_schemes.hpp"
#include "eigenq/analysis/mixed_precision.hpp"
#include "eigenq/analysis/point_statistics.hpp"
#include "eigenq/analysis/sensitivity.hpp"

#include "analysis_test_util.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace {

using eigenq::Index;
using eigenq::Scheme;
using Int8 = eigenq::Linear<std::int8_t>;

eigenq::Quantizer<Int8, eigenq::PerChannel> int_pc(int bits) {
  return eigenq::Quantizer<Int8, eigenq::PerChannel>(Int8::symmetric().with_bits(bits), eigenq::PerChannel{0});
}

// Calibration inputs of the toy MLP (16 features), two channels 8x larger.
Eigen::MatrixXf calibration(std::uint32_t seed, Index rows = 256) {
  Eigen::MatrixXf x = eigenq_test::random_matrix(rows, 16, seed);
  x.col(2) *= 8.0f;
  x.col(11) *= 8.0f;
  return x;
}

// The toy MLP without observe_weight_inputs: only given statistics reach its schemes.
class Opaque : public eigenq::QuantizableModel {
 public:
  explicit Opaque(eigenq::MlpModel m) : m_(std::move(m)) {}
  std::vector<eigenq::QuantPoint> quant_points() const override { return m_.quant_points(); }
  using QuantizableModel::forward;
  Eigen::MatrixXf forward(const Eigen::MatrixXf& batch, const eigenq::PointSchemes& schemes) const override {
    return m_.forward(batch, schemes);
  }
  Eigen::MatrixXf weight(std::size_t point) const override { return m_.weight(point); }

 private:
  eigenq::MlpModel m_;
};

TEST(MethodSchemes, NeedTheirPointsStatistics) {
  const Scheme g = eigenq::make_gptq_scheme("int3-gptq", int_pc(3));
  EXPECT_TRUE(g.needs_statistics());
  EXPECT_FALSE(g.is_float());
  EXPECT_TRUE(g.rows_independent);
  EXPECT_FALSE(eigenq::make_awq_scheme("int3-awq", int_pc(3)).rows_independent);
  const Eigen::MatrixXf x = calibration(1);
  eigenq::CalibrationStatsObserver obs(16);
  obs.observe(x);
  const eigenq::CalibrationStats stats = obs.stats();
  const Eigen::MatrixXf w = eigenq_test::random_matrix(32, 16, 2, 0.4f);
  Eigen::MatrixXf a = w;
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { g.apply(a); },
                                                     {"scheme 'int3-gptq' needs the calibration statistics"});
  g.apply(a, &stats);
  EXPECT_EQ(a, eigenq::gptq(w, stats, int_pc(3)).weights.dequantize<Eigen::MatrixXf>());
  Eigen::MatrixXf b = eigenq_test::random_matrix(32, 8, 3);
  eigenq_test::expect_error<eigenq::ShapeError>([&] { g.apply(b, &stats); },
                                                {"calibration statistics of 16 input features for a matrix [32, 8]"});
  // Storage: the quantizer's own; AWQ's input scales only when stored.
  const std::int64_t rtn_bits = eigenq::make_scheme("rtn", int_pc(3)).bits_for(w);
  EXPECT_EQ(g.bits_for(w), rtn_bits);
  EXPECT_EQ(eigenq::make_weighted_scheme("w", int_pc(3)).bits_for(w), rtn_bits);
  EXPECT_EQ(eigenq::make_awq_scheme("a", int_pc(3)).bits_for(w), rtn_bits);
  EXPECT_EQ(eigenq::make_awq_scheme("a", int_pc(3), {}, eigenq::AwqInputScales::stored).bits_for(w), rtn_bits + 32 * 16);
  // AWQ's fake quantization is its effective weight; weighted rounding's its QTensor.
  Eigen::MatrixXf c = w;
  eigenq::make_awq_scheme("a", int_pc(3)).apply(c, &stats);
  EXPECT_EQ(c, eigenq::awq(w, stats, int_pc(3)).effective_weight());
  Eigen::MatrixXf d = w;
  eigenq::make_weighted_scheme("w", int_pc(3)).apply(d, &stats);
  EXPECT_EQ(d, eigenq::weighted_rounding(w, stats, int_pc(3)).weights.dequantize<Eigen::MatrixXf>());
}

TEST(PointStatistics, CollectedFromTheWeightInputs) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(3);
  const Eigen::MatrixXf x = calibration(4);
  const eigenq::PointStatistics s = eigenq::collect_point_statistics(m, x);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.at("fc1.weight").in, 16);
  EXPECT_EQ(s.at("fc2.weight").in, 32);
  EXPECT_EQ(s.at("fc3.weight").count, 256);
  // fc2 reads fc1's output after its ReLU.
  Eigen::MatrixXf h = x * m.layers()[0].weight.transpose();
  h.rowwise() += m.layers()[0].bias.transpose();
  h = h.cwiseMax(0.0f);
  eigenq::CalibrationStatsObserver obs(32);
  obs.observe(h);
  EXPECT_LT((s.at("fc2.weight").hessian - obs.stats().hessian).norm(), 1e-9 * obs.stats().hessian.norm());
  // Two batches are the sum of their statistics.
  const eigenq::PointStatistics two = eigenq::collect_point_statistics(m, std::vector<Eigen::MatrixXf>{x, x});
  EXPECT_EQ(two.at("fc1.weight").count, 512);
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::collect_point_statistics(Opaque(m), x); }, {"does not report the inputs of its weight points"});
}

TEST(MethodSchemes, SensitivityWithCollectedOrGivenStatistics) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(5);
  const Eigen::MatrixXf x = calibration(6);
  eigenq::SensitivityOptions o;
  o.include_activations = false;
  o.weight_scheme = eigenq::make_scheme("int3-rtn", int_pc(3));
  const eigenq::SensitivityReport rtn = eigenq::analyze_sensitivity(m, x, o);
  o.weight_scheme = eigenq::make_gptq_scheme("int3-gptq", int_pc(3));
  const eigenq::SensitivityReport gptq = eigenq::analyze_sensitivity(m, x, o);
  double sum_rtn = 0, sum_gptq = 0;
  for (const auto& p : rtn.ranked) sum_rtn += p.score;
  for (const auto& p : gptq.ranked) {
    sum_gptq += p.score;
    EXPECT_EQ(p.scheme, "int3-gptq");
  }
  std::printf("toy MLP, int3 per channel: summed sensitivity gptq %.4g, rtn %.4g (%.1f%%)\n", sum_gptq, sum_rtn,
              100 * sum_gptq / sum_rtn);
  EXPECT_LT(sum_gptq, 0.8 * sum_rtn);
  // The same statistics given explicitly: the same report; a model that cannot observe its
  // inputs works with them too, and says what is missing without them.
  o.statistics = eigenq::collect_point_statistics(m, x);
  const eigenq::SensitivityReport given = eigenq::analyze_sensitivity(m, x, o);
  const eigenq::SensitivityReport opaque = eigenq::analyze_sensitivity(Opaque(m), x, o);
  ASSERT_EQ(given.ranked.size(), gptq.ranked.size());
  for (std::size_t i = 0; i < given.ranked.size(); ++i) {
    EXPECT_EQ(given.ranked[i].point, gptq.ranked[i].point);
    EXPECT_EQ(given.ranked[i].score, gptq.ranked[i].score);
    EXPECT_EQ(opaque.ranked[i].score, gptq.ranked[i].score);
  }
  o.statistics.clear();
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::analyze_sensitivity(Opaque(m), x, o); },
                                                     {"analyze_sensitivity", "needs calibration statistics"});
  // Statistics that do not fit the model.
  o.statistics = eigenq::collect_point_statistics(m, x);
  o.statistics["fc9.weight"] = o.statistics.at("fc1.weight");
  eigenq_test::expect_error<eigenq::InvalidArgument>([&] { eigenq::analyze_sensitivity(m, x, o); },
                                                     {"'fc9.weight', which is not a weight point"});
  o.statistics.erase("fc9.weight");
  std::swap(o.statistics.at("fc1.weight"), o.statistics.at("fc2.weight"));
  eigenq_test::expect_error<eigenq::ShapeError>([&] { eigenq::analyze_sensitivity(m, x, o); },
                                                {"'fc1.weight' have 32 input features, its weight 16 columns"});
  // Leave-one-out works the same way.
  o.statistics.clear();
  o.mode = eigenq::SensitivityMode::leave_one_out;
  EXPECT_EQ(eigenq::analyze_sensitivity(m, x, o).ranked.size(), 3u);
}

std::vector<Scheme> method_candidates() {
  return {eigenq::schemes::int8_per_channel(),
          eigenq::make_scheme("int3-rtn", int_pc(3)),
          eigenq::make_gptq_scheme("int3-gptq", int_pc(3)),
          eigenq::make_awq_scheme("int3-awq", int_pc(3)),
          eigenq::make_weighted_scheme("int3-weighted", int_pc(3)),
          eigenq::make_gptq_scheme("int2-gptq", int_pc(2))};
}

TEST(MethodSchemes, MixedPrecisionChoosesMethodsPerLayer) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(7);
  const Eigen::MatrixXf x = calibration(8);
  eigenq::MixedPrecisionOptions o;
  o.candidates = method_candidates();
  const std::vector<eigenq::Budget> budgets = {eigenq::Budget::average_bits(4.5), eigenq::Budget::average_bits(6.0)};
  const std::vector<eigenq::MixedPrecisionResult> r = eigenq::choose_mixed_precision(m, x, budgets, o);
  ASSERT_EQ(r.size(), 2u);
  std::set<std::string> chosen;
  for (const auto& res : r) {
    std::printf("%s", res.to_table().c_str());
    EXPECT_LE(res.total_bits, res.budget_bits);
    for (const auto& c : res.choices) chosen.insert(c.scheme);
  }
  std::printf("%s", r[0].candidates_table().c_str());
  // A method beats RTN at the same cost on every layer (on fc1, 16 inputs, GPTQ has little room
  // and weighted rounding wins), so RTN is never chosen; some layer gets GPTQ int3 while another
  // gets int8.
  for (std::size_t p = 0; p < r[0].choices.size(); ++p) {
    EXPECT_LT(std::min({r[0].sensitivity[p][2], r[0].sensitivity[p][3], r[0].sensitivity[p][4]}), r[0].sensitivity[p][1]) << p;
  }
  EXPECT_EQ(chosen.count("int3-rtn"), 0u);
  EXPECT_EQ(chosen.count("int8-per-channel"), 1u);
  EXPECT_EQ(chosen.count("int3-gptq"), 1u);
  // Each budget's result is the one a search with that budget alone gives, measured end to end
  // with the chosen schemes and the collected statistics.
  for (std::size_t b = 0; b < budgets.size(); ++b) {
    const eigenq::MixedPrecisionResult alone = eigenq::choose_mixed_precision(m, x, budgets[b], o);
    ASSERT_EQ(alone.choices.size(), r[b].choices.size());
    for (std::size_t p = 0; p < alone.choices.size(); ++p) EXPECT_EQ(alone.choices[p].scheme, r[b].choices[p].scheme);
    EXPECT_EQ(alone.measured, r[b].measured);
    EXPECT_EQ(alone.front.size(), r[b].front.size());
    const std::vector<Scheme> cands = method_candidates();
    const eigenq::PointStatistics st = eigenq::collect_point_statistics(m, x);
    std::vector<eigenq::CalibrationStats> by_point(6);
    eigenq::PointSchemes config(6);
    for (std::size_t p = 0; p < 3; ++p) {
      by_point[2 * p] = st.at(r[b].choices[p].point);
      for (const Scheme& c : cands) {
        if (c.name == r[b].choices[p].scheme) config.set(2 * p, &c);
      }
    }
    config.set_statistics(&by_point);
    EXPECT_EQ(o.metric(m.forward(x), m.forward(x, config)), r[b].measured);
  }
  o.measure_front = false;
  EXPECT_TRUE(eigenq::choose_mixed_precision(m, x, budgets[0], o).front.empty());
}

TEST(MethodSchemes, PerChannelMixedPrecisionWithGptq) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(9);
  const Eigen::MatrixXf x = calibration(10);
  eigenq::MixedPrecisionOptions o;
  o.rows_per_block = 8;
  o.candidates = {eigenq::schemes::int8_per_channel(), eigenq::make_gptq_scheme("int3-gptq", int_pc(3)),
                  eigenq::make_weighted_scheme("int3-weighted", int_pc(3))};
  const eigenq::MixedPrecisionResult r = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(5.5), o);
  EXPECT_LE(r.total_bits, r.budget_bits);
  EXPECT_EQ(r.choices[0].row_schemes.size(), 32u);
  o.candidates.push_back(eigenq::make_awq_scheme("int3-awq", int_pc(3)));
  eigenq_test::expect_error<eigenq::InvalidArgument>(
      [&] { eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(5.5), o); },
      {"candidate 'int3-awq'", "does not quantize rows independently"});
}

}  // namespace
