// Error metrics: how far a reconstruction (dequantized, or a quantized model's output)
// is from its float reference.
//
//   auto e = eigenq::compare(W, W_hat);       // any Eigen matrix, tensor or expression
//   e.mse, e.rmse, e.sqnr_db, e.max_abs, e.mean_abs, e.cosine, e.count
//   std::cout << eigenq::ErrorMetrics::table_header("tensor") << e.to_row("fc1.weight");
//   std::string json = e.to_json();
//   auto per_row = eigenq::compare_per_channel(W, W_hat, 0);
//
// Definitions (sums over all elements, computed in double):
//   mse = sum (r - x)^2 / n,  rmse = sqrt(mse),  max_abs = max |r - x|,  mean_abs = sum |r - x| / n
//   sqnr_db = 10 log10(sum r^2 / sum (r - x)^2): +inf for a perfect reconstruction, -inf for
//             an all-zero reference reconstructed with error.
//   cosine  = sum r x / (|r| |x|): 1 when both are all zero, 0 when exactly one is.
// Non-finite values are printed as "inf"/"-inf" in tables and as null in JSON.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "eigenq/analysis/json_writer.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"

namespace eigenq {

struct ErrorMetrics {
  double mse = 0.0;
  double rmse = 0.0;
  double sqnr_db = std::numeric_limits<double>::infinity();
  double max_abs = 0.0;
  double mean_abs = 0.0;
  double cosine = 1.0;
  Index count = 0;

  // Column titles matching to_row(); a label column first when label_title is not empty.
  static std::string table_header(const std::string& label_title = "") {
    std::string out;
    if (!label_title.empty()) out += pad(label_title, label_width) + "  ";
    char buf[160];
    std::snprintf(buf, sizeof buf, "%12s %12s %9s %12s %12s %10s %10s", "mse", "rmse", "sqnr_db", "max_abs",
                  "mean_abs", "cosine", "count");
    out += buf;
    return out + "\n";
  }

  std::string to_row(const std::string& label = "") const {
    std::string out;
    if (!label.empty()) out += pad(label, label_width) + "  ";
    char buf[200];
    std::snprintf(buf, sizeof buf, "%12.4e %12.4e %9s %12.4e %12.4e %10.6f %10lld", mse, rmse,
                  format_db(sqnr_db).c_str(), max_abs, mean_abs, cosine, static_cast<long long>(count));
    out += buf;
    return out + "\n";
  }

  void write_json(JsonWriter& w) const {
    w.begin_object()
        .key("mse").value(mse)
        .key("rmse").value(rmse)
        .key("sqnr_db").value(sqnr_db)
        .key("max_abs").value(max_abs)
        .key("mean_abs").value(mean_abs)
        .key("cosine").value(cosine)
        .key("count").value(static_cast<long long>(count))
        .end_object();
  }

  std::string to_json() const {
    JsonWriter w;
    write_json(w);
    return w.str();
  }

  static std::string format_db(double db) {
    if (std::isnan(db)) return "nan";
    if (std::isinf(db)) return db > 0 ? "inf" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", db);
    return buf;
  }

  static constexpr std::size_t label_width = 24;

 private:
  static std::string pad(const std::string& s, std::size_t width) {
    return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
  }
};

namespace detail {

// Running sums behind ErrorMetrics.
struct ErrorSums {
  double signal = 0.0;     // sum r^2
  double recon = 0.0;      // sum x^2
  double dot = 0.0;        // sum r x
  double noise = 0.0;      // sum (r - x)^2
  double abs_error = 0.0;  // sum |r - x|
  double max_abs = 0.0;
  Index count = 0;

  // The sums of other values, as if they had been added here.
  void add(const ErrorSums& other) {
    signal += other.signal;
    recon += other.recon;
    dot += other.dot;
    noise += other.noise;
    abs_error += other.abs_error;
    max_abs = std::max(max_abs, other.max_abs);
    count += other.count;
  }

