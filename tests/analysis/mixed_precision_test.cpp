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
#include <set>
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

// ---- per-channel mixed precision (MixedPrecisionOptions::rows_per_block > 0) ---------------

using eigenq::Index;
using eigenq::Scheme;

std::size_t index_of(const std::vector<Scheme>& cands, const std::string& name) {
  for (std::size_t k = 0; k < cands.size(); ++k) {
    if (cands[k].name == name) return k;
  }
  ADD_FAILURE() << "no candidate named '" << name << "'";
  return 0;
}

// Row mode on the toy MLP (layers of 32, 32 and 8 rows): the budget holds the chosen mix and
// its row maps; every row has a scheme, constant over each block; the reported bits, tables and
// measured error are those of the chosen per-row schemes, recomputed here.
TEST(MixedPrecisionRows, BudgetRowMapsAndRowSchemes) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(5);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(64, 16, 21);
  const std::vector<Scheme> cands = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16),
                                          eigenq::schemes::int2_per_group(16)};
  // Bytes per row of each candidate, for the 16-input layer fc1 and the 32-input fc2, fc3:
  // int8: codes + a scale; int4-g16 / int2-g16: packed codes + a scale per 16 inputs.
  const std::int64_t row_bytes16[] = {16 + 4, 8 + 4, 4 + 4};
  const std::int64_t row_bytes32[] = {32 + 4, 16 + 8, 8 + 8};
  const Index rows[] = {32, 32, 8};
  const Eigen::MatrixXf ref = m.forward(x);
  for (const Index block : {Index(1), Index(5), Index(8)}) {
    for (const int map_bits : {8, 3}) {
      for (const double bpw : {4.5, 6.5, 9.0}) {
        eigenq::MixedPrecisionOptions opt;
        opt.candidates = cands;
        opt.rows_per_block = block;
        opt.row_map_bits = map_bits;
        opt.front_samples = 2;
        const auto r = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(bpw), opt);
        SCOPED_TRACE("rows_per_block " + std::to_string(block) + ", row_map_bits " + std::to_string(map_bits) +
                     ", " + std::to_string(bpw) + " bits/weight");
        EXPECT_EQ(r.rows_per_block, block);
        EXPECT_EQ(r.weights, 32 * 16 + 32 * 32 + 8 * 32);
        EXPECT_EQ(r.budget_bits, static_cast<std::int64_t>(std::floor(bpw * r.weights)));
        EXPECT_LE(r.total_bits, r.budget_bits);
        ASSERT_EQ(r.choices.size(), 3u);
        eigenq::PointSchemes config(m.quant_points().size());
        std::vector<Scheme> mixes;
        mixes.reserve(3);
        std::int64_t total = 0;
        double predicted = 0.0;
        for (std::size_t i = 0; i < 3; ++i) {
          const eigenq::PointChoice& c = r.choices[i];
          ASSERT_EQ(static_cast<Index>(c.row_schemes.size()), rows[i]) << c.point;
          std::vector<std::size_t> choice;
          for (const std::string& n : c.row_schemes) choice.push_back(index_of(cands, n));
          for (std::size_t row = 0; row < choice.size(); ++row) {  // one scheme per block of rows
            EXPECT_EQ(choice[row], choice[row - row % static_cast<std::size_t>(block)]) << c.point << " row " << row;
          }
          mixes.push_back(eigenq::per_row_scheme(c.scheme, cands, choice));
          config.set(2 * i, &mixes.back());
          const Eigen::MatrixXf w = m.weight(2 * i);
          // Every candidate stores whole bytes per row here, so a mix costs its rows' bytes.
          std::int64_t row_bits = 0;
          for (std::size_t k : choice) row_bits += 8 * (i == 0 ? row_bytes16[k] : row_bytes32[k]);
          EXPECT_EQ(mixes.back().bits_for(w), row_bits) << c.point;
          EXPECT_EQ(c.bits, row_bits + static_cast<std::int64_t>(map_bits) * rows[i]) << c.point;
          EXPECT_EQ(c.elements, w.size());
          total += c.bits;
          predicted += c.sensitivity;
          // The candidate tables sum over the point's blocks: the whole point under each candidate.
          for (std::size_t k = 0; k < cands.size(); ++k) {
            EXPECT_EQ(r.cost[i][k], 8 * rows[i] * (i == 0 ? row_bytes16[k] : row_bytes32[k]));
            double summed = 0.0;
            for (Index b = 0; b < rows[i]; b += block) {
              summed += eigenq_test::only_point(m, x, 2 * i, eigenq::row_block_scheme(cands[k], b, std::min(block, rows[i] - b)));
            }
            EXPECT_NEAR(r.sensitivity[i][k], summed, 1e-12 * summed) << c.point << " " << cands[k].name;
          }
        }
        // The row maps are in the total: map_bits per output channel of every point.
        EXPECT_EQ(total, r.total_bits);
        EXPECT_GE(r.total_bits, static_cast<std::int64_t>(map_bits) * (32 + 32 + 8));
        EXPECT_NEAR(predicted, r.predicted, 1e-12 * r.predicted);
        EXPECT_DOUBLE_EQ(r.measured, eigenq::compare(ref, m.forward(x, config)).mse);
        EXPECT_DOUBLE_EQ(r.bits_per_weight, static_cast<double>(r.total_bits) / static_cast<double>(r.weights));
        ASSERT_FALSE(r.front.empty());
        for (const auto& f : r.front) EXPECT_GE(f.bits, static_cast<std::int64_t>(map_bits) * 72);
      }
    }
  }
}

// With one block per layer (rows_per_block >= every layer's rows) and free row maps, the row
// mode has the same units, costs and sensitivities as the layer mode, so it chooses the same.
TEST(MixedPrecisionRows, OneBlockPerLayerEqualsLayerMode) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(8);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(48, 16, 24);
  eigenq::MixedPrecisionOptions layer;
  layer.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16),
                      eigenq::schemes::linear_per_channel(3), eigenq::schemes::int2_per_group(16)};
  layer.front_samples = 3;
  eigenq::MixedPrecisionOptions rows = layer;
  rows.rows_per_block = 32;  // fc1, fc2: 32 rows; fc3: 8 rows, one short block
  rows.row_map_bits = 0;
  int differing_choices = 0;
  for (const double bpw : {4.2, 5.0, 6.0, 7.0, 8.0, 9.5, 12.0}) {
    const auto a = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(bpw), layer);
    const auto b = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(bpw), rows);
    ASSERT_EQ(a.choices.size(), b.choices.size());
    for (std::size_t i = 0; i < a.choices.size(); ++i) {
      EXPECT_TRUE(a.choices[i].row_schemes.empty());
      ASSERT_EQ(b.choices[i].row_schemes.size(), static_cast<std::size_t>(m.weight(2 * i).rows()));
      for (const std::string& n : b.choices[i].row_schemes) EXPECT_EQ(n, a.choices[i].scheme) << bpw;
      EXPECT_EQ(b.choices[i].bits, a.choices[i].bits) << bpw;
      EXPECT_DOUBLE_EQ(b.choices[i].sensitivity, a.choices[i].sensitivity) << bpw;
      differing_choices += a.choices[i].scheme != a.choices[0].scheme;
    }
    EXPECT_EQ(b.cost, a.cost);
    EXPECT_EQ(b.sensitivity, a.sensitivity);
    EXPECT_EQ(b.budget_bits, a.budget_bits);
    EXPECT_EQ(b.total_bits, a.total_bits) << bpw;
    EXPECT_DOUBLE_EQ(b.predicted, a.predicted) << bpw;
    EXPECT_DOUBLE_EQ(b.measured, a.measured) << bpw;
    EXPECT_EQ(b.front.size(), a.front.size());
  }
  EXPECT_GT(differing_choices, 0) << "the budgets never mixed schemes: the comparison is weak";
}

