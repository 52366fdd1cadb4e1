// `--metadata FILE.json`: a JSON object whose members add, override or remove GGUF key/value
// pairs, applied in the file's order after everything else (so they win). How JSON values
// become GGUF values:
//   null                          removes the key
//   {"type": T, "value": V}       exactly type T: u8 i8 u16 i16 u32 i32 u64 i64 f32 f64 bool str,
//                                 or arr[T] with V an array (e.g. {"type": "arr[f32]", "value": [1, 2]})
//   a key the file already has    the key's own type (an integer into its u32, a number into its
//                                 f32, ...; arrays keep their element type); refused if the value
//                                 does not fit
//   a new key                     as llama.cpp's gguf-py writes Python values: a string -> str,
//                                 true/false -> bool, an integer -> i32 (i64, then u64 when it does
//                                 not fit), any other number -> f32; an array of one of those
//                                 kinds -> arr[that type] (an empty array needs the explicit form)
// Arrays of arrays are refused (ggml's reader refuses them), as are other objects. Every error
// names the file and the key (exit code 2).
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <eigenq/core/error.hpp>
#include <eigenq/io/gguf_metadata.hpp>

namespace eigenq_cli {

namespace detail {

using eigenq::io::GgufType;
using eigenq::io::GgufValue;
using Json = nlohmann::ordered_json;

[[noreturn]] inline void metadata_error(const std::string& file, const std::string& key, const std::string& what) {
  throw eigenq::FormatError(file + ": key '" + key + "': " + what);
}

inline std::string json_kind(const Json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a bool";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

inline std::optional<GgufType> gguf_type_from_name(const std::string& s) {
  for (std::int32_t id = 0; id < eigenq::io::gguf_type_count; ++id) {
    const auto t = static_cast<GgufType>(id);
    if (t != GgufType::array && s == eigenq::io::to_string(t)) return t;
  }
  return std::nullopt;
}

// One JSON scalar as a GGUF scalar of type t, exactly (integers in range, bools as bools).
template <class T>
T json_integer(const Json& v, const std::string& file, const std::string& key) {
  const std::string want = eigenq::io::to_string(eigenq::io::gguf_type_of<T>());
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
      metadata_error(file, key, std::to_string(u) + " does not fit a " + want);
    }
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if ((std::is_unsigned_v<T> && i < 0) ||
        (std::is_signed_v<T> && (i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
                                 i > static_cast<std::int64_t>(std::numeric_limits<T>::max())))) {
      metadata_error(file, key, std::to_string(i) + " does not fit a " + want);
    }
    return static_cast<T>(i);
  }
  metadata_error(file, key, "a " + want + " needs an integer, found " + json_kind(v));
}

inline GgufValue json_scalar(const Json& v, GgufType t, const std::string& file, const std::string& key) {
  switch (t) {
    case GgufType::u8: return json_integer<std::uint8_t>(v, file, key);
    case GgufType::i8: return json_integer<std::int8_t>(v, file, key);
    case GgufType::u16: return json_integer<std::uint16_t>(v, file, key);
    case GgufType::i16: return json_integer<std::int16_t>(v, file, key);
    case GgufType::u32: return json_integer<std::uint32_t>(v, file, key);
    case GgufType::i32: return json_integer<std::int32_t>(v, file, key);
    case GgufType::u64: return json_integer<std::uint64_t>(v, file, key);
    case GgufType::i64: return json_integer<std::int64_t>(v, file, key);
    case GgufType::f32:
    case GgufType::f64: {
      if (!v.is_number()) metadata_error(file, key, std::string("a ") + eigenq::io::to_string(t) + " needs a number, found " + json_kind(v));
      const double d = v.get<double>();
      if (t == GgufType::f64) return d;
      if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
        metadata_error(file, key, "the number does not fit an f32");
      }
      return static_cast<float>(d);
    }
    case GgufType::boolean:
      if (!v.is_boolean()) metadata_error(file, key, "a bool needs true or false, found " + json_kind(v));
      return v.get<bool>();
    case GgufType::string:
      if (!v.is_string()) metadata_error(file, key, "a str needs a string, found " + json_kind(v));
      return v.get<std::string>();
    case GgufType::array: break;
  }
  metadata_error(file, key, "arrays of arrays are not written (ggml's reader refuses them)");
}

template <class T>
GgufValue json_array_of(const Json& v, GgufType element, const std::string& file, const std::string& key) {
  std::vector<T> items;
  items.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const GgufValue e = json_scalar(v[i], element, file, key + "[" + std::to_string(i) + "]");
    items.push_back(e.get<T>());
  }
  return GgufValue(items);
}

inline GgufValue json_array(const Json& v, GgufType element, const std::string& file, const std::string& key) {
  if (!v.is_array()) metadata_error(file, key, "an array needs a JSON array, found " + json_kind(v));
  switch (element) {
    case GgufType::u8: return json_array_of<std::uint8_t>(v, element, file, key);
    case GgufType::i8: return json_array_of<std::int8_t>(v, element, file, key);
    case GgufType::u16: return json_array_of<std::uint16_t>(v, element, file, key);
    case GgufType::i16: return json_array_of<std::int16_t>(v, element, file, key);
    case GgufType::u32: return json_array_of<std::uint32_t>(v, element, file, key);
    case GgufType::i32: return json_array_of<std::int32_t>(v, element, file, key);
    case GgufType::u64: return json_array_of<std::uint64_t>(v, element, file, key);
    case GgufType::i64: return json_array_of<std::int64_t>(v, element, file, key);
    case GgufType::f32: return json_array_of<float>(v, element, file, key);
    case GgufType::f64: return json_array_of<double>(v, element, file, key);
    case GgufType::boolean: return json_array_of<bool>(v, element, file, key);
    case GgufType::string: return json_array_of<std::string>(v, element, file, key);
    case GgufType::array: break;
  }
  metadata_error(file, key, "arrays of arrays are not written (ggml's reader refuses them)");
}

