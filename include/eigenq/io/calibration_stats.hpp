// Calibration statistics files (docs/calibration_stats.md): safetensors holding, for each
// weight tensor NAME (e.g. "fc1.weight"), any subset of
//   NAME.hessian     [in, in]  F32 or F64   sum x x^T
//   NAME.in_sum      [in]      F32          sum x          (eigenq's addition, for bias correction)
//   NAME.in_sum2     [in]      F32          sum x^2
//   NAME.in_abs_sum  [in]      F32          sum |x|
//   NAME.in_abs_max  [in]      F32          max |x|
//   NAME.count       [1]       I64          rows seen
// (F64 is accepted for every float field), and an optional "__metadata__" with
// "format": "eigenq.calibration_stats". examples/python/collect_stats.py writes them from a
// PyTorch model; CalibrationStatsObserver (calibrate/calibration_stats.hpp) from eigenq.
//
// Reading checks everything (FormatError / ShapeError / NonFiniteError, each naming the file,
// the weight NAME and the field): the safetensors rules (safetensors.hpp), no tensor outside
// the NAME.<field> pattern, the dtypes and shapes above, every field of a NAME agreeing on
// `in`, sums and maxima finite and >= 0 (in_sum finite), the Hessian finite, symmetric and
// with a non-negative diagonal, a count >= 1; and, when the weights are given (name -> in),
// that every NAME is one of them with that `in`.
//
//   auto stats = eigenq::io::read_calibration_stats("stats.safetensors");
//   eigenq::io::write_calibration_stats("stats.safetensors", stats);
//   auto from_llama = eigenq::io::calibration_stats_from_imatrix(eigenq::io::read_imatrix("imatrix.gguf"));
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/imatrix.hpp"
#include "eigenq/io/safetensors.hpp"

