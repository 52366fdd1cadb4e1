// Kernel tests parameterized over every ISA path of kernels::all_isas: a path this build or this
// CPU lacks shows as SKIPPED with the reason instead of vanishing.
//
//   class GemmIsa : public eigenq_test::IsaTest {};
//   TEST_P(GemmIsa, Something) { ... isa() ... }
//   EIGENQ_INSTANTIATE_FOR_ALL_ISAS(GemmIsa);
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "eigenq/kernels/isa.hpp"

// gtest prints the tested path by name.
namespace eigenq {
namespace kernels {
inline void PrintTo(Isa isa, std::ostream* os) { *os << to_string(isa); }
}  // namespace kernels
}  // namespace eigenq

namespace eigenq_test {

class IsaTest : public ::testing::TestWithParam<eigenq::kernels::Isa> {
 protected:
  void SetUp() override {
    const std::string reason = eigenq::kernels::unsupported_reason(GetParam());
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  eigenq::kernels::Isa isa() const { return GetParam(); }
};

inline std::string isa_name(const ::testing::TestParamInfo<eigenq::kernels::Isa>& info) {
  return eigenq::kernels::to_string(info.param);
}

}  // namespace eigenq_test

#define EIGENQ_INSTANTIATE_FOR_ALL_ISAS(Suite) \
  INSTANTIATE_TEST_SUITE_P(AllIsas, Suite, ::testing::ValuesIn(eigenq::kernels::all_isas), eigenq_test::isa_name)
