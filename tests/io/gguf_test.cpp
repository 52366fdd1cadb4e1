#include "eigenq/io/gguf.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gguf_test_util.hpp"
#include "io_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::io::GgufFile;
using eigenq::io::GgufMetadata;
using eigenq::io::GgufOwnedTensor;
using eigenq::io::GgufType;
using eigenq::io::GgufValue;
using eigenq::ggml::Type;
using gguf_test::Bytes;

// Every value type, arrays of each, arrays of strings, nested and empty arrays.
GgufMetadata every_value_type() {
  GgufMetadata m;
  m.set("general.architecture", "llama");
  m.set("u8", std::uint8_t{255});
  m.set("i8", std::int8_t{-128});
  m.set("u16", std::uint16_t{65535});
  m.set("i16", std::int16_t{-32768});
  m.set("u32", std::uint32_t{4000000000u});
  m.set("i32", std::int32_t{-2000000000});
  m.set("u64", std::uint64_t{18446744073709551615ull});
  m.set("i64", std::int64_t{std::numeric_limits<std::int64_t>::min()});
  m.set("f32", 3.25f);
  m.set("f32.nan", std::numeric_limits<float>::quiet_NaN());
  m.set("f64", -1e300);
  m.set("bool.true", true);
  m.set("bool.false", false);
  m.set("str.empty", "");
  m.set("str.unicode", "ünïcode ✓ \n\t\"quoted\"");
  m.set("str.nul", std::string("a\0b", 3));
  m.set("arr.u8", std::vector<std::uint8_t>{0, 1, 255});
  m.set("arr.i8", std::vector<std::int8_t>{-1, 0, 127});
  m.set("arr.u16", std::vector<std::uint16_t>{1, 65535});
  m.set("arr.i16", std::vector<std::int16_t>{-7});
  m.set("arr.u32", std::vector<std::uint32_t>{1, 2, 3});
  m.set("arr.i32", std::vector<std::int32_t>{-1, 5});
  m.set("arr.u64", std::vector<std::uint64_t>{1ull << 63});
  m.set("arr.i64", std::vector<std::int64_t>{-3, 3});
  m.set("arr.f32", std::vector<float>{0.5f, -0.0f, std::numeric_limits<float>::infinity()});
  m.set("arr.f64", std::vector<double>{1.0 / 3.0});
  m.set("arr.bool", std::vector<bool>{true, false, true});
  m.set("arr.str", std::vector<std::string>{"<s>", "", "▁the", std::string(1000, 'x')});
  m.set("arr.empty.f32", std::vector<float>{});
  m.set("arr.empty.str", std::vector<std::string>{});
  m.set("arr.nested", GgufValue::array_of_arrays({GgufValue(std::vector<std::int32_t>{1, 2}),
                                                  GgufValue(std::vector<std::string>{"a", "b"}),
                                                  GgufValue::array_of_arrays({GgufValue(std::vector<bool>{})})}));
  return m;
}

std::vector<GgufOwnedTensor> some_tensors() {
  using namespace gguf_test;
  return {owned("token_embd.weight", Type::f32, {16, 5}, 1),   // 2-D: 5 rows of 16
          owned("blk.0.attn_q.weight", Type::q8_0, {64, 3}, 2),  // 3 rows of 2 blocks of 34 bytes
          owned("blk.0.ffn_up_exps.weight", Type::q4_0, {32, 2, 3}, 3),
          owned("odd.f16", Type::f16, {3}, 4),                 // 6 bytes: needs padding
          owned("rank4.bf16", Type::bf16, {2, 3, 1, 2}, 5),
          owned("blk.0.ffn_down.weight", Type::q4_K, {256, 2}, 6)};
}

