// The eigenq quantized file format, version 1 (docs/format.md): QTensors of
// every policy saved into and loaded from safetensors files.
//
// For a quantized tensor NAME the file holds
//   NAME               the codes: I8/U8/I16/U16 of the logical shape, or, for
//                      codes of 2..4 bits, U8 bytes: one bit stream (core/packing.hpp)
//   NAME.<param>       the policy's parameters, one row per parameter set
//                      (scale, zero_point, r_min, r_max, m_min, m_max,
//                      max_exponent, codebook; see PolicyFormat below)
// and the metadata holds "eigenq.format": "1" and "eigenq:NAME", a JSON
// object (as a string) describing scheme, bits, code type, granularity,
// logical shape, original dtype and whatever the policy needs besides.
//
//   eigenq::io::QuantizedFileWriter out;
//   out.add("fc1.weight", qtensor);                        // any QTensor<Policy>
//   out.write("model.eigenq.safetensors");
//
//   eigenq::io::QuantizedFile in("model.eigenq.safetensors");
//   auto q = in.load<eigenq::Linear<int8_t>>("fc1.weight");   // the same QTensor
//   std::vector<float> w = in.dequantize("fc1.weight");       // any scheme, no type needed
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/safetensors.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"

namespace eigenq {
namespace io {

inline constexpr const char* quantized_format_key = "eigenq.format";
inline constexpr const char* quantized_format_version = "1";

// The metadata key describing quantized tensor NAME.
inline std::string quantized_metadata_key(const std::string& name) { return "eigenq:" + name; }

// Metadata keys eigenq owns: "eigenq.format" and "eigenq:NAME".
inline bool is_eigenq_metadata_key(const std::string& key) {
  return key == quantized_format_key || key.rfind("eigenq:", 0) == 0;
}

// What "eigenq:NAME" says about a quantized tensor.
struct QuantizedTensorMeta {
  std::string scheme;      // linear-affine, linear-symmetric, log, log-signed, log2, exp, codebook
  std::string convention;  // inference or real-offset (linear), none (others); "seed" read as before
  std::string profile;     // pytorch, onnx or tflite: linear inference only, else empty
  int bits = 8;            // significant bits of a code
  DType code_dtype = DType::i8;  // type of one unpacked code
  int storage_bits = 8;    // 2, 3 or 4: packed in U8 bytes; 8 or 16: one code per element
  std::int32_t qmin = 0;   // the code range
  std::int32_t qmax = 0;
  Granularity granularity;  // kind, axis (normalized; -1 per tensor), group size (0 unless per group)
  Shape shape;             // the logical shape
  DType dtype = DType::f32;  // the tensor's dtype before quantization
  std::vector<std::string> params;  // parameter tensor suffixes: NAME.<param>
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // policy options and caller's keys

  bool packed() const { return storage_bits < 8; }

  std::string to_json() const {
    nlohmann::ordered_json j;
    j["scheme"] = scheme;
    j["bits"] = bits;
    j["code_dtype"] = to_string(code_dtype);
    j["storage_bits"] = storage_bits;
    j["qmin"] = qmin;
    j["qmax"] = qmax;
    j["granularity"] = to_string(granularity.kind);
    j["axis"] = granularity.axis;
    j["group_size"] = granularity.group_size;
    j["convention"] = convention;
    if (!profile.empty()) j["profile"] = profile;
    j["shape"] = shape;
    j["dtype"] = to_string(dtype);
    j["params"] = params;
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (j.contains(it.key())) raise<InvalidArgument>("eigenq metadata key '", it.key(), "' is reserved");
      j[it.key()] = it.value();
    }
    return j.dump();
  }

  static QuantizedTensorMeta from_json(const std::string& text, const std::string& file, const std::string& name);
};

namespace detail {

// The real-offset form of linear quantization; files before eigenq 0.2 call it "seed"
// (the project's seed document, where the formula comes from).
inline bool is_real_offset(const std::string& convention) {
  return convention == "real-offset" || convention == "seed";
}

// Names the file and tensor in every format error.
struct FormatContext {
  const std::string& file;
  const std::string& name;

  template <class... Parts>
  [[noreturn]] void fail(Parts&&... parts) const {
    raise<FormatError>(file, ": tensor '", name, "': ", std::forward<Parts>(parts)...);
  }
};

template <class T>
T meta_value(const nlohmann::json& j, const char* key, const FormatContext& ctx) {
  const auto it = j.find(key);
  if (it == j.end()) ctx.fail("eigenq metadata has no \"", key, "\"");
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) ctx.fail("eigenq metadata \"", key, "\" is not a string");
    return it->get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!it->is_boolean()) ctx.fail("eigenq metadata \"", key, "\" is not true or false");
    return it->get<bool>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!it->is_number()) ctx.fail("eigenq metadata \"", key, "\" is not a number");
    return it->get<T>();
  } else {
    static_assert(std::is_integral_v<T>, "metadata values are strings, booleans or numbers");
    const bool fits = it->is_number_integer() &&
                      (it->is_number_unsigned()
                           ? it->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())
                           : (it->get<std::int64_t>() >= static_cast<std::int64_t>(std::numeric_limits<T>::min()) &&
                              it->get<std::int64_t>() <= static_cast<std::int64_t>(std::numeric_limits<T>::max())));
    if (!fits) ctx.fail("eigenq metadata \"", key, "\" is not an integer in range: ", it->dump());
    return it->get<T>();
  }
}

}  // namespace detail

