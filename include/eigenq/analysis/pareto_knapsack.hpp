// A multiple-choice knapsack solved exactly: every point picks one of its options (a cost and
// an error), the summed error is minimized under a budget on the summed cost. Mixed precision
// (mixed_precision.hpp) is its main user: points are weights, options candidate schemes, costs
// bits and errors sensitivities.
//
// The solver is a dynamic program over the points with a Pareto-pruned list of (cost, error)
// states: a partial assignment that is no cheaper and no better than another can never
// complete an optimal one, so dropping it loses nothing. Costs are integers, so no rounding of
// the budget is involved. The final state list is the Pareto front: every assignment not
// dominated in (cost, error).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

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

}  // namespace eigenq
