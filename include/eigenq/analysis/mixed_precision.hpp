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
// 2. The choice: minimize sum sensitivity subject to sum bits <= budget. Exact, by dynamic
//    programming over the points with a Pareto-pruned list of (bits, error) states: a
//    partial assignment that is no cheaper and no better than another can never complete
//    an optimal one, so dropping it loses nothing. Costs are integers (bits), so no
//    rounding of the budget is involved.
// 3. The chosen mix runs end to end; its measured degradation and output metrics are
//    reported beside the predicted (summed) one.
// The Pareto front is the DP's final state list: every assignment not dominated in
// (bits, predicted error), each also measured end to end.
// Per output channel (options.rows_per_block = 1, or R for blocks of R rows): the DP's units
// are blocks of rows instead of whole points, each measured with only its rows quantized;
// candidates must quantize rows independently, and the row -> scheme map is charged
// row_map_bits per row. choices[p].row_schemes feeds nn::quantize_mixed_per_channel.
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

#include "eigenq/analysis/json_writer.hpp"
#include "eigenq/analysis/metrics.hpp"
#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/output_metric.hpp"
#include "eigenq/analysis/scheme.hpp"
#include "eigenq/core/error.hpp"

namespace eigenq {

// One candidate of one point: its cost in bits and its (predicted) error.
struct ChoiceOption {
  std::int64_t cost = 0;
  double error = 0.0;
};

// An assignment: option index per point, its total cost and summed error.
struct MixedSolution {
  std::vector<std::size_t> choice;
  std::int64_t cost = 0;
  double error = 0.0;
};

namespace detail {

struct ParetoState {
  std::int64_t cost;
  double error;
  std::size_t parent;  // index into the previous point's state list
  std::size_t option;  // option chosen for this point
};

// Pareto-pruned DP. Keeps only states with cost <= budget - (cheapest completion).
// Returns one state list per point (for back-tracking); the last is the front.
inline std::vector<std::vector<ParetoState>> pareto_dp(const std::vector<std::vector<ChoiceOption>>& options,
                                                       std::int64_t budget) {
  const std::size_t n = options.size();
  std::vector<std::int64_t> min_rest(n + 1, 0);  // cheapest cost of points p..n-1
  for (std::size_t p = n; p-- > 0;) {
    if (options[p].empty()) raise("mixed precision: point ", p, " has no candidate options");
    std::int64_t cheapest = std::numeric_limits<std::int64_t>::max();
    for (const ChoiceOption& o : options[p]) {
      if (o.cost < 0) raise("mixed precision: point ", p, " has an option of negative cost ", o.cost);
      if (!std::isfinite(o.error)) raise("mixed precision: point ", p, " has an option of non-finite error ", o.error);
      cheapest = std::min(cheapest, o.cost);
    }
    if (min_rest[p + 1] > std::numeric_limits<std::int64_t>::max() - cheapest) raise("mixed precision: cost overflow");
    min_rest[p] = min_rest[p + 1] + cheapest;
  }
  if (min_rest[0] > budget) {
    raise("mixed precision: the budget of ", budget, " bits is infeasible: the cheapest choice for every point needs ",
          min_rest[0], " bits");
  }
  std::vector<std::vector<ParetoState>> lists;
  std::vector<ParetoState> current{{0, 0.0, 0, 0}};
  for (std::size_t p = 0; p < n; ++p) {
    std::vector<ParetoState> next;
    next.reserve(current.size() * options[p].size());
    for (std::size_t s = 0; s < current.size(); ++s) {
      for (std::size_t k = 0; k < options[p].size(); ++k) {
        const ChoiceOption& o = options[p][k];
        const std::int64_t cost = current[s].cost + o.cost;
        if (cost > budget - min_rest[p + 1]) continue;
        next.push_back({cost, current[s].error + o.error, s, k});
      }
    }
    std::sort(next.begin(), next.end(), [](const ParetoState& a, const ParetoState& b) {
      if (a.cost != b.cost) return a.cost < b.cost;
      if (a.error != b.error) return a.error < b.error;
      if (a.parent != b.parent) return a.parent < b.parent;
      return a.option < b.option;
    });
    std::vector<ParetoState> kept;
    for (const ParetoState& st : next) {
      if (kept.empty() || st.error < kept.back().error) kept.push_back(st);  // strictly better than every cheaper one
    }
    lists.push_back(kept);
    current = std::move(kept);
  }
  return lists;
}

inline MixedSolution backtrack(const std::vector<std::vector<ParetoState>>& lists, std::size_t index) {
  MixedSolution sol;
  sol.choice.assign(lists.size(), 0);
  if (lists.empty()) return sol;
  sol.cost = lists.back()[index].cost;
  sol.error = lists.back()[index].error;
  for (std::size_t p = lists.size(); p-- > 0;) {
    const ParetoState& st = lists[p][index];
    sol.choice[p] = st.option;
    index = st.parent;
  }
  return sol;
}

}  // namespace detail

// The assignment of least summed error whose summed cost is within budget (bits).
// Throws InvalidArgument when no assignment fits. Ties: the cheaper assignment.
inline MixedSolution solve_min_error(const std::vector<std::vector<ChoiceOption>>& options, std::int64_t budget) {
  const auto lists = detail::pareto_dp(options, budget);
  if (lists.empty()) return {};
  // The front is sorted by cost with strictly decreasing error: the last state is best.
  return detail::backtrack(lists, lists.back().size() - 1);
}

// Every assignment not dominated in (cost, error), by increasing cost (decreasing error).
inline std::vector<MixedSolution> pareto_front(const std::vector<std::vector<ChoiceOption>>& options) {
  const auto lists = detail::pareto_dp(options, std::numeric_limits<std::int64_t>::max());
  std::vector<MixedSolution> out;
  if (lists.empty()) return out;
  for (std::size_t i = 0; i < lists.back().size(); ++i) out.push_back(detail::backtrack(lists, i));
  return out;
}

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
  // Granularity of the choice. 0: one scheme per weight point (layer). R > 0: one scheme per
  // block of R consecutive rows (output channels) of each weight [out, in]; R = 1 chooses per
  // channel. Every candidate must then quantize rows independently
  // (Scheme::rows_independent), so the rows that share a scheme can be stored together.
  Index rows_per_block = 0;
  // With rows_per_block > 0: the bits each row needs to say which scheme it uses, counted in
  // the budget (nn::ChannelMixedLinear stores one byte per row).
  int row_map_bits = 8;
};

