// What a quantization policy is, and the generic bulk loops every policy gets.
//
// A policy is a small value type that maps one float to one integer code and
// back under per-group parameters, and turns calibration data into those
// parameters. Granularity (which elements share parameters) is not its
// business; the Quantizer handles it. A policy provides:
//
//   using code_type = ...;          // int8_t, uint8_t, int16_t or uint16_t
//   struct Params { ... };          // one set of parameters
//   static constexpr bool fits_from_range;  // true: fit(min, max); false: fit_values
//   Params fit(float min, float max) const;                 // range-based policies
//   Params fit_values(std::vector<float>& values) const;    // data-based policies
//   code_type quantize(float x, const Params&) const;
//   float dequantize(code_type q, const Params&) const;
//   int bits() const;                // significant bits of a code (2..16)
//   std::string name() const;        // e.g. "linear-symmetric", used in reports and files
//
// and may provide faster bulk versions, called on runs of elements whose
// parameters are p[0], p[step], p[2*step], ... (step is 0 or 1):
//   void quantize_run(const float* x, Index n, const Params* p, Index step, code_type* out) const;
//   void dequantize_run(const code_type* q, Index n, const Params* p, Index step, float* out) const;
//   std::size_t param_bytes(const Params&) const;  // storage cost of one Params
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "eigenq/core/types.hpp"

namespace eigenq {
namespace detail {

template <class P, class = void>
struct has_quantize_run : std::false_type {};
template <class P>
struct has_quantize_run<P, std::void_t<decltype(std::declval<const P&>().quantize_run(
                               std::declval<const float*>(), Index{},
                               std::declval<const typename P::Params*>(), Index{},
                               std::declval<typename P::code_type*>()))>> : std::true_type {};

template <class P, class = void>
struct has_dequantize_run : std::false_type {};
template <class P>
struct has_dequantize_run<P, std::void_t<decltype(std::declval<const P&>().dequantize_run(
                                 std::declval<const typename P::code_type*>(), Index{},
                                 std::declval<const typename P::Params*>(), Index{},
                                 std::declval<float*>()))>> : std::true_type {};

template <class P, class = void>
struct has_param_bytes : std::false_type {};
template <class P>
struct has_param_bytes<P, std::void_t<decltype(std::declval<const P&>().param_bytes(
                              std::declval<const typename P::Params&>()))>> : std::true_type {};

}  // namespace detail

template <class Policy>
void quantize_run(const Policy& policy, const float* x, Index n,
                  const typename Policy::Params* p, Index step,
                  typename Policy::code_type* out) {
  if constexpr (detail::has_quantize_run<Policy>::value) {
    policy.quantize_run(x, n, p, step, out);
  } else {
    for (Index i = 0; i < n; ++i) out[i] = policy.quantize(x[i], p[i * step]);
  }
}

template <class Policy>
void dequantize_run(const Policy& policy, const typename Policy::code_type* q, Index n,
                    const typename Policy::Params* p, Index step, float* out) {
  if constexpr (detail::has_dequantize_run<Policy>::value) {
    policy.dequantize_run(q, n, p, step, out);
  } else {
    for (Index i = 0; i < n; ++i) out[i] = policy.dequantize(q[i], p[i * step]);
  }
}

// Bulk loops for policies that precompute one parameter set's constants in a
// Mapping (constructed from the policy and the Params): built once for a run
// that shares its parameters (step 0), per element otherwise.
template <class Mapping, class Policy, class F>
void for_each_with_mapping(const Policy& policy, Index n, const typename Policy::Params* p, Index step, F&& f) {
  if (step == 0) {
    const Mapping m(policy, *p);
    for (Index i = 0; i < n; ++i) f(m, i);
  } else {
    for (Index i = 0; i < n; ++i) f(Mapping(policy, p[i]), i);
  }
}

// The value-level and bulk operations of a policy whose per-parameter-set constants live in
// a Mapping: Derived::Mapping(const Derived&, const Params&), with Code quantize(float) and
// float dequantize(Code). Derived inherits quantize, dequantize, quantize_run and
// dequantize_run (and befriends this class when its Mapping is private):
//   template <class Code> class Log : public MappedPolicy<Log<Code>> { ... struct Mapping; };
// The members are templates only so that they name Derived's types once Derived is complete;
// D is always Derived.
template <class Derived>
class MappedPolicy {
 public:
  template <class D = Derived>
  typename D::code_type quantize(float x, const typename D::Params& p) const {
    return typename D::Mapping(self(), p).quantize(x);
  }
  template <class D = Derived>
  float dequantize(typename D::code_type q, const typename D::Params& p) const {
    return typename D::Mapping(self(), p).dequantize(q);
  }

  template <class D = Derived>
  void quantize_run(const float* x, Index n, const typename D::Params* p, Index step,
                    typename D::code_type* out) const {
    using Mapping = typename D::Mapping;
    for_each_with_mapping<Mapping>(self(), n, p, step, [&](const Mapping& m, Index i) { out[i] = m.quantize(x[i]); });
  }
  template <class D = Derived>
  void dequantize_run(const typename D::code_type* q, Index n, const typename D::Params* p, Index step,
                      float* out) const {
    using Mapping = typename D::Mapping;
    for_each_with_mapping<Mapping>(self(), n, p, step, [&](const Mapping& m, Index i) { out[i] = m.dequantize(q[i]); });
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

template <class Policy>
std::size_t param_bytes(const Policy& policy, const typename Policy::Params& p) {
  if constexpr (detail::has_param_bytes<Policy>::value) {
    return policy.param_bytes(p);
  } else {
    (void)policy;
    (void)p;
    return sizeof(typename Policy::Params);
  }
}

}  // namespace eigenq
