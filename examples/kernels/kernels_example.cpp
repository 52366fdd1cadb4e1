// The raw-pointer kernel API end to end, as docs/kernels.md walks through it: a Linear layer
// y = relu(x W^T + b) with W [out, in] = [N, K], run three ways on the int8 GEMM and once on
// the int4 GEMV, each checked against the float computation. Exits with 1 if a result is off.
//
//   1. int8 GEMM, float out (the Dequantize stage): y = s_in * s_w(n) * acc + b.
//   2. int8 GEMM, int8 out (the Requantize stage, per-channel multipliers from s_in, s_w, s_out,
//      int32 bias, ReLU fused as a clamp), then dequantize_s8_f32.
//   3. The same with fixed-point multipliers (TFLite's integer-only arithmetic).
//   4. int4 weights with one f16 scale per group of 32 inputs, the int4 GEMV (float in and out).
// Every ISA path this machine runs gives the same bits: the example checks that too.
#include <eigenq/kernels/elementwise.hpp>
#include <eigenq/kernels/gemm.hpp>
#include <eigenq/kernels/gemv_int4.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace k = eigenq::kernels;
using eigenq::Index;

namespace {

int failures = 0;

// max |got - want| over max |want|, reported and checked against a bound.
void check(const char* what, const std::vector<float>& got, const std::vector<float>& want, double bound) {
  double err = 0, norm = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    err = std::max(err, std::fabs(double(got[i]) - want[i]));
    norm = std::max(norm, std::fabs(double(want[i])));
  }
  const double relative = err / norm;
  const bool ok = relative <= bound;
  std::printf("%-44s max error %.4f of max |y| (bound %.3f)  %s\n", what, relative, bound, ok ? "ok" : "FAILED");
  if (!ok) ++failures;
}

// The same product on every ISA path this machine supports must give the same bits.
template <class Run>
void check_every_isa(const char* what, Run run) {
  const k::ScopedIsa reference(k::Isa::scalar);
  const auto expected = run();
  for (k::Isa isa : k::all_isas) {
    if (!k::supported(isa)) continue;
    const k::ScopedIsa scoped(isa);
    if (run() != expected) {
      std::printf("%s: %s differs from scalar  FAILED\n", what, k::to_string(isa));
      ++failures;
    }
  }
}

}  // namespace

