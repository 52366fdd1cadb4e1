// How each policy is stored in the eigenq quantized format (docs/format.md section 4):
// PolicyFormat<Policy> says which metadata describes it and how its parameters become
// parameter tensors NAME.<param> and back; visit_quantized_policy finds the policy type
// that reads a tensor from its metadata alone. A new policy is one PolicyFormat
// specialization here and one line in visit_quantized_policy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/quantized_metadata.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"

namespace eigenq {
namespace io {

// One parameter tensor of a policy: NAME.<suffix>, of dtype, shaped like the
// parameter layout (plus a last dimension `trailing` when it is > 0).
struct ParamSpec {
  std::string suffix;
  DType dtype = DType::f32;
  Index trailing = 0;
};

namespace detail {

template <class T>
void append_value(std::vector<std::uint8_t>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

inline void check_finite(float v, const char* what, Index set, const FormatContext& ctx) {
  if (!std::isfinite(v)) ctx.fail(what, " of parameter set ", set, " is ", v, " (must be finite)");
}

// A range pair (r_min <= r_max, finite), as the range-fitted policies keep them.
inline void check_range_pair(float lo, float hi, const char* lo_name, const char* hi_name, Index set,
                             const FormatContext& ctx) {
  check_finite(lo, lo_name, set, ctx);
  check_finite(hi, hi_name, set, ctx);
  if (lo > hi) ctx.fail(lo_name, " = ", lo, " > ", hi_name, " = ", hi, " in parameter set ", set);
}

template <class Code>
constexpr const char* signedness() {
  return std::is_signed_v<Code> ? "signed" : "unsigned";
}

template <class P>
struct is_linear_policy : std::false_type {};
template <class Code>
struct is_linear_policy<Linear<Code>> : std::true_type {};

// A default P set up from the metadata by configure(p); an error of the policy (bits, range,
// options out of range) becomes a FormatError naming the file and tensor, `what` first.
template <class P, class Configure>
P configured_policy(const FormatContext& ctx, const char* what, Configure&& configure) {
  P p;
  try {
    configure(p);
  } catch (const FormatError&) {
    throw;
  } catch (const Error& e) {
    ctx.fail(what, e.what());
  }
  return p;
}

// A default P with the metadata's code range.
template <class P>
P policy_with_range(const QuantizedTensorMeta& m, const FormatContext& ctx) {
  return configured_policy<P>(ctx, "code range: ", [&](P& p) { p.with_range(m.qmin, m.qmax); });
}

// What the policies other than linear share: the scheme is the policy's name; no convention,
// no profile, no options.
template <class P>
struct PlainPolicyFormat {
  static bool matches(const QuantizedTensorMeta& m) {
    return m.scheme == P().name() && m.code_dtype == dtype_of<typename P::code_type>();
  }
  static std::string scheme(const P& p) { return p.name(); }
  static std::string convention(const P&) { return "none"; }
  static std::string profile(const P&) { return ""; }
  static void describe(const P&, nlohmann::ordered_json&) {}
};

// Parameters of two floats a set (First and Second, members of P::Params), stored as two
// F32 tensors in that order.
template <class P, float P::Params::*First, float P::Params::*Second>
struct FloatPairFormat : PlainPolicyFormat<P> {
  static void encode(const P&, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(2, {});
    for (const auto& v : ps) {
      append_value(out[0], v.*First);
      append_value(out[1], v.*Second);
    }
  }

  // The parameter sets of the two tensors; check(set, first, second) rejects a set (ctx.fail).
  template <class Check>
  static std::vector<typename P::Params> decode_pairs(const std::vector<TensorView>& v, Index sets, Check&& check) {
    const std::vector<float> first = v[0].values<float>();
    const std::vector<float> second = v[1].values<float>();
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (Index k = 0; k < sets; ++k) {
      const auto i = static_cast<std::size_t>(k);
      check(k, first[i], second[i]);
      out[i].*First = first[i];
      out[i].*Second = second[i];
    }
    return out;
  }
};

// Log and Exp: the observed range [r_min, r_max] (Log's r_min positive).
template <class P, bool positive_r_min>
struct RangeParamsFormat : FloatPairFormat<P, &P::Params::r_min, &P::Params::r_max> {
  static std::vector<ParamSpec> params(const P&) { return {{"r_min", DType::f32, 0}, {"r_max", DType::f32, 0}}; }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const FormatContext& ctx) {
    return RangeParamsFormat::decode_pairs(v, sets, [&](Index k, float lo, float hi) {
      check_range_pair(lo, hi, "r_min", "r_max", k, ctx);
      if (positive_r_min && !(lo > 0.0f)) ctx.fail("r_min of parameter set ", k, " is ", lo, " (log needs > 0)");
    });
  }
  static P make(const QuantizedTensorMeta& m, const FormatContext& ctx) { return policy_with_range<P>(m, ctx); }
};

}  // namespace detail

// How one policy type maps to metadata and parameter tensors. Each
// specialization provides:
//   static bool matches(const QuantizedTensorMeta&);          // scheme, convention and code type fit
//   static std::string scheme(const P&), convention(const P&), profile(const P&);
//   static void describe(const P&, nlohmann::ordered_json& extra);   // policy options
//   static std::vector<ParamSpec> params(const P&);
//   static void encode(const P&, const std::vector<Params>&, std::vector<std::vector<uint8_t>>& out);
//   static std::vector<Params> decode(const P&, const std::vector<TensorView>&, Index sets, const FormatContext&);
//   static P make(const QuantizedTensorMeta&, const FormatContext&);   // rebuilt and checked
template <class Policy>
struct PolicyFormat;

template <class Code>
struct PolicyFormat<Linear<Code>> {
  using P = Linear<Code>;

