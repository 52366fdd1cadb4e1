// Reader for eigenq's golden files (tests/golden/*_pytorch.txt, *_onnxruntime.txt).
//
// Header-only, C++17, standard library only.  The format is described in
// tests/golden/README.md; in short:
//
//   # comment lines and blank lines are ignored
//   case <name>
//   <key> <token> <token> ...      one field per line, keys unique per case
//   end
//
// Vector fields are count-prefixed: "<key> <n> <v1> ... <vn>".  Floats are
// 8-hex-digit IEEE-754 binary32 bit patterns, so every value (denormals,
// infinities, NaN payloads, negative zero) is exact.
//
// load_golden() checks the structure and, for the well-known vector keys
// (see detail::float_vector_keys / int_vector_keys, also with a ".<batch>"
// suffix), the counts and token syntax.  Errors throw std::runtime_error
// with "<path>:<line>: <message>".
#ifndef EIGENQ_TESTS_GOLDEN_GOLDEN_FILE_HPP
#define EIGENQ_TESTS_GOLDEN_GOLDEN_FILE_HPP

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace eigenq_test {

namespace detail {

inline std::string location(const std::string& path, std::size_t line) {
  return path + ":" + std::to_string(line) + ": ";
}

// True if s is an optionally signed decimal integer that fits in int64_t.
inline bool parse_int64(const std::string& s, std::int64_t& out) {
  if (s.empty()) return false;
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = (s[0] == '-');
    i = 1;
  }
  if (i == s.size()) return false;
  // Accumulate as a negative number so INT64_MIN is representable.
  std::int64_t value = 0;
  const std::int64_t min = INT64_MIN;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (value < (min + digit) / 10) return false;
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == min) return false;
    value = -value;
  }
  out = value;
  return true;
}

// True if s is exactly 8 hex digits; stores the float with that bit pattern.
inline bool parse_hex_float(const std::string& s, float& out) {
  if (s.size() != 8) return false;
  std::uint32_t bits = 0;
  for (const char c : s) {
    std::uint32_t nibble = 0;
    if (c >= '0' && c <= '9') {
      nibble = static_cast<std::uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      nibble = static_cast<std::uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      nibble = static_cast<std::uint32_t>(c - 'A' + 10);
    } else {
      return false;
    }
    bits = (bits << 4) | nibble;
  }
  static_assert(sizeof(float) == sizeof(std::uint32_t), "binary32 float expected");
  std::memcpy(&out, &bits, sizeof out);
  return true;
}

// "input.3" -> "input"
inline std::string base_key(const std::string& key) {
  const std::size_t dot = key.find('.');
  return dot == std::string::npos ? key : key.substr(0, dot);
}

inline bool is_float_vector_key(const std::string& key) {
  static const char* const keys[] = {"input", "observed_min", "observed_max", "scale",
                                     "dequant", "fake_quant", "dequant_narrow"};
  const std::string b = base_key(key);
  for (const char* k : keys) {
    if (b == k) return true;
  }
  return false;
}

inline bool is_int_vector_key(const std::string& key) {
  static const char* const keys[] = {"shape", "zero_point", "codes"};
  const std::string b = base_key(key);
  for (const char* k : keys) {
    if (b == k) return true;
  }
  return false;
}

}  // namespace detail

struct GoldenCase {
  std::string name;
  std::string file;        // path the case was read from
  std::size_t line = 0;    // line of "case <name>"
  std::map<std::string, std::vector<std::string>> fields;  // key -> tokens after the key
  std::map<std::string, std::size_t> field_lines;          // key -> line number

  bool has(const std::string& key) const { return fields.count(key) != 0; }

  // Raw tokens of a field (throws if absent).
  const std::vector<std::string>& tokens(const std::string& key) const {
    const auto it = fields.find(key);
    if (it == fields.end()) {
      throw std::runtime_error(detail::location(file, line) + "case '" + name + "' has no field '" + key + "'");
    }
    return it->second;
  }

  // All tokens joined by single spaces.
  std::string text(const std::string& key) const {
    std::string out;
    for (const std::string& t : tokens(key)) {
      if (!out.empty()) out += ' ';
      out += t;
    }
    return out;
  }

  // A field holding exactly one integer, e.g. "quant_min -128".
  std::int64_t integer(const std::string& key) const {
    const auto& t = tokens(key);
    std::int64_t v = 0;
    if (t.size() != 1 || !detail::parse_int64(t[0], v)) {
      fail(key, "expected exactly one integer");
    }
    return v;
  }

