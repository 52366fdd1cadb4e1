// Mixed precision: one scheme per weight point, minimizing the summed sensitivity under a
// size budget, solved exactly, then verified by running the mixed model end to end.
//
//   eigenq::MixedPrecisionOptions opt;
//   opt.candidates = {schemes::int8_per_channel(), schemes::int4_per_group(32),
//                     schemes::int2_per_group(32)};
//   auto r = eigenq::choose_mixed_precision(mlp, X_calib, eigenq::Budget::average_bits(4.5), opt);
//   std::cout << r.to_table();   // per point: scheme, bits; predicted and measured error
//   r.front                      // Pareto front (size vs predicted and measured error)
//
// 1. Sensitivity of every (point, candidate): the model with only that point quantized
//    with that candidate, scored by the metric against the float output (one_at_a_time).
//    Its cost is the exact storage of the quantized weight in bits (codes + parameters).
// 2. The choice: minimize sum sensitivity subject to sum bits <= budget, exactly
//    (solve_min_error, pareto_knapsack.hpp).
// 3. The chosen mix runs end to end; its measured degradation and output metrics are
//    reported beside the predicted (summed) one (MixedPrecisionResult,
//    mixed_precision_result.hpp).
// The Pareto front (pareto_front): every assignment not dominated in (bits, predicted
// error), each also measured end to end.
// Per output channel (options.rows_per_block = 1, or R for blocks of R rows): the DP's units
// are blocks of rows instead of whole points, each measured with only its rows quantized;
// candidates must quantize rows independently, and the row -> scheme map is charged
// row_map_bits per row. choices[p].row_schemes feeds nn::quantize_mixed_per_channel.
// Candidates may read calibration statistics (GPTQ, AWQ, weighted rounding:
// method_schemes.hpp), so one search can choose GPTQ int3 for one layer and int8 for another:
// they get their point's statistics from options.statistics, or collected on the calibration
// batch. Several budgets share one sensitivity table: choose_mixed_precision(model, X,
// {Budget::average_bits(3.5), Budget::average_bits(4)}, opt) returns one result per budget.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/metrics.hpp"
#include "eigenq/analysis/mixed_precision_result.hpp"
#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/output_metric.hpp"
#include "eigenq/analysis/pareto_knapsack.hpp"
#include "eigenq/analysis/point_statistics.hpp"
#include "eigenq/analysis/scheme.hpp"
#include "eigenq/core/error.hpp"

namespace eigenq {

// A size budget for the selected weight points.
class Budget {
 public:
  static Budget average_bits(double bits_per_weight) {
    if (!(bits_per_weight > 0.0) || !std::isfinite(bits_per_weight)) {
      raise("Budget: average bits per weight = ", bits_per_weight, " must be positive and finite");
    }
    Budget b;
    b.bits_per_weight_ = bits_per_weight;
    return b;
  }
  static Budget bytes(std::int64_t bytes) {
    if (bytes <= 0 || bytes > std::numeric_limits<std::int64_t>::max() / 8) {
      raise("Budget: ", bytes, " bytes must be positive (and below 2^60)");
    }
    Budget b;
    b.bytes_ = bytes;
    return b;
  }
  // The budget in bits for `weights` weights: floor(bits_per_weight * weights), or bytes * 8.
  std::int64_t bits_for(std::int64_t weights) const {
    if (bytes_ > 0) return 8 * bytes_;
    return static_cast<std::int64_t>(std::floor(bits_per_weight_ * static_cast<double>(weights)));
  }
  std::string describe() const {
    char buf[64];
    if (bytes_ > 0) std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(bytes_));
    else std::snprintf(buf, sizeof buf, "%.4g bits/weight", bits_per_weight_);
    return buf;
  }

 private:
  Budget() = default;
  double bits_per_weight_ = 0.0;
  std::int64_t bytes_ = 0;
};

