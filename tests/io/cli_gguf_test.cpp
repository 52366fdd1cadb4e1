// The eigenq tool's GGUF path: quantize IN OUT.gguf --type/--type-for/--imatrix/--metadata from
// safetensors and GGUF inputs, report --type, dequantize and inspect of GGUF files, the usage
// errors, and the bad-input corpus (tests/io/data/gguf_bad) through inspect and quantize. The
// bytes are checked against eigenq's own ggml quantizer here; cli_gguf_oracle_test.cpp checks
// them against ggml itself.
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_gguf_test_util.hpp"
#include "cli_test_util.hpp"
#include "eigenq/analysis/metrics.hpp"
#include "eigenq/io.hpp"
#include "io_test_util.hpp"

namespace {

using cli_gguf::Tensor;
using cli_test::expect_exit_2;
using cli_test::Result;
using cli_test::run;
using eigenq::io::GgufFile;
using eigenq::io::GgufType;
namespace gg = eigenq::ggml;

const Tensor& find(const std::vector<Tensor>& model, const std::string& name) {
  for (const Tensor& t : model) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

// What eigenq's ggml quantizer gives for t's floats, matrix by matrix with its importance row.
std::vector<std::uint8_t> expected_bytes(const Tensor& t, gg::Type type, const std::vector<float>& importance = {}) {
  const std::int64_t ne0 = t.ne0();
  const std::int64_t rows = t.elements() / ne0;
  const std::int64_t per_matrix = t.shape.size() >= 2 ? t.shape[t.shape.size() - 2] : 1;
  const std::int64_t row_bytes = gg::row_size(type, ne0);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows * row_bytes));
  for (std::int64_t m = 0; m * per_matrix < rows; ++m) {
    gg::quantize_rows(type, t.values.data() + m * per_matrix * ne0, out.data() + m * per_matrix * row_bytes, per_matrix,
                      ne0, importance.empty() ? nullptr : importance.data() + m * ne0);
  }
  return out;
}

std::vector<std::uint8_t> bytes_of(const GgufFile& f, const std::string& name) {
  const auto v = f.tensor(name);
  return std::vector<std::uint8_t>(v.data(), v.data() + v.bytes());
}

std::string ok(const Result& r) { return "exit " + std::to_string(r.exit_code) + "\n" + r.out + r.err; }

// ---- quantize to GGUF ----------------------------------------------------------------------

TEST(CliGguf, SafetensorsToGgufFollowsLlamaQuantize) {
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  const Result r = run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "Q4_K", "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  const GgufFile f(dir / "q.gguf");
  // Tensor order and types: q4_K where rows are whole super-blocks, llama.cpp's fallback q5_0
  // for rows of 96, vectors kept in F32 (the F16 one widened), integers copied.
  const std::vector<std::pair<std::string, gg::Type>> types = {
      {"token_embd.weight", gg::Type::q4_K},     {"blk.0.attn_norm.weight", gg::Type::f32},
      {"blk.0.attn_q.weight", gg::Type::q4_K},   {"blk.0.attn_k.weight", gg::Type::q5_0},
      {"blk.0.ffn_up.weight", gg::Type::q4_K},   {"blk.0.ffn_down_exps.weight", gg::Type::q4_K},
      {"output_norm.bias", gg::Type::f32},       {"rope.ids", gg::Type::i32}};
  ASSERT_EQ(f.tensors().size(), types.size());
  for (std::size_t i = 0; i < types.size(); ++i) {
    const auto& info = f.tensors()[i];
    SCOPED_TRACE(info.name);
    EXPECT_EQ(info.name, types[i].first);
    EXPECT_EQ(info.type, types[i].second);
    const Tensor& t = find(model, info.name);
    EXPECT_EQ(info.shape(), t.shape);
    if (t.dtype == eigenq::io::DType::i32) EXPECT_EQ(bytes_of(f, info.name), t.bytes);
    else EXPECT_EQ(bytes_of(f, info.name), expected_bytes(t, info.type));
  }
  // general.quantization_version and general.file_type as llama.cpp's quantize sets them.
  EXPECT_EQ(f.metadata().get<std::uint32_t>("general.quantization_version"), 2u);
  EXPECT_EQ(f.metadata().get<std::uint32_t>("general.file_type"), 15u);  // LLAMA_FTYPE_MOSTLY_Q4_K_M
  EXPECT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.alignment(), 32u);
  // The summary names the fallback and what stayed float.
  EXPECT_NE(r.out.find("fallback: blk.0.attn_k.weight: rows of 96 elements are not a whole number of q4_K blocks (256) -> "
                       "q5_0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("q5_0 (fallback from q4_K)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kept in float: 2 tensors of rank < 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("general.file_type = 15 (MOSTLY_Q4_K_M)"), std::string::npos) << r.out;
  // The same file for any --jobs, and for the type in any letter case.
  const auto first = io_test::read_bytes(dir / "q.gguf");
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q1.gguf", "--type", "q4_k", "--jobs", "1", "--quiet"}).exit_code, 0);
  EXPECT_EQ(io_test::read_bytes(dir / "q1.gguf"), first);
}

