// eigenq's ggml block types against ggml itself, on fresh random rows.
// Runs only when EIGENQ_GGML_LIB_DIR names the folder holding libggml-base.so
// (see tests/ggml/README.md); otherwise every case is skipped. ctest label ggml-oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "eigenq/ggml/row.hpp"
#include "eigenq/ggml/mul_mat.hpp"
#include "ggml_cpu.hpp"
#include "ggml_oracle.hpp"
#include "ggml_test_data.hpp"

namespace {

namespace gg = eigenq::ggml;
using eigenq::Index;
using eigenq_test::GgmlOracle;
using eigenq_test::SplitMix64;

const GgmlOracle* oracle() {
  static std::unique_ptr<GgmlOracle> instance;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    const char* dir = std::getenv("EIGENQ_GGML_LIB_DIR");
    if (dir != nullptr && *dir != '\0') {
      instance = GgmlOracle::open(dir, &error);
      if (!instance) ADD_FAILURE() << "EIGENQ_GGML_LIB_DIR is set but the oracle cannot be used: " << error;
    }
  }
  return instance.get();
}

#define REQUIRE_ORACLE()                                                                                   \
  const GgmlOracle* ggml = oracle();                                                                     \
  if (ggml == nullptr) {                                                                                 \
    GTEST_SKIP() << "ggml oracle not available: set EIGENQ_GGML_LIB_DIR to the folder with "             \
                    "libggml-base.so (node_modules/@node-llama-cpp/linux-x64/bins/linux-x64)";             \
  }

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

bool same_floats(const float* a, const float* b, Index n) { return std::memcmp(a, b, static_cast<std::size_t>(n) * 4) == 0; }

TEST(GgmlOracle, TypeTableMatchesGgml) {
  REQUIRE_ORACLE();
  for (int v = 0; v < gg::kTypeValueEnd; ++v) {
    const GgmlOracle::TypeTraits* t = ggml->traits(v);
    const bool removed = t->blck_size == 0;
    ASSERT_EQ(gg::is_known_type_value(v), !removed) << "type value " << v << " (" << t->type_name << ")";
    if (removed) continue;
    const gg::Type type = gg::type_from_value(v);
    EXPECT_STREQ(gg::type_name(type), t->type_name) << v;
    EXPECT_EQ(gg::block_size(type), t->blck_size) << t->type_name;
    EXPECT_EQ(gg::type_size(type), static_cast<Index>(t->type_size)) << t->type_name;
    EXPECT_EQ(gg::is_quantized(type), t->is_quantized) << t->type_name;
    EXPECT_EQ(gg::requires_importance(type), ggml->requires_imatrix(v)) << t->type_name;
    EXPECT_EQ(gg::row_size(type, 3 * t->blck_size), static_cast<Index>(ggml->row_size(v, 3 * t->blck_size)));
    EXPECT_EQ(gg::type_from_name(t->type_name), type);
  }
}

TEST(GgmlOracle, HalfAndBfloatConversionsMatchGgml) {
  REQUIRE_ORACLE();
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float ours = gg::fp16_to_fp32(static_cast<std::uint16_t>(h));
    const float theirs = ggml->fp16_to_fp32(static_cast<std::uint16_t>(h));
    ASSERT_EQ(bits(ours), bits(theirs)) << "half 0x" << std::hex << h;
  }
  // Every float bit pattern with EIGENQ_GGML_EXHAUSTIVE=1 (about a minute), else every 61st
  // (70 million, boundaries of every exponent included through the stride's spread).
  const char* all = std::getenv("EIGENQ_GGML_EXHAUSTIVE");
  const std::uint64_t stride = (all != nullptr && std::strcmp(all, "1") == 0) ? 1 : 61;
  std::uint64_t checked = 0;
  for (std::uint64_t u = 0; u <= 0xFFFFFFFFull; u += stride) {
    float x;
    const auto w = static_cast<std::uint32_t>(u);
    std::memcpy(&x, &w, 4);
    const std::uint16_t a = gg::fp32_to_fp16(x), b = ggml->fp32_to_fp16(x);
    if (a != b) FAIL() << "fp32_to_fp16(0x" << std::hex << w << "): ours 0x" << a << ", ggml 0x" << b;
    const std::uint16_t c = gg::fp32_to_bf16(x), d = ggml->fp32_to_bf16(x);
    if (c != d) FAIL() << "fp32_to_bf16(0x" << std::hex << w << "): ours 0x" << c << ", ggml 0x" << d;
    ++checked;
  }
  std::printf("[ oracle   ] fp32 -> fp16 and bf16: %" PRIu64 " bit patterns identical (stride %" PRIu64 ")\n",
              checked, stride);
}

