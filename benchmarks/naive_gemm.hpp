// Products compiled with -O3 -march=native in naive_gemm.cpp (see CMakeLists.txt): the plain
// C++ loop ("naive") and the peers that are header-only and pick their SIMD code from the
// compiler flags, Eigen's float GEMM and gemmlowp, so they get this machine's best ISA as a
// user building them natively would. Only plain types cross this header.
#pragma once

#include <cstdint>
#include <memory>

namespace eigenq_bench {

// C (M x N, row-major int32) = A (M x K, row-major u8) x B (K x N, row-major s8).
void naive_gemm_u8s8s32(const std::uint8_t* a, const std::int8_t* b, std::int32_t* c, int m, int n,
                        int k);

// Eigen float product on column-major operands, single-threaded.
class EigenGemmF32 {
 public:
  EigenGemmF32(int m, int n, int k);
  ~EigenGemmF32();
  void run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// gemmlowp: u8 x u8 -> int32 with offsets (its only input type), single-threaded.
// Returns false when gemmlowp was not found at configure time.
class GemmlowpGemm {
 public:
  GemmlowpGemm(int m, int n, int k);
  ~GemmlowpGemm();
  bool available() const;
  void run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eigenq_bench
