#include "eigenq/io/safetensors.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "io_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Shape;
using eigenq::io::DType;
using eigenq::io::OwnedTensor;

OwnedTensor raw_tensor(const std::string& name, DType t, const Shape& shape, unsigned seed) {
  OwnedTensor o{name, t, shape, {}};
  o.data.resize(static_cast<std::size_t>(eigenq::element_count(shape)) * eigenq::io::dtype_size(t));
  for (std::size_t i = 0; i < o.data.size(); ++i) o.data[i] = static_cast<std::uint8_t>((i * 37 + seed) & 0xff);
  return o;
}

TEST(Safetensors, RoundTripsEveryDtypeShapeAndMetadata) {
  io_test::TempDir dir;
  const DType all[] = {DType::boolean, DType::u8,  DType::i8,  DType::u16,  DType::i16,     DType::u32,    DType::i32, DType::u64,
                       DType::i64,     DType::f16, DType::bf16, DType::f32, DType::f64, DType::f8_e4m3, DType::f8_e5m2};
  std::vector<OwnedTensor> tensors;
  unsigned seed = 1;
  for (DType t : all) tensors.push_back(raw_tensor(std::string("t.") + eigenq::io::to_string(t), t, {3, 5}, seed++));
  tensors.push_back(raw_tensor("scalar", DType::f32, {}, seed++));
  tensors.push_back(raw_tensor("empty", DType::f32, {0, 4}, seed++));
  tensors.push_back(raw_tensor("ünïcode ✓", DType::i8, {2}, seed++));
  const std::map<std::string, std::string> metadata{{"format", "pt"}, {"note", "line\nbreak \"quoted\""}};
  const std::string path = dir / "m.safetensors";
  eigenq::io::write_safetensors(path, tensors, metadata);

  const eigenq::io::SafetensorsFile f(path);
  EXPECT_EQ(f.metadata(), metadata);
  EXPECT_EQ(f.data_offset() % 8, 0u) << "the header is padded to a multiple of 8, as the reference writer does";
  ASSERT_EQ(f.tensors().size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].name);
    const eigenq::io::TensorInfo& info = f.tensors()[i];  // data order is the order written
    EXPECT_EQ(info.name, tensors[i].name);
    EXPECT_EQ(info.dtype, tensors[i].dtype);
    EXPECT_EQ(info.shape, tensors[i].shape);
    const eigenq::io::TensorView v = f.tensor(info.name);
    ASSERT_EQ(v.bytes(), tensors[i].data.size());
    EXPECT_EQ(std::vector<std::uint8_t>(v.data(), v.data() + v.bytes()), tensors[i].data);
  }
  // Reading the bytes back and writing them again gives the same file.
  std::vector<OwnedTensor> again;
  for (const auto& info : f.tensors()) {
    const auto v = f.tensor(info.name);
    again.push_back({info.name, info.dtype, info.shape, std::vector<std::uint8_t>(v.data(), v.data() + v.bytes())});
  }
  eigenq::io::write_safetensors(dir / "again.safetensors", again, f.metadata());
  EXPECT_EQ(io_test::read_bytes(path), io_test::read_bytes(dir / "again.safetensors"));
}

TEST(Safetensors, ViewsAreZeroCopyIntoTheMapping) {
  io_test::TempDir dir;
  const std::vector<float> a{1, 2, 3, 4, 5, 6};
  eigenq::io::write_safetensors(dir / "m.safetensors", {eigenq::io::make_tensor("a", {2, 3}, a.data())});
  const eigenq::io::SafetensorsFile f(dir / "m.safetensors");
  const auto v = f.tensor("a");
  const float* p = v.data_as<float>();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(static_cast<const void*>(p), static_cast<const void*>(v.data()));
  EXPECT_EQ(std::vector<float>(p, p + 6), a);
  f.release(v);  // pages dropped, the view still reads the same data
  EXPECT_EQ(v.to_float(), a);
  EXPECT_THROW_WITH(v.data_as<double>(), eigenq::InvalidArgument, "'a' is F32, not F64");
}

