// GGUF files, written: version 3, streaming and atomic. The header, the
// key/value pairs and the tensor infos go out first; each tensor's bytes then
// arrive whole or in chunks (in order, or in any order from several threads),
// so no more than one tensor need be in memory. The file is written to a
// temporary file renamed over the destination by commit() (io/atomic_file.hpp):
// a failure leaves no half-written file.
//
// Layout as ggml's gguf_write_to_file makes it: key/value pairs and tensors in
// the order given; the data section starts at the next multiple of
// general.alignment (32 unless the metadata sets it) after the tensor infos;
// each tensor's data starts at an offset that is a multiple of the alignment
// and is padded with zeros to the next one (the last tensor too).
//
//   eigenq::io::GgufFile in("model-f32.gguf");
//   eigenq::io::GgufMetadata m = in.metadata();             // copy every pair, in order
//   m.set("general.file_type", std::uint32_t{7});           // override one
//   eigenq::io::GgufWriter out("model-q8.gguf", m, {{"w", eigenq::ggml::Type::q8_0, {4096, 4096}}});
//   out.write(0, bytes, size);                              // or write_chunk(0, offset, ...)
//   out.commit();
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/ggml/type.hpp"
#include "eigenq/io/atomic_file.hpp"
#include "eigenq/io/gguf_metadata.hpp"
#include "eigenq/io/gguf_reader.hpp"
#include "eigenq/io/tensor_file_writer.hpp"

namespace eigenq {
namespace io {

// ggml keeps tensor names in char[64] (GGML_MAX_NAME): longer names do not load there.
inline constexpr std::size_t gguf_max_tensor_name = 63;

namespace detail {

template <class T>
void append_le(std::string& out, T v) {
  static_assert(std::is_arithmetic_v<T>, "writes numbers");
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

inline void append_gguf_string(std::string& out, const std::string& s) {
  append_le<std::uint64_t>(out, s.size());
  out += s;
}

// The value's bytes without its own type tag (array: element type, count, elements).
inline void append_gguf_value(std::string& out, const GgufValue& v) {
  if (v.type() == GgufType::string) {
    append_gguf_string(out, v.str());
    return;
  }
  if (!v.is_array()) {
    out.append(reinterpret_cast<const char*>(v.raw_bytes().data()), v.raw_bytes().size());
    return;
  }
  append_le<std::int32_t>(out, static_cast<std::int32_t>(v.element_type()));
  append_le<std::uint64_t>(out, v.size());
  if (v.element_type() == GgufType::string) {
    for (const std::string& s : v.strings()) append_gguf_string(out, s);
  } else if (v.element_type() == GgufType::array) {
    for (const GgufValue& item : v.items()) append_gguf_value(out, item);
  } else {
    out.append(reinterpret_cast<const char*>(v.raw_bytes().data()), v.raw_bytes().size());
  }
}

// One key/value pair as GGUF stores it: key, value type, value.
inline void append_gguf_kv(std::string& out, const std::string& key, const GgufValue& v) {
  append_gguf_string(out, key);
  append_le<std::int32_t>(out, static_cast<std::int32_t>(v.type()));
  append_gguf_value(out, v);
}

}  // namespace detail

// A tensor to be written: its name, ggml type id and dimensions in ggml order
// (ne[0] the row length); the bytes come later.
struct GgufTensorEntry {
  std::string name;
  ggml::Type type = ggml::Type::f32;
  std::vector<std::int64_t> ne;
};

// Offsets for tensors packed in the given order, each starting at a multiple
// of `alignment`. Throws InvalidArgument naming `path` and the tensor for any
// entry ggml could not read back.
inline std::vector<GgufTensorInfo> plan_gguf_layout(const std::string& path, const std::vector<GgufTensorEntry>& entries,
                                                    std::uint32_t alignment) {
  std::vector<GgufTensorInfo> layout;
  layout.reserve(entries.size());
  std::unordered_map<std::string, std::size_t> names;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const GgufTensorEntry& e = entries[i];
    if (e.name.empty()) raise<InvalidArgument>(path, ": tensor ", i, " has an empty name");
    if (e.name.size() > gguf_max_tensor_name) {
      raise<InvalidArgument>(path, ": tensor name '", e.name, "' has ", e.name.size(), " bytes; ggml reads at most ",
                             gguf_max_tensor_name);
    }
    if (!names.emplace(e.name, i).second) raise<InvalidArgument>(path, ": tensor name '", e.name, "' appears twice");
    if (e.ne.empty() || e.ne.size() > gguf_max_dims) {
      raise<InvalidArgument>(path, ": tensor '", e.name, "' has ", e.ne.size(), " dimensions; GGUF stores 1 to 4");
    }
    std::uint64_t elements = 1;
    for (std::size_t j = 0; j < e.ne.size(); ++j) {
      const std::int64_t d = e.ne[j];
      if (d <= 0) raise<InvalidArgument>(path, ": tensor '", e.name, "' ne[", j, "] is ", d, "; dimensions are positive");
      if (elements > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / static_cast<std::uint64_t>(d)) {
        raise<InvalidArgument>(path, ": tensor '", e.name, "' has more than 2^63-1 elements");
      }
      elements *= static_cast<std::uint64_t>(d);
    }
    if (!ggml::is_known_type_value(static_cast<std::int64_t>(e.type))) {
      raise<InvalidArgument>(path, ": tensor '", e.name, "' has unknown ggml type id ", static_cast<std::int64_t>(e.type));
    }
    const ggml::TypeTraits& traits = ggml::type_traits(e.type);
    const auto block = static_cast<std::uint64_t>(traits.block_size);
    const auto type_size = static_cast<std::uint64_t>(traits.type_size);
    if (static_cast<std::uint64_t>(e.ne[0]) % block != 0) {
      raise<InvalidArgument>(path, ": tensor '", e.name, "' of type ", traits.name, " has rows of ", e.ne[0],
                             " elements, not a multiple of its block of ", block);
    }
    const std::uint64_t blocks = elements / block;
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (blocks > max / type_size) raise<InvalidArgument>(path, ": tensor '", e.name, "' takes more than 2^63-1 bytes");
    GgufTensorInfo t;
    t.name = e.name;
    t.type = e.type;
    t.ne = e.ne;
    t.bytes = blocks * type_size;
    t.row_bytes = static_cast<std::uint64_t>(e.ne[0]) / block * type_size;
    t.offset = offset;
    if (offset > max - alignment || t.bytes > max - alignment - offset) {
      raise<InvalidArgument>(path, ": the tensors take more than 2^63-1 bytes");
    }
    offset = detail::align_up(offset + t.bytes, alignment);
    layout.push_back(std::move(t));
  }
  return layout;
}

// Bytes of the data section for a planned layout: the last tensor's end, padded.
inline std::uint64_t gguf_data_size(const std::vector<GgufTensorInfo>& layout, std::uint32_t alignment) {
  if (layout.empty()) return 0;
  return detail::align_up(layout.back().offset + layout.back().bytes, alignment);
}

// Everything before the data section: header, key/value pairs, tensor infos,
// zero padding to a multiple of the alignment.
inline std::string gguf_header_bytes(const GgufMetadata& metadata, const std::vector<GgufTensorInfo>& layout,
                                     std::uint32_t version = gguf_version) {
  const std::uint32_t alignment = metadata.alignment();
  std::string out(gguf_magic, 4);
  detail::append_le<std::uint32_t>(out, version);
  detail::append_le<std::int64_t>(out, static_cast<std::int64_t>(layout.size()));
  detail::append_le<std::int64_t>(out, static_cast<std::int64_t>(metadata.size()));
  for (const auto& e : metadata) detail::append_gguf_kv(out, e.key, e.value);
  for (const GgufTensorInfo& t : layout) {
    detail::append_gguf_string(out, t.name);
    detail::append_le<std::uint32_t>(out, static_cast<std::uint32_t>(t.ne.size()));
    for (const std::int64_t d : t.ne) detail::append_le<std::int64_t>(out, d);
    detail::append_le<std::int32_t>(out, static_cast<std::int32_t>(t.type));
    detail::append_le<std::uint64_t>(out, t.offset);
  }
  out.append(static_cast<std::size_t>(detail::align_up(out.size(), alignment) - out.size()), '\0');
  return out;
}

// Writes a GGUF file whose tensors are known up front (names, types, dims) and
// whose bytes arrive one tensor (or chunk) at a time, each padded with zeros to the
// alignment (tensor_file_writer.hpp: nothing is left behind without commit()).
class GgufWriter : public TensorFileWriter {
 public:
  GgufWriter(std::string path, const GgufMetadata& metadata, const std::vector<GgufTensorEntry>& tensors,
             AtomicFileOptions options = {})
      : GgufWriter(checked_alignment(path, metadata), path, metadata, tensors, options) {}

