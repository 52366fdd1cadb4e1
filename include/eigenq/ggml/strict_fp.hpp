// The arithmetic rule every ggml header follows: each float product and sum
// is rounded on its own, in the order ggml's C code writes it, so our bytes
// equal ggml's reference quantizers (built without FMA) bit for bit.
//
// Compilers may otherwise fuse a*b + c into one FMA, which rounds once and can
// flip a scale's last bit and with it a whole block of codes. GCC does so by
// default (-ffp-contract=fast) as soon as the target has FMA (-march=native),
// even across statements; clang does so within one expression (its default
// -ffp-contract=on). So the function definitions of eigenq/ggml/ sit between
// EIGENQ_GGML_STRICT_FP_BEGIN and EIGENQ_GGML_STRICT_FP_END:
//  - GCC: optimize("fp-contract=off") on those functions. GCC then does not
//    inline them into callers compiled with other options, so a consumer's
//    -march=native cannot re-fuse them after inlining.
//  - clang: float_control push/pop around "#pragma clang fp contract(off)";
//    clang records the setting per operation, so inlining keeps it.
//  - MSVC: fp_contract(off) (untested here; MSVC 2022 does not contract by default).
// tests/ggml builds its golden test twice, once with -march=native, to check.
// clang before 15 ignores the pragma when -ffp-contract=fast is given on the
// command line; row.hpp detects that at run time and throws.
//
// Also needed: float expressions evaluated in float (FLT_EVAL_METHOD 0, i.e.
// SSE2 on x86, not the x87 unit) and no -ffast-math.
#pragma once

#include <cfloat>

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0 && FLT_EVAL_METHOD != -1
#error "eigenq/ggml needs float arithmetic evaluated in float (FLT_EVAL_METHOD 0): on 32-bit x86 compile with -msse2 -mfpmath=sse"
#endif

#if defined(__FAST_MATH__)
#error "eigenq/ggml reproduces ggml's bytes only with IEEE arithmetic: do not compile it with -ffast-math"
#endif

// A translation unit may define both macros (empty) before including any
// eigenq/ggml header to see what contraction does: tests/ggml/make_ggml_golden.cpp
// does so to find rows that catch a contracting build. Nothing else should.
#ifndef EIGENQ_GGML_STRICT_FP_BEGIN
#if defined(__clang__)
#define EIGENQ_GGML_STRICT_FP_BEGIN \
  _Pragma("float_control(push)") _Pragma("clang fp contract(off)")
#define EIGENQ_GGML_STRICT_FP_END _Pragma("float_control(pop)")
#elif defined(__GNUC__)
#define EIGENQ_GGML_STRICT_FP_BEGIN \
  _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")")
#define EIGENQ_GGML_STRICT_FP_END _Pragma("GCC pop_options")
#elif defined(_MSC_VER)
// fp_contract has no push/pop: it stays off for the rest of the translation unit,
// which only makes the consumer's own float code more conservative.
#define EIGENQ_GGML_STRICT_FP_BEGIN __pragma(fp_contract(off))
#define EIGENQ_GGML_STRICT_FP_END
#else
#define EIGENQ_GGML_STRICT_FP_BEGIN
#define EIGENQ_GGML_STRICT_FP_END
#endif
#endif  // EIGENQ_GGML_STRICT_FP_BEGIN
