// Linear policies: the seed example, each profile's ranges and parameter
// choice on closed-form cases, rounding rules, and properties over random data.
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include "eigenq/policy/codebook.hpp"
#include "support/scoped_thread_pool.hpp"
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using eigenq::CodeRange;
using eigenq::Linear;
using eigenq::LinearRealOffset;
using eigenq::Profile;
using eigenq::Symmetry;

template <class Q>
std::vector<int> codes_of(const Q& q) {
  std::vector<int> out;
  for (auto c : q.unpacked_codes()) out.push_back(static_cast<int>(c));
  return out;
}

TEST(LinearRealOffset, ReproducesTheSeedWorkedExample) {
  // [-1, 1] onto [0, 255]: s = 127.5, 0.5 -> 191.25 -> 191.
  const LinearRealOffset<std::uint8_t> seed;
  const auto p = seed.fit(-1.0f, 1.0f);
  EXPECT_EQ(p.s, 127.5f);
  EXPECT_EQ(p.r_min, -1.0f);
  EXPECT_EQ(seed.quantize(0.5f, p), 191);
  Eigen::Vector3f v(-1.0f, 0.5f, 1.0f);
  const auto q = eigenq::quantize(v, seed);
  EXPECT_EQ(codes_of(q), (std::vector<int>{0, 191, 255}));
  // Dequantize inverts the formula: r = r_min + (q - q_min) / s.
  EXPECT_FLOAT_EQ(seed.dequantize(191, p), -1.0f + 191.0f / 127.5f);
}

TEST(LinearRealOffset, InferenceConventionGivesPyTorchsAnswer) {
  // CORRECTIONS.md: float32 arithmetic gives zero point 127 and [0, 191, 254].
  Eigen::Vector3f v(-1.0f, 0.5f, 1.0f);
  const auto q = eigenq::quantize(v, Linear<std::uint8_t>::affine());
  EXPECT_EQ(q.params()[0].zero_point, 127);
  EXPECT_EQ(q.params()[0].scale, 2.0f / 255.0f);
  EXPECT_EQ(codes_of(q), (std::vector<int>{0, 191, 254}));
}

TEST(LinearRealOffset, DegenerateRangeAndNonFinite) {
  const LinearRealOffset<std::uint8_t> seed;
  const auto p = seed.fit(3.0f, 3.0f);
  EXPECT_EQ(seed.quantize(3.0f, p), 0);
  EXPECT_EQ(seed.dequantize(0, p), 3.0f);
  const auto q = seed.fit(-1.0f, 1.0f);
  EXPECT_EQ(seed.quantize(std::numeric_limits<float>::infinity(), q), 255);
  EXPECT_EQ(seed.quantize(-std::numeric_limits<float>::infinity(), q), 0);
  EXPECT_EQ(seed.quantize(std::nanf(""), q), seed.quantize(0.0f, q));
  const auto four = LinearRealOffset<std::uint8_t>().with_bits(4);
  EXPECT_EQ(four.range(), (CodeRange{0, 15}));
  EXPECT_EQ(four.quantize(0.5f, four.fit(-1.0f, 1.0f)), 11);  // 7.5 * 1.5 = 11.25
}