inline QuantizedTensorMeta QuantizedTensorMeta::from_json(const std::string& text, const std::string& file,
                                                          const std::string& name) {
  const detail::FormatContext ctx{file, name};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    ctx.fail("eigenq metadata is not valid JSON: ", e.what());
  }
  if (!j.is_object()) ctx.fail("eigenq metadata is not a JSON object");
  QuantizedTensorMeta m;
  m.scheme = detail::meta_value<std::string>(j, "scheme", ctx);
  m.convention = detail::meta_value<std::string>(j, "convention", ctx);
  if (j.contains("profile")) m.profile = detail::meta_value<std::string>(j, "profile", ctx);
  m.bits = detail::meta_value<int>(j, "bits", ctx);
  if (m.bits < 2 || m.bits > 16) ctx.fail("bits = ", m.bits, " is out of range (2..16)");
  const std::string code = detail::meta_value<std::string>(j, "code_dtype", ctx);
  const auto code_dtype = dtype_from_string(code);
  if (!code_dtype || !(*code_dtype == DType::i8 || *code_dtype == DType::u8 || *code_dtype == DType::i16 ||
                       *code_dtype == DType::u16)) {
    ctx.fail("code_dtype \"", code, "\" is not I8, U8, I16 or U16");
  }
  m.code_dtype = *code_dtype;
  m.storage_bits = detail::meta_value<int>(j, "storage_bits", ctx);
  const int wide = 8 * static_cast<int>(dtype_size(m.code_dtype));
  if (m.bits > wide) ctx.fail("bits = ", m.bits, " do not fit ", code, " codes");
  // Codes of up to 4 bits are packed in fields of 2..4 bits that hold them (eigenq writes fields
  // as its core packs them; any such width reads); wider codes are not packed.
  const bool valid_storage = m.bits <= 4 ? (m.storage_bits >= m.bits && m.storage_bits >= 2 && m.storage_bits <= 4)
                                         : m.storage_bits == wide;
  if (!valid_storage) {
    ctx.fail("storage_bits = ", m.storage_bits, " cannot hold ", m.bits, "-bit ", code, " codes (",
             m.bits <= 4 ? "packed fields are 2..4 bits and at least as wide as a code"
                         : "unpacked codes use their type's width",
             ")");
  }
  m.qmin = detail::meta_value<std::int32_t>(j, "qmin", ctx);
  m.qmax = detail::meta_value<std::int32_t>(j, "qmax", ctx);
  const std::string kind = detail::meta_value<std::string>(j, "granularity", ctx);
  const int axis = detail::meta_value<int>(j, "axis", ctx);
  const Index group = detail::meta_value<Index>(j, "group_size", ctx);
  if (kind == "tensor") m.granularity = PerTensor{};
  else if (kind == "channel") m.granularity = PerChannel{axis};
  else if (kind == "group") m.granularity = PerGroup{axis, group};
  else ctx.fail("granularity \"", kind, "\" is not tensor, channel or group");
  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) ctx.fail("eigenq metadata \"shape\" is not an array");
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) {
      ctx.fail("eigenq metadata \"shape\" ", shape->dump(), " is not a list of non-negative integers");
    }
    m.shape.push_back(d.get<Index>());
  }
  try {
    (void)element_count(m.shape);
  } catch (const ShapeError&) {
    ctx.fail("logical shape ", to_string(m.shape), " has more elements than an int64 can count");
  }
  const std::string dtype = detail::meta_value<std::string>(j, "dtype", ctx);
  const auto original = dtype_from_string(dtype);
  if (!original) ctx.fail("dtype \"", dtype, "\" is unknown");
  m.dtype = *original;
  const auto params = j.find("params");
  if (params == j.end() || !params->is_array()) ctx.fail("eigenq metadata \"params\" is not an array");
  for (const auto& p : *params) {
    if (!p.is_string()) ctx.fail("eigenq metadata \"params\" holds a non-string: ", p.dump());
    m.params.push_back(p.get<std::string>());
  }
  static const std::set<std::string> known = {"scheme", "convention", "profile", "bits", "code_dtype",
                                              "storage_bits", "qmin", "qmax", "granularity", "axis",
                                              "group_size", "shape", "dtype", "params"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!known.count(it.key())) m.extra[it.key()] = it.value();
  }
  return m;
}

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
struct PolicyFormat<LinearRealOffset<Code>> {
  using P = LinearRealOffset<Code>;

  static bool matches(const QuantizedTensorMeta& m) {
    return m.scheme == "linear-affine" && detail::is_real_offset(m.convention) && m.code_dtype == dtype_of<Code>();
  }
  static std::string scheme(const P&) { return "linear-affine"; }
  static std::string convention(const P&) { return "real-offset"; }
  static std::string profile(const P&) { return ""; }
  static void describe(const P&, nlohmann::ordered_json&) {}
  // scale is s (codes per real unit); r_min the real offset.
  static std::vector<ParamSpec> params(const P&) { return {{"scale", DType::f32, 0}, {"r_min", DType::f32, 0}}; }

  static void encode(const P&, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(2, {});
    for (const auto& v : ps) {
      detail::append_value(out[0], v.s);
      detail::append_value(out[1], v.r_min);
    }
  }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    const std::vector<float> s = v[0].values<float>();
    const std::vector<float> r_min = v[1].values<float>();
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (Index k = 0; k < sets; ++k) {
      const auto i = static_cast<std::size_t>(k);
      if (!(std::isfinite(s[i]) && s[i] >= 0.0f)) {
        ctx.fail("scale of parameter set ", k, " is ", s[i], " (must be finite and >= 0)");
      }
      detail::check_finite(r_min[i], "r_min", k, ctx);
      out[i].s = s[i];
      out[i].r_min = r_min[i];
    }
    return out;
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    P p;
    try {
      p.with_range(m.qmin, m.qmax);
    } catch (const Error& e) {
      ctx.fail("code range: ", e.what());
    }
    return p;
  }
};

