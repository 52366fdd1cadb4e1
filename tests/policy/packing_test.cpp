// Packed sub-byte codes under every policy: 2-bit codes four to a byte, 3- and
// 4-bit codes two to a byte, lowest bits first (include/eigenq/core/packing.hpp,
// core/code_storage.hpp), and QTensor::storage_bytes() as the true size.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "eigenq/core/code_storage.hpp"
#include "eigenq/core/packing.hpp"
#include "eigenq/quantizer/qtensor.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/quantizer/quantizer.hpp"
#include "policy_test_util.hpp"

namespace {

using eigenq::Granularity;
using eigenq::Index;
using eigenq::Shape;
using eigenq_test::Distribution;

// The documented byte layout, computed here from the codes.
template <class Code>
std::vector<std::uint8_t> reference_pack(const std::vector<Code>& codes, int field) {
  // The documented layout, bit by bit: code i's bit b is stream bit i*field + b.
  std::vector<std::uint8_t> bytes((codes.size() * static_cast<std::size_t>(field) + 7) / 8, 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const unsigned v = static_cast<unsigned>(static_cast<int>(codes[i])) & ((1u << field) - 1u);
    for (int b = 0; b < field; ++b) {
      const std::size_t bit = i * static_cast<std::size_t>(field) + static_cast<std::size_t>(b);
      if ((v >> b) & 1u) bytes[bit / 8] = static_cast<std::uint8_t>(bytes[bit / 8] | (1u << (bit % 8)));
    }
  }
  return bytes;
}

template <class Policy>
void check_storage(const Policy& policy, Distribution d, Granularity g, Shape shape, std::uint64_t seed) {
  using Code = typename Policy::code_type;
  const Index n = eigenq::element_count(shape);
  const std::vector<float> data = eigenq_test::sample(d, static_cast<std::size_t>(n), seed);
  const eigenq::Quantizer<Policy, Granularity> q(policy, g);
  const auto qt = eigenq_test::quantize_shaped(q, data, shape);
  const int bits = policy.bits();
  const std::string what = policy.name() + " bits " + std::to_string(bits) + " n " + std::to_string(n);

  // The codes the policy gives element by element.
  std::vector<Code> expected(static_cast<std::size_t>(n));
  std::size_t param_bytes = 0;
  for (const auto& p : qt.params()) param_bytes += policy.param_bytes(p);
  qt.layout().for_each([&](Index flat, Index pi) {
    expected[static_cast<std::size_t>(flat)] =
        policy.quantize(data[static_cast<std::size_t>(flat)], qt.params()[static_cast<std::size_t>(pi)]);
  });

  ASSERT_EQ(qt.bits(), bits) << what;
  ASSERT_EQ(qt.codes().is_packed(), bits <= 4) << what;
  ASSERT_EQ(qt.unpacked_codes(), expected) << what;
  for (Index i = 0; i < n; ++i) ASSERT_EQ(qt.code(i), expected[static_cast<std::size_t>(i)]) << what << " i " << i;

  if (bits <= 4) {
    const int field = bits;  // 2, 3 or 4 bits per code
    // Every code fits its field (two's complement for signed code types).
    for (Code c : expected) {
      if (std::is_signed_v<Code>) {
        ASSERT_GE(int{c}, -(1 << (field - 1))) << what;
        ASSERT_LT(int{c}, 1 << (field - 1)) << what;
      } else {
        ASSERT_LT(int{c}, 1 << field) << what;
      }
    }
    const std::vector<std::uint8_t> bytes = reference_pack(expected, field);
    const std::vector<std::uint8_t> stored(qt.codes().packed_data(), qt.codes().packed_data() + qt.codes().bytes());
    ASSERT_EQ(stored, bytes) << what;
    ASSERT_EQ(qt.storage_bytes(), bytes.size() + param_bytes) << what;
    // As if read back from a file: same codes, same values.
    auto reread = eigenq::CodeStorage<Code>::from_packed(bytes, n, bits);
    ASSERT_EQ(reread.unpacked(), expected) << what;
    const eigenq::QTensor<Policy> back(policy, shape, qt.granularity(), qt.params(), std::move(reread));
    ASSERT_EQ(back.dequantize_flat(), qt.dequantize_flat()) << what;
  } else {
    ASSERT_EQ(qt.storage_bytes(), static_cast<std::size_t>(n) * sizeof(Code) + param_bytes) << what;
  }
  const auto deq = qt.dequantize_flat();
  qt.layout().for_each([&](Index flat, Index pi) {
    ASSERT_EQ(deq[static_cast<std::size_t>(flat)],
              policy.dequantize(expected[static_cast<std::size_t>(flat)], qt.params()[static_cast<std::size_t>(pi)]))
        << what;
  });
}

// Odd sizes leave partly filled last bytes.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s{{1}, {3}, {5, 7}, {4, 9}, {2, 3, 11}, {64, 33}};
  return s;
}

const std::vector<Granularity>& granularities() {
  static const std::vector<Granularity> g{Granularity(eigenq::PerTensor{}), Granularity(eigenq::PerChannel{0}),
                                          Granularity(eigenq::PerGroup{-1, 4})};
  return g;
}

