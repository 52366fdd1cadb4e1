// ggml's tensor types: their numbers (enum ggml_type, as GGUF files store
// them), their names (ggml_type_name), block and byte sizes, and which ones
// eigenq can quantize and dequantize byte-identically with ggml.
#pragma once

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {
namespace ggml {

// Values are ggml's. The gaps (4, 5, 31-33, 36-38) are types ggml removed.
enum class Type : std::int32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_K = 10,
  q3_K = 11,
  q4_K = 12,
  q5_K = 13,
  q6_K = 14,
  q8_K = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
  nvfp4 = 40,
  q1_0 = 41,
  q2_0 = 42,
};

inline constexpr std::int32_t kTypeValueEnd = 43;  // ggml's GGML_TYPE_COUNT

struct TypeTraits {
  const char* name;       // nullptr: a removed value
  Index block_size;       // elements per block
  Index type_size;        // bytes per block
  bool quantized;         // ggml_is_quantized
  bool supported;         // eigenq quantizes and dequantizes it
  bool uses_importance;   // ggml's quantizer reads quant_weights (the imatrix) for it
  const char* why_not;    // why an unsupported type is not, else nullptr
};

namespace detail {

inline constexpr const char* kLatticeReason =
    "its lattice codebooks and searches are not implemented in eigenq (see docs/gguf.md)";
inline constexpr const char* kDotOnlyReason =
    "ggml uses it only as an intermediate for dot products; ggml_quantize_chunk does not produce it";
inline constexpr const char* kIntegerReason = "an integer or f64 type, not one ggml quantizes to";

inline const TypeTraits& traits_at(std::int32_t v) {
  // name, block, bytes, quantized, supported, uses_importance, why_not
  static const TypeTraits table[kTypeValueEnd] = {
      {"f32", 1, 4, false, true, false, nullptr},
      {"f16", 1, 2, false, true, false, nullptr},
      {"q4_0", 32, 18, true, true, true, nullptr},
      {"q4_1", 32, 20, true, true, true, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {"q5_0", 32, 22, true, true, true, nullptr},
      {"q5_1", 32, 24, true, true, true, nullptr},
      {"q8_0", 32, 34, true, true, false, nullptr},
      {"q8_1", 32, 36, true, false, false, kDotOnlyReason},
      {"q2_K", 256, 84, true, true, true, nullptr},
      {"q3_K", 256, 110, true, true, true, nullptr},
      {"q4_K", 256, 144, true, true, true, nullptr},
      {"q5_K", 256, 176, true, true, true, nullptr},
      {"q6_K", 256, 210, true, true, true, nullptr},
      {"q8_K", 256, 292, true, false, false, kDotOnlyReason},
      {"iq2_xxs", 256, 66, true, false, true, kLatticeReason},
      {"iq2_xs", 256, 74, true, false, true, kLatticeReason},
      {"iq3_xxs", 256, 98, true, false, true, kLatticeReason},
      {"iq1_s", 256, 50, true, false, true, kLatticeReason},
      {"iq4_nl", 32, 18, true, true, true, nullptr},
      {"iq3_s", 256, 110, true, false, true, kLatticeReason},
      {"iq2_s", 256, 82, true, false, true, kLatticeReason},
      {"iq4_xs", 256, 136, true, true, true, nullptr},
      {"i8", 1, 1, false, false, false, kIntegerReason},
      {"i16", 1, 2, false, false, false, kIntegerReason},
      {"i32", 1, 4, false, false, false, kIntegerReason},
      {"i64", 1, 8, false, false, false, kIntegerReason},
      {"f64", 1, 8, false, false, false, kIntegerReason},
      {"iq1_m", 256, 56, true, false, true, kLatticeReason},
      {"bf16", 1, 2, false, true, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {"tq1_0", 256, 54, true, true, false, nullptr},
      {"tq2_0", 256, 66, true, true, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {nullptr, 0, 0, false, false, false, nullptr},
      {"mxfp4", 32, 17, true, true, false, nullptr},
      {"nvfp4", 64, 36, true, true, false, nullptr},
      {"q1_0", 128, 18, true, true, false, nullptr},
      {"q2_0", 64, 18, true, true, false, nullptr},
  };
  return table[v];
}

}  // namespace detail

// True for every value ggml currently defines (removed values are not).
inline bool is_known_type_value(std::int64_t value) {
  return value >= 0 && value < kTypeValueEnd &&
         detail::traits_at(static_cast<std::int32_t>(value)).name != nullptr;
}

inline Type type_from_value(std::int64_t value) {
  if (!is_known_type_value(value)) {
    raise("unknown ggml type value ", value, " (ggml defines 0..", kTypeValueEnd - 1,
          " except the removed 4, 5, 31-33, 36-38)");
  }
  return static_cast<Type>(value);
}

inline const TypeTraits& type_traits(Type type) {
  const auto v = static_cast<std::int64_t>(type);
  if (!is_known_type_value(v)) raise("unknown ggml type value ", v);
  return detail::traits_at(static_cast<std::int32_t>(v));
}

// ggml_type_name: "q4_K", "iq4_nl", "bf16", ...
inline const char* type_name(Type type) { return type_traits(type).name; }

// The type named `name` in any letter case ("Q4_K", "q4_k" and "q4_K" are q4_K).
inline Type type_from_name(std::string_view name) {
  auto lower = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string wanted = lower(name);
  for (std::int32_t v = 0; v < kTypeValueEnd; ++v) {
    const TypeTraits& t = detail::traits_at(v);
    if (t.name != nullptr && lower(t.name) == wanted) return static_cast<Type>(v);
  }
  raise("unknown ggml type name '", name, "' (expected a ggml_type_name such as q8_0, q4_K, iq4_nl, mxfp4)");
}

inline Index block_size(Type type) { return type_traits(type).block_size; }
inline Index type_size(Type type) { return type_traits(type).type_size; }
inline bool is_quantized(Type type) { return type_traits(type).quantized; }
inline bool is_supported(Type type) { return type_traits(type).supported; }

// Whether ggml's quantizer for this type reads the importance weights. For the
// others ggml ignores them, and so does eigenq.
inline bool uses_importance(Type type) { return type_traits(type).uses_importance; }

// ggml_quantize_requires_imatrix: ggml refuses to quantize these without one.
inline bool requires_importance(Type type) {
  return type == Type::iq2_xxs || type == Type::iq2_xs || type == Type::iq1_s;
}

// Bytes of a row of n elements: ggml_row_size. n must be a whole number of blocks.
inline Index row_size(Type type, Index n) {
  const TypeTraits& t = type_traits(type);
  if (n < 0 || n % t.block_size != 0) {
    raise("row length ", n, " is not a multiple of the ", t.name, " block size ", t.block_size);
  }
  return n / t.block_size * t.type_size;
}

// Throws unless eigenq can quantize and dequantize `type`.
inline void require_supported(Type type) {
  const TypeTraits& t = type_traits(type);
  if (!t.supported) raise("ggml type ", t.name, " is not supported: ", t.why_not);
}

// The types eigenq quantizes byte-identically with ggml, in ggml's numbering order.
inline std::vector<Type> supported_types() {
  std::vector<Type> out;
  for (std::int32_t v = 0; v < kTypeValueEnd; ++v) {
    if (detail::traits_at(v).supported) out.push_back(static_cast<Type>(v));
  }
  return out;
}

}  // namespace ggml
}  // namespace eigenq
