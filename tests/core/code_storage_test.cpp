#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/packing.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace {

template <class Code>
std::vector<Code> random_codes(eigenq::Index n, int bits, unsigned seed) {
  const eigenq::CodeRange r = eigenq::range_for_bits<Code>(bits);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(r.qmin, r.qmax);
  std::vector<Code> codes(static_cast<std::size_t>(n));
  for (auto& c : codes) c = static_cast<Code>(dist(rng));
  if (n > 1) {  // both ends of the range appear
    codes[0] = static_cast<Code>(r.qmin);
    codes[1] = static_cast<Code>(r.qmax);
  }
  return codes;
}

template <class Code>
void check_round_trip(int max_bits) {
  for (int bits = 2; bits <= max_bits; ++bits) {
    for (eigenq::Index n : {1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 1001}) {
      const auto codes = random_codes<Code>(n, bits, static_cast<unsigned>(bits * 1000 + n));
      const eigenq::CodeStorage<Code> s(codes.data(), n, bits);
      EXPECT_EQ(s.size(), n);
      const std::size_t expected_bytes =
          bits <= 4 ? static_cast<std::size_t>(eigenq::packed_bytes(n, bits))
                    : static_cast<std::size_t>(n) * sizeof(Code);
      EXPECT_EQ(s.bytes(), expected_bytes);
      EXPECT_EQ(s.unpacked(), codes) << "bits " << bits << " n " << n;
      for (eigenq::Index i = 0; i < n; ++i) ASSERT_EQ(s[i], codes[static_cast<std::size_t>(i)]);
    }
  }
}

TEST(CodeStorage, RoundTripsEveryWidth) {
  check_round_trip<std::int8_t>(8);
  check_round_trip<std::uint8_t>(8);
  check_round_trip<std::int16_t>(16);
  check_round_trip<std::uint16_t>(16);
}

TEST(CodeStorage, TrueSizes) {
  std::vector<std::int8_t> codes(101, 1);
  EXPECT_EQ(eigenq::CodeStorage<std::int8_t>(codes.data(), 101, 2).bytes(), 26u);  // 4 per byte
  EXPECT_EQ(eigenq::CodeStorage<std::int8_t>(codes.data(), 101, 3).bytes(), 38u);  // 303 bits
  EXPECT_EQ(eigenq::CodeStorage<std::int8_t>(codes.data(), 101, 4).bytes(), 51u);
  EXPECT_EQ(eigenq::CodeStorage<std::int8_t>(codes.data(), 101, 8).bytes(), 101u);
  std::vector<std::int16_t> wide(101, 1);
  EXPECT_EQ(eigenq::CodeStorage<std::int16_t>(wide.data(), 101, 12).bytes(), 202u);
}

TEST(Packing, LowNibbleFirstTwosComplement) {
  const std::int8_t codes[5] = {1, -2, 7, -8, 3};
  std::uint8_t out[3] = {0xAA, 0xAA, 0xAA};
  eigenq::pack_int4(codes, 5, out);
  EXPECT_EQ(out[0], 0xE1);  // low nibble 1, high nibble -2 = 0xE
  EXPECT_EQ(out[1], 0x87);  // 7 then -8
  EXPECT_EQ(out[2], 0x03);  // a lone last code, high nibble zero
  std::int8_t back[5];
  eigenq::unpack_int4(out, 5, back);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(back[i], codes[i]);
}

TEST(Packing, TwoBitFourPerByte) {
  const std::uint8_t codes[6] = {0, 1, 2, 3, 3, 2};
  std::uint8_t out[2];
  eigenq::pack_codes(codes, 6, 2, out);
  EXPECT_EQ(out[0], 0xE4);  // 0 | 1<<2 | 2<<4 | 3<<6
  EXPECT_EQ(out[1], 0x0B);  // 3 | 2<<2
  const std::int8_t s[4] = {-2, -1, 0, 1};
  eigenq::pack_codes(s, 4, 2, out);
  EXPECT_EQ(out[0], 0x4E);  // 2 | 3<<2 | 0<<4 | 1<<6
  std::int8_t back[4];
  eigenq::unpack_codes(out, 4, 2, back);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(back[i], s[i]);
}

TEST(Packing, ThreeBitCodesFormOneBitStream) {
  const std::uint8_t codes[8] = {1, 2, 3, 4, 5, 6, 7, 0};
  std::uint8_t out[3];
  eigenq::pack_codes(codes, 8, 3, out);
  EXPECT_EQ(out[0], 0xD1);  // 1 | 2<<3 | (3 & 3)<<6
  EXPECT_EQ(out[1], 0x58);  // the rest of 3, then 4, 5, the low bit of 6
  EXPECT_EQ(out[2], 0x1F);
  const std::int8_t s[3] = {-4, 3, -1};
  std::uint8_t so[2] = {0xFF, 0xFF};
  eigenq::pack_codes(s, 3, 3, so);
  EXPECT_EQ(so[0], 0xDC);
  EXPECT_EQ(so[1], 0x01);  // unused high bits zero
  std::int8_t back[3];
  eigenq::unpack_codes(so, 3, 3, back);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(back[i], s[i]);
  EXPECT_EQ(eigenq::packed_bytes(8, 3), 3);
  EXPECT_EQ(eigenq::packed_bytes(9, 3), 4);
  EXPECT_EQ(eigenq::packed_bytes(3, 3), 2);
}

TEST(CodeStorage, RejectsBadWidthsAndBuffers) {
  std::vector<std::int8_t> codes(4, 0);
  EXPECT_THROW(eigenq::CodeStorage<std::int8_t>(codes.data(), 4, 1), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::CodeStorage<std::int8_t>(codes.data(), 4, 9), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::CodeStorage<std::int8_t>::from_packed(std::vector<std::uint8_t>(3), 4, 4),
               eigenq::FormatError);
  const auto ok = eigenq::CodeStorage<std::int8_t>::from_packed({0x21, 0x43}, 4, 4);
  EXPECT_EQ(ok.unpacked(), (std::vector<std::int8_t>{1, 2, 3, 4}));
  EXPECT_THROW(ok.data(), eigenq::InvalidArgument);  // packed codes have no int8 view
}

}  // namespace