namespace eigenq {
namespace io {

inline constexpr const char* calibration_stats_format = "eigenq.calibration_stats";

// Statistics per weight tensor name.
using CalibrationStatsMap = std::map<std::string, CalibrationStats>;

namespace detail {

inline bool stats_field_from_string(const std::string& s, StatsField& out) {
  for (StatsField f : {StatsField::hessian, StatsField::in_sum, StatsField::in_sum2, StatsField::in_abs_sum,
                       StatsField::in_abs_max, StatsField::count}) {
    if (s == to_string(f)) {
      out = f;
      return true;
    }
  }
  return false;
}

// Re-raises a validation error of the statistics with the file in front, keeping its type.
[[noreturn]] inline void rethrow_in_file(const std::string& path, const Error& e) {
  const std::string msg = path + ": " + e.what();
  if (dynamic_cast<const NonFiniteError*>(&e)) throw NonFiniteError(msg);
  if (dynamic_cast<const ShapeError*>(&e)) throw ShapeError(msg);
  throw FormatError(msg);
}

}  // namespace detail

// Checks statistics against the weights they are for: every name must be a weight, with the
// weight's number of input features. `source` (a file) goes into messages.
inline void check_stats_names(const CalibrationStatsMap& stats, const std::map<std::string, Index>& weights,
                              const std::string& source) {
  for (const auto& [name, s] : stats) {
    const auto it = weights.find(name);
    if (it == weights.end()) {
      raise<FormatError>(source, ": tensor '", name, "': statistics for a name that matches no weight tensor (",
                         weights.size(), " weights known", weights.empty() ? "" : ", e.g. '" + weights.begin()->first + "'",
                         ")");
    }
    if (it->second != s.in) {
      raise<ShapeError>(source, ": tensor '", name, "': statistics of ", s.in, " input features, but the weight has ",
                        it->second, " (its columns)");
    }
  }
}

// The statistics in an opened safetensors file; `weights` (name -> in), when not empty,
// must name every NAME in it.
inline CalibrationStatsMap read_calibration_stats(const SafetensorsFile& f,
                                                  const std::map<std::string, Index>& weights = {}) {
  const std::string& path = f.path();
  if (const auto it = f.metadata().find("format"); it != f.metadata().end() && it->second != calibration_stats_format) {
    raise<FormatError>(path, ": __metadata__ 'format' is \"", it->second, "\", not \"", calibration_stats_format, "\"");
  }
  if (f.tensors().empty()) raise<FormatError>(path, ": no tensors; a statistics file has NAME.<field> tensors");
  CalibrationStatsMap out;
  std::map<std::string, std::string> in_from;  // NAME -> the field that set `in`
  for (const TensorInfo& t : f.tensors()) {
    const std::size_t dot = t.name.rfind('.');
    StatsField field{};
    if (dot == std::string::npos || dot == 0 || !detail::stats_field_from_string(t.name.substr(dot + 1), field)) {
      raise<FormatError>(path, ": tensor '", t.name, "': not NAME.<field> with a field of hessian, in_sum, in_sum2, ",
                         "in_abs_sum, in_abs_max, count");
    }
    const std::string name = t.name.substr(0, dot);
    const std::string where = path + ": tensor '" + name + "' field '" + to_string(field) + "'";
    CalibrationStats& s = out[name];
    const TensorView view = f.tensor(t.name);
    if (field == StatsField::count) {
      if (t.dtype != DType::i64) raise<FormatError>(where, ": dtype ", to_string(t.dtype), ", expected I64");
      if (t.shape != Shape{1}) raise<ShapeError>(where, ": shape ", to_string(t.shape), ", expected [1]");
      const std::int64_t c = view.values<std::int64_t>()[0];
      if (c <= 0) raise<FormatError>(where, ": count = ", c, "; the statistics must be of at least one row");
      s.count = c;
      continue;
    }
    if (t.dtype != DType::f32 && t.dtype != DType::f64) {
      raise<FormatError>(where, ": dtype ", to_string(t.dtype), ", expected F32 or F64");
    }
    Index in = 0;
    if (field == StatsField::hessian) {
      if (t.shape.size() != 2 || t.shape[0] != t.shape[1]) {
        raise<ShapeError>(where, ": shape ", to_string(t.shape), ", expected a square [in, in]");
      }
      in = t.shape[0];
      const std::vector<double> v = view.values<double>();
      // Row-major [in, in]; the matrix is symmetric, so the storage order only matters to the check.
      s.hessian = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), in, in);
    } else {
      if (t.shape.size() != 1) raise<ShapeError>(where, ": shape ", to_string(t.shape), ", expected [in]");
      in = t.shape[0];
      const std::vector<double> v = view.values<double>();
      Eigen::VectorXd x = Eigen::Map<const Eigen::VectorXd>(v.data(), in);
      if (field == StatsField::in_sum) s.in_sum = std::move(x);
      else if (field == StatsField::in_sum2) s.in_sum2 = std::move(x);
      else if (field == StatsField::in_abs_sum) s.in_abs_sum = std::move(x);
      else s.in_abs_max = std::move(x);
    }
    if (in <= 0) raise<ShapeError>(where, ": shape ", to_string(t.shape), " has no input features");
    if (s.in != 0 && s.in != in) {
      raise<ShapeError>(where, ": ", in, " input features, but field '", in_from[name], "' has ", s.in);
    }
    s.in = in;
    in_from[name] = to_string(field);
  }
  for (auto& [name, s] : out) {
    if (s.in == 0) {
      raise<FormatError>(path, ": tensor '", name, "': only a count; statistics need at least one of hessian, in_sum, ",
                         "in_sum2, in_abs_sum, in_abs_max");
    }
    try {
      s.validate("tensor '" + name + "'");
    } catch (const Error& e) {
      detail::rethrow_in_file(path, e);
    }
    if (s.hessian.size() > 0) s.hessian = (0.5 * (s.hessian + s.hessian.transpose())).eval();
  }
  if (!weights.empty()) check_stats_names(out, weights, path);
  return out;
}

