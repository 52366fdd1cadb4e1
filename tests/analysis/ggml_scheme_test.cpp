// ggml block types as analysis schemes (analysis/ggml_scheme.hpp): the scheme is ggml's
// quantizer and to_float, its storage ggml's row size, and the sensitivity analysis and the
// exact mixed-precision search take ggml candidates next to eigenq's own on the toy models.
#include "eigenq/analysis/ggml_scheme.hpp"
#include "eigenq/analysis/mixed_precision.hpp"
#include "eigenq/analysis/sensitivity.hpp"

#include "analysis_test_util.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;
using eigenq::Scheme;

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<float> values(const Eigen::MatrixXf& m) { return std::vector<float>(m.data(), m.data() + m.size()); }

::testing::AssertionResult same_bits(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return ::testing::AssertionFailure() << "shapes differ";
  return eigenq_test::same_bits(values(a), values(b));
}

std::vector<float> positive_importance(Index n, std::uint32_t seed) {
  const Eigen::MatrixXf r = eigenq_test::random_matrix(n, 1, seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = 0.05f + r(i, 0) * r(i, 0);
  return v;
}

// What ggml does to x, written out with the row entry points: quantize_rows on the row-major
// matrix, dequantize_row on each row.
Eigen::MatrixXf ggml_round_trip(gg::Type t, const Eigen::MatrixXf& x, const float* importance) {
  const RowMajor rm = x;
  std::vector<std::uint8_t> q(static_cast<std::size_t>(x.rows() * gg::row_size(t, x.cols())));
  gg::quantize_rows(t, rm.data(), q.data(), x.rows(), x.cols(), importance);
  RowMajor back(x.rows(), x.cols());
  for (Index r = 0; r < x.rows(); ++r) {
    gg::dequantize_row(t, q.data() + r * gg::row_size(t, x.cols()), back.data() + r * x.cols(), x.cols());
  }
  return back;
}

TEST(GgmlScheme, IsGgmlsQuantizerAndRowSize) {
  const Eigen::MatrixXf x = eigenq_test::normal_matrix(6, 512, 3);
  const std::vector<float> imp = positive_importance(512, 4);
  for (const gg::Type t : {gg::Type::q8_0, gg::Type::q4_0, gg::Type::q4_K, gg::Type::q6_K, gg::Type::iq4_nl,
                           gg::Type::iq4_xs, gg::Type::mxfp4, gg::Type::f16}) {
    SCOPED_TRACE(gg::type_name(t));
    for (const bool weighted : {false, true}) {
      const Scheme s = weighted ? eigenq::ggml_scheme(t, imp) : eigenq::ggml_scheme(t);
      EXPECT_EQ(s.name, std::string(gg::type_name(t)) + (weighted && gg::uses_importance(t) ? "+imatrix" : ""));
      EXPECT_TRUE(s.rows_independent);
      EXPECT_FALSE(s.is_float());
      Eigen::MatrixXf y = x;
      s.apply(y);
      EXPECT_TRUE(same_bits(y, ggml_round_trip(t, x, weighted ? imp.data() : nullptr)));
      EXPECT_EQ(s.bits_for(x), 8 * 6 * gg::row_size(t, 512));
    }
  }
  EXPECT_EQ(eigenq::ggml_scheme(gg::Type::q4_K).bits_for(x), 6 * 512 * 9 / 2);  // 4.5 bits per weight
  EXPECT_EQ(eigenq::ggml_scheme(gg::Type::q8_0).bits_for(x), 6 * 512 * 17 / 2);  // 8.5
}

TEST(GgmlScheme, RowsQuantizeIndependently) {
  const Eigen::MatrixXf x = eigenq_test::normal_matrix(9, 256, 5);
  const Scheme s = eigenq::ggml_scheme(gg::Type::q4_K, positive_importance(256, 6));
  Eigen::MatrixXf whole = x;
  s.apply(whole);
  const Scheme block = eigenq::row_block_scheme(s, 2, 4);
  Eigen::MatrixXf part = x;
  block.apply(part);
  EXPECT_TRUE(same_bits(Eigen::MatrixXf(part.middleRows(2, 4)), Eigen::MatrixXf(whole.middleRows(2, 4))));
  EXPECT_TRUE(same_bits(Eigen::MatrixXf(part.topRows(2)), Eigen::MatrixXf(x.topRows(2))));
  EXPECT_EQ(block.bits_for(x), 8 * 4 * 144);
  EXPECT_TRUE(block.rows_independent);
}

TEST(GgmlScheme, RefusesRowsThatAreNotWholeBlocks) {
  Eigen::MatrixXf x = eigenq_test::normal_matrix(4, 96, 7);
  const Scheme q4k = eigenq::ggml_scheme(gg::Type::q4_K);
  EXPECT_THROW_WITH(q4k.apply(x), eigenq::InvalidArgument,
                    "scheme q4_K: rows of 96 elements are not a whole number of q4_K blocks of 256");
  EXPECT_THROW_WITH(q4k.bits_for(x), eigenq::InvalidArgument, "not a whole number of q4_K blocks");
  const Scheme q8 = eigenq::ggml_scheme(gg::Type::q8_0, positive_importance(64, 1));
  EXPECT_THROW_WITH(q8.apply(x), eigenq::InvalidArgument, "scheme q8_0: 64 importance values for rows of 96 elements");
  EXPECT_THROW_WITH(eigenq::ggml_scheme(gg::Type::iq2_xxs), eigenq::InvalidArgument, "iq2_xxs is not supported");
}

// On the analysis tests' toy MLP (16 -> 32 -> 32 -> 8), ggml's 32-element blocks fit the
// 32-input layers fc2 and fc3: sensitivity with them there, eigenq's own on fc1.
TEST(GgmlScheme, SensitivityOnTheToyMlp) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(3);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(64, 16, 8);
  const std::vector<gg::Type> types = {gg::Type::q8_0, gg::Type::q4_0, gg::Type::iq4_nl, gg::Type::mxfp4};
  double previous = -1.0;
  for (const gg::Type t : types) {
    SCOPED_TRACE(gg::type_name(t));
    eigenq::SensitivityOptions opt;
    opt.include_activations = false;
    opt.weight_scheme = eigenq::ggml_scheme(t);
    opt.per_point["fc1.weight"] = eigenq::schemes::int4_per_group(16);
    const auto rep = eigenq::analyze_sensitivity(m, x, opt);
    ASSERT_EQ(rep.ranked.size(), 3u);
    for (const auto& p : rep.ranked) {
      const std::size_t point = p.point == "fc1.weight" ? 0 : p.point == "fc2.weight" ? 2 : 4;
      const Scheme& s = p.point == "fc1.weight" ? opt.per_point["fc1.weight"] : opt.weight_scheme;
      EXPECT_EQ(p.scheme, s.name);
      EXPECT_DOUBLE_EQ(p.score, eigenq_test::only_point(m, x, point, s)) << p.point;
    }
    // q8_0 hurts least; the 4-bit types more.
    const auto fc2 = std::find_if(rep.ranked.begin(), rep.ranked.end(), [](const auto& p) { return p.point == "fc2.weight"; });
    if (t == gg::Type::q8_0) previous = fc2->score;
    else EXPECT_GT(fc2->score, 10.0 * previous) << rep.to_table();
  }
}