TEST(Linear, RangesOfEachProfile) {
  EXPECT_EQ(Linear<std::int8_t>::affine().range(), (CodeRange{-128, 127}));
  EXPECT_EQ(Linear<std::int8_t>::symmetric().range(), (CodeRange{-128, 127}));
  EXPECT_EQ(Linear<std::uint8_t>::affine().range(), (CodeRange{0, 255}));
  EXPECT_EQ(Linear<std::int8_t>::symmetric(Profile::onnx).range(), (CodeRange{-127, 127}));
  EXPECT_EQ(Linear<std::int8_t>::symmetric(Profile::tflite).range(), (CodeRange{-127, 127}));
  EXPECT_EQ(Linear<std::int8_t>::affine(Profile::tflite).range(), (CodeRange{-128, 127}));
  EXPECT_EQ(Linear<std::int16_t>::symmetric(Profile::onnx).range(), (CodeRange{-32767, 32767}));
  // reduce_range: torch quant_min // 2, quant_max // 2; ORT int8 (-64, 64).
  EXPECT_EQ(Linear<std::int8_t>::affine().with_reduce_range().range(), (CodeRange{-64, 63}));
  EXPECT_EQ(Linear<std::uint8_t>::affine().with_reduce_range().range(), (CodeRange{0, 127}));
  EXPECT_EQ(Linear<std::int8_t>::symmetric(Profile::onnx).with_reduce_range().range(),
            (CodeRange{-64, 64}));
  EXPECT_EQ(Linear<std::uint8_t>::affine(Profile::onnx).with_reduce_range().range(),
            (CodeRange{0, 127}));
  // Narrow bit widths and custom ranges.
  EXPECT_EQ(Linear<std::int8_t>::symmetric().with_bits(4).range(), (CodeRange{-8, 7}));
  EXPECT_EQ(Linear<std::uint8_t>::affine().with_bits(4).range(), (CodeRange{0, 15}));
  EXPECT_EQ(Linear<std::int8_t>::affine().with_range(-127, 127).range(), (CodeRange{-127, 127}));
  EXPECT_EQ(Linear<std::int8_t>::symmetric().with_bits(4).bits(), 4);
  EXPECT_EQ(Linear<std::uint8_t>::affine().with_bits(3).bits(), 3);
  EXPECT_EQ(Linear<std::int16_t>::affine().bits(), 16);
}

TEST(Linear, BadRangesAndBits) {
  const std::string m = eigenq_test::message_of<eigenq::Error>([] { Linear<std::int8_t>::affine().with_range(-200, 10); });
  EXPECT_NE(m.find("-200"), std::string::npos) << m;
  EXPECT_NE(eigenq_test::message_of<eigenq::Error>([] { Linear<std::int8_t>::affine().with_range(5, 4); }).find("qmin = 5"),
            std::string::npos);
  EXPECT_THROW(Linear<std::uint8_t>::affine().with_range(0, 256), eigenq::InvalidArgument);
  EXPECT_NE(eigenq_test::message_of<eigenq::Error>([] { Linear<std::int8_t>::affine().with_bits(9); }).find("bits = 9"),
            std::string::npos);
  EXPECT_THROW(Linear<std::int8_t>::affine().with_bits(1), eigenq::InvalidArgument);
  EXPECT_THROW(Linear<std::int16_t>::affine().with_bits(17), eigenq::InvalidArgument);
}

TEST(Linear, PyTorchParametersClosedForm) {
  const auto sym = Linear<std::int8_t>::symmetric();
  EXPECT_EQ(sym.fit(-1.0f, 0.5f).scale, 1.0f / 127.5f);
  EXPECT_EQ(sym.fit(-1.0f, 0.5f).zero_point, 0);
  const auto usym = Linear<std::uint8_t>::symmetric();
  EXPECT_EQ(usym.fit(-2.0f, 1.0f).zero_point, 128);
  EXPECT_EQ(usym.fit(-2.0f, 1.0f).scale, 2.0f / 127.5f);
  // Custom range: torch picks the down-rounded midpoint for quint8 symmetric.
  EXPECT_EQ(Linear<std::uint8_t>::symmetric().with_range(0, 15).fit(-1.0f, 1.0f).zero_point, 7);
  // Affine: the range is widened to include 0.
  const auto aff = Linear<std::uint8_t>::affine();
  const auto pos = aff.fit(1.0f, 2.55f);
  EXPECT_EQ(pos.zero_point, 0);
  EXPECT_EQ(pos.scale, 2.55f / 255.0f);
  const auto neg = aff.fit(-2.55f, -1.0f);
  EXPECT_EQ(neg.zero_point, 255);
  // All zeros and tiny ranges: the scale is floored at float32 epsilon.
  const float eps = std::numeric_limits<float>::epsilon();
  EXPECT_EQ(aff.fit(0.0f, 0.0f).scale, eps);
  EXPECT_EQ(aff.fit(0.0f, 0.0f).zero_point, 0);
  EXPECT_EQ(Linear<std::int8_t>::affine().fit(0.0f, 0.0f).zero_point, -128);
  EXPECT_EQ(sym.fit(-1e-30f, 1e-30f).scale, eps);
}

