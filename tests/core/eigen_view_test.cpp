// Every Eigen container quantizes the same as its row-major logical content,
// and dequantizes back into its own type.
#include "eigenq/core/eigen_view.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cstdint>
#include <vector>

namespace {

using eigenq::Index;

std::vector<float> row_major_of(const Eigen::MatrixXf& m) {
  std::vector<float> v;
  for (Index r = 0; r < m.rows(); ++r)
    for (Index c = 0; c < m.cols(); ++c) v.push_back(m(r, c));
  return v;
}

TEST(EigenView, MatricesOfEveryKindGiveRowMajorOrder) {
  const Eigen::MatrixXf m = Eigen::MatrixXf::Random(5, 7);
  const std::vector<float> expected = row_major_of(m);
  auto check = [&](const eigenq::RowMajorView& v) {
    ASSERT_EQ(v.shape(), (eigenq::Shape{5, 7}));
    ASSERT_EQ(v.size(), 35);
    for (Index i = 0; i < 35; ++i) ASSERT_EQ(v[i], expected[static_cast<std::size_t>(i)]) << i;
  };
  check(eigenq::row_major_view(m));  // column-major: copied
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rm = m;
  const auto view = eigenq::row_major_view(rm);
  check(view);
  EXPECT_EQ(view.data(), rm.data()) << "row-major contiguous input is used in place";
  check(eigenq::row_major_view(Eigen::Map<const Eigen::MatrixXf>(m.data(), 5, 7)));
  const Eigen::Ref<const Eigen::MatrixXf> ref(m);
  check(eigenq::row_major_view(ref));
  const Eigen::MatrixXf big = Eigen::MatrixXf::Random(9, 11);
  const auto block = big.block(2, 3, 5, 7);
  const Eigen::MatrixXf block_copy = block;
  const std::vector<float> block_expected = row_major_of(block_copy);
  const auto bv = eigenq::row_major_view(block);
  for (Index i = 0; i < 35; ++i) ASSERT_EQ(bv[i], block_expected[static_cast<std::size_t>(i)]);
  // A strided row-major map (every other column) is copied correctly.
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0,
             Eigen::Stride<Eigen::Dynamic, 2>>
      strided(rm.data(), 5, 3, Eigen::Stride<Eigen::Dynamic, 2>(7, 2));
  const auto sv = eigenq::row_major_view(strided);
  for (Index r = 0; r < 5; ++r)
    for (Index c = 0; c < 3; ++c) ASSERT_EQ(sv[r * 3 + c], m(r, 2 * c));
}

TEST(EigenView, TensorsOfBothLayoutsGiveRowMajorOrder) {
  Eigen::Tensor<float, 3, Eigen::ColMajor> col(3, 4, 5);
  col.setRandom();
  Eigen::Tensor<float, 3, Eigen::RowMajor> row = col.swap_layout().shuffle(Eigen::array<int, 3>{2, 1, 0});
  // Same logical content in both layouts.
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 4; ++j)
      for (Index k = 0; k < 5; ++k) ASSERT_EQ(row(i, j, k), col(i, j, k));
  const auto vc = eigenq::row_major_view(col);
  const auto vr = eigenq::row_major_view(row);
  EXPECT_EQ(vr.data(), row.data());
  ASSERT_EQ(vc.shape(), (eigenq::Shape{3, 4, 5}));
  for (Index f = 0; f < 60; ++f) ASSERT_EQ(vc[f], vr[f]);
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 4; ++j)
      for (Index k = 0; k < 5; ++k) ASSERT_EQ(vr[(i * 4 + j) * 5 + k], col(i, j, k));
  Eigen::TensorMap<Eigen::Tensor<const float, 3, Eigen::ColMajor>> map(col.data(), 3, 4, 5);
  const auto vm = eigenq::row_major_view(map);
  for (Index f = 0; f < 60; ++f) ASSERT_EQ(vm[f], vr[f]);
}

