#include "eigenq/analysis/sensitivity.hpp"
#include "eigenq/policy/linear.hpp"

#include "analysis_test_util.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace {

eigenq::Scheme int8_per_tensor() {
  return eigenq::make_scheme("int8-per-tensor", eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerTensor>(
                                                    eigenq::Linear<std::int8_t>::symmetric(), eigenq::PerTensor{}));
}

// fc2's weights get a column of huge values that multiplies a unit fc1 never activates
// (zero weights, bias -1, ReLU): the float model does not see them, but one scale per
// tensor stretched over them rounds every other fc2 weight to zero. fc2 is fragile by
// construction and must rank first.
eigenq::MlpModel fragile_fc2(float huge = 300.0f) {
  const eigenq::MlpModel base = eigenq_test::toy_mlp(7);
  eigenq::MlpModel m;
  Eigen::MatrixXf w1 = base.layers()[0].weight;
  Eigen::VectorXf b1 = base.layers()[0].bias;
  w1.row(0).setZero();
  b1(0) = -1.0f;
  Eigen::MatrixXf w2 = base.layers()[1].weight;
  w2.col(0).setConstant(huge);
  m.add_layer("fc1", w1, b1);
  m.add_layer("fc2", w2, base.layers()[1].bias);
  m.add_layer("fc3", base.layers()[2].weight, base.layers()[2].bias, false);
  return m;
}

TEST(Sensitivity, FragileLayerRanksFirst) {
  const eigenq::MlpModel m = fragile_fc2();
  const Eigen::MatrixXf x = eigenq_test::random_matrix(200, 16, 11);
  // The float model does not depend on the huge column.
  ASSERT_TRUE(m.forward(x).isApprox(fragile_fc2(0.0f).forward(x), 1e-6f));
  eigenq::SensitivityOptions opt;
  opt.weight_scheme = int8_per_tensor();
  opt.include_activations = false;
  for (auto mode : {eigenq::SensitivityMode::one_at_a_time, eigenq::SensitivityMode::leave_one_out}) {
    opt.mode = mode;
    const auto rep = eigenq::analyze_sensitivity(m, x, opt);
    ASSERT_EQ(rep.ranked.size(), 3u);
    EXPECT_EQ(rep.ranked[0].point, "fc2.weight") << rep.to_table();
    EXPECT_EQ(rep.ranked[0].rank, 1);
    EXPECT_GT(rep.ranked[0].score, 10.0 * rep.ranked[1].score) << rep.to_table();
    for (std::size_t i = 1; i < rep.ranked.size(); ++i) EXPECT_GE(rep.ranked[i - 1].score, rep.ranked[i].score);
  }
}

// One unit of fc1's output carries a huge constant that fc2 ignores (zero weights): a
// per-tensor uint8 activation scale stretched over it flattens every other unit.
TEST(Sensitivity, FragileActivationRanksFirst) {
  const eigenq::MlpModel base = eigenq_test::toy_mlp(8);
  eigenq::MlpModel m;
  Eigen::MatrixXf w1 = base.layers()[0].weight;
  Eigen::VectorXf b1 = base.layers()[0].bias;
  w1.row(3).setZero();
  b1(3) = 5000.0f;
  Eigen::MatrixXf w2 = base.layers()[1].weight;
  w2.col(3).setZero();
  m.add_layer("fc1", w1, b1);
  m.add_layer("fc2", w2, base.layers()[1].bias);
  m.add_layer("fc3", base.layers()[2].weight, base.layers()[2].bias, false);
  eigenq::SensitivityOptions opt;
  opt.weight_scheme = eigenq::float_scheme();
  opt.per_point["fc1.weight"] = eigenq::float_scheme();
  const auto rep = eigenq::analyze_sensitivity(m, eigenq_test::random_matrix(100, 16, 12), opt);
  ASSERT_EQ(rep.ranked.size(), 6u);
  EXPECT_EQ(rep.ranked[0].point, "fc1.output") << rep.to_table();
  EXPECT_EQ(rep.ranked[0].scheme, "uint8-per-tensor");
  // Float schemes change nothing.
  for (const auto& p : rep.ranked) {
    if (p.scheme == "float32") {
      EXPECT_EQ(p.score, 0.0) << p.point;
    }
  }
}

