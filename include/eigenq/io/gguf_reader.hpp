// GGUF files (versions 2 and 3), read: memory-mapped, tensors as zero-copy
// views, every rule a hostile file can break checked with a FormatError that
// names the file, the byte offset and the field:
//   "model.gguf: byte 4: version: GGUF version 1 is not supported ..."
//
// Layout (little-endian; versions 2 and 3 are laid out alike, version 1 had
// 32-bit counts and is refused):
//   magic "GGUF", u32 version, i64 tensor count, i64 key/value count,
//   the key/value pairs (gguf_metadata.hpp),
//   for each tensor: name (u64 length + bytes), u32 n_dims, i64 ne[n_dims],
//     i32 ggml type id, u64 offset of its data from the start of the data section,
//   padding to general.alignment (default 32), then the data section.
// ne[0] is the row length: ggml orders dimensions fastest first, so a 2-D
// weight of 4096 rows of 11008 elements has ne = {11008, 4096}. shape()
// gives the row-major (numpy) order instead.
//
// What is checked: the magic; the version (2 or 3; 1 and big-endian files
// refused by name); the tensor and key/value counts against the bytes left
// (no large allocation for a tiny file); every string and array length against
// the bytes left; value types known, bools 0 or 1, arrays nested at most 16
// deep; keys non-empty and unique; general.alignment a u32 power of two;
// tensor names non-empty and unique; 1 to 4 dimensions, each positive, whose
// element count and byte size fit 63 bits; known ggml type ids with rows a
// multiple of the type's block size; offsets aligned; the data section
// starting inside the file; each tensor's data inside the file; no two
// tensors overlapping. Gaps between tensors and tensors in any order are
// accepted (ggml's own reader insists on its writer's packed order).
//
//   eigenq::io::GgufFile f("model.gguf");
//   std::string arch = f.metadata().get<std::string>("general.architecture");
//   for (const auto& t : f.tensors()) {
//     eigenq::io::GgufTensorView v = f.tensor(t.name);   // pointer, bytes, type, ne
//     ...
//     f.release(v);                                      // drop its pages from the resident set
//   }
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/ggml/type.hpp"
#include "eigenq/io/gguf_metadata.hpp"
#include "eigenq/io/mapped_file.hpp"
#include "eigenq/io/tensor_file_reader.hpp"

namespace eigenq {
namespace io {

inline constexpr char gguf_magic[4] = {'G', 'G', 'U', 'F'};
inline constexpr std::uint32_t gguf_version = 3;  // what the writer writes
inline constexpr std::uint32_t gguf_max_dims = 4;

namespace detail {

// Bounds-checked little-endian reads from a byte range. Errors name the file,
// the byte offset and the field: "m.gguf: byte 24: metadata key 0: ...".
// Fields are strings or callables returning one (built only on failure).
class GgufCursor {
 public:
  GgufCursor(const std::uint8_t* data, std::size_t size, const std::string& file, std::size_t pos = 0)
      : data_(data), size_(size), pos_(pos), file_(&file) {}

  std::size_t pos() const { return pos_; }
  std::size_t size() const { return size_; }
  std::size_t remaining() const { return size_ - pos_; }
  const std::uint8_t* here() const { return data_ + pos_; }
  const std::string& file() const { return *file_; }

  template <class Field, class... Parts>
  [[noreturn]] void fail(std::size_t at, const Field& field, Parts&&... parts) const {
    raise<FormatError>(*file_, ": byte ", at, ": ", describe(field), ": ", std::forward<Parts>(parts)...);
  }

  // Fails unless n more bytes are present.
  template <class Field>
  void need(std::size_t n, const Field& field) const {
    if (n > remaining()) {
      fail(pos_, field, "needs ", n, " bytes but the file ends ", remaining(), " bytes later, at byte ", size_,
           " (truncated?)");
    }
  }

