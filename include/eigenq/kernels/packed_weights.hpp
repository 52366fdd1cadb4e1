// B (K x N, int8), packed once into the layout the int8 GEMM/GEMV micro-kernels
// of every ISA path read, plus what the zero-point corrections need.
//
// Layout (one layout for all paths, so weights packed once run on any of them):
// - K is padded with zero rows to Kp, a multiple of 4.
// - Columns are cut into panels of 48; the last panel holds the rest, its width
//   rounded up to a multiple of 16 with zero columns. Panel p starts at byte
//   p * 48 * Kp (a multiple of 64: panels start on cache-line boundaries).
// - Inside a panel of width w, byte (q * w + c) * 4 + j holds B(4q + j, n0 + c):
//   four consecutive k of one column fill one 32-bit lane. That lane is the unit
//   of x86 vpdpbusd, Arm sdot and, after sign extension, of a vpmaddwd pair, so
//   one 64-byte row of a panel is 16 columns x 4 k for every path.
// Per (padded) column the packing also keeps sum_k B(k, n), which turns zero
// points and the s8-activation offset into one add per output, and the
// weights' zero point (0 for symmetric weights).
#pragma once

#include <algorithm>
#include <cstdint>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"

namespace eigenq {
namespace kernels {

class PackedWeights {
 public:
  static constexpr Index panel_width = 48;   // columns per panel
  static constexpr Index column_block = 16;  // a panel's width is a multiple of this
  static constexpr Index depth_block = 4;    // k per 32-bit lane

  PackedWeights() = default;

  Index depth() const { return depth_; }                // K
  Index padded_depth() const { return padded_depth_; }  // Kp
  Index cols() const { return cols_; }                  // N
  Index padded_cols() const { return padded_cols_; }    // sum of the panel widths
  Index panel_count() const { return (padded_cols_ + panel_width - 1) / panel_width; }
  Index panel_cols(Index p) const {
    const Index rest = padded_cols_ - p * panel_width;
    return rest < panel_width ? rest : panel_width;
  }
  const std::int8_t* panel(Index p) const { return data_.data() + p * panel_width * padded_depth_; }

  // sum_k B(k, n) for each padded column, wrapped to int32 (zero in the padding).
  const std::int32_t* column_sums() const { return column_sums_.data(); }
  // The weights' zero point of each padded column (zero in the padding).
  const std::int32_t* zero_points() const { return zero_points_.data(); }
  bool has_zero_points() const { return has_zero_points_; }

  // B(k, n), read back from the packed layout.
  std::int8_t at(Index k, Index n) const {
    const Index p = n / panel_width;
    const Index c = n - p * panel_width;
    return panel(p)[((k / depth_block) * panel_cols(p) + c) * depth_block + k % depth_block];
  }

  std::size_t bytes() const {
    return data_.size() + (column_sums_.size() + zero_points_.size()) * sizeof(std::int32_t);
  }

