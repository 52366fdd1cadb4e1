// ggml's own GGUF reader and writer as the oracle (label ggml-oracle). Runs when
// EIGENQ_GGML_LIB_DIR names the folder holding libggml-base.so (the npm package
// @node-llama-cpp/linux-x64 ships it in bins/linux-x64), skips otherwise.
//
// Both ways: files eigenq writes open in ggml's gguf_init_from_file with the same
// keys, value types, values, tensor names, types, dims, offsets and bytes; files
// ggml's gguf_write_to_file writes open in eigenq's reader with the same content.
// Only the functions called are declared, with the signatures of ggml's gguf.h and
// ggml.h (ggml 0.23, as shipped by node-llama-cpp 3.21.1).
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "eigenq/io/gguf.hpp"
#include "ggml_gguf_oracle.hpp"
#include "gguf_test_util.hpp"
#include "io_test_util.hpp"

namespace {

using eigenq::io::GgufFile;
using eigenq::io::GgufMetadata;
using eigenq::io::GgufType;
using eigenq::io::GgufValue;
using eigenq::ggml::Type;

using namespace gguf_oracle;

// Every scalar type, arrays of every scalar type and of strings (no arrays of arrays: ggml refuses them).
// alignment 0: no general.alignment key.
GgufMetadata values_ggml_reads(std::uint32_t alignment) {
  GgufMetadata m;
  m.set("general.architecture", "llama");
  if (alignment != 0) m.set("general.alignment", alignment);
  m.set("u8", std::uint8_t{200});
  m.set("i8", std::int8_t{-100});
  m.set("u16", std::uint16_t{60000});
  m.set("i16", std::int16_t{-30000});
  m.set("u32", std::uint32_t{4000000000u});
  m.set("i32", std::int32_t{-2000000000});
  m.set("f32", 0.1f);
  m.set("bool", true);
  m.set("str", "ünïcode ✓");
  m.set("str.empty", "");
  m.set("u64", std::uint64_t{1} << 63);
  m.set("i64", -(std::int64_t{1} << 62));
  m.set("f64", 1.0 / 3.0);
  m.set("arr.u8", std::vector<std::uint8_t>{1, 2, 3});
  m.set("arr.i8", std::vector<std::int8_t>{-1});
  m.set("arr.u16", std::vector<std::uint16_t>{7, 8});
  m.set("arr.i16", std::vector<std::int16_t>{-7, 8});
  m.set("arr.u32", std::vector<std::uint32_t>{1u << 31});
  m.set("arr.i32", std::vector<std::int32_t>{-5, 5, 6});
  m.set("arr.f32", std::vector<float>{0.25f, -1e30f});
  m.set("arr.bool", std::vector<bool>{false, true, true});
  m.set("arr.u64", std::vector<std::uint64_t>{3});
  m.set("arr.i64", std::vector<std::int64_t>{-3, 4});
  m.set("arr.f64", std::vector<double>{-0.5});
  m.set("arr.str", std::vector<std::string>{"<s>", "</s>", "", "▁hello"});
  m.set("arr.empty", std::vector<std::int32_t>{});
  return m;
}

// One tensor of every ggml type eigenq knows (2 blocks per row, 3 rows), then some shapes.
std::vector<eigenq::io::GgufOwnedTensor> tensors_of_every_type() {
  const Ggml& g = Ggml::get();
  std::vector<eigenq::io::GgufOwnedTensor> out;
  for (std::int32_t id = 0; id < eigenq::ggml::kTypeValueEnd; ++id) {
    if (!eigenq::ggml::is_known_type_value(id)) continue;
    const auto type = static_cast<Type>(id);
    const auto block = eigenq::ggml::block_size(type);
    EXPECT_EQ(g.ggml_blck_size(id), block) << "type " << id;
    out.push_back(gguf_test::owned(std::string("t.") + eigenq::ggml::type_name(type), type, {2 * block, 3},
                                   static_cast<unsigned>(id)));
  }
  out.push_back(gguf_test::owned("rank1", Type::f32, {5}, 1));
  out.push_back(gguf_test::owned("rank3", Type::q8_0, {32, 2, 3}, 2));
  out.push_back(gguf_test::owned("rank4", Type::f16, {3, 1, 2, 2}, 3));
  return out;
}

TEST(GgufOracle, FilesEigenqWritesReadTheSameInGgml) {
  SKIP_WITHOUT_GGML();
  std::cout << "ggml " << Ggml::get().ggml_version() << "\n";
  io_test::TempDir dir;
  Tally tally;
  for (const std::uint32_t alignment : {32u, 1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    const std::string path = dir / ("eigenq-" + std::to_string(alignment) + ".gguf");
    eigenq::io::write_gguf(path, values_ggml_reads(alignment), tensors_of_every_type());
    expect_same_in_both(path, tally);
  }
  // Defaults: no general.alignment key, no tensors, a file of metadata only.
  GgufMetadata plain{{"general.name", "plain"}};
  eigenq::io::write_gguf(dir / "plain.gguf", plain, {gguf_test::owned("w", Type::q4_0, {64, 2}, 9)});
  expect_same_in_both(dir / "plain.gguf", tally);
  eigenq::io::write_gguf(dir / "meta.gguf", values_ggml_reads(32), {});
  expect_same_in_both(dir / "meta.gguf", tally);
  std::cout << "eigenq -> ggml: " << tally.files << " files, " << tally.keys << " keys, " << tally.tensors
            << " tensors (" << tally.bytes << " bytes) identical\n";
  EXPECT_GE(tally.tensors, 100);
}

// Builds a file with ggml's writer: the same values and tensors as above.
void write_with_ggml(const std::string& path, const GgufMetadata& m,
                     const std::vector<eigenq::io::GgufOwnedTensor>& tensors) {
  const Ggml& g = Ggml::get();
  gguf_context* ctx = g.gguf_init_empty();
  for (const auto& [key, v] : m) {
    const char* k = key.c_str();
    switch (v.type()) {
      case GgufType::u8: g.gguf_set_val_u8(ctx, k, v.get<std::uint8_t>()); break;
      case GgufType::i8: g.gguf_set_val_i8(ctx, k, v.get<std::int8_t>()); break;
      case GgufType::u16: g.gguf_set_val_u16(ctx, k, v.get<std::uint16_t>()); break;
      case GgufType::i16: g.gguf_set_val_i16(ctx, k, v.get<std::int16_t>()); break;
      case GgufType::u32: g.gguf_set_val_u32(ctx, k, v.get<std::uint32_t>()); break;
      case GgufType::i32: g.gguf_set_val_i32(ctx, k, v.get<std::int32_t>()); break;
      case GgufType::f32: g.gguf_set_val_f32(ctx, k, v.get<float>()); break;
      case GgufType::u64: g.gguf_set_val_u64(ctx, k, v.get<std::uint64_t>()); break;
      case GgufType::i64: g.gguf_set_val_i64(ctx, k, v.get<std::int64_t>()); break;
      case GgufType::f64: g.gguf_set_val_f64(ctx, k, v.get<double>()); break;
      case GgufType::boolean: g.gguf_set_val_bool(ctx, k, v.get<bool>()); break;
      case GgufType::string: g.gguf_set_val_str(ctx, k, v.str().c_str()); break;
      case GgufType::array:
        if (v.element_type() == GgufType::string) {
          std::vector<const char*> items;
          for (const std::string& s : v.strings()) items.push_back(s.c_str());
          g.gguf_set_arr_str(ctx, k, items.data(), items.size());
        } else {
          g.gguf_set_arr_data(ctx, k, static_cast<int>(v.element_type()), v.raw_bytes().data(), v.size());
        }
        break;
    }
  }
  std::size_t bytes = 0;
  for (const auto& t : tensors) bytes += t.data.size() + 1024;
  ggml_context* data = g.ggml_init({bytes + 1024 * 1024, nullptr, false});
  for (const auto& t : tensors) {
    ggml_tensor* x = g.ggml_new_tensor(data, static_cast<int>(t.type), static_cast<int>(t.ne.size()), t.ne.data());
    g.ggml_set_name(x, t.name.c_str());
    std::memcpy(g.ggml_get_data(x), t.data.data(), t.data.size());
    g.gguf_add_tensor(ctx, x);
  }
  ASSERT_TRUE(g.gguf_write_to_file(ctx, path.c_str(), false));
  g.gguf_free(ctx);
  g.ggml_free(data);
}

TEST(GgufOracle, FilesGgmlWritesReadTheSameInEigenq) {
  SKIP_WITHOUT_GGML();
  io_test::TempDir dir;
  Tally tally;
  const auto tensors = tensors_of_every_type();
  // ggml's writer lays data out with the alignment of its context, which gguf_set_val_u32 of
  // general.alignment does not change (it stays 32): other alignments it cannot write correctly.
  for (const std::uint32_t alignment : {32u, 0u}) {
    SCOPED_TRACE(alignment);
    const std::string path = dir / ("ggml-" + std::to_string(alignment) + ".gguf");
    const GgufMetadata m = values_ggml_reads(alignment);
    write_with_ggml(path, m, tensors);
    expect_same_in_both(path, tally);
    // And eigenq sees exactly what was given to ggml's writer.
    const GgufFile f(path);
    EXPECT_EQ(f.metadata(), m);
    ASSERT_EQ(f.tensors().size(), tensors.size());
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_EQ(f.tensors()[i].name, tensors[i].name);
      EXPECT_EQ(f.tensors()[i].ne, tensors[i].ne);
      const auto v = f.tensor(i);
      EXPECT_EQ(std::vector<std::uint8_t>(v.data(), v.data() + v.bytes()), tensors[i].data);
    }
    // Written again by eigenq from what it read: the same bytes as ggml's file.
    std::vector<eigenq::io::GgufOwnedTensor> again;
    for (const auto& t : f.tensors()) {
      const auto v = f.tensor(t.name);
      again.push_back({t.name, t.type, t.ne, std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())});
    }
    eigenq::io::write_gguf(dir / "again.gguf", f.metadata(), again);
    EXPECT_EQ(io_test::read_bytes(dir / "again.gguf"), io_test::read_bytes(path)) << "byte-identical to ggml's writer";
  }
  write_with_ggml(dir / "empty.gguf", {}, {});
  expect_same_in_both(dir / "empty.gguf", tally);
  std::cout << "ggml -> eigenq: " << tally.files << " files, " << tally.keys << " keys, " << tally.tensors
            << " tensors (" << tally.bytes << " bytes) identical\n";
  EXPECT_EQ(tally.tensors, static_cast<int>(2 * tensors.size()));
}

