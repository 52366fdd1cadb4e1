// The elementwise loops of a SIMD path, written once for every ISA (simdjson's generic/,
// Highway's -inl files). No include guard: an ISA's elementwise.hpp includes this file after its
// vector.hpp with three macros defined, e.g.
//   #define EIGENQ_GENERIC_ISA avx2                 (the Isa value)
//   #define EIGENQ_GENERIC_NAMESPACE x86_avx2       (its folder and namespace)
//   #define EIGENQ_TARGET EIGENQ_TARGET_AVX2        (its target attribute)
// and gets eigenq::kernels::x86_avx2::Elementwise, every function compiled for that ISA and
// calling its primitives unqualified, and ElementwisePath<Isa::avx2> (dispatch.hpp) deriving from
// it. The macros are undefined at the end.
//
// What this file needs from vector.hpp (V = F32 or I32; all inline, all with the target):
//   F32, I32, I16, Bytes<Code>, lanes (32-bit lanes per vector), block (4 * lanes),
//   masked_tails (true: the *_first byte functions below exist and take masks);
//   set1, add, sub, mul, div, mul_add(a, b, c) = a * b + c rounded once, min, max (int32);
//   at_most(v, hi), at_least(v, lo): min/max that keep a NaN v NaN;
//   to_f32 (int32 to float, nearest even), to_i32<Rounding>(v, unclamped): v to the nearest
//     integer with the tie rule, 0 where `unclamped` (v before the clamps) is NaN, INT32_MIN below
//     -2^31 (callers never pass values >= 2^31);
//   load(p), load_first(p, count) (the first count values, zeros after), store(p, v),
//     store_first(p, v, count), for float (and load for int32);
//   pack_codes<Code>(a, b, c, d): four vectors of values inside Code's range -> `block` codes;
//   set1_i16, set1_codes<Code>, pack_codes_offset<Code>(a, b, c, d, zp16, qmin8):
//     max(saturate(q + zp), qmin) for q <= qmax - zp (each step saturating and monotone);
//   store_bytes(Code*, Bytes), load_codes(const Code*, F32& a..d) (`block` codes as floats);
//     with masked_tails also store_bytes_first(p, count, bytes), load_codes_first(p, count, a..d);
//   saturating_shift_left, doubling_high_mul (b >= 0), rounding_divide_by_pot,
//     multiply_single_rounding<MayExceedInt32>(x, m, e, lo, hi) (fixed_point.hpp, clamped);
//   int4_block, pack_int4_block(codes, packed), unpack_int4_block(packed, codes) (the ISA's
//     elementwise.hpp defines these before including this file).
//
// Quantization without out-of-range conversions: with the integral bounds lo = qmin - zp and
// hi = qmax - zp,  clamp(round(v) + zp, qmin, qmax) == round(clamp(v, lo, hi)) + zp  because
// rounding is monotone and leaves integers alone. With one parameter set the lower bound is left
// to saturation: v is only capped at hi in float, values below -2^31 convert to INT32_MIN, the
// narrowing to int16 saturates, the zero point is added with int16 saturation, the narrowing to
// bytes saturates and a byte max applies qmin; each step is monotone and exact on [lo, hi].
// NaN converts to 0, which gives the zero point: so these loops need the zero point inside
// [qmin, qmax] (elementwise.hpp sends other zero points to the scalar path) unless no product
// is NaN (the GEMM output stages: multipliers finite and > 0).
#if !defined(EIGENQ_GENERIC_ISA) || !defined(EIGENQ_GENERIC_NAMESPACE) || !defined(EIGENQ_TARGET)
#error "include generic/elementwise-inl.hpp from an ISA's elementwise.hpp (see the top of this file)"
#endif

