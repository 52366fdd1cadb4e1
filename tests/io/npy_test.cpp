#include "eigenq/io/npy.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "io_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::Index;
using eigenq::Shape;
using eigenq::io::DType;

std::string fixture(const std::string& name) { return std::string(EIGENQ_TEST_DATA_DIR) + "/io/data/" + name; }

// The values make_npy_fixtures.py writes at C-order flat index k.
double fixture_value(Index k, DType t) {
  const double v = static_cast<double>((k * 7) % 23 - 11);
  if (eigenq::io::converts_to_float(t) && !eigenq::io::is_integer(t)) return v / 4;
  if (t == DType::u8) return v + 11;
  return v;
}

void expect_fixture(const std::string& file, DType dtype, const Shape& shape, bool fortran, int version) {
  SCOPED_TRACE(file);
  const eigenq::io::NpyArray a = eigenq::io::read_npy(fixture(file));
  EXPECT_EQ(a.dtype, dtype);
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.fortran_order, fortran);
  EXPECT_EQ(eigenq::io::NpyFile(fixture(file)).header().major, version);
  const std::vector<double> v = a.values<double>();
  ASSERT_EQ(static_cast<Index>(v.size()), eigenq::element_count(shape));
  for (Index k = 0; k < static_cast<Index>(v.size()); ++k) {
    ASSERT_EQ(v[static_cast<std::size_t>(k)], fixture_value(k, dtype)) << "element " << k;
  }
}

TEST(Npy, ReadsEveryDtypeAndOrderNumpyWrites) {
  const std::pair<const char*, DType> dtypes[] = {{"f2", DType::f16}, {"f4", DType::f32}, {"f8", DType::f64},
                                                  {"i1", DType::i8},  {"u1", DType::u8},  {"i2", DType::i16},
                                                  {"i4", DType::i32}};
  for (const auto& [code, dtype] : dtypes) {
    for (const char* order : {"C", "F"}) {
      expect_fixture(std::string(code) + "_3x4x5_" + order + "_v1.npy", dtype, {3, 4, 5}, order[0] == 'F', 1);
    }
  }
}

TEST(Npy, ReadsFormatVersions2And3) {
  for (int v : {2, 3}) {
    expect_fixture("f4_2x3_C_v" + std::to_string(v) + ".npy", DType::f32, {2, 3}, false, v);
    expect_fixture("i2_2x3_F_v" + std::to_string(v) + ".npy", DType::i16, {2, 3}, true, v);
  }
}

TEST(Npy, ReadsScalarVectorAndEmptyArrays) {
  expect_fixture("f8_scalar_C_v1.npy", DType::f64, {}, false, 1);
  expect_fixture("i4_7_C_v1.npy", DType::i32, {7}, false, 1);
  expect_fixture("f4_0x3_C_v1.npy", DType::f32, {0, 3}, false, 1);
}

TEST(Npy, FortranFixtureAsEigenMatrixAndTensor) {
  const Eigen::MatrixXf m = eigenq::io::read_npy_matrix<float>(fixture("f4_4x6_F_v1.npy"));
  ASSERT_EQ(m.rows(), 4);
  ASSERT_EQ(m.cols(), 6);
  for (Index r = 0; r < 4; ++r) {
    for (Index c = 0; c < 6; ++c) EXPECT_EQ(m(r, c), fixture_value(r * 6 + c, DType::f32));
  }
  const auto t = eigenq::io::read_npy_tensor<double, 3, Eigen::RowMajor>(fixture("i1_3x4x5_F_v1.npy"));
  const auto u = eigenq::io::read_npy_tensor<double, 3, Eigen::ColMajor>(fixture("i1_3x4x5_C_v1.npy"));
  for (Index i = 0; i < 3; ++i) {
    for (Index j = 0; j < 4; ++j) {
      for (Index k = 0; k < 5; ++k) {
        EXPECT_EQ(t(i, j, k), fixture_value((i * 4 + j) * 5 + k, DType::i8));
        EXPECT_EQ(u(i, j, k), fixture_value((i * 4 + j) * 5 + k, DType::i8));
      }
    }
  }
}

// Distinct byte patterns in every element, so any reordering or truncation shows.
std::vector<std::uint8_t> pattern_bytes(std::size_t n) {
  std::vector<std::uint8_t> b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * 131 + 7) & 0x7f);  // no NaN floats
  return b;
}