void expect_same_tensors(const GgufFile& f, const std::vector<GgufOwnedTensor>& tensors) {
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].name);
    const auto& info = f.tensors()[i];
    EXPECT_EQ(info.name, tensors[i].name);
    EXPECT_EQ(info.type, tensors[i].type);
    EXPECT_EQ(info.ne, tensors[i].ne);
    EXPECT_EQ(info.offset % f.alignment(), 0u);
    const auto v = f.tensor(info.name);
    ASSERT_EQ(v.bytes(), tensors[i].data.size());
    EXPECT_EQ(std::vector<std::uint8_t>(v.data(), v.data() + v.bytes()), tensors[i].data);
  }
}

TEST(GgufValueTest, TypedAccessChecksTheExactType) {
  const GgufValue u(std::uint32_t{7});
  EXPECT_EQ(u.type(), GgufType::u32);
  EXPECT_EQ(u.get<std::uint32_t>(), 7u);
  EXPECT_EQ(u.as_int64(), 7);
  EXPECT_THROW_WITH(u.get<std::int32_t>(), eigenq::InvalidArgument, "a GGUF u32 value, not i32");
  EXPECT_THROW_WITH(u.str(), eigenq::InvalidArgument, "not str");
  EXPECT_FALSE(GgufValue(std::uint64_t{1} << 63).as_int64().has_value());
  EXPECT_FALSE(GgufValue(1.5).as_int64().has_value());

  const GgufValue s("hi");
  EXPECT_TRUE(s.is_string());
  EXPECT_EQ(s.get<std::string>(), "hi");
  EXPECT_EQ(s.describe_type(), "str");

  const GgufValue a(std::vector<std::string>{"x", "y"});
  EXPECT_EQ(a.describe_type(), "arr[str,2]");
  EXPECT_EQ(a.element_type(), GgufType::string);
  EXPECT_EQ(a.at<std::string>(1), "y");
  EXPECT_EQ(a.strings().size(), 2u);
  EXPECT_THROW_WITH(a.at<std::string>(2), eigenq::InvalidArgument, "index 2 is outside a GGUF array of 2");
  EXPECT_THROW_WITH(a.to_vector<float>(), eigenq::InvalidArgument, "not an array of f32");
  EXPECT_THROW_WITH(s.element_type(), eigenq::InvalidArgument, "not an array");

  const GgufValue b(std::vector<bool>{true, false});
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_EQ(GgufValue(std::vector<float>{1.0f, 2.5f}).to_text(), "[1, 2.5]");
  EXPECT_EQ(GgufValue(std::vector<std::int32_t>(20, 1)).to_text(3), "[1, 1, 1, ... (20 in all)]");
  EXPECT_EQ(GgufValue("a\"b\n").to_text(), "\"a\\\"b\\n\"");
  EXPECT_THROW_WITH(GgufValue::array_of_arrays({GgufValue(1)}), eigenq::InvalidArgument, "not an array");
  EXPECT_THROW_WITH(GgufValue::array_from_bytes(GgufType::boolean, "\x02", 1), eigenq::InvalidArgument,
                    "not 0 or 1");

  EXPECT_EQ(GgufValue(std::numeric_limits<float>::quiet_NaN()), GgufValue(std::numeric_limits<float>::quiet_NaN()));
  EXPECT_NE(GgufValue(1), GgufValue(1u));
  EXPECT_NE(GgufValue(std::vector<float>{}), GgufValue(std::vector<double>{}));
}