namespace eigenq::kernels::EIGENQ_GENERIC_NAMESPACE {

#define EIGENQ_INL EIGENQ_TARGET EIGENQ_ALWAYS_INLINE

// ---- tails ----------------------------------------------------------------------------------
// A loop runs step<false>(i, block) over whole blocks, then step<true>(i, rest) once for the
// last `rest` < block elements: loads read zeros past the end, stores write `rest` elements.

template <class Kernel>
EIGENQ_INL void run_blocks(Index n, const Kernel& kernel) {
  Index i = 0;
  for (; i + block <= n; i += block) kernel.template step<false>(i, block);
  if (i < n) kernel.template step<true>(i, n - i);
}

template <bool Partial, class T>
EIGENQ_INL auto load_v(const T* p, Index count) {
  if constexpr (Partial) {
    return load_first(p, count);
  } else {
    return load(p);
  }
}

template <bool Partial>
EIGENQ_INL void store_v(float* p, Index count, F32 v) {
  if constexpr (Partial) {
    store_first(p, v, count);
  } else {
    store(p, v);
  }
}

template <bool Partial, class Code>
EIGENQ_INL void store_bytes_v(Code* p, Index count, Bytes<Code> bytes) {
  if constexpr (!Partial) {
    store_bytes(p, bytes);
  } else if constexpr (masked_tails) {
    store_bytes_first(p, count, bytes);
  } else {
    alignas(64) Code buffer[block];
    store_bytes(buffer, bytes);
    std::memcpy(p, buffer, static_cast<std::size_t>(count) * sizeof(Code));
  }
}

template <bool Partial, class Code>
EIGENQ_INL void load_codes_v(const Code* p, Index count, F32& a, F32& b, F32& c, F32& d) {
  if constexpr (!Partial) {
    load_codes(p, a, b, c, d);
  } else if constexpr (masked_tails) {
    load_codes_first(p, count, a, b, c, d);
  } else {
    alignas(64) Code buffer[block] = {};
    std::memcpy(buffer, p, static_cast<std::size_t>(count) * sizeof(Code));
    load_codes(buffer, a, b, c, d);
  }
}

EIGENQ_INL F32 as_f32(F32 v) { return v; }
EIGENQ_INL F32 as_f32(I32 v) { return to_f32(v); }

template <Scaling S>
EIGENQ_INL F32 scale_by(F32 x, F32 factor) {
  if constexpr (S == Scaling::multiply_by_reciprocal) {
    return mul(x, factor);
  } else {
    return div(x, factor);
  }
}

// ---- quantize (and requantize with a float multiplier) ----------------------------------------

// One parameter set; In = float (quantize) or int32 (requantize: the multiplier is the factor).
template <class Code, Scaling S, Rounding R, class In>
struct QuantizeSame {
  const In* x;
  Code* y;
  F32 factor;
  F32 hi;             // qmax - zero point
  I16 zero_point16;   // the zero point in every 16-bit lane
  Bytes<Code> qmin8;  // qmin in every code

  EIGENQ_INL I32 round_capped(F32 x) const {
    const F32 v = scale_by<S>(x, factor);
    return to_i32<R>(at_most(v, hi), v);
  }

  template <bool Partial>
  EIGENQ_INL void step(Index i, Index rest) const {
    const I32 q0 = round_capped(as_f32(load_v<Partial>(x + i, rest)));
    const I32 q1 = round_capped(as_f32(load_v<Partial>(x + i + lanes, rest - lanes)));
    const I32 q2 = round_capped(as_f32(load_v<Partial>(x + i + 2 * lanes, rest - 2 * lanes)));
    const I32 q3 = round_capped(as_f32(load_v<Partial>(x + i + 3 * lanes, rest - 3 * lanes)));
    store_bytes_v<Partial>(y + i, rest, pack_codes_offset<Code>(q0, q1, q2, q3, zero_point16, qmin8));
  }
};

template <class Code, Scaling S, Rounding R, class In>
EIGENQ_TARGET void quantize_same_run(const In* x, Index n, float factor, std::int32_t zero_point, CodeRange range,
                                 Code* y) {
  const QuantizeSame<Code, S, R, In> kernel{x,
                                            y,
                                            set1(factor),
                                            set1(static_cast<float>(range.qmax - zero_point)),
                                            set1_i16(static_cast<std::int16_t>(zero_point)),
                                            set1_codes<Code>(range.qmin)};
  run_blocks(n, kernel);
}

// Element i uses factor[i] and zero_point[i] (PerElementZeroPoint) or one zero point; In as above.
template <class Code, Scaling S, Rounding R, bool PerElementZeroPoint, class In>
struct QuantizeChannels {
  const In* x;
  const float* factor;
  const std::int32_t* zero_point;  // PerElementZeroPoint
  Code* y;
  I32 qmin, qmax;
  F32 lo, hi;  // qmin - zero point, qmax - zero point (one zero point)
  I32 same_zero_point;