TEST(EigenView, FromRowMajorRebuildsEachType) {
  std::vector<float> data(24);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i);
  const auto m = eigenq::from_row_major<Eigen::MatrixXf>(data.data(), {4, 6});
  EXPECT_EQ(m(1, 2), 8.0f);
  const auto t = eigenq::from_row_major<Eigen::Tensor<float, 3>>(data.data(), {2, 3, 4});
  EXPECT_EQ(t(1, 2, 3), 23.0f);
  EXPECT_EQ(t(1, 0, 2), 14.0f);
  const auto tr = eigenq::from_row_major<Eigen::Tensor<float, 3, Eigen::RowMajor>>(data.data(), {2, 3, 4});
  EXPECT_EQ(tr(1, 0, 2), 14.0f);
  EXPECT_THROW(eigenq::from_row_major<Eigen::MatrixXf>(data.data(), {2, 3, 4}), eigenq::ShapeError);
  EXPECT_THROW((eigenq::from_row_major<Eigen::Tensor<float, 2>>(data.data(), {2, 3, 4})),
               eigenq::ShapeError);
  EXPECT_THROW(eigenq::from_row_major<Eigen::RowVectorXf>(data.data(), {4, 6}), eigenq::ShapeError);
}

// Quantizing the same logical data from any container gives identical codes
// per channel on any axis, and dequantizes back into the caller's type.
TEST(EigenView, QuantizeIsLayoutIndependent) {
  Eigen::Tensor<float, 4, Eigen::ColMajor> col(2, 3, 5, 7);
  col.setRandom();
  const Eigen::Tensor<float, 4, Eigen::RowMajor> row =
      col.swap_layout().shuffle(Eigen::array<int, 4>{3, 2, 1, 0});
  const auto policy = eigenq::Linear<std::int8_t>::affine();
  for (int axis = 0; axis < 4; ++axis) {
    const auto qc = eigenq::quantize(col, policy, eigenq::PerChannel{axis});
    const auto qr = eigenq::quantize(row, policy, eigenq::PerChannel{axis});
    EXPECT_EQ(qc.unpacked_codes(), qr.unpacked_codes()) << "axis " << axis;
    ASSERT_EQ(qc.params().size(), qr.params().size());
    for (std::size_t k = 0; k < qc.params().size(); ++k) EXPECT_EQ(qc.params()[k], qr.params()[k]);
    const Eigen::Tensor<float, 4, Eigen::ColMajor> back_col = eigenq::dequantize(qc);
    const Eigen::Tensor<float, 4, Eigen::RowMajor> back_row = eigenq::dequantize(qr);
    for (Index i = 0; i < 2; ++i)
      for (Index j = 0; j < 3; ++j)
        for (Index k = 0; k < 5; ++k)
          for (Index l = 0; l < 7; ++l) ASSERT_EQ(back_col(i, j, k, l), back_row(i, j, k, l));
  }
}

TEST(EigenView, MatrixRoundTripThroughEveryType) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(6, 9);
  const auto q = eigenq::quantize<eigenq::Linear<std::int8_t>>(w, eigenq::PerChannel{0});
  const Eigen::MatrixXf a = eigenq::dequantize(q);
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> b = eigenq::dequantize(q);
  const auto c = eigenq::dequantize<Eigen::Tensor<float, 2>>(q);
  for (Index r = 0; r < 6; ++r)
    for (Index col = 0; col < 9; ++col) {
      ASSERT_EQ(a(r, col), b(r, col));
      ASSERT_EQ(a(r, col), c(r, col));
      // Affine per-channel int8: error within half a step of each row's scale.
      const float step = q.params()[static_cast<std::size_t>(r)].scale;
      ASSERT_LE(std::abs(a(r, col) - w(r, col)), 0.5f * step * (1 + 1e-5f));
    }
  // Vectors: a VectorXf is a [n, 1] matrix.
  const Eigen::VectorXf v = Eigen::VectorXf::LinSpaced(10, -1.0f, 2.0f);
  const auto qv = eigenq::quantize(v, eigenq::Linear<std::uint8_t>::affine());
  EXPECT_EQ(qv.shape(), (eigenq::Shape{10, 1}));
  const Eigen::VectorXf vb = eigenq::dequantize(qv);
  EXPECT_LE((vb - v).cwiseAbs().maxCoeff(), 0.5f * qv.params()[0].scale * 1.0001f);
}

TEST(EigenView, FakeQuantizeKeepsTheType) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(4, 4);
  const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerChannel> quantizer(
      eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerChannel{1});
  const Eigen::MatrixXf fq = quantizer.fake_quantize(w);
  const Eigen::MatrixXf direct = eigenq::dequantize(quantizer.quantize(w));
  EXPECT_TRUE(fq.isApprox(direct, 0.0f));
  EXPECT_EQ((fq - direct).cwiseAbs().maxCoeff(), 0.0f);
}

}  // namespace
