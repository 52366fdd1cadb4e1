#include "eigenq/io/imatrix.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "eigenq/io/gguf.hpp"
#include "gguf_test_util.hpp"
#include "io_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::io::GgufMetadata;
using eigenq::io::GgufOwnedTensor;
using eigenq::io::Imatrix;
using eigenq::io::ImatrixFormat;
using eigenq::ggml::Type;
using gguf_test::Bytes;

GgufOwnedTensor f32_tensor(const std::string& name, std::vector<std::int64_t> ne, const std::vector<float>& v) {
  GgufOwnedTensor t{name, Type::f32, std::move(ne), std::vector<std::uint8_t>(v.size() * 4)};
  std::memcpy(t.data.data(), v.data(), t.data.size());
  return t;
}

GgufMetadata imatrix_metadata() {
  return {{"general.type", "imatrix"},
          {"imatrix.datasets", std::vector<std::string>{"wiki.train.raw", "code.txt"}},
          {"imatrix.chunk_count", std::uint32_t{100}},
          {"imatrix.chunk_size", std::uint32_t{512}}};
}

TEST(Imatrix, GgufFormatGivesSumsOverCountsAsLlamaQuantizeDoes) {
  io_test::TempDir dir;
  // As llama-imatrix writes them: a dense weight ([n] and [1]) and a 3-expert MoE weight
  // ([n, 3] and [1, 3]) whose second expert was never routed to; an in_sum tensor is ignored.
  const std::vector<float> dense{3.0f, 0.0f, 7.0f, 1e-3f};
  const std::vector<float> moe{1, 2, 3, 4, 5, 6};
  eigenq::io::write_gguf(dir / "imatrix.gguf", imatrix_metadata(),
                         {f32_tensor("blk.0.ffn_down.weight.in_sum2", {4}, dense),
                          f32_tensor("blk.0.ffn_down.weight.counts", {1}, {3.0f}),
                          f32_tensor("blk.0.ffn_down.weight.in_sum", {4}, {1, -1, 1, -1}),
                          f32_tensor("blk.0.ffn_up_exps.weight.in_sum2", {2, 3}, moe),
                          f32_tensor("blk.0.ffn_up_exps.weight.counts", {1, 3}, {2.0f, 0.0f, 4.0f})});
  const Imatrix im = eigenq::io::read_imatrix(dir / "imatrix.gguf");
  EXPECT_EQ(im.format, ImatrixFormat::gguf);
  EXPECT_EQ(im.datasets, (std::vector<std::string>{"wiki.train.raw", "code.txt"}));
  EXPECT_EQ(im.chunk_count, 100);
  EXPECT_EQ(im.chunk_size, 512);
  ASSERT_EQ(im.entries.size(), 2u);
  EXPECT_EQ(im.entries[0].name, "blk.0.ffn_down.weight");  // sorted by name

  const auto& d = im.at("blk.0.ffn_down.weight");
  EXPECT_EQ(d.row_length, 4);
  EXPECT_EQ(d.matrices, 1);
  EXPECT_EQ(d.counts, std::vector<float>{3.0f});
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(d.importance[i], dense[i] / 3.0f);  // float division, exactly
  EXPECT_TRUE(d.matches(4));
  EXPECT_FALSE(d.matches(4, 2));
  EXPECT_EQ(d.weights(4), d.importance.data());

  const auto& e = im.at("blk.0.ffn_up_exps.weight");
  EXPECT_EQ(e.row_length, 2);
  EXPECT_EQ(e.matrices, 3);
  EXPECT_EQ(e.importance, (std::vector<float>{0.5f, 1.0f, 1.0f, 1.0f, 1.25f, 1.5f}))
      << "expert 1 has count 0: llama-quantize uses 1 for its columns";
  EXPECT_TRUE(e.matches(2, 3));
  EXPECT_EQ(e.weights(2, 2)[1], 1.5f);
  EXPECT_THROW_WITH(e.weights(2, 3), eigenq::InvalidArgument, "has no matrix 3 of rows of 2");
  EXPECT_EQ(im.find("nope"), nullptr);
  EXPECT_THROW_WITH(im.at("nope"), eigenq::InvalidArgument, "no entry for 'nope'");
}

Bytes legacy(bool trailer) {
  Bytes b;
  b.i32(2);
  b.i32(5).text("w.one").i32(4).i32(3).f32(40).f32(0).f32(10);
  b.i32(5).text("w.two").i32(10).i32(2).f32(1).f32(2.5f);
  if (trailer) b.i32(42).i32(9).text("wiki.test");
  return b;
}

