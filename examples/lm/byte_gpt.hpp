// The byte-level GPT of examples/lm/train_lm.py, run with eigenq's layers: float, or with any
// of its Linear layers replaced by a quantized one. See train_lm.py for the architecture and
// the weight names.
#pragma once

#include <eigenq/io/safetensors.hpp>
#include <eigenq/nn/attention.hpp>
#include <eigenq/nn/float_linear.hpp>
#include <eigenq/nn/gelu.hpp>
#include <eigenq/nn/layer_norm.hpp>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lm {

using eigenq::Index;
using eigenq::nn::Matrix;

class ByteGpt {
 public:
  struct Config {
    Index width = 0;
    Index layers = 0;
    Index heads = 0;
    Index ctx = 0;
  };

  // Reads lm.safetensors (F16 or F32 weights, hyper-parameters in the metadata).
  static ByteGpt load(const std::string& path) {
    const eigenq::io::SafetensorsFile f(path);
    const auto& meta = f.metadata();
    auto number = [&](const char* key) -> Index {
      const auto it = meta.find(key);
      if (it == meta.end()) eigenq::raise<eigenq::FormatError>(path, ": metadata lacks '", key, "'");
      return std::stoll(it->second);
    };
    ByteGpt m;
    m.config_ = {number("width"), number("layers"), number("heads"), number("ctx")};
    auto matrix = [&](const std::string& name, Index rows, Index cols) {
      const auto v = f.tensor(name);
      if (v.info().shape != eigenq::Shape{rows, cols}) {
        eigenq::raise<eigenq::FormatError>(path, ": tensor '", name, "' has shape ", eigenq::to_string(v.info().shape),
                                           ", expected ", eigenq::to_string(eigenq::Shape{rows, cols}));
      }
      const std::vector<float> data = v.to_float();
      return Eigen::MatrixXf(Eigen::Map<const Matrix>(data.data(), rows, cols));
    };
    auto vec = [&](const std::string& name, Index n) {
      const auto v = f.tensor(name);
      if (v.info().shape != eigenq::Shape{n}) {
        eigenq::raise<eigenq::FormatError>(path, ": tensor '", name, "' has shape ", eigenq::to_string(v.info().shape),
                                           ", expected [", n, "]");
      }
      const std::vector<float> data = v.to_float();
      return Eigen::VectorXf(Eigen::Map<const Eigen::VectorXf>(data.data(), n));
    };
    const Index d = m.config_.width;
    m.wte_ = matrix("wte", 256, d);
    m.wpe_ = matrix("wpe", m.config_.ctx, d);
    auto layer_norm = [&](const std::string& p) { return eigenq::nn::LayerNorm(vec(p + ".weight", d), vec(p + ".bias", d)); };
    auto linear = [&](const std::string& p, Index out, Index in) {
      return std::make_unique<eigenq::nn::FloatLinear>(matrix(p + ".weight", out, in), vec(p + ".bias", out));
    };
    for (Index i = 0; i < m.config_.layers; ++i) {
      const std::string b = "blocks." + std::to_string(i);
      Block blk;
      blk.ln1 = layer_norm(b + ".ln1");
      blk.ln2 = layer_norm(b + ".ln2");
      blk.qkv = linear(b + ".attn.qkv", 3 * d, d);
      blk.proj = linear(b + ".attn.proj", d, d);
      blk.fc = linear(b + ".mlp.fc", 4 * d, d);
      blk.fc_proj = linear(b + ".mlp.proj", d, 4 * d);
      m.blocks_.push_back(std::move(blk));
    }
    m.ln_f_ = layer_norm("ln_f");
    return m;
  }

  ByteGpt() = default;
  ByteGpt(const ByteGpt& o) { *this = o; }
  ByteGpt& operator=(const ByteGpt& o) {
    if (this == &o) return *this;
    config_ = o.config_;
    wte_ = o.wte_;
    wpe_ = o.wpe_;
    ln_f_ = o.ln_f_;
    blocks_.clear();
    for (const Block& b : o.blocks_) {
      blocks_.push_back(Block{b.ln1, b.ln2, b.qkv->clone(), b.proj->clone(), b.fc->clone(), b.fc_proj->clone()});
    }
    return *this;
  }
  ByteGpt(ByteGpt&&) noexcept = default;
  ByteGpt& operator=(ByteGpt&&) noexcept = default;

  const Config& config() const { return config_; }
  const Eigen::MatrixXf& token_embeddings() const { return wte_; }     // [256, width], also the head
  const Eigen::MatrixXf& position_embeddings() const { return wpe_; }  // [ctx, width]

