// A small float evaluator of ONNX graphs, for calibrating activations: runs the nodes of an
// MLP-like graph on batches [rows, features] and records each value's range. It knows the
// operators such graphs are made of: MatMul and Gemm (with an initializer or computed B), Add,
// Sub, Mul, Div (same shape, a row vector [N] or a scalar), Relu, Sigmoid, Tanh, Identity. Any
// other operator before the last value asked for is an error naming the node.
#pragma once

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/onnx/model_file.hpp"
#include "eigenq/onnx/rewrite.hpp"

namespace eigenq {
namespace onnx {

using ValueMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The smallest and largest value seen of each value name.
struct ValueRange {
  float min = 0.0f;
  float max = 0.0f;
  bool seen = false;
  void add(const ValueMatrix& m) {
    if (m.size() == 0) return;
    const float lo = m.minCoeff();
    const float hi = m.maxCoeff();
    min = seen ? std::min(min, lo) : lo;
    max = seen ? std::max(max, hi) : hi;
    seen = true;
  }
};

namespace detail {

inline ValueMatrix initializer_matrix(const proto::TensorProto& t) {
  if (t.data_type() != proto::TensorProto::FLOAT || t.dims_size() > 2) {
    raise<FormatError>("initializer '", t.name(), "' is ", element_type_name(t.data_type()), " of rank ", t.dims_size(),
                       "; the calibration evaluator reads float tensors of rank 0, 1 or 2");
  }
  if (t.dims_size() == 2) return float_matrix(t, false);
  proto::TensorProto two = t;
  two.clear_dims();
  two.add_dims(1);
  two.add_dims(t.dims_size() == 1 ? t.dims(0) : 1);
  return float_matrix(two, false);
}

// a (op) b with ONNX's broadcasting for [M, N] against [M, N], [1, N] or [1, 1].
template <class Op>
ValueMatrix broadcast(const ValueMatrix& a, const ValueMatrix& b, Op op, const std::string& node) {
  const Index rows = std::max(a.rows(), b.rows());
  const Index cols = std::max(a.cols(), b.cols());
  auto fits = [&](const ValueMatrix& m) {
    return (m.rows() == rows || m.rows() == 1) && (m.cols() == cols || m.cols() == 1);
  };
  if (!fits(a) || !fits(b)) raise<FormatError>("node '", node, "': shapes that do not broadcast");
  ValueMatrix out(rows, cols);
  for (Index r = 0; r < rows; ++r) {
    for (Index c = 0; c < cols; ++c) {
      out(r, c) = op(a(a.rows() == 1 ? 0 : r, a.cols() == 1 ? 0 : c), b(b.rows() == 1 ? 0 : r, b.cols() == 1 ? 0 : c));
    }
  }
  return out;
}

}  // namespace detail

// Runs the graph on one batch per graph input (by name) and adds every value's range to
// `ranges`; stops after the last node any of `wanted` needs (all nodes when empty).
inline void observe_ranges(const proto::ModelProto& model, const std::map<std::string, ValueMatrix>& inputs,
                           std::map<std::string, ValueRange>& ranges, const std::set<std::string>& wanted = {}) {
  const proto::GraphProto& g = model.graph();
  std::map<std::string, ValueMatrix> values;
  for (const auto& t : g.initializer()) {
    if (t.data_type() == proto::TensorProto::FLOAT && t.dims_size() <= 2) values[t.name()] = detail::initializer_matrix(t);
  }
  for (const auto& [name, m] : inputs) {
    values[name] = m;
    ranges[name].add(m);
  }
  std::set<std::string> missing = wanted;
  for (const auto& w : wanted) {
    if (values.count(w) != 0) missing.erase(w);
  }
  for (int i = 0; i < g.node_size() && (wanted.empty() || !missing.empty()); ++i) {
    const proto::NodeProto& n = g.node(i);
    const std::string label = node_label(n, i);
    auto in = [&](int k) -> const ValueMatrix& {
      if (k >= n.input_size() || values.count(n.input(k)) == 0) {
        raise<FormatError>("node '", label, "' (", n.op_type(), "): input ", k, " is not a float value of rank <= 2 the "
                           "calibration evaluator has");
      }
      return values.at(n.input(k));
    };
    const std::string& op = n.op_type();
    ValueMatrix y;
    if (!n.domain().empty() && n.domain() != "ai.onnx") {
      raise<FormatError>("node '", label, "' (", n.domain(), ".", op, ") cannot be evaluated for calibration");
    } else if (op == "MatMul") {
      if (in(0).cols() != in(1).rows()) raise<FormatError>("node '", label, "': MatMul of mismatched shapes");
      y = in(0) * in(1);
    } else if (op == "Gemm") {
      if (int_attribute(n, "transA", 0) != 0) raise<FormatError>("node '", label, "': Gemm with transA");
      const ValueMatrix b = int_attribute(n, "transB", 0) != 0 ? ValueMatrix(in(1).transpose()) : in(1);
      if (in(0).cols() != b.rows()) raise<FormatError>("node '", label, "': Gemm of mismatched shapes");
      y = float_attribute(n, "alpha", 1.0f) * (in(0) * b);
      if (n.input_size() > 2 && !n.input(2).empty()) {
        const float beta = float_attribute(n, "beta", 1.0f);
        y = detail::broadcast(y, in(2), [beta](float a, float c) { return a + beta * c; }, label);
      }
    } else if (op == "Add") {
      y = detail::broadcast(in(0), in(1), [](float a, float b) { return a + b; }, label);
    } else if (op == "Sub") {
      y = detail::broadcast(in(0), in(1), [](float a, float b) { return a - b; }, label);
    } else if (op == "Mul") {
      y = detail::broadcast(in(0), in(1), [](float a, float b) { return a * b; }, label);
    } else if (op == "Div") {
      y = detail::broadcast(in(0), in(1), [](float a, float b) { return a / b; }, label);
    } else if (op == "Relu") {
      y = in(0).cwiseMax(0.0f);
    } else if (op == "Sigmoid") {
      y = (1.0f / (1.0f + (-in(0).array()).exp())).matrix();
    } else if (op == "Tanh") {
      y = in(0).array().tanh().matrix();
    } else if (op == "Identity") {
      y = in(0);
    } else {
      raise<FormatError>("node '", label, "' (", op, ") cannot be evaluated for calibration; the evaluator knows "
                         "MatMul, Gemm, Add, Sub, Mul, Div, Relu, Sigmoid, Tanh, Identity");
    }
    if (n.output_size() < 1) continue;
    ranges[n.output(0)].add(y);
    missing.erase(n.output(0));
    values[n.output(0)] = std::move(y);
  }
  if (!missing.empty()) raise<FormatError>("value '", *missing.begin(), "' is not computed by the graph");
}

}  // namespace onnx
}  // namespace eigenq
