#include "eigenq/analysis/scheme.hpp"
#include "eigenq/policy/codebook.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/log.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace {

TEST(Scheme, FloatIsIdentityAt32Bits) {
  const eigenq::Scheme s = eigenq::float_scheme();
  EXPECT_TRUE(s.is_float());
  Eigen::MatrixXf w = eigenq_test::random_matrix(5, 7, 1);
  const Eigen::MatrixXf before = w;
  s.apply(w);
  EXPECT_EQ(w, before);
  EXPECT_EQ(s.bits_for(w), 32 * 35);
}

// make_scheme fake-quantizes exactly as the Quantizer quantizes and dequantizes, and
// costs exactly the QTensor's storage.
TEST(Scheme, MakeSchemeIsTheQuantizer) {
  const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerGroup> q(
      eigenq::Linear<std::int8_t>::symmetric().with_bits(4), eigenq::PerGroup{-1, 8});
  const eigenq::Scheme s = eigenq::make_scheme("int4-g8", q);
  Eigen::MatrixXf w = eigenq_test::random_matrix(6, 20, 2);
  const auto qt = q.quantize(w);
  const Eigen::MatrixXf expected = qt.dequantize<Eigen::MatrixXf>();
  EXPECT_EQ(s.bits_for(w), 8 * static_cast<std::int64_t>(qt.storage_bytes()));
  // 120 codes of 4 bits (60 bytes) + 6 rows x 3 groups of one float scale (72 bytes).
  EXPECT_EQ(s.bits_for(w), 8 * (60 + 18 * 4));
  s.apply(w);
  EXPECT_EQ(w, expected);
  EXPECT_EQ(s.name, "int4-g8");
  EXPECT_FALSE(s.is_float());
}

// Non-linear and data-fitted policies plug in the same way.
TEST(Scheme, LogAndCodebookPolicies) {
  const Eigen::MatrixXf w = eigenq_test::random_matrix(8, 40, 4);
  const eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerChannel> cb(
      eigenq::Codebook<std::uint8_t>().with_bits(3), eigenq::PerChannel{0});
  const eigenq::Quantizer<eigenq::LogSigned<std::int8_t>, eigenq::PerChannel> lg(
      eigenq::LogSigned<std::int8_t>().with_bits(4), eigenq::PerChannel{0});
  const eigenq::Scheme cs = eigenq::make_scheme("codebook3", cb);
  const eigenq::Scheme ls = eigenq::make_scheme("log4", lg);
  Eigen::MatrixXf a = w, b = w;
  cs.apply(a);
  ls.apply(b);
  EXPECT_EQ(a, cb.quantize(w).dequantize<Eigen::MatrixXf>());
  EXPECT_EQ(b, lg.quantize(w).dequantize<Eigen::MatrixXf>());
  EXPECT_EQ(cs.bits_for(w), 8 * static_cast<std::int64_t>(cb.quantize(w).storage_bytes()));
  // The packed 3-bit codes + each row's float centroids (at most 8).
  std::int64_t centroid_bytes = 0;
  const auto cq = cb.quantize(w);
  EXPECT_LE(cq.codes().bytes(), 160u);  // at most a nibble per code
  for (const auto& p : cq.params()) {
    EXPECT_LE(p.centroids.size(), 8u);
    centroid_bytes += 4 * static_cast<std::int64_t>(p.centroids.size());
  }
  EXPECT_EQ(cs.bits_for(w), 8 * (static_cast<std::int64_t>(cq.codes().bytes()) + centroid_bytes));
  EXPECT_EQ(ls.bits_for(w), 8 * static_cast<std::int64_t>(lg.quantize(w).storage_bytes()));
  for (Eigen::Index r = 0; r < w.rows(); ++r) {  // at most 8 distinct values per row
    std::vector<float> v;
    for (Eigen::Index c = 0; c < w.cols(); ++c) v.push_back(a(r, c));
    std::sort(v.begin(), v.end());
    EXPECT_LE(std::unique(v.begin(), v.end()) - v.begin(), 8);
  }
}

