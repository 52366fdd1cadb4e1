// Logarithmic quantization: codes evenly spaced in log|r|, so every value in
// range gets the same relative error, whatever its magnitude. Three policies:
//
//   Log        the seed's formula, positive data only:
//                b = (r_max / r_min)^(1 / (q_max - q_min))
//                q = q_min + log_b(r / r_min)     rounded to the nearest code in
//                                                 the log domain (half to even)
//                r = r_min * b^(q - q_min)        dequantize
//   LogSigned  sign + log-magnitude, code 0 is 0.0 (signed weights).
//   Log2       sign + power-of-two magnitude: every code is a shift amount, so
//              multiplying by a quantized weight is a shift (LogNet-style).
//
// Arithmetic is in double from float parameters; conversions to codes are
// total (NaN, +/-Inf, zero and out-of-range values saturate, never UB).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/policy/choose_params.hpp"

namespace eigenq {
namespace detail {

// Rounded code value -> code, saturating; NaN goes to `nan_code`.
inline std::int32_t saturate_code(double rounded, std::int32_t lo, std::int32_t hi,
                                  std::int32_t nan_code) {
  if (std::isnan(rounded)) return nan_code;
  if (rounded <= lo) return lo;
  if (rounded >= hi) return hi;
  return static_cast<std::int32_t>(rounded);
}

// Codes of a sign + magnitude policy: 0 is zero, +/-1..+/-M the magnitudes.
template <class Code>
std::int32_t magnitude_codes_for_bits(int bits, const char* policy) {
  static_assert(std::is_signed_v<Code>, "sign + magnitude codes need a signed code type");
  constexpr int width = 8 * static_cast<int>(sizeof(Code));
  if (bits < 2 || bits > width) {
    raise(policy, ": bits = ", bits, " is out of range for this code type (expected 2..", width, ")");
  }
  return (std::int32_t{1} << (bits - 1)) - 1;
}

}  // namespace detail

// The seed's logarithmic quantizer, for strictly positive data.
//   eigenq::Quantizer q(eigenq::Log<std::uint8_t>().with_bits(4));
//   auto qt = q.quantize(W_positive);
template <class Code = std::uint8_t>
class Log : public MappedPolicy<Log<Code>> {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  using code_type = Code;
  // The observed range; the base b follows from it and the code range.
  struct Params {
    float r_min = 1.0f;
    float r_max = 1.0f;
    friend bool operator==(Params a, Params b) { return a.r_min == b.r_min && a.r_max == b.r_max; }
  };
  static constexpr bool fits_from_range = true;

  Log() = default;

  Log& with_bits(int bits) {
    range_ = range_for_bits<Code>(bits);
    return *this;
  }
  Log& with_range(std::int32_t qmin, std::int32_t qmax) {
    check_range_fits<Code>({qmin, qmax});
    if (qmax == qmin) raise("log quantization needs q_max > q_min, got q_min = q_max = ", qmin);
    range_ = {qmin, qmax};
    return *this;
  }

  CodeRange range() const { return range_; }
  int bits() const { return bits_for_range(range_, std::is_signed_v<Code>); }
  std::string name() const { return "log"; }
  std::size_t param_bytes(const Params&) const { return 2 * sizeof(float); }

  // ln b = ln(r_max / r_min) / (q_max - q_min); 0 for a single-value range.
  double log_base(const Params& p) const {
    if (!(p.r_max > p.r_min)) return 0.0;
    return (std::log(double{p.r_max}) - std::log(double{p.r_min})) / (range_.qmax - range_.qmin);
  }
  double base(const Params& p) const { return std::exp(log_base(p)); }

  // The range is used as observed; it must be positive (log of 0 or less is undefined).
  Params fit(float min, float max) const {
    detail::check_range_values(min, max);
    if (!(min > 0.0f)) {
      raise("log quantization needs positive data, but the range minimum r_min = ", min,
            " (use LogSigned or Log2 for data with zeros or negative values)");
    }
    return {min, max};
  }

 private:
  friend class MappedPolicy<Log>;

  // One parameter set's constants, computed once per run.
  struct Mapping {
    Mapping(const Log& policy, const Params& p)
        : r(policy.range_),
          r_min(p.r_min),
          r_max(p.r_max),
          log_r_min(std::log(double{p.r_min})),
          log_b(policy.log_base(p)) {}

    Code quantize(float x) const {
      // Zero, negatives and NaN lie below every positive level: the smallest code.
      if (!(x > 0.0f) || log_b == 0.0) return static_cast<Code>(r.qmin);
      const double q = r.qmin + (std::log(double{x}) - log_r_min) / log_b;
      return static_cast<Code>(detail::saturate_code(round_half_to_even(q), r.qmin, r.qmax, r.qmin));
    }