TEST(GgufMetadataTest, SetOverridesInPlaceAndAppendsNewKeys) {
  GgufMetadata m{{"a", 1}, {"b", "two"}, {"c", 3.0}};
  m.set("b", std::uint8_t{2});  // replaced where it stands
  m.set("d", true);             // appended
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].key, "a");
  EXPECT_EQ(m[1].key, "b");
  EXPECT_EQ(m[1].value, GgufValue(std::uint8_t{2}));
  EXPECT_EQ(m[3].key, "d");
  EXPECT_TRUE(m.erase("a"));
  EXPECT_FALSE(m.erase("a"));
  EXPECT_EQ(m.position("d"), std::optional<std::size_t>(2));
  EXPECT_EQ(m.get<double>("c"), 3.0);
  EXPECT_THROW_WITH(m.get<float>("c"), eigenq::InvalidArgument, "key 'c' holds a f64, not a f32");
  EXPECT_THROW_WITH(m.at("zz"), eigenq::InvalidArgument, "no GGUF metadata key 'zz'");
  EXPECT_THROW_WITH(m.add("c", 1), eigenq::InvalidArgument, "'c' is already present");
  EXPECT_THROW_WITH(m.set("", 1), eigenq::InvalidArgument, "cannot be empty");
  EXPECT_EQ(m.alignment(), 32u);
  m.set("general.alignment", std::uint32_t{64});
  EXPECT_EQ(m.alignment(), 64u);
  m.set("general.alignment", std::uint32_t{48});
  EXPECT_THROW_WITH(m.alignment(), eigenq::InvalidArgument, "48, not a power of two");
  m.set("general.alignment", 64);
  EXPECT_THROW_WITH(m.alignment(), eigenq::InvalidArgument, "must be a u32, not a i32");
}

TEST(Gguf, RoundTripsEveryValueTypeAndTensorType) {
  io_test::TempDir dir;
  const GgufMetadata metadata = every_value_type();
  const auto tensors = some_tensors();
  eigenq::io::write_gguf(dir / "m.gguf", metadata, tensors);

  const GgufFile f(dir / "m.gguf");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(f.metadata(), metadata);
  ASSERT_EQ(f.metadata().size(), metadata.size());
  for (std::size_t i = 0; i < metadata.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, metadata[i].key) << "order kept";
    EXPECT_EQ(f.metadata()[i].value, metadata[i].value) << metadata[i].key << ": " << f.metadata()[i].value.to_text()
                                                        << " vs " << metadata[i].value.to_text();
  }
  EXPECT_EQ(f.metadata().at("arr.str").at<std::string>(3), std::string(1000, 'x'));
  EXPECT_EQ(f.metadata().at("str.nul").str(), std::string("a\0b", 3));
  EXPECT_TRUE(std::isnan(f.metadata().get<float>("f32.nan")));
  EXPECT_EQ(f.metadata().at("arr.nested").items()[1].strings(), (std::vector<std::string>{"a", "b"}));
  expect_same_tensors(f, tensors);
  EXPECT_EQ(f.info("blk.0.attn_q.weight").row_bytes, 68u);
  EXPECT_EQ(f.info("blk.0.attn_q.weight").rows(), 3);
  EXPECT_EQ(f.info("blk.0.ffn_up_exps.weight").shape(), (eigenq::Shape{3, 2, 32}));
  EXPECT_EQ(f.tensors().back().bytes, 288u);  // 2 blocks of q4_K: a multiple of 32 already
  EXPECT_EQ(f.file_size(), f.data_offset() + f.tensors().back().offset + 288);
  EXPECT_EQ(f.tensors()[3].bytes, 6u);
  EXPECT_EQ(f.tensors()[4].offset, f.tensors()[3].offset + 32) << "an f16 tensor of 6 bytes is padded to 32";

  // Read back and written again: the same bytes.
  std::vector<GgufOwnedTensor> again;
  for (const auto& t : f.tensors()) {
    const auto v = f.tensor(t.name);
    again.push_back({t.name, t.type, t.ne, std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())});
  }
  eigenq::io::write_gguf(dir / "again.gguf", f.metadata(), again);
  EXPECT_EQ(io_test::read_bytes(dir / "m.gguf"), io_test::read_bytes(dir / "again.gguf"));
}