  template <class T, class Field>
  T read(const Field& field) {
    static_assert(std::is_arithmetic_v<T>, "reads numbers");
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  // A u64 length, then that many bytes.
  template <class Field>
  std::string read_string(const Field& field) {
    const std::size_t at = pos_;
    if (remaining() < 8) {
      fail(at, [&] { return describe(field) + " length"; }, "needs 8 bytes but the file ends ", remaining(),
           " bytes later, at byte ", size_, " (truncated?)");
    }
    const auto n = read<std::uint64_t>(field);
    if (n > remaining()) {
      fail(at, [&] { return describe(field) + " length"; }, "a string of ", n, " bytes does not fit in the ",
           remaining(), " bytes left in the file");
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

  void skip(std::size_t n) { pos_ += n; }
  void seek(std::size_t pos) { pos_ = pos; }

  template <class Field>
  static std::string describe(const Field& field) {
    if constexpr (std::is_invocable_v<const Field&>) return std::string(field());
    else return std::string(field);
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_;
  const std::string* file_;
};

// Names a field in errors; built only when an error is raised.
using GgufField = std::function<std::string()>;

// A value type tag (int32), read and checked.
template <class Field>
GgufType read_gguf_type(GgufCursor& in, const Field& field) {
  const std::size_t at = in.pos();
  const auto id = in.read<std::int32_t>(field);
  if (!is_gguf_type(id)) in.fail(at, field, "unknown GGUF value type ", id, " (known: 0 to ", gguf_type_count - 1, ")");
  return static_cast<GgufType>(id);
}

// Reads a value of type `type` (its tag already read). `field` names it in errors.
inline GgufValue read_gguf_value(GgufCursor& in, GgufType type, const GgufField& field, int depth = 0) {
  if (type == GgufType::string) return GgufValueAccess::make_strings(GgufType::string, {in.read_string(field)});
  if (type != GgufType::array) {
    const std::size_t at = in.pos();
    const std::size_t size = gguf_type_size(type);
    in.need(size, field);
    std::vector<std::uint8_t> bytes(in.here(), in.here() + size);
    if (type == GgufType::boolean && bytes[0] > 1) in.fail(at, field, "a bool must be 0 or 1, found ", int(bytes[0]));
    in.skip(size);
    return GgufValueAccess::make_fixed(type, GgufType::u8, 1, std::move(bytes));
  }

  const std::size_t type_at = in.pos();
  auto type_field = [&] { return GgufCursor::describe(field) + " array element type"; };
  const GgufType element = read_gguf_type(in, type_field);
  if (element == GgufType::array && depth + 1 >= gguf_max_array_depth) {
    in.fail(type_at, type_field, "arrays nest deeper than ", gguf_max_array_depth, " levels");
  }
  const std::size_t count_at = in.pos();
  auto count_field = [&] { return GgufCursor::describe(field) + " array length"; };
  const auto n = in.read<std::uint64_t>(count_field);
  const std::size_t min_bytes = gguf_min_element_bytes(element);
  if (n > in.remaining() / min_bytes) {
    in.fail(count_at, count_field, n, " elements of type ", to_string(element), " need at least ",
            n > std::numeric_limits<std::uint64_t>::max() / min_bytes ? std::string("more than 2^64")
                                                                        : std::to_string(n * min_bytes),
            " bytes but ", in.remaining(), " are left in the file");
  }
  const auto count = static_cast<std::size_t>(n);
  auto element_field = [&](std::size_t i) {
    return [&field, i] { return GgufCursor::describe(field) + "[" + std::to_string(i) + "]"; };
  };
  if (element == GgufType::string) {
    std::vector<std::string> strings;
    strings.reserve(count);
    for (std::size_t i = 0; i < count; ++i) strings.push_back(in.read_string(element_field(i)));
    return GgufValueAccess::make_strings(GgufType::array, std::move(strings));
  }
  if (element == GgufType::array) {
    std::vector<GgufValue> items;
    items.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      items.push_back(read_gguf_value(in, GgufType::array, element_field(i), depth + 1));
    }
    return GgufValueAccess::make_arrays(std::move(items));
  }
  const std::size_t bytes = count * min_bytes;  // fits: checked against the bytes left above
  std::vector<std::uint8_t> data(in.here(), in.here() + bytes);
  if (element == GgufType::boolean) {
    for (std::size_t i = 0; i < count; ++i) {
      if (data[i] > 1) in.fail(in.pos() + i, element_field(i), "a bool must be 0 or 1, found ", int(data[i]));
    }
  }
  in.skip(bytes);
  return GgufValueAccess::make_fixed(GgufType::array, element, count, std::move(data));
}

// A name or key as messages show it: printable ASCII kept, the rest escaped, long ones cut.
inline std::string printable(const std::string& s, std::size_t max = 96) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x20 && u < 0x7f && u != '\'') {
      out += static_cast<char>(u);
    } else {
      out += "\\x";
      out += "0123456789abcdef"[u >> 4];
      out += "0123456789abcdef"[u & 15];
    }
  }
  return out;
}

inline std::uint64_t align_up(std::uint64_t x, std::uint64_t alignment) {
  return (x + alignment - 1) / alignment * alignment;
}

}  // namespace detail

// One tensor's info record.
struct GgufTensorInfo {
  std::string name;
  ggml::Type type = ggml::Type::f32;
  std::vector<std::int64_t> ne;   // 1 to 4 dimensions, ggml order: ne[0] is the row length
  std::uint64_t offset = 0;       // of its data, from the start of the data section
  std::uint64_t bytes = 0;        // of its data (rows x row_bytes)
  std::uint64_t row_bytes = 0;    // of one row of ne[0] elements
  std::uint64_t info_offset = 0;  // file position where this info record begins (0 for planned tensors)

