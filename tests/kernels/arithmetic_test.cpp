// Tests kernels/arithmetic.hpp: each value-level operation now has one definition, used by the
// elementwise kernels, the GEMM output stages and the Linear policy. Before, the callers had
// their own formulas (the Linear policy's quantize_one, the kernels' quantize_value and
// requantize_fp32_value / requantize_fixedpoint_value, the output stage's
// requantize_with_float / requantize_with_fixed_point, each with its own order of zero point,
// clamp and NaN handling). They are written out again below as they were, and the single
// definitions must give their bits on every input each caller admits: zero points outside
// [qmin, qmax] (legal in the elementwise API), NaN, +-Inf, saturation, every float bit pattern
// class, extreme multipliers.
#include "eigenq/kernels/arithmetic.hpp"

#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using eigenq::CodeRange;
using eigenq::Profile;
using eigenq::Rounding;
namespace k = eigenq::kernels;

using eigenq_test::int32_max;
using eigenq_test::int32_min;

// ---- the former definitions, verbatim apart from names ----------------------------------------

// policy/linear.hpp, Linear::quantize_one (factor: 1 / scale for PyTorch, the scale otherwise).
template <class Code>
Code former_linear_quantize(float x, float factor, std::int32_t zero_point, CodeRange r, Profile profile) {
  float scaled;
  if (profile == Profile::pytorch) scaled = eigenq::round_half_to_even(x * factor);
  else if (profile == Profile::onnx) scaled = eigenq::round_half_to_even(x / factor);
  else scaled = eigenq::round_half_away_from_zero(x / factor);
  if (std::isnan(scaled)) return static_cast<Code>(zero_point);
  const float shifted = scaled + static_cast<float>(zero_point);
  return static_cast<Code>(eigenq::saturate_to_int(shifted, r.qmin, r.qmax, zero_point));
}

// kernels/output_stage.hpp, requantize_with_float: zp + clamp(nearbyint(...)) with the clamp in
// float, lo = qmin - zp, hi = qmax - zp.
std::int32_t former_output_float(std::int32_t t, float multiplier, std::int32_t zero_point, std::int32_t lo,
                                 std::int32_t hi) {
  float v = static_cast<float>(t) * multiplier;
  v = v < static_cast<float>(lo) ? static_cast<float>(lo) : v;
  v = v > static_cast<float>(hi) ? static_cast<float>(hi) : v;
  return static_cast<std::int32_t>(std::nearbyint(v)) + zero_point;
}

// kernels/fixed_point.hpp, multiply_double_rounding with its own saturating shift.
std::int32_t former_double_rounding(std::int32_t x, k::FixedPointMultiplier m) {
  const int left = m.exponent > 0 ? m.exponent : 0;
  const int right = m.exponent > 0 ? 0 : -m.exponent;
  std::int64_t shifted = std::int64_t{x} * (std::int64_t{1} << left);
  if (shifted > int32_max) shifted = int32_max;
  if (shifted < int32_min) shifted = int32_min;
  return k::rounding_divide_by_pot(k::saturating_rounding_doubling_high_mul(static_cast<std::int32_t>(shifted),
                                                                            m.multiplier),
                                   right);
}

// kernels/output_stage.hpp, requantize_with_fixed_point: clamp in int32, then the zero point.
std::int32_t former_output_fixed_point(std::int32_t t, k::FixedPointMultiplier m, k::FixedPointRounding rounding,
                                       std::int32_t zero_point, std::int32_t lo, std::int32_t hi) {
  std::int32_t v = k::multiply_by_fixed_point(t, m, rounding);
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return v + zero_point;
}

// ---- inputs -----------------------------------------------------------------------------------

// Every 262147th float bit pattern (NaNs, infinities, denormals, both signs), ties at a few
// scales and their neighbours.
std::vector<float> float_inputs() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), eigenq_test::float_from_bits(0xffc00001u),
                          2147483648.0f, -2147483904.0f, 8388608.5f, 1e20f, -1e20f};
  for (std::uint64_t b = 0; b < (std::uint64_t{1} << 32); b += 262147) {
    v.push_back(eigenq_test::float_from_bits(static_cast<std::uint32_t>(b)));
  }
  for (float scale : {1.0f, 0.1f, 1.0f / 127.5f, 0.0123f}) {
    for (int q = -300; q <= 300; ++q) {
      const float t = (static_cast<float>(q) + 0.5f) * scale;
      v.push_back(t);
      v.push_back(std::nextafter(t, 1e30f));
      v.push_back(std::nextafter(t, -1e30f));
    }
  }
  return v;
}