TEST(Scheme, ReadyMadeSchemes) {
  const Eigen::MatrixXf w = eigenq_test::random_matrix(4, 64, 3);
  EXPECT_EQ(eigenq::schemes::int8_per_channel().bits_for(w), 8 * (256 + 4 * 4));
  EXPECT_EQ(eigenq::schemes::int4_per_group(32).bits_for(w), 8 * (128 + 8 * 4));
  EXPECT_EQ(eigenq::schemes::int2_per_group(32).bits_for(w), 8 * (64 + 8 * 4));
  EXPECT_EQ(eigenq::schemes::uint8_per_tensor().bits_for(w), 8 * (256 + 8));
  EXPECT_EQ(eigenq::schemes::linear_per_channel(3).name, "int3-per-channel");
  // Fewer bits, more error.
  double previous = 0.0;
  for (const auto& s : {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(32),
                        eigenq::schemes::int2_per_group(32)}) {
    Eigen::MatrixXf x = w;
    s.apply(x);
    const double err = (x - w).squaredNorm();
    EXPECT_GT(err, previous) << s.name;
    previous = err;
  }
}

// ---- per-channel mixed precision: row-independent schemes, row blocks, per-row mixes ------

using eigenq::Index;
using Lin8 = eigenq::Linear<std::int8_t>;

eigenq::Scheme channel_scheme(int axis) {
  return eigenq::make_scheme("channel" + std::to_string(axis),
                             eigenq::Quantizer<Lin8, eigenq::PerChannel>(Lin8::symmetric().with_bits(4),
                                                                         eigenq::PerChannel{axis}));
}

eigenq::Scheme group_scheme(int axis, Index group) {
  return eigenq::make_scheme("group" + std::to_string(axis),
                             eigenq::Quantizer<Lin8, eigenq::PerGroup>(Lin8::symmetric().with_bits(4),
                                                                       eigenq::PerGroup{axis, group}));
}

// One row of `w` far larger than the others: any scheme that shares parameters across rows
// quantizes the small rows differently inside the matrix than alone.
Eigen::MatrixXf matrix_with_a_loud_row() {
  Eigen::MatrixXf w = eigenq_test::random_matrix(6, 16, 31);
  w.row(3) *= 50.0f;
  return w;
}

