// A quantization scheme for analysis: a name, a fake quantization of a matrix
// (quantize, then dequantize, in place) and the exact storage cost of the quantized form.
// Sensitivity analysis and mixed-precision selection apply schemes to a model's
// quantization points (see model.hpp).
//
//   auto s = eigenq::make_scheme("int4-g32", eigenq::Quantizer(
//       eigenq::Linear<int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 32}));
//
// Any Quantizer<Policy, Granularity> makes a scheme, so every policy (linear, seed, log,
// exp, codebook...) plugs in. Schemes are applied to the matrix as a whole: weights
// [out, in] once, activations [samples, features] per forward pass (dynamic quantization,
// as torch's quantize_dynamic does for activations).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "eigenq/core/error.hpp"
#include "eigenq/core/granularity.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer.hpp"

namespace eigenq {

struct QuantScheme {
  std::string name = "float32";
  // Replaces x by its fake quantization; empty for float (x unchanged).
  std::function<void(Eigen::MatrixXf& x)> fake_quantize;
  // Bits the quantized form of x occupies: codes in their packed format plus every
  // parameter set. Float: 32 bits per element.
  std::function<std::int64_t(const Eigen::MatrixXf& x)> storage_bits;

  bool is_float() const { return !fake_quantize; }

  void apply(Eigen::MatrixXf& x) const {
    if (fake_quantize) fake_quantize(x);
  }

  std::int64_t bits_for(const Eigen::MatrixXf& x) const {
    if (storage_bits) return storage_bits(x);
    return 32 * static_cast<std::int64_t>(x.size());
  }
};

// Float32: no quantization, 32 bits per element.
inline QuantScheme float_scheme() { return QuantScheme{}; }

// A scheme from a Quantizer: fake quantization and storage of its QTensor.
template <class Policy, class G>
QuantScheme make_scheme(std::string name, Quantizer<Policy, G> quantizer) {
  QuantScheme s;
  s.name = std::move(name);
  s.fake_quantize = [quantizer](Eigen::MatrixXf& x) {
    const QTensor<Policy> q = quantizer.quantize(x);
    x = q.template dequantize<Eigen::MatrixXf>();
  };
  s.storage_bits = [quantizer](const Eigen::MatrixXf& x) {
    return 8 * static_cast<std::int64_t>(quantizer.quantize(x).storage_bytes());
  };
  return s;
}

// A scheme with fixed parameters (static quantization), e.g. from an observer that saw the
// calibration data: every matrix it is applied to is quantized with `params`.
template <class Policy, class G>
QuantScheme make_static_scheme(std::string name, Quantizer<Policy, G> quantizer,
                               std::vector<typename Policy::Params> params) {
  QuantScheme s;
  s.name = std::move(name);
  s.fake_quantize = [quantizer, params](Eigen::MatrixXf& x) {
    const QTensor<Policy> q = quantizer.quantize(x, params);
    x = q.template dequantize<Eigen::MatrixXf>();
  };
  s.storage_bits = [quantizer, params](const Eigen::MatrixXf& x) {
    return 8 * static_cast<std::int64_t>(quantizer.quantize(x, params).storage_bytes());
  };
  return s;
}

// Ready-made linear schemes (PyTorch profile; weights as [out, in] matrices).
namespace schemes {

// Symmetric `bits`-bit codes, one scale per index of `axis` (default: per output row).
inline QuantScheme linear_per_channel(int bits, int axis = 0) {
  return make_scheme("int" + std::to_string(bits) + "-per-channel",
                     Quantizer<Linear<std::int8_t>, PerChannel>(Linear<std::int8_t>::symmetric().with_bits(bits),
                                                                PerChannel{axis}));
}

// Symmetric `bits`-bit codes, one scale per group of `group` elements along `axis`.
inline QuantScheme linear_per_group(int bits, Index group = 32, int axis = -1) {
  return make_scheme("int" + std::to_string(bits) + "-g" + std::to_string(group),
                     Quantizer<Linear<std::int8_t>, PerGroup>(Linear<std::int8_t>::symmetric().with_bits(bits),
                                                              PerGroup{axis, group}));
}

// Affine uint8 per tensor: the usual activation scheme.
inline QuantScheme uint8_per_tensor() {
  return make_scheme("uint8-per-tensor",
                     Quantizer<Linear<std::uint8_t>, PerTensor>(Linear<std::uint8_t>::affine(), PerTensor{}));
}

inline QuantScheme int8_per_channel(int axis = 0) { return linear_per_channel(8, axis); }
inline QuantScheme int4_per_group(Index group = 32, int axis = -1) { return linear_per_group(4, group, axis); }
inline QuantScheme int2_per_group(Index group = 32, int axis = -1) { return linear_per_group(2, group, axis); }

}  // namespace schemes
}  // namespace eigenq
