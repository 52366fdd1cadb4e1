// ggml's block formats at kernel speed: y = x W^T + bias with W the N rows of K values of a GGUF
// weight tensor in one of ggml's block types and x float (M x K), quantized per block the way
// ggml's CPU backend quantizes it before its dot products.
//
//   auto w = eigenq::ggml::pack_weights(eigenq::ggml::Type::q4_0, tensor_bytes, N, K);
//   eigenq::ggml::mul_mat(x, M, K, w, bias, y, N);
//
// Types with a kernel (has_kernel): q4_0, q8_0, iq4_nl, q4_K and q6_K. A q4_0 block (32 codes
// 0..15 meaning (q - 8) * d, d an fp16) is eigenq's int4 format with fp16 scales per group of
// 32, an iq4_nl block the same nibbles meaning kIQ4Values[q] * d (the int4 kernels reading their
// codes through that table: gemv_int4_table_quantized), a q4_K block (256 codes 0..15, per 32 a
// 6-bit scale and minimum under fp16 d and dmin) the int4 format with minimums, f32 scales
// d * sc and minimums dmin * m (exact; gemv_int4_min_quantized), a q8_0 block (32 int8 codes q
// meaning q * d) the grouped int8 format, and a q6_K block (256 codes q - 32 in [-32, 31], an
// int8 scale per 16, an fp16 d) the grouped int8 format with groups of 16 and f32 scales
// d * scale (exact), so
// pack_weights repacks them for those kernels (kernels/gemv_int4.hpp, gemv_grouped_int8.hpp:
// scalar, AVX2, AVX-512 VNNI, NEON, bit for bit the same, on any number of threads; q6_K then
// takes 10 bits a weight in memory, ggml's layout 6.56). mul_mat quantizes the activations as
// ggml's CPU backend does before the dot products:
//   Q8_0 (q4_0, q8_0, iq4_nl): per 32, d = amax / 127 stored as fp16, codes round(x / (amax / 127))
//     to nearest, ties to even (ggml's AVX and NEON paths; its portable C reference rounds ties
//     away from zero, and its x86 path takes 127 / amax for 1 / d, which may differ in the
//     last bit);
//   Q8_K (q4_K, q6_K): k_quants.hpp's quantize_row_q8_K, ggml's reference: per 256,
//     d = max / -127 with max the value of largest magnitude, codes nearest_int(x * -127 / max).
// Then, per row and channel, over the weight groups (32, or 16 for q6_K) in order:
//   isum = sum_j c_j * q_j  (c_j: q4_j - 8, kIQ4Values[q4_j], the q4_K nibble or the int8 code)
//   acc  = fma(s_w * d_x, float(isum), acc)        (s_w: the group's weight scale; acc from +0.0f)
//   acc  = fma(m_w * d_x, -float(sum_j q_j), acc)  (q4_K only: m_w the group's minimum)
//   y    = acc + bias
// ggml's dot products compute the same terms (q6_K sums its 16 groups in integers first) and
// add them in their own SIMD order, so the two agree to float rounding
// (tests/ggml/ggml_oracle_test.cpp measures it against ggml).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/ggml/blocks.hpp"
#include "eigenq/ggml/float_formats.hpp"
#include "eigenq/ggml/iq4.hpp"
#include "eigenq/ggml/k_quants.hpp"
#include "eigenq/ggml/legacy_quants.hpp"
#include "eigenq/ggml/strict_fp.hpp"
#include "eigenq/ggml/type.hpp"
#include "eigenq/kernels/aligned_buffer.hpp"
#include "eigenq/kernels/gemv_grouped_int8.hpp"
#include "eigenq/kernels/gemv_int4.hpp"