TEST(CliGguf, FallbacksAsLlamaCpp) {
  io_test::TempDir dir;
  std::vector<Tensor> model = {cli_gguf::float_tensor("w96", eigenq::io::DType::f32, {4, 96}, 1),
                               cli_gguf::float_tensor("w48", eigenq::io::DType::f32, {4, 48}, 2),
                               cli_gguf::float_tensor("w512", eigenq::io::DType::f32, {4, 512}, 3)};
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  // llama.cpp's tensor_type_fallback, and F16 when the fallback does not fit either.
  const std::vector<std::pair<const char*, std::vector<gg::Type>>> cases = {
      {"q2_K", {gg::Type::q4_0, gg::Type::f16, gg::Type::q2_K}},   {"q3_K", {gg::Type::q4_0, gg::Type::f16, gg::Type::q3_K}},
      {"q4_K", {gg::Type::q5_0, gg::Type::f16, gg::Type::q4_K}},   {"q5_K", {gg::Type::q5_1, gg::Type::f16, gg::Type::q5_K}},
      {"q6_K", {gg::Type::q8_0, gg::Type::f16, gg::Type::q6_K}},   {"iq4_xs", {gg::Type::iq4_nl, gg::Type::f16, gg::Type::iq4_xs}},
      {"tq1_0", {gg::Type::q4_0, gg::Type::f16, gg::Type::tq1_0}}, {"tq2_0", {gg::Type::q4_0, gg::Type::f16, gg::Type::tq2_0}},
      {"q2_0", {gg::Type::q4_0, gg::Type::f16, gg::Type::q2_0}}};
  for (const auto& [type, expected] : cases) {
    SCOPED_TRACE(type);
    const Result r = run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", type});
    ASSERT_EQ(r.exit_code, 0) << ok(r);
    const GgufFile f(dir / "q.gguf");
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(f.tensors()[i].type, expected[i]) << f.tensors()[i].name;
      EXPECT_EQ(bytes_of(f, model[i].name), expected_bytes(model[i], expected[i]));
    }
    EXPECT_NE(r.out.find("2 of 3 tensors fell back"), std::string::npos) << r.out;
  }
  // Types llama.cpp defines no fallback for: refused, naming the tensor, nothing written.
  ::unlink((dir / "q.gguf").c_str());
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q8_0"}),
                {"m.safetensors: tensor 'w48': rows of 48 elements are not a whole number of q8_0 blocks (32; --type)",
                 "defines no fallback for q8_0", "--type-for 'w48=f16'"});
  // --type-for gives it a type that fits; the first matching rule wins (w48 matches both
  // 'w48' and 'w4': q2_K, which falls back to q4_0 and then, rows of 48, to F16).
  const Result r = run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q8_0", "--type-for", "w48=Q2_K",
                        "--type-for", "w4=iq4_nl", "--type-for", "w9=q4_0", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  const GgufFile f(dir / "q.gguf");
  EXPECT_EQ(f.tensors()[0].type, gg::Type::q4_0);
  EXPECT_EQ(f.tensors()[1].type, gg::Type::f16);
  EXPECT_EQ(f.tensors()[2].type, gg::Type::q8_0);
  EXPECT_EQ(f.metadata().get<std::uint32_t>("general.file_type"), 7u);  // --type's: LLAMA_FTYPE_MOSTLY_Q8_0
  // The error for a --type-for type names the rule.
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q2.gguf", "--type", "f16", "--type-for", "w4=iq4_nl"}),
                {"tensor 'w48': rows of 48 elements are not a whole number of iq4_nl blocks (32; --type-for 'w4')"});
}

