// .npy files (numpy's format, versions 1.0, 2.0 and 3.0): read and write raw
// arrays and Eigen matrices and tensors.
//
// A .npy file is the magic "\x93NUMPY", a version (major, minor byte), the
// header length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), a
// header that is a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ended by '\n', then the array's bytes in C
// (row-major) or Fortran (column-major) order. Supported element types are the
// little-endian ones: f2 f4 f8 i1 u1 i2 u2 i4 u4 i8 u8.
//
// The reader is strict: every malformed header, an unsupported version or
// type, a shape whose size overflows, and data that is shorter or longer than
// the header says throw FormatError naming the file; files that cannot be
// opened throw IoError.
//
//   auto a = eigenq::io::read_npy("w.npy");                      // raw: dtype, shape, order, bytes
//   Eigen::MatrixXf w = eigenq::io::read_npy_matrix<float>("w.npy");
//   eigenq::io::write_npy("w2.npy", w);                          // column-major: fortran_order True
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "eigenq/core/eigen_view.hpp"
#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/mapped_file.hpp"

namespace eigenq {
namespace io {

// The numpy type string ('descr') of a dtype; throws for dtypes .npy files of
// plain numbers cannot hold here (BOOL, BF16, F8).
inline std::string npy_descr(DType t) {
  switch (t) {
    case DType::u8: return "|u1";
    case DType::i8: return "|i1";
    case DType::u16: return "<u2";
    case DType::i16: return "<i2";
    case DType::u32: return "<u4";
    case DType::i32: return "<i4";
    case DType::u64: return "<u8";
    case DType::i64: return "<i8";
    case DType::f16: return "<f2";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    default: break;
  }
  raise<InvalidArgument>("dtype ", to_string(t), " has no .npy spelling supported by eigenq");
}

// What the header of a .npy file says, and where its data is.
struct NpyHeader {
  int major = 1;
  int minor = 0;
  DType dtype = DType::f32;
  Shape shape;
  bool fortran_order = false;
  std::size_t data_offset = 0;  // bytes before the array data
  std::size_t data_bytes = 0;   // element count times element size
  Index size = 0;               // element count
};

namespace detail {

// Parses the header dict, a small subset of Python literal syntax: a dict of
// string keys; values are strings, True/False, or tuples of non-negative
// integers. Every error names the file and the column.
class NpyDictParser {
 public:
  NpyDictParser(const char* text, std::size_t size, const std::string& file) : s_(text), n_(size), file_(file) {}