namespace detail {

// Log and Exp share their parameters: the observed range [r_min, r_max].
template <class P>
struct RangeParamsFormat {
  static std::string profile(const P&) { return ""; }
  static void describe(const P&, nlohmann::ordered_json&) {}
  static std::vector<ParamSpec> params(const P&) { return {{"r_min", DType::f32, 0}, {"r_max", DType::f32, 0}}; }

  static void encode(const P&, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(2, {});
    for (const auto& v : ps) {
      append_value(out[0], v.r_min);
      append_value(out[1], v.r_max);
    }
  }

  static std::vector<typename P::Params> decode_ranges(const std::vector<TensorView>& v, Index sets,
                                                       const FormatContext& ctx, bool positive) {
    const std::vector<float> lo = v[0].values<float>();
    const std::vector<float> hi = v[1].values<float>();
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (Index k = 0; k < sets; ++k) {
      const auto i = static_cast<std::size_t>(k);
      check_range_pair(lo[i], hi[i], "r_min", "r_max", k, ctx);
      if (positive && !(lo[i] > 0.0f)) ctx.fail("r_min of parameter set ", k, " is ", lo[i], " (log needs > 0)");
      out[i].r_min = lo[i];
      out[i].r_max = hi[i];
    }
    return out;
  }

  static P make_with_range(const QuantizedTensorMeta& m, const FormatContext& ctx) {
    P p;
    try {
      p.with_range(m.qmin, m.qmax);
    } catch (const Error& e) {
      ctx.fail("code range: ", e.what());
    }
    return p;
  }
};

}  // namespace detail

template <class Code>
struct PolicyFormat<Log<Code>> : detail::RangeParamsFormat<Log<Code>> {
  using P = Log<Code>;
  static bool matches(const QuantizedTensorMeta& m) { return m.scheme == "log" && m.code_dtype == dtype_of<Code>(); }
  static std::string scheme(const P&) { return "log"; }
  static std::string convention(const P&) { return "none"; }
  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    return PolicyFormat::decode_ranges(v, sets, ctx, true);
  }
  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) { return PolicyFormat::make_with_range(m, ctx); }
};

template <class Code>
struct PolicyFormat<Exp<Code>> : detail::RangeParamsFormat<Exp<Code>> {
  using P = Exp<Code>;
  static bool matches(const QuantizedTensorMeta& m) { return m.scheme == "exp" && m.code_dtype == dtype_of<Code>(); }
  static std::string scheme(const P&) { return "exp"; }
  static std::string convention(const P&) { return "none"; }
  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    return PolicyFormat::decode_ranges(v, sets, ctx, false);
  }
  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) { return PolicyFormat::make_with_range(m, ctx); }
};

template <class Code>
struct PolicyFormat<LogSigned<Code>> {
  using P = LogSigned<Code>;
  static bool matches(const QuantizedTensorMeta& m) {
    return m.scheme == "log-signed" && m.code_dtype == dtype_of<Code>();
  }
  static std::string scheme(const P&) { return "log-signed"; }
  static std::string convention(const P&) { return "none"; }
  static std::string profile(const P&) { return ""; }
  static void describe(const P& p, nlohmann::ordered_json& extra) { extra["octaves"] = p.octaves(); }
  static std::vector<ParamSpec> params(const P&) { return {{"m_min", DType::f32, 0}, {"m_max", DType::f32, 0}}; }

  static void encode(const P&, const std::vector<typename P::Params>& ps, std::vector<std::vector<std::uint8_t>>& out) {
    out.assign(2, {});
    for (const auto& v : ps) {
      detail::append_value(out[0], v.m_min);
      detail::append_value(out[1], v.m_max);
    }
  }

  static std::vector<typename P::Params> decode(const P&, const std::vector<TensorView>& v, Index sets,
                                                const detail::FormatContext& ctx) {
    const std::vector<float> lo = v[0].values<float>();
    const std::vector<float> hi = v[1].values<float>();
    std::vector<typename P::Params> out(static_cast<std::size_t>(sets));
    for (Index k = 0; k < sets; ++k) {
      const auto i = static_cast<std::size_t>(k);
      detail::check_range_pair(lo[i], hi[i], "m_min", "m_max", k, ctx);
      if (lo[i] < 0.0f) ctx.fail("m_min of parameter set ", k, " is negative (", lo[i], ")");
      out[i].m_min = lo[i];
      out[i].m_max = hi[i];
    }
    return out;
  }

