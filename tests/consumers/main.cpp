// What an outside project compiles against eigenq. Built by every consumer project in
// tests/consumers/ with -Wall -Wextra -Wpedantic -Werror and no -march flag; exits 0 on success.
#include <eigenq/eigenq.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <cstring>

static_assert(EIGENQ_VERSION_MAJOR == 0, "unexpected eigenq major version");

#if defined(EIGENQ_CONSUMER_STD) && EIGENQ_CONSUMER_STD >= 20
static_assert(__cplusplus >= 202002L, "this program was meant to be built as C++20");
#else
static_assert(__cplusplus >= 201703L, "this program was meant to be built as C++17");
#endif

int main() {
  const Eigen::MatrixXf m = Eigen::MatrixXf::Random(3, 3);
  if (m.rows() != 3 || m.cols() != 3 || !m.allFinite()) {
    std::fprintf(stderr, "Eigen::MatrixXf::Random(3, 3) is not a finite 3x3 matrix\n");
    return 1;
  }
  const char* version = eigenq::version_string();
  if (version == nullptr || std::strncmp(version, "0.", 2) != 0) {
    std::fprintf(stderr, "eigenq::version_string() gave '%s'\n", version ? version : "(null)");
    return 1;
  }
  std::printf("eigenq %s, __cplusplus %ld\n", version, static_cast<long>(__cplusplus));
  return 0;
}