TEST(Npy, RoundTripsEveryDtypeOrderAndVersion) {
  io_test::TempDir dir;
  const DType dtypes[] = {DType::f16, DType::f32, DType::f64, DType::i8,  DType::u8, DType::i16,
                          DType::u16, DType::i32, DType::u32, DType::i64, DType::u64};
  for (DType t : dtypes) {
    for (bool fortran : {false, true}) {
      for (int version : {1, 2, 3}) {
        SCOPED_TRACE(std::string(eigenq::io::to_string(t)) + (fortran ? " F" : " C") + " v" + std::to_string(version));
        const Shape shape{2, 3, 5};
        eigenq::io::NpyArray a{t, shape, fortran, pattern_bytes(30 * eigenq::io::dtype_size(t))};
        const std::string path = dir / "a.npy";
        eigenq::io::write_npy(path, a, {version, {}});
        const std::vector<std::uint8_t> file = io_test::read_bytes(path);
        EXPECT_EQ(file[6], version);
        EXPECT_EQ((file.size() - a.data.size()) % 64, 0u) << "data starts 64-byte aligned, as numpy writes it";
        const eigenq::io::NpyArray b = eigenq::io::read_npy(path);
        EXPECT_EQ(b.dtype, t);
        EXPECT_EQ(b.shape, shape);
        EXPECT_EQ(b.fortran_order, fortran);
        EXPECT_EQ(b.data, a.data);
      }
    }
  }
}

TEST(Npy, AutomaticVersionIsOneForSmallHeaders) {
  io_test::TempDir dir;
  const std::vector<float> v{1, 2, 3};
  eigenq::io::write_npy(dir / "v.npy", v.data(), Shape{3});
  const std::vector<std::uint8_t> f = io_test::read_bytes(dir / "v.npy");
  EXPECT_EQ(f[6], 1);
  const std::string header(f.begin() + 10, f.end() - 12);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_EQ(header.compare(0, dict.size(), dict), 0) << header;
  EXPECT_EQ(header.back(), '\n');
}

TEST(Npy, EigenMatricesKeepTheirStorageOrder) {
  io_test::TempDir dir;
  Eigen::MatrixXf col(3, 4);
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row(3, 4);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) col(r, c) = row(r, c) = static_cast<float>(10 * r + c);
  }
  eigenq::io::write_npy(dir / "col.npy", col);
  eigenq::io::write_npy(dir / "row.npy", row);
  const auto a = eigenq::io::read_npy(dir / "col.npy");
  const auto b = eigenq::io::read_npy(dir / "row.npy");
  EXPECT_TRUE(a.fortran_order);
  EXPECT_FALSE(b.fortran_order);
  EXPECT_EQ(a.shape, (Shape{3, 4}));
  EXPECT_EQ(a.values<float>(), b.values<float>());  // same logical array
  EXPECT_EQ(eigenq::io::read_npy_matrix<float>(dir / "col.npy"), col);
  EXPECT_EQ(eigenq::io::read_npy_matrix<float>(dir / "row.npy"), col);

  Eigen::Tensor<std::int16_t, 3, Eigen::ColMajor> t(2, 3, 4);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<std::int16_t>(i * 3 - 20);
  eigenq::io::write_npy(dir / "t.npy", t);
  EXPECT_TRUE(eigenq::io::read_npy(dir / "t.npy").fortran_order);
  const auto back = eigenq::io::read_npy_tensor<std::int16_t, 3, Eigen::RowMajor>(dir / "t.npy");
  for (Index i = 0; i < 2; ++i) {
    for (Index j = 0; j < 3; ++j) {
      for (Index k = 0; k < 4; ++k) EXPECT_EQ(back(i, j, k), t(i, j, k));
    }
  }
}

TEST(Npy, ConversionsThatCouldLoseOrWrapAreRefused) {
  EXPECT_THROW_WITH(eigenq::io::read_npy_matrix<std::int32_t>(fixture("f4_4x6_F_v1.npy")), eigenq::InvalidArgument,
                    "cannot read F32 elements as I32");
  EXPECT_THROW(eigenq::io::read_npy(fixture("i4_7_C_v1.npy")).values<std::int8_t>(), eigenq::InvalidArgument);
  const std::vector<std::int64_t> wide = eigenq::io::read_npy(fixture("i1_3x4x5_C_v1.npy")).values<std::int64_t>();
  EXPECT_EQ(wide[1], -4);
  EXPECT_THROW_WITH(eigenq::io::read_npy_matrix<float>(fixture("i1_3x4x5_C_v1.npy")), eigenq::ShapeError, "not a matrix");
}

// ---- Bad input: every malformed file is a FormatError naming the file and the problem.