  static P make(const QuantizedTensorMeta& m, const detail::FormatContext& ctx) {
    P p;
    try {
      p.with_bits(m.bits);
      const auto octaves = m.extra.find("octaves");
      if (octaves == m.extra.end() || !octaves->is_number()) ctx.fail("eigenq metadata has no numeric \"octaves\"");
      p.with_octaves(octaves->get<double>());
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
    return p;
  }
};

template <class Code>
struct PolicyFormat<Log2<Code>> {
  using P = Log2<Code>;
  static bool matches(const QuantizedTensorMeta& m) { return m.scheme == "log2" && m.code_dtype == dtype_of<Code>(); }
  static std::string scheme(const P&) { return "log2"; }
  static std::string convention(const P&) { return "none"; }
  static std::string profile(const P&) { return ""; }
  static void describe(const P&, nlohmann::ordered_json&) {}
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
    P p;
    try {
      p.with_bits(m.bits);
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
    return p;
  }
};

template <class Code>
struct PolicyFormat<Codebook<Code>> {
  using P = Codebook<Code>;
  static bool matches(const QuantizedTensorMeta& m) {
    return m.scheme == "codebook" && m.code_dtype == dtype_of<Code>();
  }
  static std::string scheme(const P&) { return "codebook"; }
  static std::string convention(const P&) { return "none"; }
  static std::string profile(const P&) { return ""; }
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
    P p;
    try {
      p.with_bits(m.bits);
      const auto k = m.extra.find("clusters");
      if (k == m.extra.end() || !k->is_number_integer()) ctx.fail("eigenq metadata has no integer \"clusters\"");
      p.with_clusters(k->get<std::int64_t>());
      const auto seed = m.extra.find("seed");
      if (seed != m.extra.end() && seed->is_number_unsigned()) p.with_seed(seed->get<std::uint64_t>());
      const auto it = m.extra.find("max_iterations");
      if (it != m.extra.end() && it->is_number_integer()) p.with_max_iterations(it->get<int>());
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {
      ctx.fail(e.what());
    }
    return p;
  }
};

// Options for saving one quantized tensor.
struct QuantizedTensorOptions {
  DType original_dtype = DType::f32;  // what the tensor was before quantization
  // Extra metadata keys (e.g. "calibration"); must not collide with the format's own.
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
  // > 0: the per-group linear scales are stored double-quantized (policy/double_quant.hpp),
  // S groups to a super-block: NAME.scale_code (U8) and NAME.super_scale (F32) replace NAME.scale.
  Index double_quant_groups_per_block = 0;
};

namespace detail {

template <class P>
struct is_linear_policy : std::false_type {};
template <class Code>
struct is_linear_policy<Linear<Code>> : std::true_type {};

// Super-blocks group the group parameters exactly as groups group elements (double_quant.hpp).
inline ParamLayout super_block_layout(const ParamLayout& groups, Index groups_per_block) {
  return ParamLayout(groups.param_shape(), PerGroup{groups.granularity().axis, groups_per_block});
}

}  // namespace detail

// Names, dtypes and shapes of the tensors a quantized tensor occupies, and its
// metadata: all known before any data, so a writer can lay the file out first.
struct QuantizedPlan {
  std::string name;
  std::string metadata_key;
  std::string metadata_json;
  std::vector<TensorEntry> entries;  // the codes first, then NAME.<param> in PolicyFormat order

  std::size_t bytes() const {
    std::size_t b = 0;
    for (const auto& e : entries) b += e.bytes();
    return b;
  }
};

template <class Policy>
QuantizedPlan plan_quantized(const std::string& name, const Policy& policy, const Shape& shape,
                             const Granularity& granularity, const QuantizedTensorOptions& options = {}) {
  using F = PolicyFormat<Policy>;
  using Code = typename Policy::code_type;
  const ParamLayout layout(shape, granularity);
  QuantizedTensorMeta m;
  m.scheme = F::scheme(policy);
  m.convention = F::convention(policy);
  m.profile = F::profile(policy);
  m.bits = policy.bits();
  m.code_dtype = dtype_of<Code>();
  m.storage_bits = m.bits <= 4 ? eigenq::storage_bits(m.bits) : 8 * static_cast<int>(sizeof(Code));
  m.qmin = policy.range().qmin;
  m.qmax = policy.range().qmax;
  m.granularity = layout.granularity();
  m.shape = shape;
  m.dtype = options.original_dtype;
  F::describe(policy, m.extra);
  if (!options.extra.is_object()) raise<InvalidArgument>("extra metadata of tensor '", name, "' is not an object");
  for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
    if (m.extra.contains(it.key())) raise<InvalidArgument>("eigenq metadata key '", it.key(), "' is reserved");
    m.extra[it.key()] = it.value();
  }

  QuantizedPlan plan;
  plan.name = name;
  plan.metadata_key = quantized_metadata_key(name);
  const Index count = element_count(shape);
  if (m.packed()) plan.entries.push_back({name, DType::u8, Shape{packed_bytes(count, m.bits)}});
  else plan.entries.push_back({name, m.code_dtype, shape});
  const Index double_quant = options.double_quant_groups_per_block;
  if (double_quant != 0) {
    if (!detail::is_linear_policy<Policy>::value || layout.granularity().kind != Granularity::Kind::group ||
        double_quant < 0) {
      raise<InvalidArgument>("tensor '", name, "': double quantization needs a linear policy, per-group granularity and ",
                             "groups_per_block > 0 (got ", m.scheme, " per ", to_string(layout.granularity().kind),
                             ", groups_per_block = ", double_quant, ")");
    }
    m.extra["double_quant"] = {{"groups_per_block", double_quant}};
    const ParamLayout blocks = detail::super_block_layout(layout, double_quant);
    m.params = {"scale_code", "super_scale"};
    plan.entries.push_back({name + ".scale_code", DType::u8, layout.param_shape()});
    plan.entries.push_back({name + ".super_scale", DType::f32, blocks.param_shape()});
    for (const ParamSpec& s : F::params(policy)) {
      if (s.suffix == "scale") continue;  // replaced by the two levels above
      m.params.push_back(s.suffix);
      plan.entries.push_back({name + "." + s.suffix, s.dtype, layout.param_shape()});
    }
  } else {
    for (const ParamSpec& s : F::params(policy)) {
      m.params.push_back(s.suffix);
      Shape ps = layout.param_shape();
      if (s.trailing > 0) ps.push_back(s.trailing);
      plan.entries.push_back({name + "." + s.suffix, s.dtype, ps});
    }
  }
  plan.metadata_json = m.to_json();
  return plan;
}

