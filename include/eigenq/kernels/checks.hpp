// Argument checks shared by the kernel entry points (elementwise.hpp, gemm.hpp, gemv_int4.hpp):
// each failure raises eigenq::InvalidArgument or ShapeError with the kernel's name, the argument
// and its value.
#pragma once

#include <cstdint>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

inline void check_count(const char* fn, const char* what, Index value) {
  if (value < 0) raise(fn, ": ", what, " = ", value, " must be >= 0");
}

inline void check_pointer(const char* fn, const char* what, const void* p, Index count) {
  if (count > 0 && p == nullptr) raise(fn, ": ", what, " is null but ", count, " elements are to be used");
}

// A matrix operand: rows x cols read or written through `data` with leading dimension `ld`.
struct Operand {
  const char* name;     // "A", "x", ...
  const char* ld_name;  // "lda", "ldx", ...
  const void* data;
  Index ld;
};

// A product of `in` (M x K) with weights K x N into `out` (M x N) on `threads` threads: every
// row-major operand needs its leading dimension when it has more than one row.
inline void check_product(const char* fn, Index m, Index k, Index n, const Operand& in, const Operand& out,
                          int threads) {
  if (m < 0) raise<ShapeError>(fn, ": M = ", m, " must be >= 0");
  if (m > 0 && k > 0 && in.data == nullptr) raise(fn, ": ", in.name, " is null but ", m, " x ", k);
  if (m > 1 && in.ld < k) raise<ShapeError>(fn, ": ", in.ld_name, " = ", in.ld, " is less than K = ", k);
  if (m > 0 && n > 0 && out.data == nullptr) raise(fn, ": ", out.name, " is null but ", m, " x ", n);
  if (m > 1 && out.ld < n) raise<ShapeError>(fn, ": ", out.ld_name, " = ", out.ld, " is less than N = ", n);
  if (threads < 1) raise(fn, ": threads = ", threads, " must be >= 1");
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq
