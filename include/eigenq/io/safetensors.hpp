// safetensors files: a memory-mapped reader with zero-copy tensor views, and a
// streaming writer that writes tensor by tensor (from several threads if
// wanted) into a temporary file renamed into place on success.
//
// Layout: an 8-byte little-endian header size N, N bytes of JSON header, then
// the data section. The header is an object mapping each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__"
// object of string values.
//
// The reader checks everything the reference implementation does, and says
// which rule a file breaks (FormatError, naming the file and the tensor):
// the header size (8 bytes present, N <= 100 MB, N inside the file), the
// header is UTF-8 JSON starting with '{' and is an object without duplicate
// names; every entry has a known dtype, a shape of non-negative integers
// whose element count and byte size do not overflow, and offsets [begin, end]
// with end - begin = element count x dtype size; sorted by offset, the
// tensors start at 0, each begins where the previous one ends (no overlap, no
// gap), and the last ends exactly at the end of the file; "__metadata__" maps
// strings to strings.
//
//   eigenq::io::SafetensorsFile f("model.safetensors");
//   for (const auto& t : f.tensors()) {
//     auto view = f.tensor(t.name);              // zero-copy
//     std::vector<float> w = view.to_float();    // F32/F16/BF16/F64 widened or narrowed to float
//     f.release(view);                           // drop its pages from the resident set
//   }
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"
#include "eigenq/core/types.hpp"
#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/dtype.hpp"
#include "eigenq/io/mapped_file.hpp"
#include "eigenq/io/tensor_file_reader.hpp"
#include "eigenq/io/tensor_file_writer.hpp"

namespace eigenq {
namespace io {

// The reference implementation's bound on the header size.
constexpr std::uint64_t safetensors_max_header_size = 100'000'000;

// One tensor's entry in the header; offsets are absolute within the data section.
struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;

  Index size() const { return element_count(shape); }
  std::size_t bytes() const { return static_cast<std::size_t>(end - begin); }
};

// A tensor's bytes inside a file (or any buffer): no copy, valid while the file lives.
class TensorView {
 public:
  TensorView(const TensorInfo& info, const std::uint8_t* data) : info_(&info), data_(data) {}

  const TensorInfo& info() const { return *info_; }
  const std::string& name() const { return info_->name; }
  DType dtype() const { return info_->dtype; }
  const Shape& shape() const { return info_->shape; }
  Index size() const { return info_->size(); }
  std::size_t bytes() const { return info_->bytes(); }
  const std::uint8_t* data() const { return data_; }

  // The elements as T in place, when the dtype is T's and the data is aligned for T.
  template <class T>
  const T* data_as() const {
    if (info_->dtype != dtype_of<T>()) {
      raise<InvalidArgument>("tensor '", name(), "' is ", to_string(dtype()), ", not ", to_string(dtype_of<T>()));
    }
    if (reinterpret_cast<std::uintptr_t>(data_) % alignof(T) != 0) return nullptr;
    return reinterpret_cast<const T*>(data_);
  }

  // Converts the elements to T into out[0 .. size()) (see io::converts_to).
  template <class T>
  void convert_to(T* out) const {
    if (!converts_to<T>(dtype())) {
      raise<InvalidArgument>("tensor '", name(), "' of dtype ", to_string(dtype()), " cannot be read as ",
                             to_string(dtype_of<T>()));
    }
    convert_elements<T>(dtype(), data_, size(), out);
  }

  template <class T>
  std::vector<T> values() const {
    std::vector<T> out(static_cast<std::size_t>(size()));
    convert_to(out.data());
    return out;
  }

  // F32, F16, BF16 (exactly) and F64 (rounded) as float; integers as well.
  std::vector<float> to_float() const { return values<float>(); }

 private:
  const TensorInfo* info_;
  const std::uint8_t* data_;
};

// The parsed header: tensors in data order, metadata, where the data starts.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  std::uint64_t header_size = 0;  // N
  std::uint64_t data_offset = 0;  // 8 + N
};

namespace detail {

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
inline bool is_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    std::size_t len = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xbf;
    if (c < 0x80) len = 1;
    else if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned b = p[i + k];
      if (b < (k == 1 ? lo : 0x80u) || b > (k == 1 ? hi : 0xbfu)) return false;
    }
    i += len;
  }
  return true;
}

inline std::uint64_t json_unsigned(const nlohmann::json& v, const std::string& file, const std::string& tensor,
                                   const char* what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer()) raise<FormatError>(file, ": tensor '", tensor, "': ", what, " holds a negative number");
    raise<FormatError>(file, ": tensor '", tensor, "': ", what, " must hold non-negative integers, found ", v.dump());
  }
  return v.get<std::uint64_t>();
}