  std::int64_t elements() const {
    std::int64_t n = 1;
    for (const std::int64_t d : ne) n *= d;
    return n;
  }
  std::int64_t rows() const { return ne.empty() ? 0 : elements() / ne[0]; }
  std::size_t n_dims() const { return ne.size(); }
  // The dimensions slowest first, as numpy, PyTorch and safetensors write shapes.
  Shape shape() const { return Shape(ne.rbegin(), ne.rend()); }
  // File position of the info's type and offset fields (messages).
  std::uint64_t type_field_offset() const { return info_offset + 8 + name.size() + 4 + 8 * ne.size(); }
  std::uint64_t offset_field_offset() const { return type_field_offset() + 4; }
};

// A tensor's bytes inside a GGUF file: no copy, valid while the file lives.
class GgufTensorView {
 public:
  GgufTensorView(const GgufTensorInfo& info, const std::uint8_t* data) : info_(&info), data_(data) {}

  const GgufTensorInfo& info() const { return *info_; }
  const std::string& name() const { return info_->name; }
  ggml::Type type() const { return info_->type; }
  const std::vector<std::int64_t>& ne() const { return info_->ne; }
  std::int64_t elements() const { return info_->elements(); }
  std::int64_t rows() const { return info_->rows(); }
  std::size_t bytes() const { return static_cast<std::size_t>(info_->bytes); }
  std::size_t row_bytes() const { return static_cast<std::size_t>(info_->row_bytes); }
  const std::uint8_t* data() const { return data_; }
  // Row r (of rows()): ne[0] elements, row_bytes() bytes.
  const std::uint8_t* row(std::int64_t r) const { return data_ + static_cast<std::size_t>(r) * row_bytes(); }