inline CalibrationStatsMap read_calibration_stats(const std::string& path,
                                                  const std::map<std::string, Index>& weights = {}) {
  const SafetensorsFile f(path);
  return read_calibration_stats(f, weights);
}

struct CalibrationStatsWriteOptions {
  DType hessian_dtype = DType::f32;  // F32 (half the bytes) or F64
  AtomicFileOptions file{};
};

// Writes statistics (validated first) as one safetensors file, atomically: the file appears
// whole or not at all.
inline void write_calibration_stats(const std::string& path, const CalibrationStatsMap& stats,
                                    const CalibrationStatsWriteOptions& options = {}) {
  if (options.hessian_dtype != DType::f32 && options.hessian_dtype != DType::f64) {
    raise(path, ": the Hessian is written as F32 or F64, not ", to_string(options.hessian_dtype));
  }
  if (stats.empty()) raise(path, ": no statistics to write");
  std::vector<OwnedTensor> tensors;
  for (const auto& entry : stats) {
    const std::string& name = entry.first;
    const CalibrationStats& s = entry.second;
    if (name.empty()) raise(path, ": a weight name is empty");
    try {
      s.validate("tensor '" + name + "'");
    } catch (const Error& e) {
      detail::rethrow_in_file(path, e);
    }
    const Shape vec{s.in};
    if (s.hessian.size() > 0) {
      const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> h = s.hessian;
      if (options.hessian_dtype == DType::f64) {
        tensors.push_back(make_tensor(name + ".hessian", {s.in, s.in}, h.data()));
      } else {
        const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> hf = h.cast<float>();
        tensors.push_back(make_tensor(name + ".hessian", {s.in, s.in}, hf.data()));
      }
    }
    auto add_vector = [&](const Eigen::VectorXd& v, StatsField f) {
      if (v.size() == 0) return;
      const Eigen::VectorXf vf = v.cast<float>();
      tensors.push_back(make_tensor(name + "." + to_string(f), vec, vf.data()));
    };
    add_vector(s.in_sum, StatsField::in_sum);
    add_vector(s.in_sum2, StatsField::in_sum2);
    add_vector(s.in_abs_sum, StatsField::in_abs_sum);
    add_vector(s.in_abs_max, StatsField::in_abs_max);
    if (s.count > 0) {
      const std::int64_t c = s.count;
      tensors.push_back(make_tensor(name + ".count", {1}, &c));
    }
  }
  write_safetensors(path, tensors, {{"format", calibration_stats_format}}, options.file);
}

// llama.cpp importance matrices as calibration statistics: in_sum2 and count per weight.
// GGUF files keep their row counts (in_sum2 = importance x count); legacy .dat files record
// only ncall, so there count = ncall and in_sum2 = importance x ncall (in_sum2 / count is the
// importance either way, which is all importance-weighted rounding uses). Entries of 3-D
// expert weights (more than one matrix) have no 2-D Linear to go with and are skipped; their
// names are put in `skipped` when given.
inline CalibrationStatsMap calibration_stats_from_imatrix(const Imatrix& im, std::vector<std::string>* skipped = nullptr) {
  CalibrationStatsMap out;
  for (const ImatrixEntry& e : im.entries) {
    if (e.matrices != 1 || e.counts.size() != 1) {
      if (skipped) skipped->push_back(e.name);
      continue;
    }
    CalibrationStats s;
    s.in = e.row_length;
    s.count = static_cast<std::int64_t>(e.counts[0]);
    if (s.count <= 0) {
      raise<FormatError>("imatrix entry '", e.name, "': count ", e.counts[0], "; the weight saw no input");
    }
    s.in_sum2 = Eigen::Map<const Eigen::VectorXf>(e.importance.data(), e.row_length).cast<double>() *
                static_cast<double>(s.count);
    s.validate("imatrix entry '" + e.name + "'");
    out.emplace(e.name, std::move(s));
  }
  return out;
}

}  // namespace io
}  // namespace eigenq