inline TensorInfo parse_tensor_entry(const std::string& name, const nlohmann::json& entry, const std::string& file) {
  if (!entry.is_object()) raise<FormatError>(file, ": tensor '", name, "': its entry is not a JSON object");
  TensorInfo t;
  t.name = name;
  const auto dtype = entry.find("dtype");
  const auto shape = entry.find("shape");
  const auto offsets = entry.find("data_offsets");
  if (dtype == entry.end()) raise<FormatError>(file, ": tensor '", name, "': no \"dtype\"");
  if (shape == entry.end()) raise<FormatError>(file, ": tensor '", name, "': no \"shape\"");
  if (offsets == entry.end()) raise<FormatError>(file, ": tensor '", name, "': no \"data_offsets\"");
  if (!dtype->is_string()) raise<FormatError>(file, ": tensor '", name, "': \"dtype\" is not a string");
  const auto known = dtype_from_string(dtype->get<std::string>());
  if (!known) raise<FormatError>(file, ": tensor '", name, "': unknown dtype \"", dtype->get<std::string>(), "\"");
  t.dtype = *known;
  if (!shape->is_array()) raise<FormatError>(file, ": tensor '", name, "': \"shape\" is not an array");
  std::uint64_t count = 1;
  bool overflow = false;
  for (const auto& d : *shape) {
    const std::uint64_t dim = json_unsigned(d, file, name, "\"shape\"");
    if (dim > static_cast<std::uint64_t>(std::numeric_limits<Index>::max())) overflow = true;
    else t.shape.push_back(static_cast<Index>(dim));
    if (dim != 0 && count > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
    count *= dim;
  }
  // Zero anywhere makes the product 0, but an overflowing dimension is still no valid size.
  if (overflow || count > static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) ||
      count > std::numeric_limits<std::uint64_t>::max() / dtype_size(t.dtype)) {
    raise<FormatError>(file, ": tensor '", name, "': shape ", shape->dump(), " of ", to_string(t.dtype),
                       " overflows 64-bit element or byte counts");
  }
  if (!offsets->is_array() || offsets->size() != 2) {
    raise<FormatError>(file, ": tensor '", name, "': \"data_offsets\" must be an array [begin, end]");
  }
  t.begin = json_unsigned((*offsets)[0], file, name, "\"data_offsets\"");
  t.end = json_unsigned((*offsets)[1], file, name, "\"data_offsets\"");
  if (t.end < t.begin) {
    raise<FormatError>(file, ": tensor '", name, "': data_offsets [", t.begin, ", ", t.end, "] end before they begin");
  }
  const std::uint64_t bytes = count * dtype_size(t.dtype);
  if (t.end - t.begin != bytes) {
    raise<FormatError>(file, ": tensor '", name, "': shape ", to_string(t.shape), " of ", to_string(t.dtype), " needs ",
                       bytes, " bytes but data_offsets [", t.begin, ", ", t.end, "] hold ", t.end - t.begin);
  }
  return t;
}

}  // namespace detail