std::vector<std::int32_t> accumulators() {
  std::vector<std::int32_t> v = {0, 1, -1, 2, -2, 3, -3, 127, -128, 255, 256, 1 << 24, (1 << 24) + 1, -(1 << 24) - 1,
                                 1 << 30, -(1 << 30), int32_max, int32_min, int32_min + 1, int32_max - 1};
  std::mt19937 rng(3);
  std::uniform_int_distribution<std::int32_t> any(int32_min, int32_max);
  std::uniform_int_distribution<std::int32_t> small(-100000, 100000);
  for (int i = 0; i < 20000; ++i) v.push_back(i % 2 ? any(rng) : small(rng));
  return v;
}

template <class Code>
std::vector<CodeRange> arithmetic_ranges() {
  if (std::is_signed_v<Code>) return {{-128, 127}, {-127, 127}, {-8, 7}, {-64, 63}, {5, 5}};
  return {{0, 255}, {0, 127}, {0, 15}, {1, 255}, {200, 200}};
}

// ---- quantize ---------------------------------------------------------------------------------

template <class Code>
void check_quantize_matches_linear() {
  const std::vector<float> x = float_inputs();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (Profile profile : {Profile::pytorch, Profile::onnx, Profile::tflite}) {
    const k::Scaling scaling = k::scaling_for(profile);
    const Rounding rounding = profile == Profile::tflite ? Rounding::half_away_from_zero : Rounding::half_to_even;
    for (float scale : {1.0f, 0.1f, 0.0123f, 3.7e-5f, 7.0f, 1e-30f, 0.0f, -0.5f, inf, nan}) {
      const float factor = k::scale_factor(scale, scaling);
      for (CodeRange r : arithmetic_ranges<Code>()) {
        // Zero points inside the range, at its ends and outside it (NaN maps there unclamped).
        for (std::int32_t zp : {r.qmin, r.qmax, (r.qmin + r.qmax) / 2, r.qmin - 40, r.qmax + 300, -100000}) {
          for (float v : x) {
            const Code want = former_linear_quantize<Code>(v, factor, zp, r, profile);
            const Code got = k::quantize_value<Code>(v, factor, zp, r, scaling, rounding);
            ASSERT_EQ(+want, +got) << eigenq::to_string(profile) << " x " << v << " scale " << scale << " zp " << zp;
          }
        }
      }
    }
  }
}

TEST(Arithmetic, QuantizeS8IsTheLinearPolicysFormula) { check_quantize_matches_linear<std::int8_t>(); }
TEST(Arithmetic, QuantizeU8IsTheLinearPolicysFormula) { check_quantize_matches_linear<std::uint8_t>(); }
TEST(Arithmetic, QuantizeS16IsTheLinearPolicysFormula) { check_quantize_matches_linear<std::int16_t>(); }

// ---- requantize, float multiplier ------------------------------------------------------------

std::vector<float> output_stage_multipliers() {
  std::vector<float> m = {std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(), 1e-30f,
                          1.0f / 3.0f, 0.5f, 1.0f, 2.5f, 1e6f, 1e30f, std::numeric_limits<float>::max()};
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> log2m(-40.0, 20.0);
  for (int i = 0; i < 40; ++i) m.push_back(static_cast<float>(std::exp2(log2m(rng))));
  return m;
}