TEST(Gguf, HonoursEveryPowerOfTwoAlignment) {
  for (const std::uint32_t alignment : {1u, 2u, 8u, 32u, 64u, 256u, 4096u}) {
    SCOPED_TRACE(alignment);
    io_test::TempDir dir;
    GgufMetadata m{{"general.name", "aligned"}, {"general.alignment", alignment}};
    const auto tensors = some_tensors();
    eigenq::io::write_gguf(dir / "a.gguf", m, tensors);
    const GgufFile f(dir / "a.gguf");
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    expect_same_tensors(f, tensors);
    for (const auto& t : f.tensors()) {
      // Zero-copy: the view points into the page-aligned mapping, so it is aligned as the file is.
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(f.tensor(t.name).data()) % alignment, 0u);
    }
    const auto bytes = io_test::read_bytes(dir / "a.gguf");
    for (std::size_t i = 0; i + 1 < f.tensors().size(); ++i) {  // padding between tensors is zeros
      const auto& t = f.tensors()[i];
      for (std::uint64_t k = t.offset + t.bytes; k < f.tensors()[i + 1].offset; ++k) {
        ASSERT_EQ(bytes[f.data_offset() + k], 0u);
      }
    }
    EXPECT_EQ(bytes.size() % alignment, f.data_offset() % alignment);
  }
}

TEST(Gguf, ReadsAVersion2FileBuiltByHand) {
  Bytes b;
  b.text("GGUF").u32(2).i64(2).i64(3);
  b.str("general.architecture").i32(8).str("gpt2");
  b.str("general.alignment").i32(4).u32(16);
  b.str("tokenizer.ggml.tokens").i32(9).i32(8).u64(2).str("a").str("bc");
  b.str("w").u32(2).i64(4).i64(2).i32(static_cast<std::int32_t>(Type::f32)).u64(0);   // 32 bytes at 0
  b.str("b").u32(1).i64(3).i32(static_cast<std::int32_t>(Type::f32)).u64(32);         // 12 bytes at 32
  b.pad(16);
  const std::size_t data = b.size();
  for (int i = 0; i < 8; ++i) b.f32(static_cast<float>(i));
  b.f32(-1).f32(-2).f32(-3);
  const auto f = GgufFile::from_buffer(b.data, "v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 16u);
  EXPECT_EQ(f.data_offset(), data);
  EXPECT_EQ(f.metadata().get<std::string>("general.architecture"), "gpt2");
  EXPECT_EQ(f.metadata().at("tokenizer.ggml.tokens").strings(), (std::vector<std::string>{"a", "bc"}));
  ASSERT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.info("w").ne, (std::vector<std::int64_t>{4, 2}));
  float v[3];
  std::memcpy(v, f.tensor("b").data(), sizeof v);
  EXPECT_EQ(v[2], -3.0f);
  EXPECT_EQ(f.kv_offset(0), 24u);
}

TEST(Gguf, AcceptsGapsAndAnyOrderButNotOverlap) {
  // ggml's own reader wants its writer's packed order; eigenq accepts any non-overlapping layout.
  Bytes b;
  b.text("GGUF").u32(3).i64(2).i64(0);
  b.str("second").u32(1).i64(8).i32(static_cast<std::int32_t>(Type::f32)).u64(64);
  b.str("first").u32(1).i64(8).i32(static_cast<std::int32_t>(Type::f32)).u64(0);
  b.pad(32);
  b.raw(gguf_test::pattern(96, 1).data(), 96);
  const auto f = GgufFile::from_buffer(b.data, "gaps.gguf");
  EXPECT_EQ(f.tensors()[0].name, "second");
  EXPECT_EQ(f.tensor("second").data()[0], b.data[f.data_offset() + 64]);
}

