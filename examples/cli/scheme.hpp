// The command line's quantization scheme: --scheme/--bits/--granularity/--axis/
// --group-size/--calibration/--convention/--profile turned into a policy
// object, a granularity per tensor, and a quantized tensor.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <eigenq/calibrate/kl_entropy.hpp>
#include <eigenq/calibrate/mse_clip.hpp>
#include <eigenq/calibrate/percentile.hpp>
#include <eigenq/core/eigen_view.hpp>
#include <eigenq/core/granularity.hpp>
#include <eigenq/io/quantized_format.hpp>
#include <eigenq/policy/codebook.hpp>
#include <eigenq/quantizer/double_quant.hpp>
#include <eigenq/policy/exp.hpp>
#include <eigenq/policy/linear.hpp>
#include <eigenq/policy/linear_real_offset.hpp>
#include <eigenq/policy/log.hpp>
#include <eigenq/quantizer/quantizer.hpp>

#include "cli_util.hpp"

namespace eigenq_cli {

using eigenq::Index;

struct SchemeOptions {
  std::string scheme = "linear-symmetric";
  int bits = 8;
  std::string granularity;  // empty: per channel (axis 0) for rank >= 2, per tensor below
  std::optional<int> axis;
  Index group_size = 32;
  bool group_size_given = false;
  std::string calibration = "minmax";
  std::string convention = "inference";
  bool convention_given = false;
  std::string profile = "pytorch";
  bool profile_given = false;
  Index double_quant = 0;  // > 0: per-group scales as 8-bit codes, S groups per float super-scale

  // Parsed --calibration.
  enum class Calibration { minmax, percentile, mse, kl } calibration_kind = Calibration::minmax;
  double percentile = 99.99;

  bool is_linear() const { return scheme == "linear-affine" || scheme == "linear-symmetric"; }

  // Checks the combination and parses --calibration; UsageError on anything wrong.
  void validate() {
    static const char* const schemes[] = {"linear-affine", "linear-symmetric", "log", "log-signed",
                                          "log2",          "exp",              "codebook"};
    bool known = false;
    for (const char* s : schemes) known = known || scheme == s;
    if (!known) {
      throw UsageError("--scheme '" + scheme +
                       "' is not one of linear-affine, linear-symmetric, log, log-signed, log2, exp, codebook");
    }
    if (bits < 2 || bits > 16) throw UsageError("--bits " + std::to_string(bits) + " is out of range (2..16)");
    if (scheme == "log2" && bits > 8) {
      throw UsageError("--bits " + std::to_string(bits) + " is out of range for log2 (2..8: 8 bits already span 127 octaves)");
    }
    if (!granularity.empty() && granularity != "tensor" && granularity != "channel" && granularity != "group") {
      throw UsageError("--granularity '" + granularity + "' is not one of tensor, channel, group");
    }
    if (granularity == "tensor" && axis) throw UsageError("--axis does not apply to --granularity tensor");
    if (group_size_given && granularity != "group") throw UsageError("--group-size needs --granularity group");
    if (group_size <= 0) throw UsageError("--group-size " + std::to_string(group_size) + " must be positive");
    if (convention != "inference" && convention != "real-offset") {
      throw UsageError("--convention '" + convention + "' is not one of inference, real-offset");
    }
    if (convention_given && !is_linear()) {
      throw UsageError("--convention applies to the linear schemes, not to " + scheme);
    }
    if (convention == "real-offset" && scheme == "linear-symmetric") {
      throw UsageError("--convention real-offset maps [r_min, r_max] onto the codes: use --scheme linear-affine");
    }
    if (profile != "pytorch" && profile != "onnx" && profile != "tflite") {
      throw UsageError("--profile '" + profile + "' is not one of pytorch, onnx, tflite");
    }
    if (profile_given && !(is_linear() && convention == "inference")) {
      throw UsageError("--profile applies to linear schemes in the inference convention");
    }
    if (double_quant < 0) throw UsageError("--double-quant " + std::to_string(double_quant) + " must be positive");
    if (double_quant > 0 && !(is_linear() && convention == "inference" && granularity == "group")) {
      throw UsageError("--double-quant needs a linear scheme in the inference convention with --granularity group");
    }
    parse_calibration();
    if (calibration_kind != Calibration::minmax) {
      if (scheme == "codebook") {
        throw UsageError("--calibration " + calibration + " does not apply to codebook (its levels come from k-means)");
      }
      if (granularity == "group") {
        throw UsageError("--calibration " + calibration + " works per tensor or per channel, not per group");
      }
    }
  }

  // What the metadata records as the calibration.
  std::string calibration_label() const { return scheme == "codebook" ? "kmeans" : calibration; }

  // The granularity for a tensor of this shape (the defaults are documented in --help).
  eigenq::Granularity granularity_for(const eigenq::Shape& shape) const {
    const std::size_t rank = shape.size();
    std::string kind = granularity.empty() ? (rank >= 2 ? "channel" : "tensor") : granularity;
    if (kind == "channel" && rank < 2) kind = "tensor";  // vectors (biases, norms) share one scale
    if (kind == "group" && rank < 1) kind = "tensor";
    if (kind == "channel") return eigenq::PerChannel{axis.value_or(0)};
    if (kind == "group") return eigenq::PerGroup{axis.value_or(-1), group_size};
    return eigenq::PerTensor{};
  }

