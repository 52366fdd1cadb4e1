// The scale searches ggml's quantizers share (ggml-quants.c), written once.
// Each picks a scale (and for the affine ones a minimum) for a short group of
// values and leaves the integer codes in L. They are greedy or grid searches
// of a weighted squared error; the exact order of every float operation is
// ggml's, because a last-bit difference in a scale changes codes downstream.
//
//   search_symmetric_scale       ggml's make_qx_quants (rmse_type 1)
//   refine_symmetric_codes       ggml's make_q3_quants (with do_rmse)
//   search_affine_scale          ggml's make_qkx2_quants / make_qkx3_quants
//   search_positive_scale        ggml's make_qp_quants
//   search_symmetric_scales      the three above on consecutive groups, four at once in SIMD
//   refine_symmetric_codes_groups lanes where GCC's or clang's vector extensions exist (the same
//   search_affine_scales         operations in the same order in every lane: the same bits)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "eigenq/ggml/c_arithmetic.hpp"
#include "eigenq/ggml/strict_fp.hpp"

namespace eigenq {
namespace ggml {

EIGENQ_GGML_STRICT_FP_BEGIN

// Groups whose largest magnitude is below this are all-zero for ggml.
inline constexpr float kGroupMaxEps = 1e-15f;

namespace detail {

// The value of largest magnitude (the first one, on ties), as the symmetric types pick it: ggml
// keeps x[j] whenever amax < |x[j]| (from amax = 0, max = 0; NaN never compares). In two passes
// so the first needs no loop-carried select: the largest |x[j]| (the same whatever the order,
// NaN left out; four accumulators), then the first x[j] of that magnitude; +0 if it is 0.
inline float signed_absmax(const float* x, int n) {
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    for (int k = 0; k < 4; ++k) {
      const float a = std::fabs(x[j + k]);
      acc[k] = acc[k] < a ? a : acc[k];
    }
  }
  for (; j < n; ++j) {
    const float a = std::fabs(x[j]);
    acc[0] = acc[0] < a ? a : acc[0];
  }
  const float ab = acc[0] < acc[1] ? acc[1] : acc[0];
  const float cd = acc[2] < acc[3] ? acc[3] : acc[2];
  const float amax = ab < cd ? cd : ab;
  if (!(amax > 0.0f)) return 0.0f;
  for (j = 0; std::fabs(x[j]) != amax; ++j) {
  }
  return x[j];
}

}  // namespace detail

// Symmetric codes l in [-nmax, nmax - 1], stored as l + nmax in L; returns the
// scale. Starts from the scale that maps the largest-magnitude value to -nmax,
// then tries 18 nearby ones (nmax +- 0.1 k) and keeps the codes whose
// least-squares scale has the largest sum(w x l)^2 / sum(w l^2). Weights w
// are `weights`, or x^2 when it is null.
inline float search_symmetric_scale(int n, int nmax, const float* x, std::int8_t* L, const float* weights) {
  const float max = detail::signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto weight = [&](int i) { return weights ? weights[i] : x[i] * x[i]; };
  float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = c_max(-nmax, c_min(nmax - 1, round_to_int(iscale * x[i])));
    L[i] = static_cast<std::int8_t>(l + nmax);
    const float w = weight(i);
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    sumlx = 0;
    suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = c_max(-nmax, c_min(nmax - 1, round_to_int(iscale * x[i])));
      const float w = weight(i);
      sumlx += w * x[i] * static_cast<float>(l);
      suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = c_max(-nmax, c_min(nmax - 1, round_to_int(iscale * x[i])));
        L[i] = static_cast<std::int8_t>(nmax + l);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Symmetric codes as above (weights x^2), improved one code at a time: for
// up to 5 sweeps, each code moves to the value that is best for the
// least-squares scale of all the others, when that raises the fit.
inline float refine_symmetric_codes(int n, int nmax, const float* x, std::int8_t* L) {
  const float max = detail::signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float iscale = static_cast<float>(-nmax) / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = c_max(-nmax, c_min(nmax - 1, round_to_int(iscale * x[i])));
    L[i] = static_cast<std::int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      if (slx > 0) {
        float sl2 = suml2 - w * li * li;
        const int new_l = c_max(-nmax, c_min(nmax - 1, round_to_int(x[i] * sl2 / slx)));
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<std::int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Affine codes in [0, nmax] for x ~ scale * L + min with min <= 0. Starts from
// the min/max mapping, then tries nstep + 1 scales (nmax + rmin + rdelta k) /
// (max - min), each with a weighted least-squares scale and min, and keeps
// the lowest weighted error (absolute if use_mad, else squared). Returns the
// scale; *neg_min receives -min (>= 0). Laux is scratch of n codes.
inline float search_affine_scale(int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                                 float* neg_min, std::uint8_t* Laux, float rmin, float rdelta, int nstep,
                                 bool use_mad) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -min;
    return 0.0f;
  }
  auto error_term = [use_mad](float diff) { return use_mad ? std::fabs(diff) : diff * diff; };
  float iscale = static_cast<float>(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = round_to_int(iscale * (x[i] - min));
    L[i] = static_cast<std::uint8_t>(c_max(0, c_min(nmax, l)));
    const float diff = scale * static_cast<float>(L[i]) + min - x[i];
    best_error += weights[i] * error_term(diff);
  }
  if (nstep < 1) {
    *neg_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    float sum_l = 0;
    float sum_l2 = 0;
    float sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = c_max(0, c_min(nmax, round_to_int(iscale * (x[i] - min))));
      Laux[i] = static_cast<std::uint8_t>(l);
      const float w = weights[i];
      const float fl = static_cast<float>(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
        cur_error += weights[i] * error_term(diff);
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *neg_min = -min;
  return scale;
}

// Codes in [0, nmax] for non-negative values (a block's sub-scales or mins):
// a small grid of scales around nmax / max, then up to 5 sweeps moving single
// codes. Weights are `weights` (never null). L is written modulo 256, as
// ggml's uint8 array is.
inline float search_positive_scale(int n, int nmax, const float* x, std::uint8_t* L, const float* weights) {
  float max = 0;
  for (int i = 0; i < n; ++i) max = c_max(max, x[i]);
  if (max < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  const float fnmax = static_cast<float>(nmax);
  float iscale = fnmax / max;
  for (int i = 0; i < n; ++i) L[i] = static_cast<std::uint8_t>(round_to_int(iscale * x[i]));
  const float scale = 1 / iscale;
  float best_mse = 0;
  for (int i = 0; i < n; ++i) {
    const float diff = x[i] - scale * static_cast<float>(L[i]);
    best_mse += weights[i] * diff * diff;
  }
  for (int is = -4; is <= 4; ++is) {
    if (is == 0) continue;
    const float iscale_is = (0.1f * static_cast<float>(is) + fnmax) / max;
    const float scale_is = 1 / iscale_is;
    float mse = 0;
    for (int i = 0; i < n; ++i) {
      const int l = c_min(nmax, round_to_int(iscale_is * x[i]));
      const float diff = x[i] - scale_is * static_cast<float>(l);
      mse += weights[i] * diff * diff;
    }
    if (mse < best_mse) {
      best_mse = mse;
      iscale = iscale_is;
    }
  }
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = c_min(nmax, round_to_int(iscale * x[i]));
    L[i] = static_cast<std::uint8_t>(l);
    const float w = weights[i];
    sumlx += w * x[i] * static_cast<float>(l);
    suml2 += w * static_cast<float>(l) * static_cast<float>(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = weights[i];
      const float li = static_cast<float>(L[i]);
      float slx = sumlx - w * x[i] * li;
      float sl2 = suml2 - w * li * li;
      if (slx > 0 && sl2 > 0) {
        const int new_l = c_min(nmax, round_to_int(x[i] * sl2 / slx));
        if (new_l != L[i]) {
          const float nl = static_cast<float>(new_l);
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<std::uint8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

#if (defined(__GNUC__) || defined(__clang__)) && !defined(EIGENQ_GGML_SCALAR_ONLY)
#define EIGENQ_GGML_HAVE_LANES 1

// Four independent problems side by side, one per lane of a 16-byte vector (GCC and clang
// vector extensions: SSE2 on x86-64, NEON on ARM, scalar code elsewhere). Every lane performs
// exactly the scalar code's float operations in its order; comparisons give lane masks
// (-1 or 0) that select results, so each lane takes a branch exactly when the scalar code does.
namespace lanes {

typedef float f32x4 __attribute__((vector_size(16)));
typedef std::int32_t i32x4 __attribute__((vector_size(16)));

inline f32x4 splat(float v) { return f32x4{v, v, v, v}; }
inline i32x4 splat_i(std::int32_t v) { return i32x4{v, v, v, v}; }

inline f32x4 select(i32x4 mask, f32x4 a, f32x4 b) {
  return reinterpret_cast<f32x4>((mask & reinterpret_cast<i32x4>(a)) | (~mask & reinterpret_cast<i32x4>(b)));
}
inline i32x4 select(i32x4 mask, i32x4 a, i32x4 b) { return (mask & a) | (~mask & b); }

inline bool any(i32x4 mask) { return (mask[0] | mask[1] | mask[2] | mask[3]) != 0; }

// round_to_int (c_arithmetic.hpp) in every lane.
inline i32x4 round_to_int(f32x4 x) {
  const f32x4 biased = x + splat(12582912.0f);
  return (reinterpret_cast<i32x4>(biased) & splat_i(0x007FFFFF)) - splat_i(0x00400000);
}

// c_max(0, c_min(nmax, l)).
inline i32x4 clamp_codes(i32x4 l, std::int32_t nmax) {
  const i32x4 top = splat_i(nmax);
  l = select(top < l, top, l);
  return select(splat_i(0) > l, splat_i(0), l);
}

inline f32x4 to_float(i32x4 l) { return __builtin_convertvector(l, f32x4); }

// std::fabs: the sign bit cleared.
inline f32x4 abs(f32x4 x) { return reinterpret_cast<f32x4>(reinterpret_cast<i32x4>(x) & splat_i(0x7FFFFFFF)); }

}  // namespace lanes

namespace detail {

// search_affine_scale for four groups of n values: lane g of x[i] and weights[i] is element i
// of group g. Codes go to L[i] (lane g: group g), -min to *neg_min; returns the four scales.
inline lanes::f32x4 search_affine_scale_x4(int n, int nmax, const lanes::f32x4* x, const lanes::f32x4* weights,
                                           lanes::i32x4* L, lanes::f32x4* neg_min, lanes::i32x4* Laux, float rmin,
                                           float rdelta, int nstep, bool use_mad) {
  using lanes::f32x4;
  using lanes::i32x4;
  using lanes::select;
  f32x4 min = x[0];
  f32x4 max = x[0];
  f32x4 sum_w = weights[0];
  f32x4 sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    min = select(x[i] < min, x[i], min);
    max = select(x[i] > max, x[i], max);
    const f32x4 w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  const f32x4 zero = lanes::splat(0.0f);
  min = select(min > zero, zero, min);
  // Lanes whose max equals min return at once in the scalar code: codes 0, scale 0, -min.
  const i32x4 active = ~(max == min);
  auto error_term = [use_mad](f32x4 diff) { return use_mad ? lanes::abs(diff) : diff * diff; };
  f32x4 iscale = lanes::splat(static_cast<float>(nmax)) / (max - min);
  f32x4 scale = lanes::splat(1.0f) / iscale;
  f32x4 best_error = zero;
  for (int i = 0; i < n; ++i) {
    L[i] = lanes::clamp_codes(lanes::round_to_int(iscale * (x[i] - min)), nmax);
    const f32x4 diff = scale * lanes::to_float(L[i]) + min - x[i];
    best_error += weights[i] * error_term(diff);
  }
  for (int is = 0; nstep >= 1 && is <= nstep; ++is) {
    iscale = lanes::splat(rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
    f32x4 sum_l = zero;
    f32x4 sum_l2 = zero;
    f32x4 sum_xl = zero;
    for (int i = 0; i < n; ++i) {
      const i32x4 l = lanes::clamp_codes(lanes::round_to_int(iscale * (x[i] - min)), nmax);
      Laux[i] = l;
      const f32x4 w = weights[i];
      const f32x4 fl = lanes::to_float(l);
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const f32x4 D = sum_w * sum_l2 - sum_l * sum_l;
    const i32x4 solvable = active & (D > zero);
    if (!lanes::any(solvable)) continue;
    f32x4 this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
    f32x4 this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
    const i32x4 positive = this_min > zero;
    this_scale = select(positive, sum_xl / sum_l2, this_scale);
    this_min = select(positive, zero, this_min);
    f32x4 cur_error = zero;
    for (int i = 0; i < n; ++i) {
      const f32x4 diff = this_scale * lanes::to_float(Laux[i]) + this_min - x[i];
      cur_error += weights[i] * error_term(diff);
    }
    const i32x4 better = solvable & (cur_error < best_error);
    if (!lanes::any(better)) continue;
    for (int i = 0; i < n; ++i) L[i] = select(better, Laux[i], L[i]);
    best_error = select(better, cur_error, best_error);
    scale = select(better, this_scale, scale);
    min = select(better, this_min, min);
  }
  for (int i = 0; i < n; ++i) L[i] = select(active, L[i], lanes::splat_i(0));
  *neg_min = -min;
  return select(active, scale, zero);
}

// signed_absmax for four groups of n values: per lane, the first value of largest magnitude.
inline lanes::f32x4 signed_absmax_x4(int n, const lanes::f32x4* x) {
  lanes::f32x4 amax = lanes::splat(0.0f);
  lanes::f32x4 max = amax;
  for (int i = 0; i < n; ++i) {
    const lanes::i32x4 larger = amax < lanes::abs(x[i]);
    amax = lanes::select(larger, lanes::abs(x[i]), amax);
    max = lanes::select(larger, x[i], max);
  }
  return max;
}

// A symmetric search's codes clamped to [-nmax, nmax - 1], per lane.
inline lanes::i32x4 clamp_symmetric_x4(lanes::i32x4 l, int nmax) {
  l = lanes::select(lanes::splat_i(nmax - 1) < l, lanes::splat_i(nmax - 1), l);
  return lanes::select(lanes::splat_i(-nmax) > l, lanes::splat_i(-nmax), l);
}

// search_symmetric_scale for four groups of n values, lane g of x[i] and w[i] being element i
// of group g (w: the weights, or x^2 as the scalar code computes it). Codes go to L[i].
inline lanes::f32x4 search_symmetric_scale_x4(int n, int nmax, const lanes::f32x4* x, const lanes::f32x4* w,
                                              lanes::i32x4* L, lanes::i32x4* Laux) {
  using lanes::f32x4;
  using lanes::i32x4;
  using lanes::select;
  const f32x4 zero = lanes::splat(0.0f);
  const f32x4 max = signed_absmax_x4(n, x);
  // Lanes whose largest magnitude is below kGroupMaxEps return at once: codes 0, scale 0.
  const i32x4 active = ~(lanes::abs(max) < lanes::splat(kGroupMaxEps));
  const auto clamp = [nmax](i32x4 l) { return clamp_symmetric_x4(l, nmax); };
  f32x4 iscale = lanes::splat(static_cast<float>(-nmax)) / max;
  f32x4 sumlx = zero;
  f32x4 suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const i32x4 l = clamp(lanes::round_to_int(iscale * x[i]));
    L[i] = l;
    const f32x4 fl = lanes::to_float(l);
    sumlx += w[i] * x[i] * fl;
    suml2 += w[i] * fl * fl;
  }
  f32x4 scale = select(suml2 != zero, sumlx / suml2, zero);
  f32x4 best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = lanes::splat(-(static_cast<float>(nmax) + 0.1f * static_cast<float>(is))) / max;
    sumlx = zero;
    suml2 = zero;
    for (int i = 0; i < n; ++i) {
      const i32x4 l = clamp(lanes::round_to_int(iscale * x[i]));
      Laux[i] = l;
      const f32x4 fl = lanes::to_float(l);
      sumlx += w[i] * x[i] * fl;
      suml2 += w[i] * fl * fl;
    }
    const i32x4 better = active & (suml2 > zero) & (sumlx * sumlx > best * suml2);
    if (!lanes::any(better)) continue;
    for (int i = 0; i < n; ++i) L[i] = select(better, Laux[i], L[i]);
    scale = select(better, sumlx / suml2, scale);
    best = select(better, scale * sumlx, best);
  }
  for (int i = 0; i < n; ++i) L[i] = select(active, L[i] + lanes::splat_i(nmax), lanes::splat_i(0));
  return select(active, scale, zero);
}

// refine_symmetric_codes for four groups of n values (lane g of x[i]: element i of group g).
// A lane whose sweep changes nothing would change nothing in later sweeps either, so the
// sweeps go on while any lane changes, as the scalar code's do for each group.
inline lanes::f32x4 refine_symmetric_codes_x4(int n, int nmax, const lanes::f32x4* x, lanes::i32x4* L) {
  using lanes::f32x4;
  using lanes::i32x4;
  using lanes::select;
  const f32x4 zero = lanes::splat(0.0f);
  const f32x4 max = signed_absmax_x4(n, x);
  // Lanes whose largest magnitude is below kGroupMaxEps return at once: codes 0, scale 0.
  const i32x4 active = ~(lanes::abs(max) < lanes::splat(kGroupMaxEps));
  const auto clamp = [nmax](i32x4 l) { return clamp_symmetric_x4(l, nmax); };
  const f32x4 iscale = lanes::splat(static_cast<float>(-nmax)) / max;
  f32x4 sumlx = zero;
  f32x4 suml2 = zero;
  for (int i = 0; i < n; ++i) {
    const i32x4 l = clamp(lanes::round_to_int(iscale * x[i]));
    L[i] = l;
    const f32x4 w = x[i] * x[i];
    const f32x4 fl = lanes::to_float(l);
    sumlx += w * x[i] * fl;
    suml2 += w * fl * fl;
  }
  for (int itry = 0; itry < 5; ++itry) {
    i32x4 changed = lanes::splat_i(0);
    for (int i = 0; i < n; ++i) {
      const f32x4 w = x[i] * x[i];
      const f32x4 li = lanes::to_float(L[i]);
      f32x4 slx = sumlx - w * x[i] * li;
      const i32x4 positive = slx > zero;
      if (!lanes::any(positive)) continue;
      f32x4 sl2 = suml2 - w * li * li;
      const i32x4 new_l = clamp(lanes::round_to_int(x[i] * sl2 / slx));
      const i32x4 differs = positive & (new_l != L[i]);
      if (!lanes::any(differs)) continue;
      const f32x4 nl = lanes::to_float(new_l);
      slx += w * x[i] * nl;
      sl2 += w * nl * nl;
      const i32x4 take = differs & (sl2 > zero) & (slx * slx * suml2 > sumlx * sumlx * sl2);
      L[i] = select(take, new_l, L[i]);
      sumlx = select(take, slx, sumlx);
      suml2 = select(take, sl2, suml2);
      changed |= take;
    }
    if (!lanes::any(changed)) break;
  }
  for (int i = 0; i < n; ++i) L[i] = select(active, L[i] + lanes::splat_i(nmax), lanes::splat_i(0));
  return select(active & (suml2 > zero), sumlx / suml2, zero);
}

}  // namespace detail

#endif  // EIGENQ_GGML_HAVE_LANES

// search_symmetric_scale on `groups` consecutive groups of n <= 32 values: group g is
// x[n g .. n g + n), its weights (if not null) and codes at the same offsets of weights and L;
// scales[g] receives its scale. Four groups at once in lanes where vector extensions exist.
inline void search_symmetric_scales(int groups, int n, int nmax, const float* x, std::int8_t* L, float* scales,
                                    const float* weights) {
  int g0 = 0;
#if defined(EIGENQ_GGML_HAVE_LANES)
  for (; g0 + 4 <= groups; g0 += 4) {
    // Zeroed: GCC cannot see that the lane-by-lane stores below fill every vector it reads.
    lanes::f32x4 xt[32] = {}, wt[32] = {};
    lanes::i32x4 Lt[32], Laux[32];
    for (int g = 0; g < 4; ++g) {
      for (int i = 0; i < n; ++i) {
        const float v = x[n * (g0 + g) + i];
        xt[i][g] = v;
        wt[i][g] = weights ? weights[n * (g0 + g) + i] : v * v;
      }
    }
    const lanes::f32x4 scale = detail::search_symmetric_scale_x4(n, nmax, xt, wt, Lt, Laux);
    for (int g = 0; g < 4; ++g) {
      scales[g0 + g] = scale[g];
      for (int i = 0; i < n; ++i) L[n * (g0 + g) + i] = static_cast<std::int8_t>(Lt[i][g]);
    }
  }
#endif
  for (; g0 < groups; ++g0) {
    const std::size_t o = static_cast<std::size_t>(n) * static_cast<std::size_t>(g0);
    scales[g0] = search_symmetric_scale(n, nmax, x + o, L + o, weights ? weights + o : nullptr);
  }
}

// refine_symmetric_codes on `groups` consecutive groups of n <= 32 values (codes at the same
// offsets of L, scales[g] the scale of group g); four at once in lanes where possible.
inline void refine_symmetric_codes_groups(int groups, int n, int nmax, const float* x, std::int8_t* L,
                                          float* scales) {
  int g0 = 0;
#if defined(EIGENQ_GGML_HAVE_LANES)
  for (; g0 + 4 <= groups; g0 += 4) {
    lanes::f32x4 xt[32];
    lanes::i32x4 Lt[32];
    for (int g = 0; g < 4; ++g) {
      for (int i = 0; i < n; ++i) xt[i][g] = x[n * (g0 + g) + i];
    }
    const lanes::f32x4 scale = detail::refine_symmetric_codes_x4(n, nmax, xt, Lt);
    for (int g = 0; g < 4; ++g) {
      scales[g0 + g] = scale[g];
      for (int i = 0; i < n; ++i) L[n * (g0 + g) + i] = static_cast<std::int8_t>(Lt[i][g]);
    }
  }
#endif
  for (; g0 < groups; ++g0) {
    const std::size_t o = static_cast<std::size_t>(n) * static_cast<std::size_t>(g0);
    scales[g0] = refine_symmetric_codes(n, nmax, x + o, L + o);
  }
}

// search_affine_scale on `groups` consecutive groups of n <= 32 values: group g is
// x[n g .. n g + n), its weights at the same offsets in `weights`, its codes at the same
// offsets in L; scales[g] and neg_mins[g] receive its results. With vector extensions four
// groups are searched at once, one per lane, giving the same bits as one at a time.
inline void search_affine_scales(int groups, int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                                 float* scales, float* neg_mins, float rmin, float rdelta, int nstep, bool use_mad) {
  int g0 = 0;
#if defined(EIGENQ_GGML_HAVE_LANES)
  for (; g0 + 4 <= groups; g0 += 4) {
    // Zeroed: GCC cannot see that the lane-by-lane stores below fill every vector it reads.
    lanes::f32x4 xt[32] = {}, wt[32] = {};
    lanes::i32x4 Lt[32], Laux[32];
    for (int g = 0; g < 4; ++g) {
      for (int i = 0; i < n; ++i) {
        xt[i][g] = x[n * (g0 + g) + i];
        wt[i][g] = weights[n * (g0 + g) + i];
      }
    }
    lanes::f32x4 neg_min;
    const lanes::f32x4 scale =
        detail::search_affine_scale_x4(n, nmax, xt, wt, Lt, &neg_min, Laux, rmin, rdelta, nstep, use_mad);
    for (int g = 0; g < 4; ++g) {
      scales[g0 + g] = scale[g];
      neg_mins[g0 + g] = neg_min[g];
      for (int i = 0; i < n; ++i) L[n * (g0 + g) + i] = static_cast<std::uint8_t>(Lt[i][g]);
    }
  }
#endif
  std::uint8_t Laux[32];
  for (; g0 < groups; ++g0) {
    const std::size_t o = static_cast<std::size_t>(n) * static_cast<std::size_t>(g0);
    scales[g0] = search_affine_scale(n, nmax, x + o, weights + o, L + o, &neg_mins[g0], Laux, rmin, rdelta, nstep,
                                     use_mad);
  }
}

EIGENQ_GGML_STRICT_FP_END

}  // namespace ggml
}  // namespace eigenq
