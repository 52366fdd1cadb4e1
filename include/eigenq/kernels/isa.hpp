// Instruction-set paths and run-time dispatch.
//
// Kernels for each ISA are compiled inside the headers with target attributes
// (no -march flag needed by the consumer); which one runs is decided from the
// CPU features, read once. Tests and benchmarks force a path with
// set_isa()/ScopedIsa or the EIGENQ_ISA environment variable
// (scalar|avx2|avx512|avx512vnni|neon). Defining EIGENQ_DISPATCH_COMPILE_TIME
// before including eigenq turns dispatch off: only the paths the compiler
// flags enable are built, and the best of them always runs.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>

#include "eigenq/core/error.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define EIGENQ_ARCH_X86 1
#elif defined(__aarch64__)
#define EIGENQ_ARCH_ARM64 1
#if !defined(EIGENQ_DISPATCH_COMPILE_TIME)
#include <sys/auxv.h>
#endif
#endif

// Which ISA paths this translation unit compiles.
#if defined(EIGENQ_DISPATCH_COMPILE_TIME)
#if defined(__AVX2__) && defined(__FMA__)
#define EIGENQ_HAVE_AVX2 1
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#define EIGENQ_HAVE_AVX512 1
#endif
#if defined(EIGENQ_HAVE_AVX512) && defined(__AVX512VNNI__)
#define EIGENQ_HAVE_AVX512VNNI 1
#endif
#if defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
#define EIGENQ_HAVE_NEON 1
#endif
#define EIGENQ_TARGET_AVX2
#define EIGENQ_TARGET_AVX512
#define EIGENQ_TARGET_AVX512VNNI
#define EIGENQ_TARGET_NEON
#else
#if defined(EIGENQ_ARCH_X86) && (defined(__GNUC__) || defined(__clang__))
#define EIGENQ_HAVE_AVX2 1
#define EIGENQ_HAVE_AVX512 1
#define EIGENQ_HAVE_AVX512VNNI 1
#define EIGENQ_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EIGENQ_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq")))
#define EIGENQ_TARGET_AVX512VNNI \
  __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#endif
#if defined(EIGENQ_ARCH_ARM64) && (defined(__GNUC__) || defined(__clang__))
#define EIGENQ_HAVE_NEON 1
#define EIGENQ_TARGET_NEON __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#endif

namespace eigenq {
namespace kernels {

enum class Isa { scalar, avx2, avx512, avx512vnni, neon };

inline const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512vnni: return "avx512vnni";
    case Isa::neon: return "neon";
  }
  return "?";
}

inline Isa isa_from_string(const std::string& s) {
  if (s == "scalar") return Isa::scalar;
  if (s == "avx2") return Isa::avx2;
  if (s == "avx512") return Isa::avx512;
  if (s == "avx512vnni") return Isa::avx512vnni;
  if (s == "neon") return Isa::neon;
  raise("unknown ISA '", s, "' (expected scalar, avx2, avx512, avx512vnni or neon)");
}

// Whether this build compiled the path (independent of the CPU).
inline bool compiled(Isa isa) {
  switch (isa) {
    case Isa::scalar: return true;
#if defined(EIGENQ_HAVE_AVX2)
    case Isa::avx2: return true;
#endif
#if defined(EIGENQ_HAVE_AVX512)
    case Isa::avx512: return true;
#endif
#if defined(EIGENQ_HAVE_AVX512VNNI)
    case Isa::avx512vnni: return true;
#endif
#if defined(EIGENQ_HAVE_NEON)
    case Isa::neon: return true;
#endif
    default: return false;
  }
}

namespace detail {

inline bool cpu_has(Isa isa) {
#if defined(EIGENQ_DISPATCH_COMPILE_TIME)
  return compiled(isa);  // the compiler flags promise these
#elif defined(EIGENQ_ARCH_X86) && (defined(__GNUC__) || defined(__clang__))
  // libgcc/compiler-rt also check that the OS saves the YMM/ZMM state.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
    case Isa::avx512vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#elif defined(EIGENQ_ARCH_ARM64) && defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
  if (isa == Isa::scalar) return true;
  if (isa == Isa::neon) return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return false;
#else
  return isa == Isa::scalar;
#endif
}

inline Isa detect_best() {
  for (Isa isa : {Isa::avx512vnni, Isa::avx512, Isa::avx2, Isa::neon}) {
    if (compiled(isa) && cpu_has(isa)) return isa;
  }
  return Isa::scalar;
}

// Features are read once; the environment override applies at first use.
inline Isa initial_isa() {
  const Isa best = detect_best();
  const char* env = std::getenv("EIGENQ_ISA");
  if (env == nullptr || *env == '\0') return best;
  const Isa wanted = isa_from_string(env);
  if (!compiled(wanted) || !cpu_has(wanted)) {
    raise("EIGENQ_ISA=", env, " is not available on this CPU/build (best is ", to_string(best), ")");
  }
  return wanted;
}

inline std::atomic<Isa>& active_isa_slot() {
  static std::atomic<Isa> slot{initial_isa()};
  return slot;
}

}  // namespace detail

// True when the path is compiled in and the CPU runs it.
inline bool supported(Isa isa) { return compiled(isa) && detail::cpu_has(isa); }

// The fastest supported path on this machine.
inline Isa best_isa() {
  static const Isa best = detail::detect_best();
  return best;
}

// The path kernels use now.
inline Isa active_isa() { return detail::active_isa_slot().load(std::memory_order_relaxed); }

// Forces a path for every later kernel call; throws if it is not supported.
inline void set_isa(Isa isa) {
  if (!supported(isa)) {
    raise("ISA ", to_string(isa), " is not supported on this CPU/build (best is ",
          to_string(best_isa()), ")");
  }
  detail::active_isa_slot().store(isa, std::memory_order_relaxed);
}

// Sets a path for a scope (tests, benchmarks), restoring the previous one.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : previous_(active_isa()) { set_isa(isa); }
  ~ScopedIsa() { detail::active_isa_slot().store(previous_, std::memory_order_relaxed); }
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  Isa previous_;
};

}  // namespace kernels
}  // namespace eigenq
