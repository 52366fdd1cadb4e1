#include "eigenq/analysis/mixed_precision.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using eigenq::ChoiceOption;
using Options = std::vector<std::vector<ChoiceOption>>;

Options random_instance(std::mt19937& gen) {
  std::uniform_int_distribution<int> points(1, 5), options(1, 4), cost(0, 40);
  std::uniform_real_distribution<double> error(0.0, 1.0);
  Options o(static_cast<std::size_t>(points(gen)));
  for (auto& p : o) {
    const int n = options(gen);
    for (int k = 0; k < n; ++k) p.push_back({cost(gen), std::round(error(gen) * 64.0) / 64.0});  // ties happen
  }
  return o;
}

// Every assignment, as (cost, summed error) in point order.
template <class F>
void for_each_assignment(const Options& o, F&& f) {
  std::vector<std::size_t> pick(o.size(), 0);
  while (true) {
    std::int64_t c = 0;
    double e = 0.0;
    for (std::size_t p = 0; p < o.size(); ++p) {
      c += o[p][pick[p]].cost;
      e += o[p][pick[p]].error;
    }
    f(pick, c, e);
    std::size_t p = 0;
    while (p < o.size() && ++pick[p] == o[p].size()) pick[p++] = 0;
    if (p == o.size()) return;
  }
}

TEST(MixedPrecisionSolver, EqualsBruteForceAndRespectsBudget) {
  std::mt19937 gen(2024);
  int solved = 0, infeasible = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const Options o = random_instance(gen);
    std::int64_t max_cost = 0, min_cost = 0;
    for (const auto& p : o) {
      max_cost += std::max_element(p.begin(), p.end(), [](auto a, auto b) { return a.cost < b.cost; })->cost;
      min_cost += std::min_element(p.begin(), p.end(), [](auto a, auto b) { return a.cost < b.cost; })->cost;
    }
    const std::int64_t budget = std::uniform_int_distribution<std::int64_t>(min_cost - 3, max_cost)(gen);
    double best = std::numeric_limits<double>::infinity();
    for_each_assignment(o, [&](const std::vector<std::size_t>&, std::int64_t c, double e) {
      if (c <= budget) best = std::min(best, e);
    });
    if (std::isinf(best)) {
      EXPECT_THROW(eigenq::solve_min_error(o, budget), eigenq::InvalidArgument);
      ++infeasible;
      continue;
    }
    const eigenq::MixedSolution s = eigenq::solve_min_error(o, budget);
    ASSERT_EQ(s.choice.size(), o.size());
    std::int64_t c = 0;
    double e = 0.0;
    for (std::size_t p = 0; p < o.size(); ++p) {
      ASSERT_LT(s.choice[p], o[p].size());
      c += o[p][s.choice[p]].cost;
      e += o[p][s.choice[p]].error;
    }
    EXPECT_EQ(c, s.cost);
    EXPECT_LE(s.cost, budget) << "trial " << trial;
    EXPECT_NEAR(e, s.error, 1e-12);
    EXPECT_NEAR(s.error, best, 1e-12) << "trial " << trial;
    ++solved;
  }
  EXPECT_GT(solved, 400);
  EXPECT_GT(infeasible, 5);
}

TEST(MixedPrecisionSolver, ParetoFrontEqualsBruteForce) {
  std::mt19937 gen(7);
  for (int trial = 0; trial < 300; ++trial) {
    const Options o = random_instance(gen);
    std::map<std::int64_t, double> min_error_at_cost;
    for_each_assignment(o, [&](const std::vector<std::size_t>&, std::int64_t c, double e) {
      auto it = min_error_at_cost.find(c);
      if (it == min_error_at_cost.end() || e < it->second) min_error_at_cost[c] = e;
    });
    std::vector<std::pair<std::int64_t, double>> expected;
    for (const auto& [c, e] : min_error_at_cost) {
      if (expected.empty() || e < expected.back().second - 1e-12) expected.emplace_back(c, e);
    }
    const auto front = eigenq::pareto_front(o);
    ASSERT_EQ(front.size(), expected.size()) << "trial " << trial;
    for (std::size_t i = 0; i < front.size(); ++i) {
      EXPECT_EQ(front[i].cost, expected[i].first);
      EXPECT_NEAR(front[i].error, expected[i].second, 1e-12);
      if (i > 0) {  // monotone: more bits, strictly less error
        EXPECT_GT(front[i].cost, front[i - 1].cost);
        EXPECT_LT(front[i].error, front[i - 1].error);
      }
    }
  }
}

TEST(MixedPrecisionSolver, InfeasibleAndInvalid) {
  const Options o = {{{10, 1.0}, {20, 0.5}}, {{5, 1.0}}};
  try {
    eigenq::solve_min_error(o, 14);
    FAIL();
  } catch (const eigenq::InvalidArgument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("14 bits"), std::string::npos) << m;
    EXPECT_NE(m.find("15 bits"), std::string::npos) << m;
  }
  EXPECT_EQ(eigenq::solve_min_error(o, 15).choice, (std::vector<std::size_t>{0, 0}));
  EXPECT_EQ(eigenq::solve_min_error(o, 25).choice, (std::vector<std::size_t>{1, 0}));
  EXPECT_THROW(eigenq::solve_min_error({{{-1, 0.0}}}, 10), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::solve_min_error({{}}, 10), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::solve_min_error({{{1, std::nan("")}}}, 10), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::Budget::average_bits(0.0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::Budget::bytes(0), eigenq::InvalidArgument);
  EXPECT_EQ(eigenq::Budget::bytes(100).bits_for(12345), 800);
  EXPECT_EQ(eigenq::Budget::average_bits(4.5).bits_for(3), 13);
}