  // The Linear layers in order, named as their weights are without ".weight":
  // blocks.<i>.attn.qkv, blocks.<i>.attn.proj, blocks.<i>.mlp.fc, blocks.<i>.mlp.proj.
  std::vector<std::string> linear_names() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      for (const char* s : {".attn.qkv", ".attn.proj", ".mlp.fc", ".mlp.proj"}) out.push_back("blocks." + std::to_string(i) + s);
    }
    return out;
  }

  const eigenq::nn::Module& linear(const std::string& name) const { return *const_cast<ByteGpt*>(this)->slot(name); }

  // Replaces the Linear layer `name` (see linear_names()).
  void set_linear(const std::string& name, std::unique_ptr<eigenq::nn::Module> layer) { slot(name) = std::move(layer); }

  // The LayerNorms by name: blocks.<i>.ln1 (before attn.qkv), blocks.<i>.ln2 (before mlp.fc),
  // ln_f. AWQ and SmoothQuant fold input scales into them (set_layer_norm).
  const eigenq::nn::LayerNorm& layer_norm(const std::string& name) const {
    return *const_cast<ByteGpt*>(this)->norm_slot(name);
  }
  void set_layer_norm(const std::string& name, eigenq::nn::LayerNorm ln) {
    eigenq::nn::LayerNorm* slot = norm_slot(name);
    if (ln.features() != slot->features()) {
      eigenq::raise<eigenq::ShapeError>("ByteGpt: LayerNorm '", name, "' of ", ln.features(), " features, expected ",
                                        slot->features());
    }
    *slot = std::move(ln);
  }

  // Called with each Linear layer's name and input, in order, during forward().
  using LinearInputHook = std::function<void(const std::string& name, const Matrix& input)>;

  // Next-byte logits [t, 256] of a sequence of t <= ctx bytes.
  Matrix forward(const std::uint8_t* bytes, Index t, const LinearInputHook& hook = {}) const {
    Matrix x = embed(bytes, t);
    for (std::size_t i = 0; i < blocks_.size(); ++i) run_block(i, x, hook);
    return head(x);
  }

  // forward() in three steps: the embeddings [t, d] of t <= ctx bytes, block i applied to the
  // residual stream x in place, and the logits of the final stream.
  Matrix embed(const std::uint8_t* bytes, Index t) const {
    if (t <= 0 || t > config_.ctx) eigenq::raise<eigenq::ShapeError>("ByteGpt: sequence of ", t, " bytes (1..", config_.ctx, ")");
    Matrix x(t, config_.width);
    for (Index i = 0; i < t; ++i) x.row(i) = wte_.row(bytes[i]) + wpe_.row(i);
    return x;
  }
  void run_block(std::size_t i, Matrix& x, const LinearInputHook& hook = {}) const {
    const auto run = [&](const eigenq::nn::Module& layer, const std::string& name, const Matrix& in) {
      if (hook) hook(name, in);
      return layer.forward(in);
    };
    const Block& b = blocks_.at(i);
    const std::string p = "blocks." + std::to_string(i);
    const Matrix attn = eigenq::nn::causal_self_attention(run(*b.qkv, p + ".attn.qkv", b.ln1.forward(x)), config_.heads);
    x += run(*b.proj, p + ".attn.proj", attn);
    const Matrix hidden = gelu_.forward(run(*b.fc, p + ".mlp.fc", b.ln2.forward(x)));
    x += run(*b.fc_proj, p + ".mlp.proj", hidden);
  }
  Matrix head(const Matrix& x) const { return ln_f_.forward(x) * wte_.transpose(); }
  std::size_t blocks() const { return blocks_.size(); }

  // Bytes stored for the Linear layers (everything their modules hold: codes, scales, zero
  // points, tables, biases, input scales) and their weight count.
  std::size_t linear_bytes() const {
    std::size_t bytes = 0;
    for (const std::string& n : linear_names()) bytes += linear(n).weight_bytes();
    return bytes;
  }
  Index linear_weight_count() const {
    Index count = 0;
    for (const std::string& n : linear_names()) count += linear(n).weight_count();
    return count;
  }

  // Bytes of every stored weight and parameter (embeddings and norms in float32).
  std::size_t weight_bytes() const {
    std::size_t bytes = sizeof(float) * static_cast<std::size_t>(wte_.size() + wpe_.size()) + ln_f_.weight_bytes();
    for (const Block& b : blocks_) {
      bytes += b.ln1.weight_bytes() + b.ln2.weight_bytes() + b.qkv->weight_bytes() + b.proj->weight_bytes() +
               b.fc->weight_bytes() + b.fc_proj->weight_bytes();
    }
    return bytes;
  }

 private:
  struct Block {
    eigenq::nn::LayerNorm ln1, ln2;
    std::unique_ptr<eigenq::nn::Module> qkv, proj, fc, fc_proj;
  };

  eigenq::nn::LayerNorm* norm_slot(const std::string& name) {
    if (name == "ln_f") return &ln_f_;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const std::string p = "blocks." + std::to_string(i);
      if (name == p + ".ln1") return &blocks_[i].ln1;
      if (name == p + ".ln2") return &blocks_[i].ln2;
    }
    eigenq::raise("ByteGpt: no LayerNorm named '", name, "'");
  }

  std::unique_ptr<eigenq::nn::Module>& slot(const std::string& name) {
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const std::string p = "blocks." + std::to_string(i);
      if (name == p + ".attn.qkv") return blocks_[i].qkv;
      if (name == p + ".attn.proj") return blocks_[i].proj;
      if (name == p + ".mlp.fc") return blocks_[i].fc;
      if (name == p + ".mlp.proj") return blocks_[i].fc_proj;
    }
    eigenq::raise("ByteGpt: no Linear layer named '", name, "'");
  }

  Config config_;
  Eigen::MatrixXf wte_, wpe_;  // [256, d], [ctx, d]
  std::vector<Block> blocks_;
  eigenq::nn::LayerNorm ln_f_;
  eigenq::nn::GELU gelu_;
};

}  // namespace lm
