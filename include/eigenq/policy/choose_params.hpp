// Scale and zero point from a real range, exactly as each framework's own
// tool computes them, floating-point precision included. These pin the
// "compatibility profiles"; tests/golden/ checks them against the references.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {

struct LinearParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  friend bool operator==(LinearParams a, LinearParams b) {
    return a.scale == b.scale && a.zero_point == b.zero_point;
  }
};

namespace detail {

inline void check_range_values(float min, float max) {
  if (!std::isfinite(min) || !std::isfinite(max)) {
    raise<NonFiniteError>("range [", min, ", ", max, "] is not finite");
  }
  if (min > max) raise("min = ", min, " is greater than max = ", max);
}

}  // namespace detail

// torch.ao.quantization.MinMaxObserver._calculate_qparams (torch 1.13),
// all arithmetic in float32 as torch does it on float32 tensors.
// `custom_range` mirrors has_customized_qrange: it changes the quint8 symmetric zero point.
inline LinearParams choose_params_pytorch(float min, float max, CodeRange r, Symmetry symmetry,
                                          bool is_signed, bool custom_range,
                                          float eps = std::numeric_limits<float>::epsilon()) {
  detail::check_range_values(min, max);
  const float min_neg = std::min(min, 0.0f);
  const float max_pos = std::max(max, 0.0f);
  LinearParams p;
  if (symmetry == Symmetry::symmetric) {
    const float amax = std::max(-min_neg, max_pos);
    const float half_levels = static_cast<float>(static_cast<double>(r.qmax - r.qmin) / 2.0);
    p.scale = std::max(amax / half_levels, eps);
    if (!is_signed) p.zero_point = custom_range ? (r.qmin + r.qmax) / 2 : 128;
    // torch's integer floor division: (qmin+qmax)//2; qmin+qmax >= 0 for unsigned codes.
  } else {
    const float levels = static_cast<float>(r.qmax - r.qmin);
    p.scale = std::max((max_pos - min_neg) / levels, eps);
    const float zp = static_cast<float>(r.qmin) - round_half_to_even(min_neg / p.scale);
    p.zero_point = static_cast<std::int32_t>(std::clamp(zp, float(r.qmin), float(r.qmax)));
  }
  return p;
}

// PyTorch's C++ quant_utils::ChooseQuantizationParams, which dynamic
// quantization (quantize_dynamic's Linear, quantize_per_tensor_dynamic) uses
// for activations: double arithmetic, scale stored as float, a minimum scale
// of 6.1e-5 (the range is stretched to it), TFLite-style zero point nudging
// with numpy-like rounding (nearbyint). reduce_range halves qmin and qmax.
inline LinearParams choose_params_pytorch_dynamic(float min, float max, CodeRange r,
                                                  bool reduce_range) {
  detail::check_range_values(min, max);
  std::int32_t qmin = r.qmin;
  std::int32_t qmax = r.qmax;
  if (reduce_range) {
    qmin /= 2;  // C++ integer division, as torch writes it
    qmax /= 2;
  }
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  double scale = (static_cast<double>(max) - min) / (qmax - qmin);
  if (static_cast<float>(scale) == 0.0f || std::isinf(1.0f / static_cast<float>(scale))) {
    scale = 0.1;  // a reciprocal must stay finite
  }
  constexpr float small_scale_threshold = 6.1e-5f;
  if (scale < small_scale_threshold) {
    const float original = static_cast<float>(scale);
    scale = small_scale_threshold;
    if (min == 0.0f) {
      max = small_scale_threshold * static_cast<float>(qmax - qmin);
    } else if (max == 0.0f) {
      min = -small_scale_threshold * static_cast<float>(qmax - qmin);
    } else {
      const float amplifier = small_scale_threshold / original;
      min *= amplifier;
      max *= amplifier;
    }
  }
  const double zp_from_min = qmin - min / scale;
  const double zp_from_max = qmax - max / scale;
  // torch compares |q| - |r / scale| (not a sum) to pick the better estimate.
  const double err_min = std::abs(qmin) - std::fabs(min / scale);
  const double err_max = std::abs(qmax) - std::fabs(max / scale);
  const double zp = err_min < err_max ? zp_from_min : zp_from_max;
  LinearParams p;
  if (zp < qmin) p.zero_point = qmin;
  else if (zp > qmax) p.zero_point = qmax;
  else p.zero_point = static_cast<std::int32_t>(round_half_to_even(zp));
  p.scale = static_cast<float>(scale);
  return p;
}

