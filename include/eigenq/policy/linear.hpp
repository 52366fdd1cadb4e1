// Linear quantization, inference convention: r = scale * (q - zero_point) with
// an integer zero point, so 0.0 is exact. Affine or symmetric, any code range
// inside int8/uint8/int16/uint16, parameters and rounding of one compatibility
// profile (PyTorch by default).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "eigenq/core/error.hpp"
#include "eigenq/core/rounding.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/kernels/elementwise.hpp"
#include "eigenq/policy/choose_params.hpp"

namespace eigenq {

template <class Code = std::int8_t>
class Linear {
  static_assert(is_code_type_v<Code>, "codes are int8, uint8, int16 or uint16");

 public:
  using code_type = Code;
  using Params = LinearParams;
  static constexpr bool fits_from_range = true;

  explicit Linear(Symmetry symmetry = Symmetry::affine, Profile profile = Profile::pytorch)
      : symmetry_(symmetry), profile_(profile) {}

  static Linear affine(Profile profile = Profile::pytorch) { return Linear(Symmetry::affine, profile); }
  static Linear symmetric(Profile profile = Profile::pytorch) {
    return Linear(Symmetry::symmetric, profile);
  }

  // Codes of `bits` bits (2..width of Code), e.g. 4-bit codes in int8 storage.
  Linear& with_bits(int bits) {
    const CodeRange r = range_for_bits<Code>(bits);
    if (bits == 8 * static_cast<int>(sizeof(Code))) {
      has_custom_range_ = false;
    } else {
      custom_range_ = r;
      has_custom_range_ = true;
    }
    return *this;
  }

  // An explicit [qmin, qmax] (PyTorch's quant_min/quant_max); must fit Code.
  Linear& with_range(std::int32_t qmin, std::int32_t qmax) {
    check_range_fits<Code>({qmin, qmax});
    custom_range_ = {qmin, qmax};
    has_custom_range_ = true;
    return *this;
  }

  // Drops one bit of range, as PyTorch/FBGEMM do to keep vpmaddubsw from saturating.
  Linear& with_reduce_range(bool on = true) {
    reduce_range_ = on;
    return *this;
  }

  Linear& with_profile(Profile profile) {
    profile_ = profile;
    return *this;
  }

  Symmetry symmetry() const { return symmetry_; }
  Profile profile() const { return profile_; }
  bool reduce_range() const { return reduce_range_; }
  bool has_custom_range() const { return has_custom_range_; }
  Rounding rounding() const {
    return profile_ == Profile::tflite ? Rounding::half_away_from_zero : Rounding::half_to_even;
  }

  // The effective code range after profile rules, custom range and reduce_range.
  CodeRange range() const {
    CodeRange r = has_custom_range_ ? custom_range_ : full_range<Code>();
    const bool narrow_symmetric = std::is_signed_v<Code> && symmetry_ == Symmetry::symmetric &&
                                  profile_ != Profile::pytorch && !has_custom_range_;
    if (profile_ == Profile::onnx && reduce_range_ && !has_custom_range_) {
      // quant_utils.get_qmin_qmax_for_qType: int8 (-64, 64), uint8 (0, 127).
      return std::is_signed_v<Code> ? CodeRange{r.qmin / 2, -(r.qmin / 2)} : CodeRange{0, r.qmax / 2};
    }
    if (narrow_symmetric) r.qmin = -r.qmax;  // [-127, 127]: ONNX and TFLite weights
    if (reduce_range_) r = {floor_half(r.qmin), floor_half(r.qmax)};  // torch: quant_min // 2
    return r;
  }

  // Codes are stored in at least 2-bit fields (a range like [0, 1] takes 2 bits).
  int bits() const { return std::max(2, bits_for_range(range(), std::is_signed_v<Code>)); }

  std::string name() const { return symmetry_ == Symmetry::affine ? "linear-affine" : "linear-symmetric"; }

  // Storage of one parameter set: symmetric codes need no zero point.
  std::size_t param_bytes(const Params&) const {
    return symmetry_ == Symmetry::symmetric ? sizeof(float) : sizeof(float) + sizeof(std::int32_t);
  }

  // Scale and zero point for an observed range, as the profile's framework chooses them.
  Params fit(float min, float max) const {
    const CodeRange r = range();
    switch (profile_) {
      case Profile::pytorch:
        return choose_params_pytorch(min, max, r, symmetry_, std::is_signed_v<Code>, has_custom_range_);
      case Profile::onnx: return choose_params_onnx(min, max, r, symmetry_);
      case Profile::tflite: return choose_params_tflite(min, max, r, symmetry_, std::is_signed_v<Code>);
    }
    return {};
  }

