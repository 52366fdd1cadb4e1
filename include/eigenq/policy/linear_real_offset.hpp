// Linear quantization, seed convention: the seed document's own formula
//   s = (q_max - q_min) / (r_max - r_min),   q = q_min + s (r - r_min)
// with a real-valued offset r_min (no integer zero point, so 0.0 is not
// necessarily exact). The worked example: 0.5 in [-1, 1] onto [0, 255] gives
// 191.25, rounded to 191. Dequantize: r = r_min + (q - q_min) / s.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/policy/choose_params.hpp"

namespace eigenq {

template <class Code = std::uint8_t>
class LinearRealOffset {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  using code_type = Code;
  // s is codes per real unit (the seed's "scale"); r_min the real offset.
  struct Params {
    float s = 1.0f;
    float r_min = 0.0f;
    friend bool operator==(Params a, Params b) { return a.s == b.s && a.r_min == b.r_min; }
  };
  static constexpr bool fits_from_range = true;

  LinearRealOffset() = default;

  LinearRealOffset& with_bits(int bits) {
    range_ = range_for_bits<Code>(bits);
    return *this;
  }
  LinearRealOffset& with_range(std::int32_t qmin, std::int32_t qmax) {
    check_range_fits<Code>({qmin, qmax});
    range_ = {qmin, qmax};
    return *this;
  }

  CodeRange range() const { return range_; }
  int bits() const { return std::max(2, bits_for_range(range_, std::is_signed_v<Code>)); }
  std::string name() const { return "linear-real-offset"; }
  Convention convention() const { return Convention::real_offset; }

  // The range is used as observed (not widened to include 0). A single-value
  // range maps everything to q_min and back to that value (s = 0).
  Params fit(float min, float max) const {
    detail::check_range_values(min, max);
    Params p;
    p.r_min = min;
    const double width = static_cast<double>(max) - static_cast<double>(min);
    p.s = width > 0.0 ? static_cast<float>(static_cast<double>(range_.qmax - range_.qmin) / width) : 0.0f;
    return p;
  }

  Code quantize(float x, const Params& p) const {
    if (std::isnan(x)) x = 0.0f;  // NaN goes where 0.0 goes
    const double q = range_.qmin + static_cast<double>(p.s) * (static_cast<double>(x) - p.r_min);
    const double rounded = round_half_to_even(q);
    if (!(rounded > range_.qmin)) return static_cast<Code>(range_.qmin);
    if (rounded >= range_.qmax) return static_cast<Code>(range_.qmax);
    return static_cast<Code>(static_cast<std::int32_t>(rounded));
  }

  float dequantize(Code q, const Params& p) const {
    if (p.s == 0.0f) return p.r_min;
    return static_cast<float>(p.r_min + (static_cast<double>(q) - range_.qmin) / p.s);
  }

  std::size_t param_bytes(const Params&) const { return 2 * sizeof(float); }

 private:
  CodeRange range_ = full_range<Code>();
};

}  // namespace eigenq