  void parse(NpyHeader& h) {
    bool have_descr = false;
    bool have_order = false;
    bool have_shape = false;
    skip_space();
    expect('{');
    skip_space();
    while (peek() != '}') {
      const std::size_t key_at = pos_;
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (have_descr) fail_at(key_at, "the key 'descr' appears twice");
        have_descr = true;
        const std::size_t at = pos_;
        h.dtype = dtype_of_descr(parse_string(), at);
      } else if (key == "fortran_order") {
        if (have_order) fail_at(key_at, "the key 'fortran_order' appears twice");
        have_order = true;
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (have_shape) fail_at(key_at, "the key 'shape' appears twice");
        have_shape = true;
        h.shape = parse_shape();
      } else {
        fail_at(key_at, "unexpected key '" + key + "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;  // '}'
    if (!have_descr) fail("the header has no 'descr' key");
    if (!have_order) fail("the header has no 'fortran_order' key");
    if (!have_shape) fail("the header has no 'shape' key");
    // Padding: spaces, then the final newline.
    while (pos_ + 1 < n_ && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    if (pos_ + 1 != n_ || s_[pos_] != '\n') fail("expected only spaces and a final newline after the dict");
  }

 private:
  char peek() const { return pos_ < n_ ? s_[pos_] : '\0'; }

  [[noreturn]] void fail_at(std::size_t at, const std::string& what) const {
    raise<FormatError>(file_, ": invalid .npy header at column ", at + 1, ": ", what);
  }
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

  void skip_space() {
    while (pos_ < n_ && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  void expect(char c) {
    if (peek() != c || pos_ >= n_) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const std::size_t start = ++pos_;
    while (pos_ < n_ && s_[pos_] != quote) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n') fail("escapes and newlines are not allowed in header strings");
      ++pos_;
    }
    if (pos_ >= n_) fail_at(start - 1, "unterminated string");
    std::string out(s_ + start, pos_ - start);
    ++pos_;
    return out;
  }

  bool parse_bool() {
    if (n_ - pos_ >= 4 && std::memcmp(s_ + pos_, "True", 4) == 0) {
      pos_ += 4;
      return true;
    }
    if (n_ - pos_ >= 5 && std::memcmp(s_ + pos_, "False", 5) == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }

  Index parse_dimension() {
    if (peek() == '-') fail("a dimension of 'shape' is negative");
    if (peek() < '0' || peek() > '9') fail("expected a non-negative integer in 'shape'");
    Index v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<Index>::max() - digit) / 10) fail("a dimension of 'shape' does not fit in 64 bits");
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long literals, as old numpy wrote them
    return v;
  }

  // (), (n,), (n, m), (n, m,) ... A one-element tuple needs its comma, as in Python.
  Shape parse_shape() {
    if (peek() != '(') fail("expected a tuple for 'shape'");
    ++pos_;
    skip_space();
    Shape shape;
    bool trailing_comma = false;
    while (peek() != ')') {
      shape.push_back(parse_dimension());
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        skip_space();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
    if (shape.size() == 1 && !trailing_comma) fail("'shape' of one dimension needs a trailing comma, as in (n,)");
    ++pos_;
    return shape;
  }

  DType dtype_of_descr(const std::string& d, std::size_t at) const {
    if (d.size() == 3) {
      const char order = d[0];
      const std::string code = d.substr(1);
      const bool one_byte = code == "i1" || code == "u1";
      if (order == '>' && !one_byte) fail_at(at, "big-endian data ('" + d + "') is not supported");
      if (order == '<' || order == '|' || order == '=' || (order == '>' && one_byte)) {
        if (order == '|' && !one_byte) fail_at(at, "descr '" + d + "' does not say its byte order");
        if (code == "f2") return DType::f16;
        if (code == "f4") return DType::f32;
        if (code == "f8") return DType::f64;
        if (code == "i1") return DType::i8;
        if (code == "u1") return DType::u8;
        if (code == "i2") return DType::i16;
        if (code == "u2") return DType::u16;
        if (code == "i4") return DType::i32;
        if (code == "u4") return DType::u32;
        if (code == "i8") return DType::i64;
        if (code == "u8") return DType::u64;
      }
    }
    fail_at(at, "unsupported descr '" + d + "' (expected a little-endian number type such as '<f4' or '|i1')");
  }

  const char* s_;
  std::size_t n_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

inline constexpr char npy_magic[] = "\x93NUMPY";
constexpr std::size_t npy_magic_size = 6;
constexpr std::size_t npy_alignment = 64;  // numpy pads the header so data starts 64-byte aligned

inline std::string python_shape(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// Row-major (C) copy of the bytes of an array stored in column-major
// (Fortran) order, `item` bytes per element.
inline void fortran_to_c_order(const std::uint8_t* in, std::size_t item, const Shape& shape, std::uint8_t* out) {
  const Index n = element_count(shape);
  const std::size_t rank = shape.size();
  if (rank <= 1 || n == 0) {
    if (n > 0) std::memcpy(out, in, static_cast<std::size_t>(n) * item);
    return;
  }
  // Fortran strides; walk the C-order odometer, updating the Fortran offset.
  std::vector<Index> stride(rank);
  Index s = 1;
  for (std::size_t k = 0; k < rank; ++k) {
    stride[k] = s;
    s *= shape[k];
  }
  std::vector<Index> idx(rank, 0);
  Index f = 0;
  for (Index c = 0; c < n; ++c) {
    std::memcpy(out + static_cast<std::size_t>(c) * item, in + static_cast<std::size_t>(f) * item, item);
    for (std::size_t k = rank; k-- > 0;) {
      if (++idx[k] < shape[k]) {
        f += stride[k];
        break;
      }
      f -= (shape[k] - 1) * stride[k];
      idx[k] = 0;
    }
  }
}

}  // namespace detail

// Parses and checks the header of .npy bytes; `name` (a path) goes into messages.
inline NpyHeader parse_npy_header(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 10) {
    raise<FormatError>(name, ": ", size, " bytes is too short for a .npy file (magic, version and header length need 10)");
  }
  if (std::memcmp(data, detail::npy_magic, detail::npy_magic_size) != 0) {
    raise<FormatError>(name, ": not a .npy file (the magic string \\x93NUMPY is missing)");
  }
  NpyHeader h;
  h.major = data[6];
  h.minor = data[7];
  if (!((h.major == 1 || h.major == 2 || h.major == 3) && h.minor == 0)) {
    raise<FormatError>(name, ": unsupported .npy format version ", h.major, ".", h.minor, " (expected 1.0, 2.0 or 3.0)");
  }
  const std::size_t prefix = h.major == 1 ? 10 : 12;
  if (size < prefix) raise<FormatError>(name, ": truncated: the version ", h.major, ".0 header length field is incomplete");
  std::size_t header_len = 0;
  if (h.major == 1) {
    header_len = static_cast<std::size_t>(data[8]) | (static_cast<std::size_t>(data[9]) << 8);
  } else {
    for (int k = 3; k >= 0; --k) header_len = (header_len << 8) | data[8 + k];
  }
  if (header_len > size - prefix) {
    raise<FormatError>(name, ": header length ", header_len, " is larger than the file (", size - prefix,
                       " bytes follow the length field)");
  }
  if (header_len == 0) raise<FormatError>(name, ": the header is empty");
  detail::NpyDictParser(reinterpret_cast<const char*>(data + prefix), header_len, name).parse(h);
  try {
    h.size = element_count(h.shape);
  } catch (const ShapeError&) {
    raise<FormatError>(name, ": shape ", to_string(h.shape), " has more elements than an int64 can count");
  }
  const std::size_t item = dtype_size(h.dtype);
  if (static_cast<std::uint64_t>(h.size) > std::numeric_limits<std::size_t>::max() / item) {
    raise<FormatError>(name, ": shape ", to_string(h.shape), " of ", to_string(h.dtype), " needs more bytes than fit in 64 bits");
  }
  h.data_offset = prefix + header_len;
  h.data_bytes = static_cast<std::size_t>(h.size) * item;
  const std::size_t available = size - h.data_offset;
  if (available < h.data_bytes) {
    raise<FormatError>(name, ": truncated: shape ", to_string(h.shape), " of ", to_string(h.dtype), " needs ",
                       h.data_bytes, " bytes of data but only ", available, " follow the header");
  }
  if (available > h.data_bytes) {
    raise<FormatError>(name, ": ", available - h.data_bytes, " unexpected bytes after the array data (shape ",
                       to_string(h.shape), " of ", to_string(h.dtype), " needs ", h.data_bytes, ")");
  }
  return h;
}

// A whole array in memory: element type, shape, storage order and its bytes
// (little-endian, in the storage order).
struct NpyArray {
  DType dtype = DType::f32;
  Shape shape;
  bool fortran_order = false;
  std::vector<std::uint8_t> data;

  Index size() const { return element_count(shape); }

  // The elements converted to T (see io::converts_to), in row-major order.
  template <class T>
  std::vector<T> values() const {
    const Index n = size();
    if (data.size() != static_cast<std::size_t>(n) * dtype_size(dtype)) {
      raise<ShapeError>("npy array of shape ", to_string(shape), " and dtype ", to_string(dtype), " holds ",
                        data.size(), " bytes, expected ", static_cast<std::size_t>(n) * dtype_size(dtype));
    }
    std::vector<T> out(static_cast<std::size_t>(n));
    if (!fortran_order || shape.size() <= 1) {
      convert_elements<T>(dtype, data.data(), n, out.data());
    } else {
      const NpyArray c = c_order();
      convert_elements<T>(dtype, c.data.data(), n, out.data());
    }
    return out;
  }

  // The same array with its bytes in C (row-major) order.
  NpyArray c_order() const {
    if (!fortran_order) return *this;
    NpyArray c{dtype, shape, false, std::vector<std::uint8_t>(data.size())};
    detail::fortran_to_c_order(data.data(), dtype_size(dtype), shape, c.data.data());
    return c;
  }
};

// A .npy file mapped in memory: its header and a zero-copy pointer to its data.
class NpyFile {
 public:
  explicit NpyFile(const std::string& path) : file_(path) {
    header_ = parse_npy_header(file_.data(), file_.size(), path);
  }
  const std::string& path() const { return file_.path(); }
  const NpyHeader& header() const { return header_; }
  const std::uint8_t* data() const { return file_.data() + header_.data_offset; }
  const MappedFile& mapped() const { return file_; }

  NpyArray array() const {
    NpyArray a{header_.dtype, header_.shape, header_.fortran_order, {}};
    a.data.assign(data(), data() + header_.data_bytes);
    return a;
  }

 private:
  MappedFile file_;
  NpyHeader header_;
};

// Parses .npy bytes held in memory (copies the data).
inline NpyArray parse_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
  const NpyHeader h = parse_npy_header(bytes, size, name);
  NpyArray a{h.dtype, h.shape, h.fortran_order, {}};
  a.data.assign(bytes + h.data_offset, bytes + h.data_offset + h.data_bytes);
  return a;
}

inline NpyArray read_npy(const std::string& path) { return NpyFile(path).array(); }

struct NpyWriteOptions {
  // 1, 2 or 3; 0 picks 1.0 when the header fits its 2-byte length, else 2.0.
  int version = 0;
  AtomicFileOptions file{};
};

// The bytes before the data: magic, version, length and the padded header dict.
inline std::string npy_prefix(DType dtype, const Shape& shape, bool fortran_order, int version = 0) {
  (void)element_count(shape);  // rejects negative dimensions
  if (version < 0 || version > 3) raise("npy_prefix: version = ", version, " (expected 0, 1, 2 or 3)");
  std::string dict = "{'descr': '" + npy_descr(dtype) + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                     ", 'shape': " + detail::python_shape(shape) + ", }";
  auto padded = [&](int v) {
    const std::size_t prefix = v == 1 ? 10 : 12;
    const std::size_t unpadded = prefix + dict.size() + 1;  // + '\n'
    const std::size_t total = (unpadded + detail::npy_alignment - 1) / detail::npy_alignment * detail::npy_alignment;
    return dict + std::string(total - unpadded, ' ') + "\n";
  };
  if (version == 0) version = padded(1).size() <= 0xffff ? 1 : 2;
  const std::string header = padded(version);
  if (version == 1 && header.size() > 0xffff) {
    raise("npy_prefix: a header of ", header.size(), " bytes needs format version 2.0 or 3.0");
  }
  std::string out(detail::npy_magic, detail::npy_magic_size);
  out += static_cast<char>(version);
  out += '\0';
  const std::size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (version != 1) {
    out += static_cast<char>((len >> 16) & 0xff);
    out += static_cast<char>((len >> 24) & 0xff);
  }
  return out + header;
}

// Writes an array given as bytes (little-endian, in the stated order), atomically.
inline void write_npy(const std::string& path, DType dtype, const Shape& shape, bool fortran_order, const void* data,
                      std::size_t bytes, const NpyWriteOptions& options = {}) {
  const std::size_t expected = static_cast<std::size_t>(element_count(shape)) * dtype_size(dtype);
  if (bytes != expected) {
    raise<ShapeError>(path, ": shape ", to_string(shape), " of ", to_string(dtype), " needs ", expected,
                      " bytes, got ", bytes);
  }
  const std::string prefix = npy_prefix(dtype, shape, fortran_order, options.version);
  AtomicFile out(path, options.file);
  out.write(prefix.data(), prefix.size());
  out.write(data, bytes);
  out.commit();
}

inline void write_npy(const std::string& path, const NpyArray& a, const NpyWriteOptions& options = {}) {
  write_npy(path, a.dtype, a.shape, a.fortran_order, a.data.data(), a.data.size(), options);
}

// Row-major elements of a C++ number type.
template <class T>
void write_npy(const std::string& path, const T* data, const Shape& shape, const NpyWriteOptions& options = {}) {
  write_npy(path, dtype_of<T>(), shape, false, data, static_cast<std::size_t>(element_count(shape)) * sizeof(T),
            options);
}

// An Eigen matrix or expression, as a 2-D array [rows, cols]: column-major
// storage is written as fortran_order True, row-major as C order.
template <class Derived>
void write_npy(const std::string& path, const Eigen::DenseBase<Derived>& m, const NpyWriteOptions& options = {}) {
  using Scalar = typename Derived::Scalar;
  constexpr bool row_major = bool(Derived::Flags & Eigen::RowMajorBit) && !Derived::IsVectorAtCompileTime;
  using Plain = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, row_major ? Eigen::RowMajor : Eigen::ColMajor>;
  const Plain plain = m.derived();
  write_npy(path, dtype_of<Scalar>(), Shape{static_cast<Index>(plain.rows()), static_cast<Index>(plain.cols())},
            !row_major, plain.data(), static_cast<std::size_t>(plain.size()) * sizeof(Scalar), options);
}

// An Eigen tensor or TensorMap of any rank: ColMajor as fortran_order True.
template <class T, std::enable_if_t<eigenq::detail::is_eigen_tensor<T>::value, int> = 0>
void write_npy(const std::string& path, const T& t, const NpyWriteOptions& options = {}) {
  using Scalar = std::remove_const_t<typename T::Scalar>;
  constexpr int rank = T::NumDimensions;
  const Shape shape = eigenq::detail::shape_of_dims(t.dimensions(), rank);
  const bool fortran = static_cast<int>(T::Layout) == static_cast<int>(Eigen::ColMajor) && rank > 1;
  write_npy(path, dtype_of<Scalar>(), shape, fortran, t.data(),
            static_cast<std::size_t>(element_count(shape)) * sizeof(Scalar), options);
}

// A 2-D array (1-D: a column vector, 0-D: 1x1) as an Eigen matrix, converted
// to Scalar (see io::converts_to).
template <class Scalar = float>
Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> read_npy_matrix(const std::string& path) {
  const NpyFile f(path);
  const NpyHeader& h = f.header();
  if (h.shape.size() > 2) {
    raise<ShapeError>(path, ": an array of shape ", to_string(h.shape), " is not a matrix (rank ", h.shape.size(), ")");
  }
  if (!converts_to<Scalar>(h.dtype)) {
    raise<InvalidArgument>(path, ": cannot read ", to_string(h.dtype), " elements as ", to_string(dtype_of<Scalar>()));
  }
  const Index rows = h.shape.empty() ? 1 : h.shape[0];
  const Index cols = h.shape.size() == 2 ? h.shape[1] : 1;
  std::vector<Scalar> stored(static_cast<std::size_t>(h.size));
  convert_elements<Scalar>(h.dtype, f.data(), h.size, stored.data());
  if (h.fortran_order || h.shape.size() < 2) {
    return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>>(stored.data(), rows, cols);
  }
  return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(stored.data(), rows, cols);
}

// An array of rank Rank as an Eigen tensor of the given layout, converted to Scalar.
template <class Scalar, int Rank, int Layout = Eigen::ColMajor>
Eigen::Tensor<Scalar, Rank, Layout, Index> read_npy_tensor(const std::string& path) {
  const NpyFile f(path);
  const NpyHeader& h = f.header();
  if (static_cast<int>(h.shape.size()) != Rank) {
    raise<ShapeError>(path, ": an array of shape ", to_string(h.shape), " is not of rank ", Rank);
  }
  if (!converts_to<Scalar>(h.dtype)) {
    raise<InvalidArgument>(path, ": cannot read ", to_string(h.dtype), " elements as ", to_string(dtype_of<Scalar>()));
  }
  std::vector<Scalar> stored(static_cast<std::size_t>(h.size));
  convert_elements<Scalar>(h.dtype, f.data(), h.size, stored.data());
  Eigen::array<Index, Rank> dims;
  for (int k = 0; k < Rank; ++k) dims[k] = h.shape[static_cast<std::size_t>(k)];
  Eigen::Tensor<Scalar, Rank, Layout, Index> out;
  if constexpr (Rank <= 1) {
    out = Eigen::TensorMap<const Eigen::Tensor<const Scalar, Rank, Layout, Index>>(stored.data(), dims);
  } else {
    const bool stored_col_major = h.fortran_order;
    const bool want_col_major = Layout == Eigen::ColMajor;
    if (stored_col_major == want_col_major) {
      out = Eigen::TensorMap<const Eigen::Tensor<const Scalar, Rank, Layout, Index>>(stored.data(), dims);
    } else {
      // The other layout: its layout swap has the dimensions reversed; shuffle them back.
      constexpr int other = Layout == Eigen::ColMajor ? Eigen::RowMajor : Eigen::ColMajor;
      Eigen::array<int, Rank> reverse;
      for (int k = 0; k < Rank; ++k) reverse[k] = Rank - 1 - k;
      Eigen::TensorMap<const Eigen::Tensor<const Scalar, Rank, other, Index>> in(stored.data(), dims);
      out = in.swap_layout().shuffle(reverse);
    }
  }
  return out;
}

}  // namespace io
}  // namespace eigenq
