// llama.cpp importance matrices (llama-imatrix's output, llama-quantize's
// --imatrix input), both formats, read and checked as carefully as GGUF files:
// every error names the file, the byte offset, the entry and the field.
//
// GGUF format (llama-imatrix's default since mid-2025): a GGUF file with
//   general.type = "imatrix" (checked when present), imatrix.datasets (array
//   of str), imatrix.chunk_count (u32), imatrix.chunk_size (u32);
//   for each weight NAME: NAME.in_sum2, F32 [ne0, n_mat] (sums of squared
//   activations per column, per matrix: n_mat > 1 for the experts of a 3-D
//   MoE weight) and NAME.counts, F32 [1, n_mat] (activation rows seen per
//   matrix). Other tensors (NAME.in_sum, activations) are ignored, as
//   llama-quantize ignores them.
// Legacy .dat format: i32 entry count; per entry i32 name length, the name,
//   i32 ncall, i32 nval, nval f32 values (already divided by the count and
//   multiplied by ncall); then optionally i32 chunk count, i32 dataset name
//   length, the dataset name.
//
// The importance of an entry is exactly what llama-quantize's load_imatrix
// hands to ggml_quantize_chunk as quant_weights: GGUF, in_sum2 / count per
// matrix (float division), 1 for every column of a matrix whose count is 0
// (an expert never routed to); legacy, value / ncall (float division).
//
// Checked: GGUF rules (gguf_reader.hpp), the three metadata keys with their
// types, at least one tensor, every in_sum2 with its counts and the reverse,
// both F32, in_sum2 of rank 1 or 2, counts holding one value per matrix,
// sums finite and >= 0, counts whole numbers >= 0 and not all 0; legacy: counts and
// lengths positive and inside the file, names without NUL bytes and unique,
// ncall > 0, values finite and >= 0, the trailer whole, nothing after it.
//
//   eigenq::io::Imatrix im = eigenq::io::read_imatrix("imatrix.gguf");   // or .dat
//   if (const auto* e = im.find("blk.0.ffn_down.weight"); e && e->matches(ne0, ne2))
//     quant_weights = e->weights(ne0, expert);
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/ggml/type.hpp"
#include "eigenq/io/gguf_reader.hpp"
#include "eigenq/io/mapped_file.hpp"

namespace eigenq {
namespace io {

enum class ImatrixFormat { gguf, legacy };

inline const char* to_string(ImatrixFormat f) { return f == ImatrixFormat::gguf ? "gguf" : "legacy"; }

// The importance of one weight tensor's columns.
struct ImatrixEntry {
  std::string name;               // the weight tensor, e.g. "blk.0.ffn_down.weight"
  std::int64_t row_length = 0;    // columns per matrix (legacy files: all values, experts not told apart)
  std::int64_t matrices = 1;      // 1, or the experts of a 3-D MoE weight
  std::vector<float> importance;  // row_length x matrices: llama-quantize's quant_weights
  std::vector<float> counts;      // per matrix (GGUF counts), or {ncall} (legacy)

  // llama-quantize's test: the entry fits a weight with rows of ne0 and ne2 matrices
  // when it holds ne0 * ne2 values.
  bool matches(std::int64_t ne0, std::int64_t ne2 = 1) const {
    return ne0 > 0 && ne2 > 0 && importance.size() == static_cast<std::size_t>(ne0) * static_cast<std::size_t>(ne2);
  }
  // The ne0 weights for the rows of matrix i2 of such a weight.
  const float* weights(std::int64_t ne0, std::int64_t i2 = 0) const {
    const std::size_t n = importance.size();
    if (ne0 <= 0 || i2 < 0 || n % static_cast<std::size_t>(ne0) != 0 ||
        static_cast<std::size_t>(i2) >= n / static_cast<std::size_t>(ne0)) {
      raise<InvalidArgument>("imatrix entry '", name, "' of ", n, " values has no matrix ", i2, " of rows of ", ne0);
    }
    return importance.data() + static_cast<std::size_t>(i2) * static_cast<std::size_t>(ne0);
  }
};

struct Imatrix {
  ImatrixFormat format = ImatrixFormat::gguf;
  std::vector<ImatrixEntry> entries;  // sorted by name
  std::vector<std::string> datasets;  // GGUF imatrix.datasets; legacy: the trailing dataset name, if any
  std::int64_t chunk_count = 0;       // GGUF imatrix.chunk_count; legacy: the trailing count (0 if absent)
  std::int64_t chunk_size = 0;        // GGUF imatrix.chunk_size; legacy files do not say (0)