template <class Policy>
QuantizedPlan plan_quantized(const std::string& name, const QTensor<Policy>& q, const QuantizedTensorOptions& options = {}) {
  return plan_quantized(name, q.policy(), q.shape(), q.granularity(), options);
}

// The bytes of one planned tensor: borrowed from a QTensor (its codes) or owned.
struct Payload {
  const std::uint8_t* borrowed = nullptr;
  std::size_t borrowed_size = 0;
  std::vector<std::uint8_t> owned;

  const std::uint8_t* data() const { return borrowed ? borrowed : owned.data(); }
  std::size_t size() const { return borrowed ? borrowed_size : owned.size(); }
};

// The bytes of every tensor of plan_quantized(name, q), in the same order.
// The codes are borrowed: q must outlive the payloads.
template <class Policy>
std::vector<Payload> encode_quantized(const QTensor<Policy>& q) {
  const auto& codes = q.codes();
  std::vector<Payload> out(1);
  if (codes.is_packed()) out[0].borrowed = codes.packed_data();
  else out[0].borrowed = reinterpret_cast<const std::uint8_t*>(codes.data());
  out[0].borrowed_size = codes.bytes();
  if (codes.bytes() == 0) out[0].borrowed = nullptr;
  std::vector<std::vector<std::uint8_t>> params;
  PolicyFormat<Policy>::encode(q.policy(), q.params(), params);
  for (auto& p : params) out.push_back(Payload{nullptr, 0, std::move(p)});
  return out;
}

// The bytes of every tensor of a double-quantized plan (options.double_quant_groups_per_block
// = dq.scales.groups_per_block), in plan order: codes, scale_code, super_scale[, zero_point].
template <class Code>
std::vector<Payload> encode_double_quantized(const DoubleQuantized<Code>& dq) {
  std::vector<Payload> out = encode_quantized(dq.tensor);  // codes, scale[, zero_point]
  const SuperBlockScales& s = dq.scales;
  if (s.scale_codes.size() != dq.tensor.params().size()) {
    raise<InvalidArgument>("double quantization: ", s.scale_codes.size(), " scale codes for ", dq.tensor.params().size(),
                           " groups");
  }
  Payload codes{nullptr, 0, s.scale_codes};
  Payload supers;
  for (float d : s.block_scales) detail::append_value(supers.owned, d);
  std::vector<Payload> result;
  result.push_back(std::move(out[0]));
  result.push_back(std::move(codes));
  result.push_back(std::move(supers));
  for (std::size_t k = 2; k < out.size(); ++k) result.push_back(std::move(out[k]));  // zero_point
  return result;
}

// Parses "eigenq:NAME" of a file.
inline QuantizedTensorMeta read_quantized_meta(const SafetensorsFile& f, const std::string& name) {
  const auto it = f.metadata().find(quantized_metadata_key(name));
  if (it == f.metadata().end()) raise<InvalidArgument>(f.path(), ": tensor '", name, "' is not quantized (no eigenq:", name, " metadata)");
  return QuantizedTensorMeta::from_json(it->second, f.path(), name);
}

// Checks "eigenq.format" (FormatError for other versions, or eigenq keys without it).
// Returns false for files without any eigenq metadata.
inline bool check_quantized_format(const SafetensorsFile& f) {
  const auto& md = f.metadata();
  const auto version = md.find(quantized_format_key);
  if (version == md.end()) {
    for (const auto& kv : md) {
      if (is_eigenq_metadata_key(kv.first)) {
        raise<FormatError>(f.path(), ": has eigenq metadata ('", kv.first, "') but no \"", quantized_format_key, "\"");
      }
    }
    return false;
  }
  if (version->second != quantized_format_version) {
    raise<FormatError>(f.path(), ": eigenq format version \"", version->second, "\" is not supported (this eigenq reads version ",
                       quantized_format_version, ")");
  }
  return true;
}