  Code quantize(float x, const Params& p) const {
    const CodeRange r = range();
    return quantize_one(x, p, r, scale_factor(p));
  }

  float dequantize(Code q, const Params& p) const { return kernels::dequantize_value(q, p.scale, p.zero_point); }

  // Bulk versions. 8-bit codes run the SIMD kernels of kernels/elementwise.hpp, which give
  // quantize()/dequantize()'s bits on every ISA; step 1 runs (a channel per element) are
  // regrouped into scale and zero-point arrays a block at a time.
  void quantize_run(const float* x, Index n, const Params* p, Index step, Code* out) const {
    const CodeRange r = range();
    if constexpr (sizeof(Code) == 1) {
      const kernels::Scaling scaling = this->scaling();
      const Rounding rounding = this->rounding();
      if (step == 0) {
        if constexpr (std::is_signed_v<Code>) {
          kernels::quantize_f32_s8(x, n, p->scale, p->zero_point, r, scaling, rounding, out);
        } else {
          kernels::quantize_f32_u8(x, n, p->scale, p->zero_point, r, scaling, rounding, out);
        }
        return;
      }
      for_param_blocks(p, n, [&](Index i0, Index m, const float* scale, const std::int32_t* zero_point) {
        if constexpr (std::is_signed_v<Code>) {
          kernels::quantize_f32_s8_cols(x + i0, 1, m, m, scale, zero_point, r, scaling, rounding, out + i0, m);
        } else {
          kernels::quantize_f32_u8_cols(x + i0, 1, m, m, scale, zero_point, r, scaling, rounding, out + i0, m);
        }
      });
    } else if (step == 0) {
      const Params one = *p;
      const float factor = scale_factor(one);
      for (Index i = 0; i < n; ++i) out[i] = quantize_one(x[i], one, r, factor);
    } else {
      for (Index i = 0; i < n; ++i) out[i] = quantize_one(x[i], p[i], r, scale_factor(p[i]));
    }
  }

  void dequantize_run(const Code* q, Index n, const Params* p, Index step, float* out) const {
    if constexpr (sizeof(Code) == 1) {
      if (step == 0) {
        if constexpr (std::is_signed_v<Code>) kernels::dequantize_s8_f32(q, n, p->scale, p->zero_point, out);
        else kernels::dequantize_u8_f32(q, n, p->scale, p->zero_point, out);
        return;
      }
      for_param_blocks(p, n, [&](Index i0, Index m, const float* scale, const std::int32_t* zero_point) {
        if constexpr (std::is_signed_v<Code>) {
          kernels::dequantize_s8_f32_cols(q + i0, 1, m, m, scale, zero_point, out + i0, m);
        } else {
          kernels::dequantize_u8_f32_cols(q + i0, 1, m, m, scale, zero_point, out + i0, m);
        }
      });
    } else if (step == 0) {
      const Params one = *p;
      for (Index i = 0; i < n; ++i) out[i] = dequantize(q[i], one);
    } else {
      for (Index i = 0; i < n; ++i) out[i] = dequantize(q[i], p[i]);
    }
  }

 private:
  static std::int32_t floor_half(std::int32_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

  // Runs f(i0, m, scale, zero_point) over [0, n) in blocks of up to 256 elements, with the
  // per-element params regrouped into scale and zero-point arrays (the per-column kernels' form).
  template <class F>
  static void for_param_blocks(const Params* p, Index n, const F& f) {
    constexpr Index block = 256;
    float scale[block];
    std::int32_t zero_point[block];
    for (Index i0 = 0; i0 < n; i0 += block) {
      const Index m = n - i0 < block ? n - i0 : block;
      for (Index i = 0; i < m; ++i) {
        scale[i] = p[i0 + i].scale;
        zero_point[i] = p[i0 + i].zero_point;
      }
      f(i0, m, scale, zero_point);
    }
  }

  // PyTorch multiplies by the float reciprocal; ONNX and TFLite divide.
  kernels::Scaling scaling() const { return kernels::scaling_for(profile_); }
  float scale_factor(const Params& p) const { return kernels::scale_factor(p.scale, scaling()); }

  // The one definition of quantizing a value (kernels/arithmetic.hpp), which every kernel path
  // reproduces.
  Code quantize_one(float x, const Params& p, CodeRange r, float factor) const {
    return kernels::quantize_value<Code>(x, factor, p.zero_point, r, scaling(), rounding());
  }

  Symmetry symmetry_ = Symmetry::affine;
  Profile profile_ = Profile::pytorch;
  CodeRange custom_range_{};
  bool has_custom_range_ = false;
  bool reduce_range_ = false;
};

}  // namespace eigenq