    float dequantize(Code q) const {
      const std::int32_t c = std::clamp<std::int32_t>(q, r.qmin, r.qmax);
      const double v = std::exp(log_r_min + (c - r.qmin) * log_b);
      // Keep the end levels exactly on the range (exp/log may land one ulp outside).
      return static_cast<float>(std::clamp(v, double{r_min}, double{r_max}));
    }

    CodeRange r;
    float r_min;
    float r_max;
    double log_r_min;
    double log_b;
  };

  CodeRange range_ = full_range<Code>();
};

// Signed logarithmic quantizer: sign + log-magnitude codes.
//
// Codes run over [-M, M] with M = 2^(bits-1) - 1 (the code -2^(bits-1) is
// unused, so the codes are symmetric). Code 0 is 0.0; code +/-c (1 <= c <= M)
// is +/- m_max * beta^(c - M), where m_max = max |r| of the group,
// m_min = m_max / 2^octaves is the smallest magnitude (code 1) and
// beta = (m_max / m_min)^(1 / (M - 1)). Magnitudes in [m_min, m_max] round to
// the nearest code in the log domain; below m_min the nearest level in the
// linear domain wins, so |r| < m_min / 2 becomes 0.
//
// The dynamic range (octaves) defaults to min(M - 1, 16): base 2 while codes
// are scarce (3..5 bits, as LogNet-style networks use), and a 2^16 (96 dB)
// span below the maximum from 6 bits on. with_octaves() sets it.
//   eigenq::Quantizer q(eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0});
template <class Code = std::int8_t>
class LogSigned : public MappedPolicy<LogSigned<Code>> {
  static_assert(std::is_same_v<Code, std::int8_t> || std::is_same_v<Code, std::int16_t>,
                "signed log codes are int8 or int16");

 public:
  using code_type = Code;
  struct Params {
    float m_min = 0.0f;  // magnitude of code +/-1
    float m_max = 0.0f;  // magnitude of code +/-M; 0 for an all-zero group
    friend bool operator==(Params a, Params b) { return a.m_min == b.m_min && a.m_max == b.m_max; }
  };
  static constexpr bool fits_from_range = true;

  LogSigned() = default;

  LogSigned& with_bits(int bits) {
    magnitudes_ = detail::magnitude_codes_for_bits<Code>(bits, "log-signed");
    return *this;
  }
  // m_max / m_min = 2^octaves (ignored with 2 bits, where m_min = m_max).
  LogSigned& with_octaves(double octaves) {
    if (!(octaves > 0.0 && octaves <= 256.0)) {  // 0 would give every magnitude code one level
      raise("log-signed: octaves = ", octaves, " is out of range (expected > 0 and <= 256)");
    }
    octaves_ = octaves;
    return *this;
  }

  // M: the largest magnitude code.
  std::int32_t magnitude_codes() const { return magnitudes_; }
  CodeRange range() const { return {-magnitudes_, magnitudes_}; }
  int bits() const { return bits_for_range(range(), true); }
  double octaves() const {
    return octaves_ >= 0.0 ? octaves_ : static_cast<double>(std::min<std::int32_t>(magnitudes_ - 1, 16));
  }
  std::string name() const { return "log-signed"; }
  std::size_t param_bytes(const Params&) const { return 2 * sizeof(float); }

  // ln beta, the log-domain step between magnitude codes.
  double log_base(const Params& p) const {
    if (magnitudes_ <= 1 || !(p.m_max > p.m_min) || !(p.m_min > 0.0f)) return 0.0;
    return (std::log(double{p.m_max}) - std::log(double{p.m_min})) / (magnitudes_ - 1);
  }
  double base(const Params& p) const { return std::exp(log_base(p)); }

  Params fit(float min, float max) const {
    detail::check_range_values(min, max);
    Params p;
    p.m_max = std::max(std::fabs(min), std::fabs(max));
    if (magnitudes_ <= 1) {
      p.m_min = p.m_max;
    } else {
      // Never below the smallest positive float, so log(m_min) stays finite.
      p.m_min = static_cast<float>(std::max(double{p.m_max} * std::exp2(-octaves()),
                                            double{std::numeric_limits<float>::denorm_min()}));
      if (p.m_max == 0.0f) p.m_min = 0.0f;
    }
    return p;
  }

 private:
  friend class MappedPolicy<LogSigned>;

  struct Mapping {
    Mapping(const LogSigned& policy, const Params& p)
        : m(policy.magnitudes_),
          m_min(p.m_min),
          m_max(p.m_max),
          log_m_max(p.m_max > 0.0f ? std::log(double{p.m_max}) : 0.0),
          log_b(policy.log_base(p)) {}

    Code quantize(float x) const {
      const float a = std::fabs(x);
      // NaN, an all-zero group, and magnitudes nearer 0 than m_min give code 0.
      if (!(m_max > 0.0f) || !(double{a} >= 0.5 * double{m_min})) return Code{0};
      std::int32_t c = m;
      if (log_b > 0.0) {
        const double t = m + (std::log(double{a}) - log_m_max) / log_b;
        c = detail::saturate_code(round_half_to_even(t), 1, m, 1);
      }
      return static_cast<Code>(x < 0.0f ? -c : c);
    }

