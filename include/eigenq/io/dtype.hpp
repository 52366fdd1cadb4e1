// Element types of tensors in files (.npy, safetensors), their sizes and
// names, and conversion of their little-endian bytes to C++ numbers.
//
// Bytes in files are read with memcpy, never through a cast pointer, so
// unaligned data (a safetensors tensor after an odd-sized header, an npy
// array after its header) is never undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/little_endian.hpp"

namespace eigenq {
namespace io {

// Every dtype safetensors knows. .npy files use the subset it can spell
// (see npy.hpp); F8 and BOOL are only ever copied as bytes.
enum class DType {
  boolean,  // BOOL
  u8,       // U8
  i8,       // I8
  u16,      // U16
  i16,      // I16
  u32,      // U32
  i32,      // I32
  u64,      // U64
  i64,      // I64
  f16,      // F16 (IEEE binary16)
  bf16,     // BF16 (bfloat16)
  f32,      // F32
  f64,      // F64
  f8_e4m3,  // F8_E4M3
  f8_e5m2   // F8_E5M2
};

inline std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::boolean:
    case DType::u8:
    case DType::i8:
    case DType::f8_e4m3:
    case DType::f8_e5m2: return 1;
    case DType::u16:
    case DType::i16:
    case DType::f16:
    case DType::bf16: return 2;
    case DType::u32:
    case DType::i32:
    case DType::f32: return 4;
    case DType::u64:
    case DType::i64:
    case DType::f64: return 8;
  }
  return 1;
}

// eigenq's own to_string overloads (shapes, granularities...) stay visible beside DType's.
using eigenq::to_string;

// The safetensors spelling ("F32"), also used in eigenq's metadata and messages.
inline const char* to_string(DType t) {
  switch (t) {
    case DType::boolean: return "BOOL";
    case DType::u8: return "U8";
    case DType::i8: return "I8";
    case DType::u16: return "U16";
    case DType::i16: return "I16";
    case DType::u32: return "U32";
    case DType::i32: return "I32";
    case DType::u64: return "U64";
    case DType::i64: return "I64";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::f8_e4m3: return "F8_E4M3";
    case DType::f8_e5m2: return "F8_E5M2";
  }
  return "?";
}

inline std::optional<DType> dtype_from_string(const std::string& s) {
  static constexpr DType all[] = {DType::boolean, DType::u8,  DType::i8,   DType::u16,     DType::i16,
                                  DType::u32,     DType::i32, DType::u64,  DType::i64,     DType::f16,
                                  DType::bf16,    DType::f32, DType::f64,  DType::f8_e4m3, DType::f8_e5m2};
  for (DType t : all) {
    if (s == to_string(t)) return t;
  }
  return std::nullopt;
}

// Floating-point dtypes eigenq can widen (or, for F64, narrow) to float.
inline bool converts_to_float(DType t) {
  return t == DType::f16 || t == DType::bf16 || t == DType::f32 || t == DType::f64;
}

inline bool is_floating(DType t) {
  return converts_to_float(t) || t == DType::f8_e4m3 || t == DType::f8_e5m2;
}

inline bool is_integer(DType t) {
  switch (t) {
    case DType::u8:
    case DType::i8:
    case DType::u16:
    case DType::i16:
    case DType::u32:
    case DType::i32:
    case DType::u64:
    case DType::i64: return true;
    default: return false;
  }
}

// The dtype of a C++ element type.
template <class T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int8_t>) return DType::i8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return DType::u8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return DType::i16;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return DType::u16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::i32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return DType::u32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return DType::u64;
  else if constexpr (std::is_same_v<T, Eigen::half>) return DType::f16;
  else if constexpr (std::is_same_v<T, Eigen::bfloat16>) return DType::bf16;
  else static_assert(sizeof(T) == 0, "no file dtype for this element type");
}