TEST(Gguf, AFileWithoutTensorsNeedsNoDataSection) {
  Bytes b;
  b.text("GGUF").u32(3).i64(0).i64(1).str("k").i32(0).u8(1);  // 38 bytes: no padding needed
  const auto f = GgufFile::from_buffer(b.data, "meta.gguf");
  EXPECT_EQ(f.metadata().get<std::uint8_t>("k"), 1);
  EXPECT_EQ(f.data_offset(), 38u);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(Gguf, CountsAreCheckedBeforeAnythingIsAllocated) {
  Bytes b;
  b.text("GGUF").u32(3).i64(std::numeric_limits<std::int64_t>::max()).i64(0);
  EXPECT_THROW_WITH(GgufFile::from_buffer(b.data, "x.gguf"), eigenq::FormatError,
                    "x.gguf: byte 8: tensor_count: 9223372036854775807 tensor infos and 0 key/value pairs cannot fit "
                    "in the 0 bytes after the header");
  Bytes a;
  a.text("GGUF").u32(3).i64(0).i64(1).str("k").i32(9).i32(9).u64(std::uint64_t{1} << 62);
  EXPECT_THROW_WITH(GgufFile::from_buffer(a.data, "y.gguf"), eigenq::FormatError,
                    "y.gguf: byte 41: metadata 'k' array length: 4611686018427387904 elements of type arr need at "
                    "least more than 2^64 bytes but 0 are left in the file");
}

TEST(Gguf, NamesAndKeysInMessagesAreEscaped) {
  Bytes b;
  b.text("GGUF").u32(3).i64(0).i64(1).str("bad\nkey'").i32(77);
  EXPECT_THROW_WITH(GgufFile::from_buffer(b.data, "e.gguf"), eigenq::FormatError,
                    "e.gguf: byte 40: metadata 'bad\\x0akey\\x27' value type: unknown GGUF value type 77");
}

TEST(Gguf, ArraysNestUpTo16Levels) {
  GgufValue v(std::vector<std::uint8_t>{1});
  for (int i = 0; i < 15; ++i) v = GgufValue::array_of_arrays({v});
  io_test::TempDir dir;
  eigenq::io::write_gguf(dir / "deep.gguf", GgufMetadata{{"deep", v}}, {});
  EXPECT_EQ(GgufFile(dir / "deep.gguf").metadata().at("deep"), v);
  v = GgufValue::array_of_arrays({v});
  eigenq::io::write_gguf(dir / "deeper.gguf", GgufMetadata{{"deep", v}}, {});
  EXPECT_THROW_WITH(GgufFile(dir / "deeper.gguf"), eigenq::FormatError, "arrays nest deeper than 16 levels");
}

TEST(GgufWriter, CopiesAFilesPairsAndOverridesSome) {
  io_test::TempDir dir;
  const auto tensors = some_tensors();
  eigenq::io::write_gguf(dir / "in.gguf", every_value_type(), tensors);
  const GgufFile in(dir / "in.gguf");
  GgufMetadata m = in.metadata();
  m.set("u32", std::uint32_t{1});
  m.set("general.file_type", std::uint32_t{7});
  eigenq::io::GgufWriter w(dir / "out.gguf", m, {{"x", Type::f32, {2}}});
  const float x[2] = {1, 2};
  w.write("x", x, sizeof x);
  w.commit();
  const GgufFile out(dir / "out.gguf");
  ASSERT_EQ(out.metadata().size(), in.metadata().size() + 1);
  for (std::size_t i = 0; i < in.metadata().size(); ++i) {
    EXPECT_EQ(out.metadata()[i].key, in.metadata()[i].key);
    if (in.metadata()[i].key != "u32") {
      EXPECT_EQ(out.metadata()[i].value, in.metadata()[i].value);
    }
  }
  EXPECT_EQ(out.metadata().get<std::uint32_t>("u32"), 1u);
  EXPECT_EQ(out.metadata().entries().back().key, "general.file_type");
}

TEST(GgufWriter, StreamsChunksFromSeveralThreads) {
  io_test::TempDir dir;
  std::vector<GgufOwnedTensor> tensors;
  for (int i = 0; i < 6; ++i) {
    tensors.push_back(gguf_test::owned("t" + std::to_string(i), Type::q8_0, {96, 7 + i}, 10u + i));
  }
  eigenq::io::write_gguf(dir / "seq.gguf", {{"general.alignment", std::uint32_t{64}}}, tensors);
  std::vector<eigenq::io::GgufTensorEntry> entries;
  for (const auto& t : tensors) entries.push_back({t.name, t.type, t.ne});
  eigenq::io::GgufWriter w(dir / "par.gguf", {{"general.alignment", std::uint32_t{64}}}, entries);
  auto writer = [&](int first) {
    for (int i = 5 - first; i >= 0; i -= 2) {  // backwards, interleaved between threads, 100-byte chunks
      const auto& d = tensors[static_cast<std::size_t>(i)].data;
      for (std::size_t off = 0; off < d.size(); off += 100) {
        w.write_chunk(static_cast<std::size_t>(i), off, d.data() + off, std::min<std::size_t>(100, d.size() - off));
      }
    }
  };
  std::thread a(writer, 0);
  std::thread b(writer, 1);
  a.join();
  b.join();
  w.commit();
  EXPECT_EQ(io_test::read_bytes(dir / "seq.gguf"), io_test::read_bytes(dir / "par.gguf"));
}

TEST(GgufWriter, NothingIsLeftBehindWhenATensorIsMissing) {
  io_test::TempDir dir;
  io_test::write_text(dir / "out.gguf", "the old file");
  {
    eigenq::io::GgufWriter w(dir / "out.gguf", {}, {{"a", Type::f32, {4}}, {"b", Type::f32, {4}}});
    const float x[4] = {};
    w.write(0, x, sizeof x);
    EXPECT_THROW_WITH(w.commit(), eigenq::InvalidArgument, "tensor 'b' has 0 of its 16 bytes written; not committing");
    EXPECT_THROW_WITH(w.write(1, x, 8), eigenq::InvalidArgument, "tensor 'b' needs 16 bytes, got 8");
    EXPECT_THROW_WITH(w.write_chunk(1, 12, x, 8), eigenq::InvalidArgument, "chunk [12, 20) lies outside tensor 'b'");
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.gguf"});
  std::ifstream in(dir / "out.gguf");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "the old file");
}

TEST(GgufWriter, RefusesWhatGgmlCouldNotReadBack) {
  io_test::TempDir dir;
  const std::string p = dir / "x.gguf";
  using E = eigenq::io::GgufTensorEntry;
  auto plan = [&](std::vector<E> entries, GgufMetadata m = {}) { eigenq::io::GgufWriter w(p, m, entries); };
  EXPECT_THROW_WITH(plan({{"", Type::f32, {1}}}), eigenq::InvalidArgument, "tensor 0 has an empty name");
  EXPECT_THROW_WITH(plan({{std::string(64, 'n'), Type::f32, {1}}}), eigenq::InvalidArgument,
                    "has 64 bytes; ggml reads at most 63");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {1}}, {"a", Type::f32, {1}}}), eigenq::InvalidArgument,
                    "tensor name 'a' appears twice");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {}}}), eigenq::InvalidArgument, "has 0 dimensions; GGUF stores 1 to 4");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {1, 1, 1, 1, 1}}}), eigenq::InvalidArgument, "has 5 dimensions");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {2, 0}}}), eigenq::InvalidArgument, "'a' ne[1] is 0; dimensions are positive");
  EXPECT_THROW_WITH(plan({{"a", static_cast<Type>(1000), {2}}}), eigenq::InvalidArgument,
                    "'a' has unknown ggml type id 1000");
  EXPECT_THROW_WITH(plan({{"a", Type::q8_0, {48}}}), eigenq::InvalidArgument,
                    "'a' of type q8_0 has rows of 48 elements, not a multiple of its block of 32");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {std::int64_t{1} << 32, std::int64_t{1} << 32}}}), eigenq::InvalidArgument,
                    "more than 2^63-1 elements");
  EXPECT_THROW_WITH(plan({{"a", Type::f32, {std::int64_t{1} << 31, std::int64_t{1} << 31}}}), eigenq::InvalidArgument,
                    "'a' takes more than 2^63-1 bytes");
  EXPECT_THROW_WITH(plan({}, {{"general.alignment", std::uint32_t{3}}}), eigenq::InvalidArgument,
                    "x.gguf: GGUF metadata key 'general.alignment' is 3, not a power of two");
  EXPECT_EQ(dir.entries().size(), 0u);
}