  const ImatrixEntry* find(const std::string& name) const {
    const auto it = std::lower_bound(entries.begin(), entries.end(), name,
                                     [](const ImatrixEntry& e, const std::string& n) { return e.name < n; });
    return it != entries.end() && it->name == name ? &*it : nullptr;
  }
  const ImatrixEntry& at(const std::string& name) const {
    const ImatrixEntry* e = find(name);
    if (e == nullptr) raise<InvalidArgument>("the imatrix has no entry for '", name, "'");
    return *e;
  }
};

inline constexpr const char* imatrix_datasets_key = "imatrix.datasets";
inline constexpr const char* imatrix_chunk_count_key = "imatrix.chunk_count";
inline constexpr const char* imatrix_chunk_size_key = "imatrix.chunk_size";

namespace detail {

inline bool remove_suffix(std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  s.resize(s.size() - suffix.size());
  return true;
}

inline float load_f32(const std::uint8_t* p) {
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
T load_le(const std::uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A required metadata key of type `type`; its value's file position.
inline const GgufValue& imatrix_key(const GgufFile& f, const char* key, GgufType type, GgufType element = GgufType::u8) {
  const auto pos = f.metadata().position(key);
  if (!pos) {
    raise<FormatError>(f.path(), ": byte 16: metadata_kv_count: none of the ", f.metadata().size(),
                       " key/value pairs is '", key, "', which an imatrix file must have (imatrix.datasets, "
                       "imatrix.chunk_count, imatrix.chunk_size)");
  }
  const GgufValue& v = f.metadata()[*pos].value;
  if (v.type() != type || (type == GgufType::array && v.element_type() != element)) {
    const std::string want = type == GgufType::array ? std::string("arr[") + to_string(element) + "]" : to_string(type);
    raise<FormatError>(f.path(), ": byte ", f.kv_offset(*pos) + 8 + std::strlen(key), ": metadata '", key,
                       "' value type: must be ", want, ", found ", v.describe_type());
  }
  return v;
}

inline void check_imatrix_tensor(const GgufFile& f, const GgufTensorInfo& t, const char* role) {
  if (t.type != ggml::Type::f32) {
    raise<FormatError>(f.path(), ": byte ", t.type_field_offset(), ": tensor '", printable(t.name), "' type: ", role,
                       " must be f32, found ", ggml::type_name(t.type));
  }
  if (t.ne.size() > 2) {
    raise<FormatError>(f.path(), ": byte ", t.info_offset + 8 + t.name.size(), ": tensor '", printable(t.name),
                       "' n_dims: ", role, " has ", t.ne.size(), " dimensions; an imatrix tensor has 1 or 2");
  }
}

}  // namespace detail

// The importance matrix in a GGUF file already opened.
inline Imatrix read_imatrix_gguf(const GgufFile& f) {
  using detail::printable;
  Imatrix im;
  im.format = ImatrixFormat::gguf;
  if (const auto pos = f.metadata().position("general.type")) {
    const GgufValue& v = f.metadata()[*pos].value;
    if (!v.is_string() || v.str() != "imatrix") {
      raise<FormatError>(f.path(), ": byte ", f.kv_offset(*pos), ": metadata 'general.type': is ",
                         v.is_string() ? "\"" + printable(v.str()) + "\"" : "a " + v.describe_type(),
                         ", not \"imatrix\": not an importance matrix file");
    }
  }
  im.datasets = detail::imatrix_key(f, imatrix_datasets_key, GgufType::array, GgufType::string).strings();
  im.chunk_count = detail::imatrix_key(f, imatrix_chunk_count_key, GgufType::u32).get<std::uint32_t>();
  im.chunk_size = detail::imatrix_key(f, imatrix_chunk_size_key, GgufType::u32).get<std::uint32_t>();
  if (f.tensors().empty()) {
    raise<FormatError>(f.path(), ": byte 8: tensor_count: 0 tensors; an imatrix file has a NAME.in_sum2 and a "
                                 "NAME.counts tensor for each weight");
  }

  struct Pair {
    const GgufTensorInfo* sums = nullptr;
    const GgufTensorInfo* counts = nullptr;
  };
  std::map<std::string, Pair> pairs;  // ordered: entries come out sorted by name
  for (const GgufTensorInfo& t : f.tensors()) {
    std::string name = t.name;
    if (detail::remove_suffix(name, ".in_sum2")) pairs[name].sums = &t;
    else if (detail::remove_suffix(name, ".counts")) pairs[name].counts = &t;
  }
  if (pairs.empty()) {
    raise<FormatError>(f.path(), ": byte 8: tensor_count: none of the ", f.tensors().size(),
                       " tensors is a NAME.in_sum2 or NAME.counts tensor; not an importance matrix file");
  }

  for (const auto& [name, p] : pairs) {
    if (p.sums == nullptr || p.counts == nullptr) {
      const GgufTensorInfo& t = p.sums ? *p.sums : *p.counts;
      raise<FormatError>(f.path(), ": byte ", t.info_offset, ": tensor '", printable(t.name), "': no tensor '",
                         printable(name), p.sums ? ".counts" : ".in_sum2", "' goes with it");
    }
    const GgufTensorInfo& s = *p.sums;
    const GgufTensorInfo& c = *p.counts;
    detail::check_imatrix_tensor(f, s, "in_sum2");
    detail::check_imatrix_tensor(f, c, "counts");
    const std::int64_t ne0 = s.ne[0];
    const std::int64_t n_mat = s.ne.size() > 1 ? s.ne[1] : 1;
    if (c.ne[0] != 1 || c.elements() != n_mat) {
      raise<FormatError>(f.path(), ": byte ", c.info_offset + 8 + c.name.size() + 4, ": tensor '", printable(c.name),
                         "' ne: must be [1, ", n_mat, "] (one count for each of the ", n_mat,
                         " matrices of its in_sum2), found ", to_string(Shape(c.ne.begin(), c.ne.end())));
    }

    ImatrixEntry e;
    e.name = name;
    e.row_length = ne0;
    e.matrices = n_mat;
    e.counts.resize(static_cast<std::size_t>(n_mat));
    const GgufTensorView cv = f.tensor(c.name);
    const std::uint64_t counts_at = f.data_offset() + c.offset;
    bool any = false;
    for (std::int64_t j = 0; j < n_mat; ++j) {
      const float count = detail::load_f32(cv.data() + 4 * j);
      if (!std::isfinite(count) || count < 0 || count != std::floor(count)) {
        raise<FormatError>(f.path(), ": byte ", counts_at + 4 * static_cast<std::uint64_t>(j), ": tensor '",
                           printable(c.name), "' [", j, "]: a count of activation rows must be a whole number >= 0, "
                           "found ", count);
      }
      any = any || count > 0;
      e.counts[static_cast<std::size_t>(j)] = count;
    }
    if (!any) {
      raise<FormatError>(f.path(), ": byte ", counts_at, ": tensor '", printable(c.name), "': every count is 0: weight '",
                         printable(name), "' saw no input during calibration");
    }

    const GgufTensorView sv = f.tensor(s.name);
    const std::uint64_t sums_at = f.data_offset() + s.offset;
    e.importance.resize(static_cast<std::size_t>(ne0 * n_mat));
    for (std::int64_t j = 0; j < n_mat; ++j) {
      const float count = e.counts[static_cast<std::size_t>(j)];
      for (std::int64_t i = 0; i < ne0; ++i) {
        const std::size_t k = static_cast<std::size_t>(j * ne0 + i);
        const float sum = detail::load_f32(sv.data() + 4 * k);
        if (!std::isfinite(sum) || sum < 0) {
          raise<FormatError>(f.path(), ": byte ", sums_at + 4 * k, ": tensor '", printable(s.name), "' [", i, ", ", j,
                             "]: a sum of squares must be finite and >= 0, found ", sum);
        }
        e.importance[k] = count > 0.0f ? sum / count : 1.0f;  // llama-quantize: 1 where a matrix saw no input
      }
    }
    im.entries.push_back(std::move(e));
  }
  return im;
}

// The importance matrix in legacy .dat bytes; `name` (a path) goes into messages.
inline Imatrix parse_imatrix_dat(const std::uint8_t* data, std::size_t size, const std::string& name) {
  using detail::printable;
  Imatrix im;
  im.format = ImatrixFormat::legacy;
  std::size_t pos = 0;
  auto fail = [&](std::size_t at, const std::string& field, const auto&... parts) {
    raise<FormatError>(name, ": byte ", at, ": ", field, ": ", parts...);
  };
  auto read_i32 = [&](const std::string& field) {
    if (size - pos < 4) {
      fail(pos, field, "needs 4 bytes but the file ends ", size - pos, " bytes later, at byte ", size, " (truncated?)");
    }
    const auto v = detail::load_le<std::int32_t>(data + pos);
    pos += 4;
    return v;
  };

  const std::int32_t n_entries = read_i32("entry count");
  if (n_entries <= 0) fail(0, "entry count", "must be positive, found ", n_entries);
  // An entry takes at least 17 bytes: name length, a 1-byte name, ncall, nval, one value.
  if (static_cast<std::size_t>(n_entries) > (size - pos) / 17) {
    fail(0, "entry count", n_entries, " entries cannot fit in the ", size - pos,
         " bytes after it (each takes at least 17)");
  }
  std::map<std::string, std::size_t> seen;
  for (std::int32_t i = 0; i < n_entries; ++i) {
    const std::string entry = "entry " + std::to_string(i);
    const std::size_t entry_at = pos;
    const std::int32_t len = read_i32(entry + " name length");
    if (len <= 0) fail(entry_at, entry + " name length", "must be positive, found ", len);
    if (static_cast<std::size_t>(len) > size - pos) {
      fail(entry_at, entry + " name length", "a name of ", len, " bytes does not fit in the ", size - pos,
           " bytes left in the file");
    }
    std::string tensor(reinterpret_cast<const char*>(data + pos), static_cast<std::size_t>(len));
    if (tensor.find('\0') != std::string::npos) {
      fail(pos, entry + " name", "holds a NUL byte at position ", tensor.find('\0'));
    }
    const std::string label = entry + " '" + printable(tensor) + "'";
    if (const auto it = seen.find(tensor); it != seen.end()) {
      fail(pos, label + " name", "repeats the name of entry ", it->second);
    }
    seen.emplace(tensor, static_cast<std::size_t>(i));
    pos += static_cast<std::size_t>(len);

    const std::size_t ncall_at = pos;
    const std::int32_t ncall = read_i32(label + " ncall");
    if (ncall <= 0) fail(ncall_at, label + " ncall", "the count must be positive, found ", ncall);
    const std::size_t nval_at = pos;
    const std::int32_t nval = read_i32(label + " nval");
    if (nval <= 0) fail(nval_at, label + " nval", "must be positive, found ", nval);
    if (static_cast<std::size_t>(nval) > (size - pos) / 4) {
      fail(nval_at, label + " nval", nval, " values need ", 4 * static_cast<std::uint64_t>(nval), " bytes but ",
           size - pos, " are left in the file (truncated?)");
    }
    ImatrixEntry e;
    e.name = tensor;
    e.row_length = nval;
    e.matrices = 1;
    e.counts = {static_cast<float>(ncall)};
    e.importance.resize(static_cast<std::size_t>(nval));
    for (std::int32_t k = 0; k < nval; ++k) {
      const float v = detail::load_f32(data + pos);
      if (!std::isfinite(v) || v < 0) {
        fail(pos, label + " value " + std::to_string(k), "an importance must be finite and >= 0, found ", v);
      }
      e.importance[static_cast<std::size_t>(k)] = v / static_cast<float>(ncall);  // as llama-quantize: v /= ncall
      pos += 4;
    }
    im.entries.push_back(std::move(e));
  }

  if (pos < size) {  // the trailer: chunk count, dataset name
    const std::size_t count_at = pos;
    const std::int32_t chunks = read_i32("chunk count");
    if (chunks < 0) fail(count_at, "chunk count", "must be >= 0, found ", chunks);
    im.chunk_count = chunks;
    const std::size_t len_at = pos;
    const std::int32_t len = read_i32("dataset name length");
    if (len < 0) fail(len_at, "dataset name length", "must be >= 0, found ", len);
    if (static_cast<std::size_t>(len) > size - pos) {
      fail(len_at, "dataset name length", "a name of ", len, " bytes does not fit in the ", size - pos,
           " bytes left in the file");
    }
    im.datasets.emplace_back(reinterpret_cast<const char*>(data + pos), static_cast<std::size_t>(len));
    pos += static_cast<std::size_t>(len);
    if (pos != size) fail(pos, "end of file", size - pos, " bytes follow the dataset name");
  }
  std::sort(im.entries.begin(), im.entries.end(),
            [](const ImatrixEntry& a, const ImatrixEntry& b) { return a.name < b.name; });
  return im;
}

// An importance matrix held in memory: GGUF when it starts with "GGUF", legacy .dat otherwise.
inline Imatrix parse_imatrix(std::vector<std::uint8_t> bytes, const std::string& name = "<memory>") {
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), gguf_magic, 4) == 0) {
    return read_imatrix_gguf(GgufFile::from_buffer(std::move(bytes), name));
  }
  return parse_imatrix_dat(bytes.data(), bytes.size(), name);
}

// Reads an importance matrix file of either format (told apart by content, as llama-quantize does).
inline Imatrix read_imatrix(const std::string& path) {
  MappedFile file(path);
  if (file.size() >= 4 && std::memcmp(file.data(), gguf_magic, 4) == 0) {
    file = MappedFile();
    return read_imatrix_gguf(GgufFile(path));
  }
  return parse_imatrix_dat(file.data(), file.size(), path);
}

}  // namespace io
}  // namespace eigenq