TEST(Scheme, RowsIndependentFollowsTheGranularity) {
  EXPECT_TRUE(eigenq::quantizes_rows_independently(eigenq::PerChannel{0}));
  EXPECT_TRUE(eigenq::quantizes_rows_independently(eigenq::PerChannel{-2}));
  EXPECT_TRUE(eigenq::quantizes_rows_independently(eigenq::PerGroup{1, 8}));
  EXPECT_TRUE(eigenq::quantizes_rows_independently(eigenq::PerGroup{-1, 8}));
  EXPECT_FALSE(eigenq::quantizes_rows_independently(eigenq::PerTensor{}));
  EXPECT_FALSE(eigenq::quantizes_rows_independently(eigenq::PerChannel{1}));
  EXPECT_FALSE(eigenq::quantizes_rows_independently(eigenq::PerChannel{-1}));
  EXPECT_FALSE(eigenq::quantizes_rows_independently(eigenq::PerGroup{0, 8}));
  EXPECT_FALSE(eigenq::quantizes_rows_independently(eigenq::PerGroup{-2, 8}));

  // make_scheme sets the flag from the quantizer's granularity.
  EXPECT_TRUE(channel_scheme(0).rows_independent);
  EXPECT_TRUE(channel_scheme(-2).rows_independent);
  EXPECT_TRUE(group_scheme(1, 8).rows_independent);
  EXPECT_TRUE(group_scheme(-1, 8).rows_independent);
  EXPECT_FALSE(channel_scheme(1).rows_independent);
  EXPECT_FALSE(group_scheme(0, 3).rows_independent);
  EXPECT_FALSE(eigenq::schemes::uint8_per_tensor().rows_independent);
  EXPECT_TRUE(eigenq::schemes::int8_per_channel().rows_independent);
  EXPECT_TRUE(eigenq::schemes::int4_per_group(8).rows_independent);
  EXPECT_FALSE(eigenq::float_scheme().rows_independent);
  // Fixed parameters are indexed by channel, so a block of rows would take the wrong ones.
  const eigenq::Quantizer<Lin8, eigenq::PerChannel> q(Lin8::symmetric(), eigenq::PerChannel{0});
  EXPECT_FALSE(eigenq::make_static_scheme("static", q, q.fit(eigenq_test::random_matrix(4, 8, 1))).rows_independent);

  // The flag is true exactly when the claim holds on a matrix whose rows differ in scale:
  // every single row quantized alone equals that row quantized inside the whole matrix.
  const Eigen::MatrixXf w = matrix_with_a_loud_row();
  for (const eigenq::Scheme& s : {channel_scheme(0), channel_scheme(-2), group_scheme(1, 8), group_scheme(-1, 5),
                                       channel_scheme(1), group_scheme(0, 3), eigenq::schemes::uint8_per_tensor()}) {
    Eigen::MatrixXf whole = w;
    s.apply(whole);
    bool rows_match = true;
    for (Index r = 0; r < w.rows(); ++r) {
      Eigen::MatrixXf row = w.row(r);
      s.apply(row);
      rows_match = rows_match && row == whole.row(r);
    }
    EXPECT_EQ(rows_match, s.rows_independent) << s.name;
  }
}

// row_block_scheme quantizes rows [begin, begin + count) as a matrix of their own and leaves
// the others as they are; its storage is that of those rows alone.
TEST(Scheme, RowBlockQuantizesOnlyItsRows) {
  const Eigen::MatrixXf w = matrix_with_a_loud_row();  // 6 x 16
  struct Case {
    eigenq::Scheme scheme;
    std::int64_t bytes_per_row;  // closed form, for the row-independent schemes (0: not used)
  };
  const std::vector<Case> cases = {
      {eigenq::schemes::int8_per_channel(), 16 + 4},        // 16 int8 codes + one float scale
      {eigenq::schemes::int4_per_group(8), 8 + 2 * 4},      // 16 nibbles + 2 group scales
      {eigenq::schemes::int2_per_group(8), 4 + 2 * 4},      // 16 2-bit codes + 2 group scales
      {eigenq::schemes::uint8_per_tensor(), 0},
      {group_scheme(0, 4), 0},
  };
  const std::vector<std::pair<Index, Index>> blocks = {{0, 1}, {2, 3}, {3, 1}, {5, 1}, {0, 6}, {1, 5}};
  for (const Case& c : cases) {
    const eigenq::Scheme& s = c.scheme;
    Eigen::MatrixXf whole = w;
    s.apply(whole);
    for (const auto& [begin, count] : blocks) {
      const eigenq::Scheme b = eigenq::row_block_scheme(s, begin, count);
      EXPECT_EQ(b.rows_independent, s.rows_independent);
      EXPECT_FALSE(b.is_float());
      EXPECT_NE(b.name.find(s.name), std::string::npos) << b.name;
      Eigen::MatrixXf x = w;
      b.apply(x);
      Eigen::MatrixXf alone = w.middleRows(begin, count);
      s.apply(alone);
      for (Index r = 0; r < w.rows(); ++r) {
        if (r >= begin && r < begin + count) {
          EXPECT_EQ(x.row(r), alone.row(r - begin)) << s.name << " row " << r;
          if (s.rows_independent) {
            EXPECT_EQ(x.row(r), whole.row(r)) << s.name << " row " << r;
          }
        } else {
          EXPECT_EQ(x.row(r), w.row(r)) << s.name << " row " << r << " is outside the block";
        }
      }
      if (!s.rows_independent && (begin > 3 || begin + count <= 3)) {
        // Inside the matrix, the block's rows share scales with rows outside it (the loud row 3
        // among them, or, for groups of rows, a neighbour).
        EXPECT_NE(x.middleRows(begin, count), whole.middleRows(begin, count)) << s.name << " " << begin;
      }
      EXPECT_EQ(b.bits_for(w), s.bits_for(Eigen::MatrixXf(w.middleRows(begin, count))));
      if (c.bytes_per_row > 0) {
        EXPECT_EQ(b.bits_for(w), 8 * c.bytes_per_row * count) << s.name;
      }
    }
  }
  // A block of a float scheme leaves everything float and costs 32 bits per element of it.
  const eigenq::Scheme fb = eigenq::row_block_scheme(eigenq::float_scheme(), 1, 2);
  Eigen::MatrixXf x = w;
  fb.apply(x);
  EXPECT_EQ(x, w);
  EXPECT_EQ(fb.bits_for(w), 32 * 2 * 16);
}

