#include "eigenq/nn/to_mlp_model.hpp"

#include "support/random_data.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

namespace {

TEST(SequentialModel, ConvertsLinearReluStacks) {
  eigenq::nn::Sequential seq;
  seq.add(eigenq::nn::FloatLinear(eigenq_test::random_matrix(12, 6, 1), eigenq_test::random_matrix(12, 1, 2)));
  seq.add(eigenq::nn::ReLU());
  seq.add(eigenq::nn::FloatLinear(eigenq_test::random_matrix(4, 12, 3), eigenq_test::random_matrix(4, 1, 4)));
  const eigenq::MlpModel m = eigenq::to_mlp_model(seq);
  ASSERT_EQ(m.layers().size(), 2u);
  EXPECT_TRUE(m.layers()[0].relu);
  EXPECT_FALSE(m.layers()[1].relu);
  const auto points = m.quant_points();
  EXPECT_EQ(points[0].name, "fc1.weight");
  EXPECT_EQ(points[3].name, "fc2.output");
  const Eigen::MatrixXf x = eigenq_test::random_matrix(9, 6, 5);
  const eigenq::nn::Matrix xr = x;
  const Eigen::MatrixXf expected = seq.forward(xr);
  EXPECT_TRUE(m.forward(x).isApprox(expected, 1e-6f));
}

TEST(SequentialModel, RejectsOtherLayouts) {
  eigenq::nn::Sequential relu_first;
  relu_first.add(eigenq::nn::ReLU());
  EXPECT_THROW(eigenq::to_mlp_model(relu_first), eigenq::InvalidArgument);
  eigenq::nn::Sequential two_relus;
  two_relus.add(eigenq::nn::FloatLinear(eigenq_test::random_matrix(3, 3, 1), Eigen::VectorXf::Zero(3)));
  two_relus.add(eigenq::nn::ReLU());
  two_relus.add(eigenq::nn::ReLU());
  EXPECT_THROW(eigenq::to_mlp_model(two_relus), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::to_mlp_model(eigenq::nn::Sequential()), eigenq::InvalidArgument);
}

}  // namespace