  // A count-prefixed integer vector, e.g. "codes 3 0 191 254" or "shape 2 3 13".
  std::vector<std::int64_t> ints(const std::string& key) const {
    const auto& t = tokens(key);
    const std::size_t n = count(key, t);
    std::vector<std::int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!detail::parse_int64(t[i + 1], out[i])) fail(key, "bad integer '" + t[i + 1] + "'");
    }
    return out;
  }

  // A count-prefixed vector of binary32 bit patterns, e.g. "scale 1 3c008081".
  std::vector<float> floats(const std::string& key) const {
    const auto& t = tokens(key);
    const std::size_t n = count(key, t);
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (!detail::parse_hex_float(t[i + 1], out[i])) fail(key, "bad float bit pattern '" + t[i + 1] + "'");
    }
    return out;
  }

  // Bit patterns of a float vector (for bit-exact comparisons without float ==).
  std::vector<std::uint32_t> float_bits(const std::string& key) const {
    const std::vector<float> f = floats(key);
    std::vector<std::uint32_t> out(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) std::memcpy(&out[i], &f[i], sizeof(float));
    return out;
  }

  // Field line number (for diagnostics); 0 if absent.
  std::size_t line_of(const std::string& key) const {
    const auto it = field_lines.find(key);
    return it == field_lines.end() ? 0 : it->second;
  }

 private:
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw std::runtime_error(detail::location(file, line_of(key)) + "case '" + name + "', field '" + key +
                             "': " + what);
  }

  std::size_t count(const std::string& key, const std::vector<std::string>& t) const {
    std::int64_t n = 0;
    if (t.empty() || !detail::parse_int64(t[0], n) || n < 0) fail(key, "expected a count prefix");
    if (static_cast<std::size_t>(n) != t.size() - 1) {
      fail(key, "count " + t[0] + " but " + std::to_string(t.size() - 1) + " values");
    }
    return static_cast<std::size_t>(n);
  }
};

// Parses a golden file.  Throws std::runtime_error("<path>:<line>: ...") on
// malformed input or if the file cannot be opened.
inline std::vector<GoldenCase> load_golden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open golden file");

  std::vector<GoldenCase> cases;
  std::map<std::string, std::size_t> seen_names;
  GoldenCase current;
  bool in_case = false;
  std::string line;
  std::size_t line_no = 0;

  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ss(line);
    std::vector<std::string> tok;
    for (std::string t; ss >> t;) tok.push_back(t);
    if (tok.empty() || tok[0][0] == '#') continue;

    const std::string& key = tok[0];
    if (key == "case") {
      if (in_case) {
        throw std::runtime_error(detail::location(path, line_no) + "'case' inside case '" + current.name +
                                 "' (missing 'end')");
      }
      if (tok.size() != 2) throw std::runtime_error(detail::location(path, line_no) + "expected 'case <name>'");
      const auto dup = seen_names.find(tok[1]);
      if (dup != seen_names.end()) {
        throw std::runtime_error(detail::location(path, line_no) + "duplicate case name '" + tok[1] +
                                 "' (first at line " + std::to_string(dup->second) + ")");
      }
      seen_names.emplace(tok[1], line_no);
      current = GoldenCase{};
      current.name = tok[1];
      current.file = path;
      current.line = line_no;
      in_case = true;
    } else if (key == "end") {
      if (!in_case) throw std::runtime_error(detail::location(path, line_no) + "'end' outside a case");
      if (tok.size() != 1) throw std::runtime_error(detail::location(path, line_no) + "unexpected tokens after 'end'");
      cases.push_back(std::move(current));
      current = GoldenCase{};
      in_case = false;
    } else {
      if (!in_case) {
        throw std::runtime_error(detail::location(path, line_no) + "field '" + key + "' outside a case");
      }
      if (current.fields.count(key) != 0) {
        throw std::runtime_error(detail::location(path, line_no) + "duplicate field '" + key + "' in case '" +
                                 current.name + "'");
      }
      current.fields.emplace(key, std::vector<std::string>(tok.begin() + 1, tok.end()));
      current.field_lines.emplace(key, line_no);
      // Eager validation of the well-known vector fields, so a corrupt file
      // fails at load time with the right line number.
      if (detail::is_float_vector_key(key)) {
        (void)current.floats(key);
      } else if (detail::is_int_vector_key(key)) {
        (void)current.ints(key);
      }
    }
  }
  if (in_case) {
    throw std::runtime_error(detail::location(path, line_no) + "end of file inside case '" + current.name +
                             "' (missing 'end')");
  }
  return cases;
}

// Convenience: the case with the given name (throws if absent).
inline const GoldenCase& find_case(const std::vector<GoldenCase>& cases, const std::string& name) {
  for (const GoldenCase& c : cases) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("golden case '" + name + "' not found");
}

// The indices of the cases of one kind: the values of a parameterized test.
inline std::vector<std::size_t> case_indices(const std::vector<GoldenCase>& cases, const std::string& kind) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].text("kind") == kind) out.push_back(i);
  }
  return out;
}

// A test's name: the case's name with '_' for anything but letters and digits, then its index.
inline std::string case_test_name(const std::vector<GoldenCase>& cases, std::size_t index) {
  std::string name = cases[index].name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name + "_" + std::to_string(index);
}

}  // namespace eigenq_test

#endif  // EIGENQ_TESTS_GOLDEN_GOLDEN_FILE_HPP