  static bool matches(const QuantizedTensorMeta& m) {
    return (m.scheme == "linear-affine" || m.scheme == "linear-symmetric") && m.convention == "inference" &&
           m.code_dtype == dtype_of<Code>();
  }
  static std::string scheme(const P& p) { return p.name(); }
  static std::string convention(const P&) { return "inference"; }
  static std::string profile(const P& p) { return to_string(p.profile()); }
  static void describe(const P& p, nlohmann::ordered_json& extra) { extra["reduce_range"] = p.reduce_range(); }

  // Signed symmetric codes have zero point 0 in every profile; the others store theirs.
  static bool has_zero_point(const P& p) { return p.symmetry() == Symmetry::affine || !std::is_signed_v<Code>; }

  static std::vector<ParamSpec> params(const P& p) {
    std::vector<ParamSpec> s{{"scale", DType::f32, 0}};
    if (has_zero_point(p)) s.push_back({"zero_point", DType::i32, 0});
    return s;
  }

  static void encode(const P& p, const std::vector<LinearParams>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(params(p).size(), {});
    for (const LinearParams& v : ps) {
      detail::append_value(out[0], v.scale);
      if (has_zero_point(p)) {
        detail::append_value(out[1], v.zero_point);
      } else if (v.zero_point != 0) {
        raise<InvalidArgument>("symmetric ", detail::signedness<Code>(), " codes with zero point ", v.zero_point,
                               " cannot be stored (format version 1 implies 0)");
      }
    }
  }

  static std::vector<LinearParams> decode(const P& p, const std::vector<TensorView>& v, Index sets,
                                          const detail::FormatContext& ctx) {
    const std::vector<float> scale = v[0].values<float>();
    std::vector<std::int32_t> zero(static_cast<std::size_t>(sets), 0);
    if (has_zero_point(p)) zero = v[1].values<std::int32_t>();
    std::vector<LinearParams> out(static_cast<std::size_t>(sets));
    for (Index k = 0; k < sets; ++k) {
      const auto i = static_cast<std::size_t>(k);
      if (!(std::isfinite(scale[i]) && scale[i] > 0.0f)) {
        ctx.fail("scale of parameter set ", k, " is ", scale[i], " (must be positive and finite)");
      }
      out[i] = {scale[i], zero[i]};
    }
    return out;
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    const Symmetry symmetry = m.scheme == "linear-affine" ? Symmetry::affine : Symmetry::symmetric;
    Profile profile = Profile::pytorch;
    try {
      profile = profile_from_string(m.profile);
    } catch (const Error&) {
      ctx.fail("profile \"", m.profile, "\" is not pytorch, onnx or tflite");
    }
    const auto rr = m.extra.find("reduce_range");
    const bool reduce = rr != m.extra.end() && rr->is_boolean() && rr->get<bool>();
    P p(symmetry, profile);
    p.with_reduce_range(reduce);
    if (!(p.range() == CodeRange{m.qmin, m.qmax})) {
      // A custom range: what the codes mean depends only on the effective range.
      p = P(symmetry, profile);
      try {
        p.with_range(m.qmin, m.qmax);
      } catch (const Error& e) {
        ctx.fail("code range: ", e.what());
      }
    }
    return p;
  }
};

template <class Code>
struct PolicyFormat<LinearRealOffset<Code>>
    : detail::FloatPairFormat<LinearRealOffset<Code>, &LinearRealOffset<Code>::Params::s,
                              &LinearRealOffset<Code>::Params::r_min> {
  using P = LinearRealOffset<Code>;

  static bool matches(const QuantizedTensorMeta& m) {
    return m.scheme == "linear-affine" && detail::is_real_offset(m.convention) && m.code_dtype == dtype_of<Code>();
  }
  static std::string scheme(const P&) { return "linear-affine"; }
  static std::string convention(const P&) { return "real-offset"; }
  // scale is s (codes per real unit); r_min the real offset.
  static std::vector<ParamSpec> params(const P&) { return {{"scale", DType::f32, 0}, {"r_min", DType::f32, 0}}; }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    return PolicyFormat::decode_pairs(v, sets, [&](Index k, float s, float r_min) {
      if (!(std::isfinite(s) && s >= 0.0f)) ctx.fail("scale of parameter set ", k, " is ", s, " (must be finite and >= 0)");
      detail::check_finite(r_min, "r_min", k, ctx);
    });
  }
  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    return detail::policy_with_range<P>(m, ctx);
  }
};