TEST(Linear, OnnxParametersClosedForm) {
  // compute_scale_zp: float64 scale, numpy.round zero point.
  const auto u8 = Linear<std::uint8_t>::affine(Profile::onnx);
  const auto p = u8.fit(-1.0f, 1.0f);
  EXPECT_EQ(p.scale, static_cast<float>(2.0 / 255.0));
  EXPECT_EQ(p.zero_point, 128);  // round(127.5) to even in float64
  const auto s8 = Linear<std::int8_t>::symmetric(Profile::onnx);
  EXPECT_EQ(s8.fit(-0.5f, 1.0f).scale, static_cast<float>(2.0 / 254.0));
  EXPECT_EQ(s8.fit(-0.5f, 1.0f).zero_point, 0);
  EXPECT_EQ(Linear<std::uint8_t>::symmetric(Profile::onnx).fit(-0.5f, 1.0f).zero_point, 128);
  // A zero range gives scale 1, zero point 0 (ORT's tiny-scale rule).
  EXPECT_EQ(u8.fit(0.0f, 0.0f).scale, 1.0f);
  EXPECT_EQ(u8.fit(0.0f, 0.0f).zero_point, 0);
}

TEST(Linear, TfliteParametersClosedForm) {
  // ChooseQuantizationParams on [-1, 1] int8: scale 2/255, both zero-point
  // candidates are -0.5, the one from max has the smaller error; round half
  // away from zero gives -1.
  const auto p = Linear<std::int8_t>::affine(Profile::tflite).fit(-1.0f, 1.0f);
  EXPECT_EQ(p.scale, static_cast<float>(2.0 / 255.0));
  EXPECT_EQ(p.zero_point, -1);
  const auto w = Linear<std::int8_t>::symmetric(Profile::tflite).fit(-0.3f, 1.27f);
  EXPECT_EQ(w.scale, 1.27f / 127.0f);
  EXPECT_EQ(w.zero_point, 0);
  EXPECT_EQ(Linear<std::int8_t>::affine(Profile::tflite).fit(0.5f, 2.0f).zero_point, -128);
}

// Finds floats x and a scale where x * (1/scale) and x / scale round
// differently: the profiles must follow their own rule on them.
TEST(Linear, EachProfileRoundsItsOwnWay) {
  int checked = 0;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> sd(0.01f, 2.0f);
  for (int trial = 0; trial < 200000 && checked < 50; ++trial) {
    const float scale = sd(rng);
    const int k = static_cast<int>(rng() % 100) - 50;
    const float x = (static_cast<float>(k) + 0.5f) * scale;
    const float by_mul = x * (1.0f / scale);
    const float by_div = x / scale;
    if (std::nearbyint(by_mul) == std::nearbyint(by_div)) continue;
    const eigenq::LinearParams p{scale, 0};
    const auto torch = Linear<std::int8_t>::affine(Profile::pytorch);
    const auto onnx = Linear<std::int8_t>::affine(Profile::onnx);
    ASSERT_EQ(torch.quantize(x, p), static_cast<std::int8_t>(std::nearbyint(by_mul)));
    ASSERT_EQ(onnx.quantize(x, p), static_cast<std::int8_t>(std::nearbyint(by_div)));
    ++checked;
  }
  EXPECT_GE(checked, 10) << "found too few disagreeing ties to test";
  // Exact ties: PyTorch/ONNX to even, TFLite away from zero.
  const eigenq::LinearParams one{1.0f, 0};
  for (float x : {0.5f, 1.5f, 2.5f, -0.5f, -2.5f}) {
    EXPECT_EQ(Linear<std::int8_t>::affine().quantize(x, one), std::nearbyint(x));
    EXPECT_EQ(Linear<std::int8_t>::affine(Profile::onnx).quantize(x, one), std::nearbyint(x));
    EXPECT_EQ(Linear<std::int8_t>::affine(Profile::tflite).quantize(x, one), std::round(x));
  }
}