// Parses and checks a safetensors file's header against its total size;
// `name` (a path) goes into messages.
inline SafetensorsHeader parse_safetensors_header(const std::uint8_t* data, std::size_t size, const std::string& name) {
  if (size < 8) {
    raise<FormatError>(name, ": ", size, " bytes is too short for a safetensors file (the header size needs 8)");
  }
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | data[k];
  if (n > safetensors_max_header_size) {
    raise<FormatError>(name, ": header size ", n, " exceeds the limit of ", safetensors_max_header_size, " bytes");
  }
  if (n > size - 8) {
    raise<FormatError>(name, ": header size ", n, " is larger than the file (", size - 8,
                       " bytes follow the size field); truncated?");
  }
  const char* text = reinterpret_cast<const char*>(data + 8);
  if (n == 0 || text[0] != '{') raise<FormatError>(name, ": the header does not start with '{'");

  // Duplicate names would silently replace each other in a JSON object: find them while parsing.
  std::string duplicate;
  std::unordered_set<std::string> names;
  bool too_deep = false;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        text, text + n,
        [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
          if (depth > 3) too_deep = true;  // {"name": {"shape": [..]}} is as deep as a header goes
          if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty()) {
            const std::string& key = parsed.get_ref<const std::string&>();
            if (!names.insert(key).second) duplicate = key;
          }
          return !too_deep;
        });
  } catch (const nlohmann::json::exception& e) {
    raise<FormatError>(name, ": the header is not valid JSON: ", e.what());
  }
  if (too_deep) raise<FormatError>(name, ": the header nests deeper than a safetensors header can");
  if (!duplicate.empty()) raise<FormatError>(name, ": the header names '", duplicate, "' twice");
  if (!header.is_object()) raise<FormatError>(name, ": the header is not a JSON object");

  SafetensorsHeader h;
  h.header_size = n;
  h.data_offset = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) raise<FormatError>(name, ": \"__metadata__\" is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) {
          raise<FormatError>(name, ": \"__metadata__\" value of '", m.key(), "' is not a string");
        }
        h.metadata.emplace(m.key(), m->get<std::string>());
      }
      continue;
    }
    h.tensors.push_back(detail::parse_tensor_entry(it.key(), *it, name));
  }

  // Sorted by offset the tensors must tile the data section exactly.
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : (a.end != b.end ? a.end < b.end : a.name < b.name);
  });
  const std::uint64_t data_size = size - h.data_offset;
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo& t : h.tensors) {
    if (t.begin < covered) {
      raise<FormatError>(name, ": tensor '", t.name, "' at data_offsets [", t.begin, ", ", t.end,
                         "] overlaps tensor '", previous->name, "' at [", previous->begin, ", ", previous->end, "]");
    }
    if (t.begin > covered) {
      if (previous) {
        raise<FormatError>(name, ": ", t.begin - covered, " bytes between tensor '", previous->name, "' (ends at ",
                           covered, ") and tensor '", t.name, "' (begins at ", t.begin, ") belong to no tensor");
      }
      raise<FormatError>(name, ": the first tensor '", t.name, "' begins at byte ", t.begin,
                         " of the data section, not at 0");
    }
    if (t.end > data_size) {
      raise<FormatError>(name, ": tensor '", t.name, "' at data_offsets [", t.begin, ", ", t.end,
                         "] ends outside the data section of ", data_size, " bytes; truncated?");
    }
    covered = t.end;
    previous = &t;
  }
  if (covered != data_size) {
    raise<FormatError>(name, ": the data section has ", data_size, " bytes but the tensors cover ", covered,
                       " (", data_size - covered, " trailing bytes)");
  }
  return h;
}

// A safetensors file opened for reading: memory-mapped, or a buffer held in memory.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path) : bytes_(path) { init(); }

  // Parses bytes held in memory (tests, fuzzing, data from elsewhere).
  static SafetensorsFile from_buffer(std::vector<std::uint8_t> bytes, const std::string& name = "<memory>") {
    SafetensorsFile f;
    f.bytes_ = FileBytes(std::move(bytes), name);
    f.init();
    return f;
  }

  SafetensorsFile(SafetensorsFile&&) = default;
  SafetensorsFile& operator=(SafetensorsFile&&) = default;

  const std::string& path() const { return bytes_.path(); }
  FileIdentity identity() const { return bytes_.identity(); }
  std::size_t file_size() const { return bytes_.size(); }
  std::uint64_t header_size() const { return header_.header_size; }
  std::uint64_t data_offset() const { return header_.data_offset; }

  // Every tensor, in the order of its data in the file.
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  bool contains(const std::string& name) const { return index_.contains(name); }
  const TensorInfo& info(const std::string& name) const { return header_.tensors[index_.at(name, path())]; }

  TensorView tensor(const std::string& name) const { return tensor(index_.at(name, path())); }
  TensorView tensor(std::size_t i) const {
    const TensorInfo& t = header_.tensors.at(i);
    return TensorView(t, bytes_.data() + header_.data_offset + t.begin);
  }

  // Reads a tensor's pages ahead (a hint, for files not yet in the page cache).
  void prefetch(const TensorInfo& t) const { bytes_.prefetch(header_.data_offset + t.begin, t.bytes()); }
  // Drops a tensor's pages from the resident set (mapped files only; views stay valid).
  void release(const TensorInfo& t) const { bytes_.release(header_.data_offset + t.begin, t.bytes()); }
  void release(const TensorView& v) const { release(v.info()); }
  // Drops [offset, offset + length) of a tensor's bytes (chunked streaming of big tensors).
  void release(const TensorInfo& t, std::size_t offset, std::size_t length) const {
    if (offset >= t.bytes()) return;
    bytes_.release(header_.data_offset + t.begin + offset, std::min(length, t.bytes() - offset));
  }

 private:
  SafetensorsFile() = default;

  void init() {
    header_ = parse_safetensors_header(bytes_.data(), bytes_.size(), bytes_.path());
    index_ = TensorIndex(header_.tensors);
  }

  FileBytes bytes_;
  SafetensorsHeader header_;
  TensorIndex index_;
};

// A tensor to be written: its name, dtype and shape (the bytes come later).
struct TensorEntry {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;

