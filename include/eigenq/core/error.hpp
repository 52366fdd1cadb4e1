// Typed exceptions. Every message names what was wrong and where (tensor,
// axis, index, channel, parameter), so a user can act on it without a debugger.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
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

// Builds a message from streamable parts: error_message("axis ", a, " out of range").
template <class... Parts>
std::string error_message(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

}  // namespace detail

template <class E = InvalidArgument, class... Parts>
[[noreturn]] void raise(Parts&&... parts) {
  throw E(detail::error_message(std::forward<Parts>(parts)...));
}

}  // namespace eigenq
