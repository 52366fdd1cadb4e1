// The activation quantization of the int4 GEMV and two helpers of the panel kernels, written
// once for every SIMD path: the definition is scalar/gemv_int4.hpp's. Included like
// generic/elementwise-inl.hpp, with EIGENQ_GENERIC_NAMESPACE and EIGENQ_TARGET defined (and
// undefined at the end), it makes that namespace's `Int4Activations`, which the ISA's
// GemvInt4Path derives from, broadcast_octet and load_scales.
//
// Per group: amax = max |x| with NaN counted as 0 (max_ignoring_nan), which is exact and does
// not depend on the order; then each code is round_half_even(clamp(x * inv, -127, 127)) with
// NaN -> 0 (to_i32 zeroes it). Loads past the group's valid inputs
// read 0, which gives code 0 as the definition's padding does.
#if !defined(EIGENQ_GENERIC_NAMESPACE) || !defined(EIGENQ_TARGET)
#error "include generic/gemv_int4-inl.hpp from an ISA's gemv_int4.hpp (see the top of this file)"
#endif

namespace eigenq::kernels::EIGENQ_GENERIC_NAMESPACE {

using detail::Int4PanelArgs;
using detail::PanelCodes;

struct Int4Activations {
  EIGENQ_TARGET static void quantize_activations(const float* x, Index k, Index group_size, Index groups,
                                                 std::int8_t* q, float* d, std::int32_t* sums) {
    const F32 lo = set1(-127.0f);
    const F32 hi = set1(127.0f);
    for (Index g = 0; g < groups; ++g) {
      const Index begin = g * group_size;
      const Index valid = k - begin < group_size ? k - begin : group_size;
      F32 amax = set1(0.0f);
      for (Index i = 0; i < valid; i += lanes) amax = max_ignoring_nan(amax, abs(load_first(x + begin + i, valid - i)));
      float inv;
      d[g] = detail::activation_group_scale(reduce_max(amax), inv);
      const F32 inv_v = set1(inv);
      I32 sum = set1(std::int32_t{0});
      for (Index i = 0; i < group_size; i += lanes) {
        const F32 v = mul(load_first(x + begin + i, valid - i), inv_v);
        const I32 c = to_i32<Rounding::half_to_even>(at_least(at_most(v, hi), lo), v);
        sum = add(sum, c);
        store_s8(q + begin + i, c);
      }
      sums[g] = reduce_add(sum);
    }
  }
};

// A group record's `lanes` scales from s, f32 or f16 (exactly widened).
EIGENQ_TARGET EIGENQ_ALWAYS_INLINE F32 load_scales(const std::uint8_t* s, ScaleType type) {
  return type == ScaleType::f32 ? load(reinterpret_cast<const float*>(s)) : load_f16(s);
}

// The two activation quads of octet row o of group g for row r (k = 8o..8o+3 and 8o+4..8o+7 of
// the group, the operands of the low and the high nibbles), each broadcast to every lane.
EIGENQ_TARGET EIGENQ_ALWAYS_INLINE void broadcast_octet(const Int4PanelArgs& a, int r, Index g, Index o, I32& lo,
                                                        I32& hi) {
  const std::int8_t* quads = a.q + r * a.q_stride + g * a.group_size + 8 * o;
  std::int32_t lo_quad, hi_quad;
  std::memcpy(&lo_quad, quads, 4);
  std::memcpy(&hi_quad, quads + 4, 4);
  lo = set1(lo_quad);
  hi = set1(hi_quad);
}

}  // namespace eigenq::kernels::EIGENQ_GENERIC_NAMESPACE

#undef EIGENQ_GENERIC_NAMESPACE
#undef EIGENQ_TARGET
