// The one dispatch point: the active ISA (isa.hpp) becomes the path type of a kernel family.
//
// A kernel family is a class template over Isa that each ISA folder specializes with its
// code (ruy's Path, simdjson's implementations): ElementwisePath (quantize, dequantize,
// requantize, int4 packing, the GEMM output stages), GemmPath (the int8 GEMM micro-kernel),
// GemvInt4Path (the int4 GEMV), GemvInt4TablePath (its codes through one int8 table: iq4_nl),
// GemvInt4MinPath (its codes with a minimum per group: q4_K), GemvGroupedInt8Path (the grouped
// int8 GEMV: q8_0, q6_K) and GemvLut4Path (the table-lookup GEMV: a table of levels per row or
// group). A path may reuse another's code by deriving from it, e.g.
// ElementwisePath<Isa::avx512vnni> is the AVX-512 one. The family headers (elementwise.hpp,
// gemm.hpp, gemv_int4.hpp, gemv_grouped_int8.hpp, gemv_lut4.hpp) check arguments once, then call
//   dispatch<Family>([&](auto path) { decltype(path)::kernel(...); });
// docs/architecture.md ("Adding an ISA") lists what a new ISA adds.
#pragma once

#include "eigenq/kernels/isa.hpp"

namespace eigenq {
namespace kernels {

template <Isa>
struct ElementwisePath;
template <Isa>
struct GemmPath;
template <Isa>
struct GemvInt4Path;
template <Isa>
struct GemvGroupedInt8Path;
template <Isa>
struct GemvInt4TablePath;
template <Isa>
struct GemvInt4MinPath;
template <Isa>
struct GemvLut4Path;

namespace detail {

// f(Family<I>{}) when this build compiles I. The other branch is never taken (active_isa()
// names a compiled path) but keeps the switch below free of #if.
template <template <Isa> class Family, Isa I, class F>
void call_path(F& f) {
  if constexpr (compiled(I)) {
    f(Family<I>{});
  } else {
    f(Family<Isa::scalar>{});
  }
}

}  // namespace detail

// Runs f with the path of the active ISA: one line per ISA.
template <template <Isa> class Family, class F>
void dispatch(F&& f) {
  switch (active_isa()) {
    case Isa::scalar: return detail::call_path<Family, Isa::scalar>(f);
    case Isa::avx2: return detail::call_path<Family, Isa::avx2>(f);
    case Isa::avx512: return detail::call_path<Family, Isa::avx512>(f);
    case Isa::avx512vnni: return detail::call_path<Family, Isa::avx512vnni>(f);
    case Isa::neon_dotprod: return detail::call_path<Family, Isa::neon_dotprod>(f);
  }
}

}  // namespace kernels
}  // namespace eigenq