// The chosen per-row assignment is optimal: on a model small enough to enumerate every
// assignment, recompute each row's sensitivity and storage here (the model run with only that
// row quantized) and brute-force the least summed error within the budget, at every budget.
TEST(MixedPrecisionRows, PerRowChoiceEqualsBruteForce) {
  eigenq::MlpModel m;  // 8 -> 3 (ReLU) -> 2: five output channels
  m.add_layer("a", eigenq_test::random_matrix(3, 8, 41, 0.5f), eigenq_test::random_matrix(3, 1, 42, 0.1f));
  m.add_layer("b", eigenq_test::random_matrix(2, 3, 43, 0.5f), eigenq_test::random_matrix(2, 1, 44, 0.1f), false);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(40, 8, 45);
  const std::vector<Scheme> cands = {eigenq::schemes::int8_per_channel(), eigenq::schemes::linear_per_channel(4),
                                          eigenq::schemes::linear_per_channel(2)};
  const int map_bits = 2;
  struct Unit {
    std::size_t point;
    Index row;
  };
  const std::vector<Unit> units = {{0, 0}, {0, 1}, {0, 2}, {2, 0}, {2, 1}};
  std::vector<std::vector<double>> err(units.size());
  std::vector<std::vector<std::int64_t>> bits(units.size());
  for (std::size_t u = 0; u < units.size(); ++u) {
    const Eigen::MatrixXf w = m.weight(units[u].point);
    for (const Scheme& c : cands) {
      const Scheme s = eigenq::row_block_scheme(c, units[u].row, 1);
      err[u].push_back(eigenq_test::only_point(m, x, units[u].point, s));
      bits[u].push_back(s.bits_for(w));
    }
  }
  // Storage of one row: its packed codes + one float scale.
  EXPECT_EQ(bits[0], (std::vector<std::int64_t>{8 * (8 + 4), 8 * (4 + 4), 8 * (2 + 4)}));
  EXPECT_EQ(bits[3], (std::vector<std::int64_t>{8 * (3 + 4), 8 * (2 + 4), 8 * (1 + 4)}));
  // Fewer bits, more error, for every row (else the budget hardly matters).
  for (std::size_t u = 0; u < units.size(); ++u) {
    EXPECT_LT(err[u][0], err[u][1]);
    EXPECT_LT(err[u][1], err[u][2]);
  }
  // Every assignment: its summed cost (with the row maps) and summed error.
  std::vector<std::pair<std::int64_t, double>> all;
  std::vector<std::size_t> pick(units.size(), 0);
  while (true) {
    std::int64_t c = map_bits * static_cast<std::int64_t>(units.size());
    double e = 0.0;
    for (std::size_t u = 0; u < units.size(); ++u) {
      c += bits[u][pick[u]];
      e += err[u][pick[u]];
    }
    all.emplace_back(c, e);
    std::size_t u = 0;
    while (u < units.size() && ++pick[u] == cands.size()) pick[u++] = 0;
    if (u == units.size()) break;
  }
  ASSERT_EQ(all.size(), 243u);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = cands;
  opt.rows_per_block = 1;
  opt.row_map_bits = map_bits;
  opt.front_samples = 1;
  const std::int64_t weights = 3 * 8 + 2 * 3;
  int solved = 0, infeasible = 0;
  std::set<std::string> distinct_mixes;
  for (std::int64_t budget = 224; budget <= 420; ++budget) {
    // floor(((budget + 0.5) / weights) * weights) == budget
    const eigenq::Budget b = eigenq::Budget::average_bits((static_cast<double>(budget) + 0.5) / weights);
    double best = std::numeric_limits<double>::infinity();
    for (const auto& [c, e] : all) {
      if (c <= budget) best = std::min(best, e);
    }
    if (std::isinf(best)) {
      EXPECT_THROW(eigenq::choose_mixed_precision(m, x, b, opt), eigenq::InvalidArgument) << budget;
      ++infeasible;
      continue;
    }
    const auto r = eigenq::choose_mixed_precision(m, x, b, opt);
    ASSERT_EQ(r.budget_bits, budget);
    EXPECT_NEAR(r.predicted, best, 1e-9 * best) << "budget " << budget;
    // The reported assignment is the one predicted: its errors sum to it and its costs fit.
    std::int64_t cost = map_bits * static_cast<std::int64_t>(units.size());
    double error = 0.0;
    std::string mix;
    for (std::size_t u = 0; u < units.size(); ++u) {
      const std::size_t i = units[u].point / 2;
      ASSERT_EQ(r.choices[i].row_schemes.size(), i == 0 ? 3u : 2u);
      const std::size_t k = index_of(cands, r.choices[i].row_schemes[static_cast<std::size_t>(units[u].row)]);
      cost += bits[u][k];
      error += err[u][k];
      mix += std::to_string(k);
    }
    distinct_mixes.insert(mix);
    EXPECT_LE(cost, budget);
    EXPECT_LE(r.total_bits, cost);  // rows sharing a scheme are stored together: never more
    EXPECT_NEAR(error, r.predicted, 1e-12 * r.predicted) << "budget " << budget;
    ++solved;
  }
  EXPECT_GT(infeasible, 0);
  EXPECT_GT(solved, 150);
  EXPECT_GT(distinct_mixes.size(), 8u) << "the budgets should walk through many per-row mixes";
}