std::vector<std::uint8_t> npy_bytes(const std::string& header, int version = 1, std::size_t data_bytes = 0,
                                    bool fix_length = true, std::uint32_t length = 0) {
  std::vector<std::uint8_t> b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(version), 0};
  const std::uint32_t len = fix_length ? static_cast<std::uint32_t>(header.size()) : length;
  b.push_back(static_cast<std::uint8_t>(len & 0xff));
  b.push_back(static_cast<std::uint8_t>((len >> 8) & 0xff));
  if (version != 1) {
    b.push_back(static_cast<std::uint8_t>((len >> 16) & 0xff));
    b.push_back(static_cast<std::uint8_t>((len >> 24) & 0xff));
  }
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

void expect_bad_npy(const std::vector<std::uint8_t>& bytes, const char* fragment) {
  io_test::TempDir dir;
  const std::string path = dir / "bad.npy";
  io_test::write_bytes(path, bytes);
  EXPECT_THROW_WITH(eigenq::io::read_npy(path), eigenq::FormatError, "bad.npy", fragment);
  EXPECT_THROW_WITH(eigenq::io::parse_npy(bytes.data(), bytes.size(), "mem.npy"), eigenq::FormatError, "mem.npy", fragment);
}

const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";

TEST(NpyBadInput, AGoodFileParsesSoTheCasesBelowTestOneFaultEach) {
  const auto b = npy_bytes(good, 1, 24);
  EXPECT_EQ(eigenq::io::parse_npy(b.data(), b.size(), "x").shape, (Shape{2, 3}));
}

TEST(NpyBadInput, TruncatedAnywhere) {
  const auto b = npy_bytes(good, 1, 24);
  for (std::size_t n = 0; n < b.size(); ++n) {
    SCOPED_TRACE(n);
    const std::vector<std::uint8_t> cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW(eigenq::io::parse_npy(cut.data(), cut.size(), "cut.npy"), eigenq::FormatError);
  }
  expect_bad_npy(npy_bytes(good, 1, 23), "truncated");
  expect_bad_npy(npy_bytes(good, 1, 23), "needs 24 bytes of data but only 23");
  expect_bad_npy({0x93, 'N', 'U', 'M'}, "too short");
}

TEST(NpyBadInput, MagicVersionAndHeaderLength) {
  auto b = npy_bytes(good, 1, 24);
  b[1] = 'X';
  expect_bad_npy(b, "magic");
  expect_bad_npy(npy_bytes(good, 4, 24), "unsupported .npy format version 4.0");
  auto minor = npy_bytes(good, 1, 24);
  minor[7] = 1;
  expect_bad_npy(minor, "version 1.1");
  expect_bad_npy(npy_bytes(good, 1, 24, false, 5000), "header length 5000 is larger than the file");
  expect_bad_npy(npy_bytes(good, 2, 24, false, 0xffffffffu), "header length 4294967295 is larger than the file");
}

TEST(NpyBadInput, HeaderDictSyntax) {
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False}\n"), "no 'shape' key");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'shape': (2,)}\n", 1, 8), "no 'fortran_order' key");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 1, 8), "unexpected key 'x'");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", 1, 8),
             "'descr' appears twice");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}\n", 1, 8), "True or False");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}\n", 1, 8), "trailing comma");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}\n", 1, 8), "expected a tuple");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}\n", 1, 8), "negative");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x\n", 1, 8), "final newline");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 1, 8), "final newline");
  expect_bad_npy(npy_bytes("{'descr: '<f4'}\n", 1, 8), "invalid .npy header at column");
  expect_bad_npy(npy_bytes("{'descr': '<f4' 'fortran_order': False}\n"), "expected ',' or '}'");
}

TEST(NpyBadInput, UnsupportedTypes) {
  expect_bad_npy(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 1, 8), "big-endian");
  expect_bad_npy(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }\n", 1, 16), "unsupported descr '<c8'");
  expect_bad_npy(npy_bytes("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }\n", 1, 8), "byte order");
  expect_bad_npy(npy_bytes("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }\n", 1, 16), "unsupported descr");
}

TEST(NpyBadInput, ShapesWhoseSizeOverflows) {
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n"),
             "more elements than an int64 can count");
  expect_bad_npy(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }\n"),
             "more bytes than fit in 64 bits");
  expect_bad_npy(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n"),
             "does not fit in 64 bits");
}

TEST(NpyBadInput, TrailingDataAndMissingFile) {
  expect_bad_npy(npy_bytes(good, 1, 25), "1 unexpected bytes after the array data");
  EXPECT_THROW_WITH(eigenq::io::read_npy("/nonexistent/x.npy"), eigenq::IoError, "/nonexistent/x.npy", "cannot open");
}

}  // namespace
