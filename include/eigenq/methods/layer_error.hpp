// The error every method of methods/ is judged by: the layer-output error on the calibration
// rows, ||(W - W^) X^T||^2 = sum over rows x of ||(W - W^) x||^2, computed from the Hessian
// H = sum x x^T as trace((W - W^) H (W - W^)^T), in double. It splits over the weight's rows
// (row r contributes d_r H d_r^T, d_r = W_r - W^_r), which is what lets a method choose per row.
//
//   double e = eigenq::layer_error(W, W_hat, stats.hessian);
#pragma once

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

namespace detail {

template <class A, class B>
void check_layer_error_shapes(const Eigen::MatrixBase<A>& w, const Eigen::MatrixBase<B>& w_hat,
                              const Eigen::MatrixXd& h) {
  if (w.rows() != w_hat.rows() || w.cols() != w_hat.cols()) {
    raise<ShapeError>("layer_error: W is [", w.rows(), ", ", w.cols(), "] but W^ is [", w_hat.rows(), ", ",
                      w_hat.cols(), "]");
  }
  if (h.rows() != w.cols() || h.cols() != w.cols()) {
    raise<ShapeError>("layer_error: the Hessian is [", h.rows(), ", ", h.cols(), "], expected [", w.cols(), ", ",
                      w.cols(), "] for a weight of ", w.cols(), " input features");
  }
}

}  // namespace detail

// Per row r: (W_r - W^_r) H (W_r - W^_r)^T.
template <class A, class B>
Eigen::VectorXd row_layer_errors(const Eigen::MatrixBase<A>& w, const Eigen::MatrixBase<B>& w_hat,
                                 const Eigen::MatrixXd& hessian) {
  detail::check_layer_error_shapes(w, w_hat, hessian);
  const Eigen::MatrixXd d = w.template cast<double>() - w_hat.template cast<double>();
  const Eigen::MatrixXd dh = d * hessian.selfadjointView<Eigen::Lower>();
  return dh.cwiseProduct(d).rowwise().sum();
}

// trace((W - W^) H (W - W^)^T): ||(W - W^) X^T||^2 over the rows X behind H.
template <class A, class B>
double layer_error(const Eigen::MatrixBase<A>& w, const Eigen::MatrixBase<B>& w_hat, const Eigen::MatrixXd& hessian) {
  return row_layer_errors(w, w_hat, hessian).sum();
}

// The same from the calibration rows themselves: X [rows, in].
template <class A, class B, class C>
double layer_error_rows(const Eigen::MatrixBase<A>& w, const Eigen::MatrixBase<B>& w_hat,
                        const Eigen::MatrixBase<C>& x) {
  if (x.cols() != w.cols()) {
    raise<ShapeError>("layer_error_rows: rows of ", x.cols(), " features for a weight of ", w.cols(), " inputs");
  }
  const Eigen::MatrixXd d = w.template cast<double>() - w_hat.template cast<double>();
  return (x.template cast<double>() * d.transpose()).squaredNorm();
}

}  // namespace eigenq