// The bad-input corpus: each file wrong in one way, with the exact message eigenq gives. The
// manifest (written with the files by tests/io/make_gguf_files.py) says which byte and field.
struct Bad {
  const char* file;
  const char* message;  // after "<path>: "
};

const Bad bad_gguf[] = {
    {"bad_magic.gguf", "byte 0: magic: expected \"GGUF\", found \"GGUG\"; not a GGUF file"},
    {"version_1.gguf", "byte 4: version: GGUF version 1 is not supported (it has 32-bit counts); convert the file "
                       "with a current llama.cpp (versions 2 and 3 are read)"},
    {"version_4.gguf", "byte 4: version: GGUF version 4 is not supported (versions 2 and 3 are read)"},
    {"big_endian.gguf", "byte 4: version: version 0x3000000 reads like a big-endian GGUF file; eigenq reads "
                        "little-endian files only"},
    {"truncated_header.gguf", "byte 8: tensor_count: needs 8 bytes but the file ends 4 bytes later, at byte 12 "
                              "(truncated?)"},
    {"tensor_count_huge.gguf", "byte 8: tensor_count: 1099511627776 tensor infos and 6 key/value pairs cannot fit in "
                               "the 616 bytes after the header (each info takes at least 33 bytes, each pair 14)"},
    {"tensor_count_negative.gguf", "byte 8: tensor_count: negative: -1"},
    {"kv_count_huge.gguf", "byte 16: metadata_kv_count: 1125899906842624 key/value pairs cannot fit in the 616 bytes "
                           "after the header (each takes at least 14)"},
    {"key_empty.gguf", "byte 69: metadata key 1: a key cannot be empty"},
    {"key_length_huge.gguf", "byte 69: metadata key 1 length: a string of 4611686018427387904 bytes does not fit in "
                             "the 563 bytes left in the file"},
    {"duplicate_key.gguf", "byte 105: metadata key 2 'general.architecture': repeats metadata key 0 (at byte 24)"},
    {"value_type_unknown.gguf", "byte 133: metadata 'llama.context_length' value type: unknown GGUF value type 13 "
                                "(known: 0 to 12)"},
    {"bool_not_0_or_1.gguf", "byte 129: metadata 'general.flag': a bool must be 0 or 1, found 2"},
    {"string_past_eof.gguf", "byte 93: metadata 'general.name' length: a string of 1000 bytes does not fit in the "
                             "539 bytes left in the file"},
    {"array_length_huge.gguf", "byte 142: metadata 'tokenizer.ggml.scores' array length: 1152921504606846976 "
                               "elements of type f32 need at least 4611686018427387904 bytes but 362 are left in "
                               "the file"},
    {"array_type_unknown.gguf", "byte 138: metadata 'tokenizer.ggml.scores' array element type: unknown GGUF value "
                                "type 99 (known: 0 to 12)"},
    {"arrays_nested_17_deep.gguf", "byte 301: metadata 'deep'[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0] array "
                                   "element type: arrays nest deeper than 16 levels"},
    {"alignment_not_u32.gguf", "byte 130: metadata 'general.alignment' value type: must be u32, found i32"},
    {"alignment_24.gguf", "byte 134: metadata 'general.alignment': 24 is not a power of two"},
    {"alignment_0.gguf", "byte 134: metadata 'general.alignment': 0 is not a power of two"},
    {"tensor_name_empty.gguf", "byte 339: tensor 1 name: a tensor name cannot be empty"},
    {"tensor_name_twice.gguf", "byte 339: tensor 'tok_embd.weight' name: tensor 1 has the name of tensor 0 (at "
                               "byte 284)"},
    {"n_dims_0.gguf", "byte 354: tensor 'blk.0.w' n_dims: 0 dimensions; a tensor has 1 to 4"},
    {"n_dims_5.gguf", "byte 354: tensor 'blk.0.w' n_dims: 5 dimensions; a tensor has 1 to 4"},
    {"dim_0.gguf", "byte 319: tensor 'tok_embd.weight' ne[1]: a dimension must be positive, found 0"},
    {"dim_negative.gguf", "byte 311: tensor 'tok_embd.weight' ne[0]: a dimension must be positive, found -8"},
    {"elements_overflow.gguf", "byte 366: tensor 'blk.0.w' ne[1]: the tensor has more than 2^63-1 elements"},
    {"bytes_overflow.gguf", "byte 374: tensor 'blk.0.w' type: the tensor's 4611686018427387904 elements of f32 take "
                            "more than 2^63-1 bytes"},
    {"type_unknown.gguf", "byte 327: tensor 'tok_embd.weight' type: unknown ggml type id 1000 (ggml defines 0 to 42)"},
    {"type_removed_q4_2.gguf", "byte 327: tensor 'tok_embd.weight' type: ggml type id 4 is one ggml removed; files "
                               "holding it no longer load"},
    {"row_not_whole_blocks.gguf", "byte 374: tensor 'blk.0.w' type: q8_0 stores blocks of 32 elements but rows have "
                                  "ne[0] = 48 elements, not a multiple"},
    {"offset_misaligned.gguf", "byte 378: tensor 'blk.0.w' offset: offset 68 is not a multiple of the alignment 32"},
    {"tensors_overlap.gguf", "byte 378: tensor 'blk.0.w' offset: its data [32, 100) overlaps tensor "
                             "'tok_embd.weight' at [0, 64)"},
    {"data_truncated.gguf", "byte 378: tensor 'blk.0.w' offset: its 68 bytes at [64, 132) of the data section run "
                            "past the end of the file (the data section starts at byte 448 and has 96 bytes; "
                            "truncated?)"},
    {"data_section_past_eof.gguf", "byte 436: data section: the tensor infos end here and the data section would "
                                   "start at byte 448 (the next multiple of the alignment 32), beyond the end of the "
                                   "file at byte 436; truncated?"},
    {"truncated_in_tensor_info.gguf", "byte 366: tensor 'blk.0.w' ne[1]: needs 8 bytes but the file ends 3 bytes "
                                      "later, at byte 369 (truncated?)"},
};

