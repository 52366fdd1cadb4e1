// GGUF metadata: the value types of GGUF key/value pairs, a typed value class
// (GgufValue) and the ordered key/value pairs of a file (GgufMetadata). Their
// encoding is read in gguf_reader.hpp and written in gguf_writer.hpp.
//
// A GGUF value is one of 13 types (gguf_type in ggml's gguf.h): u8 i8 u16 i16
// u32 i32 u64 i64 f32 f64, bool (one byte, 0 or 1), string (u64 byte length,
// then the bytes, no terminator) and array (element type as int32, u64
// element count, then the elements without their own type tags). Arrays of
// arrays are allowed by the GGUF specification: each element of such an
// array is again (element type, count, elements). ggml's own reader refuses
// nested arrays; eigenq reads and writes them.
//
//   eigenq::io::GgufMetadata m = in.metadata();          // copy a file's key/value pairs
//   m.set("general.name", "tiny");                        // override in place (keeps the order)
//   m.set("tokenizer.ggml.scores", std::vector<float>{0.5f, -1.0f});   // add at the back
//   std::uint32_t a = m.get<std::uint32_t>("general.alignment");
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "eigenq/core/error.hpp"
#include "eigenq/core/shape.hpp"

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "eigenq/io reads and writes little-endian files and supports little-endian hosts only"
#endif

namespace eigenq {
namespace io {

// The key whose u32 value sets the alignment of the data section and of every
// tensor's data; 32 when absent.
inline constexpr const char* gguf_alignment_key = "general.alignment";
inline constexpr std::uint32_t gguf_default_alignment = 32;

// Arrays of arrays may nest this deep (the specification sets no limit; a
// bound keeps a hostile file from exhausting the stack).
inline constexpr int gguf_max_array_depth = 16;

// eigenq's own to_string overloads (shapes...) stay visible beside GgufType's.
using eigenq::to_string;

// The value types, numbered as in the file (ggml's enum gguf_type).
enum class GgufType : std::int32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12
};

inline constexpr std::int32_t gguf_type_count = 13;

inline bool is_gguf_type(std::int32_t id) { return id >= 0 && id < gguf_type_count; }

// The spelling of ggml's gguf_type_name ("u8", "f32", "bool", "str", "arr", ...).
inline const char* to_string(GgufType t) {
  switch (t) {
    case GgufType::u8: return "u8";
    case GgufType::i8: return "i8";
    case GgufType::u16: return "u16";
    case GgufType::i16: return "i16";
    case GgufType::u32: return "u32";
    case GgufType::i32: return "i32";
    case GgufType::f32: return "f32";
    case GgufType::boolean: return "bool";
    case GgufType::string: return "str";
    case GgufType::array: return "arr";
    case GgufType::u64: return "u64";
    case GgufType::i64: return "i64";
    case GgufType::f64: return "f64";
  }
  return "?";
}

// Bytes of one value of a fixed-size type; 0 for string and array.
inline std::size_t gguf_type_size(GgufType t) {
  switch (t) {
    case GgufType::u8:
    case GgufType::i8:
    case GgufType::boolean: return 1;
    case GgufType::u16:
    case GgufType::i16: return 2;
    case GgufType::u32:
    case GgufType::i32:
    case GgufType::f32: return 4;
    case GgufType::u64:
    case GgufType::i64:
    case GgufType::f64: return 8;
    case GgufType::string:
    case GgufType::array: return 0;
  }
  return 0;
}

// The fewest bytes one array element of type t takes in a file (a string: its
// length field; an array: its element type and count).
inline std::size_t gguf_min_element_bytes(GgufType t) {
  if (t == GgufType::string) return 8;
  if (t == GgufType::array) return 12;
  return gguf_type_size(t);
}

namespace detail {

// The C++ type of each GGUF value type, at the position of its number in the file
// (void for string and array, which are not scalars).
using GgufScalarTypes = std::tuple<std::uint8_t, std::int8_t, std::uint16_t, std::int16_t, std::uint32_t, std::int32_t,
                                   float, bool, void, void, std::uint64_t, std::int64_t, double>;

// The position of T in GgufScalarTypes, or -1.
template <class T, std::size_t... I>
constexpr int gguf_scalar_index(std::index_sequence<I...>) {
  int found = -1;
  ((found = std::is_same_v<T, std::tuple_element_t<I, GgufScalarTypes>> ? static_cast<int>(I) : found), ...);
  return found;
}
template <class T>
inline constexpr int gguf_scalar_index_v =
    std::is_void_v<T> ? -1 : gguf_scalar_index<T>(std::make_index_sequence<std::tuple_size_v<GgufScalarTypes>>{});

}  // namespace detail

// The C++ types that hold GGUF scalars: the fixed-width integers, float,
// double and bool.
template <class T>
inline constexpr bool is_gguf_scalar_v = detail::gguf_scalar_index_v<T> >= 0;

template <class T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, std::string>) return GgufType::string;
  else return static_cast<GgufType>(detail::gguf_scalar_index_v<T>);
}
static_assert(gguf_type_of<std::uint8_t>() == GgufType::u8 && gguf_type_of<bool>() == GgufType::boolean &&
                  gguf_type_of<std::uint64_t>() == GgufType::u64 && gguf_type_of<double>() == GgufType::f64,
              "GgufScalarTypes lists the C++ types in the file's numbering");

