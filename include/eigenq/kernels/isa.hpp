// Instruction-set paths and run-time dispatch.
//
// Kernels for each ISA are compiled inside the headers with target attributes
// (no -march flag needed by the consumer); which one runs is decided from the
// CPU features, read once. Tests and benchmarks force a path with
// set_isa()/ScopedIsa or the EIGENQ_ISA environment variable (a name from
// `isa_table` below: scalar|avx2|avx512|avx512vnni|neon_dotprod). Defining
// EIGENQ_DISPATCH_COMPILE_TIME before including eigenq turns dispatch off: only
// the paths the compiler flags enable are built, and the best of them always
// runs. dispatch.hpp turns the active ISA into the path type a kernel runs.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <iterator>
#include <string>
#include <utility>

#include "eigenq/core/error.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define EIGENQ_ARCH_X86 1
#elif defined(__aarch64__)
#define EIGENQ_ARCH_ARM64 1
#if !defined(EIGENQ_DISPATCH_COMPILE_TIME)
#include <sys/auxv.h>
#endif
#endif

// Which ISA paths this translation unit compiles (EIGENQ_HAVE_<ISA>), and the attribute that
// compiles a function for one (EIGENQ_TARGET_<ISA>).
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
#define EIGENQ_HAVE_NEON_DOTPROD 1
#endif
#define EIGENQ_TARGET_AVX2
#define EIGENQ_TARGET_AVX512
#define EIGENQ_TARGET_AVX512VNNI
#define EIGENQ_TARGET_NEON_DOTPROD
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
#define EIGENQ_HAVE_NEON_DOTPROD 1
#define EIGENQ_TARGET_NEON_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#endif

// Small SIMD helpers are forced inline: a call between them would pass every vector through
// memory, and GCC and Clang refuse to inline a function of another target into them anyway.
#if defined(__GNUC__) || defined(__clang__)
#define EIGENQ_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define EIGENQ_ALWAYS_INLINE inline
#endif

namespace eigenq {
namespace kernels {

// An ISA path: the code that runs the kernels on one instruction set. neon_dotprod is
// AArch64 Advanced SIMD with the dot-product extension (sdot), which every path of it uses.
enum class Isa { scalar, avx2, avx512, avx512vnni, neon_dotprod };

namespace detail {

struct IsaRow {
  Isa isa;
  const char* name;       // to_string() and the EIGENQ_ISA value
  const char* cpu_needs;  // what the CPU must have, for messages
};

}  // namespace detail

// Every ISA path, one row each, the reference first. Within an architecture a later row is
// preferred: the default path is the last one this build compiles and the CPU runs.
inline constexpr detail::IsaRow isa_table[] = {
    {Isa::scalar, "scalar", "nothing"},
    {Isa::avx2, "avx2", "x86-64 AVX2 and FMA"},
    {Isa::avx512, "avx512", "x86-64 AVX-512 F, BW, VL and DQ"},
    {Isa::avx512vnni, "avx512vnni", "x86-64 AVX-512 F, BW, VL, DQ and VNNI"},
    {Isa::neon_dotprod, "neon_dotprod", "AArch64 Advanced SIMD with the dot-product extension (asimddp)"},
};

namespace detail {
template <std::size_t... I>
constexpr std::array<Isa, sizeof...(I)> isas_of_table(std::index_sequence<I...>) {
  return {{isa_table[I].isa...}};
}
constexpr const IsaRow& row_of(Isa isa) {
  for (const IsaRow& row : isa_table) {
    if (row.isa == isa) return row;
  }
  return isa_table[0];
}
}  // namespace detail

// The list of all ISA paths, in isa_table's order (tests run every kernel on each).
inline constexpr std::array<Isa, std::size(isa_table)> all_isas =
    detail::isas_of_table(std::make_index_sequence<std::size(isa_table)>{});

constexpr const char* to_string(Isa isa) { return detail::row_of(isa).name; }

// Whether this build compiled the path (independent of the CPU).
constexpr bool compiled(Isa isa) {
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
#if defined(EIGENQ_HAVE_NEON_DOTPROD)
    case Isa::neon_dotprod: return true;
#endif
    default: return false;
  }
}

inline Isa isa_from_string(const std::string& s) {
  std::string names;
  for (const auto& row : isa_table) {
    if (s == row.name) return row.isa;
    names += names.empty() ? "" : ", ";
    names += row.name;
  }
  raise("unknown ISA '", s, "' (expected one of ", names, ")");
}

namespace detail {

inline bool cpu_has(Isa isa) {
  if (isa == Isa::scalar) return true;
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
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
    case Isa::avx512vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#elif defined(EIGENQ_ARCH_ARM64) && defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
  if (isa == Isa::neon_dotprod) return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  return false;
#else
  return false;
#endif
}

inline Isa detect_best() {
  for (auto row = std::rbegin(isa_table); row != std::rend(isa_table); ++row) {
    if (compiled(row->isa) && cpu_has(row->isa)) return row->isa;
  }
  return Isa::scalar;
}

}  // namespace detail

// True when the path is compiled in and the CPU runs it.
inline bool supported(Isa isa) { return compiled(isa) && detail::cpu_has(isa); }

// Why a path cannot run here ("" when it can): not compiled in this build, or a CPU without
// the features it needs.
inline std::string unsupported_reason(Isa isa) {
  const detail::IsaRow& row = detail::row_of(isa);
  if (!compiled(isa)) {
    return std::string(row.name) + " is not compiled in this build (it is for " + row.cpu_needs +
           ", with GCC or Clang)";
  }
  if (!detail::cpu_has(isa)) return std::string("this CPU lacks ") + row.cpu_needs + " (" + row.name + ")";
  return "";
}

// The fastest supported path on this machine.
inline Isa best_isa() {
  static const Isa best = detail::detect_best();
  return best;
}

namespace detail {

// Features are read once; the environment override applies at first use.
inline Isa initial_isa() {
  const Isa best = detect_best();
  const char* env = std::getenv("EIGENQ_ISA");
  if (env == nullptr || *env == '\0') return best;
  const Isa wanted = isa_from_string(env);
  if (!supported(wanted)) {
    raise("EIGENQ_ISA=", env, " is not available in this build on this CPU (it needs ", row_of(wanted).cpu_needs,
          "; best is ", to_string(best), ")");
  }
  return wanted;
}

inline std::atomic<Isa>& active_isa_slot() {
  static std::atomic<Isa> slot{initial_isa()};
  return slot;
}

}  // namespace detail

// The path kernels use now.
inline Isa active_isa() { return detail::active_isa_slot().load(std::memory_order_relaxed); }

// Forces a path for every later kernel call; throws if it is not supported.
inline void set_isa(Isa isa) {
  if (!supported(isa)) {
    raise("ISA ", to_string(isa), " is not supported: ", unsupported_reason(isa), " (best is ",
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