namespace detail {

inline TensorView checked_tensor(const SafetensorsFile& f, const std::string& tensor, DType dtype, const Shape& shape,
                                 const FormatContext& ctx) {
  if (!f.contains(tensor)) ctx.fail("the file has no tensor '", tensor, "'");
  const TensorView v = f.tensor(tensor);
  if (v.dtype() != dtype) ctx.fail("'", tensor, "' is ", to_string(v.dtype()), ", expected ", to_string(dtype));
  if (v.shape() != shape) ctx.fail("'", tensor, "' has shape ", to_string(v.shape()), ", expected ", to_string(shape));
  return v;
}

// ceil(count * field_bits / 8) without overflow (count comes from a file's metadata).
inline Index packed_byte_count(Index count, int field_bits) {
  return (count / 8) * field_bits + ((count % 8) * field_bits + 7) / 8;
}

// Codes packed as docs/format.md section 3 says: a little-endian bit stream of
// `field`-bit fields (code i in stream bits [i*field, i*field + field), bit b of
// the stream being bit b % 8 of byte b / 8), two's complement for signed codes.
// Read here for any field width, so files stay readable whatever width the
// core packs with.
template <class Code>
void unpack_bit_stream(const std::uint8_t* in, Index count, int field, Code* out) {
  const unsigned mask = (1u << field) - 1u;
  const int sign = 1 << (field - 1);
  for (Index i = 0; i < count; ++i) {
    const Index bit = i * field;
    const int shift = static_cast<int>(bit % 8);
    unsigned v = static_cast<unsigned>(in[bit / 8]) >> shift;
    if (shift + field > 8) v |= static_cast<unsigned>(in[bit / 8 + 1]) << (8 - shift);
    int code = static_cast<int>(v & mask);
    if constexpr (std::is_signed_v<Code>) code = (code ^ sign) - sign;
    out[i] = static_cast<Code>(code);
  }
}

// Rejects metadata whose granularity core's ParamLayout could not represent
// (axis outside the shape, group sizes whose group count would overflow).
inline void check_layout_inputs(const QuantizedTensorMeta& m, const FormatContext& ctx) {
  const Granularity& g = m.granularity;
  if (g.kind == Granularity::Kind::tensor) return;
  const int rank = static_cast<int>(m.shape.size());
  if (g.axis < 0 || g.axis >= rank) {
    ctx.fail("granularity: axis ", g.axis, " is not an axis of shape ", to_string(m.shape), " (0..", rank - 1, ")");
  }
  if (g.kind == Granularity::Kind::group) {
    const Index channels = m.shape[static_cast<std::size_t>(g.axis)];
    if (g.group_size <= 0 || g.group_size > std::numeric_limits<Index>::max() - channels) {
      ctx.fail("granularity: group size ", g.group_size, " is out of range");
    }
  }
}

// "double_quant": {"groups_per_block": S} of the metadata; 0 when absent.
inline Index double_quant_groups(const QuantizedTensorMeta& m, const FormatContext& ctx) {
  const auto it = m.extra.find("double_quant");
  if (it == m.extra.end()) return 0;
  const auto s = it->is_object() ? it->find("groups_per_block") : it->end();
  if (!it->is_object() || s == it->end() || !s->is_number_integer() || s->get<std::int64_t>() <= 0) {
    ctx.fail("\"double_quant\" must be {\"groups_per_block\": S} with S > 0");
  }
  return s->get<Index>();
}

// The second-level scales of a double-quantized tensor, checked.
inline SuperBlockScales read_super_block_scales(const SafetensorsFile& f, const std::string& name,
                                                const ParamLayout& layout, Index groups_per_block,
                                                const FormatContext& ctx) {
  const Index axis_groups = layout.param_shape()[static_cast<std::size_t>(layout.granularity().axis)];
  if (groups_per_block > std::numeric_limits<Index>::max() - axis_groups) {
    ctx.fail("double_quant groups_per_block ", groups_per_block, " is out of range");
  }
  const ParamLayout blocks = super_block_layout(layout, groups_per_block);
  SuperBlockScales s;
  s.groups_per_block = groups_per_block;
  s.block_shape = blocks.param_shape();
  s.scale_codes = checked_tensor(f, name + ".scale_code", DType::u8, layout.param_shape(), ctx).values<std::uint8_t>();
  s.block_scales = checked_tensor(f, name + ".super_scale", DType::f32, s.block_shape, ctx).values<float>();
  for (std::size_t b = 0; b < s.block_scales.size(); ++b) {
    const float d = s.block_scales[b];
    if (!(std::isfinite(d) && d > 0.0f)) ctx.fail("super_scale of super-block ", b, " is ", d, " (must be positive and finite)");
  }
  s.block_of_group.assign(s.scale_codes.size(), 0);
  blocks.for_each([&](Index group, Index block) { s.block_of_group[static_cast<std::size_t>(group)] = block; });
  return s;
}

template <class Code>
void check_codes_in_range(const Code* codes, Index n, CodeRange r, const FormatContext& ctx) {
  for (Index i = 0; i < n; ++i) {
    if (codes[i] < r.qmin || codes[i] > r.qmax) {
      ctx.fail("code ", static_cast<std::int32_t>(codes[i]), " at element ", i, " lies outside [", r.qmin, ", ", r.qmax, "]");
    }
  }
}

}  // namespace detail