  const std::vector<GgufTensorInfo>& layout() const { return layout_; }
  std::uint32_t alignment() const { return alignment_; }

 private:
  GgufWriter(std::uint32_t alignment, const std::string& path, const GgufMetadata& metadata,
             const std::vector<GgufTensorEntry>& tensors, AtomicFileOptions options)
      : GgufWriter(alignment, plan_gguf_layout(path, tensors, alignment), path, metadata, options) {}
  GgufWriter(std::uint32_t alignment, std::vector<GgufTensorInfo> layout, const std::string& path,
             const GgufMetadata& metadata, AtomicFileOptions options)
      : TensorFileWriter(path, slots(layout, alignment), gguf_header_bytes(metadata, layout), options),
        alignment_(alignment),
        layout_(std::move(layout)) {}

  static std::uint32_t checked_alignment(const std::string& path, const GgufMetadata& metadata) {
    try {
      return metadata.alignment();
    } catch (const InvalidArgument& e) {
      raise<InvalidArgument>(path, ": ", e.what());
    }
  }

  static std::vector<Slot> slots(const std::vector<GgufTensorInfo>& layout, std::uint32_t alignment) {
    std::vector<Slot> out;
    out.reserve(layout.size());
    for (const GgufTensorInfo& t : layout) {
      const std::uint64_t end = t.offset + t.bytes;
      out.push_back({t.name, t.offset, t.bytes, detail::align_up(end, alignment) - end});
    }
    return out;
  }

  std::uint32_t alignment_;
  std::vector<GgufTensorInfo> layout_;
};

// A tensor held in memory, for whole-file writes.
struct GgufOwnedTensor {
  std::string name;
  ggml::Type type = ggml::Type::f32;
  std::vector<std::int64_t> ne;
  std::vector<std::uint8_t> data;
};

// Writes whole tensors held in memory, in the given order.
inline void write_gguf(const std::string& path, const GgufMetadata& metadata,
                       const std::vector<GgufOwnedTensor>& tensors, AtomicFileOptions options = {}) {
  std::vector<GgufTensorEntry> entries;
  entries.reserve(tensors.size());
  for (const GgufOwnedTensor& t : tensors) entries.push_back({t.name, t.type, t.ne});
  GgufWriter w(path, metadata, entries, options);
  for (std::size_t i = 0; i < tensors.size(); ++i) w.write(i, tensors[i].data.data(), tensors[i].data.size());
  w.commit();
}

}  // namespace io
}  // namespace eigenq