TEST(Safetensors, HalfAndBfloat16WidenExactly) {
  // IEEE half: 1, -2, 65504 (max), 2^-24 (smallest denormal), inf; bfloat16: 1, -3, 2^-133.
  const std::vector<std::uint16_t> half{0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00};
  const std::vector<std::uint16_t> bf16{0x3f80, 0xc040, 0x0001};
  io_test::TempDir dir;
  OwnedTensor h{"h", DType::f16, {5}, {}};
  OwnedTensor b{"b", DType::bf16, {3}, {}};
  h.data.resize(10);
  b.data.resize(6);
  std::memcpy(h.data.data(), half.data(), 10);
  std::memcpy(b.data.data(), bf16.data(), 6);
  eigenq::io::write_safetensors(dir / "m.safetensors", {h, b});
  const eigenq::io::SafetensorsFile f(dir / "m.safetensors");
  const std::vector<float> hv = f.tensor("h").to_float();
  EXPECT_EQ(hv[0], 1.0f);
  EXPECT_EQ(hv[1], -2.0f);
  EXPECT_EQ(hv[2], 65504.0f);
  EXPECT_EQ(hv[3], std::ldexp(1.0f, -24));
  EXPECT_EQ(hv[4], std::numeric_limits<float>::infinity());
  const std::vector<float> bv = f.tensor("b").to_float();
  EXPECT_EQ(bv[0], 1.0f);
  EXPECT_EQ(bv[1], -3.0f);
  EXPECT_EQ(bv[2], std::ldexp(1.0f, -133));
}

TEST(Safetensors, WriterTakesChunksInAnyOrderFromSeveralThreads) {
  io_test::TempDir dir;
  std::vector<OwnedTensor> tensors;
  for (int i = 0; i < 8; ++i) tensors.push_back(raw_tensor("t" + std::to_string(i), DType::f32, {64, 33}, 11u * i));
  eigenq::io::write_safetensors(dir / "seq.safetensors", tensors);

  std::vector<eigenq::io::TensorEntry> entries;
  for (const auto& t : tensors) entries.push_back({t.name, t.dtype, t.shape});
  eigenq::io::SafetensorsWriter w(dir / "par.safetensors", entries);
  auto writer = [&](int first) {
    for (int i = 7 - first; i >= 0; i -= 2) {  // backwards, interleaved between threads, in 1000-byte chunks
      const auto& d = tensors[static_cast<std::size_t>(i)].data;
      for (std::size_t off = 0; off < d.size(); off += 1000) {
        w.write_chunk(static_cast<std::size_t>(i), off, d.data() + off, std::min<std::size_t>(1000, d.size() - off));
      }
    }
  };
  std::thread other(writer, 1);
  writer(0);
  other.join();
  w.commit();
  EXPECT_EQ(io_test::read_bytes(dir / "seq.safetensors"), io_test::read_bytes(dir / "par.safetensors"));
}

TEST(Safetensors, WriterRefusesIncompleteFilesAndLeavesNothing) {
  io_test::TempDir dir;
  const std::vector<float> a{1, 2, 3};
  {
    eigenq::io::SafetensorsWriter w(dir / "x.safetensors", {{"a", DType::f32, {3}}, {"b", DType::f32, {2}}});
    w.write(0, a.data(), 12);
    EXPECT_THROW_WITH(w.commit(), eigenq::InvalidArgument, "tensor 'b' has 0 of its 8 bytes written");
    EXPECT_THROW_WITH(w.write(1, a.data(), 12), eigenq::InvalidArgument, "'b' needs 8 bytes, got 12");
    EXPECT_THROW_WITH(w.write_chunk(1, 4, a.data(), 8), eigenq::InvalidArgument, "outside tensor 'b'");
  }
  EXPECT_TRUE(dir.entries().empty()) << "no output and no temporary file";
  EXPECT_THROW_WITH(eigenq::io::SafetensorsWriter(dir / "y", {{"a", DType::f32, {1}}, {"a", DType::f32, {1}}}),
                    eigenq::InvalidArgument, "'a' appears twice");
  EXPECT_THROW_WITH(eigenq::io::SafetensorsWriter(dir / "y", {{"__metadata__", DType::f32, {1}}}), eigenq::InvalidArgument,
                    "__metadata__");
  EXPECT_THROW_WITH(eigenq::io::SafetensorsWriter(dir / "y", {{"bad\xff", DType::f32, {1}}}), eigenq::InvalidArgument,
                    "not valid UTF-8");
  EXPECT_TRUE(dir.entries().empty());
}

// ---- Bad input: hand-built files, one fault each.

std::vector<std::uint8_t> st_bytes(const std::string& header, std::size_t data_bytes, std::uint64_t size_field = 0) {
  const std::uint64_t n = size_field ? size_field : header.size();
  std::vector<std::uint8_t> b(8);
  for (int k = 0; k < 8; ++k) b[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>((n >> (8 * k)) & 0xff);
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

void expect_bad_safetensors(const std::vector<std::uint8_t>& bytes, const char* fragment) {
  io_test::TempDir dir;
  io_test::write_bytes(dir / "bad.safetensors", bytes);
  EXPECT_THROW_WITH(eigenq::io::SafetensorsFile(dir / "bad.safetensors"), eigenq::FormatError, "bad.safetensors", fragment);
  EXPECT_THROW_WITH(eigenq::io::SafetensorsFile::from_buffer(bytes, "mem"), eigenq::FormatError, "mem", fragment);
}

const std::string two = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}})";

