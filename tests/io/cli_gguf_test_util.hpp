// Models and importance matrices for the tests of the tool's GGUF path (cli_gguf_test.cpp and,
// against ggml itself, cli_gguf_oracle_test.cpp): the same small "language model" written as
// safetensors or as GGUF, with the exact floats the tool quantizes, and llama.cpp importance
// matrices in both formats with the importance llama-quantize derives from them.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "eigenq/ggml/row.hpp"
#include "eigenq/io/gguf.hpp"
#include "eigenq/io/safetensors.hpp"
#include "io_test_util.hpp"

namespace cli_gguf {

namespace gg = eigenq::ggml;
using eigenq::io::DType;

// One tensor: its storage (dtype, or a ggml type for GGUF-only ones), shape (row-major) and
// bytes, and the float32 values of a float tensor (what the tool quantizes).
struct Tensor {
  std::string name;
  DType dtype = DType::f32;
  eigenq::Shape shape;
  std::vector<std::uint8_t> bytes;
  std::vector<float> values;  // float tensors only

  std::int64_t ne0() const { return shape.empty() ? 1 : shape.back(); }
  std::int64_t elements() const { return eigenq::element_count(shape); }
  std::vector<std::int64_t> ne() const {
    std::vector<std::int64_t> out(shape.rbegin(), shape.rend());
    if (out.empty()) out.push_back(1);
    return out;
  }
};

// A float tensor of Gaussian values stored as `dtype` (F32, F16 or BF16): `values` are then the
// stored values widened exactly, as the tool reads them.
inline Tensor float_tensor(const std::string& name, DType dtype, eigenq::Shape shape, unsigned seed, float scale = 1.0f) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  const auto n = static_cast<std::size_t>(eigenq::element_count(t.shape));
  std::mt19937 gen(seed);
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> x(n);
  for (float& v : x) v = g(gen);
  const gg::Type type = dtype == DType::f16 ? gg::Type::f16 : dtype == DType::bf16 ? gg::Type::bf16 : gg::Type::f32;
  t.bytes.resize(n * static_cast<std::size_t>(gg::type_size(type)));
  gg::quantize_rows(type, x.data(), t.bytes.data(), 1, static_cast<eigenq::Index>(n), nullptr);
  t.values.resize(n);
  gg::dequantize_row(type, t.bytes.data(), t.values.data(), static_cast<eigenq::Index>(n));
  return t;
}

inline Tensor int_tensor(const std::string& name, std::vector<std::int32_t> ids) {
  Tensor t;
  t.name = name;
  t.dtype = DType::i32;
  t.shape = {static_cast<eigenq::Index>(ids.size())};
  t.bytes.resize(ids.size() * 4);
  std::memcpy(t.bytes.data(), ids.data(), t.bytes.size());
  return t;
}

// A small model with what llama.cpp's quantize meets: matrices whose rows are whole super-blocks
// (512, 256), rows of 96 (3 blocks of 32: the k-quants fall back), a 3-D expert weight, F16 and
// BF16 matrices, norm vectors (F32 and F16) and an integer tensor.
inline std::vector<Tensor> small_model() {
  return {
      float_tensor("token_embd.weight", DType::f16, {32, 256}, 1),
      float_tensor("blk.0.attn_norm.weight", DType::f32, {512}, 2),
      float_tensor("blk.0.attn_q.weight", DType::f32, {64, 512}, 3, 0.05f),
      float_tensor("blk.0.attn_k.weight", DType::f32, {16, 96}, 4, 2.0f),
      float_tensor("blk.0.ffn_up.weight", DType::bf16, {24, 256}, 5),
      float_tensor("blk.0.ffn_down_exps.weight", DType::f32, {2, 8, 256}, 6),
      float_tensor("output_norm.bias", DType::f16, {256}, 7),
      int_tensor("rope.ids", {0, 1, 2, 3}),
  };
}

inline void write_safetensors(const std::string& path, const std::vector<Tensor>& model) {
  std::vector<eigenq::io::OwnedTensor> owned;
  for (const Tensor& t : model) owned.push_back({t.name, t.dtype, t.shape, t.bytes});
  eigenq::io::write_safetensors(path, owned, {{"format", "pt"}});
}

inline gg::Type gguf_type(DType d) {
  switch (d) {
    case DType::f16: return gg::Type::f16;
    case DType::bf16: return gg::Type::bf16;
    case DType::i32: return gg::Type::i32;
    default: return gg::Type::f32;
  }
}

// The metadata a converted model carries (a few of llama.cpp's keys, arrays included).
inline eigenq::io::GgufMetadata model_metadata() {
  eigenq::io::GgufMetadata m;
  m.set("general.architecture", "llama");
  m.set("general.name", "tiny");
  m.set("general.alignment", std::uint32_t{64});
  m.set("llama.context_length", std::uint32_t{128});
  m.set("llama.rope.freq_base", 10000.0f);
  m.set("general.file_type", std::uint32_t{0});
  m.set("tokenizer.ggml.tokens", std::vector<std::string>{"<s>", "</s>", "a", "b"});
  m.set("tokenizer.ggml.scores", std::vector<float>{0.0f, 0.0f, -1.5f, -2.5f});
  m.set("tokenizer.ggml.add_bos_token", true);
  return m;
}

