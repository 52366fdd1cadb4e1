// The interface every method of methods/ quantizes a weight [out, in] through: a scheme whose
// rows quantize independently (each row's parameters depend on that row alone), seen column by
// column. GPTQ needs exactly this: fit the parameters of a group of columns when it is reached,
// quantize one column at a time, and hand back the result in the scheme's own form.
//
// A row quantizer (any type with these members; RowwiseQuantizer below is the one for every
// Quantizer<Policy, PerChannel{0} | PerGroup{-1, G}>, and a ggml block type plugs in the same way:
// a group is then one block of a row, fit_group computes the blocks' scales, quantize_column
// quantizes one element of each row's block, result() packs the blocks):
//
//   using result_type = ...;                 // what result() returns (QTensor<Policy> here)
//   Index rows() const; Index cols() const;
//   Index group_size() const;                // columns sharing one parameter set in a row (cols per channel)
//   void fit_group(Index group, const Eigen::Ref<const Eigen::MatrixXf>& columns);
//       // parameters of group `group` (columns [group * G, group * G + len)) for every row, from
//       // `columns` ([rows, len], the values those columns have now)
//   bool fitted(Index group) const;
//   void quantize_column(Index col, const float* values, float* dequantized);
//       // quantizes column `col` (rows values) with its group's parameters: records the codes,
//       // writes the dequantized values
//   result_type result() const;              // every column quantized
//
// Column `col` is always the weight's own column index (GPTQ's activation order permutes the
// order of the calls, not the indices).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

// Throws unless `quantizer` quantizes the rows of a matrix [out, in] independently
// (per channel along axis 0, or groups along axis 1); `method` names the caller.
inline void require_rows_independent(const Granularity& g, const char* method) {
  if (!quantizes_rows_independently(g)) {
    if (g.kind == Granularity::Kind::tensor) {
      raise(method, " needs a scheme whose rows quantize independently (per channel along axis 0, or per group "
                    "along axis 1); per-tensor parameters couple every row");
    }
    raise(method, " needs a scheme whose rows quantize independently (per channel along axis 0, or per group "
                  "along axis 1); got per-", to_string(g.kind), " along axis ", g.axis);
  }
}

// Columns sharing a parameter set in a row of a weight with `cols` columns.
inline Index row_group_size(const Granularity& g, Index cols) {
  if (g.kind == Granularity::Kind::group) return g.group_size < cols ? g.group_size : cols;
  return cols;
}

// The row quantizer of a Quantizer<Policy, G> (rows independent): per channel, one group
// of all columns; per group G, ceil(cols / G) groups, the last one possibly shorter. The result
// is an ordinary QTensor of that policy and granularity.
template <class Policy>
class RowwiseQuantizer {
 public:
  using result_type = QTensor<Policy>;
  using code_type = typename Policy::code_type;
  using Params = typename Policy::Params;

  template <class G>
  RowwiseQuantizer(const Quantizer<Policy, G>& quantizer, Index rows, Index cols)
      : policy_(quantizer.policy()), granularity_(quantizer.granularity()), rows_(rows), cols_(cols) {
    require_rows_independent(granularity_, "RowwiseQuantizer");
    if (rows <= 0 || cols <= 0) raise<ShapeError>("RowwiseQuantizer: an empty weight [", rows, ", ", cols, "]");
    if (granularity_.kind == Granularity::Kind::group && granularity_.group_size <= 0) {
      raise("group size G = ", granularity_.group_size, " must be positive");
    }
    group_size_ = row_group_size(granularity_, cols);
    groups_ = (cols + group_size_ - 1) / group_size_;
    params_.resize(static_cast<std::size_t>(groups_));
    codes_.assign(static_cast<std::size_t>(rows * cols), code_type{});
    column_codes_.resize(static_cast<std::size_t>(rows));
  }

  const Policy& policy() const { return policy_; }
  const Granularity& granularity() const { return granularity_; }
  Index rows() const { return rows_; }
  Index cols() const { return cols_; }
  Index group_size() const { return group_size_; }
  Index groups() const { return groups_; }
  Index group_of(Index col) const { return col / group_size_; }

  void fit_group(Index group, const Eigen::Ref<const Eigen::MatrixXf>& columns) {
    check_group(group);
    const Index len = std::min(group_size_, cols_ - group * group_size_);
    if (columns.rows() != rows_ || columns.cols() != len) {
      raise<ShapeError>("fit_group: group ", group, " needs [", rows_, ", ", len, "] values, got [", columns.rows(),
                        ", ", columns.cols(), "]");
    }
    const Quantizer<Policy, PerChannel> per_row(policy_, PerChannel{0});
    params_[static_cast<std::size_t>(group)] = per_row.fit(columns);
  }

  // Parameters of a group given directly (one per row), e.g. from a search.
  void set_group_params(Index group, std::vector<Params> params) {
    check_group(group);
    if (static_cast<Index>(params.size()) != rows_) {
      raise<ShapeError>("set_group_params: group ", group, " needs ", rows_, " parameter sets, got ", params.size());
    }
    params_[static_cast<std::size_t>(group)] = std::move(params);
  }
  const std::vector<Params>& group_params(Index group) const {
    check_group(group);
    return params_[static_cast<std::size_t>(group)];
  }

  bool fitted(Index group) const { return !params_[static_cast<std::size_t>(group)].empty(); }

  void quantize_column(Index col, const float* values, float* dequantized) {
    if (col < 0 || col >= cols_) raise("quantize_column: column ", col, " of ", cols_);
    const Index g = group_of(col);
    if (!fitted(g)) raise("quantize_column: column ", col, " reached before its group ", g, " was fitted");
    const Params* p = params_[static_cast<std::size_t>(g)].data();
    quantize_run(policy_, values, rows_, p, 1, column_codes_.data());
    dequantize_run(policy_, column_codes_.data(), rows_, p, 1, dequantized);
    for (Index r = 0; r < rows_; ++r) codes_[static_cast<std::size_t>(r * cols_ + col)] = column_codes_[static_cast<std::size_t>(r)];
  }

  // The QTensor: the recorded codes and every group's parameters, in the layout of the
  // Quantizer's granularity (per channel: row r; per group: row r, group g at r * groups + g).
  result_type result() const {
    for (Index g = 0; g < groups_; ++g) {
      if (!fitted(g)) raise("RowwiseQuantizer::result: group ", g, " was never fitted");
    }
    std::vector<Params> params;
    params.reserve(static_cast<std::size_t>(rows_ * groups_));
    for (Index r = 0; r < rows_; ++r) {
      for (Index g = 0; g < groups_; ++g) params.push_back(params_[static_cast<std::size_t>(g)][static_cast<std::size_t>(r)]);
    }
    CodeStorage<code_type> storage(codes_.data(), rows_ * cols_, policy_.bits());
    return result_type(policy_, Shape{rows_, cols_}, granularity_, std::move(params), std::move(storage));
  }

 private:
  void check_group(Index group) const {
    if (group < 0 || group >= groups_) raise("group ", group, " out of range (", groups_, " groups)");
  }

  Policy policy_;
  Granularity granularity_;
  Index rows_ = 0;
  Index cols_ = 0;
  Index group_size_ = 0;
  Index groups_ = 0;
  std::vector<std::vector<Params>> params_;  // [group][row]
  std::vector<code_type> codes_;             // row-major [rows, cols]
  std::vector<code_type> column_codes_;
};

}  // namespace eigenq
