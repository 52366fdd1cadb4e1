// Quantizer<Policy, Granularity>: fit parameters on data (min-max calibration,
// or the policy's own data-driven fit), quantize Eigen matrices and tensors into
// a QTensor, dequantize back. Any policy with any granularity.
//
//   eigenq::Quantizer q(eigenq::Linear<int8_t>::symmetric(), eigenq::PerChannel{0});
//   auto qt = q.quantize(W);                      // QTensor<Linear<int8_t>>
//   Eigen::MatrixXf W_hat = eigenq::dequantize(qt);
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/parallel_for.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/quantizer/ranges.hpp"

namespace eigenq {

template <class G>
inline constexpr bool is_granularity_v =
    std::is_same_v<G, PerTensor> || std::is_same_v<G, PerChannel> || std::is_same_v<G, PerGroup> ||
    std::is_same_v<G, Granularity>;

template <class Policy, class G = PerTensor>
class Quantizer {
  static_assert(is_granularity_v<G>, "granularity is PerTensor, PerChannel, PerGroup or Granularity");

 public:
  using policy_type = Policy;
  using code_type = typename Policy::code_type;
  using Params = typename Policy::Params;

  explicit Quantizer(Policy policy = Policy{}, G granularity = G{})
      : policy_(std::move(policy)), granularity_(granularity) {}

  const Policy& policy() const { return policy_; }
  Granularity granularity() const { return Granularity(granularity_); }

  // Up to `threads` threads for large tensors (at least 2^18 values, or one data-driven fit, a
  // thread), on eigenq's thread pool (core/parallel_for.hpp). The result is the same for every
  // thread count: each value's code and each group's fit depend on that value or group alone.
  Quantizer& with_threads(int threads) {
    if (threads < 1) raise("Quantizer: threads = ", threads, " must be >= 1");
    threads_ = threads;
    return *this;
  }
  int threads() const { return threads_; }

  // Parameters fitted on x: one set per tensor, channel or group.
  template <class X>
  std::vector<Params> fit(const X& x) const {
    const RowMajorView view = row_major_view(x);
    return fit_view(view, ParamLayout(view.shape(), granularity()));
  }

  // Fits on x, then quantizes it.
  template <class X>
  QTensor<Policy> quantize(const X& x) const {
    const RowMajorView view = row_major_view(x);
    const ParamLayout layout(view.shape(), granularity());
    return quantize_view(view, layout, fit_view(view, layout));
  }

  // Quantizes x with given parameters (e.g. from an observer).
  template <class X>
  QTensor<Policy> quantize(const X& x, std::vector<Params> params) const {
    const RowMajorView view = row_major_view(x);
    const ParamLayout layout(view.shape(), granularity());
    if (static_cast<Index>(params.size()) != layout.param_count()) {
      raise<ShapeError>("tensor of shape ", to_string(view.shape()), " quantized ",
                        to_string(layout.granularity().kind), "-wise needs ",
                        layout.param_count(), " parameter sets, got ", params.size());
    }
    return quantize_view(view, layout, std::move(params));
  }

  // Quantize then dequantize ("fake quantization"), into x's own type.
  template <class X>
  auto fake_quantize(const X& x) const {
    const QTensor<Policy> q = quantize(x);
    using Plain = std::decay_t<decltype(eval_plain(std::declval<const X&>()))>;
    return q.template dequantize<Plain>();
  }

 private:
  template <class X>
  static auto eval_plain(const X&) {
    if constexpr (detail::is_dense_v<X>) return typename X::PlainObject{};
    else return Eigen::Tensor<float, X::NumDimensions, X::Layout, Index>{};
  }