// One metadata value: a scalar, a string, or an array (of scalars, of strings,
// or of arrays). Values compare equal when type and bytes agree (floats
// bitwise, so a NaN equals itself).
class GgufValue {
 public:
  GgufValue() = default;  // u8 0

  template <class T, std::enable_if_t<is_gguf_scalar_v<T>, int> = 0>
  GgufValue(T v) : type_(gguf_type_of<T>()), count_(1), bytes_(sizeof(T)) {  // NOLINT: implicit by design
    if constexpr (std::is_same_v<T, bool>) bytes_[0] = v ? 1 : 0;
    else std::memcpy(bytes_.data(), &v, sizeof(T));
  }
  GgufValue(std::string s) : type_(GgufType::string), count_(1), bytes_(), strings_{std::move(s)} {}  // NOLINT
  GgufValue(const char* s) : GgufValue(std::string(s)) {}                                      // NOLINT

  // An array of scalars or strings.
  template <class T, std::enable_if_t<is_gguf_scalar_v<T> || std::is_same_v<T, std::string>, int> = 0>
  GgufValue(const std::vector<T>& items)  // NOLINT
      : type_(GgufType::array), element_(gguf_type_of<T>()), count_(items.size()) {
    if constexpr (std::is_same_v<T, std::string>) {
      bytes_.clear();
      strings_ = items;
    } else if constexpr (std::is_same_v<T, bool>) {
      bytes_.resize(items.size());
      for (std::size_t i = 0; i < items.size(); ++i) bytes_[i] = items[i] ? 1 : 0;
    } else {
      bytes_.resize(items.size() * sizeof(T));
      if (!items.empty()) std::memcpy(bytes_.data(), items.data(), bytes_.size());
    }
  }
  GgufValue(const std::vector<const char*>& items)  // NOLINT
      : GgufValue(std::vector<std::string>(items.begin(), items.end())) {}