struct Tally {
  long rows_plain = 0, same_plain = 0, rows_imp = 0, same_imp = 0;
  long floats_diff = 0;  // rows whose dequantized floats differ although the bytes agree
};

// Fresh rows per type: batches of 40 rows of 1-3 blocks, each row a random kind,
// half the batches with a fresh importance vector. Counts rows whose bytes and
// dequantized floats are both identical to ggml's.
TEST(GgmlOracle, QuantizeRowsMatchGgml) {
  REQUIRE_ORACLE();
  const char* env_rows = std::getenv("EIGENQ_GGML_ORACLE_ROWS");
  const long rows_per_type = env_rows != nullptr ? std::atol(env_rows) : 100000;
  constexpr int kBatch = 40;
  std::printf("[ oracle   ] %-7s %12s %12s %12s %12s\n", "type", "rows plain", "identical", "rows imp.", "identical");
  SplitMix64 rng(0x6767'6d6c'0000'0001ull);
  for (const gg::Type type : gg::supported_types()) {
    const int v = static_cast<int>(type);
    const Index block = gg::block_size(type) == 1 ? 32 : gg::block_size(type);
    Tally t;
    std::vector<float> x, w, y_ours, y_theirs;
    std::vector<std::uint8_t> q_ours, q_theirs;
    long first_failures = 0;
    for (long done = 0; done < rows_per_type; done += kBatch) {
      const int r = rng.below(20);
      const Index n = block * (r < 12 ? 1 : r < 17 ? 2 : 3);
      const bool with_importance = (done / kBatch) % 2 == 1;
      x.resize(static_cast<std::size_t>(kBatch * n));
      for (int row = 0; row < kBatch; ++row) {
        const auto kind = eigenq_test::kAllRowKinds[rng.below(std::size(eigenq_test::kAllRowKinds))];
        eigenq_test::fill_row(kind, rng, x.data() + row * n, static_cast<int>(n));
      }
      w.resize(static_cast<std::size_t>(n));
      if (with_importance) eigenq_test::fill_importance(rng, w.data(), static_cast<int>(n));
      const float* qw = with_importance ? w.data() : nullptr;
      const Index bytes = gg::row_size(type, n);
      q_ours.assign(static_cast<std::size_t>(kBatch * bytes), 0xAB);
      q_theirs.assign(static_cast<std::size_t>(kBatch * bytes), 0xCD);
      gg::quantize_rows(type, x.data(), q_ours.data(), kBatch, n, qw);
      ggml->quantize(v, x.data(), q_theirs.data(), kBatch, n, qw);
      y_ours.resize(static_cast<std::size_t>(n));
      y_theirs.resize(static_cast<std::size_t>(n));
      for (int row = 0; row < kBatch; ++row) {
        const std::uint8_t* qa = q_ours.data() + row * bytes;
        const std::uint8_t* qb = q_theirs.data() + row * bytes;
        gg::dequantize_row(type, qa, y_ours.data(), n);
        ggml->to_float(v, qb, y_theirs.data(), n);
        const bool same_bytes = std::memcmp(qa, qb, static_cast<std::size_t>(bytes)) == 0;
        const bool same_y = same_floats(y_ours.data(), y_theirs.data(), n);
        if (same_bytes && !same_y) ++t.floats_diff;
        (with_importance ? t.rows_imp : t.rows_plain) += 1;
        (with_importance ? t.same_imp : t.same_plain) += (same_bytes && same_y) ? 1 : 0;
        if (!(same_bytes && same_y) && first_failures++ < 3) {
          Index at = 0;
          while (at < bytes && qa[at] == qb[at]) ++at;
          ADD_FAILURE() << gg::type_name(type) << " n=" << n << (with_importance ? " with" : " without")
                        << " importance: " << (same_bytes ? "dequantized floats differ" : "bytes differ")
                        << (same_bytes ? "" : " first at byte " + std::to_string(at)) << "; row starts with "
                        << x[static_cast<std::size_t>(row * n)];
        }
      }
    }
    std::printf("[ oracle   ] %-7s %12ld %12ld %12ld %12ld%s\n", gg::type_name(type), t.rows_plain, t.same_plain,
                t.rows_imp, t.same_imp, gg::uses_importance(type) ? "" : "  (importance ignored, by ggml too)");
    EXPECT_EQ(t.same_plain, t.rows_plain) << gg::type_name(type);
    EXPECT_EQ(t.same_imp, t.rows_imp) << gg::type_name(type);
    EXPECT_EQ(t.floats_diff, 0) << gg::type_name(type);
  }
}

// Rows holding infinities, FLT_MAX and NaNs. ggml makes garbage of them, but
// deterministic garbage, and eigenq reproduces it without undefined behaviour:
// rows with infinities and FLT_MAX bit for bit. Where a row holds NaNs of both
// signs, which NaN an addition passes on depends on the compiler's operand
// order (C leaves it open), so a NaN scale may differ in its sign bit: there
// the dequantized rows must agree with NaN matching NaN, and the count of
// byte-identical rows is printed.
TEST(GgmlOracle, NonFiniteRowsMatchGgml) {
  REQUIRE_ORACLE();
  SplitMix64 rng(0x6767'6d6c'0000'0003ull);
  const float inf = std::numeric_limits<float>::infinity(), big = std::numeric_limits<float>::max();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {inf, -inf, big, -big, nan, -nan};
  for (const gg::Type type : gg::supported_types()) {
    const int v = static_cast<int>(type);
    const Index n = gg::block_size(type) == 1 ? 32 : gg::block_size(type);
    const Index bytes = gg::row_size(type, n);
    std::vector<float> x(static_cast<std::size_t>(n)), w(static_cast<std::size_t>(n)), ya(x.size()), yb(x.size());
    std::vector<std::uint8_t> a(static_cast<std::size_t>(bytes)), b(a.size());
    long rows_inf = 0, same_inf = 0, rows_nan = 0, same_nan_bytes = 0, same_nan_values = 0;
    for (int rep = 0; rep < 4000; ++rep) {
      const bool with_nan = rep % 4 >= 2;
      eigenq_test::fill_row(eigenq_test::RowKind::gaussian, rng, x.data(), static_cast<int>(n));
      const int count = 1 + rng.below(3);
      for (int c = 0; c < count; ++c) {
        x[static_cast<std::size_t>(rng.below(static_cast<int>(n)))] = specials[rng.below(with_nan ? 6 : 4)];
      }
      eigenq_test::fill_importance(rng, w.data(), static_cast<int>(n));
      const float* qw = rep % 2 ? w.data() : nullptr;
      gg::quantize_rows(type, x.data(), a.data(), 1, n, qw);
      ggml->quantize(v, x.data(), b.data(), 1, n, qw);
      gg::dequantize_row(type, a.data(), ya.data(), n);
      ggml->to_float(v, b.data(), yb.data(), n);
      const bool same_bytes = a == b;
      bool same_bits = true, same_values = true;
      for (Index i = 0; i < n; ++i) {
        same_bits = same_bits && bits(ya[i]) == bits(yb[i]);
        same_values = same_values && (bits(ya[i]) == bits(yb[i]) || (std::isnan(ya[i]) && std::isnan(yb[i])));
      }
      if (!with_nan) {
        ++rows_inf;
        same_inf += (same_bytes && same_bits) ? 1 : 0;
      } else {
        ++rows_nan;
        same_nan_bytes += same_bytes ? 1 : 0;
        same_nan_values += same_values ? 1 : 0;
      }
    }
    std::printf("[ oracle   ] %-7s inf/FLT_MAX rows: %ld of %ld identical; NaN rows: %ld of %ld byte-identical, "
                "%ld dequantize alike\n",
                gg::type_name(type), same_inf, rows_inf, same_nan_bytes, rows_nan, same_nan_values);
    EXPECT_EQ(same_inf, rows_inf) << gg::type_name(type);
    EXPECT_EQ(same_nan_values, rows_nan) << gg::type_name(type);
  }
}

// The decoders on arbitrary bytes (NaN and infinite scales included): the
// same floats as ggml's to_float, a NaN wherever ggml has one.
TEST(GgmlOracle, DequantizeRandomBytesMatchesGgml) {
  REQUIRE_ORACLE();
  SplitMix64 rng(0x6767'6d6c'0000'0002ull);
  for (const gg::Type type : gg::supported_types()) {
    const int v = static_cast<int>(type);
    const Index n = gg::block_size(type) == 1 ? 256 : gg::block_size(type) * 4;
    const Index bytes = gg::row_size(type, n);
    std::vector<std::uint8_t> q(static_cast<std::size_t>(bytes));
    std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n));
    long values = 0, nan_pairs = 0;
    for (int rep = 0; rep < 2000; ++rep) {
      for (auto& byte : q) byte = static_cast<std::uint8_t>(rng.next() >> 56);
      gg::dequantize_row(type, q.data(), a.data(), n);
      ggml->to_float(v, q.data(), b.data(), n);
      for (Index i = 0; i < n; ++i) {
        if (std::isnan(a[i]) && std::isnan(b[i])) {
          ++nan_pairs;
          continue;
        }
        ASSERT_EQ(bits(a[i]), bits(b[i])) << gg::type_name(type) << " element " << i;
        ++values;
      }
    }
    std::printf("[ oracle   ] %-7s random blocks: %ld floats identical, %ld NaN in both\n", gg::type_name(type),
                values, nan_pairs);
  }
}

}  // namespace