TEST(CliGguf, GgufInputKeepsItsPairsAndOrder) {
  io_test::TempDir dir;
  auto model = cli_gguf::small_model();
  // A tensor already in q8_0, and one in q4_0.
  Tensor q8 = cli_gguf::float_tensor("blk.1.attn_q.weight", eigenq::io::DType::f32, {4, 64}, 21);
  std::vector<std::uint8_t> q8_bytes(static_cast<std::size_t>(4 * gg::row_size(gg::Type::q8_0, 64)));
  gg::quantize_rows(gg::Type::q8_0, q8.values.data(), q8_bytes.data(), 4, 64, nullptr);
  std::vector<eigenq::io::GgufOwnedTensor> owned;
  for (const Tensor& t : model) owned.push_back({t.name, cli_gguf::gguf_type(t.dtype), t.ne(), t.bytes});
  owned.insert(owned.begin() + 3, {q8.name, gg::Type::q8_0, q8.ne(), q8_bytes});
  const eigenq::io::GgufMetadata meta = cli_gguf::model_metadata();
  eigenq::io::write_gguf(dir / "m.gguf", meta, owned);

  const Result r = run({"quantize", dir / "m.gguf", dir / "q.gguf", "--type", "q8_0", "--type-for", "attn_k=q8_0", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  const GgufFile in(dir / "m.gguf");
  const GgufFile f(dir / "q.gguf");
  // Every pair in its place (general.file_type replaced where it stood), then
  // general.quantization_version at the back; the input's alignment.
  ASSERT_EQ(f.metadata().size(), meta.size() + 1);
  for (std::size_t i = 0; i < meta.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, meta[i].key);
    if (meta[i].key == "general.file_type") EXPECT_EQ(f.metadata()[i].value.get<std::uint32_t>(), 7u);
    else EXPECT_TRUE(f.metadata()[i].value == meta[i].value) << meta[i].key;
  }
  EXPECT_EQ(f.metadata()[meta.size()].key, "general.quantization_version");
  EXPECT_EQ(f.alignment(), 64u);
  ASSERT_EQ(f.tensors().size(), in.tensors().size());
  for (std::size_t i = 0; i < f.tensors().size(); ++i) {
    const auto& t = f.tensors()[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, in.tensors()[i].name);
    EXPECT_EQ(t.ne, in.tensors()[i].ne);
    EXPECT_EQ(t.offset % 64, 0u);
    if (t.name == q8.name) {
      EXPECT_EQ(bytes_of(f, t.name), q8_bytes);  // already q8_0: copied
    } else if (t.name == "rope.ids" || t.ne.size() == 1) {
      EXPECT_EQ(t.type, in.tensors()[i].type);  // vectors (F16 too) and integers copied as they are
      EXPECT_EQ(bytes_of(f, t.name), bytes_of(in, t.name));
    } else {
      EXPECT_EQ(t.type, gg::Type::q8_0);
      EXPECT_EQ(bytes_of(f, t.name), expected_bytes(find(model, t.name), gg::Type::q8_0));
    }
  }
  // A q4_0 tensor is not quantized again (llama.cpp's quantize refuses too), unless left out.
  owned[3] = {q8.name, gg::Type::q4_0, q8.ne(), std::vector<std::uint8_t>(static_cast<std::size_t>(4 * 2 * 18), 0)};
  eigenq::io::write_gguf(dir / "m4.gguf", meta, owned);
  expect_exit_2(run({"quantize", dir / "m4.gguf", dir / "q4.gguf", "--type", "q8_0"}),
                {"m4.gguf: tensor 'blk.1.attn_q.weight': is already q4_0", "--exclude it"});
  ASSERT_EQ(run({"quantize", dir / "m4.gguf", dir / "q4.gguf", "--type", "q8_0", "--exclude", "blk\\.1", "--quiet"}).exit_code, 0);
  EXPECT_EQ(GgufFile(dir / "q4.gguf").tensors()[3].type, gg::Type::q4_0);
  // ... and eigenq's safetensors format cannot hold it.
  expect_exit_2(run({"quantize", dir / "m4.gguf", dir / "q4.safetensors"}),
                {"tensor 'blk.1.attn_q.weight' is q4_0, a ggml block type", "write a .gguf OUT"});
}

TEST(CliGguf, ImportanceAsLlamaQuantizePassesIt) {
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  const auto entries = cli_gguf::small_model_imatrix();
  cli_gguf::write_imatrix_gguf(dir / "imatrix.gguf", entries);
  cli_gguf::write_imatrix_dat(dir / "imatrix.dat", entries);
  for (const bool legacy : {false, true}) {
    SCOPED_TRACE(legacy ? "legacy .dat" : "GGUF imatrix");
    const Result r = run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q4_K", "--imatrix",
                          dir / (legacy ? "imatrix.dat" : "imatrix.gguf")});
    ASSERT_EQ(r.exit_code, 0) << ok(r);
    const GgufFile f(dir / "q.gguf");
    for (const auto& e : entries) {
      SCOPED_TRACE(e.name);
      const std::vector<float> imp = legacy ? cli_gguf::dat_importance(e) : e.importance();
      EXPECT_EQ(bytes_of(f, e.name), expected_bytes(find(model, e.name), gg::Type::q4_K, imp));
      EXPECT_NE(bytes_of(f, e.name), expected_bytes(find(model, e.name), gg::Type::q4_K)) << "the importance changes bytes";
    }
    // No entry: quantized without, and said so.
    EXPECT_EQ(bytes_of(f, "blk.0.attn_k.weight"), expected_bytes(find(model, "blk.0.attn_k.weight"), gg::Type::q5_0));
    EXPECT_NE(r.out.find("4 tensors, 1 without an entry, quantized without (blk.0.attn_k.weight)"), std::string::npos) << r.out;
  }
  // A type whose quantizer ignores importance gives the same bytes with or without.
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "a.gguf", "--type", "q8_0", "--imatrix", dir / "imatrix.gguf", "--quiet"}).exit_code, 0);
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "b.gguf", "--type", "q8_0", "--quiet"}).exit_code, 0);
  EXPECT_EQ(io_test::read_bytes(dir / "a.gguf"), io_test::read_bytes(dir / "b.gguf"));
  // An entry of the wrong size is refused (llama.cpp too), except for token_embd, where it is ignored.
  auto wrong = entries;
  wrong[1] = cli_gguf::imatrix_entry("blk.0.attn_q.weight", 256, {40}, 3);
  cli_gguf::write_imatrix_gguf(dir / "wrong.gguf", wrong);
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "w.gguf", "--type", "q4_K", "--imatrix", dir / "wrong.gguf"}),
                {"tensor 'blk.0.attn_q.weight': the imatrix entry holds 256 values, but the tensor needs 512 per matrix x 1"});
  wrong = entries;
  wrong[0] = cli_gguf::imatrix_entry("token_embd.weight", 128, {40}, 3);
  cli_gguf::write_imatrix_gguf(dir / "embd.gguf", wrong);
  const Result r = run({"quantize", dir / "m.safetensors", dir / "e.gguf", "--type", "q4_K", "--imatrix", dir / "embd.gguf"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  EXPECT_EQ(bytes_of(GgufFile(dir / "e.gguf"), "token_embd.weight"), expected_bytes(find(model, "token_embd.weight"), gg::Type::q4_K));
  EXPECT_NE(r.out.find("size mismatch, ignored"), std::string::npos) << r.out;
  // A type that requires an importance matrix, without one: refused naming the tensor.
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "x.gguf", "--type", "iq2_xxs"}),
                {"m.safetensors: tensor 'token_embd.weight': iq2_xxs needs an importance matrix "
                 "(ggml_quantize_requires_imatrix); give one with --imatrix FILE"});
  expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "x.gguf", "--type", "iq2_xxs", "--imatrix", dir / "imatrix.gguf"}),
                {"eigenq cannot quantize to iq2_xxs: its lattice codebooks"});
  EXPECT_FALSE(std::ifstream(dir / "x.gguf").good());
}

