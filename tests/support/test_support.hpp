// Helpers every test folder shares: bit-exact comparison of vectors and checking that a call
// throws the right error type with a message that says the right things. Seeded random data
// and models are in random_data.hpp and nn_models.hpp beside this file.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace eigenq_test {

// "1.5 (0x3fc00000)" for floats, the number for integers (int8 printed as a number).
template <class T>
std::string describe_value(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    char hex[32];
    std::snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(bits));
    return std::to_string(v) + " (" + hex + ")";
  } else {
    return std::to_string(+v);
  }
}

// True when both vectors hold the same bytes (NaN payloads and signed zeros included); the
// failure names the first element that differs.
template <class T>
::testing::AssertionResult same_bits(const std::vector<T>& expected, const std::vector<T>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << expected.size() << " vs " << actual.size();
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (std::memcmp(&expected[i], &actual[i], sizeof(T)) != 0) {
      return ::testing::AssertionFailure() << "first difference at element " << i << " of " << expected.size()
                                           << ": expected " << describe_value(expected[i]) << ", got "
                                           << describe_value(actual[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

// f() must throw E (or a subclass) whose message contains every fragment; no exception, or
// an exception of another type, fails the test.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const auto& fragment : fragments) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << " lacks " << fragment;
    }
  } catch (const std::exception& other) {
    ADD_FAILURE() << "threw another exception type: " << other.what();
  }
}

inline constexpr std::int32_t int32_min = std::numeric_limits<std::int32_t>::min();
inline constexpr std::int32_t int32_max = std::numeric_limits<std::int32_t>::max();

// The bits of a float and the float of some bits.
inline std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
inline float float_from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// The message of the E that f() throws, or "(no exception)".
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace eigenq_test

// expect_error for a statement:
//   EXPECT_THROW_WITH(read_npy(path), eigenq::FormatError, "bad.npy", "magic");
#define EXPECT_THROW_WITH(statement, E, ...) ::eigenq_test::expect_error<E>([&] { statement; }, {__VA_ARGS__})
