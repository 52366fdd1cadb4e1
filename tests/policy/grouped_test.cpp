// Tests the seed's grouped method: Quantizer<Policy, PerGroup> splits values
// into groups of G consecutive elements along an axis (last group partial)
// and quantizes each group on its own, for every policy; and
// include/eigenq/quantizer/double_quant.hpp, the optional second level (8-bit
// group scales against one float per super-block).
#include "support/test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "eigenq/policy/codebook.hpp"
#include "eigenq/quantizer/double_quant.hpp"
#include "eigenq/policy/exp.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/quantizer/quantizer.hpp"
#include "policy_test_util.hpp"

namespace {

using eigenq::Index;
using eigenq::PerChannel;
using eigenq::PerGroup;
using eigenq::PerTensor;
using eigenq::Quantizer;
using eigenq::Shape;
using eigenq_test::Distribution;
using eigenq_test::Rng;

using eigenq_test::expect_error;

// Row-major multi-index of a flat offset (computed here, not with the library's layout).
std::vector<Index> multi_index(const Shape& shape, Index flat) {
  std::vector<Index> idx(shape.size());
  for (std::size_t k = shape.size(); k-- > 0;) {
    idx[k] = flat % shape[k];
    flat /= shape[k];
  }
  return idx;
}

Index flat_index(const Shape& shape, const std::vector<Index>& idx) {
  Index flat = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) flat = flat * shape[k] + idx[k];
  return flat;
}

// The seed's definition, done by hand: gather every group's elements (same
// coordinates except along the axis, where coordinate / G is the group), and
// quantize each gathered group per tensor. The per-group QTensor must have
// the same parameters and codes.
template <class Policy>
void check_grouped_is_groups_quantized_alone(const Policy& policy, Distribution d, std::uint64_t seed) {
  Rng rng(seed);
  const Shape shape = eigenq_test::random_shape(rng, 3, 9);
  const int axis = static_cast<int>(rng.integer(0, static_cast<std::int64_t>(shape.size()) - 1));
  const Index len = shape[static_cast<std::size_t>(axis)];
  const Index G = rng.integer(1, len + 2);
  const std::vector<float> data = eigenq_test::sample(d, static_cast<std::size_t>(eigenq::element_count(shape)), seed + 1000);

  const Quantizer<Policy, PerGroup> grouped(policy, PerGroup{axis, G});
  const auto qt = eigenq_test::quantize_shaped(grouped, data, shape);
  Shape param_shape = shape;
  param_shape[static_cast<std::size_t>(axis)] = (len + G - 1) / G;  // the last group may be partial
  ASSERT_EQ(qt.layout().param_shape(), param_shape);
  ASSERT_EQ(static_cast<Index>(qt.params().size()), eigenq::element_count(param_shape));

  std::map<Index, std::vector<Index>> members;  // param index -> element flat indices, row-major
  for (Index flat = 0; flat < static_cast<Index>(data.size()); ++flat) {
    std::vector<Index> idx = multi_index(shape, flat);
    idx[static_cast<std::size_t>(axis)] /= G;
    members[flat_index(param_shape, idx)].push_back(flat);
  }
  ASSERT_EQ(members.size(), qt.params().size());
  const auto codes = qt.unpacked_codes();
  const Quantizer<Policy, PerTensor> alone(policy);
  for (const auto& [pi, flats] : members) {
    std::vector<float> values;
    for (Index f : flats) values.push_back(data[static_cast<std::size_t>(f)]);
    const Shape group_shape{static_cast<Index>(values.size())};
    const auto q1 = eigenq_test::quantize_shaped(alone, values, group_shape);
    ASSERT_TRUE(qt.params()[static_cast<std::size_t>(pi)] == q1.params()[0])
        << policy.name() << ": group " << pi << " of shape " << eigenq::to_string(shape) << " axis " << axis
        << " G " << G;
    const auto c1 = q1.unpacked_codes();
    for (std::size_t i = 0; i < flats.size(); ++i) {
      ASSERT_EQ(codes[static_cast<std::size_t>(flats[i])], c1[i]) << policy.name() << " element " << flats[i];
    }
  }
}