int main() {
  constexpr Index M = 3, K = 256, N = 40;  // batch, in, out
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(M * K), W(N * K), b(N);
  for (auto& v : x) v = normal(rng);
  for (auto& v : W) v = 0.05f * normal(rng);
  for (auto& v : b) v = 0.1f * normal(rng);

  // The float reference: y = relu(x W^T + b).
  std::vector<float> y_ref(M * N);
  for (Index m = 0; m < M; ++m) {
    for (Index n = 0; n < N; ++n) {
      double s = b[n];
      for (Index kk = 0; kk < K; ++kk) s += double(x[m * K + kk]) * W[n * K + kk];
      y_ref[m * N + n] = static_cast<float>(std::max(0.0, s));
    }
  }
  std::printf("kernels example, M x K x N = %lld x %lld x %lld, active ISA %s\n", static_cast<long long>(M),
              static_cast<long long>(K), static_cast<long long>(N), k::to_string(k::active_isa()));

  // ---- weights: int8, symmetric, one scale per output channel; packed once ----------------
  std::vector<float> s_w(N);
  std::vector<std::int32_t> w_zero_points(N, 0);
  for (Index n = 0; n < N; ++n) {
    float amax = 0.0f;
    for (Index kk = 0; kk < K; ++kk) amax = std::max(amax, std::fabs(W[n * K + kk]));
    s_w[n] = amax / 127.0f;
  }
  std::vector<std::int8_t> Wq(N * K);
  // One scale per row of W (= per output channel): the _rows form.
  k::quantize_f32_s8_rows(W.data(), N, K, K, s_w.data(), w_zero_points.data(), {-127, 127},
                          k::Scaling::multiply_by_reciprocal, eigenq::Rounding::half_to_even, Wq.data(), K);
  // B(k, n) = W(n, k): the [out, in] row-major codes have strides (k_stride, n_stride) = (1, K).
  const k::PackedWeights packed = k::pack_weights(Wq.data(), K, N, /*k_stride=*/1, /*n_stride=*/K);

  // ---- activations: uint8, affine, one scale and zero point for the tensor -----------------
  const auto [x_min, x_max] = std::minmax_element(x.begin(), x.end());
  const float lo = std::min(*x_min, 0.0f), hi = std::max(*x_max, 0.0f);
  const float s_in = (hi - lo) / 255.0f;
  const auto zp_in = static_cast<std::int32_t>(std::nearbyint(-lo / s_in));
  std::vector<std::uint8_t> xq(M * K);
  k::quantize_f32_u8(x.data(), M * K, s_in, zp_in, {0, 255}, k::Scaling::multiply_by_reciprocal,
                     eigenq::Rounding::half_to_even, xq.data());

  // ---- 1. float out: C = fma(float(acc), s_in * s_w(n), b(n)); ReLU applied after ----------
  k::Dequantize dequantize;
  dequantize.row_scales = &s_in;  // one activation scale (row_scale_count = 1)
  dequantize.col_scales = s_w.data();
  dequantize.col_scale_count = N;  // one weight scale per output channel
  dequantize.bias = b.data();
  const auto run_float = [&] {
    std::vector<float> y(M * N);
    k::gemm(xq.data(), M, /*lda=*/K, zp_in, packed, y.data(), /*ldc=*/N, dequantize);
    for (auto& v : y) v = std::max(v, 0.0f);
    return y;
  };
  check("int8 GEMM, Dequantize stage", run_float(), y_ref, 0.02);
  check_every_isa("Dequantize stage", run_float);

  // ---- 2. int8 out: Requantize with per-channel float multipliers, ReLU as the clamp -------
  const float y_max = *std::max_element(y_ref.begin(), y_ref.end());
  const float s_out = y_max / 255.0f;       // the ReLU output [0, y_max] on all 256 codes...
  const std::int32_t zp_out = -128;         // ...so 0.0 is code -128
  std::vector<std::int32_t> bias_q(N);      // bias in the accumulator's scale s_in * s_w(n)
  for (Index n = 0; n < N; ++n) bias_q[n] = static_cast<std::int32_t>(std::lround(b[n] / (s_in * s_w[n])));
  const std::vector<float> multipliers = k::float_multipliers(s_in, s_w.data(), N, s_out);
  const auto requantize = k::Requantize::per_channel(multipliers)
                              .with_bias(bias_q.data())
                              .with_zero_point(zp_out)
                              .with_clamp(zp_out, 127);  // ReLU: nothing below the code of 0.0
  const auto run_codes = [&](const k::Requantize& stage) {
    std::vector<std::int8_t> codes(M * N);
    k::gemm(xq.data(), M, K, zp_in, packed, codes.data(), N, stage);
    return codes;
  };
  const auto dequantize_codes = [&](const std::vector<std::int8_t>& codes) {
    std::vector<float> y(M * N);
    k::dequantize_s8_f32(codes.data(), M * N, s_out, zp_out, y.data());
    return y;
  };
  check("int8 GEMM, Requantize (float), ReLU", dequantize_codes(run_codes(requantize)), y_ref, 0.02);
  check_every_isa("Requantize stage (float)", [&] { return run_codes(requantize); });

  // ---- 3. the same with fixed-point multipliers (double rounding, as TFLite) ---------------
  const std::vector<k::FixedPointMultiplier> fixed = k::fixed_point_multipliers(s_in, s_w.data(), N, s_out);
  const auto requantize_fixed = k::Requantize::per_channel(fixed, k::FixedPointRounding::double_rounding)
                                    .with_bias(bias_q.data())
                                    .with_zero_point(zp_out)
                                    .with_clamp(zp_out, 127);
  check("int8 GEMM, Requantize (fixed point), ReLU", dequantize_codes(run_codes(requantize_fixed)), y_ref, 0.02);
  check_every_isa("Requantize stage (fixed point)", [&] { return run_codes(requantize_fixed); });

  // ---- 4. int4 weights, one scale per group of 32 inputs, float in and out -----------------
  constexpr Index G = 32, groups = K / G;
  std::vector<float> s4(N * groups);
  std::vector<std::int8_t> W4(N * K);  // codes in [-8, 7], one per byte before packing
  for (Index n = 0; n < N; ++n) {
    for (Index g = 0; g < groups; ++g) {
      float amax = 0.0f;
      for (Index kk = g * G; kk < (g + 1) * G; ++kk) amax = std::max(amax, std::fabs(W[n * K + kk]));
      const float scale = amax / 7.0f;
      s4[n * groups + g] = scale;
      k::quantize_f32_s8(W.data() + n * K + g * G, G, scale, 0, {-8, 7}, k::Scaling::multiply_by_reciprocal,
                         eigenq::Rounding::half_to_even, W4.data() + n * K + g * G);
    }
  }
  const k::PackedInt4Weights packed4 =
      k::pack_int4_weights(W4.data(), N, K, /*ld=*/K, s4.data(), /*scale_ld=*/groups, G, k::ScaleType::f16);
  const auto run_int4 = [&] {
    std::vector<float> y(M * N);
    k::gemv_int4(x.data(), M, K, packed4, b.data(), y.data(), N);
    for (auto& v : y) v = std::max(v, 0.0f);
    return y;
  };
  check("int4 GEMV, f16 scale per 32 weights", run_int4(), y_ref, 0.12);
  check_every_isa("int4 GEMV", run_int4);

  std::printf(failures == 0 ? "all results within bounds, every ISA path identical\n" : "%d checks FAILED\n",
              failures);
  return failures == 0 ? 0 : 1;
}