// ---- products: eigenq's ggml::mul_mat against ggml_mul_mat on ggml's CPU backend ------------

namespace {

// The same per-block terms, summed in another order and with activation codes that may differ
// on exact ties: within 1e-5 of the sum of |terms| (measured: 3e-8 to 4e-8 on these rows).
TEST(GgmlOracle, MulMatAgreesWithGgmlsCpuBackend) {
  const auto& cpu = eigenq_test::GgmlCpu::get();
  if (!cpu.ok()) GTEST_SKIP() << cpu.error();
  for (gg::Type type : {gg::Type::q4_0, gg::Type::q8_0, gg::Type::iq4_nl, gg::Type::q4_K, gg::Type::q6_K}) {
  for (Index m : {1, 4, 9}) {
    const Index n = 300, kk = 1024;
    SplitMix64 rng(static_cast<std::uint64_t>(m));
    std::vector<float> w(static_cast<std::size_t>(n * kk)), x(static_cast<std::size_t>(m * kk));
    for (float& v : w) v = 0.05f * static_cast<float>(rng.normal());
    for (float& v : x) v = static_cast<float>(rng.normal());
    std::vector<std::uint8_t> rows(static_cast<std::size_t>(n * gg::row_size(type, kk)));
    gg::quantize_rows(type, w.data(), rows.data(), n, kk, nullptr);
    const auto packed = gg::pack_weights(type, rows.data(), n, kk);
    std::vector<float> mine(static_cast<std::size_t>(m * n));
    gg::mul_mat(x.data(), m, kk, packed, nullptr, mine.data(), n);
    eigenq_test::GgmlCpu::MulMat theirs(cpu, static_cast<int>(type), rows.data(), n, kk, m);
    std::copy(x.begin(), x.end(), theirs.x());
    theirs.run();
    std::vector<float> decoded(static_cast<std::size_t>(kk));
    double worst = 0.0;
    for (Index r = 0; r < n; ++r) {
      gg::dequantize_row(type, rows.data() + r * gg::row_size(type, kk), decoded.data(), kk);
      for (Index i = 0; i < m; ++i) {
        double magnitude = 0.0;
        for (Index c = 0; c < kk; ++c) {
          magnitude += std::fabs(double(decoded[static_cast<std::size_t>(c)]) * x[static_cast<std::size_t>(i * kk + c)]);
        }
        const double diff = std::fabs(double(mine[static_cast<std::size_t>(i * n + r)]) - theirs.y()[i * n + r]);
        worst = std::max(worst, diff / magnitude);
      }
    }
    EXPECT_LT(worst, 1e-5) << m << " rows";
    std::printf("%s %lld x %lld x %lld: largest |eigenq - ggml| / sum |terms| = %.3g\n", gg::type_name(type),
                static_cast<long long>(m), static_cast<long long>(n), static_cast<long long>(kk), worst);
  }
  }
}

}  // namespace