  std::vector<Params> fit_view(const RowMajorView& x, const ParamLayout& layout) const {
    std::vector<Params> params;
    params.reserve(static_cast<std::size_t>(layout.param_count()));
    if constexpr (Policy::fits_from_range) {
      const Ranges r = observe_ranges(x, layout, "quantize");
      for (std::size_t k = 0; k < r.min.size(); ++k) {
        try {
          params.push_back(policy_.fit(r.min[k], r.max[k]));
        } catch (const Error& e) {
          rethrow_for(layout, static_cast<Index>(k), e);
        }
      }
    } else {
      // Data-driven policies (codebook) see each group's values.
      if (x.size() == 0) raise<ShapeError>("cannot quantize an empty tensor of shape ", to_string(x.shape()));
      std::vector<std::vector<float>> groups(static_cast<std::size_t>(layout.param_count()));
      // Runs sharing one parameter set are appended whole (one copy per tensor
      // or channel); per-group runs step through their groups element by element.
      layout.for_each_run([&](Index first, Index n, Index pbase, Index pstep) {
        const float* run = x.data() + first;
        for (Index i = 0; i < n; ++i) {
          if (!std::isfinite(run[i])) {
            raise<NonFiniteError>("quantize found a non-finite value (", run[i], ") at index ",
                                  index_to_string(x.shape(), first + i), " of a tensor of shape ",
                                  to_string(x.shape()));
          }
        }
        if (pstep == 0) {
          groups[static_cast<std::size_t>(pbase)].insert(groups[static_cast<std::size_t>(pbase)].end(), run, run + n);
        } else {
          for (Index i = 0; i < n; ++i) groups[static_cast<std::size_t>(pbase + i)].push_back(run[i]);
        }
      });
      // Each group's fit alone (k-means for a codebook): shares of groups in order, so the
      // first failing group is the one reported, as on one thread.
      std::vector<std::optional<Params>> fitted(groups.size());
      parallel_for(static_cast<Index>(groups.size()), threads_, [&](Index begin, Index end) {
        for (Index k = begin; k < end; ++k) {
          try {
            fitted[static_cast<std::size_t>(k)] = policy_.fit_values(groups[static_cast<std::size_t>(k)]);
          } catch (const Error& e) {
            rethrow_for(layout, k, e);
          }
        }
      });
      for (auto& p : fitted) params.push_back(std::move(*p));
    }
    return params;
  }

  // Adds "in channel 3 of axis 0" to a policy's fit error, keeping its type.
  [[noreturn]] static void rethrow_for(const ParamLayout& layout, Index k, const Error& e) {
    const std::string msg = std::string(e.what()) + " (in " + describe_param(layout, k) + ")";
    if (dynamic_cast<const NonFiniteError*>(&e)) throw NonFiniteError(msg);
    if (dynamic_cast<const ShapeError*>(&e)) throw ShapeError(msg);
    if (dynamic_cast<const InvalidArgument*>(&e)) throw InvalidArgument(msg);
    throw Error(msg);
  }

  QTensor<Policy> quantize_view(const RowMajorView& x, const ParamLayout& layout,
                                std::vector<Params> params) const {
    if (x.size() == 0) raise<ShapeError>("cannot quantize an empty tensor of shape ", to_string(x.shape()));
    std::vector<code_type> codes(static_cast<std::size_t>(x.size()));
    // Pieces of runs of at most 2^16 values, so that a per-tensor run splits too; a value's
    // code depends on it and its parameters only.
    struct Piece {
      Index first, n, pbase, pstep;
    };
    std::vector<Piece> pieces;
    constexpr Index piece = Index{1} << 16;
    layout.for_each_run([&](Index first, Index n, Index pbase, Index pstep) {
      for (Index i = 0; i < n; i += piece) pieces.push_back({first + i, std::min(piece, n - i), pbase + i * pstep, pstep});
    });
    const int threads = static_cast<int>(std::min<Index>(threads_, std::max<Index>(1, x.size() >> 18)));
    parallel_for(static_cast<Index>(pieces.size()), threads, [&](Index begin, Index end) {
      for (Index i = begin; i < end; ++i) {
        const Piece& r = pieces[static_cast<std::size_t>(i)];
        quantize_run(policy_, x.data() + r.first, r.n, params.data() + r.pbase, r.pstep, codes.data() + r.first);
      }
    });
    CodeStorage<code_type> storage(codes.data(), x.size(), policy_.bits());
    return QTensor<Policy>(policy_, x.shape(), layout.granularity(), std::move(params),
                           std::move(storage));
  }

  Policy policy_;
  G granularity_;
  int threads_ = 1;
};

// quantize<Linear<int8_t>>(W, PerChannel{0}): a default-constructed policy.
template <class Policy, class X, class G, std::enable_if_t<is_granularity_v<G>, int> = 0>
QTensor<Policy> quantize(const X& x, G granularity) {
  return Quantizer<Policy, G>(Policy{}, granularity).quantize(x);
}

// quantize(W, Linear<int8_t>::symmetric(), PerChannel{0}).
template <class Policy, class X, class G = PerTensor,
          std::enable_if_t<!is_granularity_v<Policy>, int> = 0>
QTensor<Policy> quantize(const X& x, const Policy& policy, G granularity = G{}) {
  return Quantizer<Policy, G>(policy, granularity).quantize(x);
}

}  // namespace eigenq
