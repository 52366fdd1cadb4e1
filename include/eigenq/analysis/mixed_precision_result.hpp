// What choose_mixed_precision (mixed_precision.hpp) returns: the scheme chosen for every
// point, the per-candidate sensitivities and costs it chose from, the Pareto front measured
// end to end, and their text tables and JSON.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "eigenq/analysis/json_writer.hpp"
#include "eigenq/analysis/metrics.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {
namespace detail {

// printf onto the end of a string: one line of a table (at most 255 characters).
template <class... Args>
void append_line(std::string& out, const char* format, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, args...);
  out += buf;
}

// Bits per weight of `bits` spread over `weights` (0 for no weights).
inline double average_bits(std::int64_t bits, Index weights) {
  return weights ? static_cast<double>(bits) / static_cast<double>(weights) : 0.0;
}

}  // namespace detail

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
    detail::append_line(out, "%-24s %-18s %10s %12s %8s %14s\n", "point", "scheme", "weights", "bits", "bits/w",
                        ("d_" + metric).c_str());
    for (const PointChoice& c : choices) {
      detail::append_line(out, "%-24s %-18s %10lld %12lld %8.3f %14.6e\n", c.point.c_str(), c.scheme.c_str(),
                          static_cast<long long>(c.elements), static_cast<long long>(c.bits),
                          detail::average_bits(c.bits, c.elements), c.sensitivity);
    }
    detail::append_line(out,
                        "budget %s = %lld bits; chosen %lld bits (%.3f bits/weight)\n"
                        "predicted %s %.6e, measured %.6e, output sqnr %s dB\n",
                        budget.c_str(), static_cast<long long>(budget_bits), static_cast<long long>(total_bits),
                        bits_per_weight, metric.c_str(), predicted, measured,
                        ErrorMetrics::format_db(output.sqnr_db).c_str());
    return out;
  }

  // Every measured (point, candidate): its bits per weight and its sensitivity.
  std::string candidates_table() const {
    std::string out;
    detail::append_line(out, "%-24s %-20s %12s %8s %14s\n", "point", "candidate", "bits", "bits/w",
                        ("d_" + metric).c_str());
    for (std::size_t p = 0; p < choices.size(); ++p) {
      for (std::size_t k = 0; k < candidate_names[p].size(); ++k) {
        detail::append_line(out, "%-24s %-20s %12lld %8.3f %14.6e\n", k == 0 ? choices[p].point.c_str() : "",
                            candidate_names[p][k].c_str(), static_cast<long long>(cost[p][k]),
                            detail::average_bits(cost[p][k], choices[p].elements), sensitivity[p][k]);
      }
    }
    return out;
  }

  // The Pareto front as a table: bits/weight, predicted and measured degradation, SQNR.
  std::string front_table() const {
    std::string out;
    detail::append_line(out, "%8s %12s %14s %14s %9s  %s\n", "bits/w", "bits", "predicted", "measured", "sqnr_db",
                        "schemes");
    for (const ParetoPoint& f : front) {
      std::string names;
      for (const std::string& s : f.schemes) names += (names.empty() ? "" : ",") + s;
      detail::append_line(out, "%8.3f %12lld %14.6e %14.6e %9s  ", f.bits_per_weight, static_cast<long long>(f.bits),
                          f.predicted, f.measured, ErrorMetrics::format_db(f.output.sqnr_db).c_str());
      out += names + "\n";
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

}  // namespace eigenq