// Per row, with free row maps, can express every per-layer choice at the same cost, so it never
// predicts worse. On a single linear layer the output MSE is additive over the weight's rows
// (output channel r depends on row r only), so the per-row and per-layer predictions measure
// the same thing and compare directly.
TEST(MixedPrecisionRows, PerRowNeverWorseThanPerLayer) {
  eigenq::MlpModel one;
  one.add_layer("fc", eigenq_test::random_matrix(6, 32, 51, 0.4f), eigenq_test::random_matrix(6, 1, 52, 0.1f), false);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(64, 32, 53);
  eigenq::MixedPrecisionOptions layer;
  layer.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16),
                      eigenq::schemes::int2_per_group(16)};
  layer.front_samples = 1;
  eigenq::MixedPrecisionOptions rows = layer;
  rows.rows_per_block = 1;
  rows.row_map_bits = 0;
  // Per row of 32 inputs: int8 36 bytes, int4-g16 24, int2-g16 16.
  int strictly_better = 0;
  for (const std::int64_t budget : {6 * 128, 6 * 150, 6 * 192, 6 * 200, 6 * 250, 6 * 288, 6 * 300}) {
    const eigenq::Budget b = eigenq::Budget::bytes(budget / 8);
    const auto a = eigenq::choose_mixed_precision(one, x, b, layer);
    const auto r = eigenq::choose_mixed_precision(one, x, b, rows);
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(r.cost[0][k], a.cost[0][k]);
      EXPECT_NEAR(r.sensitivity[0][k], a.sensitivity[0][k], 1e-9 * a.sensitivity[0][k]) << "additive over rows";
    }
    EXPECT_LE(r.predicted, a.predicted * (1 + 1e-9)) << budget;
    EXPECT_LE(r.total_bits, r.budget_bits);
    strictly_better += r.predicted < a.predicted * (1 - 1e-6);
  }
  // Between two candidates' costs the layer takes the cheaper for every row; rows can split.
  EXPECT_GE(strictly_better, 2);

  // On a deeper model the per-row prediction sums row sensitivities, which need not add up to a
  // layer's; the guarantee is against the per-layer choice priced by the row mode's own tables.
  const eigenq::MlpModel m = eigenq_test::toy_mlp(9);
  const Eigen::MatrixXf xm = eigenq_test::random_matrix(48, 16, 54);
  for (const double bpw : {4.5, 5.5, 7.0, 9.0}) {
    const auto a = eigenq::choose_mixed_precision(m, xm, eigenq::Budget::average_bits(bpw), layer);
    const auto r = eigenq::choose_mixed_precision(m, xm, eigenq::Budget::average_bits(bpw), rows);
    double same_choice = 0.0;
    std::int64_t same_cost = 0;
    for (std::size_t i = 0; i < a.choices.size(); ++i) {
      const std::size_t k = index_of(layer.candidates, a.choices[i].scheme);
      same_choice += r.sensitivity[i][k];
      same_cost += r.cost[i][k];
    }
    ASSERT_LE(same_cost, r.budget_bits);  // the per-layer choice fits the row mode's budget
    EXPECT_LE(r.predicted, same_choice * (1 + 1e-9)) << bpw;
  }
}