struct MixedPrecisionOptions {
  std::vector<Scheme> candidates;                         // for every selected point
  std::map<std::string, std::vector<Scheme>> per_point;  // overrides by point name
  std::vector<std::string> points;                            // empty: every weight point
  OutputMetric metric = output_mse_metric();
  std::size_t front_samples = 16;  // Pareto points measured end to end (evenly spread); 0: all
  bool measure_front = true;       // false: no Pareto front (saves its end-to-end runs)
  // Granularity of the choice. 0: one scheme per weight point (layer). R > 0: one scheme per
  // block of R consecutive rows (output channels) of each weight [out, in]; R = 1 chooses per
  // channel. Every candidate must then quantize rows independently
  // (Scheme::rows_independent), so the rows that share a scheme can be stored together.
  Index rows_per_block = 0;
  // With rows_per_block > 0: the bits each row needs to say which scheme it uses, counted in
  // the budget (nn::ChannelMixedLinear stores one byte per row).
  int row_map_bits = 8;
  // Statistics of the weight points' inputs for candidates that need them (by point name);
  // empty: collected from the model on the calibration batch when a candidate needs them.
  PointStatistics statistics;
};

// One result per budget, from one sensitivity table (the Pareto front is the same for all).
inline std::vector<MixedPrecisionResult> choose_mixed_precision(const QuantizableModel& model,
                                                                const Eigen::MatrixXf& calibration,
                                                                const std::vector<Budget>& budgets,
                                                                const MixedPrecisionOptions& options) {
  if (calibration.size() == 0) raise<ShapeError>("choose_mixed_precision: empty calibration batch");
  if (budgets.empty()) raise("choose_mixed_precision: no budget");
  const std::vector<QuantPoint> points = model.quant_points();

  // The selected points and their candidates.
  std::vector<std::size_t> selected;
  if (options.points.empty()) {
    for (std::size_t p = 0; p < points.size(); ++p) {
      if (points[p].kind == PointKind::weight) selected.push_back(p);
    }
  } else {
    for (const std::string& name : options.points) {
      const auto it = std::find_if(points.begin(), points.end(), [&](const QuantPoint& q) { return q.name == name; });
      if (it == points.end()) raise("choose_mixed_precision: '", name, "' is not a point of the model");
      if (it->kind != PointKind::weight) raise("choose_mixed_precision: '", name, "' is an activation point, not a weight");
      selected.push_back(static_cast<std::size_t>(it - points.begin()));
    }
  }
  if (selected.empty()) raise("choose_mixed_precision: the model has no weight points");
  for (const auto& kv : options.per_point) {
    const bool known = std::any_of(selected.begin(), selected.end(), [&](std::size_t p) { return points[p].name == kv.first; });
    if (!known) raise("MixedPrecisionOptions::per_point names '", kv.first, "', which is not a selected weight point");
  }
  std::vector<const std::vector<Scheme>*> candidates;
  for (std::size_t p : selected) {
    const auto it = options.per_point.find(points[p].name);
    const std::vector<Scheme>& c = it != options.per_point.end() ? it->second : options.candidates;
    if (c.empty()) raise("choose_mixed_precision: no candidate schemes for '", points[p].name, "'");
    candidates.push_back(&c);
  }

  const Index rows_per_block = options.rows_per_block;
  if (rows_per_block < 0) raise("MixedPrecisionOptions::rows_per_block = ", rows_per_block, " must be >= 0");
  if (rows_per_block > 0) {
    if (options.row_map_bits < 0) raise("MixedPrecisionOptions::row_map_bits = ", options.row_map_bits, " must be >= 0");
    for (std::size_t i = 0; i < selected.size(); ++i) {
      for (const Scheme& c : *candidates[i]) {
        if (!c.is_float() && !c.rows_independent) {
          raise("choose_mixed_precision: candidate '", c.name, "' for '", points[selected[i]].name,
                "' does not quantize rows independently, so it cannot be chosen per block of ", rows_per_block,
                " rows (use per-channel or in-row group granularity, or rows_per_block = 0)");
        }
      }
    }
  }

  bool needs_statistics = false;
  for (const auto* c : candidates) {
    for (const Scheme& s : *c) needs_statistics |= s.needs_statistics();
  }
  const std::vector<CalibrationStats> statistics = detail::statistics_for_schemes(
      model, points, needs_statistics, options.statistics, calibration, "choose_mixed_precision");
  const std::vector<CalibrationStats>* stats = statistics.empty() ? nullptr : &statistics;

  const Eigen::MatrixXf reference = model.forward(calibration);
  MixedPrecisionResult r;  // what every budget's result shares
  r.metric = options.metric.name;
  r.rows_per_block = rows_per_block;

  // 1. Sensitivity and cost of every (unit, candidate). A unit is a whole point, or a block
  //    of its rows; a block's candidate quantizes those rows only.
  struct Unit {
    std::size_t point;  // index into `selected`
    Index begin;
    Index count;
  };
  std::vector<Unit> units;
  std::vector<Eigen::MatrixXf> weights;
  std::int64_t map_bits = 0;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    weights.push_back(model.weight(selected[i]));
    const Eigen::MatrixXf& w = weights.back();
    r.weights += static_cast<Index>(w.size());
    if (rows_per_block == 0) {
      units.push_back({i, 0, w.rows()});
    } else {
      for (Index b = 0; b < w.rows(); b += rows_per_block) units.push_back({i, b, std::min(rows_per_block, w.rows() - b)});
      map_bits += static_cast<std::int64_t>(options.row_map_bits) * w.rows();
    }
    r.candidate_names.emplace_back();
    for (const Scheme& c : *candidates[i]) r.candidate_names.back().push_back(c.name);
    r.sensitivity.emplace_back(candidates[i]->size(), 0.0);
    r.cost.emplace_back(candidates[i]->size(), 0);
  }
  std::vector<std::vector<ChoiceOption>> table(units.size());
  for (std::size_t u = 0; u < units.size(); ++u) {
    const Unit& unit = units[u];
    const std::vector<Scheme>& cands = *candidates[unit.point];
    for (std::size_t k = 0; k < cands.size(); ++k) {
      const Scheme s = rows_per_block == 0 ? cands[k] : row_block_scheme(cands[k], unit.begin, unit.count);
      PointSchemes config(points.size());
      config.set_statistics(stats);
      config.set(selected[unit.point], &s);
      const double d = options.metric(reference, model.forward(calibration, config));
      const std::int64_t bits = s.bits_for(weights[unit.point]);
      table[u].push_back({bits, d});
      r.sensitivity[unit.point][k] += d;
      r.cost[unit.point][k] += bits;
    }
  }

  // The schemes of one assignment, per selected point.
  auto point_schemes = [&](const MixedSolution& sol) {
    std::vector<Scheme> out;
    for (std::size_t i = 0; i < selected.size(); ++i) {
      const std::vector<Scheme>& cands = *candidates[i];
      if (rows_per_block == 0) {  // units are the points
        out.push_back(cands[sol.choice[i]]);
        continue;
      }
      std::vector<std::size_t> row_choice;
      for (std::size_t u = 0; u < units.size(); ++u) {
        if (units[u].point == i) row_choice.insert(row_choice.end(), static_cast<std::size_t>(units[u].count), sol.choice[u]);
      }
      std::vector<std::size_t> count(cands.size(), 0);
      for (std::size_t k : row_choice) ++count[k];
      std::vector<std::size_t> order(cands.size());
      for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return count[a] > count[b]; });
      std::string summary;
      for (std::size_t k : order) {
        if (count[k] > 0) summary += (summary.empty() ? "" : " ") + cands[k].name + ":" + std::to_string(count[k]);
      }
      out.push_back(per_row_scheme(summary, cands, row_choice));
    }
    return out;
  };

  // Runs the assignment end to end; point_bits (if given) receives each point's storage,
  // its row map included.
  auto measure = [&](const MixedSolution& sol, ParetoPoint& out, std::vector<std::int64_t>* point_bits = nullptr) {
    const std::vector<Scheme> schemes = point_schemes(sol);
    PointSchemes config(points.size());
    config.set_statistics(stats);
    out.bits = 0;
    for (std::size_t i = 0; i < selected.size(); ++i) {
      config.set(selected[i], &schemes[i]);
      out.schemes.push_back(schemes[i].name);
      // Rows sharing a scheme are stored together: at most the sum over their blocks.
      const std::int64_t bits = rows_per_block == 0
                                    ? table[i][sol.choice[i]].cost
                                    : schemes[i].bits_for(weights[i]) +
                                          static_cast<std::int64_t>(options.row_map_bits) * weights[i].rows();
      out.bits += bits;
      if (point_bits) point_bits->push_back(bits);
    }
    const Eigen::MatrixXf mixed = model.forward(calibration, config);
    out.bits_per_weight = static_cast<double>(out.bits) / static_cast<double>(r.weights);
    out.predicted = sol.error;
    out.measured = options.metric(reference, mixed);
    out.output = compare(reference, mixed);
  };

  // 2. The exact choice under each budget (less the row maps), 3. verified end to end.
  std::vector<MixedPrecisionResult> results;
  for (const Budget& budget : budgets) {
    MixedPrecisionResult b = r;
    b.budget = budget.describe();
    b.budget_bits = budget.bits_for(b.weights);
    if (map_bits > b.budget_bits) {
      raise("mixed precision: the budget of ", b.budget_bits, " bits cannot even hold the row maps (", map_bits, " bits)");
    }
    const MixedSolution best = solve_min_error(table, b.budget_bits - map_bits);
    ParetoPoint chosen;
    std::vector<std::int64_t> chosen_bits;
    measure(best, chosen, &chosen_bits);
    b.total_bits = chosen.bits;
    b.bits_per_weight = chosen.bits_per_weight;
    b.predicted = best.error;
    b.measured = chosen.measured;
    b.output = chosen.output;
    for (std::size_t i = 0; i < selected.size(); ++i) {
      PointChoice c;
      c.point = points[selected[i]].name;
      c.scheme = chosen.schemes[i];
      c.elements = points[selected[i]].elements;
      c.bits = chosen_bits[i];
      for (std::size_t u = 0; u < units.size(); ++u) {
        if (units[u].point != i) continue;
        c.sensitivity += table[u][best.choice[u]].error;
        if (rows_per_block > 0) {
          c.row_schemes.insert(c.row_schemes.end(), static_cast<std::size_t>(units[u].count),
                               (*candidates[i])[best.choice[u]].name);
        }
      }
      b.choices.push_back(std::move(c));
    }
    results.push_back(std::move(b));
  }

  // The Pareto front, sampled evenly when long, each point measured.
  if (!options.measure_front) return results;
  const std::vector<MixedSolution> front = pareto_front(table);
  std::vector<std::size_t> picks;
  const std::size_t n = front.size();
  const std::size_t want = options.front_samples == 0 ? n : std::min(n, options.front_samples);
  for (std::size_t k = 0; k < want; ++k) {
    const std::size_t idx = want == 1 ? n - 1 : (k * (n - 1)) / (want - 1);
    if (picks.empty() || picks.back() != idx) picks.push_back(idx);
  }
  std::vector<ParetoPoint> measured_front;
  for (std::size_t idx : picks) {
    ParetoPoint f;
    measure(front[idx], f);
    measured_front.push_back(std::move(f));
  }
  for (MixedPrecisionResult& b : results) b.front = measured_front;
  return results;
}

inline MixedPrecisionResult choose_mixed_precision(const QuantizableModel& model, const Eigen::MatrixXf& calibration,
                                                   const Budget& budget, const MixedPrecisionOptions& options) {
  return std::move(choose_mixed_precision(model, calibration, std::vector<Budget>{budget}, options).front());
}

}  // namespace eigenq