 private:
  const GgufTensorInfo* info_;
  const std::uint8_t* data_;
};

// Everything before the data section, checked against the file's size.
struct GgufHeader {
  std::uint32_t version = gguf_version;
  GgufMetadata metadata;
  std::vector<std::uint64_t> kv_offsets;  // file position of each key/value pair (its key's length field)
  std::vector<GgufTensorInfo> tensors;    // in the order of the info records
  std::uint32_t alignment = gguf_default_alignment;
  std::uint64_t data_offset = 0;  // where the data section starts (aligned; the end of the infos if no tensor)
  std::uint64_t data_size = 0;    // bytes of the file from data_offset on
};

namespace detail {

inline void check_gguf_magic_and_version(GgufCursor& in, std::uint32_t& version) {
  if (in.size() < 4) in.fail(0, "magic", "a GGUF file starts with the 4 bytes \"GGUF\"; this one has ", in.size(), " bytes");
  if (std::memcmp(in.here(), gguf_magic, 4) != 0) {
    std::string found;
    for (int k = 0; k < 4; ++k) {
      const auto u = in.here()[k];
      found += (u >= 0x20 && u < 0x7f) ? std::string(1, static_cast<char>(u)) : std::string("?");
    }
    in.fail(0, "magic", "expected \"GGUF\", found \"", found, "\"; not a GGUF file");
  }
  in.skip(4);
  version = in.read<std::uint32_t>("version");
  if ((version & 0xffffu) == 0 && version != 0) {
    in.fail(4, "version", "version 0x", std::hex, version, std::dec,
            " reads like a big-endian GGUF file; eigenq reads little-endian files only");
  }
  if (version == 1) {
    in.fail(4, "version", "GGUF version 1 is not supported (it has 32-bit counts); "
                          "convert the file with a current llama.cpp (versions 2 and 3 are read)");
  }
  if (version != 2 && version != 3) {
    in.fail(4, "version", "GGUF version ", version, " is not supported (versions 2 and 3 are read)");
  }
}

inline void read_gguf_metadata(GgufCursor& in, std::int64_t n_kv, GgufHeader& h) {
  h.kv_offsets.reserve(static_cast<std::size_t>(n_kv));
  for (std::int64_t i = 0; i < n_kv; ++i) {
    const std::size_t at = in.pos();
    std::string key = in.read_string([i] { return "metadata key " + std::to_string(i); });
    if (key.empty()) in.fail(at, [i] { return "metadata key " + std::to_string(i); }, "a key cannot be empty");
    if (const auto first = h.metadata.position(key)) {
      in.fail(at, [&] { return "metadata key " + std::to_string(i) + " '" + printable(key) + "'"; },
              "repeats metadata key ", *first, " (at byte ", h.kv_offsets[*first], ")");
    }
    const std::string shown = printable(key);
    const GgufType type = read_gguf_type(in, [&] { return "metadata '" + shown + "' value type"; });
    GgufValue value = read_gguf_value(in, type, [&] { return "metadata '" + shown + "'"; });
    h.kv_offsets.push_back(at);
    h.metadata.add(key, std::move(value));
  }

  if (const auto pos = h.metadata.position(gguf_alignment_key)) {
    const GgufValue& v = h.metadata[*pos].value;
    const std::size_t type_at = h.kv_offsets[*pos] + 8 + std::strlen(gguf_alignment_key);
    if (v.type() != GgufType::u32) {
      in.fail(type_at, "metadata 'general.alignment' value type", "must be u32, found ", v.describe_type());
    }
    const std::uint32_t a = v.get<std::uint32_t>();
    if (a == 0 || (a & (a - 1)) != 0) in.fail(type_at + 4, "metadata 'general.alignment'", a, " is not a power of two");
    h.alignment = a;
  }
}

inline GgufTensorInfo read_gguf_tensor_info(GgufCursor& in, std::int64_t i, const GgufHeader& h,
                                            const std::unordered_map<std::string, std::size_t>& names) {
  GgufTensorInfo t;
  t.info_offset = in.pos();
  auto index_field = [i] { return "tensor " + std::to_string(i) + " name"; };
  t.name = in.read_string(index_field);
  if (t.name.empty()) in.fail(t.info_offset, index_field, "a tensor name cannot be empty");
  const std::string shown = printable(t.name);
  auto field = [&](const char* what) { return [&shown, what] { return "tensor '" + shown + "' " + what; }; };
  if (const auto it = names.find(t.name); it != names.end()) {
    in.fail(t.info_offset, field("name"), "tensor ", i, " has the name of tensor ", it->second, " (at byte ",
            h.tensors[it->second].info_offset, ")");
  }

  const std::size_t dims_at = in.pos();
  const auto n_dims = in.read<std::uint32_t>(field("n_dims"));
  if (n_dims < 1 || n_dims > gguf_max_dims) in.fail(dims_at, field("n_dims"), n_dims, " dimensions; a tensor has 1 to 4");
  std::uint64_t elements = 1;
  for (std::uint32_t j = 0; j < n_dims; ++j) {
    const std::size_t at = in.pos();
    const std::string what = "ne[" + std::to_string(j) + "]";
    const auto d = in.read<std::int64_t>(field(what.c_str()));
    if (d <= 0) in.fail(at, field(what.c_str()), "a dimension must be positive, found ", d);
    if (elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / static_cast<std::uint64_t>(d)) {
      in.fail(at, field(what.c_str()), "the tensor has more than 2^63-1 elements");
    }
    elements *= static_cast<std::uint64_t>(d);
    t.ne.push_back(d);
  }

  const std::size_t type_at = in.pos();
  const auto id = in.read<std::int32_t>(field("type"));
  if (!ggml::is_known_type_value(id)) {
    if (id >= 0 && id < ggml::kTypeValueEnd) {
      in.fail(type_at, field("type"), "ggml type id ", id, " is one ggml removed; files holding it no longer load");
    }
    in.fail(type_at, field("type"), "unknown ggml type id ", id, " (ggml defines 0 to ", ggml::kTypeValueEnd - 1, ")");
  }
  t.type = static_cast<ggml::Type>(id);
  const ggml::TypeTraits& traits = ggml::type_traits(t.type);
  const auto block = static_cast<std::uint64_t>(traits.block_size);
  const auto type_size = static_cast<std::uint64_t>(traits.type_size);
  if (static_cast<std::uint64_t>(t.ne[0]) % block != 0) {
    in.fail(type_at, field("type"), traits.name, " stores blocks of ", block, " elements but rows have ne[0] = ",
            t.ne[0], " elements, not a multiple");
  }
  const std::uint64_t blocks = elements / block;
  if (blocks > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / type_size) {
    in.fail(type_at, field("type"), "the tensor's ", elements, " elements of ", traits.name,
            " take more than 2^63-1 bytes");
  }
  t.bytes = blocks * type_size;
  t.row_bytes = static_cast<std::uint64_t>(t.ne[0]) / block * type_size;

  const std::size_t offset_at = in.pos();
  t.offset = in.read<std::uint64_t>(field("offset"));
  if (t.offset % h.alignment != 0) {
    in.fail(offset_at, field("offset"), "offset ", t.offset, " is not a multiple of the alignment ", h.alignment);
  }
  return t;
}

// Each tensor's data inside the file, no two overlapping.
inline void check_gguf_tensor_data(const GgufCursor& in, const GgufHeader& h) {
  for (const GgufTensorInfo& t : h.tensors) {
    if (t.offset > h.data_size || t.bytes > h.data_size - t.offset) {
      in.fail(t.offset_field_offset(), [&] { return "tensor '" + printable(t.name) + "' offset"; }, "its ", t.bytes,
              " bytes at [", t.offset, ", ", t.offset + t.bytes, ") of the data section run past the end of the file",
              " (the data section starts at byte ", h.data_offset, " and has ", h.data_size, " bytes; truncated?)");
    }
  }
  std::vector<std::size_t> order(h.tensors.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return h.tensors[a].offset != h.tensors[b].offset ? h.tensors[a].offset < h.tensors[b].offset : a < b;
  });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& a = h.tensors[order[k - 1]];
    const GgufTensorInfo& b = h.tensors[order[k]];
    if (b.offset < a.offset + a.bytes) {
      in.fail(b.offset_field_offset(), [&] { return "tensor '" + printable(b.name) + "' offset"; }, "its data [",
              b.offset, ", ", b.offset + b.bytes, ") overlaps tensor '", printable(a.name), "' at [", a.offset, ", ",
              a.offset + a.bytes, ")");
    }
  }
}

}  // namespace detail

