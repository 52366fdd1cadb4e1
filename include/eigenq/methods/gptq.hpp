// GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate Post-Training Quantization
// for Generative Pre-trained Transformers", Algorithm 1): quantize a weight W [out, in] column by
// column, and after each column spread its rounding error over the columns not yet quantized,
// so that the layer output on the calibration rows, ||(W - W^) X^T||^2, stays small. It needs
// the Hessian H = sum x x^T of the layer's inputs (calibration statistics).
//
//   auto q = eigenq::Quantizer(eigenq::Linear<int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 128});
//   auto r = eigenq::gptq(W, stats.hessian, q);        // or gptq(W, stats, q, options)
//   r.weights      // QTensor<Linear<int8_t>>: ordinary codes and per-group params
//   r.report       // layer error, damping used, dead inputs, warnings
//
// The algorithm, as the reference implementation (IST-DASLab/gptq, gptq.py fasterquant) does it:
//   1. Per channel: the scheme's parameters are fitted on the whole original W first.
//   2. Dead inputs (H_jj = 0: the input was always 0) get H_jj = 1 and W[:, j] = 0.
//   3. static_groups: every group's parameters are fitted now, on W (original column order).
//   4. act_order: columns are processed in order of decreasing H_jj (ties keep column order).
//   5. Damping: H += percdamp * mean(diag H) * I. U = the upper Cholesky factor of H^-1
//      (H^-1 = U^T U), from one Cholesky factorization (Eigen's LLT) of H with rows and columns
//      reversed and one blocked triangular inverse (mathematically the reference's
//      cholesky -> cholesky_inverse -> cholesky(upper)). If H is not positive definite
//      (LLT fails, or the factor is not finite), percdamp is multiplied by damp_growth and the
//      factorization retried, up to max_damp_retries times (the reference stops with an
//      error; its successors retry with more damping); if every retry fails, U becomes
//      diag(1 / sqrt(H_jj + damp)) (no error feedback: round to nearest) and the report says so.
//   6. Columns in blocks of block_size (lazy batch updates): inside a block, column k is
//      quantized (q), e = (w - q) / U_kk, and the block's later columns get w -= e U[k, k:];
//      after the block, every later column gets W[:, i2:] -= E U[i1:i2, i2:] at once.
//      With groups (not static): a group's parameters are fitted when its first column is
//      reached, on W[:, g : g + G] as it stands at the start of the current block (the
//      reference reads W, which gets the lazy updates of finished blocks only, not W1).
//   7. The codes and parameters go into an ordinary QTensor of the scheme.
// A group of G >= in columns is one group per row, i.e. per channel (step 1, not 7).
// act_order with groups needs static_groups: the reference's dynamic groups then run over
// permuted columns, which no contiguous-group QTensor can hold.
//
// Works with every scheme whose rows quantize independently (row_quantizer.hpp): linear
// 2..8 bits per channel or per group (symmetric, affine, any profile), codebook and log-signed
// per channel, ...; gptq_rows() takes any row quantizer (ggml block types plug in there).
//
// Layer error: trace(D H D^T) with D = W - W^ and the given H. By default it comes from the
// algorithm's own terms (sum e^2 = trace(D H_damped D^T), less the damping's and the dead
// inputs' share: exact in exact arithmetic, costs nothing); exact_layer_error computes it
// directly in double (out * in^2 multiply-adds, as much as GPTQ itself for a square layer).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include "eigenq/calibrate/calibration_stats.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/methods/layer_error.hpp"
#include "eigenq/methods/row_quantizer.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/quantizer.hpp"