inline void write_gguf(const std::string& path, const std::vector<Tensor>& model,
                       const eigenq::io::GgufMetadata& m = model_metadata()) {
  std::vector<eigenq::io::GgufOwnedTensor> owned;
  for (const Tensor& t : model) owned.push_back({t.name, gguf_type(t.dtype), t.ne(), t.bytes});
  eigenq::io::write_gguf(path, m, owned);
}

// An importance matrix entry as llama-imatrix accumulates it: per matrix, sums of squares of
// ne0 columns and the number of rows seen.
struct ImatrixEntry {
  std::string name;
  std::int64_t ne0 = 0;
  std::vector<float> in_sum2;  // ne0 x matrices
  std::vector<float> counts;   // per matrix

  // llama-quantize's quant_weights: in_sum2 / count (float division), 1 where a count is 0.
  std::vector<float> importance() const {
    std::vector<float> out(in_sum2.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
      const float c = counts[k / static_cast<std::size_t>(ne0)];
      out[k] = c > 0.0f ? in_sum2[k] / c : 1.0f;
    }
    return out;
  }
};

inline ImatrixEntry imatrix_entry(const std::string& name, std::int64_t ne0, std::vector<float> counts, unsigned seed) {
  ImatrixEntry e;
  e.name = name;
  e.ne0 = ne0;
  e.counts = std::move(counts);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  e.in_sum2.resize(static_cast<std::size_t>(ne0) * e.counts.size());
  for (std::size_t k = 0; k < e.in_sum2.size(); ++k) {
    const float c = e.counts[k / static_cast<std::size_t>(ne0)];
    const float v = u(gen);
    e.in_sum2[k] = c * (0.01f + 4.0f * v * v * v);  // a few loud columns
  }
  return e;
}

// Entries for the small model's weights (not for blk.0.attn_k.weight: quantized without).
inline std::vector<ImatrixEntry> small_model_imatrix() {
  return {imatrix_entry("token_embd.weight", 256, {40}, 11), imatrix_entry("blk.0.attn_q.weight", 512, {40}, 12),
          imatrix_entry("blk.0.ffn_up.weight", 256, {40}, 13),
          imatrix_entry("blk.0.ffn_down_exps.weight", 256, {25, 15}, 14)};
}

inline void write_imatrix_gguf(const std::string& path, const std::vector<ImatrixEntry>& entries) {
  eigenq::io::GgufMetadata m;
  m.set("general.type", "imatrix");
  m.set("imatrix.datasets", std::vector<std::string>{"tiny.txt"});
  m.set("imatrix.chunk_count", std::uint32_t{10});
  m.set("imatrix.chunk_size", std::uint32_t{4});
  std::vector<eigenq::io::GgufOwnedTensor> owned;
  for (const ImatrixEntry& e : entries) {
    const auto n_mat = static_cast<std::int64_t>(e.counts.size());
    std::vector<std::uint8_t> sums(e.in_sum2.size() * 4);
    std::memcpy(sums.data(), e.in_sum2.data(), sums.size());
    std::vector<std::uint8_t> counts(e.counts.size() * 4);
    std::memcpy(counts.data(), e.counts.data(), counts.size());
    owned.push_back({e.name + ".in_sum2", gg::Type::f32, n_mat > 1 ? std::vector<std::int64_t>{e.ne0, n_mat}
                                                                    : std::vector<std::int64_t>{e.ne0},
                     sums});
    owned.push_back({e.name + ".counts", gg::Type::f32, n_mat > 1 ? std::vector<std::int64_t>{1, n_mat}
                                                                   : std::vector<std::int64_t>{1},
                     counts});
  }
  eigenq::io::write_gguf(path, m, owned);
}

// The legacy format: llama.cpp stored value = in_sum2 / count * ncall, and reads value / ncall
// (experts are not told apart; one ncall for all). With ncall = count of the first matrix the
// importance is (in_sum2 / count * ncall) / ncall.
inline void write_imatrix_dat(const std::string& path, const std::vector<ImatrixEntry>& entries) {
  std::vector<std::uint8_t> b;
  auto i32 = [&](std::int32_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
  };
  auto f32 = [&](float v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
  };
  i32(static_cast<std::int32_t>(entries.size()));
  for (const ImatrixEntry& e : entries) {
    i32(static_cast<std::int32_t>(e.name.size()));
    b.insert(b.end(), e.name.begin(), e.name.end());
    const auto ncall = static_cast<std::int32_t>(e.counts[0]);
    i32(ncall);
    i32(static_cast<std::int32_t>(e.in_sum2.size()));
    for (std::size_t k = 0; k < e.in_sum2.size(); ++k) {
      f32(e.in_sum2[k] / e.counts[k / static_cast<std::size_t>(e.ne0)] * static_cast<float>(ncall));
    }
  }
  i32(10);
  i32(8);
  b.insert(b.end(), {'t', 'i', 'n', 'y', '.', 't', 'x', 't'});
  io_test::write_bytes(path, b);
}

// The legacy file's importance, as llama-quantize reads it: value / ncall.
inline std::vector<float> dat_importance(const ImatrixEntry& e) {
  std::vector<float> out(e.in_sum2.size());
  const float ncall = static_cast<float>(static_cast<std::int32_t>(e.counts[0]));
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k] = e.in_sum2[k] / e.counts[k / static_cast<std::size_t>(e.ne0)] * ncall / ncall;
  }
  return out;
}

}  // namespace cli_gguf
