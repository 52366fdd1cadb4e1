#include "eigenq/analysis/json_writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace {

using eigenq::JsonWriter;

TEST(JsonWriter, EscapesPerRfc8259) {
  EXPECT_EQ(JsonWriter::quote("plain"), "\"plain\"");
  EXPECT_EQ(JsonWriter::quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonWriter::quote("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(JsonWriter::quote(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(JsonWriter::quote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(JsonWriter::quote("caf\xc3\xa9 /"), "\"caf\xc3\xa9 /\"");  // UTF-8 and '/' pass through
}

TEST(JsonWriter, NumbersRoundTripAndNonFiniteIsNull) {
  EXPECT_EQ(JsonWriter::number(0.0), "0");
  EXPECT_EQ(JsonWriter::number(-0.0), "0");
  EXPECT_EQ(JsonWriter::number(1.5), "1.5");
  EXPECT_EQ(JsonWriter::number(-2.0), "-2");
  EXPECT_EQ(std::stod(JsonWriter::number(0.1)), 0.1);
  EXPECT_EQ(std::stod(JsonWriter::number(1.0 / 3.0)), 1.0 / 3.0);
  EXPECT_EQ(std::stod(JsonWriter::number(1e-300)), 1e-300);
  EXPECT_EQ(JsonWriter::number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(JsonWriter::number(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(JsonWriter::number(std::nan("")), "null");
}

TEST(JsonWriter, NestsObjectsAndArrays) {
  JsonWriter w;
  w.begin_object()
      .key("a").value(1)
      .key("b").begin_array().value(true).null().value("x").begin_object().end_object().end_array()
      .key("c").value(2.5f)
      .key("d").begin_array().end_array()
      .end_object();
  EXPECT_EQ(w.str(), "{\"a\":1,\"b\":[true,null,\"x\",{}],\"c\":2.5,\"d\":[]}");
}

TEST(JsonWriter, RejectsMalformedUse) {
  JsonWriter w;
  w.begin_object();
  EXPECT_THROW(w.value(1), eigenq::Error);      // value without a key
  EXPECT_THROW(w.end_array(), eigenq::Error);   // wrong closer
  EXPECT_THROW(w.str(), eigenq::Error);         // still open
  w.key("k");
  EXPECT_THROW(w.key("k2"), eigenq::Error);     // two keys in a row
  EXPECT_THROW(w.end_object(), eigenq::Error);  // key without value
  JsonWriter a;
  a.begin_array();
  EXPECT_THROW(a.key("k"), eigenq::Error);      // key in an array
  JsonWriter top;
  top.value(1);
  EXPECT_THROW(top.value(2), eigenq::Error);    // two top-level values
}

}  // namespace

// Cross-check with an independent JSON parser when one is installed (a test-only dependency;
// the library itself needs none).
#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>

namespace {

TEST(JsonWriter, ParsesWithNlohmannJson) {
  std::string all_bytes;
  for (int c = 1; c < 128; ++c) all_bytes += static_cast<char>(c);
  all_bytes += "\xc3\xa9\xe2\x82\xac";  // UTF-8 multi-byte sequences
  JsonWriter w;
  w.begin_object()
      .key(all_bytes).value(all_bytes)
      .key("numbers").begin_array().value(0.1).value(-1e-300).value(123456789.125).value(1e300).end_array()
      .key("inf").value(std::numeric_limits<double>::infinity())
      .key("nested").begin_object().key("a").begin_array().begin_array().end_array().end_array().end_object()
      .end_object();
  const auto j = nlohmann::json::parse(w.str());
  EXPECT_EQ(j.at(all_bytes).get<std::string>(), all_bytes);
  EXPECT_EQ(j.at("numbers")[0].get<double>(), 0.1);
  EXPECT_EQ(j.at("numbers")[1].get<double>(), -1e-300);
  EXPECT_EQ(j.at("numbers")[2].get<double>(), 123456789.125);
  EXPECT_EQ(j.at("numbers")[3].get<double>(), 1e300);
  EXPECT_TRUE(j.at("inf").is_null());
  EXPECT_TRUE(j.at("nested").at("a")[0].is_array());
}

}  // namespace
#endif
