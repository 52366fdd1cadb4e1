// ChannelMixedLinear: a Linear whose output channels (rows of the weight) are
// quantized with different schemes, as per-channel mixed precision chooses
// them (MixedPrecisionOptions::rows_per_block = 1).
//
// The rows that share a scheme form one part, itself a quantized layer
// (DynamicLinear, GroupedLinear, WeightOnlyLinear...) over those rows; the
// layer runs every part on the input and scatters each part's outputs to its
// channels. It stores the parts plus one byte per output channel saying which
// part computes it, and runs each part on its own kernel (WeightOnlyLinear parts with at most
// 16 codes on gemv_lut4): no float copy of the weights is kept (the constructor decodes each
// part once, to check its shape, and drops the floats).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/nn/float_linear.hpp"
#include "eigenq/nn/module.hpp"

namespace eigenq {
namespace nn {

class ChannelMixedLinear : public Module {
 public:
  // Part k computes the output channels whose row_part entry is k, in increasing
  // order; parts[k] must have that many output channels. At most 256 parts.
  ChannelMixedLinear(std::vector<std::unique_ptr<Module>> parts, std::vector<std::uint8_t> row_part)
      : parts_(std::move(parts)), row_part_(std::move(row_part)) {
    if (parts_.empty()) raise<ShapeError>("ChannelMixedLinear: no parts");
    if (parts_.size() > 256) raise<ShapeError>("ChannelMixedLinear: ", parts_.size(), " parts (at most 256)");
    rows_.assign(parts_.size(), {});
    for (std::size_t r = 0; r < row_part_.size(); ++r) {
      const std::size_t k = row_part_[r];
      if (k >= parts_.size()) {
        raise<ShapeError>("ChannelMixedLinear: output channel ", r, " belongs to part ", k, " of ", parts_.size());
      }
      rows_[k].push_back(static_cast<Index>(r));
    }
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      if (!parts_[k]) raise<ShapeError>("ChannelMixedLinear: part ", k, " is empty");
      const Eigen::MatrixXf w = parts_[k]->dequantized_weight();
      if (rows_[k].empty()) raise<ShapeError>("ChannelMixedLinear: part ", k, " computes no output channel");
      if (w.rows() != static_cast<Index>(rows_[k].size())) {
        raise<ShapeError>("ChannelMixedLinear: part ", k, " (", parts_[k]->kind(), ") has ", w.rows(),
                          " output channels, but ", rows_[k].size(), " channels are assigned to it");
      }
      if (k == 0) in_features_ = w.cols();
      if (w.cols() != in_features_) {
        raise<ShapeError>("ChannelMixedLinear: part ", k, " has ", w.cols(), " input features, part 0 has ",
                          in_features_);
      }
    }
  }

  ChannelMixedLinear(const ChannelMixedLinear& other)
      : row_part_(other.row_part_), rows_(other.rows_), in_features_(other.in_features_) {
    for (const auto& p : other.parts_) parts_.push_back(p->clone());
  }
  ChannelMixedLinear& operator=(const ChannelMixedLinear& other) {
    if (this != &other) *this = ChannelMixedLinear(other);
    return *this;
  }
  ChannelMixedLinear(ChannelMixedLinear&&) = default;
  ChannelMixedLinear& operator=(ChannelMixedLinear&&) = default;

  Index in_features() const { return in_features_; }
  Index out_features() const { return static_cast<Index>(row_part_.size()); }
  std::size_t part_count() const { return parts_.size(); }
  const Module& part(std::size_t k) const { return *parts_.at(k); }
  // The output channels part k computes, increasing.
  const std::vector<Index>& part_rows(std::size_t k) const { return rows_.at(k); }
  const std::vector<std::uint8_t>& row_part() const { return row_part_; }

  Matrix forward(const Matrix& x) const override {
    detail::check_input_features(x, in_features_, "ChannelMixedLinear");
    Matrix y(x.rows(), out_features());
    if (x.rows() == 0) return y;  // y.col(c) of an empty matrix offsets a null pointer (UB)
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      const Matrix yk = parts_[k]->forward(x);
      for (std::size_t c = 0; c < rows_[k].size(); ++c) y.col(rows_[k][c]) = yk.col(static_cast<Index>(c));
    }
    return y;
  }

  std::string kind() const override { return "ChannelMixedLinear"; }
  std::size_t weight_bytes() const override {
    std::size_t bytes = row_part_.size();  // the channel -> part map
    for (const auto& p : parts_) bytes += p->weight_bytes();
    return bytes;
  }
  Index weight_count() const override {
    Index n = 0;
    for (const auto& p : parts_) n += p->weight_count();
    return n;
  }
  Eigen::MatrixXf dequantized_weight() const override {
    Eigen::MatrixXf w(out_features(), in_features_);
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      const Eigen::MatrixXf wk = parts_[k]->dequantized_weight();
      for (std::size_t c = 0; c < rows_[k].size(); ++c) w.row(rows_[k][c]) = wk.row(static_cast<Index>(c));
    }
    return w;
  }
  std::unique_ptr<Module> clone() const override { return std::make_unique<ChannelMixedLinear>(*this); }

 private:
  std::vector<std::unique_ptr<Module>> parts_;
  std::vector<std::uint8_t> row_part_;
  std::vector<std::vector<Index>> rows_;  // per part, its output channels
  Index in_features_ = 0;
};

}  // namespace nn
}  // namespace eigenq