template <class Code>
struct PolicyFormat<Log<Code>> : detail::RangeParamsFormat<Log<Code>, true> {};

template <class Code>
struct PolicyFormat<Exp<Code>> : detail::RangeParamsFormat<Exp<Code>, false> {};

template <class Code>
struct PolicyFormat<LogSigned<Code>>
    : detail::FloatPairFormat<LogSigned<Code>, &LogSigned<Code>::Params::m_min, &LogSigned<Code>::Params::m_max> {
  using P = LogSigned<Code>;
  static void describe(const P& p, nlohmann::ordered_json& extra) { extra["octaves"] = p.octaves(); }
  static std::vector<ParamSpec> params(const P&) { return {{"m_min", DType::f32, 0}, {"m_max", DType::f32, 0}}; }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    return PolicyFormat::decode_pairs(v, sets, [&](Index k, float lo, float hi) {
      detail::check_range_pair(lo, hi, "m_min", "m_max", k, ctx);
      if (lo < 0.0f) ctx.fail("m_min of parameter set ", k, " is negative (", lo, ")");
    });
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    return detail::configured_policy<P>(ctx, "", [&](P& p) {
      p.with_bits(m.bits);
      const auto octaves = m.extra.find("octaves");
      if (octaves == m.extra.end() || !octaves->is_number()) ctx.fail("eigenq metadata has no numeric \"octaves\"");
      // 2-bit codes have one magnitude (m_min = m_max): their files say octaves 0.
      if (p.magnitude_codes() > 1) p.with_octaves(octaves->get<double>());
    });
  }
};

template <class Code>
struct PolicyFormat<Log2<Code>> : detail::PlainPolicyFormat<Log2<Code>> {
  using P = Log2<Code>;
  // e_max fits a signed byte (Log2::fit clamps it to [-128, 127]).
  static std::vector<ParamSpec> params(const P&) { return {{"max_exponent", DType::i8, 0}}; }

  static void encode(const P&, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(1, {});
    for (const auto& v : ps) {
      if (v.max_exponent < -128 || v.max_exponent > 127) {
        raise<InvalidArgument>("log2 max_exponent ", v.max_exponent, " does not fit a signed byte");
      }
      detail::append_value(out[0], static_cast<std::int8_t>(v.max_exponent));
    }
  }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext&) {
    const std::vector<std::int32_t> e = v[0].values<std::int32_t>();
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (std::size_t i = 0; i < out.size(); ++i) out[i].max_exponent = e[i];
    return out;
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    return detail::configured_policy<P>(ctx, "", [&](P& p) { p.with_bits(m.bits); });
  }
};

template <class Code>
struct PolicyFormat<Codebook<Code>> : detail::PlainPolicyFormat<Codebook<Code>> {
  using P = Codebook<Code>;
  static void describe(const P& p, nlohmann::ordered_json& extra) {
    extra["clusters"] = p.clusters();
    extra["seed"] = p.seed();
    extra["max_iterations"] = p.max_iterations();
  }
  // One row of k levels per parameter set; a set with fewer distinct levels
  // repeats its last level (codes never point there).
  static std::vector<ParamSpec> params(const P& p) { return {{"codebook", DType::f32, p.clusters()}}; }