namespace eigenq {

// The arithmetic of the Hessian factorization and the weight updates. f32 is the reference's
// own (it runs in float32 on a GPU) and twice as fast; f64 for ill-conditioned Hessians.
enum class GptqPrecision { f32, f64 };

inline const char* to_string(GptqPrecision p) { return p == GptqPrecision::f32 ? "f32" : "f64"; }

struct GptqOptions {
  Index block_size = 128;      // columns per lazy batch update (the reference's blocksize)
  double percdamp = 0.01;      // damping, as a fraction of mean(diag H) (the reference's percdamp)
  double damp_growth = 10.0;   // a failed factorization multiplies percdamp by this...
  int max_damp_retries = 4;    // ...at most this many times, then the diagonal fallback
  bool act_order = false;      // columns in order of decreasing H_jj (the reference's actorder)
  bool static_groups = false;  // fit every group on the original W first (the reference's static_groups)
  GptqPrecision precision = GptqPrecision::f32;
  bool exact_layer_error = false;  // trace(D H D^T) computed directly (see above)
};

// What happened, for logs and reports.
struct GptqReport {
  double layer_error = 0.0;        // ||(W - W^) X^T||^2 on the calibration rows behind H
  bool layer_error_exact = false;  // computed directly (else from the algorithm's terms)
  double percdamp = 0.0;           // damping used, as a fraction of mean(diag H)
  double damp = 0.0;               // damping used, added to the diagonal
  int damp_retries = 0;            // failed factorizations before the one used
  bool diagonal_fallback = false;  // no damping made H positive definite: no error feedback
  std::vector<Index> dead_inputs;  // columns j with H_jj = 0 (quantized from 0)
  std::vector<Index> order;        // the column order processed (act_order), else empty
  std::vector<std::string> warnings;
};

template <class Weights>
struct GptqResult {
  Weights weights;  // QTensor<Policy> for gptq(); the row quantizer's result for gptq_rows()
  GptqReport report;
};

namespace detail {

template <class T>
using GptqMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

// Inverts a lower-triangular matrix in place (LAPACK trtri's blocked algorithm: from the last
// block column to the first, each one's rows below the diagonal block from the already inverted
// trailing part). The strictly upper triangle must be zero and stays zero.
template <class T>
void invert_lower_triangular(GptqMatrix<T>& a) {
  const Index n = a.rows();
  constexpr Index nb = 64;
  if (n == 0) return;
  for (Index j = ((n - 1) / nb) * nb; j >= 0; j -= nb) {
    const Index jb = std::min(nb, n - j);
    const Index rest = n - j - jb;
    if (rest > 0) {
      GptqMatrix<T> t = a.block(j + jb, j + jb, rest, rest).template triangularView<Eigen::Lower>() *
                        a.block(j + jb, j, rest, jb);
      a.block(j, j, jb, jb).template triangularView<Eigen::Lower>().template solveInPlace<Eigen::OnTheRight>(t);
      a.block(j + jb, j, rest, jb) = -t;
    }
    const GptqMatrix<T> d =
        a.block(j, j, jb, jb).template triangularView<Eigen::Lower>().solve(GptqMatrix<T>::Identity(jb, jb));
    a.block(j, j, jb, jb) = d.template triangularView<Eigen::Lower>();
  }
}

// U, the upper Cholesky factor of H^-1 (H^-1 = U^T U, U_kk > 0). With J the reversal,
// J H J = L L^T gives H = R R^T for the upper-triangular R = J L J, so U = R^-1 = J L^-1 J.
// False when H is not (numerically) positive definite.
template <class T>
bool inverse_cholesky_upper(GptqMatrix<T>& h, GptqMatrix<T>& u) {
  GptqMatrix<T> r = h.reverse();
  const Eigen::Matrix<T, Eigen::Dynamic, 1> diag = r.diagonal();
  {
    Eigen::LLT<Eigen::Ref<GptqMatrix<T>>, Eigen::Lower> llt(r);  // in place: L in r's lower triangle
    if (llt.info() != Eigen::Success) return false;
  }
  r.template triangularView<Eigen::StrictlyUpper>().setZero();
  // A pivot that is rounding noise (r_kk^2 at most 16 eps H_kk) means "singular", not "positive
  // definite": LLT accepts any pivot > 0, and [[2, 2], [2, 2]] gives one of about eps in float.
  const T noise = T(16) * Eigen::NumTraits<T>::epsilon();
  for (Index k = 0; k < r.rows(); ++k) {
    if (!(r(k, k) > T(0)) || !std::isfinite(r(k, k)) || !(r(k, k) * r(k, k) > noise * diag[k])) return false;
  }
  if (!r.allFinite()) return false;
  invert_lower_triangular(r);
  if (!r.allFinite()) return false;
  u = r.reverse();
  return true;
}

inline void check_gptq_options(const GptqOptions& o) {
  if (o.block_size <= 0) raise("gptq: block_size = ", o.block_size, " must be positive");
  if (!(o.percdamp >= 0.0) || !std::isfinite(o.percdamp)) raise("gptq: percdamp = ", o.percdamp, " must be >= 0");
  if (!(o.damp_growth > 1.0) || !std::isfinite(o.damp_growth)) {
    raise("gptq: damp_growth = ", o.damp_growth, " must be > 1");
  }
  if (o.max_damp_retries < 0) raise("gptq: max_damp_retries = ", o.max_damp_retries, " must be >= 0");
}

template <class T, class Rows>
GptqReport gptq_core(const Eigen::MatrixXf& w_in, const Eigen::MatrixXd& h_in, Rows& rows, const GptqOptions& o,
                     Eigen::MatrixXf& w_hat) {
  const Index out = w_in.rows();
  const Index n = w_in.cols();
  const Index gsize = rows.group_size();
  const bool one_group = gsize >= n;
  GptqReport rep;

  if (one_group) rows.fit_group(0, w_in);  // per channel: on the original W, before dead inputs are zeroed

  Eigen::MatrixXd h = h_in;
  GptqMatrix<T> w = w_in.template cast<T>();
  for (Index j = 0; j < n; ++j) {
    if (h(j, j) == 0.0) {
      h(j, j) = 1.0;
      w.col(j).setZero();
      rep.dead_inputs.push_back(j);
    }
  }

  if (!one_group && o.static_groups) {
    for (Index g = 0; g * gsize < n; ++g) {
      const Index len = std::min(gsize, n - g * gsize);
      rows.fit_group(g, w.middleCols(g * gsize, len).template cast<float>());
    }
  }

  std::vector<Index> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), Index{0});
  if (o.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](Index a, Index b) { return h(a, a) > h(b, b); });
    GptqMatrix<T> wp(out, n);
    Eigen::MatrixXd hp(n, n);
    for (Index c = 0; c < n; ++c) {
      wp.col(c) = w.col(perm[static_cast<std::size_t>(c)]);
      for (Index r = 0; r < n; ++r) hp(r, c) = h(perm[static_cast<std::size_t>(r)], perm[static_cast<std::size_t>(c)]);
    }
    w = std::move(wp);
    h = std::move(hp);
    rep.order = perm;
  }

  // Damping, and the factor; more damping while it fails.
  const double mean_diag = h.diagonal().mean();
  GptqMatrix<T> u;
  bool ok = false;
  double percdamp = o.percdamp;
  for (int attempt = 0; attempt <= o.max_damp_retries; ++attempt) {
    GptqMatrix<T> hd = h.template cast<T>();
    const double damp = percdamp * mean_diag;
    hd.diagonal().array() += static_cast<T>(damp);
    rep.percdamp = percdamp;
    rep.damp = damp;
    if (inverse_cholesky_upper(hd, u)) {
      ok = true;
      break;
    }
    rep.warnings.push_back(detail::error_message("gptq: the Hessian damped by percdamp = ", percdamp,
                                                 " (", damp, " on the diagonal) is not positive definite",
                                                 attempt < o.max_damp_retries ? "; more damping" : ""));
    if (attempt < o.max_damp_retries) {
      ++rep.damp_retries;
      percdamp *= o.damp_growth;
    }
  }
  if (!ok) {
    rep.diagonal_fallback = true;
    u = GptqMatrix<T>::Zero(n, n);
    for (Index k = 0; k < n; ++k) {
      const double d = h(k, k) + rep.damp;
      u(k, k) = static_cast<T>(d > 0.0 && std::isfinite(d) ? 1.0 / std::sqrt(d) : 1.0);
    }
    rep.warnings.push_back("gptq: no damping made the Hessian positive definite; the diagonal is used instead "
                           "(no error feedback between columns: round to nearest)");
  }

  w_hat.resize(out, n);
  double sum_e2 = 0.0;
  std::vector<float> column(static_cast<std::size_t>(out));
  std::vector<float> dequantized(static_cast<std::size_t>(out));
  for (Index i1 = 0; i1 < n; i1 += o.block_size) {
    const Index i2 = std::min(i1 + o.block_size, n);
    const Index count = i2 - i1;
    GptqMatrix<T> w1 = w.middleCols(i1, count);
    GptqMatrix<T> err1(out, count);
    for (Index i = 0; i < count; ++i) {
      const Index k = i1 + i;
      const Index col = perm[static_cast<std::size_t>(k)];
      if (!one_group && !o.static_groups && k % gsize == 0) {
        rows.fit_group(k / gsize, w.middleCols(k, std::min(gsize, n - k)).template cast<float>());
      }
      for (Index r = 0; r < out; ++r) column[static_cast<std::size_t>(r)] = static_cast<float>(w1(r, i));
      rows.quantize_column(col, column.data(), dequantized.data());
      const T d = u(k, k);
      for (Index r = 0; r < out; ++r) {
        const float q = dequantized[static_cast<std::size_t>(r)];
        w_hat(r, col) = q;
        const T e = (w1(r, i) - static_cast<T>(q)) / d;
        err1(r, i) = e;
        sum_e2 += static_cast<double>(e) * static_cast<double>(e);
      }
      const Index rest = count - i - 1;
      if (rest > 0) w1.rightCols(rest).noalias() -= err1.col(i) * u.row(k).segment(k + 1, rest);
    }
    if (i2 < n) w.rightCols(n - i2).noalias() -= err1 * u.block(i1, i2, count, n - i2);
  }

  if (o.exact_layer_error || rep.diagonal_fallback) {
    rep.layer_error = layer_error(w_in, w_hat, h_in);
    rep.layer_error_exact = true;
  } else {
    // sum e^2 = trace(D H_used D^T), D = W_zeroed - W^ and H_used = H + (dead: 1) + damp I.
    double dead = 0.0;
    for (Index j : rep.dead_inputs) dead += (w_hat.col(j).template cast<double>()).squaredNorm();
    Eigen::MatrixXd dz = w_in.template cast<double>() - w_hat.template cast<double>();
    for (Index j : rep.dead_inputs) dz.col(j) = -w_hat.col(j).template cast<double>();
    rep.layer_error = std::max(0.0, sum_e2 - rep.damp * dz.squaredNorm() - dead);
  }
  return rep;
}

}  // namespace detail