namespace detail {

template <class T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<S>{}) with S the C++ type of a numeric dtype (Eigen::half
// and Eigen::bfloat16 for F16 and BF16); throws for BOOL and F8.
template <class F>
decltype(auto) visit_numeric_dtype(DType t, F&& f) {
  switch (t) {
    case DType::u8: return f(type_tag<std::uint8_t>{});
    case DType::i8: return f(type_tag<std::int8_t>{});
    case DType::u16: return f(type_tag<std::uint16_t>{});
    case DType::i16: return f(type_tag<std::int16_t>{});
    case DType::u32: return f(type_tag<std::uint32_t>{});
    case DType::i32: return f(type_tag<std::int32_t>{});
    case DType::u64: return f(type_tag<std::uint64_t>{});
    case DType::i64: return f(type_tag<std::int64_t>{});
    case DType::f16: return f(type_tag<Eigen::half>{});
    case DType::bf16: return f(type_tag<Eigen::bfloat16>{});
    case DType::f32: return f(type_tag<float>{});
    case DType::f64: return f(type_tag<double>{});
    default: break;
  }
  raise<InvalidArgument>("elements of dtype ", to_string(t), " cannot be converted to numbers");
}

template <class S>
inline constexpr bool is_float_like_v =
    std::is_floating_point_v<S> || std::is_same_v<S, Eigen::half> || std::is_same_v<S, Eigen::bfloat16>;

// Every value of integer type S is a value of integer type T.
template <class S, class T>
inline constexpr bool int_range_fits_v =
    std::is_signed_v<S> ? (std::is_signed_v<T> && sizeof(S) <= sizeof(T))
                        : (sizeof(S) < sizeof(T) || (sizeof(S) == sizeof(T) && !std::is_signed_v<T>));

// Element i of little-endian S values; F16/BF16 widened to float (exactly).
template <class S>
auto load_widened(const std::uint8_t* bytes, Index i) {
  const std::uint8_t* p = bytes + static_cast<std::size_t>(i) * sizeof(S);
  if constexpr (std::is_same_v<S, Eigen::half> || std::is_same_v<S, Eigen::bfloat16>) {
    std::uint16_t raw;
    std::memcpy(&raw, p, sizeof raw);
    return static_cast<float>(Eigen::numext::bit_cast<S>(raw));
  } else {
    S v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}

}  // namespace detail

// Whether dtype `from` converts to T without undefined behaviour or silent
// wrap-around: any number to a floating type (F16/BF16 widen exactly, F64
// rounds to nearest, large integers round); integers to an integer type whose
// range holds the source type's whole range. Never floats to integers.
template <class T>
bool converts_to(DType from) {
  static_assert(std::is_arithmetic_v<T>, "conversion target is a number type");
  if (!converts_to_float(from) && !is_integer(from)) return false;
  return detail::visit_numeric_dtype(from, [](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) return true;
    else if constexpr (detail::is_float_like_v<S>) return false;
    else return detail::int_range_fits_v<S, T>;
  });
}

// Converts n little-endian elements of dtype `from` to T (see converts_to).
template <class T>
void convert_elements(DType from, const std::uint8_t* bytes, Index n, T* out) {
  if (!converts_to<T>(from)) {
    raise<InvalidArgument>("cannot convert elements of dtype ", to_string(from), " to ", to_string(dtype_of<T>()));
  }
  if (n <= 0) return;
  detail::visit_numeric_dtype(from, [&](auto tag) {
    using S = typename decltype(tag)::type;
    if constexpr (std::is_same_v<S, T>) {
      std::memcpy(out, bytes, static_cast<std::size_t>(n) * sizeof(T));
    } else if constexpr (std::is_floating_point_v<T> || (!detail::is_float_like_v<S> && detail::int_range_fits_v<S, T>)) {
      for (Index i = 0; i < n; ++i) out[i] = static_cast<T>(detail::load_widened<S>(bytes, i));
    }
  });
}

}  // namespace io
}  // namespace eigenq