  // An array of arrays (each item must itself be an array).
  static GgufValue array_of_arrays(std::vector<GgufValue> items) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_array()) {
        raise<InvalidArgument>("item ", i, " of an array of arrays is a ", to_string(items[i].type()), ", not an array");
      }
    }
    GgufValue v;
    v.type_ = GgufType::array;
    v.element_ = GgufType::array;
    v.count_ = items.size();
    v.bytes_.clear();
    v.items_ = std::move(items);
    return v;
  }

  // An array of n fixed-size elements of type `element` from their little-endian bytes
  // (n * gguf_type_size(element) of them); bool bytes must be 0 or 1.
  static GgufValue array_from_bytes(GgufType element, const void* bytes, std::size_t n) {
    const std::size_t size = gguf_type_size(element);
    if (size == 0) raise<InvalidArgument>("array_from_bytes needs a fixed-size element type, not ", to_string(element));
    GgufValue v;
    v.type_ = GgufType::array;
    v.element_ = element;
    v.count_ = n;
    v.bytes_.resize(n * size);
    if (n > 0) std::memcpy(v.bytes_.data(), bytes, n * size);
    if (element == GgufType::boolean) {
      for (std::size_t i = 0; i < n; ++i) {
        if (v.bytes_[i] > 1) raise<InvalidArgument>("bool array element ", i, " is ", int(v.bytes_[i]), ", not 0 or 1");
      }
    }
    return v;
  }

  GgufType type() const { return type_; }
  bool is_array() const { return type_ == GgufType::array; }
  bool is_string() const { return type_ == GgufType::string; }
  // For arrays: the type of the elements.
  GgufType element_type() const {
    require_array("element_type");
    return element_;
  }
  // For arrays: the number of elements; 1 for anything else.
  std::size_t size() const { return count_; }

  // The scalar as T, which must be its exact type (u32 is read as std::uint32_t only).
  template <class T>
  T get() const {
    static_assert(is_gguf_scalar_v<T> || std::is_same_v<T, std::string>, "GGUF values are read as GGUF scalar types");
    if (type_ != gguf_type_of<T>()) {
      raise<InvalidArgument>("a GGUF ", describe_type(), " value, not ", to_string(gguf_type_of<T>()));
    }
    if constexpr (std::is_same_v<T, std::string>) return strings_[0];
    else return element<T>(0);
  }

  const std::string& str() const {
    if (type_ != GgufType::string) raise<InvalidArgument>("a GGUF ", describe_type(), " value, not str");
    return strings_[0];
  }

  // Any integer scalar (u8 ... i64, bool as 0/1) as int64; nullopt for other types and u64 beyond int64.
  std::optional<std::int64_t> as_int64() const {
    switch (type_) {
      case GgufType::u8: return element<std::uint8_t>(0);
      case GgufType::i8: return element<std::int8_t>(0);
      case GgufType::u16: return element<std::uint16_t>(0);
      case GgufType::i16: return element<std::int16_t>(0);
      case GgufType::u32: return element<std::uint32_t>(0);
      case GgufType::i32: return element<std::int32_t>(0);
      case GgufType::i64: return element<std::int64_t>(0);
      case GgufType::boolean: return bytes_[0];
      case GgufType::u64: {
        const std::uint64_t u = element<std::uint64_t>(0);
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return static_cast<std::int64_t>(u);
      }
      default: return std::nullopt;
    }
  }

  // Element i of an array of T (T the exact element type).
  template <class T>
  T at(std::size_t i) const {
    require_element<T>();
    check_index(i);
    if constexpr (std::is_same_v<T, std::string>) return strings_[i];
    else return element<T>(i);
  }

  // The elements of an array of T (T the exact element type).
  template <class T>
  std::vector<T> to_vector() const {
    require_element<T>();
    if constexpr (std::is_same_v<T, std::string>) {
      return strings_;
    } else {
      std::vector<T> out(count_);
      for (std::size_t i = 0; i < count_; ++i) out[i] = element<T>(i);
      return out;
    }
  }

  // The strings of an array of strings, without a copy.
  const std::vector<std::string>& strings() const {
    require_element<std::string>();
    return strings_;
  }

  // The arrays of an array of arrays.
  const std::vector<GgufValue>& items() const {
    require_array("items");
    if (element_ != GgufType::array) raise<InvalidArgument>("a GGUF ", describe_type(), " value, not an array of arrays");
    return items_;
  }

  // The little-endian element bytes of a fixed-size scalar or array of fixed-size elements.
  const std::vector<std::uint8_t>& raw_bytes() const { return bytes_; }

  // "u32", "arr[str,3]", "arr[arr,2]": the type as messages and `eigenq inspect` show it.
  std::string describe_type() const {
    if (!is_array()) return to_string(type_);
    return std::string("arr[") + to_string(element_) + "," + std::to_string(count_) + "]";
  }

  // The value as text: numbers in full precision, strings quoted, arrays as
  // [a, b, ...] showing at most max_items elements.
  std::string to_text(std::size_t max_items = 8) const {
    std::ostringstream out;
    out.precision(17);
    print(out, max_items);
    return out.str();
  }

  friend bool operator==(const GgufValue& a, const GgufValue& b) {
    return a.type_ == b.type_ && a.element_ == b.element_ && a.count_ == b.count_ && a.bytes_ == b.bytes_ &&
           a.strings_ == b.strings_ && a.items_ == b.items_;
  }
  friend bool operator!=(const GgufValue& a, const GgufValue& b) { return !(a == b); }

 private:
  friend struct GgufValueAccess;

  template <class T>
  T element(std::size_t i) const {
    if constexpr (std::is_same_v<T, bool>) {
      return bytes_[i] != 0;
    } else {
      T v;
      std::memcpy(&v, bytes_.data() + i * sizeof(T), sizeof(T));
      return v;
    }
  }

  void require_array(const char* what) const {
    if (!is_array()) raise<InvalidArgument>(what, "() of a GGUF ", describe_type(), " value, which is not an array");
  }

  template <class T>
  void require_element() const {
    if (!is_array() || element_ != gguf_type_of<T>()) {
      raise<InvalidArgument>("a GGUF ", describe_type(), " value, not an array of ", to_string(gguf_type_of<T>()));
    }
  }

  void check_index(std::size_t i) const {
    if (i >= count_) raise<InvalidArgument>("index ", i, " is outside a GGUF array of ", count_, " elements");
  }

  static void print_string(std::ostream& out, const std::string& s) {
    out << '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') out << '\\' << c;
      else if (c == '\n') out << "\\n";
      else if (u < 0x20 || u == 0x7f) out << "\\x" << "0123456789abcdef"[u >> 4] << "0123456789abcdef"[u & 15];
      else out << c;
    }
    out << '"';
  }

  void print_element(std::ostream& out, GgufType t, std::size_t i) const {
    switch (t) {
      case GgufType::u8: out << unsigned(element<std::uint8_t>(i)); break;
      case GgufType::i8: out << int(element<std::int8_t>(i)); break;
      case GgufType::u16: out << element<std::uint16_t>(i); break;
      case GgufType::i16: out << element<std::int16_t>(i); break;
      case GgufType::u32: out << element<std::uint32_t>(i); break;
      case GgufType::i32: out << element<std::int32_t>(i); break;
      case GgufType::u64: out << element<std::uint64_t>(i); break;
      case GgufType::i64: out << element<std::int64_t>(i); break;
      case GgufType::f32: out << element<float>(i); break;
      case GgufType::f64: out << element<double>(i); break;
      case GgufType::boolean: out << (element<bool>(i) ? "true" : "false"); break;
      case GgufType::string: print_string(out, strings_[i]); break;
      case GgufType::array: items_[i].print(out, 0); break;
    }
  }

  void print(std::ostream& out, std::size_t max_items) const {
    if (!is_array()) {
      print_element(out, type_, 0);
      return;
    }
    out << '[';
    const std::size_t shown = count_ < max_items ? count_ : max_items;
    for (std::size_t i = 0; i < shown; ++i) {
      if (i) out << ", ";
      if (element_ == GgufType::array) items_[i].print(out, max_items);
      else print_element(out, element_, i);
    }
    if (shown < count_) out << (shown ? ", " : "") << "... (" << count_ << " in all)";
    out << ']';
  }

  // One representation per value, so == compares like with like: element_ is u8 unless the
  // value is an array; bytes_ is empty for strings and for arrays of strings or arrays.
  GgufType type_ = GgufType::u8;
  GgufType element_ = GgufType::u8;  // arrays only
  std::size_t count_ = 1;
  std::vector<std::uint8_t> bytes_{0};  // fixed-size scalars and arrays of them
  std::vector<std::string> strings_;    // a string, or the elements of an array of strings
  std::vector<GgufValue> items_;        // the elements of an array of arrays
};