TEST(Imatrix, LegacyFormatGivesValuesOverNcallAsLlamaQuantizeDoes) {
  for (const bool trailer : {true, false}) {
    SCOPED_TRACE(trailer);
    const Imatrix im = eigenq::io::parse_imatrix(legacy(trailer).data, "i.dat");
    EXPECT_EQ(im.format, ImatrixFormat::legacy);
    ASSERT_EQ(im.entries.size(), 2u);
    const auto& one = im.at("w.one");
    EXPECT_EQ(one.importance, (std::vector<float>{10.0f, 0.0f, 2.5f}));
    EXPECT_EQ(one.counts, std::vector<float>{4.0f});
    EXPECT_EQ(one.row_length, 3);
    EXPECT_EQ(one.matrices, 1);
    const auto& two = im.at("w.two");
    EXPECT_EQ(two.importance, (std::vector<float>{1.0f / 10.0f, 2.5f / 10.0f}));
    EXPECT_EQ(im.chunk_count, trailer ? 42 : 0);
    EXPECT_EQ(im.datasets, trailer ? std::vector<std::string>{"wiki.test"} : std::vector<std::string>{});
    EXPECT_EQ(im.chunk_size, 0);
  }
  io_test::TempDir dir;
  io_test::write_bytes(dir / "i.dat", legacy(true).data);
  EXPECT_EQ(eigenq::io::read_imatrix(dir / "i.dat").at("w.one").importance[0], 10.0f);
}

TEST(Imatrix, AModelFileIsNotAnImatrix) {
  io_test::TempDir dir;
  eigenq::io::write_gguf(dir / "m.gguf", {{"general.architecture", "llama"}}, {f32_tensor("w", {2}, {1, 2})});
  EXPECT_THROW_WITH(eigenq::io::read_imatrix(dir / "m.gguf"), eigenq::FormatError,
                    "m.gguf: byte 16: metadata_kv_count: none of the 1 key/value pairs is 'imatrix.datasets'");
  eigenq::io::write_gguf(dir / "e.gguf", imatrix_metadata(), {});
  EXPECT_THROW_WITH(eigenq::io::read_imatrix(dir / "e.gguf"), eigenq::FormatError, "byte 8: tensor_count: 0 tensors");
  eigenq::io::write_gguf(dir / "o.gguf", imatrix_metadata(), {f32_tensor("w", {2}, {1, 2})});
  EXPECT_THROW_WITH(eigenq::io::read_imatrix(dir / "o.gguf"), eigenq::FormatError,
                    "byte 8: tensor_count: none of the 1 tensors is a NAME.in_sum2 or NAME.counts tensor");
  eigenq::io::write_gguf(dir / "m3.gguf", imatrix_metadata(),
                         {f32_tensor("w.in_sum2", {1, 1, 2}, {1, 2}), f32_tensor("w.counts", {1, 2}, {1, 1})});
  EXPECT_THROW_WITH(eigenq::io::read_imatrix(dir / "m3.gguf"), eigenq::FormatError,
                    "tensor 'w.in_sum2' n_dims: in_sum2 has 3 dimensions; an imatrix tensor has 1 or 2");
}

// The imatrix part of the bad-input corpus (tests/io/data/gguf_bad, tests/io/make_gguf_files.py).
struct BadImatrix {
  const char* file;
  const char* message;  // after "<path>: "
};