  template <bool Partial>
  EIGENQ_INL I32 lane(Index i, Index rest) const {
    const F32 v = scale_by<S>(as_f32(load_v<Partial>(x + i, rest)), load_v<Partial>(factor + i, rest));
    if constexpr (PerElementZeroPoint) {
      const I32 z = load_v<Partial>(zero_point + i, rest);
      return add(to_i32<R>(at_least(at_most(v, to_f32(sub(qmax, z))), to_f32(sub(qmin, z))), v), z);
    } else {
      return add(to_i32<R>(at_least(at_most(v, hi), lo), v), same_zero_point);
    }
  }

  template <bool Partial>
  EIGENQ_INL void step(Index i, Index rest) const {
    const I32 q0 = lane<Partial>(i, rest), q1 = lane<Partial>(i + lanes, rest - lanes);
    const I32 q2 = lane<Partial>(i + 2 * lanes, rest - 2 * lanes), q3 = lane<Partial>(i + 3 * lanes, rest - 3 * lanes);
    store_bytes_v<Partial>(y + i, rest, pack_codes<Code>(q0, q1, q2, q3));
  }
};

template <class Code, Scaling S, Rounding R, bool PerElementZeroPoint, class In>
EIGENQ_TARGET void quantize_channels_run(const In* x, Index n, const float* factor, const std::int32_t* zero_point,
                                     std::int32_t same_zero_point, CodeRange range, Code* y) {
  const QuantizeChannels<Code, S, R, PerElementZeroPoint, In> kernel{
      x, factor, zero_point, y, set1(range.qmin), set1(range.qmax),
      set1(static_cast<float>(range.qmin - same_zero_point)), set1(static_cast<float>(range.qmax - same_zero_point)),
      set1(same_zero_point)};
  run_blocks(n, kernel);
}

// ---- requantize with a fixed-point multiplier -----------------------------------------------

// clamp(multiply_by_fixed_point(x, {m, e}), lo, hi) (fixed_point.hpp). AnyLeftShift: some
// exponent may be > 0 (double rounding then shifts left first; a single-rounding product may
// leave int32).
template <FixedPointRounding FR, bool AnyLeftShift>
EIGENQ_INL I32 multiply_by_fixed_point_clamped(I32 x, I32 m, I32 e, I32 lo, I32 hi) {
  if constexpr (FR == FixedPointRounding::double_rounding) {
    const I32 zero = set1(std::int32_t{0});
    if constexpr (AnyLeftShift) x = saturating_shift_left(x, max(e, zero));
    const I32 r = rounding_divide_by_pot(doubling_high_mul(x, m), max(sub(zero, e), zero));
    return min(max(r, lo), hi);
  } else {
    return multiply_single_rounding<AnyLeftShift>(x, m, e, lo, hi);
  }
}

// Multipliers per element (multiplier/exponent arrays, PerElement) or one for all.
template <class Code, FixedPointRounding FR, bool AnyLeftShift, bool PerElement>
struct RequantizeFixedPoint {
  const std::int32_t* x;
  const std::int32_t* multiplier;
  const std::int32_t* exponent;
  Code* y;
  I32 same_multiplier, same_exponent;
  I32 lo, hi, zero_point;