// Lets the reader build values element by element without public setters.
struct GgufValueAccess {
  static GgufValue make_fixed(GgufType type, GgufType element, std::size_t count, std::vector<std::uint8_t> bytes) {
    GgufValue v;
    v.type_ = type;
    v.element_ = element;
    v.count_ = count;
    v.bytes_ = std::move(bytes);
    return v;
  }
  static GgufValue make_strings(GgufType type, std::vector<std::string> strings) {
    GgufValue v;
    v.type_ = type;
    v.element_ = type == GgufType::array ? GgufType::string : GgufType::u8;
    v.count_ = type == GgufType::array ? strings.size() : 1;
    v.bytes_.clear();
    v.strings_ = std::move(strings);
    return v;
  }
  static GgufValue make_arrays(std::vector<GgufValue> items) {
    GgufValue v;
    v.type_ = GgufType::array;
    v.element_ = GgufType::array;
    v.count_ = items.size();
    v.bytes_.clear();
    v.items_ = std::move(items);
    return v;
  }
};

// The key/value pairs of a GGUF file in their order. Keys are unique and
// non-empty; set() replaces a value where it stands or appends a new key.
class GgufMetadata {
 public:
  struct Entry {
    std::string key;
    GgufValue value;
    friend bool operator==(const Entry& a, const Entry& b) { return a.key == b.key && a.value == b.value; }
    friend bool operator!=(const Entry& a, const Entry& b) { return !(a == b); }
  };

