// The GGUF files the eigenq tool writes, against ggml itself (label ggml-oracle; runs when
// EIGENQ_GGML_LIB_DIR names the folder holding libggml-base.so, skips otherwise):
//  - every file opens in ggml's gguf_init_from_file, which sees the keys, value types, values,
//    tensor names, types, dims, offsets and bytes eigenq's reader sees;
//  - every tensor holds the bytes ggml_quantize_chunk gives for the input's floats (F16/BF16
//    widened by ggml's own to_float) with the importance llama-quantize passes (in_sum2 / count
//    of the imatrix, one row per matrix), in the type llama.cpp's rules give it (fallbacks
//    included); tensors the tool copies hold the input's bytes.
// For 20 types, without and with an importance matrix (GGUF and legacy), from safetensors and
// from GGUF input.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli_gguf_test_util.hpp"
#include "cli_test_util.hpp"
#include "ggml/ggml_oracle.hpp"
#include "ggml_gguf_oracle.hpp"
#include "io_test_util.hpp"

namespace {

using cli_gguf::Tensor;
namespace gg = eigenq::ggml;
using gguf_oracle::Ggml;
using gguf_oracle::GgmlFile;

const eigenq_test::GgmlOracle* oracle() {
  static std::unique_ptr<eigenq_test::GgmlOracle> o = [] {
    std::string error;
    const char* dir = std::getenv("EIGENQ_GGML_LIB_DIR");
    return dir ? eigenq_test::GgmlOracle::open(dir, &error) : nullptr;
  }();
  return o.get();
}

// llama.cpp's tensor_type_fallback, written out again from src/llama-quant.cpp for the test.
gg::Type llama_type_for(gg::Type t, std::int64_t ne0) {
  if (ne0 % gg::block_size(t) == 0) return t;
  gg::Type f = gg::Type::f16;
  switch (t) {
    case gg::Type::iq4_xs: f = gg::Type::iq4_nl; break;
    case gg::Type::q2_K:
    case gg::Type::q3_K:
    case gg::Type::tq1_0:
    case gg::Type::tq2_0:
    case gg::Type::q2_0: f = gg::Type::q4_0; break;
    case gg::Type::q4_K: f = gg::Type::q5_0; break;
    case gg::Type::q5_K: f = gg::Type::q5_1; break;
    case gg::Type::q6_K: f = gg::Type::q8_0; break;
    default: ADD_FAILURE() << "no fallback for " << gg::type_name(t); break;
  }
  return ne0 % gg::block_size(f) == 0 ? f : gg::Type::f16;
}

struct Tally {
  int files = 0;
  int tensors = 0;
  int quantized = 0;
  int with_importance = 0;
  int fallbacks = 0;
  std::uint64_t bytes = 0;
  std::map<std::string, int> types;
};

// `out` (written by the tool from `model` with `type`, importance `entries` (or none), `rules`
// as --type-for) against ggml.
void expect_ggml_bytes(const std::string& out, const std::vector<Tensor>& model, gg::Type type, bool from_gguf,
                       const std::map<std::string, std::vector<float>>& importance,
                       const std::map<std::string, gg::Type>& overrides, Tally& tally) {
  const eigenq_test::GgmlOracle& o = *oracle();
  const Ggml& g = Ggml::get();
  const GgmlFile theirs(out);
  ASSERT_NE(theirs.ctx(), nullptr) << "ggml's gguf_init_from_file cannot read " << out;
  gguf_oracle::Tally same;
  gguf_oracle::expect_same_in_both(out, same);
  ASSERT_EQ(g.gguf_get_n_tensors(theirs.ctx()), static_cast<std::int64_t>(model.size()));
  for (std::size_t i = 0; i < model.size(); ++i) {
    const Tensor& t = model[i];
    SCOPED_TRACE(t.name);
    ASSERT_EQ(std::string(g.gguf_get_tensor_name(theirs.ctx(), static_cast<std::int64_t>(i))), t.name);
    const int got_type = g.gguf_get_tensor_type(theirs.ctx(), static_cast<std::int64_t>(i));
    const std::uint8_t* got = theirs.tensor_data(t.name.c_str());
    const std::size_t got_size = g.gguf_get_tensor_size(theirs.ctx(), static_cast<std::int64_t>(i));
    ++tally.tensors;
    tally.bytes += got_size;
    if (t.values.empty() || t.shape.size() < 2) {
      // Copied: integers as they are; vectors as they are from GGUF, as F32 from safetensors.
      std::vector<std::uint8_t> expected = t.bytes;
      int expected_type = static_cast<int>(cli_gguf::gguf_type(t.dtype));
      if (!t.values.empty() && !from_gguf) {
        expected.resize(t.values.size() * 4);
        o.to_float(expected_type, t.bytes.data(), reinterpret_cast<float*>(expected.data()), t.elements());
        expected_type = static_cast<int>(gg::Type::f32);
      }
      EXPECT_EQ(got_type, expected_type);
      ASSERT_EQ(got_size, expected.size());
      EXPECT_EQ(std::memcmp(got, expected.data(), expected.size()), 0);
      continue;
    }
    const auto over = overrides.find(t.name);
    const gg::Type wanted = over != overrides.end() ? over->second : type;
    const gg::Type expected_type = llama_type_for(wanted, t.ne0());
    tally.fallbacks += expected_type != wanted ? 1 : 0;
    ASSERT_EQ(got_type, static_cast<int>(expected_type)) << "wanted " << gg::type_name(wanted);
    // The floats as ggml widens them, quantized by ggml_quantize_chunk matrix by matrix, each
    // matrix with its importance row, as llama-quantize calls it.
    std::vector<float> x(static_cast<std::size_t>(t.elements()));
    o.to_float(static_cast<int>(cli_gguf::gguf_type(t.dtype)), t.bytes.data(), x.data(), t.elements());
    const std::int64_t ne0 = t.ne0();
    const std::int64_t ne1 = t.shape[t.shape.size() - 2];
    const std::int64_t matrices = t.elements() / (ne0 * ne1);
    const std::size_t row_size = o.row_size(static_cast<int>(expected_type), ne0);
    std::vector<std::uint8_t> expected(static_cast<std::size_t>(ne1 * matrices) * row_size);
    const auto imp = importance.find(t.name);
    for (std::int64_t m = 0; m < matrices; ++m) {
      const float* qw = imp != importance.end() ? imp->second.data() + m * ne0 : nullptr;
      o.quantize(static_cast<int>(expected_type), x.data() + m * ne0 * ne1, expected.data() + m * ne1 * row_size, ne1,
                 ne0, qw);
    }
    ASSERT_EQ(got_size, expected.size());
    EXPECT_EQ(std::memcmp(got, expected.data(), expected.size()), 0) << gg::type_name(expected_type);
    ++tally.quantized;
    tally.with_importance += imp != importance.end() && gg::uses_importance(expected_type) ? 1 : 0;
    ++tally.types[gg::type_name(expected_type)];
  }
  ++tally.files;
}

TEST(CliGgufOracle, FilesTheToolWritesAreGgmlsBytes) {
  SKIP_WITHOUT_GGML();
  ASSERT_NE(oracle(), nullptr);
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  cli_gguf::write_gguf(dir / "m.gguf", model);
  const auto entries = cli_gguf::small_model_imatrix();
  cli_gguf::write_imatrix_gguf(dir / "imatrix.gguf", entries);
  cli_gguf::write_imatrix_dat(dir / "imatrix.dat", entries);
  std::map<std::string, std::vector<float>> gguf_importance;
  std::map<std::string, std::vector<float>> dat_importance;
  for (const auto& e : entries) {
    gguf_importance[e.name] = e.importance();
    dat_importance[e.name] = cli_gguf::dat_importance(e);
  }
  const std::vector<gg::Type> types = {
      gg::Type::q8_0, gg::Type::q4_0, gg::Type::q4_1, gg::Type::q5_0,   gg::Type::q5_1,   gg::Type::q2_K,  gg::Type::q3_K,
      gg::Type::q4_K, gg::Type::q5_K, gg::Type::q6_K, gg::Type::iq4_nl, gg::Type::iq4_xs, gg::Type::tq1_0, gg::Type::tq2_0,
      gg::Type::mxfp4, gg::Type::nvfp4, gg::Type::q1_0, gg::Type::q2_0, gg::Type::f16,  gg::Type::bf16};
  Tally tally;
  for (const bool from_gguf : {false, true}) {
    for (const gg::Type type : types) {
      for (const char* imatrix : {"", "imatrix.gguf", "imatrix.dat"}) {
        if (std::string(imatrix) == "imatrix.dat" && type != gg::Type::q4_K && type != gg::Type::iq4_xs) continue;
        SCOPED_TRACE(std::string(gg::type_name(type)) + (from_gguf ? " from GGUF" : " from safetensors") + " " + imatrix);
        std::vector<std::string> args{"quantize", dir / (from_gguf ? "m.gguf" : "m.safetensors"), dir / "q.gguf", "--type",
                                      gg::type_name(type), "--quiet", "--jobs", "2"};
        std::map<std::string, gg::Type> overrides;
        if (type == gg::Type::nvfp4 || type == gg::Type::q1_0) {  // no llama.cpp fallback for rows of 96
          args.insert(args.end(), {"--type-for", "attn_k=q8_0"});
          overrides["blk.0.attn_k.weight"] = gg::Type::q8_0;
        }
        if (*imatrix) args.insert(args.end(), {"--imatrix", dir / imatrix});
        const cli_test::Result r = cli_test::run(args);
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const auto& importance = !*imatrix ? std::map<std::string, std::vector<float>>{}
                                 : std::string(imatrix) == "imatrix.gguf" ? gguf_importance : dat_importance;
        expect_ggml_bytes(dir / "q.gguf", model, type, from_gguf, importance, overrides, tally);
      }
    }
  }
  std::string per_type;
  for (const auto& [name, n] : tally.types) per_type += " " + name + ":" + std::to_string(n);
  std::cout << "ggml " << Ggml::get().ggml_version() << ": " << tally.files << " files the tool wrote, " << tally.tensors
            << " tensors, " << tally.bytes << " bytes; " << tally.quantized << " quantized tensors equal to "
            << "ggml_quantize_chunk (" << tally.with_importance << " with importance, " << tally.fallbacks
            << " after a fallback); by type:" << per_type << "\n";
}

}  // namespace