  template <bool Partial>
  EIGENQ_INL I32 lane(Index i, Index rest) const {
    I32 m = same_multiplier, e = same_exponent;
    if constexpr (PerElement) {
      m = load_v<Partial>(multiplier + i, rest);
      e = load_v<Partial>(exponent + i, rest);
    }
    return add(multiply_by_fixed_point_clamped<FR, AnyLeftShift>(load_v<Partial>(x + i, rest), m, e, lo, hi),
               zero_point);
  }

  template <bool Partial>
  EIGENQ_INL void step(Index i, Index rest) const {
    const I32 q0 = lane<Partial>(i, rest), q1 = lane<Partial>(i + lanes, rest - lanes);
    const I32 q2 = lane<Partial>(i + 2 * lanes, rest - 2 * lanes), q3 = lane<Partial>(i + 3 * lanes, rest - 3 * lanes);
    store_bytes_v<Partial>(y + i, rest, pack_codes<Code>(q0, q1, q2, q3));
  }
};

template <class Code, FixedPointRounding FR, bool AnyLeftShift, bool PerElement>
EIGENQ_TARGET void requantize_fixed_point_run(const std::int32_t* x, Index n, const std::int32_t* multiplier,
                                              const std::int32_t* exponent, FixedPointMultiplier same,
                                              std::int32_t zero_point, CodeRange range, Code* y) {
  const RequantizeFixedPoint<Code, FR, AnyLeftShift, PerElement> kernel{
      x, multiplier, exponent, y, set1(same.multiplier), set1(std::int32_t{same.exponent}),
      set1(range.qmin - zero_point), set1(range.qmax - zero_point), set1(zero_point)};
  run_blocks(n, kernel);
}

// ---- dequantize -----------------------------------------------------------------------------

// (float(q) - float(zero point)) * scale, per element (PerElement) or one set.
template <class Code, bool PerElement>
struct DequantizeCodes {
  const Code* q;
  const float* scale;
  const std::int32_t* zero_point;
  float* y;
  F32 same_scale, same_zero_point;

  template <bool Partial>
  EIGENQ_INL void lane(Index i, Index rest, F32 codes) const {
    F32 s = same_scale, z = same_zero_point;
    if constexpr (PerElement) {
      s = load_v<Partial>(scale + i, rest);
      z = to_f32(load_v<Partial>(zero_point + i, rest));
    }
    store_v<Partial>(y + i, rest, mul(sub(codes, z), s));
  }

  template <bool Partial>
  EIGENQ_INL void step(Index i, Index rest) const {
    F32 c0, c1, c2, c3;
    load_codes_v<Partial>(q + i, rest, c0, c1, c2, c3);
    lane<Partial>(i, rest, c0);
    lane<Partial>(i + lanes, rest - lanes, c1);
    lane<Partial>(i + 2 * lanes, rest - 2 * lanes, c2);
    lane<Partial>(i + 3 * lanes, rest - 3 * lanes, c3);
  }
};

// The GEMM's Dequantize stage on one row: fma(float(acc), row_scale * col_scale, bias).
struct DequantizeAccumulators {
  const std::int32_t* acc;
  const float* col_scale;
  const float* bias;
  float* y;
  F32 row_scale;

  template <bool Partial>
  EIGENQ_INL void lane(Index i, Index rest) const {
    const F32 s = mul(row_scale, load_v<Partial>(col_scale + i, rest));
    store_v<Partial>(y + i, rest, mul_add(to_f32(load_v<Partial>(acc + i, rest)), s, load_v<Partial>(bias + i, rest)));
  }