// onnxruntime/python/tools/quantization/quant_utils.py compute_scale_zp:
// range widened to include 0, scale = (rmax - rmin) / (qmax - qmin) in float64
// then stored as float32, zero point numpy.round (half to even) in float64.
inline LinearParams choose_params_onnx(float min, float max, CodeRange r, Symmetry symmetry) {
  detail::check_range_values(min, max);
  float rmin = std::min(min, 0.0f);
  float rmax = std::max(max, 0.0f);
  if (symmetry == Symmetry::symmetric) {
    const float amax = std::max(std::fabs(rmin), std::fabs(rmax));
    rmin = -amax;
    rmax = amax;
  }
  const double dr = static_cast<double>(rmax - rmin);  // float32 subtraction, as numpy does
  const double dq = static_cast<double>(r.qmax) - static_cast<double>(r.qmin);
  const double scale = dr / dq;
  LinearParams p;
  if (scale < static_cast<double>(std::numeric_limits<float>::min())) {
    p.scale = 1.0f;
    p.zero_point = 0;
    return p;
  }
  if (symmetry == Symmetry::symmetric) {
    p.zero_point = static_cast<std::int32_t>(
        round_half_to_even((static_cast<double>(r.qmax) + r.qmin) / 2.0));
  } else {
    p.zero_point = static_cast<std::int32_t>(
        round_half_to_even(static_cast<double>(r.qmin) - static_cast<double>(rmin) / scale));
  }
  p.scale = static_cast<float>(scale);
  return p;
}

// ONNX DynamicQuantizeLinear (uint8 codes): the operator's formula in float32, exactly as
// onnxruntime's CPU kernel computes it (pinned by tests/golden/linear_onnxruntime.txt):
//   lo = min(min, 0), hi = max(max, 0)
//   scale = hi == lo ? 1 : (hi - lo) / 255                        (float32 division)
//   zero_point = round_half_to_even(clamp(0 - lo / scale, 0, 255))  (float32)
// ONNX dynamic quantization chooses activation parameters this way at run time. It is not
// compute_scale_zp (choose_params_onnx, Linear's onnx profile), which ORT's Python tools use
// for weights and calibrated activations: that one computes the zero point in float64 (so
// [-1, 1] gives 128 there and 127 here) and turns scales below FLT_MIN into 1. Degenerate
// ranges follow ORT: a denormal scale is kept; a range whose scale underflows to 0 gives
// scale 0 and zero point 255 (0 - lo / 0 is +inf or NaN, and ORT's clamp,
// max(0, min(255, v)), maps both to 255); a range wider than FLT_MAX gives scale inf and
// zero point 0. Non-finite min/max are rejected (ORT ignores NaN in the data and takes
// infinities into the range).
inline LinearParams choose_params_onnx_dynamic(float min, float max) {
  detail::check_range_values(min, max);
  const float lo = std::min(min, 0.0f);
  const float hi = std::max(max, 0.0f);
  constexpr float qmin = 0.0f;
  constexpr float qmax = 255.0f;
  LinearParams p;
  p.scale = hi == lo ? 1.0f : (hi - lo) / (qmax - qmin);
  const float initial = qmin - lo / p.scale;
  const float clamped = std::max(qmin, std::min(qmax, initial));  // std::min(255, NaN) is 255
  p.zero_point = static_cast<std::int32_t>(round_half_to_even(clamped));
  return p;
}

// tensorflow/lite/kernels/internal/quantization_util.h ChooseQuantizationParams
// (double arithmetic, zero point nudged with round-half-away) for affine ranges,
// and the converter's symmetric weight scale amax / qmax (zero point 0).
inline LinearParams choose_params_tflite(float min, float max, CodeRange r, Symmetry symmetry,
                                         bool is_signed) {
  detail::check_range_values(min, max);
  LinearParams p;
  if (symmetry == Symmetry::symmetric && is_signed) {
    const float amax = std::max(std::fabs(min), std::fabs(max));
    p.scale = amax == 0.0f ? 1.0f : amax / static_cast<float>(r.qmax);
    return p;
  }
  double rmin = std::min(static_cast<double>(min), 0.0);
  double rmax = std::max(static_cast<double>(max), 0.0);
  if (symmetry == Symmetry::symmetric) {
    const double amax = std::max(-rmin, rmax);
    rmin = -amax;
    rmax = amax;
  }
  if (rmin == rmax) return p;  // all zeros; TFLite gives scale 0, we keep 1 to stay finite
  const double qmin = r.qmin;
  const double qmax = r.qmax;
  const double scale = (rmax - rmin) / (qmax - qmin);
  const double zp_from_min = qmin - rmin / scale;
  const double zp_from_max = qmax - rmax / scale;
  const double err_min = std::fabs(qmin) + std::fabs(rmin / scale);
  const double err_max = std::fabs(qmax) + std::fabs(rmax / scale);
  const double zp = err_min < err_max ? zp_from_min : zp_from_max;
  if (zp < qmin) p.zero_point = r.qmin;
  else if (zp > qmax) p.zero_point = r.qmax;
  else p.zero_point = static_cast<std::int32_t>(round_half_away_from_zero(zp));
  p.scale = static_cast<float>(scale);
  return p;
}

}  // namespace eigenq