// Loads quantized tensor `name` as a QTensor<Policy>; InvalidArgument if the
// file holds it under another scheme or code type, FormatError if the file is
// inconsistent (every size, dtype, range and parameter is checked).
template <class Policy>
QTensor<Policy> load_quantized(const SafetensorsFile& f, const std::string& name) {
  using F = PolicyFormat<Policy>;
  using Code = typename Policy::code_type;
  if (!check_quantized_format(f)) raise<InvalidArgument>(f.path(), ": not an eigenq-quantized file (no \"", quantized_format_key, "\")");
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  const detail::FormatContext ctx{f.path(), name};
  if (!F::matches(m)) {
    raise<InvalidArgument>(f.path(), ": tensor '", name, "' is quantized as ", m.scheme, " (", m.convention,
                           " convention) with ", to_string(m.code_dtype), " codes; it cannot be loaded with this policy type");
  }
  const Policy policy = F::make(m, ctx);
  if (!(policy.range() == CodeRange{m.qmin, m.qmax}) || policy.bits() != m.bits) {
    ctx.fail("code range [", m.qmin, ", ", m.qmax, "] of ", m.bits, " bits does not match the ", m.scheme,
             " policy's [", policy.range().qmin, ", ", policy.range().qmax, "] of ", policy.bits(), " bits");
  }
  detail::check_layout_inputs(m, ctx);
  ParamLayout layout(Shape{}, PerTensor{});
  try {
    layout = ParamLayout(m.shape, m.granularity);
  } catch (const Error& e) {
    ctx.fail("granularity: ", e.what());
  }
  if (layout.granularity().axis != m.granularity.axis) {
    ctx.fail("axis ", m.granularity.axis, " is not normalized (expected ", layout.granularity().axis, ")");
  }
  const Index double_quant = detail::double_quant_groups(m, ctx);
  std::vector<ParamSpec> specs = F::params(policy);
  std::vector<std::string> suffixes;
  for (const auto& s : specs) suffixes.push_back(s.suffix);
  if (double_quant > 0) {
    if (!detail::is_linear_policy<Policy>::value || m.granularity.kind != Granularity::Kind::group) {
      ctx.fail("double_quant applies to per-group linear tensors only");
    }
    suffixes.erase(suffixes.begin());  // "scale": stored as two levels
    suffixes.insert(suffixes.begin(), {"scale_code", "super_scale"});
  }
  if (suffixes != m.params) ctx.fail("\"params\" does not list the ", m.scheme, " parameters");

  const Index count = element_count(m.shape);
  const CodeRange range{m.qmin, m.qmax};
  CodeStorage<Code> storage;
  if (m.packed()) {
    const TensorView v =
        detail::checked_tensor(f, name, DType::u8, Shape{detail::packed_byte_count(count, m.storage_bits)}, ctx);
    std::vector<Code> codes(static_cast<std::size_t>(count));
    detail::unpack_bit_stream(v.data(), count, m.storage_bits, codes.data());
    detail::check_codes_in_range(codes.data(), count, range, ctx);
    storage = CodeStorage<Code>(codes.data(), count, m.bits);  // packed the way this build packs
  } else {
    const TensorView v = detail::checked_tensor(f, name, m.code_dtype, m.shape, ctx);
    const std::vector<Code> codes = v.values<Code>();
    detail::check_codes_in_range(codes.data(), count, range, ctx);
    storage = CodeStorage<Code>(codes.data(), count, m.bits);
  }

  std::vector<TensorView> views;
  for (const ParamSpec& s : specs) {
    if (double_quant > 0 && s.suffix == "scale") continue;
    Shape ps = layout.param_shape();
    if (s.trailing > 0) ps.push_back(s.trailing);
    views.push_back(detail::checked_tensor(f, name + "." + s.suffix, s.dtype, ps, ctx));
  }
  std::vector<typename Policy::Params> params;
  if constexpr (detail::is_linear_policy<Policy>::value) {
    if (double_quant > 0) {
      // The effective scales s' = code * d, in float32 as double_quant.hpp computes them.
      const SuperBlockScales scales = detail::read_super_block_scales(f, name, layout, double_quant, ctx);
      std::vector<std::uint8_t> scale_bytes;
      for (Index g = 0; g < layout.param_count(); ++g) detail::append_value(scale_bytes, scales.scale(g));
      std::vector<TensorInfo> info{TensorInfo{name + ".scale", DType::f32, layout.param_shape(), 0, scale_bytes.size()}};
      views.insert(views.begin(), TensorView(info[0], scale_bytes.data()));
      params = F::decode(policy, views, layout.param_count(), ctx);
      return QTensor<Policy>(policy, m.shape, layout.granularity(), std::move(params), std::move(storage));
    }
  }
  params = F::decode(policy, views, layout.param_count(), ctx);
  return QTensor<Policy>(policy, m.shape, layout.granularity(), std::move(params), std::move(storage));
}

// Loads a double-quantized tensor with its second-level scales.
template <class Code>
DoubleQuantized<Code> load_double_quantized(const SafetensorsFile& f, const std::string& name) {
  QTensor<Linear<Code>> tensor = load_quantized<Linear<Code>>(f, name);
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  const detail::FormatContext ctx{f.path(), name};
  const Index groups = detail::double_quant_groups(m, ctx);
  if (groups == 0) raise<InvalidArgument>(f.path(), ": tensor '", name, "' is not double-quantized");
  SuperBlockScales scales = detail::read_super_block_scales(f, name, tensor.layout(), groups, ctx);
  return DoubleQuantized<Code>{std::move(tensor), std::move(scales)};
}

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

// Dequantizes quantized tensor `name` into out[0 .. element count of its logical shape),
// row-major (callers streaming many tensors reuse one buffer).
inline void dequantize_quantized_into(const SafetensorsFile& f, const std::string& name, float* out) {
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  visit_quantized_policy(m, f.path(), name, [&](auto tag) {
    using Policy = typename decltype(tag)::type;
    load_quantized<Policy>(f, name).dequantize_into(out);
  });
}

// Dequantizes quantized tensor `name` into row-major floats of its logical shape.
inline std::vector<float> dequantize_quantized(const SafetensorsFile& f, const std::string& name) {
  const QuantizedTensorMeta m = read_quantized_meta(f, name);
  std::vector<float> out(static_cast<std::size_t>(element_count(m.shape)));
  dequantize_quantized_into(f, name, out.data());
  return out;
}

// A file in the quantized format, opened for reading: which tensors are
// quantized (and their metadata), which are stored as they are.
class QuantizedFile {
 public:
  explicit QuantizedFile(const std::string& path) : file_(path) { scan(); }
  explicit QuantizedFile(SafetensorsFile file) : file_(std::move(file)) { scan(); }

  const SafetensorsFile& file() const { return file_; }
  const std::string& path() const { return file_.path(); }
  // Whether the file carries "eigenq.format" (a file without it has only plain tensors).
  bool is_eigenq() const { return is_eigenq_; }

  // Quantized tensors, in the order of their codes in the file.
  const std::vector<std::string>& quantized() const { return quantized_; }
  // Tensors stored as they are (not quantized, not a quantized tensor's parameter).
  const std::vector<std::string>& plain() const { return plain_; }
  // Every logical tensor (quantized or plain), in the file's data order.
  const std::vector<std::string>& logical() const { return logical_; }

  bool is_quantized(const std::string& name) const { return meta_.count(name) != 0; }
  const QuantizedTensorMeta& meta(const std::string& name) const {
    const auto it = meta_.find(name);
    if (it == meta_.end()) raise<InvalidArgument>(path(), ": tensor '", name, "' is not quantized");
    return it->second;
  }

