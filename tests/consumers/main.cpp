// What an outside project compiles against eigenq. Built by every consumer project in
// tests/consumers/ with -Wall -Wextra -Wpedantic -Werror and no -march flag; exits 0 on success.
#include <eigenq/eigenq.hpp>

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
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
  // Quantize per channel, dequantize back into the caller's type: each row's
  // error stays within half of its step.
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(8, 16);
  const auto q = eigenq::quantize(w, eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{0});
  const Eigen::MatrixXf w_hat = eigenq::dequantize(q);
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const float step = q.params()[static_cast<std::size_t>(r)].scale;
    if ((w.row(r) - w_hat.row(r)).cwiseAbs().maxCoeff() > 0.5f * step * 1.001f) {
      std::fprintf(stderr, "row %ld: quantization error above half a step\n", static_cast<long>(r));
      return 1;
    }
  }
  // Errors are typed exceptions.
  try {
    (void)eigenq::quantize(w, eigenq::Linear<std::int8_t>::affine(), eigenq::PerChannel{5});
    std::fprintf(stderr, "an axis out of range was accepted\n");
    return 1;
  } catch (const eigenq::Error&) {
  }
  std::printf("eigenq %s, __cplusplus %ld, best ISA %s\n", version, static_cast<long>(__cplusplus),
              eigenq::kernels::to_string(eigenq::kernels::best_isa()));
  return 0;
}