// Parses and checks a GGUF file's header (everything but the tensor bytes)
// against the file's size; `name` (a path) goes into messages.
inline GgufHeader parse_gguf_header(const std::uint8_t* data, std::size_t size, const std::string& name) {
  detail::GgufCursor in(data, size, name);
  GgufHeader h;
  detail::check_gguf_magic_and_version(in, h.version);

  const auto n_tensors = in.read<std::int64_t>("tensor_count");
  const auto n_kv = in.read<std::int64_t>("metadata_kv_count");
  if (n_tensors < 0) in.fail(8, "tensor_count", "negative: ", n_tensors);
  if (n_kv < 0) in.fail(16, "metadata_kv_count", "negative: ", n_kv);
  // Each pair takes at least 14 bytes (key length, a 1-byte key, type, a 1-byte value), each
  // tensor info 33 (name length, a 1-byte name, n_dims, one dimension, type, offset).
  constexpr std::uint64_t min_kv = 14;
  constexpr std::uint64_t min_info = 33;
  const std::uint64_t left = in.remaining();
  if (static_cast<std::uint64_t>(n_kv) > left / min_kv) {
    in.fail(16, "metadata_kv_count", n_kv, " key/value pairs cannot fit in the ", left,
            " bytes after the header (each takes at least ", min_kv, ")");
  }
  if (static_cast<std::uint64_t>(n_tensors) > (left - static_cast<std::uint64_t>(n_kv) * min_kv) / min_info) {
    in.fail(8, "tensor_count", n_tensors, " tensor infos and ", n_kv, " key/value pairs cannot fit in the ", left,
            " bytes after the header (each info takes at least ", min_info, " bytes, each pair ", min_kv, ")");
  }

  detail::read_gguf_metadata(in, n_kv, h);

  std::unordered_map<std::string, std::size_t> names;
  h.tensors.reserve(static_cast<std::size_t>(n_tensors));
  for (std::int64_t i = 0; i < n_tensors; ++i) {
    h.tensors.push_back(detail::read_gguf_tensor_info(in, i, h, names));
    names.emplace(h.tensors.back().name, h.tensors.size() - 1);
  }

  const std::uint64_t infos_end = in.pos();
  h.data_offset = h.tensors.empty() ? infos_end : detail::align_up(infos_end, h.alignment);
  if (h.data_offset > size) {
    in.fail(infos_end, "data section", "the tensor infos end here and the data section would start at byte ",
            h.data_offset, " (the next multiple of the alignment ", h.alignment, "), beyond the end of the file at byte ",
            size, "; truncated?");
  }
  h.data_size = size - h.data_offset;
  detail::check_gguf_tensor_data(in, h);
  return h;
}