    float dequantize(Code q) const {
      if (q == 0) return 0.0f;
      const std::int32_t c = std::min<std::int32_t>(q < 0 ? -std::int32_t{q} : std::int32_t{q}, m);
      const double v = std::exp(log_m_max + (c - m) * log_b);
      const float mag = static_cast<float>(std::clamp(v, double{m_min}, double{m_max}));
      return q < 0 ? -mag : mag;
    }

    std::int32_t m;
    float m_min;
    float m_max;
    double log_m_max;
    double log_b;
  };

  std::int32_t magnitudes_ = (std::int32_t{1} << (8 * sizeof(Code) - 1)) - 1;
  double octaves_ = -1.0;  // < 0: the default, min(M - 1, 16)
};

// Power-of-two logarithmic quantizer: sign + exponent codes.
//
// Code 0 is 0.0; code +/-c (1 <= c <= M, M = 2^(bits-1) - 1) is
// +/- 2^exponent(c) with exponent(c) = e_max - (M - c). The group parameter is
// e_max = round(log2(max |r|)) (nearest in the log domain, clamped to one
// signed byte), so a product w * x is x shifted by exponent(c): no multiply.
// Magnitudes round to the nearest exponent in the log domain; below the
// smallest level 2^(e_max - M + 1) the nearest level in the linear domain wins.
//   eigenq::Quantizer q(eigenq::Log2<std::int8_t>().with_bits(4), eigenq::PerChannel{0});
template <class Code = std::int8_t>
class Log2 {
  static_assert(std::is_same_v<Code, std::int8_t> || std::is_same_v<Code, std::int16_t>,
                "power-of-two log codes are int8 or int16");

 public:
  using code_type = Code;
  struct Params {
    std::int32_t max_exponent = 0;  // e_max: code +/-M is +/-2^e_max
    friend bool operator==(Params a, Params b) { return a.max_exponent == b.max_exponent; }
  };
  static constexpr bool fits_from_range = true;
  // 8 bits already give 127 consecutive powers of two; more would only add
  // levels that underflow to zero.
  static constexpr int max_bits = 8;

  Log2() = default;

  Log2& with_bits(int bits) {
    if (bits > max_bits) {
      raise("log2: bits = ", bits, " is out of range (expected 2..", max_bits,
            "; 8 bits already span 127 octaves)");
    }
    magnitudes_ = detail::magnitude_codes_for_bits<Code>(bits, "log2");
    return *this;
  }

  std::int32_t magnitude_codes() const { return magnitudes_; }
  CodeRange range() const { return {-magnitudes_, magnitudes_}; }
  int bits() const { return bits_for_range(range(), true); }
  std::string name() const { return "log2"; }
  // e_max fits one signed byte.
  std::size_t param_bytes(const Params&) const { return 1; }

  Params fit(float min, float max) const {
    detail::check_range_values(min, max);
    const float m_max = std::max(std::fabs(min), std::fabs(max));
    Params p;
    if (m_max > 0.0f) {
      const double e = round_half_to_even(std::log2(double{m_max}));
      p.max_exponent = static_cast<std::int32_t>(std::clamp(e, -128.0, 127.0));
    }
    return p;
  }

  // The shift amount of a nonzero code: |dequantize(q)| = 2^exponent(q).
  std::int32_t exponent(Code q, const Params& p) const {
    const std::int32_t c = std::clamp<std::int32_t>(q < 0 ? -std::int32_t{q} : std::int32_t{q}, 1, magnitudes_);
    return p.max_exponent - (magnitudes_ - c);
  }

  // x * dequantize(q, p) as a shift of x's exponent (exact unless it under/overflows).
  float multiply(float x, Code q, const Params& p) const {
    if (q == 0) return x * 0.0f;  // keeps NaN/Inf semantics of a real multiply
    const float shifted = std::ldexp(x, exponent(q, p));
    return q < 0 ? -shifted : shifted;
  }

  Code quantize(float x, const Params& p) const {
    const float a = std::fabs(x);
    const std::int32_t e_min = p.max_exponent - magnitudes_ + 1;
    // NaN and magnitudes nearer 0 than the smallest level give code 0.
    if (!(double{a} >= std::ldexp(1.0, e_min - 1))) return Code{0};
    const double e = round_half_to_even(std::log2(double{a}));
    const std::int32_t c = detail::saturate_code(e - e_min + 1, 1, magnitudes_, 1);
    return static_cast<Code>(x < 0.0f ? -c : c);
  }

  float dequantize(Code q, const Params& p) const {
    if (q == 0) return 0.0f;
    const float mag = std::ldexp(1.0f, exponent(q, p));
    return q < 0 ? -mag : mag;
  }

 private:
  std::int32_t magnitudes_ = (std::int32_t{1} << (max_bits - 1)) - 1;
};

}  // namespace eigenq