TEST(Scheme, RowBlockRejectsBadRanges) {
  const eigenq::Scheme s = eigenq::schemes::int8_per_channel();
  EXPECT_THROW(eigenq::row_block_scheme(s, -1, 2), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::row_block_scheme(s, 0, 0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::row_block_scheme(s, 2, -1), eigenq::InvalidArgument);
  // Past the matrix: known only when applied.
  const eigenq::Scheme past = eigenq::row_block_scheme(s, 5, 2);
  Eigen::MatrixXf w = eigenq_test::random_matrix(6, 8, 2);
  const Eigen::MatrixXf before = w;
  EXPECT_THROW(past.apply(w), eigenq::ShapeError);
  EXPECT_EQ(w, before);
  EXPECT_THROW(past.bits_for(w), eigenq::ShapeError);
  try {
    past.apply(w);
    FAIL();
  } catch (const eigenq::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("6 rows"), std::string::npos) << e.what();
  }
  // The last rows exactly: fine.
  const eigenq::Scheme last = eigenq::row_block_scheme(s, 4, 2);
  EXPECT_NO_THROW(last.apply(w));
}

// per_row_scheme with row-independent schemes is, row by row, exactly each row quantized
// alone with its scheme; it stores the sum of what each scheme stores of its rows.
TEST(Scheme, PerRowSchemeEqualsEachRowAlone) {
  const std::vector<eigenq::Scheme> cands = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(8),
                                                  eigenq::schemes::linear_per_channel(3),
                                                  eigenq::schemes::int2_per_group(4)};
  const Eigen::MatrixXf w = eigenq_test::random_matrix(13, 24, 7);
  std::mt19937 gen(99);
  std::uniform_int_distribution<std::size_t> pick(0, cands.size() - 1);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::size_t> choice(13);
    for (auto& c : choice) c = pick(gen);
    if (trial == 0) std::fill(choice.begin(), choice.end(), 2);  // one scheme for every row
    const eigenq::Scheme s = eigenq::per_row_scheme("mix", cands, choice);
    EXPECT_EQ(s.name, "mix");
    EXPECT_TRUE(s.rows_independent);
    Eigen::MatrixXf x = w;
    s.apply(x);
    std::int64_t row_bits = 0;
    for (Index r = 0; r < w.rows(); ++r) {
      const eigenq::Scheme& c = cands[choice[static_cast<std::size_t>(r)]];
      Eigen::MatrixXf row = w.row(r);
      row_bits += c.bits_for(row);
      c.apply(row);
      EXPECT_EQ(x.row(r), row) << "trial " << trial << " row " << r;
    }
    // 24 columns: every row's codes fill whole bytes, so the storage adds up row by row ...
    EXPECT_EQ(s.bits_for(w), row_bits) << "trial " << trial;
    // ... and equals each scheme's storage of the rows it quantizes, gathered.
    std::int64_t gathered_bits = 0;
    for (std::size_t k = 0; k < cands.size(); ++k) {
      std::vector<Index> rows;
      for (std::size_t r = 0; r < choice.size(); ++r) {
        if (choice[r] == k) rows.push_back(static_cast<Index>(r));
      }
      if (rows.empty()) continue;
      Eigen::MatrixXf g(static_cast<Index>(rows.size()), w.cols());
      for (std::size_t i = 0; i < rows.size(); ++i) g.row(static_cast<Index>(i)) = w.row(rows[i]);
      gathered_bits += cands[k].bits_for(g);
    }
    EXPECT_EQ(s.bits_for(w), gathered_bits);
  }
  // int8 per channel on every row: 24 codes + one scale per row.
  const eigenq::Scheme all8 = eigenq::per_row_scheme("all8", cands, std::vector<std::size_t>(13, 0));
  EXPECT_EQ(all8.bits_for(w), 8 * 13 * (24 + 4));
  EXPECT_EQ(all8.bits_for(w), cands[0].bits_for(w));
}