// A layer with many more weights than the others and a per-point ranking: with int8,
// int4 and int2 candidates, budgets from tight to loose.
TEST(MixedPrecision, EndToEndOnMlp) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(5);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(128, 16, 21);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16),
                    eigenq::schemes::int2_per_group(16)};
  opt.front_samples = 0;
  double previous_predicted = std::numeric_limits<double>::infinity();
  // Costs per weight: int2-g16 4 bits, int4-g16 6, int8 per channel about 9.
  for (double bits : {4.0, 4.5, 5.5, 7.0, 9.0, 12.0}) {
    const auto r = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(bits), opt);
    EXPECT_EQ(r.weights, 32 * 16 + 32 * 32 + 8 * 32);
    EXPECT_LE(r.total_bits, r.budget_bits) << bits;
    EXPECT_EQ(r.budget_bits, static_cast<std::int64_t>(std::floor(bits * r.weights)));
    EXPECT_LE(r.predicted, previous_predicted);  // a looser budget never predicts worse
    previous_predicted = r.predicted;
    // The measured error is the chosen mix run end to end.
    eigenq::PointSchemes config(m.quant_points().size());
    std::int64_t total = 0;
    double predicted = 0.0;
    for (std::size_t i = 0; i < r.choices.size(); ++i) {
      const auto& c = r.choices[i];
      const auto it = std::find_if(opt.candidates.begin(), opt.candidates.end(), [&](const auto& s) { return s.name == c.scheme; });
      ASSERT_NE(it, opt.candidates.end());
      config.set(2 * i, &*it);
      EXPECT_EQ(c.bits, it->bits_for(m.weight(2 * i)));
      total += c.bits;
      predicted += c.sensitivity;
    }
    EXPECT_EQ(total, r.total_bits);
    EXPECT_DOUBLE_EQ(predicted, r.predicted);
    const Eigen::MatrixXf ref = m.forward(x);
    EXPECT_DOUBLE_EQ(r.measured, eigenq::compare(ref, m.forward(x, config)).mse);
    EXPECT_DOUBLE_EQ(r.output.mse, r.measured);
    // The front: increasing bits, decreasing predicted error, the chosen mix on it.
    ASSERT_FALSE(r.front.empty());
    for (std::size_t i = 1; i < r.front.size(); ++i) {
      EXPECT_GT(r.front[i].bits, r.front[i - 1].bits);
      EXPECT_LT(r.front[i].predicted, r.front[i - 1].predicted);
    }
    EXPECT_TRUE(std::any_of(r.front.begin(), r.front.end(), [&](const auto& f) { return f.bits == r.total_bits; }));
    const std::string json = r.to_json();
    EXPECT_NE(json.find("\"front\":["), std::string::npos);
    EXPECT_NE(r.to_table().find("predicted output_mse"), std::string::npos);
    const std::string candidates = r.candidates_table();
    EXPECT_NE(candidates.find("int2-g16"), std::string::npos);
    ASSERT_EQ(r.sensitivity.size(), 3u);
    ASSERT_EQ(r.cost[0].size(), 3u);
    EXPECT_LT(r.cost[0][2], r.cost[0][1]);  // int2 stores fewer bits than int4 ...
    EXPECT_GT(r.sensitivity[0][2], r.sensitivity[0][1]);  // ... and hurts more
  }
  // The loosest budget takes each point's least sensitive candidate (here int8 everywhere).
  const auto loose = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(32.0), opt);
  for (const auto& c : loose.choices) EXPECT_EQ(c.scheme, "int8-per-channel") << c.point;
  // Too tight: even int2 everywhere does not fit.
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(3.99), opt), eigenq::InvalidArgument);
}

TEST(MixedPrecision, SelectedPointsAndOverrides) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(6);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(32, 16, 22);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(8)};
  opt.points = {"fc2.weight"};
  opt.per_point["fc2.weight"] = {eigenq::schemes::int4_per_group(8), eigenq::float_scheme()};
  const auto r = eigenq::choose_mixed_precision(m, x, eigenq::Budget::bytes(10000), opt);
  ASSERT_EQ(r.choices.size(), 1u);
  EXPECT_EQ(r.choices[0].scheme, "float32");  // fits, and has no error
  EXPECT_EQ(r.measured, 0.0);
  opt.points = {"fc2.output"};
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, eigenq::Budget::bytes(10000), opt), eigenq::InvalidArgument);
  opt.points = {"nope"};
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, eigenq::Budget::bytes(10000), opt), eigenq::InvalidArgument);
}

}  // namespace

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>

namespace {

TEST(MixedPrecision, JsonParses) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(10);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16)};
  const auto r = eigenq::choose_mixed_precision(m, eigenq_test::random_matrix(32, 16, 23),
                                                eigenq::Budget::average_bits(7.0), opt);
  const auto j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j.at("total_bits").get<std::int64_t>(), r.total_bits);
  EXPECT_EQ(j.at("measured").get<double>(), r.measured);
  ASSERT_EQ(j.at("choices").size(), r.choices.size());
  EXPECT_EQ(j.at("choices")[0].at("candidates").size(), 2u);
  ASSERT_EQ(j.at("front").size(), r.front.size());
  EXPECT_EQ(j.at("front")[0].at("schemes").size(), 3u);
}

}  // namespace
#endif
