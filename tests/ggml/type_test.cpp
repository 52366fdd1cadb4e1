// eigenq/ggml/type.hpp: ggml's numbering, names, sizes and what is supported.
#include <gtest/gtest.h>

#include "eigenq/ggml/type.hpp"

namespace {

namespace gg = eigenq::ggml;

TEST(GgmlType, NumbersAndNamesAreGgmls) {
  EXPECT_EQ(static_cast<int>(gg::Type::q4_K), 12);
  EXPECT_EQ(static_cast<int>(gg::Type::bf16), 30);
  EXPECT_EQ(static_cast<int>(gg::Type::mxfp4), 39);
  EXPECT_STREQ(gg::type_name(gg::Type::q4_K), "q4_K");
  EXPECT_STREQ(gg::type_name(gg::Type::iq4_nl), "iq4_nl");
  EXPECT_EQ(gg::type_from_value(23), gg::Type::iq4_xs);
}

TEST(GgmlType, NamesParseInAnyLetterCase) {
  EXPECT_EQ(gg::type_from_name("q4_K"), gg::Type::q4_K);
  EXPECT_EQ(gg::type_from_name("Q4_K"), gg::Type::q4_K);
  EXPECT_EQ(gg::type_from_name("q4_k"), gg::Type::q4_K);
  EXPECT_EQ(gg::type_from_name("IQ4_NL"), gg::Type::iq4_nl);
  EXPECT_EQ(gg::type_from_name("BF16"), gg::Type::bf16);
  for (const gg::Type t : gg::supported_types()) EXPECT_EQ(gg::type_from_name(gg::type_name(t)), t);
}

TEST(GgmlType, UnknownNamesAndValuesAreNamedInTheError) {
  try {
    gg::type_from_name("q4_2");
    FAIL() << "no throw";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'q4_2'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gg::type_from_value(4), eigenq::InvalidArgument);   // removed q4_2
  EXPECT_THROW(gg::type_from_value(43), eigenq::InvalidArgument);  // past the end
  EXPECT_THROW(gg::type_from_value(-1), eigenq::InvalidArgument);
  EXPECT_THROW(gg::type_name(static_cast<gg::Type>(31)), eigenq::InvalidArgument);
}

TEST(GgmlType, BlockAndRowSizes) {
  EXPECT_EQ(gg::block_size(gg::Type::q8_0), 32);
  EXPECT_EQ(gg::type_size(gg::Type::q8_0), 34);
  EXPECT_EQ(gg::row_size(gg::Type::q4_K, 4096), 16 * 144);
  EXPECT_EQ(gg::row_size(gg::Type::nvfp4, 128), 72);
  EXPECT_EQ(gg::row_size(gg::Type::f16, 3), 6);
  try {
    gg::row_size(gg::Type::q6_K, 300);
    FAIL() << "no throw";
  } catch (const eigenq::InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("300"), std::string::npos) << what;
    EXPECT_NE(what.find("q6_K"), std::string::npos) << what;
    EXPECT_NE(what.find("256"), std::string::npos) << what;
  }
}

TEST(GgmlType, SupportAndImportance) {
  EXPECT_EQ(gg::supported_types().size(), 21u);  // the 19 of issue 12 plus q1_0 and q2_0
  EXPECT_TRUE(gg::is_supported(gg::Type::q2_K));
  EXPECT_FALSE(gg::is_supported(gg::Type::iq2_xxs));
  EXPECT_TRUE(gg::requires_importance(gg::Type::iq2_xxs));
  EXPECT_TRUE(gg::uses_importance(gg::Type::q4_0));
  EXPECT_FALSE(gg::uses_importance(gg::Type::q8_0));
  EXPECT_FALSE(gg::uses_importance(gg::Type::mxfp4));
  try {
    gg::require_supported(gg::Type::iq3_s);
    FAIL() << "no throw";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("iq3_s"), std::string::npos) << e.what();
  }
}

}  // namespace