  template <bool Partial>
  EIGENQ_INL void step(Index i, Index rest) const {
    lane<Partial>(i, rest);
    lane<Partial>(i + lanes, rest - lanes);
    lane<Partial>(i + 2 * lanes, rest - 2 * lanes);
    lane<Partial>(i + 3 * lanes, rest - 3 * lanes);
  }
};

// ---- the path -------------------------------------------------------------------------------

// The kernels of ElementwisePath (elementwise.hpp states their contracts). Quantization and
// requantization need the zero point inside [qmin, qmax] (see the top).
struct Elementwise {
  // The three (Scaling, Rounding) pairs of the profiles: PyTorch, ONNX, TFLite. (elementwise.hpp
  // runs the fourth, multiply_by_reciprocal with half_away_from_zero, on the scalar path.)
  EIGENQ_TARGET static int profile_method(Scaling scaling, Rounding rounding) {
    return scaling == Scaling::multiply_by_reciprocal ? 0 : rounding == Rounding::half_to_even ? 1 : 2;
  }

  template <class Code>
  EIGENQ_TARGET static void quantize(const float* x, Index n, float factor, std::int32_t zero_point, CodeRange range,
                                     Scaling scaling, Rounding rounding, Code* y) {
    using Fn = void (*)(const float*, Index, float, std::int32_t, CodeRange, Code*);
    static constexpr Fn by_method[3] = {
        &quantize_same_run<Code, Scaling::multiply_by_reciprocal, Rounding::half_to_even, float>,
        &quantize_same_run<Code, Scaling::divide, Rounding::half_to_even, float>,
        &quantize_same_run<Code, Scaling::divide, Rounding::half_away_from_zero, float>};
    by_method[profile_method(scaling, rounding)](x, n, factor, zero_point, range, y);
  }

  template <class Code>
  EIGENQ_TARGET static void quantize_channels(const float* x, Index n, const float* factor,
                                              const std::int32_t* zero_point, CodeRange range, Scaling scaling,
                                              Rounding rounding, Code* y) {
    using Fn = void (*)(const float*, Index, const float*, const std::int32_t*, std::int32_t, CodeRange, Code*);
    static constexpr Fn by_method[3] = {
        &quantize_channels_run<Code, Scaling::multiply_by_reciprocal, Rounding::half_to_even, true, float>,
        &quantize_channels_run<Code, Scaling::divide, Rounding::half_to_even, true, float>,
        &quantize_channels_run<Code, Scaling::divide, Rounding::half_away_from_zero, true, float>};
    by_method[profile_method(scaling, rounding)](x, n, factor, zero_point, 0, range, y);
  }

  template <class Code>
  EIGENQ_TARGET static void dequantize(const Code* q, Index n, float scale, std::int32_t zero_point, float* y) {
    const F32 z = set1(static_cast<float>(zero_point));
    run_blocks(n, DequantizeCodes<Code, false>{q, nullptr, nullptr, y, set1(scale), z});
  }

  template <class Code>
  EIGENQ_TARGET static void dequantize_channels(const Code* q, Index n, const float* scale,
                                                const std::int32_t* zero_point, float* y) {
    run_blocks(n, DequantizeCodes<Code, true>{q, scale, zero_point, y, set1(0.0f), set1(0.0f)});
  }

  template <class Code>
  EIGENQ_TARGET static void requantize_float(const std::int32_t* x, Index n, float multiplier,
                                             std::int32_t zero_point, CodeRange range, Code* y) {
    quantize_same_run<Code, Scaling::multiply_by_reciprocal, Rounding::half_to_even>(x, n, multiplier, zero_point,
                                                                                  range, y);
  }

  template <class Code>
  EIGENQ_TARGET static void requantize_float_channels(const std::int32_t* x, Index n, const float* multiplier,
                                                      std::int32_t zero_point, CodeRange range, Code* y) {
    quantize_channels_run<Code, Scaling::multiply_by_reciprocal, Rounding::half_to_even, false>(
        x, n, multiplier, nullptr, zero_point, range, y);
  }