// The GGUF type gguf-py gives a plain JSON value (see the header comment).
inline GgufType inferred_type(const Json& v, const std::string& file, const std::string& key) {
  if (v.is_string()) return GgufType::string;
  if (v.is_boolean()) return GgufType::boolean;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) return GgufType::i32;
    if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return GgufType::i64;
    return GgufType::u64;
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    return i >= std::numeric_limits<std::int32_t>::min() && i <= std::numeric_limits<std::int32_t>::max() ? GgufType::i32
                                                                                                             : GgufType::i64;
  }
  if (v.is_number()) return GgufType::f32;
  metadata_error(file, key, "cannot infer a GGUF type for " + json_kind(v) +
                                "; write {\"type\": \"...\", \"value\": ...} (null removes the key)");
}

// An array's element type: the widest kind its elements need.
inline GgufType inferred_element_type(const Json& v, const std::string& file, const std::string& key) {
  if (v.empty()) {
    metadata_error(file, key, "an empty array has no element type; write {\"type\": \"arr[T]\", \"value\": []}");
  }
  GgufType t = inferred_type(v[0], file, key + "[0]");
  for (std::size_t i = 1; i < v.size(); ++i) {
    const GgufType u = inferred_type(v[i], file, key + "[" + std::to_string(i) + "]");
    if (u == t) continue;
    const auto is_int = [](GgufType x) { return x == GgufType::i32 || x == GgufType::i64 || x == GgufType::u64; };
    const auto is_num = [&](GgufType x) { return is_int(x) || x == GgufType::f32; };
    if (is_num(t) && is_num(u)) {
      if (t == GgufType::f32 || u == GgufType::f32) t = GgufType::f32;
      else if (t == GgufType::u64 || u == GgufType::u64) t = GgufType::u64;
      else t = GgufType::i64;
      continue;
    }
    metadata_error(file, key, "mixes " + std::string(eigenq::io::to_string(t)) + " and " + eigenq::io::to_string(u) +
                                  " elements; a GGUF array has one element type");
  }
  return t;
}

}  // namespace detail

// Reads FILE.json and applies it to `m` (see the header comment).
inline void apply_metadata_json(const std::string& file, eigenq::io::GgufMetadata& m) {
  using detail::Json;
  using eigenq::io::GgufType;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw eigenq::IoError(file + ": cannot open the --metadata file");
  std::stringstream text;
  text << in.rdbuf();
  Json j;
  try {
    j = Json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw eigenq::FormatError(file + ": not valid JSON (byte " + std::to_string(e.byte) + ")");
  }
  if (!j.is_object()) throw eigenq::FormatError(file + ": --metadata needs a JSON object of key: value, found " + detail::json_kind(j));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key.empty()) throw eigenq::FormatError(file + ": an empty key");
    if (v.is_null()) {
      m.erase(key);
      continue;
    }
    if (v.is_object()) {
      if (v.size() != 2 || !v.contains("type") || !v.contains("value") || !v["type"].is_string()) {
        detail::metadata_error(file, key, "an object must be {\"type\": \"<GGUF type>\", \"value\": ...}");
      }
      std::string type = v["type"].get<std::string>();
      if (type.size() > 5 && type.rfind("arr[", 0) == 0 && type.back() == ']') {
        const auto element = detail::gguf_type_from_name(type.substr(4, type.size() - 5));
        if (!element) detail::metadata_error(file, key, "unknown array element type in '" + type + "'");
        m.set(key, detail::json_array(v["value"], *element, file, key));
      } else {
        const auto t = detail::gguf_type_from_name(type);
        if (!t) {
          detail::metadata_error(file, key, "unknown GGUF type '" + type +
                                                "' (u8 i8 u16 i16 u32 i32 u64 i64 f32 f64 bool str, or arr[T])");
        }
        m.set(key, detail::json_scalar(v["value"], *t, file, key));
      }
      continue;
    }
    if (const eigenq::io::GgufValue* old = m.find(key)) {
      if (old->is_array()) m.set(key, detail::json_array(v, old->element_type(), file, key));
      else m.set(key, detail::json_scalar(v, old->type(), file, key));
      continue;
    }
    if (v.is_array()) m.set(key, detail::json_array(v, detail::inferred_element_type(v, file, key), file, key));
    else m.set(key, detail::json_scalar(v, detail::inferred_type(v, file, key), file, key));
  }
  // general.alignment sets the layout: a u32 power of two.
  if (const eigenq::io::GgufValue* a = m.find(eigenq::io::gguf_alignment_key); a != nullptr && j.contains(eigenq::io::gguf_alignment_key)) {
    if (a->type() != GgufType::u32) detail::metadata_error(file, eigenq::io::gguf_alignment_key, "must be a u32, found " + a->describe_type());
    const std::uint32_t v = a->get<std::uint32_t>();
    if (v == 0 || (v & (v - 1)) != 0) detail::metadata_error(file, eigenq::io::gguf_alignment_key, std::to_string(v) + " is not a power of two");
  }
}

}  // namespace eigenq_cli