 private:
  void parse_calibration() {
    if (calibration == "minmax") {
      calibration_kind = Calibration::minmax;
    } else if (calibration == "mse") {
      calibration_kind = Calibration::mse;
    } else if (calibration == "kl") {
      calibration_kind = Calibration::kl;
    } else if (calibration.rfind("percentile:", 0) == 0) {
      const std::string p = calibration.substr(11);
      char* end = nullptr;
      const double v = p.empty() ? 0.0 : std::strtod(p.c_str(), &end);
      if (p.empty() || end == nullptr || *end != '\0' || !(v > 0.0 && v <= 100.0)) {
        throw UsageError("--calibration percentile:P needs P in (0, 100], got '" + p + "'");
      }
      calibration_kind = Calibration::percentile;
      percentile = v;
    } else {
      throw UsageError("--calibration '" + calibration + "' is not one of minmax, percentile:P, mse, kl");
    }
  }
};

// Library messages name C++ types where the tool has flags ("use LogSigned or Log2",
// "PercentileObserver batch 0 found NaN ..."); this says them in the tool's words.
inline std::string in_tool_words(std::string message, const SchemeOptions& o) {
  static const std::pair<const char*, const char*> phrases[] = {
      {"LogSigned or Log2", "--scheme log-signed or --scheme log2"},
  };
  for (const auto& [cpp, tool] : phrases) {
    const std::string from(cpp);
    const std::string to(tool);
    for (std::size_t at = 0; (at = message.find(from, at)) != std::string::npos; at += to.size()) {
      message.replace(at, from.size(), to);
    }
  }
  // The calibration observers: "MseClipObserver batch 0 found NaN" -> "--calibration mse found NaN".
  static const std::regex observer("\\b[A-Za-z]+Observer( batch [0-9]+)?");
  return std::regex_replace(message, observer, "--calibration " + o.calibration);
}

// Calls f(policy) with the policy object the options describe (codes of 8 bits
// or fewer in 8-bit types, wider ones in 16-bit types).
template <class F>
decltype(auto) with_policy(const SchemeOptions& o, F&& f) {
  using namespace eigenq;
  const bool wide = o.bits > 8;
  const Profile profile = profile_from_string(o.profile);
  if (o.scheme == "linear-affine") {
    if (o.convention == "real-offset") {
      return wide ? f(LinearRealOffset<std::uint16_t>().with_bits(o.bits)) : f(LinearRealOffset<std::uint8_t>().with_bits(o.bits));
    }
    return wide ? f(Linear<std::uint16_t>::affine(profile).with_bits(o.bits))
                : f(Linear<std::uint8_t>::affine(profile).with_bits(o.bits));
  }
  if (o.scheme == "linear-symmetric") {
    return wide ? f(Linear<std::int16_t>::symmetric(profile).with_bits(o.bits))
                : f(Linear<std::int8_t>::symmetric(profile).with_bits(o.bits));
  }
  if (o.scheme == "log") return wide ? f(Log<std::uint16_t>().with_bits(o.bits)) : f(Log<std::uint8_t>().with_bits(o.bits));
  if (o.scheme == "log-signed") {
    return wide ? f(LogSigned<std::int16_t>().with_bits(o.bits)) : f(LogSigned<std::int8_t>().with_bits(o.bits));
  }
  if (o.scheme == "log2") return f(Log2<std::int8_t>().with_bits(o.bits));
  if (o.scheme == "exp") return wide ? f(Exp<std::uint16_t>().with_bits(o.bits)) : f(Exp<std::uint8_t>().with_bits(o.bits));
  return wide ? f(Codebook<std::uint16_t>().with_bits(o.bits)) : f(Codebook<std::uint8_t>().with_bits(o.bits));
}

// Quantizes row-major data with the policy, the granularity and the calibration.
template <class Policy>
eigenq::QTensor<Policy> quantize_view(const Policy& policy, const eigenq::Granularity& g, const eigenq::RowMajorView& x,
                                      const SchemeOptions& o) {
  using namespace eigenq;
  const Quantizer<Policy, Granularity> quantizer(policy, g);
  if constexpr (Policy::fits_from_range) {
    switch (o.calibration_kind) {
      case SchemeOptions::Calibration::minmax: break;
      case SchemeOptions::Calibration::percentile: {
        PercentileObserver observer(g, o.percentile);
        observer.observe_view(x);
        return quantizer.quantize(x, observer.params(policy));
      }
      case SchemeOptions::Calibration::mse: {
        MseClipObserver observer(g);
        observer.observe_view(x);
        return quantizer.quantize(x, observer.params(policy));
      }
      case SchemeOptions::Calibration::kl: {
        KlEntropyObserver observer(g);
        observer.observe_view(x);
        return quantizer.quantize(x, observer.params(policy));
      }
    }
  }
  return quantizer.quantize(x);
}

// Per-group linear quantization with 8-bit second-level scales (policy/double_quant.hpp):
// fit the group scales, quantize them in super-blocks of S groups, quantize x against the
// scales actually stored.
template <class Code>
eigenq::DoubleQuantized<Code> double_quantize_view(const eigenq::Linear<Code>& policy, const eigenq::Granularity& g,
                                                   const eigenq::RowMajorView& x, Index groups_per_block) {
  const eigenq::Quantizer<eigenq::Linear<Code>, eigenq::Granularity> quantizer(policy, g);
  std::vector<eigenq::LinearParams> params = quantizer.fit(x);
  eigenq::SuperBlockScales scales =
      eigenq::quantize_group_scales(params, eigenq::ParamLayout(x.shape(), g), groups_per_block);
  return eigenq::DoubleQuantized<Code>{quantizer.quantize(x, std::move(params)), std::move(scales)};
}

}  // namespace eigenq_cli
