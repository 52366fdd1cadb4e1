// Small vocabulary types shared by every layer.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "eigenq/core/error.hpp"

namespace eigenq {

using Index = std::int64_t;

// Which framework's arithmetic the linear quantizer reproduces, bit for bit.
enum class Profile {
  pytorch,  // torch.ao.quantization observers + quantize_per_tensor/channel (default)
  onnx,     // ONNX Runtime's compute_scale_zp + QuantizeLinear
  tflite    // TFLite's ChooseQuantizationParams + reference Quantize
};

// How the real range maps onto the codes (PyTorch's qscheme *_affine / *_symmetric).
enum class Symmetry {
  affine,    // [min, max] onto [qmin, qmax], zero point chosen so 0.0 is exact
  symmetric  // [-amax, amax], zero point fixed (0 for signed codes)
};

// The two forms of linear quantization; see README "Two conventions".
enum class Convention {
  inference,   // r = scale (q - zero_point), integer zero point (PyTorch/ONNX/TFLite)
  real_offset  // q = q_min + s (r - r_min), real-valued offset r_min (the project seed's formula)
};

inline const char* to_string(Profile p) {
  switch (p) {
    case Profile::pytorch: return "pytorch";
    case Profile::onnx: return "onnx";
    case Profile::tflite: return "tflite";
  }
  return "?";
}

inline const char* to_string(Symmetry s) { return s == Symmetry::affine ? "affine" : "symmetric"; }

inline const char* to_string(Convention c) {
  return c == Convention::inference ? "inference" : "real-offset";
}

inline Profile profile_from_string(const std::string& s) {
  if (s == "pytorch") return Profile::pytorch;
  if (s == "onnx") return Profile::onnx;
  if (s == "tflite") return Profile::tflite;
  raise("unknown profile '", s, "' (expected pytorch, onnx or tflite)");
}

// An inclusive integer code range [qmin, qmax].
struct CodeRange {
  std::int32_t qmin = 0;
  std::int32_t qmax = 0;
  std::int64_t levels() const { return std::int64_t{qmax} - qmin + 1; }
  friend bool operator==(CodeRange a, CodeRange b) { return a.qmin == b.qmin && a.qmax == b.qmax; }
};

// The code integer types eigenq stores.
template <class Code>
inline constexpr bool is_code_type_v =
    std::is_same_v<Code, std::int8_t> || std::is_same_v<Code, std::uint8_t> ||
    std::is_same_v<Code, std::int16_t> || std::is_same_v<Code, std::uint16_t>;

template <class Code>
constexpr CodeRange full_range() {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");
  return {std::numeric_limits<Code>::min(), std::numeric_limits<Code>::max()};
}

// The range of `bits`-bit codes of the signedness of Code.
template <class Code>
CodeRange range_for_bits(int bits) {
  constexpr int width = 8 * static_cast<int>(sizeof(Code));
  if (bits < 2 || bits > width) {
    raise("bits = ", bits, " is out of range for this code type (expected 2..", width, ")");
  }
  if (std::is_signed_v<Code>) {
    return {-(std::int32_t{1} << (bits - 1)), (std::int32_t{1} << (bits - 1)) - 1};
  }
  return {0, (std::int32_t{1} << bits) - 1};
}

// Checks that [qmin, qmax] fits the code type.
template <class Code>
void check_range_fits(CodeRange r) {
  constexpr CodeRange full = full_range<Code>();
  if (r.qmin > r.qmax) raise("qmin = ", r.qmin, " is greater than qmax = ", r.qmax);
  if (r.qmin < full.qmin || r.qmax > full.qmax) {
    raise("code range [", r.qmin, ", ", r.qmax, "] does not fit the code type's range [",
          full.qmin, ", ", full.qmax, "]");
  }
}

// Smallest number of bits that holds every code of the range (as the code type's signedness).
inline int bits_for_range(CodeRange r, bool is_signed) {
  int bits = 1;
  while (bits < 32) {
    const std::int64_t lo = is_signed ? -(std::int64_t{1} << (bits - 1)) : 0;
    const std::int64_t hi = is_signed ? (std::int64_t{1} << (bits - 1)) - 1 : (std::int64_t{1} << bits) - 1;
    if (r.qmin >= lo && r.qmax <= hi) return bits;
    ++bits;
  }
  return 32;
}

}  // namespace eigenq