TEST(SafetensorsBadInput, AGoodFileParsesSoTheCasesBelowTestOneFaultEach) {
  const auto f = eigenq::io::SafetensorsFile::from_buffer(st_bytes(two, 11));
  EXPECT_EQ(f.tensors().size(), 2u);
  EXPECT_EQ(f.tensor("b").bytes(), 3u);
}

TEST(SafetensorsBadInput, TruncatedFiles) {
  const auto good = st_bytes(two, 11);
  for (std::size_t n = 0; n < good.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW(eigenq::io::SafetensorsFile::from_buffer(std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))),
                 eigenq::FormatError);
  }
  expect_bad_safetensors({1, 0, 0}, "too short");
  expect_bad_safetensors(st_bytes(two, 10), "ends outside the data section of 10 bytes");
}

TEST(SafetensorsBadInput, HeaderSizeBounds) {
  expect_bad_safetensors(st_bytes(two, 11, 100'000'001), "exceeds the limit of 100000000 bytes");
  expect_bad_safetensors(st_bytes(two, 11, 1u << 20), "header size 1048576 is larger than the file");
  expect_bad_safetensors(st_bytes(two, 0, std::numeric_limits<std::uint64_t>::max()), "exceeds the limit");
}

TEST(SafetensorsBadInput, HeaderIsNotAJsonObject) {
  expect_bad_safetensors(st_bytes(" {}", 0), "does not start with '{'");
  expect_bad_safetensors(st_bytes("[1,2]", 0), "does not start with '{'");
  expect_bad_safetensors(st_bytes(R"({"a": {"dtype": "F32",)", 0), "not valid JSON");
  expect_bad_safetensors(st_bytes(R"({"a": 1} trailing)", 0), "not valid JSON");
  expect_bad_safetensors(st_bytes("{\"a\xff\": {}}", 0), "not valid JSON");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})", 0),
             "names 'a' twice");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[[[[1]]]],"data_offsets":[0,4]}})", 4), "nests deeper");
}

TEST(SafetensorsBadInput, EntriesNeedDtypeShapeAndOffsets) {
  expect_bad_safetensors(st_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "tensor 'a': no \"dtype\"");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8), "tensor 'a': no \"shape\"");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "tensor 'a': no \"data_offsets\"");
  expect_bad_safetensors(st_bytes(R"({"a":[1]})", 0), "tensor 'a': its entry is not a JSON object");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), "[begin, end]");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8), "\"shape\" is not an array");
}

TEST(SafetensorsBadInput, UnknownDtypes) {
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype \"F31\"");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype \"f32\"");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", 8), "\"dtype\" is not a string");
}

TEST(SafetensorsBadInput, ShapesAndByteCounts) {
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "negative");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8), "non-negative integers");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8), "overflows");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8), "overflows");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[18446744073709551615,0],"data_offsets":[0,0]}})", 0), "overflows");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes but data_offsets [0, 8] hold 8");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "end before they begin");
}

TEST(SafetensorsBadInput, OffsetsOverlapLeaveGapsOrPointOutside) {
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[6,9]}})", 9),
             "tensor 'b' at data_offsets [6, 9] overlaps tensor 'a' at [0, 8]");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[3],"data_offsets":[10,13]}})", 13),
             "2 bytes between tensor 'a' (ends at 8) and tensor 'b' (begins at 10) belong to no tensor");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "begins at byte 4");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[1000000,1000008]}})", 8), "begins at byte 1000000");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "ends outside the data section");
  expect_bad_safetensors(st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 9), "1 trailing bytes");
}

TEST(SafetensorsBadInput, Metadata) {
  expect_bad_safetensors(st_bytes(R"({"__metadata__":{"k":1}})", 0), "value of 'k' is not a string");
  expect_bad_safetensors(st_bytes(R"({"__metadata__":["k"]})", 0), "\"__metadata__\" is not a JSON object");
  const auto ok = eigenq::io::SafetensorsFile::from_buffer(st_bytes(R"({"__metadata__":{"k":"v"}})", 0));
  EXPECT_EQ(ok.metadata().at("k"), "v");
  EXPECT_TRUE(ok.tensors().empty());
}

TEST(SafetensorsBadInput, MissingFileIsAnIoError) {
  EXPECT_THROW_WITH(eigenq::io::SafetensorsFile("/nonexistent/m.safetensors"), eigenq::IoError, "/nonexistent/m.safetensors");
  io_test::TempDir dir;
  EXPECT_THROW_WITH(eigenq::io::SafetensorsFile(dir.path().string()), eigenq::IoError, "not a regular file");
}

}  // namespace
