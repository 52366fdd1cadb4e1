// A quantization scheme for analysis: a name, a fake quantization of a matrix
// (quantize, then dequantize, in place) and the exact storage cost of the quantized form.
// Sensitivity analysis and mixed-precision selection apply schemes to a model's
// quantization points (see model.hpp).
//
//   auto s = eigenq::make_scheme("int4-g32", eigenq::Quantizer(
//       eigenq::Linear<int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 32}));
//
// Any Quantizer<Policy, Granularity> makes a scheme, so every policy (linear, seed, log,
// exp, codebook...) plugs in. Schemes are applied to the matrix as a whole: weights
// [out, in] once, activations [samples, features] per forward pass (dynamic quantization,
// as torch's quantize_dynamic does for activations).
//
// Methods beyond rounding to nearest (GPTQ, AWQ, importance-weighted rounding:
// method_schemes.hpp) choose a weight's codes from the calibration statistics of the point's
// input: such a scheme sets fake_quantize_calibrated instead of fake_quantize, and whoever
// applies it passes the point's statistics (PointSchemes does, from the statistics the
// sensitivity analysis or the mixed-precision search collected or was given).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

struct Scheme {
  std::string name = "float32";
  // Replaces x by its fake quantization; empty for float (x unchanged).
  std::function<void(Eigen::MatrixXf& x)> fake_quantize;
  // Instead of fake_quantize, for a weight [out, in] whose quantization reads the calibration
  // statistics of its input (in = the weight's columns).
  std::function<void(Eigen::MatrixXf& x, const CalibrationStats& stats)> fake_quantize_calibrated;
  // Bits the quantized form of x occupies: codes in their packed format plus every
  // parameter set. Float: 32 bits per element.
  std::function<std::int64_t(const Eigen::MatrixXf& x)> storage_bits;
  // True when the rows of a matrix [out, in] are quantized independently of each other
  // (one parameter set per row, or groups inside rows): then quantizing any subset of the
  // rows alone gives the same result as quantizing them inside the whole matrix, and the
  // storage of the whole is the sum over its rows (up to byte rounding of packed codes).
  // Per-channel mixed precision (MixedPrecisionOptions::rows_per_block) needs it.
  bool rows_independent = false;

  bool is_float() const { return !fake_quantize && !fake_quantize_calibrated; }
  bool needs_statistics() const { return static_cast<bool>(fake_quantize_calibrated); }

  // Fake-quantizes x; a scheme that needs statistics throws here (use the overload below).
  void apply(Eigen::MatrixXf& x) const {
    if (needs_statistics()) {
      raise("scheme '", name, "' needs the calibration statistics of the point's input (Scheme::apply(x, stats))");
    }
    if (fake_quantize) fake_quantize(x);
  }

  // Fake-quantizes x; `stats` (the statistics of x's input, may be null for schemes that do
  // not need them) goes to fake_quantize_calibrated.
  void apply(Eigen::MatrixXf& x, const CalibrationStats* stats) const {
    if (!needs_statistics()) {
      apply(x);
      return;
    }
    if (stats == nullptr || stats->in <= 0) {
      raise("scheme '", name, "' needs the calibration statistics of the point's input, and none were given");
    }
    if (stats->in != x.cols()) {
      raise<ShapeError>("scheme '", name, "': calibration statistics of ", stats->in, " input features for a matrix [",
                        x.rows(), ", ", x.cols(), "]");
    }
    fake_quantize_calibrated(x, *stats);
  }

  std::int64_t bits_for(const Eigen::MatrixXf& x) const {
    if (storage_bits) return storage_bits(x);
    return 32 * static_cast<std::int64_t>(x.size());
  }
};

// Float32: no quantization, 32 bits per element.
inline Scheme float_scheme() { return Scheme{}; }