// A brute force over every assignment of candidates to points, from the result's own
// sensitivity and cost tables: the smallest summed sensitivity within the budget.
double brute_force_best(const eigenq::MixedPrecisionResult& r) {
  const std::size_t points = r.sensitivity.size();
  std::vector<std::size_t> pick(points, 0);
  double best = std::numeric_limits<double>::infinity();
  while (true) {
    std::int64_t bits = 0;
    double error = 0.0;
    for (std::size_t p = 0; p < points; ++p) {
      bits += r.cost[p][pick[p]];
      error += r.sensitivity[p][pick[p]];
    }
    if (bits <= r.budget_bits) best = std::min(best, error);
    std::size_t p = 0;
    while (p < points && ++pick[p] == r.sensitivity[p].size()) pick[p++] = 0;
    if (p == points) return best;
  }
}

// The exact search with ggml's q8_0, q4_K, q6_K, iq4_nl (and q4_K with importance) next to
// eigenq's int8 per channel and int4 per group, on a toy MLP with rows of 256 inputs.
TEST(GgmlScheme, MixedPrecisionWithGgmlCandidates) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp_256(9);
  // Inputs with a few loud channels (every 16th, 20x the others), where importance matters.
  Eigen::MatrixXf x = eigenq_test::random_matrix(64, 256, 10);
  for (Index j = 0; j < x.cols(); ++j) x.col(j) *= j % 16 == 0 ? 4.0f : 0.2f;
  // Importance as llama-imatrix computes it for fc1 (its inputs' mean squares); for the other
  // layers a scheme per point.
  Eigen::VectorXf in_sum2 = x.colwise().squaredNorm().transpose() / static_cast<float>(x.rows());
  const std::vector<float> imp(in_sum2.data(), in_sum2.data() + in_sum2.size());
  eigenq::MixedPrecisionOptions opt;
  opt.candidates = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(32),
                    eigenq::ggml_scheme(gg::Type::q8_0),  eigenq::ggml_scheme(gg::Type::q6_K),
                    eigenq::ggml_scheme(gg::Type::q4_K),  eigenq::ggml_scheme(gg::Type::iq4_nl)};
  opt.per_point["fc1.weight"] = opt.candidates;
  opt.per_point["fc1.weight"].push_back(eigenq::ggml_scheme(gg::Type::q4_K, imp));
  opt.measure_front = false;  // not checked here; each front point is a model run
  const Eigen::MatrixXf ref = m.forward(x);
  // One sensitivity table serves every budget (choose_mixed_precision's list overload).
  const std::vector<double> bpws = {4.5, 5.0, 6.0, 7.0, 8.6, 9.5};
  std::vector<eigenq::Budget> budgets;
  for (const double bpw : bpws) budgets.push_back(eigenq::Budget::average_bits(bpw));
  const std::vector<eigenq::MixedPrecisionResult> results = eigenq::choose_mixed_precision(m, x, budgets, opt);
  ASSERT_EQ(results.size(), bpws.size());
  int ggml_chosen = 0;
  for (std::size_t b = 0; b < bpws.size(); ++b) {
    SCOPED_TRACE(bpws[b]);
    const auto& r = results[b];
    ASSERT_EQ(r.choices.size(), 3u);
    EXPECT_LE(r.total_bits, r.budget_bits);
    // Costs are ggml's row sizes (and eigenq's storage); sensitivities the one-point errors,
    // which do not depend on the budget: checked once (each is a model run per candidate).
    for (std::size_t p = 0; p < 3 && b == 0; ++p) {
      const auto& cands = p == 0 ? opt.per_point["fc1.weight"] : opt.candidates;
      ASSERT_EQ(r.cost[p].size(), cands.size());
      for (std::size_t k = 0; k < cands.size(); ++k) {
        EXPECT_EQ(r.cost[p][k], cands[k].bits_for(m.weight(2 * p)));
        EXPECT_DOUBLE_EQ(r.sensitivity[p][k], eigenq_test::only_point(m, x, 2 * p, cands[k])) << cands[k].name;
      }
    }
    EXPECT_EQ(r.cost[1][4], 8 * 256 * 144);  // q4_K: 144 bytes per row of 256
    EXPECT_DOUBLE_EQ(r.predicted, brute_force_best(r)) << r.candidates_table();
    // The chosen mix, run end to end.
    eigenq::PointSchemes config(m.quant_points().size());
    for (std::size_t p = 0; p < 3; ++p) {
      const auto& cands = p == 0 ? opt.per_point["fc1.weight"] : opt.candidates;
      const auto it = std::find_if(cands.begin(), cands.end(), [&](const Scheme& s) { return s.name == r.choices[p].scheme; });
      ASSERT_NE(it, cands.end());
      config.set(2 * p, &*it);
      ggml_chosen += it->name.find('_') != std::string::npos ? 1 : 0;  // q8_0, q4_K, q6_K, iq4_nl
    }
    EXPECT_DOUBLE_EQ(r.measured, eigenq::compare(ref, m.forward(x, config)).mse);
  }
  EXPECT_GT(ggml_chosen, 0) << "some budget picks a ggml type";
  // Importance helps q4_K on the layer it was measured for.
  EXPECT_LT(results.back().sensitivity[0][6], results.back().sensitivity[0][4]) << results.back().candidates_table();

  // Per output channel (blocks of 64 rows): ggml rows are independent, so row mode takes them.
  opt.rows_per_block = 64;
  const auto rows = eigenq::choose_mixed_precision(m, x, eigenq::Budget::average_bits(6.0), opt);
  EXPECT_LE(rows.total_bits, rows.budget_bits);
  for (std::size_t p = 0; p < rows.choices.size(); ++p) {
    EXPECT_EQ(static_cast<Index>(rows.choices[p].row_schemes.size()), m.weight(2 * p).rows());
  }
}

}  // namespace