// GPTQ with any row quantizer (row_quantizer.hpp). W [out, in], H [in, in] (sum x x^T, symmetric,
// finite; only its lower triangle is read by the layer error).
template <class Rows>
GptqResult<typename Rows::result_type> gptq_rows(const Eigen::MatrixXf& w, const Eigen::MatrixXd& hessian, Rows rows,
                                                 const GptqOptions& options = {}) {
  detail::check_gptq_options(options);
  if (w.rows() == 0 || w.cols() == 0) raise<ShapeError>("gptq: the weight [", w.rows(), ", ", w.cols(), "] is empty");
  if (hessian.rows() != w.cols() || hessian.cols() != w.cols()) {
    raise<ShapeError>("gptq: the Hessian is [", hessian.rows(), ", ", hessian.cols(), "], expected [", w.cols(), ", ",
                      w.cols(), "] for a weight of ", w.cols(), " input features");
  }
  if (rows.rows() != w.rows() || rows.cols() != w.cols()) {
    raise<ShapeError>("gptq: the row quantizer is for [", rows.rows(), ", ", rows.cols(), "], the weight is [",
                      w.rows(), ", ", w.cols(), "]");
  }
  if (!w.allFinite()) raise<NonFiniteError>("gptq: the weight holds NaN or Inf");
  if (!hessian.allFinite()) raise<NonFiniteError>("gptq: the Hessian holds NaN or Inf");
  for (Index j = 0; j < hessian.rows(); ++j) {
    if (hessian(j, j) < 0.0) raise("gptq: the Hessian's diagonal [", j, "] = ", hessian(j, j), " is negative");
  }
  if (options.act_order && rows.group_size() < w.cols() && !options.static_groups) {
    raise("gptq: act_order with groups needs static_groups (groups over permuted columns are not contiguous; "
          "a QTensor holds contiguous groups)");
  }
  Eigen::MatrixXf w_hat;
  GptqReport report = options.precision == GptqPrecision::f64
                          ? detail::gptq_core<double>(w, hessian, rows, options, w_hat)
                          : detail::gptq_core<float>(w, hessian, rows, options, w_hat);
  return {rows.result(), std::move(report)};
}

// GPTQ with a Quantizer whose rows quantize independently: the result is a QTensor of its
// policy and granularity.
template <class Policy, class G>
GptqResult<QTensor<Policy>> gptq(const Eigen::MatrixXf& w, const Eigen::MatrixXd& hessian,
                                 const Quantizer<Policy, G>& quantizer, const GptqOptions& options = {}) {
  require_rows_independent(quantizer.granularity(), "gptq");
  return gptq_rows(w, hessian, RowwiseQuantizer<Policy>(quantizer, w.rows(), w.cols()), options);
}

// GPTQ from calibration statistics (needs their Hessian).
template <class Policy, class G>
GptqResult<QTensor<Policy>> gptq(const Eigen::MatrixXf& w, const CalibrationStats& stats,
                                 const Quantizer<Policy, G>& quantizer, const GptqOptions& options = {}) {
  stats.require(StatsField::hessian, "gptq");
  return gptq(w, stats.hessian, quantizer, options);
}

}  // namespace eigenq