TEST(Linear, NonFiniteInputsSaturateOrMapToZeroPoint) {
  const float inf = std::numeric_limits<float>::infinity();
  for (Profile prof : {Profile::pytorch, Profile::onnx, Profile::tflite}) {
    const auto pol = Linear<std::uint8_t>::affine(prof);
    const eigenq::LinearParams p{0.1f, 37};
    EXPECT_EQ(pol.quantize(inf, p), 255);
    EXPECT_EQ(pol.quantize(-inf, p), 0);
    EXPECT_EQ(pol.quantize(std::nanf(""), p), 37);
    EXPECT_EQ(pol.quantize(1e38f, p), 255);
    EXPECT_EQ(pol.quantize(-1e38f, p), 0);
    EXPECT_EQ(pol.quantize(1e-40f, p), 37);  // a denormal is 0 steps away
  }
  // Custom ranges saturate at their own ends.
  const auto four = Linear<std::int8_t>::symmetric().with_bits(4);
  EXPECT_EQ(four.quantize(100.0f, {1.0f, 0}), 7);
  EXPECT_EQ(four.quantize(-100.0f, {1.0f, 0}), -8);
}

TEST(Linear, FitRejectsBadRanges) {
  const auto pol = Linear<std::int8_t>::affine();
  const std::string m = eigenq_test::message_of<eigenq::Error>([&] { pol.fit(2.0f, 1.0f); });
  EXPECT_NE(m.find("min = 2"), std::string::npos) << m;
  EXPECT_THROW(pol.fit(std::nanf(""), 1.0f), eigenq::NonFiniteError);
  EXPECT_THROW(pol.fit(0.0f, std::numeric_limits<float>::infinity()), eigenq::NonFiniteError);
}

// Properties over random shapes, seeds, profiles, symmetries and code types.
template <class Code>
void check_properties(Symmetry symmetry, Profile profile, unsigned seed) {
  std::mt19937 rng(seed);
  const int rows = 1 + static_cast<int>(rng() % 9);
  const int cols = 1 + static_cast<int>(rng() % 23);
  std::normal_distribution<float> nd(0.3f, 2.0f);
  Eigen::MatrixXf x(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) x(r, c) = nd(rng) * static_cast<float>(r + 1);
  const auto pol = Linear<Code>(symmetry, profile);
  const auto q = eigenq::quantize(x, pol, eigenq::PerChannel{0});
  const auto codes = q.unpacked_codes();
  const Eigen::MatrixXf back = eigenq::dequantize(q);
  for (int r = 0; r < rows; ++r) {
    const auto& p = q.params()[static_cast<std::size_t>(r)];
    for (int c = 0; c < cols; ++c) {
      // In range: error at most half a step, plus the float rounding of
      // x / scale and of the dequantized product (a few ulps of x).
      const float ulps = 4.0f * std::numeric_limits<float>::epsilon() * std::abs(x(r, c));
      ASSERT_LE(std::abs(back(r, c) - x(r, c)), 0.5f * p.scale + ulps)
          << "row " << r << " col " << c;
      // Codes are fixed points of quantize(dequantize(.)).
      const Code code = codes[static_cast<std::size_t>(r * cols + c)];
      ASSERT_EQ(pol.quantize(pol.dequantize(code, p), p), code);
    }
    // 0.0 is exact in the inference convention.
    ASSERT_EQ(pol.dequantize(pol.quantize(0.0f, p), p), 0.0f);
  }
  // Monotone in x.
  const auto p = q.params()[0];
  float prev_x = -10.0f;
  int prev_q = pol.quantize(prev_x, p);
  for (float v = -10.0f; v <= 10.0f; v += 0.01f) {
    const int qv = pol.quantize(v, p);
    ASSERT_GE(qv, prev_q) << v;
    prev_q = qv;
  }
}