TEST(CliGguf, MetadataJsonTypes) {
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_gguf(dir / "m.gguf", model);
  io_test::write_text(dir / "meta.json", R"({
    "general.name": "renamed",
    "llama.context_length": 4096,
    "llama.rope.freq_base": 500000,
    "tokenizer.ggml.scores": [1, 2.5, -3, 4],
    "tokenizer.ggml.add_bos_token": null,
    "new.str": "x",
    "new.bool": false,
    "new.int": -7,
    "new.big": 5000000000,
    "new.huge": 18446744073709551615,
    "new.float": 0.25,
    "new.ints": [1, 2, 3],
    "new.mixed_numbers": [1, 2.5],
    "new.strs": ["a", "b"],
    "new.u8": {"type": "u8", "value": 200},
    "new.f64": {"type": "f64", "value": 0.1},
    "new.arr_u16": {"type": "arr[u16]", "value": [1, 65535]},
    "new.empty": {"type": "arr[str]", "value": []},
    "general.file_type": {"type": "u32", "value": 99}
  })");
  const Result r = run({"quantize", dir / "m.gguf", dir / "q.gguf", "--type", "q8_0", "--metadata", dir / "meta.json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  const GgufFile f(dir / "q.gguf");
  const auto& m = f.metadata();
  EXPECT_EQ(m.get<std::string>("general.name"), "renamed");
  EXPECT_EQ(m.get<std::uint32_t>("llama.context_length"), 4096u);  // an existing key keeps its type
  EXPECT_EQ(m.get<float>("llama.rope.freq_base"), 500000.0f);
  EXPECT_EQ(m.at("tokenizer.ggml.scores").to_vector<float>(), (std::vector<float>{1, 2.5f, -3, 4}));
  EXPECT_FALSE(m.contains("tokenizer.ggml.add_bos_token"));  // null removes
  EXPECT_EQ(m.get<std::string>("new.str"), "x");
  EXPECT_EQ(m.get<bool>("new.bool"), false);
  EXPECT_EQ(m.get<std::int32_t>("new.int"), -7);  // gguf-py: int -> i32 ...
  EXPECT_EQ(m.get<std::int64_t>("new.big"), 5000000000);  // ... i64 when it does not fit
  EXPECT_EQ(m.get<std::uint64_t>("new.huge"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(m.get<float>("new.float"), 0.25f);  // float -> f32
  EXPECT_EQ(m.at("new.ints").to_vector<std::int32_t>(), (std::vector<std::int32_t>{1, 2, 3}));
  EXPECT_EQ(m.at("new.mixed_numbers").to_vector<float>(), (std::vector<float>{1.0f, 2.5f}));
  EXPECT_EQ(m.at("new.strs").to_vector<std::string>(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(m.get<std::uint8_t>("new.u8"), 200);
  EXPECT_EQ(m.get<double>("new.f64"), 0.1);
  EXPECT_EQ(m.at("new.arr_u16").to_vector<std::uint16_t>(), (std::vector<std::uint16_t>{1, 65535}));
  EXPECT_EQ(m.at("new.empty").element_type(), GgufType::string);
  EXPECT_EQ(m.get<std::uint32_t>("general.file_type"), 99u);  // --metadata applies last
  // Errors name the file and the key; nothing is written.
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"llama.context_length": "long"})", "key 'llama.context_length': a u32 needs an integer, found a string"},
      {R"({"llama.context_length": -1})", "key 'llama.context_length': -1 does not fit a u32"},
      {R"({"a": [[1], [2]]})", "key 'a[0]': cannot infer a GGUF type for an array"},
      {R"({"a": [1, "x"]})", "key 'a': mixes i32 and str elements"},
      {R"({"a": []})", "key 'a': an empty array has no element type"},
      {R"({"a": {"type": "u128", "value": 1}})", "key 'a': unknown GGUF type 'u128'"},
      {R"({"a": {"type": "u8", "value": 256}})", "key 'a': 256 does not fit a u8"},
      {R"({"a": {"value": 1}})", "key 'a': an object must be {\"type\""},
      {R"({"general.alignment": {"type": "u32", "value": 24}})", "key 'general.alignment': 24 is not a power of two"},
      {R"([1, 2])", "--metadata needs a JSON object"},
      {R"({"a": )", "not valid JSON"}};
  for (const auto& [json, message] : bad) {
    SCOPED_TRACE(json);
    io_test::write_text(dir / "bad.json", json);
    expect_exit_2(run({"quantize", dir / "m.gguf", dir / "x.gguf", "--type", "q8_0", "--metadata", dir / "bad.json"}),
                  {"bad.json", message.c_str()});
    EXPECT_FALSE(std::ifstream(dir / "x.gguf").good());
  }
}

TEST(CliGguf, UsageErrorsSayWhatToDo) {
  io_test::TempDir dir;
  cli_gguf::write_safetensors(dir / "m.safetensors", cli_gguf::small_model());
  const std::string in = dir / "m.safetensors";
  expect_exit_2(run({"quantize", in, dir / "q.safetensors", "--type", "q4_K"}),
                {"--type with OUT", "ggml types are written to GGUF files: name OUT with .gguf, or use --scheme"});
  expect_exit_2(run({"quantize", in, dir / "q.safetensors", "--imatrix", dir / "i.gguf"}),
                {"--imatrix needs --method weighted", "--type TYPE", "OUT named .gguf"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q4_K", "--bits", "4", "--scheme", "linear-affine"}),
                {"--scheme, --bits with OUT", "a GGUF file holds ggml types: choose one with --type", "or name OUT .safetensors"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf"}), {"is a GGUF file: give its ggml type with --type"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q4_K", "--method", "gptq"}),
                {"--method, --calibration-stats and --allow-missing-stats apply to eigenq's schemes",
                 "for ggml types, --imatrix"});
  expect_exit_2(run({"report", in, "--type", "q4_K", "--allow-missing-stats"}),
                {"apply to eigenq's schemes (without --type)"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q4_z"}),
                {"--type 'q4_z' is not a ggml type", "q4_0, q4_1, q5_0"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q8_K"}), {"--type 'q8_K': q8_K is not a type to quantize to"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q8_0", "--type-for", "nonsense"}),
                {"--type-for 'nonsense' is not REGEX=TYPE"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q8_0", "--type-for", "(=q8_0"}),
                {"--type-for '(=q8_0': '(' is not a valid regular expression"});
  expect_exit_2(run({"report", in, "--imatrix", dir / "i.gguf"}),
                {"--imatrix needs --method weighted", "a ggml type (--type TYPE"});
  expect_exit_2(run({"report", in, "--type", "q8_0", "--bits", "4"}), {"--bits with --type"});
  expect_exit_2(run({"quantize", in, dir / "q.gguf", "--type", "q8_0", "--imatrix", dir / "missing.gguf"}),
                {"missing.gguf", "cannot open"});
  expect_exit_2(run({"dequantize", in, dir / "d.gguf"}), {"dequantize writes .safetensors"});
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"}) << "no output from any failed run";
}

TEST(CliGguf, NonFiniteValueLateLeavesNoOutputAndKeepsAnOldOne) {
  io_test::TempDir dir;
  auto model = cli_gguf::small_model();
  Tensor late = cli_gguf::float_tensor("late.weight", eigenq::io::DType::f32, {4, 256}, 9);
  late.values[300] = std::nanf("");
  std::memcpy(late.bytes.data() + 4 * 300, &late.values[300], 4);
  model.push_back(late);
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  for (const char* jobs : {"1", "3"}) {
    expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q4_K", "--jobs", jobs, "--quiet"}),
                  {"m.safetensors: tensor 'late.weight': NaN at index [1, 44]"});
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
  }
  io_test::write_text(dir / "q.gguf", "an older good output");
  EXPECT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q4_K", "--quiet"}).exit_code, 2);
  EXPECT_EQ(cli_test::slurp(dir / "q.gguf"), "an older good output");
  EXPECT_EQ(dir.entries().size(), 2u);
}

// ---- report, dequantize, inspect ------------------------------------------------------------

TEST(CliGguf, ReportTypeMeasuresWhatQuantizeWrites) {
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_gguf(dir / "m.gguf", model);
  const Result r = run({"report", dir / "m.gguf", "--type", "q4_K", "--json"});
  ASSERT_EQ(r.exit_code, 0) << ok(r);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "q4_K");
  EXPECT_EQ(j["file_type"], 15);
  ASSERT_EQ(j["tensors"].size(), model.size());
  for (const auto& t : j["tensors"]) {
    SCOPED_TRACE(t["name"].get<std::string>());
    for (const char* key : {"name", "shape", "ne", "from", "type", "bits_per_weight", "quantized", "copied_because",
                            "kept_because", "fallback_from", "importance", "mse", "sqnr_db", "max_abs", "cosine",
                            "bytes_before", "bytes_after"}) {
      EXPECT_TRUE(t.contains(key)) << key;
    }
    if (!t["quantized"].get<bool>()) continue;
    // The error the library measures for the same quantization.
    const Tensor& x = find(model, t["name"]);
    const gg::Type type = gg::type_from_name(t["type"].get<std::string>());
    const auto q = expected_bytes(x, type);
    std::vector<float> back(x.values.size());
    for (std::int64_t row = 0; row * x.ne0() < x.elements(); ++row) {
      gg::dequantize_row(type, q.data() + row * gg::row_size(type, x.ne0()), back.data() + row * x.ne0(), x.ne0());
    }
    eigenq::detail::ErrorSums sums;
    for (std::size_t k = 0; k < back.size(); k += 65536) {
      sums.add(x.values.data() + k, back.data() + k, static_cast<eigenq::Index>(std::min<std::size_t>(65536, back.size() - k)));
    }
    EXPECT_DOUBLE_EQ(t["mse"].get<double>(), sums.metrics().mse);
  }
  EXPECT_EQ(j["tensors"][3]["fallback_from"], "q4_K");
  EXPECT_EQ(j["totals"]["fallbacks"], 1);
  const Result table = run({"report", dir / "m.gguf", "--type", "q6_K"});
  ASSERT_EQ(table.exit_code, 0) << ok(table);
  EXPECT_NE(table.out.find("q8_0 (fallback from q6_K)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("all quantized elements: mse"), std::string::npos) << table.out;
  // eigenq's own schemes report on GGUF F32/F16/BF16 tensors too.
  const Result own = run({"report", dir / "m.gguf", "--bits", "4", "--granularity", "group"});
  ASSERT_EQ(own.exit_code, 0) << ok(own);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.gguf"}) << "report writes nothing";
}

TEST(CliGguf, DequantizeAndInspectGguf) {
  io_test::TempDir dir;
  const auto model = cli_gguf::small_model();
  cli_gguf::write_safetensors(dir / "m.safetensors", model);
  ASSERT_EQ(run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "iq4_xs", "--quiet"}).exit_code, 0);
  const Result d = run({"dequantize", dir / "q.gguf", dir / "d.safetensors"});
  ASSERT_EQ(d.exit_code, 0) << ok(d);
  const GgufFile q(dir / "q.gguf");
  const eigenq::io::SafetensorsFile st(dir / "d.safetensors");
  for (const auto& t : q.tensors()) {
    SCOPED_TRACE(t.name);
    const auto& info = st.info(t.name);
    EXPECT_EQ(info.shape, t.shape());
    if (t.type == gg::Type::i32) {
      EXPECT_EQ(info.dtype, eigenq::io::DType::i32);
      continue;
    }
    EXPECT_EQ(info.dtype, eigenq::io::DType::f32);
    std::vector<float> expected(static_cast<std::size_t>(t.elements()));
    for (std::int64_t r = 0; r < t.rows(); ++r) {
      gg::dequantize_row(t.type, q.tensor(t.name).row(r), expected.data() + r * t.ne[0], t.ne[0]);
    }
    EXPECT_TRUE(eigenq_test::same_bits(expected, st.tensor(t.name).to_float()));
  }
  EXPECT_EQ(st.metadata().at("general.file_type"), "30");
  EXPECT_NE(d.out.find("GGUF metadata: 2 keys kept as safetensors metadata"), std::string::npos) << d.out;
  // One tensor to .npy.
  cli_gguf::write_gguf(dir / "one.gguf", {model[2]});
  ASSERT_EQ(run({"dequantize", dir / "one.gguf", dir / "one.npy", "--quiet"}).exit_code, 0);
  EXPECT_EQ(eigenq::io::NpyFile(dir / "one.npy").header().shape, model[2].shape);
  expect_exit_2(run({"dequantize", dir / "q.gguf", dir / "all.npy"}), {"holds one tensor, but IN has 8"});

  const Result text = run({"inspect", dir / "q.gguf"});
  ASSERT_EQ(text.exit_code, 0) << ok(text);
  EXPECT_NE(text.out.find("GGUF version 3, 8 tensors, 2 key/value pairs, alignment 32"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("general.file_type: 30 (MOSTLY_IQ4_XS)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("iq4_nl"), std::string::npos) << text.out;  // attn_k's fallback
  EXPECT_NE(text.out.find("tensor types: 2 f32, 1 i32, 1 iq4_nl, 4 iq4_xs"), std::string::npos) << text.out;
  const Result json = run({"inspect", dir / "q.gguf", "--json"});
  ASSERT_EQ(json.exit_code, 0) << ok(json);
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["format"], "gguf");
  EXPECT_EQ(j["tensors"].size(), 8u);
  EXPECT_EQ(j["tensors"][2]["type"], "iq4_xs");
  EXPECT_EQ(j["tensors"][2]["ne"], (std::vector<int>{512, 64}));
  EXPECT_EQ(j["metadata"][1]["key"], "general.file_type");
  EXPECT_EQ(j["metadata"][1]["value"], 30);
  // An input model: arrays shown.
  cli_gguf::write_gguf(dir / "m.gguf", model);
  const Result mj = run({"inspect", dir / "m.gguf", "--json"});
  EXPECT_EQ(nlohmann::json::parse(mj.out)["metadata"][6]["value"], (std::vector<std::string>{"<s>", "</s>", "a", "b"}));
  // Importance matrices, both formats.
  cli_gguf::write_imatrix_gguf(dir / "imatrix.gguf", cli_gguf::small_model_imatrix());
  cli_gguf::write_imatrix_dat(dir / "imatrix.dat", cli_gguf::small_model_imatrix());
  const Result ig = run({"inspect", dir / "imatrix.gguf"});
  ASSERT_EQ(ig.exit_code, 0) << ok(ig);
  EXPECT_NE(ig.out.find("llama.cpp importance matrix (GGUF format), 4 entries, 10 chunks of 4 tokens, datasets: tiny.txt"),
            std::string::npos)
      << ig.out;
  EXPECT_NE(ig.out.find("blk.0.ffn_down_exps.weight"), std::string::npos);
  const Result id = run({"inspect", dir / "imatrix.dat", "--json"});
  ASSERT_EQ(id.exit_code, 0) << ok(id);
  EXPECT_EQ(nlohmann::json::parse(id.out)["format"], "imatrix-legacy");
}

// ---- the bad-input corpus ---------------------------------------------------------------------

struct CorpusFile {
  std::string file;
  std::string offset;
  std::string field;
};

std::vector<CorpusFile> corpus() {
  std::ifstream in(std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/gguf_bad/MANIFEST.tsv");
  std::vector<CorpusFile> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream s(line);
    CorpusFile c;
    std::getline(s, c.file, '\t');
    std::getline(s, c.offset, '\t');
    std::getline(s, c.field, '\t');
    out.push_back(c);
  }
  return out;
}

// Every file of tests/io/data/gguf_bad: exit code 2, one line naming the file, the byte and the
// field, no output left; GGUF files as inspect's FILE and quantize's IN, importance matrices as
// inspect's FILE and quantize's --imatrix.
TEST(CliGguf, BadInputCorpus) {
  const std::string data = std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/gguf_bad/";
  const auto files = corpus();
  ASSERT_EQ(files.size(), 58u);
  io_test::TempDir dir;
  cli_gguf::write_safetensors(dir / "m.safetensors", cli_gguf::small_model());
  int imatrix_files = 0;
  for (const CorpusFile& c : files) {
    SCOPED_TRACE(c.file);
    const std::string path = data + c.file;
    const std::string where = c.file + ": byte " + c.offset + ": " + c.field;
    expect_exit_2(run({"inspect", path}), {where.c_str()});
    expect_exit_2(run({"inspect", path, "--json"}), {where.c_str()});
    const bool imatrix = c.file.rfind("imatrix_", 0) == 0 || c.file.rfind("legacy_", 0) == 0;
    imatrix_files += imatrix ? 1 : 0;
    if (imatrix) {
      expect_exit_2(run({"quantize", dir / "m.safetensors", dir / "q.gguf", "--type", "q4_K", "--imatrix", path}),
                    {where.c_str()});
    } else {
      expect_exit_2(run({"quantize", path, dir / "q.gguf", "--type", "q4_K"}), {where.c_str()});
      expect_exit_2(run({"report", path, "--type", "q4_K"}), {where.c_str()});
    }
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
  }
  EXPECT_EQ(imatrix_files, 22);
}

}  // namespace