const BadImatrix bad_imatrix[] = {
    {"imatrix_nan.gguf", "byte 328: tensor 'blk.0.ffn_down.weight.in_sum2' [2, 0]: a sum of squares must be finite "
                         "and >= 0, found nan"},
    {"imatrix_negative_sum.gguf", "byte 324: tensor 'blk.0.ffn_down.weight.in_sum2' [1, 0]: a sum of squares must be "
                                  "finite and >= 0, found -8"},
    {"imatrix_zero_count.gguf", "byte 352: tensor 'blk.0.ffn_down.weight.counts': every count is 0: weight "
                                "'blk.0.ffn_down.weight' saw no input during calibration"},
    {"imatrix_fractional_count.gguf", "byte 352: tensor 'blk.0.ffn_down.weight.counts' [0]: a count of activation "
                                      "rows must be a whole number >= 0, found 1e-30"},
    {"imatrix_sums_without_counts.gguf", "byte 194: tensor 'blk.0.ffn_down.weight.in_sum2': no tensor "
                                         "'blk.0.ffn_down.weight.counts' goes with it"},
    {"imatrix_counts_shape.gguf", "byte 255: tensor 'w.counts' ne: must be [1, 1] (one count for each of the 1 "
                                  "matrices of its in_sum2), found [1, 2]"},
    {"imatrix_sums_f16.gguf", "byte 223: tensor 'w.in_sum2' type: in_sum2 must be f32, found f16"},
    {"imatrix_no_chunk_size.gguf", "byte 16: metadata_kv_count: none of the 3 key/value pairs is "
                                   "'imatrix.chunk_size', which an imatrix file must have (imatrix.datasets, "
                                   "imatrix.chunk_count, imatrix.chunk_size)"},
    {"imatrix_chunk_count_i32.gguf", "byte 152: metadata 'imatrix.chunk_count' value type: must be u32, found i32"},
    {"imatrix_general_type_model.gguf", "byte 24: metadata 'general.type': is \"model\", not \"imatrix\": not an "
                                        "importance matrix file"},
    {"legacy_entry_count_0.dat", "byte 0: entry count: must be positive, found 0"},
    {"legacy_entry_count_huge.dat", "byte 0: entry count: 1073741824 entries cannot fit in the 110 bytes after it "
                                    "(each takes at least 17)"},
    {"legacy_name_length_negative.dat", "byte 51: entry 1 name length: must be positive, found -5"},
    {"legacy_name_length_huge.dat", "byte 51: entry 1 name length: a name of 1073741824 bytes does not fit in the 59 "
                                    "bytes left in the file"},
    {"legacy_ncall_0.dat", "byte 27: entry 0 'blk.0.attn_q.weight' ncall: the count must be positive, found 0"},
    {"legacy_nval_huge.dat", "byte 80: entry 1 'blk.0.ffn_down.weight' nval: 1000 values need 4000 bytes but 30 are "
                             "left in the file (truncated?)"},
    {"legacy_nan.dat", "byte 43: entry 0 'blk.0.attn_q.weight' value 2: an importance must be finite and >= 0, found "
                       "nan"},
    {"legacy_negative_value.dat", "byte 88: entry 1 'blk.0.ffn_down.weight' value 1: an importance must be finite and "
                                  ">= 0, found -1"},
    {"legacy_name_twice.dat", "byte 55: entry 1 'blk.0.attn_q.weight' name: repeats the name of entry 0"},
    {"legacy_trailing_bytes.dat", "byte 114: end of file: 2 bytes follow the dataset name"},
    {"legacy_trailer_truncated.dat", "byte 96: dataset name length: needs 4 bytes but the file ends 2 bytes later, at "
                                     "byte 98 (truncated?)"},
    {"legacy_dataset_length_huge.dat", "byte 96: dataset name length: a name of 1048576 bytes does not fit in the 14 "
                                       "bytes left in the file"},
};

std::string corpus_path(const std::string& file) { return std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/gguf_bad/" + file; }

TEST(ImatrixBadInput, EachCorpusFileGivesItsExactMessage) {
  std::map<std::string, std::pair<std::string, std::string>> manifest;
  std::ifstream in(corpus_path("MANIFEST.tsv"));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string file, byte, field;
    std::getline(fields, file, '\t');
    std::getline(fields, byte, '\t');
    std::getline(fields, field, '\t');
    manifest[file] = {byte, field};
  }
  for (const BadImatrix& b : bad_imatrix) {
    SCOPED_TRACE(b.file);
    const std::string path = corpus_path(b.file);
    ASSERT_EQ(manifest.count(b.file), 1u) << "not in MANIFEST.tsv";
    const auto& [byte, field] = manifest.at(b.file);
    EXPECT_EQ(std::string(b.message).rfind("byte " + byte + ": " + field + ": ", 0), 0u)
        << "the manifest says byte " << byte << ", field " << field;
    try {
      (void)eigenq::io::read_imatrix(path);
      ADD_FAILURE() << "no error";
    } catch (const eigenq::FormatError& e) {
      EXPECT_EQ(std::string(e.what()), path + ": " + b.message);
    }
    EXPECT_THROW_WITH(eigenq::io::parse_imatrix(io_test::read_bytes(path), path), eigenq::FormatError, b.message);
  }
}

TEST(ImatrixBadInput, TheCorpusIsCoveredByTheTests) {
  // Every file the generator wrote has an expected message in gguf_test.cpp or here.
  std::ifstream in(corpus_path("MANIFEST.tsv"));
  std::size_t files = 0;
  std::size_t imatrix = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    ++files;
    const std::string file = line.substr(0, line.find('\t'));
    if (file.rfind("imatrix_", 0) == 0 || file.rfind("legacy_", 0) == 0) ++imatrix;
  }
  EXPECT_EQ(imatrix, sizeof bad_imatrix / sizeof bad_imatrix[0]);
  EXPECT_GE(files, 20u);
}

}  // namespace