// Row mode takes float candidates; their rows stay exact.
TEST(MixedPrecisionRows, FloatCandidateRows) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(11);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(32, 16, 25);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int4_per_group(16), eigenq::float_scheme()};
  opt.rows_per_block = 4;
  opt.front_samples = 1;
  const auto loose = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(40.0), opt);
  for (const auto& c : loose.choices) {
    for (const std::string& n : c.row_schemes) EXPECT_EQ(n, "float32") << c.point;
  }
  EXPECT_EQ(loose.measured, 0.0);
  EXPECT_EQ(loose.total_bits, 32 * loose.weights + 8 * 72);
  const auto mid = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(12.0), opt);
  std::size_t float_rows = 0, int_rows = 0;
  for (const auto& c : mid.choices) {
    for (const std::string& n : c.row_schemes) (n == "float32" ? float_rows : int_rows) += 1;
  }
  EXPECT_GT(float_rows, 0u);
  EXPECT_GT(int_rows, 0u);
  EXPECT_LE(mid.total_bits, mid.budget_bits);
}

TEST(MixedPrecisionRows, RejectsWhatRowModeCannotDo) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(12);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(16, 16, 26);
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::uint8_per_tensor()};
  opt.rows_per_block = 1;
  const eigenq::Budget loose = eigenq::Budget::average_bits(16.0);
  try {
    eigenq::choose_mixed_precision(m, x, loose, opt);
    FAIL() << "a per-tensor candidate was accepted per row";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'uint8-per-tensor'"), std::string::npos) << e.what();
  }
  // Columns (per input channel) or groups across rows are not row-independent either.
  opt.candidates = {eigenq::schemes::int8_per_channel(),
                    eigenq::make_scheme("int8-per-input", eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel>(
                                                               eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{1}))};
  try {
    eigenq::choose_mixed_precision(m, x, loose, opt);
    FAIL() << "a per-input-channel candidate was accepted per row";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'int8-per-input'"), std::string::npos) << e.what();
  }
  // The same candidates are fine per layer.
  opt.rows_per_block = 0;
  EXPECT_NO_THROW(eigenq::choose_mixed_precision(m, x, loose, opt));
  // A per-point override is checked too, and named.
  opt.rows_per_block = 2;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(16)};
  opt.per_point["fc2.weight"] = {eigenq::schemes::uint8_per_tensor()};
  try {
    eigenq::choose_mixed_precision(m, x, loose, opt);
    FAIL() << "a per-tensor override was accepted per row";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("fc2.weight"), std::string::npos) << e.what();
  }
  opt.per_point.clear();
  EXPECT_NO_THROW(eigenq::choose_mixed_precision(m, x, loose, opt));
  opt.rows_per_block = -1;
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, loose, opt), eigenq::InvalidArgument);
  opt.rows_per_block = 1;
  opt.row_map_bits = -1;
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, loose, opt), eigenq::InvalidArgument);
  // 72 rows x 64 bits of row map = 4608 bits; 1792 weights at 2 bits each = 3584 bits.
  opt.row_map_bits = 64;
  try {
    eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(2.0), opt);
    FAIL() << "a budget smaller than the row maps was accepted";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("row maps"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("4608"), std::string::npos) << e.what();
  }
  // The maps fit but no mix does: infeasible, as in layer mode.
  opt.row_map_bits = 8;
  EXPECT_THROW(eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(4.0), opt), eigenq::InvalidArgument);
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