// G covering the whole axis is per-tensor (rank 1) or per-channel on the other axis (rank 2).
template <class Policy>
void check_full_length_groups(const Policy& policy, Distribution d, std::uint64_t seed) {
  Rng rng(seed);
  const Index n = rng.integer(1, 40);
  const std::vector<float> v = eigenq_test::sample(d, static_cast<std::size_t>(n), seed);
  for (Index G : {n, n + 5}) {
    const auto g = eigenq_test::quantize_shaped(Quantizer<Policy, PerGroup>(policy, PerGroup{0, G}), v, Shape{n});
    const auto t = eigenq_test::quantize_shaped(Quantizer<Policy, PerTensor>(policy), v, Shape{n});
    ASSERT_EQ(g.params().size(), 1u);
    ASSERT_TRUE(g.params()[0] == t.params()[0]) << policy.name();
    ASSERT_EQ(g.unpacked_codes(), t.unpacked_codes()) << policy.name();
    ASSERT_EQ(g.dequantize_flat(), t.dequantize_flat()) << policy.name();
  }
  const Index rows = rng.integer(1, 7);
  const Index cols = rng.integer(1, 20);
  const std::vector<float> m = eigenq_test::sample(d, static_cast<std::size_t>(rows * cols), seed + 7);
  const Shape shape{rows, cols};
  // One group per row == one parameter set per channel of axis 0, and the transpose.
  for (int axis : {0, 1}) {
    const Index len = shape[static_cast<std::size_t>(axis)];
    const auto g = eigenq_test::quantize_shaped(Quantizer<Policy, PerGroup>(policy, PerGroup{axis, len}), m, shape);
    const auto c = eigenq_test::quantize_shaped(Quantizer<Policy, PerChannel>(policy, PerChannel{1 - axis}), m, shape);
    ASSERT_EQ(g.params().size(), c.params().size());
    for (std::size_t k = 0; k < c.params().size(); ++k) ASSERT_TRUE(g.params()[k] == c.params()[k]) << policy.name();
    ASSERT_EQ(g.unpacked_codes(), c.unpacked_codes()) << policy.name();
  }
}

