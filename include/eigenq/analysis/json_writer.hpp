// A tiny JSON emitter for analysis reports, so the analysis layer needs no JSON library.
//
//   JsonWriter w;
//   w.begin_object().key("mse").value(1e-4).key("name").value("fc1").end_object();
//   std::string s = w.str();   // {"mse":0.0001,"name":"fc1"}
//
// Strings are escaped per RFC 8259 (quote, backslash, control characters as \uXXXX; other
// bytes pass through, so UTF-8 stays UTF-8). Numbers are written with 17 significant
// digits, which round-trip every double. JSON has no NaN or infinity: non-finite numbers
// are written as null (documented with every report that can produce them, e.g. the SQNR
// of a perfect reconstruction).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "eigenq/core/error.hpp"

namespace eigenq {

class JsonWriter {
 public:
  // A string with quotes and escapes, as JSON spells it.
  static std::string quote(const std::string& s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (const char ch : s) {
      const unsigned char c = static_cast<unsigned char>(ch);
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
          } else {
            out += ch;
          }
      }
    }
    out += '"';
    return out;
  }

  // A number as JSON spells it; null when not finite.
  static std::string number(double v) {
    if (!std::isfinite(v)) return "null";
    if (v == 0.0) return "0";  // also -0.0
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }

  JsonWriter& begin_object() { return open('{', '}'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('[', ']'); }
  JsonWriter& end_array() { return close(']'); }

  JsonWriter& key(const std::string& k) {
    if (stack_.empty() || stack_.back().close != '}' || stack_.back().after_key) {
      raise("JsonWriter: key '", k, "' outside an object or after another key");
    }
    separate();
    out_ += quote(k);
    out_ += ':';
    stack_.back().after_key = true;
    return *this;
  }

  JsonWriter& value(const std::string& s) { return raw(quote(s)); }
  JsonWriter& value(const char* s) { return raw(quote(s)); }
  JsonWriter& value(double v) { return raw(number(v)); }
  JsonWriter& value(float v) { return raw(number(static_cast<double>(v))); }
  JsonWriter& value(int v) { return raw(std::to_string(v)); }
  JsonWriter& value(long v) { return raw(std::to_string(v)); }
  JsonWriter& value(long long v) { return raw(std::to_string(v)); }
  JsonWriter& value(unsigned v) { return raw(std::to_string(v)); }
  JsonWriter& value(unsigned long v) { return raw(std::to_string(v)); }
  JsonWriter& value(unsigned long long v) { return raw(std::to_string(v)); }
  JsonWriter& value(bool b) { return raw(b ? "true" : "false"); }
  JsonWriter& null() { return raw("null"); }

  // A value that is already JSON text (e.g. another writer's str()).
  JsonWriter& raw(const std::string& json) {
    if (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.close == '}' && !f.after_key) raise("JsonWriter: a value inside an object needs a key first");
      if (f.close == ']') separate();
      f.after_key = false;
    } else if (!out_.empty()) {
      raise("JsonWriter: a JSON text has one top-level value");
    }
    out_ += json;
    return *this;
  }

  // The text; throws if an object or array is still open.
  const std::string& str() const {
    if (!stack_.empty()) raise("JsonWriter: ", stack_.size(), " object(s)/array(s) still open");
    return out_;
  }

 private:
  struct Frame {
    char close;
    bool first = true;
    bool after_key = false;
  };

  void separate() {
    Frame& f = stack_.back();
    if (!f.first) out_ += ',';
    f.first = false;
  }

  JsonWriter& open(char c, char close_char) {
    raw(std::string(1, c));
    stack_.push_back(Frame{close_char});
    return *this;
  }

  JsonWriter& close(char c) {
    if (stack_.empty() || stack_.back().close != c || stack_.back().after_key) {
      raise("JsonWriter: unbalanced '", c, "'");
    }
    stack_.pop_back();
    out_ += c;
    return *this;
  }

  std::string out_;
  std::vector<Frame> stack_;
};

}  // namespace eigenq