TEST(Linear, PropertiesOverRandomData) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    for (Profile prof : {Profile::pytorch, Profile::onnx, Profile::tflite}) {
      for (Symmetry s : {Symmetry::affine, Symmetry::symmetric}) {
        check_properties<std::int8_t>(s, prof, seed);
        check_properties<std::uint8_t>(s, prof, seed);
        check_properties<std::int16_t>(s, prof, seed);
      }
    }
  }
}

TEST(Linear, GroupOfWholeAxisEqualsPerChannelOnTheOtherAxis) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(6, 40);
  const auto pol = Linear<std::int8_t>::symmetric();
  const auto per_row = eigenq::quantize(w, pol, eigenq::PerChannel{0});
  const auto grouped = eigenq::quantize(w, pol, eigenq::PerGroup{1, 40});
  EXPECT_EQ(per_row.unpacked_codes(), grouped.unpacked_codes());
  ASSERT_EQ(grouped.params().size(), 6u);
  for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(per_row.params()[k], grouped.params()[k]);
  // G = whole tensor on a vector equals per tensor.
  const Eigen::RowVectorXf v = w.row(0);
  EXPECT_EQ(eigenq::quantize(v, pol, eigenq::PerGroup{1, 40}).unpacked_codes(),
            eigenq::quantize(v, pol).unpacked_codes());
  // Groups with a partial last group: 40 = 16 + 16 + 8.
  const auto g16 = eigenq::quantize(w, pol, eigenq::PerGroup{1, 16});
  EXPECT_EQ(g16.params().size(), 18u);
  const Eigen::MatrixXf b16 = eigenq::dequantize(g16);
  const Eigen::MatrixXf brow = eigenq::dequantize(per_row);
  EXPECT_LE((b16 - w).squaredNorm(), (brow - w).squaredNorm());
}

TEST(Linear, FourBitCodesArePackedAndExact) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(8, 33);
  const auto pol = Linear<std::int8_t>::symmetric().with_bits(4);
  const auto q = eigenq::quantize(w, pol, eigenq::PerChannel{0});
  EXPECT_TRUE(q.codes().is_packed());
  EXPECT_EQ(q.storage_bytes(), (8u * 33u + 1u) / 2u + 8u * sizeof(float));
  for (auto c : q.unpacked_codes()) {
    ASSERT_GE(c, -8);
    ASSERT_LE(c, 7);
  }
  const Eigen::MatrixXf back = eigenq::dequantize(q);
  for (int r = 0; r < 8; ++r) {
    const float amax = w.row(r).cwiseAbs().maxCoeff();
    const float scale = amax / 7.5f;
    EXPECT_EQ(q.params()[static_cast<std::size_t>(r)].scale, scale);
    // Inside [-8 s, 7 s] the error is at most s/2; the clipped top end by less than s.
    EXPECT_LE((back.row(r) - w.row(r)).cwiseAbs().maxCoeff(), 0.5f * scale * 1.0001f + 0.5f * scale);
  }
}