struct PointChoice {
  std::string point;
  std::string scheme;                    // with rows_per_block > 0: a summary ("int4-g32:90 int3-g32:38")
  std::vector<std::string> row_schemes;  // with rows_per_block > 0: the scheme of every row
  Index elements = 0;
  std::int64_t bits = 0;
  double sensitivity = 0.0;  // this point's predicted share
};

struct ParetoPoint {
  std::int64_t bits = 0;
  double bits_per_weight = 0.0;
  double predicted = 0.0;       // summed sensitivity
  double measured = 0.0;        // the metric of the mixed model, end to end
  ErrorMetrics output;          // mixed model output against the float output
  std::vector<std::string> schemes;  // per selected point
};

struct MixedPrecisionResult {
  std::string metric;
  Index rows_per_block = 0;        // as given: 0 chose per layer
  std::string budget;              // as given
  std::int64_t budget_bits = 0;
  std::int64_t total_bits = 0;     // of the chosen mix (with the row maps, if any)
  Index weights = 0;               // weights of the selected points
  double bits_per_weight = 0.0;
  double predicted = 0.0;
  double measured = 0.0;
  ErrorMetrics output;
  std::vector<PointChoice> choices;
  // sensitivity[p][k] and cost[p][k]: point p (of choices) with its candidate k (per row
  // block: summed over the point's blocks, i.e. the whole point under candidate k).
  std::vector<std::vector<std::string>> candidate_names;
  std::vector<std::vector<double>> sensitivity;
  std::vector<std::vector<std::int64_t>> cost;
  std::vector<ParetoPoint> front;  // by increasing bits