  // The stored tensors a logical tensor occupies (codes and parameters, or itself).
  std::vector<std::string> stored_tensors(const std::string& name) const {
    if (!is_quantized(name)) return {name};
    std::vector<std::string> out{name};
    for (const auto& p : meta(name).params) out.push_back(name + "." + p);
    return out;
  }

  template <class Policy>
  QTensor<Policy> load(const std::string& name) const {
    return load_quantized<Policy>(file_, name);
  }
  template <class Code>
  DoubleQuantized<Code> load_double_quantized(const std::string& name) const {
    return io::load_double_quantized<Code>(file_, name);
  }

  // A quantized tensor dequantized, or a plain tensor converted to float.
  std::vector<float> dequantize(const std::string& name) const {
    if (is_quantized(name)) return dequantize_quantized(file_, name);
    return file_.tensor(name).to_float();
  }
  // The same into out[0 .. element count): the logical shape's for quantized tensors.
  void dequantize_into(const std::string& name, float* out) const {
    if (is_quantized(name)) dequantize_quantized_into(file_, name, out);
    else file_.tensor(name).convert_to(out);
  }

  // The file's metadata without eigenq's own keys.
  std::map<std::string, std::string> user_metadata() const {
    std::map<std::string, std::string> out;
    for (const auto& kv : file_.metadata()) {
      if (!is_eigenq_metadata_key(kv.first)) out.insert(kv);
    }
    return out;
  }

 private:
  void scan() {
    is_eigenq_ = check_quantized_format(file_);
    std::unordered_map<std::string, std::string> owner;  // parameter tensor -> its quantized tensor
    for (const auto& kv : file_.metadata()) {
      if (kv.first.rfind("eigenq:", 0) != 0) continue;
      const std::string name = kv.first.substr(7);
      if (!file_.contains(name)) raise<FormatError>(path(), ": metadata '", kv.first, "' names no tensor of the file");
      QuantizedTensorMeta m = QuantizedTensorMeta::from_json(kv.second, path(), name);
      for (const auto& p : m.params) {
        const std::string t = name + "." + p;
        if (!file_.contains(t)) raise<FormatError>(path(), ": tensor '", name, "': parameter tensor '", t, "' is missing");
        if (!owner.emplace(t, name).second) {
          raise<FormatError>(path(), ": tensor '", t, "' is claimed by quantized tensors '", owner[t], "' and '", name, "'");
        }
      }
      meta_.emplace(name, std::move(m));
    }
    for (const auto& kv : owner) {
      if (meta_.count(kv.first)) {
        raise<FormatError>(path(), ": tensor '", kv.first, "' is both quantized and a parameter of '", kv.second, "'");
      }
    }
    for (const TensorInfo& t : file_.tensors()) {
      if (meta_.count(t.name)) {
        quantized_.push_back(t.name);
        logical_.push_back(t.name);
      } else if (!owner.count(t.name)) {
        plain_.push_back(t.name);
        logical_.push_back(t.name);
      }
    }
  }

  SafetensorsFile file_;
  bool is_eigenq_ = false;
  std::map<std::string, QuantizedTensorMeta> meta_;
  std::vector<std::string> quantized_;
  std::vector<std::string> plain_;
  std::vector<std::string> logical_;
};

// Collects quantized and plain tensors in memory and writes them as one file
// (atomically: temporary file, then rename). For streaming writes of large
// files use plan_quantized / encode_quantized with a SafetensorsWriter.
class QuantizedFileWriter {
 public:
  template <class Policy>
  void add(const std::string& name, const QTensor<Policy>& q, const QuantizedTensorOptions& options = {}) {
    if (options.double_quant_groups_per_block != 0) {
      raise<InvalidArgument>("tensor '", name, "': add a DoubleQuantized for double-quantized scales");
    }
    append(plan_quantized(name, q, options), encode_quantized(q));
  }

  // A double-quantized per-group linear tensor (its two-level scales are stored as such).
  template <class Code>
  void add(const std::string& name, const DoubleQuantized<Code>& dq, QuantizedTensorOptions options = {}) {
    options.double_quant_groups_per_block = dq.scales.groups_per_block;
    append(plan_quantized(name, dq.tensor, options), encode_double_quantized(dq));
  }

  // A tensor stored as it is.
  void add_plain(OwnedTensor t) { tensors_.push_back(std::move(t)); }

  // User metadata; keys beginning with "eigenq." or "eigenq:" are the format's own.
  void set_metadata(const std::string& key, const std::string& value) {
    if (key.rfind("eigenq.", 0) == 0 || key.rfind("eigenq:", 0) == 0) {
      raise<InvalidArgument>("metadata key '", key, "' is reserved for the eigenq format");
    }
    metadata_[key] = value;
  }

  void write(const std::string& path, AtomicFileOptions options = {}) const {
    std::map<std::string, std::string> metadata = metadata_;
    metadata[quantized_format_key] = quantized_format_version;
    write_safetensors(path, tensors_, metadata, options);
  }

 private:
  void append(const QuantizedPlan& plan, const std::vector<Payload>& payloads) {
    for (std::size_t i = 0; i < plan.entries.size(); ++i) {
      const Payload& p = payloads[i];
      if (p.size() != plan.entries[i].bytes()) {
        raise<InvalidArgument>("tensor '", plan.entries[i].name, "': ", p.size(), " bytes encoded, ",
                               plan.entries[i].bytes(), " planned");
      }
      tensors_.push_back({plan.entries[i].name, plan.entries[i].dtype, plan.entries[i].shape,
                          std::vector<std::uint8_t>(p.data(), p.data() + p.size())});
    }
    metadata_[plan.metadata_key] = plan.metadata_json;
  }

  std::vector<OwnedTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace io
}  // namespace eigenq