// A scheme that is not row-independent quantizes its rows together, as one matrix.
TEST(Scheme, PerRowSchemeQuantizesTheRowsOfASchemeTogether) {
  const Eigen::MatrixXf w = matrix_with_a_loud_row();  // row 3 is loud
  const std::vector<eigenq::Scheme> cands = {eigenq::schemes::int8_per_channel(), eigenq::schemes::uint8_per_tensor()};
  const std::vector<std::size_t> choice = {1, 0, 1, 0, 1, 0};
  const eigenq::Scheme s = eigenq::per_row_scheme("mix", cands, choice);
  EXPECT_FALSE(s.rows_independent);
  Eigen::MatrixXf x = w;
  s.apply(x);
  Eigen::MatrixXf odd(3, 16), even(3, 16);  // rows 0, 2, 4 (per tensor) and 1, 3, 5 (per channel)
  for (Index i = 0; i < 3; ++i) {
    even.row(i) = w.row(2 * i);
    odd.row(i) = w.row(2 * i + 1);
  }
  const Eigen::MatrixXf even_in = even, odd_in = odd;
  cands[1].apply(even);
  cands[0].apply(odd);
  for (Index i = 0; i < 3; ++i) {
    EXPECT_EQ(x.row(2 * i), even.row(i));
    EXPECT_EQ(x.row(2 * i + 1), odd.row(i));
  }
  EXPECT_EQ(s.bits_for(w), cands[1].bits_for(even_in) + cands[0].bits_for(odd_in));
  EXPECT_EQ(s.bits_for(w), 8 * (3 * 16 + 8) + 8 * 3 * (16 + 4));  // one scale + zero point for the 3 rows
}

TEST(Scheme, PerRowSchemeRejectsBadChoices) {
  const std::vector<eigenq::Scheme> cands = {eigenq::schemes::int8_per_channel(), eigenq::schemes::int4_per_group(8)};
  try {
    eigenq::per_row_scheme("bad", cands, {0, 1, 2, 0});
    FAIL() << "a choice of scheme 2 among 2 was accepted";
  } catch (const eigenq::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(eigenq::per_row_scheme("none", {}, {0}), eigenq::InvalidArgument);
  const eigenq::Scheme s = eigenq::per_row_scheme("four", cands, {0, 1, 1, 0});
  Eigen::MatrixXf three = eigenq_test::random_matrix(3, 8, 5);
  Eigen::MatrixXf five = eigenq_test::random_matrix(5, 8, 5);
  EXPECT_THROW(s.apply(three), eigenq::ShapeError);
  EXPECT_THROW(s.apply(five), eigenq::ShapeError);
  EXPECT_THROW(s.bits_for(three), eigenq::ShapeError);
  Eigen::MatrixXf four = eigenq_test::random_matrix(4, 8, 5);
  EXPECT_NO_THROW(s.apply(four));
}

}  // namespace