 private:
  friend PackedWeights pack_weights(const std::int8_t*, Index, Index, Index, Index,
                                    const std::int32_t*, Index);
  Index depth_ = 0;
  Index padded_depth_ = 0;
  Index cols_ = 0;
  Index padded_cols_ = 0;
  bool has_zero_points_ = false;
  AlignedBuffer<std::int8_t> data_;
  AlignedBuffer<std::int32_t> column_sums_;
  AlignedBuffer<std::int32_t> zero_points_;
};

// Packs B(k, n) = b[k * k_stride + n * n_stride] for k < K, n < N. A row-major
// K x N matrix has strides (ldb, 1); a Linear layer's N x K weight (out x in,
// row-major) has (1, ldw). `zero_points` holds `zero_point_count` values: none
// (symmetric weights), 1 (per tensor) or N (per column), each in [-128, 127].
inline PackedWeights pack_weights(const std::int8_t* b, Index k, Index n, Index k_stride,
                                  Index n_stride, const std::int32_t* zero_points,
                                  Index zero_point_count) {
  if (k < 0 || n < 0) raise<ShapeError>("pack_weights: B is ", k, " x ", n, "; sizes must be >= 0");
  if (k_stride < 0 || n_stride < 0) {
    raise("pack_weights: strides (", k_stride, ", ", n_stride, ") must be >= 0");
  }
  if (k > 0 && n > 0 && b == nullptr) raise("pack_weights: B is null but ", k, " x ", n);
  if (zero_point_count != 0 && zero_point_count != 1 && zero_point_count != n) {
    raise<ShapeError>("pack_weights: ", zero_point_count, " zero points for ", n,
                      " columns (expected 0, 1 or ", n, ")");
  }
  if (zero_point_count > 0 && zero_points == nullptr) raise("pack_weights: zero_points is null");
  for (Index i = 0; i < zero_point_count; ++i) {
    if (zero_points[i] < -128 || zero_points[i] > 127) {
      raise("pack_weights: zero point ", zero_points[i], " of column ", i,
            " is outside the int8 range [-128, 127]");
    }
  }

  PackedWeights w;
  w.depth_ = k;
  w.padded_depth_ = (k + PackedWeights::depth_block - 1) / PackedWeights::depth_block *
                    PackedWeights::depth_block;
  w.cols_ = n;
  const Index full_panels = n / PackedWeights::panel_width;
  const Index rest = n - full_panels * PackedWeights::panel_width;
  w.padded_cols_ = full_panels * PackedWeights::panel_width +
                   (rest + PackedWeights::column_block - 1) / PackedWeights::column_block *
                       PackedWeights::column_block;
  // Never empty: kernels offset panel pointers even when K = 0.
  w.data_.resize(static_cast<std::size_t>(std::max<Index>(1, w.padded_cols_ * w.padded_depth_)));
  w.column_sums_.resize(static_cast<std::size_t>(w.padded_cols_));
  w.zero_points_.resize(static_cast<std::size_t>(w.padded_cols_));

  const Index kp = w.padded_depth_;
  for (Index p = 0; p < w.panel_count(); ++p) {
    const Index n0 = p * PackedWeights::panel_width;
    const Index width = w.panel_cols(p);
    std::int8_t* out = w.data_.data() + n0 * kp;
    const Index valid = n - n0 < width ? n - n0 : width;
    std::int64_t sums[PackedWeights::panel_width] = {};
    const auto put = [&](Index kk, Index c) {
      const std::int8_t v = b[kk * k_stride + (n0 + c) * n_stride];
      out[((kk / 4) * width + c) * 4 + kk % 4] = v;
      sums[c] += v;
    };
    // Walk B along its contiguous dimension.
    if (n_stride <= k_stride) {
      for (Index kk = 0; kk < k; ++kk) {
        for (Index c = 0; c < valid; ++c) put(kk, c);
      }
    } else {
      for (Index c = 0; c < valid; ++c) {
        for (Index kk = 0; kk < k; ++kk) put(kk, c);
      }
    }
    // Sums past int32 wrap, like every int32 result of the kernels.
    for (Index c = 0; c < valid; ++c) {
      w.column_sums_[static_cast<std::size_t>(n0 + c)] =
          static_cast<std::int32_t>(static_cast<std::uint32_t>(sums[c]));
    }
  }
  if (zero_point_count > 0) {
    for (Index c = 0; c < n; ++c) {
      const std::int32_t z = zero_points[zero_point_count == 1 ? 0 : c];
      w.zero_points_[static_cast<std::size_t>(c)] = z;
      if (z != 0) w.has_zero_points_ = true;
    }
  }
  return w;
}

// Symmetric weights (zero point 0), or one zero point for the whole tensor.
inline PackedWeights pack_weights(const std::int8_t* b, Index k, Index n, Index k_stride,
                                  Index n_stride, std::int32_t zero_point = 0) {
  return pack_weights(b, k, n, k_stride, n_stride, &zero_point, 1);
}

}  // namespace kernels
}  // namespace eigenq