// A GGUF file opened for reading: memory-mapped, or a buffer held in memory.
class GgufFile {
 public:
  explicit GgufFile(const std::string& path) : bytes_(path) { init(); }

  // Parses bytes held in memory (tests, fuzzing, data from elsewhere).
  static GgufFile from_buffer(std::vector<std::uint8_t> bytes, const std::string& name = "<memory>") {
    GgufFile f;
    f.bytes_ = FileBytes(std::move(bytes), name);
    f.init();
    return f;
  }

  GgufFile(GgufFile&&) = default;
  GgufFile& operator=(GgufFile&&) = default;

  const std::string& path() const { return bytes_.path(); }
  FileIdentity identity() const { return bytes_.identity(); }
  std::size_t file_size() const { return bytes_.size(); }
  std::uint32_t version() const { return header_.version; }
  std::uint32_t alignment() const { return header_.alignment; }
  std::uint64_t data_offset() const { return header_.data_offset; }
  const GgufHeader& header() const { return header_; }

  const GgufMetadata& metadata() const { return header_.metadata; }
  // File position of key/value pair i (its key's length field), for messages.
  std::uint64_t kv_offset(std::size_t i) const { return header_.kv_offsets.at(i); }

  // Every tensor, in the order of the file's info records.
  const std::vector<GgufTensorInfo>& tensors() const { return header_.tensors; }
  bool contains(const std::string& name) const { return index_.contains(name); }
  const GgufTensorInfo& info(const std::string& name) const { return header_.tensors[index_.at(name, path())]; }

  GgufTensorView tensor(const std::string& name) const { return tensor(index_.at(name, path())); }
  GgufTensorView tensor(std::size_t i) const {
    const GgufTensorInfo& t = header_.tensors.at(i);
    return GgufTensorView(t, bytes_.data() + header_.data_offset + t.offset);
  }

  // Reads a tensor's pages ahead (a hint, for files not yet in the page cache).
  void prefetch(const GgufTensorInfo& t) const { bytes_.prefetch(header_.data_offset + t.offset, t.bytes); }
  // Drops a tensor's pages from the resident set (mapped files only; views stay valid).
  void release(const GgufTensorInfo& t) const { bytes_.release(header_.data_offset + t.offset, t.bytes); }
  void release(const GgufTensorView& v) const { release(v.info()); }

 private:
  GgufFile() = default;

  void init() {
    header_ = parse_gguf_header(bytes_.data(), bytes_.size(), bytes_.path());
    index_ = TensorIndex(header_.tensors);
  }

  FileBytes bytes_;
  GgufHeader header_;
  TensorIndex index_;
};

}  // namespace io
}  // namespace eigenq
