// Quantization sensitivity: which points of a model hurt its output most when quantized.
//
//   eigenq::SensitivityOptions opt;                 // int8 per-channel weights, uint8 activations
//   auto report = eigenq::analyze_sensitivity(mlp, X_calib, opt);
//   std::cout << report.to_table();                 // most sensitive first
//   std::string json = report.to_json();
//
// The float model runs once on the calibration batch. Then, per point:
//   one_at_a_time:  only that point is quantized (the rest float); score = the metric's
//                   degradation of the output against the float output;
//   leave_one_out:  every point is quantized except that one; score = how much the
//                   degradation drops when the point stays float (baseline - degradation).
// Points are ranked by score, highest first, ties in point order. Everything is
// deterministic: no randomness, no threads, the same batch in the same order every run.
// Schemes that read calibration statistics (GPTQ, AWQ, weighted rounding: method_schemes.hpp)
// get their point's from options.statistics, or, when that is empty, from statistics collected
// on the calibration batch (collect_point_statistics: the model must observe_weight_inputs).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/json_writer.hpp"
#include "eigenq/analysis/metrics.hpp"
#include "eigenq/analysis/model.hpp"
#include "eigenq/analysis/output_metric.hpp"
#include "eigenq/analysis/point_statistics.hpp"
#include "eigenq/analysis/scheme.hpp"
#include "eigenq/core/error.hpp"

namespace eigenq {

enum class SensitivityMode { one_at_a_time, leave_one_out };

inline const char* to_string(SensitivityMode m) {
  return m == SensitivityMode::one_at_a_time ? "one_at_a_time" : "leave_one_out";
}

struct SensitivityOptions {
  SensitivityMode mode = SensitivityMode::one_at_a_time;
  Scheme weight_scheme = schemes::int8_per_channel();
  Scheme activation_scheme = schemes::uint8_per_tensor();
  bool include_activations = true;              // false: activation points stay float, unranked
  std::map<std::string, Scheme> per_point;  // overrides by point name
  OutputMetric metric = output_mse_metric();
  // Statistics of the weight points' inputs for schemes that need them (by point name); empty:
  // collected from the model on the calibration batch when a scheme needs them.
  PointStatistics statistics;
};

struct PointSensitivity {
  std::string point;
  PointKind kind = PointKind::weight;
  std::string scheme;
  double score = 0.0;   // see the header comment; larger = more sensitive
  ErrorMetrics output;  // the analysed configuration's output against the float output
  Index rank = 0;       // 1 = most sensitive
};

struct SensitivityReport {
  SensitivityMode mode = SensitivityMode::one_at_a_time;
  std::string metric;
  double baseline = 0.0;         // leave_one_out: degradation with every point quantized
  ErrorMetrics all_quantized;    // leave_one_out: output metrics with every point quantized
  std::vector<PointSensitivity> ranked;

  std::string to_table() const {
    std::string out;
    char buf[256];
    std::snprintf(buf, sizeof buf, "# %s, score = %s%s (larger = more sensitive)\n", to_string(mode),
                  mode == SensitivityMode::one_at_a_time ? "" : "baseline - ", metric.c_str());
    out += buf;
    std::snprintf(buf, sizeof buf, "%-4s %-24s %-10s %-18s %14s %10s %12s\n", "rank", "point", "kind", "scheme",
                  "score", "sqnr_db", "output_mse");
    out += buf;
    for (const PointSensitivity& p : ranked) {
      std::snprintf(buf, sizeof buf, "%-4lld %-24s %-10s %-18s %14.6e %10s %12.4e\n", static_cast<long long>(p.rank),
                    p.point.c_str(), to_string(p.kind), p.scheme.c_str(), p.score,
                    ErrorMetrics::format_db(p.output.sqnr_db).c_str(), p.output.mse);
      out += buf;
    }
    if (mode == SensitivityMode::leave_one_out) {
      std::snprintf(buf, sizeof buf, "all points quantized: %s = %.6e, sqnr %s dB\n", metric.c_str(), baseline,
                    ErrorMetrics::format_db(all_quantized.sqnr_db).c_str());
      out += buf;
    }
    return out;
  }

