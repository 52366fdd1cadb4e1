// Compiled with -O3 -march=native (see naive_gemm.hpp): the plain loop baseline and the
// header-only peers that choose their SIMD code from the compiler flags.
#include "naive_gemm.hpp"

// With AVX-512 enabled, GCC 12 warns inside its own intrinsic headers as Eigen inlines them
// ("'__Y' may be used uninitialized", GCC bug 105593). The whole file: the warnings are
// issued where the templates are instantiated.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <vector>

#if __has_include(<gemmlowp/public/gemmlowp.h>)
#include <gemmlowp/public/gemmlowp.h>
#define EIGENQ_BENCH_GEMMLOWP 1
#endif

namespace eigenq_bench {

void naive_gemm_u8s8s32(const std::uint8_t* a, const std::int8_t* b, std::int32_t* c, int m, int n,
                        int k) {
  for (int i = 0; i < m; ++i) {
    std::int32_t* row = c + static_cast<std::ptrdiff_t>(i) * n;
    for (int j = 0; j < n; ++j) row[j] = 0;
    for (int q = 0; q < k; ++q) {
      const std::int32_t av = a[static_cast<std::ptrdiff_t>(i) * k + q];
      const std::int8_t* brow = b + static_cast<std::ptrdiff_t>(q) * n;
      for (int j = 0; j < n; ++j) row[j] += av * brow[j];
    }
  }
}

struct EigenGemmF32::Impl {
  Eigen::MatrixXf a, b, c;
};

EigenGemmF32::EigenGemmF32(int m, int n, int k) : impl_(new Impl) {
  Eigen::setNbThreads(1);
  impl_->a = Eigen::MatrixXf::Random(m, k);
  impl_->b = Eigen::MatrixXf::Random(k, n);
  impl_->c = Eigen::MatrixXf::Zero(m, n);
}
EigenGemmF32::~EigenGemmF32() = default;
void EigenGemmF32::run() { impl_->c.noalias() = impl_->a * impl_->b; }

#if defined(EIGENQ_BENCH_GEMMLOWP)
struct GemmlowpGemm::Impl {
  int m, n, k;
  std::vector<std::uint8_t> lhs, rhs;
  std::vector<std::int32_t> result;
  gemmlowp::GemmContext context;
};

GemmlowpGemm::GemmlowpGemm(int m, int n, int k) : impl_(new Impl) {
  impl_->m = m;
  impl_->n = n;
  impl_->k = k;
  std::mt19937 rng(1);
  impl_->lhs.resize(static_cast<std::size_t>(m) * k);
  impl_->rhs.resize(static_cast<std::size_t>(k) * n);
  impl_->result.resize(static_cast<std::size_t>(m) * n);
  for (auto& v : impl_->lhs) v = static_cast<std::uint8_t>(rng());
  for (auto& v : impl_->rhs) v = static_cast<std::uint8_t>(rng());
  impl_->context.set_max_num_threads(1);
}
GemmlowpGemm::~GemmlowpGemm() = default;
bool GemmlowpGemm::available() const { return true; }
void GemmlowpGemm::run() {
  // gemmlowp's preferred orders: row-major LHS, column-major RHS and result.
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::RowMajor> lhs(
      impl_->lhs.data(), impl_->m, impl_->k);
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::ColMajor> rhs(
      impl_->rhs.data(), impl_->k, impl_->n);
  gemmlowp::MatrixMap<std::int32_t, gemmlowp::MapOrder::ColMajor> result(impl_->result.data(),
                                                                         impl_->m, impl_->n);
  gemmlowp::GemmWithOutputPipeline<std::uint8_t, std::int32_t, gemmlowp::DefaultL8R8BitDepthParams>(
      &impl_->context, lhs, rhs, &result, -128, -128, std::make_tuple());
}
#else
struct GemmlowpGemm::Impl {};
GemmlowpGemm::GemmlowpGemm(int, int, int) {}
GemmlowpGemm::~GemmlowpGemm() = default;
bool GemmlowpGemm::available() const { return false; }
void GemmlowpGemm::run() {}
#endif

}  // namespace eigenq_bench
