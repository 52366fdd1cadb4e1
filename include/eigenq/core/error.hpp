// Typed exceptions. Every message names what was wrong and where (tensor,
// axis, index, channel, parameter), so a user can act on it without a debugger.
#pragma once

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace eigenq {

// Base of everything eigenq throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A parameter value outside its domain (bits, axis, group size, qmin > qmax...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Shapes that do not fit together, or an empty tensor where data is needed.
class ShapeError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

// NaN or Inf met where a finite value is required (calibration, fitting).
class NonFiniteError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

// A file that cannot be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// A file whose content violates its format (npy, safetensors, eigenq metadata).
class FormatError : public Error {
 public:
  using Error::Error;
};

namespace detail {

inline void append_floating(std::string& out, double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%g", v);  // what an ostream prints by default
  out.append(buf, static_cast<std::size_t>(n));
}

// Strings and numbers, nearly every part of a message, are appended without an ostringstream,
// exactly as `std::ostream << part` prints them by default: raise() is instantiated per call
// site, and a stream in each would cost every translation unit compile time. A message with
// any other part (a manipulator such as std::hex, a type with operator<<) uses a stream.
template <class T>
inline constexpr bool is_plain_part_v =
    std::is_arithmetic_v<std::decay_t<T>> || std::is_convertible_v<const T&, std::string_view>;

inline void append_part(std::string& out, const char* part) {
  if (part != nullptr) out += part;
}
inline void append_part(std::string& out, const std::string& part) { out += part; }

template <class T>
void append_part(std::string& out, const T& part) {
  using U = std::decay_t<T>;
  if constexpr (std::is_same_v<U, bool>) {
    out += part ? '1' : '0';
  } else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> ||
                       std::is_same_v<U, unsigned char>) {
    out += static_cast<char>(part);
  } else if constexpr (std::is_integral_v<U>) {
    out += std::to_string(part);
  } else if constexpr (std::is_floating_point_v<U>) {
    append_floating(out, static_cast<double>(part));
  } else {
    out += std::string_view(part);
  }
}

// Builds a message from streamable parts: error_message("axis ", a, " out of range").
template <class... Parts>
std::string error_message(const Parts&... parts) {
  if constexpr ((is_plain_part_v<Parts> && ...)) {
    std::string out;
    (append_part(out, parts), ...);
    return out;
  } else {
    std::ostringstream out;
    (out << ... << parts);
    return out.str();
  }
}

}  // namespace detail

template <class E = InvalidArgument, class... Parts>
[[noreturn]] void raise(const Parts&... parts) {
  throw E(detail::error_message(parts...));
}

}  // namespace eigenq