  static void encode(const P& p, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(1, {});
    const auto k = static_cast<std::size_t>(p.clusters());
    for (const auto& v : ps) {
      if (v.centroids.empty() || v.centroids.size() > k) {
        raise<InvalidArgument>("a codebook of ", v.centroids.size(), " levels does not fit k = ", k);
      }
      for (std::size_t j = 0; j < k; ++j) detail::append_value(out[0], v.centroids[std::min(j, v.centroids.size() - 1)]);
    }
  }

  static std::vector<typename P::Params> decode(const P& p, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    const std::vector<float> table = v[0].values<float>();
    const auto k = static_cast<std::size_t>(p.clusters());
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const float* row = table.data() + i * k;
      std::size_t n = 1;
      for (std::size_t j = 0; j < k; ++j) {
        detail::check_finite(row[j], "a codebook level", static_cast<Index>(i), ctx);
        if (j > 0 && row[j] < row[j - 1]) ctx.fail("codebook row ", i, " is not sorted");
        if (j > 0 && row[j] > row[j - 1]) {
          if (n != j) ctx.fail("codebook row ", i, " repeats a level before its end");
          n = j + 1;
        }
      }
      out[i].centroids.assign(row, row + n);
    }
    return out;
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    return detail::configured_policy<P>(ctx, "", [&](P& p) {
      p.with_bits(m.bits);
      const auto k = m.extra.find("clusters");
      if (k == m.extra.end() || !k->is_number_integer()) ctx.fail("eigenq metadata has no integer \"clusters\"");
      p.with_clusters(k->get<std::int64_t>());
      const auto seed = m.extra.find("seed");
      if (seed != m.extra.end() && seed->is_number_unsigned()) p.with_seed(seed->get<std::uint64_t>());
      const auto it = m.extra.find("max_iterations");
      if (it != m.extra.end() && it->is_number_integer()) p.with_max_iterations(it->get<int>());
    });
  }
};

// Calls f(policy_tag) with detail::type_tag<Policy> for the policy type that
// reads a tensor of this metadata (the CLI and dequantize use it; a new policy
// is one more line here and one PolicyFormat specialization).
template <class F>
decltype(auto) visit_quantized_policy(const QuantizedTensorMeta& m, const std::string& file, const std::string& name,
                                      F&& f) {
  const auto by_code = [&](auto family) -> decltype(auto) {
    using detail::type_tag;
    switch (m.code_dtype) {
      case DType::i8: return f(family(type_tag<std::int8_t>{}));
      case DType::u8: return f(family(type_tag<std::uint8_t>{}));
      case DType::i16: return f(family(type_tag<std::int16_t>{}));
      default: return f(family(type_tag<std::uint16_t>{}));
    }
  };
  using detail::type_tag;
  if ((m.scheme == "linear-affine" || m.scheme == "linear-symmetric") && m.convention == "inference") {
    return by_code([](auto c) { return type_tag<Linear<typename decltype(c)::type>>{}; });
  }
  if (m.scheme == "linear-affine" && detail::is_real_offset(m.convention)) {
    return by_code([](auto c) { return type_tag<LinearRealOffset<typename decltype(c)::type>>{}; });
  }
  if (m.scheme == "log") return by_code([](auto c) { return type_tag<Log<typename decltype(c)::type>>{}; });
  if (m.scheme == "exp") return by_code([](auto c) { return type_tag<Exp<typename decltype(c)::type>>{}; });
  if (m.scheme == "codebook") return by_code([](auto c) { return type_tag<Codebook<typename decltype(c)::type>>{}; });
  if (m.scheme == "log-signed" || m.scheme == "log2") {
    if (m.code_dtype != DType::i8 && m.code_dtype != DType::i16) {
      raise<FormatError>(file, ": tensor '", name, "': ", m.scheme, " codes must be I8 or I16, not ", to_string(m.code_dtype));
    }
    const bool narrow = m.code_dtype == DType::i8;
    if (m.scheme == "log-signed") {
      return narrow ? f(type_tag<LogSigned<std::int8_t>>{}) : f(type_tag<LogSigned<std::int16_t>>{});
    }
    return narrow ? f(type_tag<Log2<std::int8_t>>{}) : f(type_tag<Log2<std::int16_t>>{});
  }
  raise<FormatError>(file, ": tensor '", name, "': unknown scheme \"", m.scheme, "\" with convention \"", m.convention, "\"");
}

}  // namespace io
}  // namespace eigenq