template <class MakePolicy>
void for_all(MakePolicy make, std::initializer_list<int> bit_widths, Distribution d) {
  std::uint64_t seed = 1;
  for (int bits : bit_widths) {
    for (const auto& shape : shapes()) {
      for (const auto& g : granularities()) {
        check_storage(make(bits), d, g, shape, seed++);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(PackedCodes, LinearAffineAndSymmetric) {
  for_all([](int b) { return eigenq::Linear<std::int8_t>::affine().with_bits(b); }, {2, 3, 4, 5, 8}, Distribution::gaussian);
  for_all([](int b) { return eigenq::Linear<std::uint8_t>::affine().with_bits(b); }, {2, 3, 4, 8}, Distribution::uniform);
  for_all([](int b) { return eigenq::Linear<std::int8_t>::symmetric().with_bits(b); }, {2, 3, 4}, Distribution::laplacian);
  for_all([](int b) { return eigenq::Linear<std::int16_t>::symmetric().with_bits(b); }, {2, 4, 12, 16}, Distribution::gaussian);
}
TEST(PackedCodes, LinearRealOffset) {
  for_all([](int b) { return eigenq::LinearRealOffset<std::uint8_t>().with_bits(b); }, {2, 3, 4, 6}, Distribution::gaussian);
}
TEST(PackedCodes, Log) {
  for_all([](int b) { return eigenq::Log<std::uint8_t>().with_bits(b); }, {2, 3, 4, 8}, Distribution::lognormal);
  for_all([](int b) { return eigenq::Log<std::int8_t>().with_bits(b); }, {2, 3, 4}, Distribution::lognormal);
  for_all([](int b) { return eigenq::Log<std::uint16_t>().with_bits(b); }, {4, 16}, Distribution::lognormal);
}
TEST(PackedCodes, LogSigned) {
  for_all([](int b) { return eigenq::LogSigned<std::int8_t>().with_bits(b); }, {2, 3, 4, 7}, Distribution::laplacian);
  for_all([](int b) { return eigenq::LogSigned<std::int16_t>().with_bits(b); }, {3, 4, 10}, Distribution::gaussian);
}
TEST(PackedCodes, Log2) {
  for_all([](int b) { return eigenq::Log2<std::int8_t>().with_bits(b); }, {2, 3, 4, 8}, Distribution::gaussian);
}
TEST(PackedCodes, Exp) {
  for_all([](int b) { return eigenq::Exp<std::uint8_t>().with_bits(b); }, {2, 3, 4, 8}, Distribution::uniform);
  for_all([](int b) { return eigenq::Exp<std::int8_t>().with_bits(b); }, {3, 4}, Distribution::gaussian);
}
TEST(PackedCodes, Codebook) {
  for_all([](int b) { return eigenq::Codebook<std::uint8_t>().with_bits(b); }, {2, 3, 4, 5}, Distribution::gaussian);
  for_all([](int b) { return eigenq::Codebook<std::int8_t>().with_bits(b); }, {2, 3, 4}, Distribution::laplacian);
}

TEST(PackedCodes, TwoBitCodebookByteLayout) {
  // Four distinct values, k = 4: codes are their ranks; four codes per byte, lowest bits first.
  eigenq_test::RowMatrix w(1, 6);
  w << -1.0f, 0.0f, 1.0f, 2.0f, 2.0f, 1.0f;  // codes 0 1 2 3 3 2
  const auto qt = eigenq::quantize(w, eigenq::Codebook<std::uint8_t>().with_bits(2));
  ASSERT_TRUE(qt.codes().is_packed());
  ASSERT_EQ(qt.codes().bytes(), 2u);
  EXPECT_EQ(qt.codes().packed_data()[0], 0xE4);  // 0 | 1<<2 | 2<<4 | 3<<6
  EXPECT_EQ(qt.codes().packed_data()[1], 0x0B);  // 3 | 2<<2, unused fields zero
  EXPECT_EQ(qt.storage_bytes(), 2u + 4 * sizeof(float));
}

TEST(PackedCodes, SignedLogNibbles) {
  // 4-bit sign + magnitude codes are two's complement nibbles: -7 is 0x9.
  eigenq_test::RowMatrix w(1, 3);
  w << -1.0f, 1.0f, 0.0f;
  const auto qt = eigenq::quantize(w, eigenq::LogSigned<std::int8_t>().with_bits(4));
  EXPECT_EQ(qt.unpacked_codes(), (std::vector<std::int8_t>{-7, 7, 0}));
  EXPECT_EQ(qt.codes().packed_data()[0], 0x79);
  EXPECT_EQ(qt.codes().packed_data()[1], 0x00);
}

TEST(PackedCodes, FromPackedRejectsBadSizes) {
  // Widths the packed format does not have, and negative counts, are errors, not
  // a storage object with nonsense size.
  EXPECT_THROW(eigenq::CodeStorage<std::uint8_t>::from_packed({0x12}, 2, 0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::CodeStorage<std::uint8_t>::from_packed({0x12}, 2, -4), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::CodeStorage<std::uint8_t>::from_packed({}, -1, 4), eigenq::Error);
  EXPECT_THROW(eigenq::CodeStorage<std::uint8_t>::from_packed({0x12}, 2, 8), eigenq::InvalidArgument);
}

}  // namespace