  template <class Code>
  EIGENQ_TARGET static void requantize_fixed_point(const std::int32_t* x, Index n, FixedPointMultiplier m,
                                                   FixedPointRounding rounding, std::int32_t zero_point,
                                                   CodeRange range, Code* y) {
    using Fn = void (*)(const std::int32_t*, Index, const std::int32_t*, const std::int32_t*, FixedPointMultiplier,
                        std::int32_t, CodeRange, Code*);
    static constexpr Fn by_rounding[2][2] = {
        {&requantize_fixed_point_run<Code, FixedPointRounding::double_rounding, false, false>,
         &requantize_fixed_point_run<Code, FixedPointRounding::double_rounding, true, false>},
        {&requantize_fixed_point_run<Code, FixedPointRounding::single_rounding, false, false>,
         &requantize_fixed_point_run<Code, FixedPointRounding::single_rounding, true, false>}};
    by_rounding[static_cast<int>(rounding)][m.exponent > 0](x, n, nullptr, nullptr, m, zero_point, range, y);
  }

  // Element i's multiplier is {multiplier[i], exponent[i]}.
  template <class Code>
  EIGENQ_TARGET static void requantize_fixed_point_channels(const std::int32_t* x, Index n,
                                                            const std::int32_t* multiplier,
                                                            const std::int32_t* exponent, FixedPointRounding rounding,
                                                            std::int32_t zero_point, CodeRange range, Code* y) {
    if (rounding == FixedPointRounding::double_rounding) {
      requantize_fixed_point_run<Code, FixedPointRounding::double_rounding, true, true>(x, n, multiplier, exponent, {},
                                                                                       zero_point, range, y);
    } else {
      requantize_fixed_point_run<Code, FixedPointRounding::single_rounding, true, true>(x, n, multiplier, exponent, {},
                                                                                       zero_point, range, y);
    }
  }

  EIGENQ_TARGET static void dequantize_accumulators(const std::int32_t* acc, Index n, float row_scale,
                                                    const float* col_scale, const float* bias, float* y) {
    run_blocks(n, DequantizeAccumulators{acc, col_scale, bias, y, set1(row_scale)});
  }

  // int4, code 2j in the low nibble of byte j; the tail goes through zero-padded copies, so the
  // last high nibble of an odd count is 0.
  template <class Code>
  EIGENQ_TARGET static void pack_int4(const Code* codes, Index n, std::uint8_t* packed) {
    Index i = 0;
    for (; i + int4_block <= n; i += int4_block) pack_int4_block(codes + i, packed + i / 2);
    if (i < n) {
      alignas(64) Code in[int4_block] = {};
      alignas(64) std::uint8_t out[int4_block / 2];
      std::memcpy(in, codes + i, static_cast<std::size_t>(n - i) * sizeof(Code));
      pack_int4_block(in, out);
      std::memcpy(packed + i / 2, out, static_cast<std::size_t>((n - i + 1) / 2));
    }
  }

  template <class Code>
  EIGENQ_TARGET static void unpack_int4(const std::uint8_t* packed, Index n, Code* codes) {
    Index i = 0;
    for (; i + int4_block <= n; i += int4_block) unpack_int4_block(packed + i / 2, codes + i);
    if (i < n) {
      alignas(64) std::uint8_t in[int4_block / 2] = {};
      alignas(64) Code out[int4_block];
      std::memcpy(in, packed + i / 2, static_cast<std::size_t>((n - i + 1) / 2));
      unpack_int4_block(in, out);
      std::memcpy(codes + i, out, static_cast<std::size_t>(n - i) * sizeof(Code));
    }
  }
};

#undef EIGENQ_INL

}  // namespace eigenq::kernels::EIGENQ_GENERIC_NAMESPACE

namespace eigenq::kernels {
template <>
struct ElementwisePath<Isa::EIGENQ_GENERIC_ISA> : EIGENQ_GENERIC_NAMESPACE::Elementwise {};
}  // namespace eigenq::kernels

#undef EIGENQ_GENERIC_ISA
#undef EIGENQ_GENERIC_NAMESPACE
#undef EIGENQ_TARGET