TEST(Sensitivity, ScoresAreTheMetricAndDeterministic) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(3);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(64, 16, 13);
  eigenq::SensitivityOptions opt;
  opt.weight_scheme = eigenq::schemes::int4_per_group(8);
  const auto a = eigenq::analyze_sensitivity(m, x, opt);
  const auto b = eigenq::analyze_sensitivity(m, x, opt);
  EXPECT_EQ(a.to_json(), b.to_json());
  EXPECT_EQ(a.to_table(), b.to_table());
  // one_at_a_time with the default metric: the score is the output MSE of that point alone.
  const Eigen::MatrixXf ref = m.forward(x);
  const auto points = m.quant_points();
  for (const auto& p : a.ranked) {
    EXPECT_DOUBLE_EQ(p.score, p.output.mse);
    std::size_t idx = 0;
    while (points[idx].name != p.point) ++idx;
    eigenq::PointSchemes config(points.size());
    const eigenq::Scheme& s = points[idx].kind == eigenq::PointKind::weight ? opt.weight_scheme : opt.activation_scheme;
    config.set(idx, &s);
    EXPECT_DOUBLE_EQ(p.score, eigenq::compare(ref, m.forward(x, config)).mse) << p.point;
  }
  const std::string json = a.to_json();
  EXPECT_EQ(json.rfind("{\"mode\":\"one_at_a_time\",\"metric\":\"output_mse\",\"points\":[{\"rank\":1,", 0), 0u) << json;
}

TEST(Sensitivity, LeaveOneOutBaseline) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(4);
  const Eigen::MatrixXf x = eigenq_test::random_matrix(64, 16, 14);
  eigenq::SensitivityOptions opt;
  opt.mode = eigenq::SensitivityMode::leave_one_out;
  opt.weight_scheme = eigenq::schemes::int2_per_group(8);
  const auto rep = eigenq::analyze_sensitivity(m, x, opt);
  EXPECT_GT(rep.baseline, 0.0);
  EXPECT_DOUBLE_EQ(rep.baseline, rep.all_quantized.mse);
  for (const auto& p : rep.ranked) EXPECT_DOUBLE_EQ(p.score, rep.baseline - p.output.mse) << p.point;
  EXPECT_NE(rep.to_table().find("all points quantized"), std::string::npos);
  EXPECT_NE(rep.to_json().find("\"baseline\":"), std::string::npos);
}

// A user metric: accuracy lost against labels (here the float model's own predictions).
TEST(Sensitivity, AccuracyDropMetric) {
  const eigenq::MlpModel m = fragile_fc2();
  const Eigen::MatrixXf x = eigenq_test::random_matrix(300, 16, 15);
  const Eigen::MatrixXf ref = m.forward(x);
  std::vector<eigenq::Index> labels;
  for (Eigen::Index i = 0; i < ref.rows(); ++i) {
    Eigen::Index k = 0;
    ref.row(i).maxCoeff(&k);
    labels.push_back(k);
  }
  EXPECT_EQ(eigenq::argmax_accuracy(ref, labels), 1.0);
  eigenq::SensitivityOptions opt;
  opt.weight_scheme = int8_per_tensor();
  opt.include_activations = false;
  opt.metric = eigenq::accuracy_drop_metric(labels);
  const auto rep = eigenq::analyze_sensitivity(m, x, opt);
  EXPECT_EQ(rep.metric, "accuracy_drop");
  EXPECT_EQ(rep.ranked[0].point, "fc2.weight") << rep.to_table();
  EXPECT_GT(rep.ranked[0].score, 0.3);
  EXPECT_LE(rep.ranked[0].score, 1.0);
  EXPECT_THROW(eigenq::argmax_accuracy(ref, {1, 2}), eigenq::ShapeError);
}

TEST(Sensitivity, BadOptions) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp();
  eigenq::SensitivityOptions opt;
  opt.per_point["fc9.weight"] = eigenq::float_scheme();
  EXPECT_THROW(eigenq::analyze_sensitivity(m, eigenq_test::random_matrix(4, 16, 1), opt), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::analyze_sensitivity(m, Eigen::MatrixXf(0, 16)), eigenq::ShapeError);
  EXPECT_THROW(eigenq::analyze_sensitivity(m, Eigen::MatrixXf::Zero(3, 5)), eigenq::ShapeError);
}

}  // namespace

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>

namespace {

// The report's JSON parses with an independent parser and carries the table's values.
TEST(Sensitivity, JsonParses) {
  const eigenq::MlpModel m = eigenq_test::toy_mlp(9);
  eigenq::SensitivityOptions opt;
  opt.mode = eigenq::SensitivityMode::leave_one_out;
  const auto rep = eigenq::analyze_sensitivity(m, eigenq_test::random_matrix(32, 16, 16), opt);
  const auto j = nlohmann::json::parse(rep.to_json());
  EXPECT_EQ(j.at("mode"), "leave_one_out");
  EXPECT_EQ(j.at("baseline").get<double>(), rep.baseline);
  ASSERT_EQ(j.at("points").size(), rep.ranked.size());
  for (std::size_t i = 0; i < rep.ranked.size(); ++i) {
    EXPECT_EQ(j.at("points")[i].at("point"), rep.ranked[i].point);
    EXPECT_EQ(j.at("points")[i].at("score").get<double>(), rep.ranked[i].score);
    EXPECT_EQ(j.at("points")[i].at("output").at("mse").get<double>(), rep.ranked[i].output.mse);
  }
}

}  // namespace
#endif