  // {"mode", "metric", "baseline", "all_quantized", "points": [{rank, point, kind, scheme,
  // score, output: ErrorMetrics}]}; non-finite numbers are null.
  std::string to_json() const {
    JsonWriter w;
    w.begin_object().key("mode").value(to_string(mode)).key("metric").value(metric);
    if (mode == SensitivityMode::leave_one_out) {
      w.key("baseline").value(baseline).key("all_quantized");
      all_quantized.write_json(w);
    }
    w.key("points").begin_array();
    for (const PointSensitivity& p : ranked) {
      w.begin_object()
          .key("rank").value(static_cast<long long>(p.rank))
          .key("point").value(p.point)
          .key("kind").value(to_string(p.kind))
          .key("scheme").value(p.scheme)
          .key("score").value(p.score)
          .key("output");
      p.output.write_json(w);
      w.end_object();
    }
    w.end_array().end_object();
    return w.str();
  }
};

namespace detail {

// The scheme each point gets under the options; nullptr for points left float.
inline std::vector<const Scheme*> schemes_for(const std::vector<QuantPoint>& points,
                                                   const SensitivityOptions& o) {
  for (const auto& kv : o.per_point) {
    const bool known = std::any_of(points.begin(), points.end(), [&](const QuantPoint& p) { return p.name == kv.first; });
    if (!known) raise("SensitivityOptions::per_point names '", kv.first, "', which is not a point of the model");
  }
  std::vector<const Scheme*> out;
  for (const QuantPoint& p : points) {
    const auto it = o.per_point.find(p.name);
    if (it != o.per_point.end()) out.push_back(&it->second);
    else if (p.kind == PointKind::weight) out.push_back(&o.weight_scheme);
    else out.push_back(o.include_activations ? &o.activation_scheme : nullptr);
  }
  return out;
}

// Orders by score (highest first; NaN last), ties by point order, and numbers the ranks.
inline void rank_points(std::vector<PointSensitivity>& v) {
  std::stable_sort(v.begin(), v.end(), [](const PointSensitivity& a, const PointSensitivity& b) {
    if (std::isnan(a.score)) return false;
    if (std::isnan(b.score)) return true;
    return a.score > b.score;
  });
  for (std::size_t i = 0; i < v.size(); ++i) v[i].rank = static_cast<Index>(i + 1);
}

}  // namespace detail

inline SensitivityReport analyze_sensitivity(const QuantizableModel& model, const Eigen::MatrixXf& calibration,
                                             const SensitivityOptions& options = {}) {
  if (calibration.size() == 0) raise<ShapeError>("analyze_sensitivity: empty calibration batch");
  const std::vector<QuantPoint> points = model.quant_points();
  const std::vector<const Scheme*> chosen = detail::schemes_for(points, options);
  const Eigen::MatrixXf reference = model.forward(calibration);

  bool needs_statistics = false;
  for (const Scheme* s : chosen) needs_statistics |= s != nullptr && s->needs_statistics();
  const std::vector<CalibrationStats> statistics = detail::statistics_for_schemes(
      model, points, needs_statistics, options.statistics, calibration, "analyze_sensitivity");
  const std::vector<CalibrationStats>* stats = statistics.empty() ? nullptr : &statistics;

  SensitivityReport report;
  report.mode = options.mode;
  report.metric = options.metric.name;

  PointSchemes all(points.size());
  all.set_statistics(stats);
  for (std::size_t p = 0; p < points.size(); ++p) all.set(p, chosen[p]);
  if (options.mode == SensitivityMode::leave_one_out) {
    const Eigen::MatrixXf out = model.forward(calibration, all);
    report.baseline = options.metric(reference, out);
    report.all_quantized = compare(reference, out);
  }

  for (std::size_t p = 0; p < points.size(); ++p) {
    if (chosen[p] == nullptr) continue;
    PointSchemes config(points.size());
    config.set_statistics(stats);
    if (options.mode == SensitivityMode::one_at_a_time) {
      config.set(p, chosen[p]);
    } else {
      config = all;
      config.set(p, nullptr);
    }
    const Eigen::MatrixXf out = model.forward(calibration, config);
    PointSensitivity s;
    s.point = points[p].name;
    s.kind = points[p].kind;
    s.scheme = chosen[p]->name;
    const double degradation = options.metric(reference, out);
    s.score = options.mode == SensitivityMode::one_at_a_time ? degradation : report.baseline - degradation;
    s.output = compare(reference, out);
    report.ranked.push_back(std::move(s));
  }
  detail::rank_points(report.ranked);
  return report;
}

}  // namespace eigenq