// A scheme from a Quantizer: fake quantization and storage of its QTensor.
template <class Policy, class G>
Scheme make_scheme(std::string name, Quantizer<Policy, G> quantizer) {
  Scheme s;
  s.name = std::move(name);
  s.rows_independent = quantizes_rows_independently(quantizer.granularity());
  s.fake_quantize = [quantizer](Eigen::MatrixXf& x) {
    const QTensor<Policy> q = quantizer.quantize(x);
    x = q.template dequantize<Eigen::MatrixXf>();
  };
  s.storage_bits = [quantizer](const Eigen::MatrixXf& x) {
    return 8 * static_cast<std::int64_t>(quantizer.quantize(x).storage_bytes());
  };
  return s;
}

// A scheme with fixed parameters (static quantization), e.g. from an observer that saw the
// calibration data: every matrix it is applied to is quantized with `params`.
template <class Policy, class G>
Scheme make_static_scheme(std::string name, Quantizer<Policy, G> quantizer,
                               std::vector<typename Policy::Params> params) {
  Scheme s;
  s.name = std::move(name);
  s.fake_quantize = [quantizer, params](Eigen::MatrixXf& x) {
    const QTensor<Policy> q = quantizer.quantize(x, params);
    x = q.template dequantize<Eigen::MatrixXf>();
  };
  s.storage_bits = [quantizer, params](const Eigen::MatrixXf& x) {
    return 8 * static_cast<std::int64_t>(quantizer.quantize(x, params).storage_bytes());
  };
  return s;
}

// Rows [begin, begin + count) of a matrix quantized with `scheme` as a matrix of their own;
// the other rows stay float. Storage counts those rows only. Sensitivity of one block of
// output channels, for per-channel mixed precision.
inline Scheme row_block_scheme(const Scheme& scheme, Index begin, Index count) {
  if (begin < 0 || count <= 0) raise("row_block_scheme: rows [", begin, ", ", begin + count, ") are empty or negative");
  Scheme s;
  s.name = scheme.name + "[rows " + std::to_string(begin) + ".." + std::to_string(begin + count - 1) + "]";
  auto check = [begin, count](const Eigen::MatrixXf& x) {
    if (begin + count > x.rows()) {
      raise<ShapeError>("row_block_scheme: rows [", begin, ", ", begin + count, ") of a matrix with ", x.rows(), " rows");
    }
  };
  if (scheme.needs_statistics()) {  // the rows share the input, so its statistics
    s.fake_quantize_calibrated = [scheme, begin, count, check](Eigen::MatrixXf& x, const CalibrationStats& stats) {
      check(x);
      Eigen::MatrixXf block = x.middleRows(begin, count);
      scheme.apply(block, &stats);
      x.middleRows(begin, count) = block;
    };
  } else {
    s.fake_quantize = [scheme, begin, count, check](Eigen::MatrixXf& x) {
      check(x);
      Eigen::MatrixXf block = x.middleRows(begin, count);
      scheme.apply(block);
      x.middleRows(begin, count) = block;
    };
  }
  s.storage_bits = [scheme, begin, count, check](const Eigen::MatrixXf& x) {
    check(x);
    return scheme.bits_for(x.middleRows(begin, count));
  };
  s.rows_independent = scheme.rows_independent;
  return s;
}