// The output stage admits multipliers finite and > 0 and a zero point inside the output type;
// [qmin, qmax] is narrowed to the type and may leave the zero point outside.
template <class Out>
void check_output_stage_float() {
  const std::vector<std::int32_t> acc = accumulators();
  constexpr std::int32_t type_min = std::numeric_limits<Out>::min();
  constexpr std::int32_t type_max = std::numeric_limits<Out>::max();
  for (float m : output_stage_multipliers()) {
    for (std::int32_t zp : {type_min, type_max, (type_min + type_max) / 2, type_min + 3}) {
      for (CodeRange r : {CodeRange{type_min, type_max}, CodeRange{zp, type_max},
                          CodeRange{type_min + 10, type_min + 20}, CodeRange{type_max - 5, type_max}}) {
        for (std::int32_t t : acc) {
          const std::int32_t want = former_output_float(t, m, zp, r.qmin - zp, r.qmax - zp);
          ASSERT_EQ(want, +k::requantize_float_value<Out>(t, m, zp, r)) << "t " << t << " m " << m << " zp " << zp;
        }
      }
    }
  }
}

TEST(Arithmetic, RequantizeFloatS8IsTheOutputStagesFormula) { check_output_stage_float<std::int8_t>(); }
TEST(Arithmetic, RequantizeFloatU8IsTheOutputStagesFormula) { check_output_stage_float<std::uint8_t>(); }

// ---- requantize, fixed-point multiplier --------------------------------------------------------

std::vector<k::FixedPointMultiplier> fixed_point_multipliers() {
  std::vector<k::FixedPointMultiplier> m;
  for (double real : {1e-9, 3.1e-7, 1.234e-4, 0.0123, 0.25, 0.5, 0.7071, 0.99999, 1.0, 1.5, 3.3, 1000.25, 5.0e8}) {
    m.push_back(k::fixed_point_multiplier(real));
  }
  m.push_back({1 << 30, -31});
  m.push_back({int32_max, -31});
  m.push_back({int32_max, 30});
  m.push_back({1 << 30, 30});
  m.push_back({0, 0});
  return m;
}

TEST(Arithmetic, DoubleRoundingIsTheFormerShiftAndMultiply) {
  for (k::FixedPointMultiplier m : fixed_point_multipliers()) {
    for (std::int32_t t : accumulators()) {
      ASSERT_EQ(former_double_rounding(t, m), k::multiply_double_rounding(t, m))
          << "t " << t << " m {" << m.multiplier << ", " << m.exponent << "}";
    }
  }
}

template <class Out>
void check_output_stage_fixed_point() {
  constexpr std::int32_t type_min = std::numeric_limits<Out>::min();
  constexpr std::int32_t type_max = std::numeric_limits<Out>::max();
  const std::vector<std::int32_t> acc = accumulators();
  for (auto rounding : {k::FixedPointRounding::double_rounding, k::FixedPointRounding::single_rounding}) {
    for (k::FixedPointMultiplier m : fixed_point_multipliers()) {
      for (std::int32_t zp : {type_min, type_max, type_min + 3}) {
        for (CodeRange r :
             {CodeRange{type_min, type_max}, CodeRange{zp, type_max}, CodeRange{type_min + 10, type_min + 20}}) {
          for (std::int32_t t : acc) {
            const std::int32_t want = former_output_fixed_point(t, m, rounding, zp, r.qmin - zp, r.qmax - zp);
            ASSERT_EQ(want, +k::requantize_fixed_point_value<Out>(t, m, rounding, zp, r)) << "t " << t << " zp " << zp;
          }
        }
      }
    }
  }
}

TEST(Arithmetic, RequantizeFixedPointS8IsTheOutputStagesFormula) { check_output_stage_fixed_point<std::int8_t>(); }
TEST(Arithmetic, RequantizeFixedPointU8IsTheOutputStagesFormula) { check_output_stage_fixed_point<std::uint8_t>(); }

// ---- dequantize -------------------------------------------------------------------------------

TEST(Arithmetic, DequantizeIsTheLinearPolicysFormula) {
  for (float scale : {1.0f, 0.037f, 1e-30f, 0.0f, -0.5f, std::numeric_limits<float>::infinity()}) {
    for (std::int32_t zp : {-128, 0, 127, 255, 1 << 20, -(1 << 25) - 1}) {
      for (int q = -128; q <= 255; ++q) {
        const float want = (static_cast<float>(q) - static_cast<float>(zp)) * scale;
        const float got = k::dequantize_value(static_cast<std::int16_t>(q), scale, zp);
        ASSERT_EQ(std::memcmp(&want, &got, sizeof want), 0) << q << " " << zp << " " << scale;
      }
    }
  }
}

}  // namespace