  std::size_t bytes() const { return static_cast<std::size_t>(element_count(shape)) * dtype_size(dtype); }
};

// The header bytes (size field, JSON, space padding to a multiple of 8 as the
// reference writer does) for tensors laid out in the given order.
inline std::string safetensors_header(const std::vector<TensorInfo>& layout,
                                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    header["__metadata__"] = std::move(m);
  }
  for (const TensorInfo& t : layout) {
    header[t.name] = {{"dtype", to_string(t.dtype)}, {"shape", t.shape}, {"data_offsets", {t.begin, t.end}}};
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  if (json.size() > safetensors_max_header_size) {
    raise<InvalidArgument>("a safetensors header of ", json.size(), " bytes exceeds the limit of ",
                           safetensors_max_header_size);
  }
  std::string out(8, '\0');
  const std::uint64_t n = json.size();
  for (int k = 0; k < 8; ++k) out[static_cast<std::size_t>(k)] = static_cast<char>((n >> (8 * k)) & 0xff);
  return out + json;
}

// Writes a safetensors file whose tensors are known up front (names, dtypes,
// shapes) and whose bytes arrive one tensor (or chunk) at a time, in any order
// and from any thread (tensor_file_writer.hpp: nothing is left behind without commit()).
class SafetensorsWriter : public TensorFileWriter {
 public:
  SafetensorsWriter(std::string path, const std::vector<TensorEntry>& entries,
                    const std::map<std::string, std::string>& metadata = {}, AtomicFileOptions options = {})
      : SafetensorsWriter(plan(path, entries, metadata), path, metadata, options) {}

  const std::vector<TensorInfo>& layout() const { return layout_; }

 private:
  SafetensorsWriter(std::vector<TensorInfo> layout, const std::string& path,
                    const std::map<std::string, std::string>& metadata, AtomicFileOptions options)
      : TensorFileWriter(path, slots(layout), safetensors_header(layout, metadata), options),
        layout_(std::move(layout)) {}

  static std::vector<TensorInfo> plan(const std::string& path, const std::vector<TensorEntry>& entries,
                                      const std::map<std::string, std::string>& metadata) {
    for (const auto& kv : metadata) {
      if (!detail::is_utf8(kv.first) || !detail::is_utf8(kv.second)) {
        raise<InvalidArgument>(path, ": metadata entry '", kv.first, "' is not valid UTF-8");
      }
    }
    std::vector<TensorInfo> layout;
    layout.reserve(entries.size());
    std::unordered_set<std::string> names;
    std::uint64_t offset = 0;
    for (const TensorEntry& e : entries) {
      if (e.name == "__metadata__") raise<InvalidArgument>(path, ": a tensor cannot be named \"__metadata__\"");
      if (!names.insert(e.name).second) raise<InvalidArgument>(path, ": tensor name '", e.name, "' appears twice");
      if (!detail::is_utf8(e.name)) raise<InvalidArgument>(path, ": tensor name '", e.name, "' is not valid UTF-8");
      const std::size_t bytes = e.bytes();
      layout.push_back(TensorInfo{e.name, e.dtype, e.shape, offset, offset + bytes});
      offset += bytes;
    }
    return layout;
  }

  static std::vector<Slot> slots(const std::vector<TensorInfo>& layout) {
    std::vector<Slot> out;
    out.reserve(layout.size());
    for (const TensorInfo& t : layout) out.push_back({t.name, t.begin, t.bytes(), 0});
    return out;
  }

  std::vector<TensorInfo> layout_;
};

// A tensor held in memory, for whole-file writes.
struct OwnedTensor {
  std::string name;
  DType dtype = DType::f32;
  Shape shape;
  std::vector<std::uint8_t> data;
};

template <class T>
OwnedTensor make_tensor(std::string name, const Shape& shape, const T* values) {
  OwnedTensor t{std::move(name), dtype_of<T>(), shape, {}};
  const std::size_t bytes = static_cast<std::size_t>(element_count(shape)) * sizeof(T);
  t.data.resize(bytes);
  if (bytes > 0) std::memcpy(t.data.data(), values, bytes);
  return t;
}

// Writes whole tensors held in memory, in the given order.
inline void write_safetensors(const std::string& path, const std::vector<OwnedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              AtomicFileOptions options = {}) {
  std::vector<TensorEntry> entries;
  entries.reserve(tensors.size());
  for (const OwnedTensor& t : tensors) entries.push_back({t.name, t.dtype, t.shape});
  SafetensorsWriter w(path, entries, metadata, options);
  for (std::size_t i = 0; i < tensors.size(); ++i) w.write(i, tensors[i].data.data(), tensors[i].data.size());
  w.commit();
}

}  // namespace io
}  // namespace eigenq
