// Tests include/eigenq/version.hpp.
#include "eigenq/version.hpp"

#include <string>

#include <gtest/gtest.h>

namespace {

TEST(Version, StringMatchesMacros) {
  const std::string expected = std::to_string(EIGENQ_VERSION_MAJOR) + "." +
                               std::to_string(EIGENQ_VERSION_MINOR) + "." +
                               std::to_string(EIGENQ_VERSION_PATCH);
  EXPECT_EQ(eigenq::version_string(), expected);
}

TEST(Version, NumberIsOrdered) {
  EXPECT_EQ(EIGENQ_VERSION, EIGENQ_VERSION_MAJOR * 10000 + EIGENQ_VERSION_MINOR * 100 +
                                EIGENQ_VERSION_PATCH);
}

}  // namespace