TEST(GgufOracle, TheBadCorpusIsRefusedByGgmlToo) {
  // Where ggml checks the same rule, it refuses the file too (it cannot say why through its C API).
  SKIP_WITHOUT_GGML();
  const std::string dir = std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/gguf_bad/";
  int refused = 0;
  for (const char* file : {"bad_magic.gguf", "version_1.gguf", "version_4.gguf", "big_endian.gguf",
                           "truncated_header.gguf", "tensor_count_huge.gguf", "tensor_count_negative.gguf",
                           "kv_count_huge.gguf", "key_empty.gguf", "key_length_huge.gguf", "duplicate_key.gguf",
                           "value_type_unknown.gguf", "string_past_eof.gguf", "array_length_huge.gguf",
                           "array_type_unknown.gguf", "arrays_nested_17_deep.gguf", "alignment_not_u32.gguf",
                           "alignment_24.gguf", "alignment_0.gguf", "tensor_name_twice.gguf", "n_dims_5.gguf",
                           "dim_negative.gguf", "bytes_overflow.gguf", "type_unknown.gguf",
                           "type_removed_q4_2.gguf", "row_not_whole_blocks.gguf", "offset_misaligned.gguf",
                           "tensors_overlap.gguf", "data_truncated.gguf", "data_section_past_eof.gguf",
                           "truncated_in_tensor_info.gguf"}) {
    SCOPED_TRACE(file);
    const GgmlFile f(dir + file);
    EXPECT_EQ(f.ctx(), nullptr) << "ggml accepts it";
    refused += f.ctx() == nullptr;
  }
  // Stricter than ggml (docs/gguf.md says why): ggml takes these.
  int accepted = 0;
  // (n_dims_0.gguf and dim_0.gguf it refuses only because the rest of the file then disagrees with
  // its packed layout.)
  for (const char* file : {"bool_not_0_or_1.gguf", "tensor_name_empty.gguf",
                           "elements_overflow.gguf"}) {  // ne 2^32 x 2^32: ggml's int64 product wraps to 0
    SCOPED_TRACE(file);
    const GgmlFile f(dir + file);
    EXPECT_NE(f.ctx(), nullptr) << "ggml refuses it now: docs/gguf.md needs an update";
    accepted += f.ctx() != nullptr;
  }
  std::cout << "ggml refuses " << refused << " of the corpus files eigenq refuses; accepts " << accepted
            << " that eigenq refuses\n";
}

}  // namespace