TEST(Quantizer, ErrorsNameWhatAndWhere) {
  Eigen::MatrixXf w = Eigen::MatrixXf::Random(4, 5);
  w(2, 3) = std::numeric_limits<float>::infinity();
  const std::string m = eigenq_test::message_of<eigenq::Error>(
      [&] { eigenq::quantize(w, Linear<std::int8_t>::affine(), eigenq::PerChannel{0}); });
  EXPECT_NE(m.find("+Inf"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_NE(m.find("channel 2"), std::string::npos) << m;
  w(2, 3) = std::nanf("");
  EXPECT_THROW(eigenq::quantize(w, Linear<std::int8_t>::affine()), eigenq::NonFiniteError);
  const Eigen::MatrixXf empty(0, 4);
  EXPECT_THROW(eigenq::quantize(empty, Linear<std::int8_t>::affine()), eigenq::ShapeError);
  const Eigen::MatrixXf ok = Eigen::MatrixXf::Random(4, 5);
  const std::string axis = eigenq_test::message_of<eigenq::Error>(
      [&] { eigenq::quantize(ok, Linear<std::int8_t>::affine(), eigenq::PerChannel{-3}); });
  EXPECT_NE(axis.find("axis -3"), std::string::npos) << axis;
  const eigenq::Quantizer<Linear<std::int8_t>, eigenq::PerChannel> quantizer(
      Linear<std::int8_t>::affine(), eigenq::PerChannel{0});
  const std::string count = eigenq_test::message_of<eigenq::Error>([&] { quantizer.quantize(ok, {eigenq::LinearParams{}}); });
  EXPECT_NE(count.find("needs 4 parameter sets, got 1"), std::string::npos) << count;
}

TEST(Quantizer, GivenParametersAreUsedAsIs) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(3, 4);
  const eigenq::Quantizer<Linear<std::uint8_t>> quantizer(Linear<std::uint8_t>::affine());
  const auto q = quantizer.quantize(w, {eigenq::LinearParams{0.5f, 100}});
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      EXPECT_EQ(q.code(r * 4 + c), static_cast<int>(std::nearbyint(w(r, c) * 2.0f)) + 100);
}

}  // namespace

namespace {

TEST(Linear, OneBitRangesAreStoredInTwoBitFields) {
  const auto pol = eigenq::Linear<std::uint8_t>::affine().with_range(0, 1);
  EXPECT_EQ(pol.bits(), 2);
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(3, 5);
  const auto q = eigenq::quantize(w, pol);
  for (auto c : q.unpacked_codes()) EXPECT_LE(c, 1);
  EXPECT_EQ(q.codes().bytes(), 4u);  // 15 codes, four a byte
}

}  // namespace

// ---- threads --------------------------------------------------------------------------------

namespace {

using eigenq::Index;

// Quantizer::with_threads: the same QTensor on 1, 2 and 3 threads of a 3-thread pool, per
// tensor (one run split in pieces), per channel and per group, and for a data-driven codebook.
TEST(QuantizerThreads, EveryThreadCountGivesTheSameTensor) {
  eigenq_test::ScopedThreadPool pool(3);
  std::mt19937 rng(77);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Eigen::MatrixXf w(800, 1000);  // 800k values: 3 threads' worth of 2^18
  for (Index i = 0; i < w.size(); ++i) w.data()[i] = normal(rng);
  const auto same = [](const auto& a, const auto& b) {
    return a.params() == b.params() && a.codes().unpacked() == b.codes().unpacked();
  };
  using L = eigenq::Linear<std::int8_t>;
  const auto check = [&](auto quantizer, const auto& x) {
    const auto one = quantizer.with_threads(1).quantize(x);
    for (int t : {2, 3}) EXPECT_TRUE(same(one, quantizer.with_threads(t).quantize(x))) << "threads " << t;
  };
  check(eigenq::Quantizer<L, eigenq::PerTensor>(L::symmetric()), w);
  check(eigenq::Quantizer<L, eigenq::PerChannel>(L::symmetric(), eigenq::PerChannel{0}), w);
  check(eigenq::Quantizer<L, eigenq::PerGroup>(L::symmetric().with_bits(4), eigenq::PerGroup{1, 32}), w);
  const Eigen::MatrixXf small = w.topRows(12);
  check(eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerChannel>(
            eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0}),
        small);
  EXPECT_THROW(eigenq::Quantizer<L>(L::symmetric()).with_threads(0), eigenq::InvalidArgument);
}

}  // namespace
