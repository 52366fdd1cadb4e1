// The definition of ggml/mul_mat.hpp's products, computed value by value from ggml's bytes (for
// finite inputs), and the test problems: shared by tests/ggml/mul_mat_test.cpp and
// tests/nn/ggml_linear_test.cpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "eigenq/core/types.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/iq4.hpp"
#include "eigenq/ggml/k_quants.hpp"
#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/type.hpp"

namespace eigenq_test {

namespace gg = eigenq::ggml;
using eigenq::Index;

inline std::vector<std::uint8_t> ggml_rows(gg::Type type, Index n, Index kk, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(static_cast<std::size_t>(n * kk));
  for (float& v : w) v = normal(rng);
  std::vector<std::uint8_t> rows(static_cast<std::size_t>(n * gg::row_size(type, kk)));
  gg::quantize_rows(type, w.data(), rows.data(), n, kk, nullptr);
  return rows;
}

inline std::vector<std::uint8_t> q4_0_rows(Index n, Index kk, unsigned seed) { return ggml_rows(gg::Type::q4_0, n, kk, seed); }

inline std::vector<float> activations(Index m, Index ldx, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> x(static_cast<std::size_t>(m * ldx));
  for (float& v : x) v = uniform(rng);
  return x;
}

inline float f16_rounded(float v) { return gg::fp16_to_fp32(gg::fp32_to_fp16(v)); }

// ggml's q6_K block, decoded from its documented layout: code e (q - 32) and its int8 scale.
inline void q6_K_block(const std::uint8_t* block, int e, int& code, int& scale) {
  // In each half of 128, value l + 32 t (t < 4) takes the low (t < 2) or high nibble of ql[l]
  // (t even) or ql[l + 32] (t odd) and bits 2t, 2t + 1 of qh[l]; scales[e / 16] is its scale.
  const std::uint8_t* ql = block;        // 128 bytes
  const std::uint8_t* qh = block + 128;  // 64 bytes
  const auto* sc = reinterpret_cast<const std::int8_t*>(block + 192);
  const int half = e / 128, t = (e % 128) / 32, l = e % 32;
  const std::uint8_t low = ql[64 * half + l + (t % 2 == 1 ? 32 : 0)];
  const int lo4 = t < 2 ? (low & 0xF) : (low >> 4);
  const int hi2 = (qh[32 * half + l] >> (2 * t)) & 3;
  code = (lo4 | (hi2 << 4)) - 32;
  scale = sc[e / 16];
}

// The header's definition, one value at a time, from ggml's bytes (finite inputs).
inline std::vector<float> definition(gg::Type type, const std::vector<std::uint8_t>& rows, Index n, Index kk,
                              const std::vector<float>& x, Index m, Index ldx, const float* bias) {
  const bool q8_K = type == gg::Type::q6_K || type == gg::Type::q4_K;
  const Index group = type == gg::Type::q6_K ? 16 : 32;
  const Index groups = kk / group;
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (Index i = 0; i < m; ++i) {
    std::vector<int> q(static_cast<std::size_t>(kk));
    std::vector<float> dx(static_cast<std::size_t>(groups));
    if (q8_K) {  // ggml's quantize_row_q8_K_ref
      for (Index b = 0; b < kk / 256; ++b) {
        const float* xb = x.data() + i * ldx + 256 * b;
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < 256; ++j) {
          if (std::fabs(xb[j]) > amax) {
            amax = std::fabs(xb[j]);
            max = xb[j];
          }
        }
        const float iscale = amax == 0.0f ? 0.0f : -127.0f / max;
        for (int j = 0; j < 256; ++j) {
          q[static_cast<std::size_t>(256 * b + j)] = std::min(127, static_cast<int>(std::nearbyint(iscale * xb[j])));
        }
        for (Index g = 0; g < 256 / group; ++g) {
          dx[static_cast<std::size_t>(256 / group * b + g)] = amax == 0.0f ? 0.0f : 1.0f / iscale;
        }
      }
    } else {  // Q8_0 blocks
      for (Index b = 0; b < groups; ++b) {
        const float* xb = x.data() + i * ldx + 32 * b;
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
        const float d = amax / 127.0f;
        const float inv = d > 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; ++j) {
          q[static_cast<std::size_t>(32 * b + j)] =
              static_cast<int>(std::nearbyint(std::clamp(xb[j] * inv, -127.0f, 127.0f)));
        }
        dx[static_cast<std::size_t>(b)] = f16_rounded(d);
      }
    }
    for (Index r = 0; r < n; ++r) {
      const Index block_bytes = gg::type_size(type);
      const std::uint8_t* row = rows.data() + r * gg::row_size(type, kk);
      float acc = 0.0f;
      for (Index g = 0; g < groups; ++g) {
        std::int32_t isum = 0, qsum = 0;
        float sw = 0.0f, mw = 0.0f;
        for (Index t = 0; t < group; ++t) {
          const Index e = g * group + t;
          const std::int32_t qe = q[static_cast<std::size_t>(e)];
          qsum += qe;
          if (type == gg::Type::q4_K) {  // d, dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles
            const std::uint8_t* block = row + block_bytes * (e / 256);
            const int f = static_cast<int>(e % 256);
            const std::uint8_t byte = block[16 + 32 * (f / 64) + f % 32];
            isum += (f % 64 < 32 ? byte & 0x0F : byte >> 4) * qe;
            int sc = 0, m = 0;
            gg::detail::unpack_scale_min_k4(f / 32, block + 4, &sc, &m);
            sw = gg::fp16_to_fp32(static_cast<std::uint16_t>(block[0] | (block[1] << 8))) * static_cast<float>(sc);
            mw = gg::fp16_to_fp32(static_cast<std::uint16_t>(block[2] | (block[3] << 8))) * static_cast<float>(m);
            continue;
          }
          if (q8_K) {
            const std::uint8_t* block = row + block_bytes * (e / 256);
            int code = 0, scale = 0;
            q6_K_block(block, static_cast<int>(e % 256), code, scale);
            isum += code * qe;
            sw = gg::fp16_to_fp32(static_cast<std::uint16_t>(block[208] | (block[209] << 8))) * static_cast<float>(scale);
            continue;
          }
          const std::uint8_t* block = row + block_bytes * (e / 32);
          sw = gg::fp16_to_fp32(static_cast<std::uint16_t>(block[0] | (block[1] << 8)));
          const int j = static_cast<int>(e % 32);
          const std::uint8_t nibbles = block[2 + j % 16];
          const int nibble = j < 16 ? (nibbles & 0x0F) : (nibbles >> 4);
          if (type == gg::Type::q8_0) {
            isum += static_cast<std::int8_t>(block[2 + j]) * qe;
          } else if (type == gg::Type::iq4_nl) {
            isum += gg::kIQ4Values[nibble] * qe;
          } else {
            isum += (nibble - 8) * qe;
          }
        }
        acc = std::fma(sw * dx[static_cast<std::size_t>(g)], static_cast<float>(isum), acc);
        if (type == gg::Type::q4_K) acc = std::fma(mw * dx[static_cast<std::size_t>(g)], -static_cast<float>(qsum), acc);
      }
      y[static_cast<std::size_t>(i * n + r)] = acc + (bias != nullptr ? bias[r] : 0.0f);
    }
  }
  return y;
}

}  // namespace eigenq_test
