// A quantized tensor: codes in their storage format, one parameter set per
// group of elements, the logical shape and the granularity. Dequantizes back
// to any Eigen matrix or tensor type.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/policy/policy.hpp"

namespace eigenq {

template <class Policy>
class QTensor {
 public:
  using policy_type = Policy;
  using code_type = typename Policy::code_type;
  using Params = typename Policy::Params;

  QTensor() = default;

  QTensor(Policy policy, Shape shape, Granularity granularity, std::vector<Params> params,
          CodeStorage<code_type> codes)
      : policy_(std::move(policy)),
        layout_(shape, granularity),
        params_(std::move(params)),
        codes_(std::move(codes)) {
    if (static_cast<Index>(params_.size()) != layout_.param_count()) {
      raise<ShapeError>("QTensor of shape ", to_string(shape), " needs ", layout_.param_count(),
                        " parameter sets, got ", params_.size());
    }
    if (codes_.size() != element_count(shape)) {
      raise<ShapeError>("QTensor of shape ", to_string(shape), " needs ", element_count(shape),
                        " codes, got ", codes_.size());
    }
  }

  const Policy& policy() const { return policy_; }
  const Shape& shape() const { return layout_.shape(); }
  int rank() const { return static_cast<int>(layout_.shape().size()); }
  Index size() const { return codes_.size(); }
  const Granularity& granularity() const { return layout_.granularity(); }
  // Normalized axis of per-channel / per-group parameters, -1 per tensor.
  int axis() const { return layout_.granularity().axis; }
  const ParamLayout& layout() const { return layout_; }
  const std::vector<Params>& params() const { return params_; }
  const CodeStorage<code_type>& codes() const { return codes_; }
  int bits() const { return codes_.bits(); }

  code_type code(Index i) const { return codes_[i]; }
  std::vector<code_type> unpacked_codes() const { return codes_.unpacked(); }

  // True storage: the codes in their (packed) format plus every parameter set.
  std::size_t storage_bytes() const {
    std::size_t bytes = codes_.bytes();
    for (const auto& p : params_) bytes += param_bytes(policy_, p);
    return bytes;
  }

  // Dequantizes into row-major floats (size() of them).
  void dequantize_into(float* out) const {
    const code_type* codes = nullptr;
    std::vector<code_type> unpacked;
    if (codes_.is_packed()) {
      unpacked = codes_.unpacked();
      codes = unpacked.data();
    } else {
      codes = codes_.data();
    }
    layout_.for_each_run([&](Index first, Index n, Index pbase, Index pstep) {
      dequantize_run(policy_, codes + first, n, params_.data() + pbase, pstep, out + first);
    });
  }

  std::vector<float> dequantize_flat() const {
    std::vector<float> out(static_cast<std::size_t>(size()));
    dequantize_into(out.data());
    return out;
  }

  // Dequantizes into an Eigen type: Eigen::MatrixXf, a row-major matrix,
  // Eigen::Tensor<float, R, Layout> of the tensor's rank.
  template <class T>
  T dequantize() const {
    const std::vector<float> flat = dequantize_flat();
    return from_row_major<T>(flat.data(), shape());
  }

 private:
  Policy policy_{};
  ParamLayout layout_{Shape{}, Granularity{}};
  std::vector<Params> params_;
  CodeStorage<code_type> codes_;
};

// The result of dequantize(q) without a target type: converts to whichever
// Eigen matrix or tensor it is assigned to.
//   Eigen::MatrixXf w = eigenq::dequantize(q);
template <class Policy>
class Dequantized {
 public:
  explicit Dequantized(const QTensor<Policy>& q) : q_(q) {}
  template <class T>
  operator T() const {  // NOLINT(google-explicit-constructor): the point of this type
    return q_.template dequantize<T>();
  }
  std::vector<float> flat() const { return q_.dequantize_flat(); }

 private:
  const QTensor<Policy>& q_;
};

// (The empty pack keeps this overload out of the way of dequantize<T>(q).)
template <class... NoExplicitArguments, class Policy,
          std::enable_if_t<sizeof...(NoExplicitArguments) == 0, int> = 0>
Dequantized<Policy> dequantize(const QTensor<Policy>& q) {
  return Dequantized<Policy>(q);
}

template <class T, class Policy>
T dequantize(const QTensor<Policy>& q) {
  return q.template dequantize<T>();
}

}  // namespace eigenq
