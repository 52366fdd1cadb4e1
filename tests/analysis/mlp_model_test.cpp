#include "eigenq/analysis/mlp_model.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <string>

namespace {

TEST(MlpModel, ForwardIsLinearReluStack) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp();
  const Eigen::MatrixXf x = eigenq_test::random_matrix(10, 16, 9);
  Eigen::MatrixXf h = x;
  for (const auto& l : m.layers()) {
    Eigen::MatrixXf y = h * l.weight.transpose();
    for (Eigen::Index i = 0; i < y.rows(); ++i) y.row(i) += l.bias.transpose();
    if (l.relu) y = y.cwiseMax(0.0f);
    h = y;
  }
  EXPECT_TRUE(m.forward(x).isApprox(h, 1e-6f));
  EXPECT_EQ(m.inputs(), 16);
  EXPECT_EQ(m.outputs(), 8);
}

TEST(MlpModel, PointsAndSchemes) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp();
  const auto points = m.quant_points();
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].name, "fc1.weight");
  EXPECT_EQ(points[0].kind, eigenq::PointKind::weight);
  EXPECT_EQ(points[0].elements, 32 * 16);
  EXPECT_EQ(points[5].name, "fc3.output");
  EXPECT_EQ(points[5].kind, eigenq::PointKind::activation);
  EXPECT_EQ(m.weight(2), m.layers()[1].weight);
  EXPECT_THROW(m.weight(3), eigenq::InvalidArgument);

  // A weight scheme changes the output exactly as replacing the weight does.
  const eigenq::Scheme s = eigenq::schemes::int4_per_group(8);
  eigenq::PointSchemes config(points.size());
  config.set(2, &s);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(7, 16, 10);
  eigenq::MlpModel replaced;
  for (std::size_t l = 0; l < m.layers().size(); ++l) {
    Eigen::MatrixXf w = m.layers()[l].weight;
    if (l == 1) s.apply(w);
    replaced.add_layer(m.layers()[l].name, w, m.layers()[l].bias, m.layers()[l].relu);
  }
  EXPECT_EQ(m.forward(x, config), replaced.forward(x));
  EXPECT_NE(m.forward(x, config), m.forward(x));
}

TEST(MlpModel, ShapeErrors) {
  eigenq::MlpModel m;
  EXPECT_THROW(m.forward(Eigen::MatrixXf::Zero(1, 1)), eigenq::InvalidArgument);
  m.add_layer("a", Eigen::MatrixXf::Zero(4, 3), Eigen::VectorXf::Zero(4));
  EXPECT_THROW(m.add_layer("b", Eigen::MatrixXf::Zero(2, 5), Eigen::VectorXf::Zero(2)), eigenq::ShapeError);
  EXPECT_THROW(m.add_layer("b", Eigen::MatrixXf::Zero(2, 4), Eigen::VectorXf::Zero(3)), eigenq::ShapeError);
  EXPECT_THROW(m.add_layer("a", Eigen::MatrixXf::Zero(2, 4), Eigen::VectorXf::Zero(2)), eigenq::InvalidArgument);
  try {
    m.forward(Eigen::MatrixXf::Zero(2, 5));
    FAIL();
  } catch (const eigenq::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

}  // namespace
