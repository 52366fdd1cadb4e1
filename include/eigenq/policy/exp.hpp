// Exponential quantization, the seed's formula exactly:
//   b = (q_max / q_min)^(1 / (r_max - r_min))
//   q = q_min * b^(r - r_min)              rounded to the nearest integer code
//   r = r_min + log_b(q / q_min)           dequantize
// The codes grow exponentially with r, so the levels crowd towards r_max:
// fine resolution for the largest values, coarse for the smallest. The code
// range must be positive (q_min > 0), so the default is [1, max of Code].
//   eigenq::Quantizer q(eigenq::Exp<std::uint8_t>().with_bits(4));
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/policy/policy.hpp"
#include "eigenq/policy/choose_params.hpp"

namespace eigenq {

template <class Code = std::uint8_t>
class Exp : public MappedPolicy<Exp<Code>> {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  using code_type = Code;
  // The observed range; the base b follows from it and the code range.
  struct Params {
    float r_min = 0.0f;
    float r_max = 0.0f;
    friend bool operator==(Params a, Params b) { return a.r_min == b.r_min && a.r_max == b.r_max; }
  };
  static constexpr bool fits_from_range = true;

  Exp() = default;

  // Codes [1, 2^bits - 1] (unsigned) or [1, 2^(bits-1) - 1] (signed code types).
  Exp& with_bits(int bits) {
    const CodeRange r = range_for_bits<Code>(bits);
    if (r.qmax <= 1) {
      raise("exp: bits = ", bits, " leaves a single positive code for a signed code type (q_max = ",
            r.qmax, "); use 3 or more bits, or unsigned codes");
    }
    range_ = {1, r.qmax};
    return *this;
  }
  Exp& with_range(std::int32_t qmin, std::int32_t qmax) {
    if (qmin <= 0) {
      raise("exp quantization needs q_min > 0 (b = (q_max / q_min)^(1 / (r_max - r_min))), got q_min = ",
            qmin);
    }
    check_range_fits<Code>({qmin, qmax});
    if (qmax == qmin) raise("exp quantization needs q_max > q_min, got q_min = q_max = ", qmin);
    range_ = {qmin, qmax};
    return *this;
  }

  CodeRange range() const { return range_; }
  int bits() const { return bits_for_range(range_, std::is_signed_v<Code>); }
  std::string name() const { return "exp"; }
  std::size_t param_bytes(const Params&) const { return 2 * sizeof(float); }

  // ln b = ln(q_max / q_min) / (r_max - r_min); 0 for a single-value range.
  double log_base(const Params& p) const {
    const double width = double{p.r_max} - double{p.r_min};
    if (!(width > 0.0)) return 0.0;
    return std::log(static_cast<double>(range_.qmax) / range_.qmin) / width;
  }
  double base(const Params& p) const { return std::exp(log_base(p)); }

  // The range is used as observed (any sign).
  Params fit(float min, float max) const {
    detail::check_range_values(min, max);
    return {min, max};
  }

 private:
  friend class MappedPolicy<Exp>;

  struct Mapping {
    Mapping(const Exp& policy, const Params& p)
        : r(policy.range_), r_min(p.r_min), r_max(p.r_max), log_b(policy.log_base(p)) {}

    Code quantize(float x) const {
      // NaN and a single-value range go to q_min; the range ends saturate.
      if (std::isnan(x) || log_b == 0.0) return static_cast<Code>(r.qmin);
      const double t = std::clamp(double{x}, double{r_min}, double{r_max}) - r_min;
      const double q = r.qmin * std::exp(log_b * t);
      const double rounded = round_half_to_even(q);  // finite: q lies in [q_min, q_max]
      return static_cast<Code>(std::clamp<double>(rounded, r.qmin, r.qmax));
    }

    float dequantize(Code q) const {
      if (log_b == 0.0) return r_min;
      const std::int32_t c = std::clamp<std::int32_t>(q, r.qmin, r.qmax);
      const double v = r_min + std::log(static_cast<double>(c) / r.qmin) / log_b;
      return static_cast<float>(std::clamp(v, double{r_min}, double{r_max}));
    }

    CodeRange r;
    float r_min;
    float r_max;
    double log_b;
  };

  CodeRange range_{1, full_range<Code>().qmax};
};

}  // namespace eigenq