  std::string to_table() const {
    std::string out;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-24s %-18s %10s %12s %8s %14s\n", "point", "scheme", "weights", "bits",
                  "bits/w", ("d_" + metric).c_str());
    out += buf;
    for (const PointChoice& c : choices) {
      std::snprintf(buf, sizeof buf, "%-24s %-18s %10lld %12lld %8.3f %14.6e\n", c.point.c_str(), c.scheme.c_str(),
                    static_cast<long long>(c.elements), static_cast<long long>(c.bits),
                    c.elements ? static_cast<double>(c.bits) / static_cast<double>(c.elements) : 0.0, c.sensitivity);
      out += buf;
    }
    std::snprintf(buf, sizeof buf,
                  "budget %s = %lld bits; chosen %lld bits (%.3f bits/weight)\n"
                  "predicted %s %.6e, measured %.6e, output sqnr %s dB\n",
                  budget.c_str(), static_cast<long long>(budget_bits), static_cast<long long>(total_bits),
                  bits_per_weight, metric.c_str(), predicted, measured,
                  ErrorMetrics::format_db(output.sqnr_db).c_str());
    out += buf;
    return out;
  }

  // Every measured (point, candidate): its bits per weight and its sensitivity.
  std::string candidates_table() const {
    std::string out;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-24s %-20s %12s %8s %14s\n", "point", "candidate", "bits", "bits/w",
                  ("d_" + metric).c_str());
    out += buf;
    for (std::size_t p = 0; p < choices.size(); ++p) {
      for (std::size_t k = 0; k < candidate_names[p].size(); ++k) {
        const double per = choices[p].elements ? static_cast<double>(cost[p][k]) / static_cast<double>(choices[p].elements) : 0.0;
        std::snprintf(buf, sizeof buf, "%-24s %-20s %12lld %8.3f %14.6e\n", k == 0 ? choices[p].point.c_str() : "",
                      candidate_names[p][k].c_str(), static_cast<long long>(cost[p][k]), per, sensitivity[p][k]);
        out += buf;
      }
    }
    return out;
  }

  // The Pareto front as a table: bits/weight, predicted and measured degradation, SQNR.
  std::string front_table() const {
    std::string out;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%8s %12s %14s %14s %9s  %s\n", "bits/w", "bits", "predicted", "measured",
                  "sqnr_db", "schemes");
    out += buf;
    for (const ParetoPoint& f : front) {
      std::string names;
      for (const std::string& s : f.schemes) names += (names.empty() ? "" : ",") + s;
      std::snprintf(buf, sizeof buf, "%8.3f %12lld %14.6e %14.6e %9s  ", f.bits_per_weight,
                    static_cast<long long>(f.bits), f.predicted, f.measured,
                    ErrorMetrics::format_db(f.output.sqnr_db).c_str());
      out += buf + names + "\n";
    }
    return out;
  }

  // Everything above as JSON; non-finite numbers are null.
  std::string to_json() const {
    JsonWriter w;
    w.begin_object()
        .key("metric").value(metric)
        .key("budget").value(budget)
        .key("budget_bits").value(static_cast<long long>(budget_bits))
        .key("total_bits").value(static_cast<long long>(total_bits))
        .key("weights").value(static_cast<long long>(weights))
        .key("bits_per_weight").value(bits_per_weight)
        .key("predicted").value(predicted)
        .key("measured").value(measured)
        .key("output");
    output.write_json(w);
    w.key("choices").begin_array();
    for (std::size_t p = 0; p < choices.size(); ++p) {
      const PointChoice& c = choices[p];
      w.begin_object()
          .key("point").value(c.point)
          .key("scheme").value(c.scheme)
          .key("elements").value(static_cast<long long>(c.elements))
          .key("bits").value(static_cast<long long>(c.bits))
          .key("sensitivity").value(c.sensitivity)
          .key("candidates").begin_array();
      for (std::size_t k = 0; k < candidate_names[p].size(); ++k) {
        w.begin_object()
            .key("scheme").value(candidate_names[p][k])
            .key("bits").value(static_cast<long long>(cost[p][k]))
            .key("sensitivity").value(sensitivity[p][k])
            .end_object();
      }
      w.end_array().end_object();
    }
    w.end_array().key("front").begin_array();
    for (const ParetoPoint& f : front) {
      w.begin_object()
          .key("bits").value(static_cast<long long>(f.bits))
          .key("bits_per_weight").value(f.bits_per_weight)
          .key("predicted").value(f.predicted)
          .key("measured").value(f.measured)
          .key("output");
      f.output.write_json(w);
      w.key("schemes").begin_array();
      for (const std::string& s : f.schemes) w.value(s);
      w.end_array().end_object();
    }
    w.end_array().end_object();
    return w.str();
  }
};

inline MixedPrecisionResult choose_mixed_precision(const QuantizableModel& model, const Eigen::MatrixXf& calibration,
                                                   const Budget& budget, const MixedPrecisionOptions& options) {
  if (calibration.size() == 0) raise<ShapeError>("choose_mixed_precision: empty calibration batch");
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

  const Eigen::MatrixXf reference = model.forward(calibration);
  MixedPrecisionResult r;
  r.metric = options.metric.name;
  r.budget = budget.describe();
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

  // 2. The exact choice under the budget (less the row maps), 3. verified end to end.
  r.budget_bits = budget.bits_for(r.weights);
  if (map_bits > r.budget_bits) {
    raise("mixed precision: the budget of ", r.budget_bits, " bits cannot even hold the row maps (", map_bits, " bits)");
  }
  const MixedSolution best = solve_min_error(table, r.budget_bits - map_bits);
  ParetoPoint chosen;
  std::vector<std::int64_t> chosen_bits;
  measure(best, chosen, &chosen_bits);
  r.total_bits = chosen.bits;
  r.bits_per_weight = chosen.bits_per_weight;
  r.predicted = best.error;
  r.measured = chosen.measured;
  r.output = chosen.output;
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
    r.choices.push_back(std::move(c));
  }

  // The Pareto front, sampled evenly when long, each point measured.
  const std::vector<MixedSolution> front = pareto_front(table);
  std::vector<std::size_t> picks;
  const std::size_t n = front.size();
  const std::size_t want = options.front_samples == 0 ? n : std::min(n, options.front_samples);
  for (std::size_t k = 0; k < want; ++k) {
    const std::size_t idx = want == 1 ? n - 1 : (k * (n - 1)) / (want - 1);
    if (picks.empty() || picks.back() != idx) picks.push_back(idx);
  }
  for (std::size_t idx : picks) {
    ParetoPoint f;
    measure(front[idx], f);
    r.front.push_back(std::move(f));
  }
  return r;
}

}  // namespace eigenq