std::string bad_path(const std::string& file) { return std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/gguf_bad/" + file; }

// file -> (byte, field) from the generator's manifest.
std::map<std::string, std::pair<std::string, std::string>> manifest() {
  std::ifstream in(bad_path("MANIFEST.tsv"));
  std::map<std::string, std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string file, byte, field;
    std::getline(fields, file, '\t');
    std::getline(fields, byte, '\t');
    std::getline(fields, field, '\t');
    out[file] = {byte, field};
  }
  return out;
}

TEST(GgufBadInput, EachCorpusFileGivesItsExactMessage) {
  const auto expected = manifest();
  ASSERT_GE(expected.size(), 20u);
  std::size_t gguf_files = 0;  // the rest are importance matrices (imatrix_test.cpp)
  for (const auto& kv : expected) gguf_files += kv.first.rfind("imatrix_", 0) != 0 && kv.first.rfind("legacy_", 0) != 0;
  EXPECT_EQ(gguf_files, sizeof bad_gguf / sizeof bad_gguf[0]) << "every corpus file has its expected message";
  for (const Bad& b : bad_gguf) {
    SCOPED_TRACE(b.file);
    const std::string path = bad_path(b.file);
    ASSERT_EQ(expected.count(b.file), 1u) << "not in MANIFEST.tsv";
    const auto& [byte, field] = expected.at(b.file);
    EXPECT_EQ(std::string(b.message).rfind("byte " + byte + ": " + field + ": ", 0), 0u)
        << "the manifest says byte " << byte << ", field " << field;
    const std::string full = path + ": " + b.message;
    EXPECT_THROW_WITH(GgufFile{path}, eigenq::FormatError, full.c_str());
    try {
      GgufFile f(path);
    } catch (const eigenq::FormatError& e) {
      EXPECT_EQ(std::string(e.what()), path + ": " + b.message);
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    }
    // The same from memory.
    EXPECT_THROW_WITH(GgufFile::from_buffer(io_test::read_bytes(path), path), eigenq::FormatError, b.message);
  }
}

}  // namespace