template <class Policy>
void check_policy(const Policy& policy, Distribution d) {
  for (std::uint64_t seed = 1; seed <= 25; ++seed) {
    check_grouped_is_groups_quantized_alone(policy, d, seed);
    check_full_length_groups(policy, d, seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(Grouped, LinearAffine) {
  check_policy(eigenq::Linear<std::int8_t>::affine(), Distribution::gaussian);
  check_policy(eigenq::Linear<std::uint8_t>::affine().with_bits(4), Distribution::uniform);
  check_policy(eigenq::Linear<std::int8_t>::affine(eigenq::Profile::onnx), Distribution::laplacian);
}
TEST(Grouped, LinearSymmetric) {
  check_policy(eigenq::Linear<std::int8_t>::symmetric().with_bits(4), Distribution::gaussian);
  check_policy(eigenq::Linear<std::int8_t>::symmetric(eigenq::Profile::tflite), Distribution::laplacian);
}
TEST(Grouped, LinearRealOffset) { check_policy(eigenq::LinearRealOffset<std::uint8_t>().with_bits(3), Distribution::gaussian); }
TEST(Grouped, Log) { check_policy(eigenq::Log<std::uint8_t>().with_bits(4), Distribution::lognormal); }
TEST(Grouped, LogSigned) { check_policy(eigenq::LogSigned<std::int8_t>().with_bits(4), Distribution::laplacian); }
TEST(Grouped, Log2) { check_policy(eigenq::Log2<std::int8_t>().with_bits(3), Distribution::gaussian); }
TEST(Grouped, Exp) { check_policy(eigenq::Exp<std::uint8_t>().with_bits(5), Distribution::uniform); }
TEST(Grouped, Codebook) {
  check_policy(eigenq::Codebook<std::uint8_t>().with_bits(2), Distribution::gaussian);
  check_policy(eigenq::Codebook<std::int8_t>().with_bits(3).with_clusters(5), Distribution::laplacian);
}

TEST(Grouped, LinearErrorWithinHalfAScaleInsideTheRange) {
  // Round to nearest: inside [s (q_min - z), s (q_max - z)] the error is at most s / 2,
  // plus the float rounding of x * (1/s) and of s * (q - z): a few ulps of x.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Rng rng(seed);
    const Shape shape{rng.integer(1, 12), rng.integer(1, 70)};
    const std::vector<float> data = eigenq_test::sample(Distribution::laplacian, static_cast<std::size_t>(shape[0] * shape[1]), seed);
    for (int bits : {2, 3, 4, 8}) {
      for (const auto& lin : {eigenq::Linear<std::int8_t>::affine().with_bits(bits),
                              eigenq::Linear<std::int8_t>::symmetric().with_bits(bits)}) {
        const Quantizer<eigenq::Linear<std::int8_t>, PerGroup> q(lin, PerGroup{1, rng.integer(1, 33)});
        const auto qt = eigenq_test::quantize_shaped(q, data, shape);
        const auto deq = qt.dequantize_flat();
        const eigenq::CodeRange r = lin.range();
        Index inside = 0;
        qt.layout().for_each([&](Index flat, Index pi) {
          const auto& p = qt.params()[static_cast<std::size_t>(pi)];
          const double x = data[static_cast<std::size_t>(flat)];
          const double lo = double{p.scale} * (r.qmin - p.zero_point);
          const double hi = double{p.scale} * (r.qmax - p.zero_point);
          if (x < lo || x > hi) return;
          ++inside;
          const double slack = 4.0 * std::numeric_limits<float>::epsilon() * std::fabs(x);
          ASSERT_LE(std::fabs(x - deq[static_cast<std::size_t>(flat)]), 0.5 * p.scale + slack)
              << "bits " << bits << " x " << x;
        });
        EXPECT_GT(inside, 0);
      }
    }
  }
}

TEST(Grouped, BadGroupSizes) {
  const eigenq_test::RowMatrix w = eigenq_test::sample_matrix(Distribution::gaussian, 4, 8, 1);
  for (Index G : {Index{0}, Index{-3}}) {
    expect_error<eigenq::InvalidArgument>(
        [&] { Quantizer<eigenq::Linear<std::int8_t>, PerGroup>(eigenq::Linear<std::int8_t>{}, PerGroup{1, G}).quantize(w); },
        {"G = " + std::to_string(G)});
    expect_error<eigenq::InvalidArgument>(
        [&] { Quantizer<eigenq::Codebook<std::uint8_t>, PerGroup>(eigenq::Codebook<std::uint8_t>{}, PerGroup{1, G}).quantize(w); },
        {"G = " + std::to_string(G)});
  }
  expect_error<eigenq::ShapeError>(
      [&] { Quantizer<eigenq::Log2<std::int8_t>, PerGroup>(eigenq::Log2<std::int8_t>{}, PerGroup{2, 4}).quantize(w); },
      {"axis 2"});
}

// ---------------------------------------------------------------- double quantization

TEST(DoubleQuant, ScalesAreEightBitCodesTimesSuperBlockScale) {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Rng rng(seed);
    const Index rows = rng.integer(1, 9);
    const Index cols = rng.integer(1, 700);
    const Index G = rng.integer(1, 64);
    const Index S = rng.integer(1, 12);
    const eigenq_test::RowMatrix w =
        eigenq_test::with_channel_scales(eigenq_test::sample_matrix(Distribution::gaussian, rows, cols, seed), seed);
    for (const auto& lin : {eigenq::Linear<std::int8_t>::symmetric().with_bits(4),
                            eigenq::Linear<std::int8_t>::affine().with_bits(4)}) {
      const Quantizer<eigenq::Linear<std::int8_t>, PerGroup> q(lin, PerGroup{-1, G});
      const auto original = q.fit(w);
      const auto dq = eigenq::double_quantize(q, w, S);
      const auto& sb = dq.scales;
      const Index groups = (cols + G - 1) / G;
      const Index blocks = (groups + S - 1) / S;  // the last super-block may be partial
      ASSERT_EQ(sb.block_shape, (Shape{rows, blocks}));
      ASSERT_EQ(sb.scale_codes.size(), original.size());
      ASSERT_EQ(static_cast<Index>(sb.block_scales.size()), rows * blocks);
      for (Index r = 0; r < rows; ++r) {
        for (Index b = 0; b < blocks; ++b) {
          const float d = sb.block_scales[static_cast<std::size_t>(r * blocks + b)];
          float s_max = 0.0f;
          std::uint8_t max_code = 0;
          for (Index g = b * S; g < std::min(groups, (b + 1) * S); ++g) {
            const auto k = static_cast<std::size_t>(r * groups + g);
            ASSERT_EQ(sb.block_of_group[k], r * blocks + b);
            const float s = original[k].scale;
            const float stored = dq.tensor.params()[k].scale;
            s_max = std::max(s_max, s);
            max_code = std::max(max_code, sb.scale_codes[k]);
            ASSERT_GE(sb.scale_codes[k], 1);
            ASSERT_EQ(stored, static_cast<float>(sb.scale_codes[k]) * d);   // s' = code * d
            ASSERT_EQ(stored, sb.scale(static_cast<Index>(k)));
            ASSERT_GE(stored, s);                                           // rounded up: no clipping
            ASSERT_LT(double{stored} - s, double{d} * (1 + 1e-6) + 1e-30);  // by less than one step
            ASSERT_EQ(dq.tensor.params()[k].zero_point, original[k].zero_point);
          }
          ASSERT_EQ(max_code, 255);
          ASSERT_GE(255.0f * d, s_max);
          ASSERT_LE(double{d}, s_max / 255.0 * (1 + 1e-6));
        }
      }
      // The codes are those of the stored scales, and each error is within s'/2
      // (the ranges still fit because the scales only grew).
      const auto again = q.quantize(w, dq.tensor.params());
      ASSERT_EQ(again.unpacked_codes(), dq.tensor.unpacked_codes());
      const auto deq = dq.tensor.dequantize_flat();
      dq.tensor.layout().for_each([&](Index flat, Index pi) {
        const float x = w.data()[flat];
        const float s = dq.tensor.params()[static_cast<std::size_t>(pi)].scale;
        const double slack = 4.0 * std::numeric_limits<float>::epsilon() * std::fabs(x);
        ASSERT_LE(std::fabs(double{x} - deq[static_cast<std::size_t>(flat)]), 0.5 * s + slack);
      });
      // Storage: packed codes + 1 byte per group + 4 per super-block (+ zero points if affine).
      const std::size_t expected = static_cast<std::size_t>(eigenq::packed_bytes(rows * cols, 4)) +
                                   original.size() + 4 * static_cast<std::size_t>(rows * blocks) +
                                   (lin.symmetry() == eigenq::Symmetry::affine ? original.size() : 0);
      EXPECT_EQ(dq.storage_bytes(), expected);
    }
  }
}

TEST(DoubleQuant, SmallerThanFloatScalesAtSimilarError) {
  const eigenq_test::RowMatrix w = eigenq_test::sample_matrix(Distribution::gaussian, 64, 1024, 3);
  const Quantizer<eigenq::Linear<std::int8_t>, PerGroup> q(eigenq::Linear<std::int8_t>::symmetric().with_bits(4),
                                                           PerGroup{-1, 32});
  const auto single = q.quantize(w);
  const auto dq = eigenq::double_quantize(q, w, 8);  // 256 weights a super-block, as Q4_K
  const eigenq_test::RowMatrix a = eigenq::dequantize(single);
  const eigenq_test::RowMatrix b = eigenq::dequantize(dq.tensor);
  const double e_single = (a - w).squaredNorm() / static_cast<double>(w.size());
  const double e_double = (b - w).squaredNorm() / static_cast<double>(w.size());
  // 4-bit codes + 4-byte scales per 32 = 5 bits a weight; + 1-byte scales + 4 bytes per 256 = 4.375.
  EXPECT_EQ(single.storage_bytes() * 8, static_cast<std::size_t>(w.size()) * 5);
  EXPECT_EQ(dq.storage_bytes() * 8, static_cast<std::size_t>(w.size()) * 35 / 8);
  // A sanity bound only (scales grow by < 1/255 of the block maximum).
  EXPECT_LT(e_double, 1.25 * e_single) << e_double << " vs " << e_single;
  std::cout << "[ info ] 4-bit G=32 symmetric: f32 scales mse " << e_single << " (5 bits/weight), "
            << "8-bit scales mse " << e_double << " (4.375 bits/weight)\n";
}

TEST(DoubleQuant, Errors) {
  const eigenq_test::RowMatrix w = eigenq_test::sample_matrix(Distribution::gaussian, 4, 64, 1);
  const Quantizer<eigenq::Linear<std::int8_t>, PerGroup> q(eigenq::Linear<std::int8_t>::symmetric(), PerGroup{-1, 16});
  expect_error<eigenq::InvalidArgument>([&] { eigenq::double_quantize(q, w, 0); }, {"S = 0"});
  const Quantizer<eigenq::Linear<std::int8_t>, PerChannel> per_channel(eigenq::Linear<std::int8_t>::symmetric(),
                                                                       PerChannel{0});
  expect_error<eigenq::InvalidArgument>([&] { eigenq::double_quantize(per_channel, w, 4); }, {"per-group", "per-channel"});
  std::vector<eigenq::LinearParams> params(3);
  params[1].scale = 0.0f;
  const eigenq::ParamLayout layout(Shape{3, 5}, eigenq::Granularity(PerGroup{1, 5}));  // groups [3, 1]
  expect_error<eigenq::InvalidArgument>([&] { eigenq::quantize_group_scales(params, layout, 2); },
                                        {"scale 0", "[1, 0]"});
}

}  // namespace