// Each row r of a matrix quantized with schemes[row_choice[r]]; the rows sharing a scheme are
// quantized together as one matrix (what nn::ChannelMixedLinear stores). Storage: the sum over
// the schemes of their rows' storage (the row -> scheme map is not included).
inline Scheme per_row_scheme(std::string name, std::vector<Scheme> schemes,
                                  std::vector<std::size_t> row_choice) {
  for (std::size_t r = 0; r < row_choice.size(); ++r) {
    if (row_choice[r] >= schemes.size()) {
      raise("per_row_scheme: row ", r, " uses scheme ", row_choice[r], " of ", schemes.size());
    }
  }
  // rows[k]: the rows that use scheme k.
  std::vector<std::vector<Index>> rows(schemes.size());
  for (std::size_t r = 0; r < row_choice.size(); ++r) rows[row_choice[r]].push_back(static_cast<Index>(r));
  const Index n_rows = static_cast<Index>(row_choice.size());
  auto check = [n_rows](const Eigen::MatrixXf& x) {
    if (x.rows() != n_rows) raise<ShapeError>("per_row_scheme: ", n_rows, " row choices for a matrix of ", x.rows(), " rows");
  };
  auto gather = [](const Eigen::MatrixXf& x, const std::vector<Index>& r) {
    Eigen::MatrixXf g(static_cast<Index>(r.size()), x.cols());
    for (std::size_t i = 0; i < r.size(); ++i) g.row(static_cast<Index>(i)) = x.row(r[i]);
    return g;
  };
  Scheme s;
  s.name = std::move(name);
  auto quantize = [schemes, rows, check, gather](Eigen::MatrixXf& x, const CalibrationStats* stats) {
    check(x);
    for (std::size_t k = 0; k < schemes.size(); ++k) {
      if (rows[k].empty()) continue;
      Eigen::MatrixXf g = gather(x, rows[k]);
      schemes[k].apply(g, stats);
      for (std::size_t i = 0; i < rows[k].size(); ++i) x.row(rows[k][i]) = g.row(static_cast<Index>(i));
    }
  };
  bool needs_statistics = false;
  for (std::size_t k = 0; k < schemes.size(); ++k) needs_statistics |= !rows[k].empty() && schemes[k].needs_statistics();
  if (needs_statistics) {
    s.fake_quantize_calibrated = [quantize](Eigen::MatrixXf& x, const CalibrationStats& stats) { quantize(x, &stats); };
  } else {
    s.fake_quantize = [quantize](Eigen::MatrixXf& x) { quantize(x, nullptr); };
  }
  s.storage_bits = [schemes, rows, check, gather](const Eigen::MatrixXf& x) {
    check(x);
    std::int64_t bits = 0;
    for (std::size_t k = 0; k < schemes.size(); ++k) {
      if (!rows[k].empty()) bits += schemes[k].bits_for(gather(x, rows[k]));
    }
    return bits;
  };
  s.rows_independent = std::all_of(schemes.begin(), schemes.end(), [](const Scheme& q) { return q.rows_independent; });
  return s;
}

// Ready-made linear schemes (PyTorch profile; weights as [out, in] matrices).
namespace schemes {

// Symmetric `bits`-bit codes, one scale per index of `axis` (default: per output row).
inline Scheme linear_per_channel(int bits, int axis = 0) {
  return make_scheme("int" + std::to_string(bits) + "-per-channel",
                     Quantizer<Linear<std::int8_t>, PerChannel>(Linear<std::int8_t>::symmetric().with_bits(bits),
                                                                PerChannel{axis}));
}

// Symmetric `bits`-bit codes, one scale per group of `group` elements along `axis`.
inline Scheme linear_per_group(int bits, Index group = 32, int axis = -1) {
  return make_scheme("int" + std::to_string(bits) + "-g" + std::to_string(group),
                     Quantizer<Linear<std::int8_t>, PerGroup>(Linear<std::int8_t>::symmetric().with_bits(bits),
                                                              PerGroup{axis, group}));
}

// Affine uint8 per tensor: the usual activation scheme.
inline Scheme uint8_per_tensor() {
  return make_scheme("uint8-per-tensor",
                     Quantizer<Linear<std::uint8_t>, PerTensor>(Linear<std::uint8_t>::affine(), PerTensor{}));
}

inline Scheme int8_per_channel(int axis = 0) { return linear_per_channel(8, axis); }
inline Scheme int4_per_group(Index group = 32, int axis = -1) { return linear_per_group(4, group, axis); }
inline Scheme int2_per_group(Index group = 32, int axis = -1) { return linear_per_group(2, group, axis); }

}  // namespace schemes
}  // namespace eigenq