namespace eigenq {
namespace ggml {

// True when mul_mat runs `type` on a kernel (the others decode to float: nn::GgmlLinear).
inline bool has_kernel(Type type) {
  return type == Type::q4_0 || type == Type::q8_0 || type == Type::iq4_nl || type == Type::q4_K || type == Type::q6_K;
}

// The rows of a ggml weight tensor, repacked for the kernel of their type.
class PackedWeights {
 public:
  PackedWeights() = default;
  Type type() const { return type_; }
  bool has_int8_codes() const { return type_ == Type::q8_0 || type_ == Type::q6_K; }
  Index rows() const { return has_int8_codes() ? int8_.cols() : int4_.cols(); }     // N, output channels
  Index cols() const { return has_int8_codes() ? int8_.depth() : int4_.depth(); }   // K, inputs
  std::size_t bytes() const { return has_int8_codes() ? int8_.bytes() : int4_.bytes(); }
  const kernels::PackedInt4Weights& int4() const { return int4_; }  // q4_0, iq4_nl (nibble - 8), q4_K (mins)
  const kernels::PackedGroupedInt8Weights& int8() const { return int8_; }   // q8_0; q6_K (G = 16)

 private:
  friend PackedWeights pack_weights(Type, const void*, Index, Index);
  Type type_ = Type::q4_0;
  kernels::PackedInt4Weights int4_;
  kernels::PackedGroupedInt8Weights int8_;
};

// Packs n rows of k values of `type` (n * row_size(type, k) bytes at `rows`, ggml's layout).
// A type without a kernel, k not a whole number of blocks or a non-finite block scale raise
// an Error naming it; nothing is kept then.
inline PackedWeights pack_weights(Type type, const void* rows, Index n, Index k) {
  if (!has_kernel(type)) {
    raise("ggml::pack_weights: type ", type_name(type),
          " has no kernel yet (has_kernel: q4_0, q8_0, iq4_nl, q4_K, q6_K)");
  }
  if (n < 0 || k < 0) raise<ShapeError>("ggml::pack_weights: W is ", n, " x ", k, "; sizes must be >= 0");
  const Index block = block_size(type);
  if (k % block != 0) {
    raise<ShapeError>("ggml::pack_weights: K = ", k, " is not a multiple of ", type_name(type), "'s ", block,
                      "-value blocks");
  }
  if (n > 0 && k > 0 && rows == nullptr) raise("ggml::pack_weights: rows is null but W is ", n, " x ", k);
  PackedWeights w;
  w.type_ = type;
  if (type == Type::q6_K) {
    // Codes q - 32 with one f32 scale d * scales[j] per 16 (exact: 11 by 8 significant bits).
    const Index groups = k / 16;
    std::vector<std::int8_t> codes(static_cast<std::size_t>(n * k));
    std::vector<float> scales(static_cast<std::size_t>(n * groups));
    for (Index r = 0; r < n; ++r) {
      for (Index b = 0; b < k / kSuperBlock; ++b) {
        const auto sb = detail::get_block<BlockQ6_K>(rows, r * (k / kSuperBlock) + b);
        q6_K_codes(sb, codes.data() + r * k + kSuperBlock * b);
        const float d = fp16_to_fp32(load_le16(sb.d));
        for (int j = 0; j < 16; ++j) {
          scales[static_cast<std::size_t>(r * groups + 16 * b + j)] = d * static_cast<float>(sb.scales[j]);
        }
      }
    }
    try {
      w.int8_ = kernels::pack_grouped_int8_weights(codes.data(), n, k, k, scales.data(), groups, 16,
                                                   kernels::ScaleType::f32);
    } catch (const NonFiniteError& e) {
      raise<NonFiniteError>("ggml::pack_weights: a q6_K block scale of the tensor is not finite (", e.what(), ")");
    }
    return w;
  }
  if (type == Type::q4_K) {
    // Codes 0..15 with a scale d * sc and a minimum dmin * m per 32 (both exact in f32).
    const Index groups = k / 32;
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(n * k));
    std::vector<float> scales(static_cast<std::size_t>(n * groups)), mins(scales.size());
    for (Index r = 0; r < n; ++r) {
      for (Index b = 0; b < k / kSuperBlock; ++b) {
        const auto sb = detail::get_block<BlockQ4_K>(rows, r * (k / kSuperBlock) + b);
        const float d = fp16_to_fp32(load_le16(sb.d));
        const float dmin = fp16_to_fp32(load_le16(sb.dmin));
        unpack_nibbles_k(sb.qs, codes.data() + r * k + kSuperBlock * b);
        for (int j = 0; j < 8; ++j) {
          int sc, m;
          detail::unpack_scale_min_k4(j, sb.scales, &sc, &m);
          scales[static_cast<std::size_t>(r * groups + 8 * b + j)] = d * static_cast<float>(sc);
          mins[static_cast<std::size_t>(r * groups + 8 * b + j)] = dmin * static_cast<float>(m);
        }
      }
    }
    try {
      w.int4_ = kernels::pack_int4_weights_with_mins(codes.data(), n, k, k, scales.data(), mins.data(), groups, 32,
                                                     kernels::ScaleType::f32);
    } catch (const NonFiniteError& e) {
      raise<NonFiniteError>("ggml::pack_weights: a q4_K block scale of the tensor is not finite (", e.what(), ")");
    }
    return w;
  }
  const Index blocks = k / 32;
  std::vector<std::int8_t> codes(static_cast<std::size_t>(n * k));
  std::vector<float> scales(static_cast<std::size_t>(n * blocks));
  for (Index r = 0; r < n; ++r) {
    for (Index b = 0; b < blocks; ++b) {
      std::int8_t* c = codes.data() + r * k + 32 * b;
      float& scale = scales[static_cast<std::size_t>(r * blocks + b)];
      if (type == Type::q8_0) {
        const auto block = detail::get_block<BlockQ8_0>(rows, r * blocks + b);
        scale = fp16_to_fp32(load_le16(block.d));
        std::memcpy(c, block.qs, 32);
      } else {
        // q4_0 and iq4_nl blocks: an fp16 d and 32 nibbles; iq4_nl's nibble indexes kIQ4Values
        // (iq4.hpp), which the table codes read from nibble - 8 + 8.
        static_assert(sizeof(BlockQ4_0) == sizeof(BlockIQ4_NL), "q4_0 and iq4_nl blocks share a layout");
        const auto block = detail::get_block<BlockQ4_0>(rows, r * blocks + b);
        scale = fp16_to_fp32(load_le16(block.d));
        std::uint8_t nibbles[32];
        unpack_nibbles_32(block.qs, nibbles);
        for (int j = 0; j < 32; ++j) c[j] = static_cast<std::int8_t>(nibbles[j] - 8);
      }
    }
  }
  try {
    if (type == Type::q8_0) {
      w.int8_ = kernels::pack_grouped_int8_weights(codes.data(), n, k, k, scales.data(), blocks, 32, kernels::ScaleType::f16);
    } else {
      w.int4_ = kernels::pack_int4_weights(codes.data(), n, k, k, scales.data(), blocks, 32, kernels::ScaleType::f16);
    }
  } catch (const NonFiniteError& e) {
    raise<NonFiniteError>("ggml::pack_weights: a ", type_name(type), " block scale of the tensor is not finite (",
                          e.what(), ")");
  }
  return w;
}

EIGENQ_GGML_STRICT_FP_BEGIN

// The weights w packs, as ggml decodes its blocks (ggml::dequantize_row's bits): n x k floats,
// row-major, into out.
inline void dequantize(const PackedWeights& w, float* out) {
  const Index n = w.rows(), k = w.cols();
  for (Index r = 0; r < n; ++r) {
    for (Index c = 0; c < k; ++c) {
      float v;
      if (w.has_int8_codes()) {
        const auto& p = w.int8();
        v = static_cast<float>(p.code(r, c)) * p.scale(r, c / p.group_size());
      } else {
        const auto& p = w.int4();
        const Index g = c / p.group_size();
        if (w.type() == Type::q4_K) {
          v = p.scale(r, g) * static_cast<float>(p.code(r, c)) - p.min(r, g);  // two roundings, as ggml
        } else if (w.type() == Type::iq4_nl) {
          v = static_cast<float>(kIQ4Values[p.code(r, c) + 8]) * p.scale(r, g);
        } else {
          v = static_cast<float>(p.code(r, c)) * p.scale(r, g);
        }
      }
      out[r * k + c] = v;
    }
  }
}

EIGENQ_GGML_STRICT_FP_END

// y(i, j) = y[i * ldy + j] = sum_k x(i, k) W(j, k) + bias(j) as in the header comment, with
// x(i, k) = x[i * ldx + k]; bias holds N values or is null; threads as in kernels::gemv_int4.
inline void mul_mat(const float* x, Index m, Index ldx, const PackedWeights& w, const float* bias, float* y,
                    Index ldy, int threads = 1) {
  const Index k = w.cols();
  if (m < 0) raise<ShapeError>("ggml::mul_mat: M = ", m, " must be >= 0");
  if (m > 0 && k > 0 && x == nullptr) raise("ggml::mul_mat: x is null but ", m, " x ", k);
  if (m > 1 && ldx < k) raise<ShapeError>("ggml::mul_mat: ldx = ", ldx, " is less than K = ", k);
  thread_local kernels::AlignedBuffer<std::int8_t> q;
  thread_local kernels::AlignedBuffer<float> d;
  thread_local kernels::AlignedBuffer<std::int32_t> sums;
  // Q8_K for the k-quants (one scale per 256, spread over its 16-value groups), else Q8_0.
  const bool q8_K = w.type() == Type::q6_K || w.type() == Type::q4_K;
  const Index group = w.type() == Type::q6_K ? 16 : 32;
  const Index groups = k / group;
  q.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * k)));
  d.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  sums.reserve_uninitialized(static_cast<std::size_t>(std::max<Index>(1, m * groups)));
  if (q8_K) {
    thread_local std::vector<float> block_scales;
    block_scales.resize(static_cast<std::size_t>(k / kSuperBlock));
    for (Index i = 0; i < m; ++i) {
      std::int8_t* qi = q.data() + i * k;
      quantize_row_q8_K(x + i * ldx, qi, block_scales.data(), k);
      for (Index g = 0; g < groups; ++g) {
        std::int32_t sum = 0;
        for (Index j = 0; j < group; ++j) sum += qi[g * group + j];
        d.data()[i * groups + g] = block_scales[static_cast<std::size_t>(g * group / kSuperBlock)];
        sums.data()[i * groups + g] = sum;
      }
    }
  } else {
    kernels::quantize_int4_activations(x, m, ldx, k, 32, q.data(), d.data(), sums.data());
    // A Q8_0 block stores its scale as fp16: the products use the rounded scale.
    for (Index i = 0; i < m * groups; ++i) d.data()[i] = fp16_to_fp32(fp32_to_fp16(d.data()[i]));
  }
  const kernels::Int4ActivationGroups activations{q.data(), k, d.data(), sums.data()};
  if (w.has_int8_codes()) {
    kernels::gemv_grouped_int8_quantized(activations, m, w.int8(), bias, y, ldy, threads);
  } else if (w.type() == Type::iq4_nl) {
    kernels::gemv_int4_table_quantized(activations, m, w.int4(), kIQ4Values, bias, y, ldy, threads);
  } else if (w.type() == Type::q4_K) {
    kernels::gemv_int4_min_quantized(activations, m, w.int4(), bias, y, ldy, threads);
  } else {
    kernels::gemv_int4_quantized(activations, m, w.int4(), bias, y, ldy, threads);
  }
}

}  // namespace ggml
}  // namespace eigenq