  void add(const float* r, const float* x, Index n) {
    if (n <= 0) return;
    if (n < 32) {  // short runs (per-channel on the last axis): no temporaries
      for (Index i = 0; i < n; ++i) {
        const double a = r[i];
        const double b = x[i];
        const double d = a - b;
        signal += a * a;
        recon += b * b;
        dot += a * b;
        noise += d * d;
        abs_error += std::fabs(d);
        max_abs = std::max(max_abs, std::fabs(d));
      }
      count += n;
      return;
    }
    const Eigen::ArrayXd a = Eigen::Map<const Eigen::ArrayXf>(r, n).cast<double>();
    const Eigen::ArrayXd b = Eigen::Map<const Eigen::ArrayXf>(x, n).cast<double>();
    const Eigen::ArrayXd d = a - b;
    signal += a.square().sum();
    recon += b.square().sum();
    dot += (a * b).sum();
    noise += d.square().sum();
    abs_error += d.abs().sum();
    max_abs = std::max(max_abs, d.abs().maxCoeff());
    count += n;
  }

  ErrorMetrics metrics() const {
    ErrorMetrics m;
    m.count = count;
    if (count == 0) return m;
    const double n = static_cast<double>(count);
    m.mse = noise / n;
    m.rmse = std::sqrt(m.mse);
    m.max_abs = max_abs;
    m.mean_abs = abs_error / n;
    constexpr double inf = std::numeric_limits<double>::infinity();
    if (noise == 0.0) m.sqnr_db = inf;
    else if (signal == 0.0) m.sqnr_db = -inf;
    else m.sqnr_db = 10.0 * std::log10(signal / noise);
    if (signal == 0.0 && recon == 0.0) m.cosine = 1.0;
    else if (signal == 0.0 || recon == 0.0) m.cosine = 0.0;
    else m.cosine = std::clamp(dot / (std::sqrt(signal) * std::sqrt(recon)), -1.0, 1.0);
    return m;
  }
};

inline void check_comparable(const RowMajorView& r, const RowMajorView& x) {
  if (r.shape() != x.shape()) {
    raise<ShapeError>("compare: reference of shape ", to_string(r.shape()),
                      " and reconstruction of shape ", to_string(x.shape()), " differ");
  }
  if (r.size() == 0) raise<ShapeError>("compare: empty tensors of shape ", to_string(r.shape()));
  const RowMajorView* views[2] = {&r, &x};
  const char* names[2] = {"reference", "reconstruction"};
  for (int k = 0; k < 2; ++k) {
    const RowMajorView& v = *views[k];
    if (Eigen::Map<const Eigen::ArrayXf>(v.data(), v.size()).allFinite()) continue;
    for (Index i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        raise<NonFiniteError>("compare: the ", names[k], " holds ", v[i], " at index ",
                              index_to_string(v.shape(), i), " of shape ", to_string(v.shape()));
      }
    }
  }
}

}  // namespace detail

inline ErrorMetrics compare_views(const RowMajorView& reference, const RowMajorView& reconstruction) {
  detail::check_comparable(reference, reconstruction);
  detail::ErrorSums s;
  s.add(reference.data(), reconstruction.data(), reference.size());
  return s.metrics();
}

// Metrics of a reconstruction against its reference; both of the same logical shape.
template <class R, class X>
ErrorMetrics compare(const R& reference, const X& reconstruction) {
  return compare_views(row_major_view(reference), row_major_view(reconstruction));
}

// The same metrics for every index along `axis` (negative counts from the end).
template <class R, class X>
std::vector<ErrorMetrics> compare_per_channel(const R& reference, const X& reconstruction, int axis) {
  const RowMajorView r = row_major_view(reference);
  const RowMajorView x = row_major_view(reconstruction);
  detail::check_comparable(r, x);
  const ParamLayout layout(r.shape(), PerChannel{axis});
  std::vector<detail::ErrorSums> sums(static_cast<std::size_t>(layout.param_count()));
  layout.for_each_run([&](Index first, Index n, Index channel, Index) {
    sums[static_cast<std::size_t>(channel)].add(r.data() + first, x.data() + first, n);
  });
  std::vector<ErrorMetrics> out;
  out.reserve(sums.size());
  for (const auto& s : sums) out.push_back(s.metrics());
  return out;
}

}  // namespace eigenq