  GgufMetadata() = default;
  GgufMetadata(std::initializer_list<Entry> entries) {
    for (const Entry& e : entries) add(e.key, e.value);
  }

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  const Entry& operator[](std::size_t i) const { return entries_.at(i); }

  bool contains(const std::string& key) const { return index_.count(key) != 0; }

  // Position of a key in the order of the file; nullopt when absent.
  std::optional<std::size_t> position(const std::string& key) const {
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  const GgufValue* find(const std::string& key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries_[it->second].value;
  }

  const GgufValue& at(const std::string& key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) raise<InvalidArgument>("no GGUF metadata key '", key, "'");
    return *v;
  }

  // The value of `key` as T (its exact type); throws InvalidArgument naming the key otherwise.
  template <class T>
  T get(const std::string& key) const {
    const GgufValue& v = at(key);
    if (v.type() != gguf_type_of<T>()) {
      raise<InvalidArgument>("GGUF metadata key '", key, "' holds a ", v.describe_type(), ", not a ",
                             to_string(gguf_type_of<T>()));
    }
    return v.get<T>();
  }

  // Replaces the value of an existing key in place, or appends a new key.
  void set(const std::string& key, GgufValue value) {
    const auto it = index_.find(key);
    if (it != index_.end()) {
      entries_[it->second].value = std::move(value);
      return;
    }
    check_key(key);
    index_.emplace(key, entries_.size());
    entries_.push_back({key, std::move(value)});
  }

  // Appends a key that must not exist yet.
  void add(const std::string& key, GgufValue value) {
    if (contains(key)) raise<InvalidArgument>("GGUF metadata key '", key, "' is already present");
    set(key, std::move(value));
  }

  // Removes a key; false when it was absent.
  bool erase(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) return false;
    const std::size_t pos = it->second;
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(pos));
    index_.erase(it);
    for (auto& kv : index_) {
      if (kv.second > pos) --kv.second;
    }
    return true;
  }

  // general.alignment when present (it must be a u32 power of two), 32 otherwise.
  std::uint32_t alignment() const {
    const GgufValue* v = find(gguf_alignment_key);
    if (v == nullptr) return gguf_default_alignment;
    if (v->type() != GgufType::u32) {
      raise<InvalidArgument>("GGUF metadata key '", gguf_alignment_key, "' must be a u32, not a ", v->describe_type());
    }
    const std::uint32_t a = v->get<std::uint32_t>();
    if (a == 0 || (a & (a - 1)) != 0) {
      raise<InvalidArgument>("GGUF metadata key '", gguf_alignment_key, "' is ", a, ", not a power of two");
    }
    return a;
  }

  friend bool operator==(const GgufMetadata& a, const GgufMetadata& b) { return a.entries_ == b.entries_; }
  friend bool operator!=(const GgufMetadata& a, const GgufMetadata& b) { return !(a == b); }

 private:
  static void check_key(const std::string& key) {
    if (key.empty()) raise<InvalidArgument>("a GGUF metadata key cannot be empty");
  }

  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace io
}  // namespace eigenq
