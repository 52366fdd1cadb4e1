// Calibration statistics: the streaming observer, the file (io/calibration_stats.hpp) with every
// validation rule, llama.cpp importance matrices, and a file written by
// examples/python/collect_stats.py.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "eigenq/io/calibration_stats.hpp"
#include "methods/methods_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using eigenq::CalibrationStats;
using eigenq::Index;
using eigenq::io::OwnedTensor;
using eigenq_test::expect_error;

std::string temp_path(const std::string& name) {
  return std::string(::testing::TempDir()) + "eigenq_methods_" + name;
}

TEST(CalibrationStatsObserver, MatchesDirectSumsOverAnyBatches) {
  const Eigen::MatrixXf x = eigenq_test::normal(103, 12, 1);
  eigenq::CalibrationStatsObserver obs(12);
  obs.observe(x.topRows(1));
  obs.observe(x.middleRows(1, 50));
  obs.observe(Eigen::MatrixXf(0, 12));
  obs.observe(x.bottomRows(52));
  const CalibrationStats s = obs.stats();
  const Eigen::MatrixXd xd = x.cast<double>();
  EXPECT_EQ(s.count, 103);
  EXPECT_EQ(obs.batches(), 4);
  EXPECT_TRUE(s.hessian.isApprox(xd.transpose() * xd, 1e-12));
  EXPECT_TRUE(s.hessian.isApprox(s.hessian.transpose(), 0.0));
  EXPECT_TRUE(s.in_sum.isApprox(xd.colwise().sum().transpose(), 1e-12));
  EXPECT_TRUE(s.in_sum2.isApprox(xd.array().square().colwise().sum().matrix().transpose(), 1e-12));
  EXPECT_TRUE(s.in_abs_sum.isApprox(xd.array().abs().colwise().sum().matrix().transpose(), 1e-12));
  EXPECT_EQ(s.in_abs_max, xd.array().abs().colwise().maxCoeff().matrix().transpose());
  EXPECT_TRUE(s.mean_abs().isApprox(s.in_abs_sum / 103.0));
  s.validate();

  // merge() of two runs equals one run over both.
  eigenq::CalibrationStatsObserver a(12), b(12);
  a.observe(x.topRows(40));
  b.observe(x.bottomRows(63));
  const CalibrationStats m = eigenq::merge(a.stats(), b.stats());
  EXPECT_EQ(m.count, 103);
  EXPECT_TRUE(m.hessian.isApprox(s.hessian, 1e-12));
  EXPECT_EQ(m.in_abs_max, s.in_abs_max);

  expect_error<eigenq::ShapeError>([&] { obs.observe(Eigen::MatrixXf::Zero(3, 11)); }, {"[3, 11]", "12"});
  Eigen::MatrixXf bad = x.topRows(4);
  bad(2, 7) = NAN;
  expect_error<eigenq::NonFiniteError>([&] { obs.observe(bad); }, {"row 2", "column 7"});
  obs.reset();
  EXPECT_TRUE(obs.empty());
  expect_error<eigenq::ShapeError>([] { eigenq::CalibrationStatsObserver(0); }, {"'in'"});
}

CalibrationStats sample_stats(Index in, std::uint32_t seed) {
  eigenq::CalibrationStatsObserver obs(in);
  obs.observe(eigenq_test::normal(20, in, seed));
  return obs.stats();
}

TEST(CalibrationStatsFile, RoundTripInBothHessianPrecisions) {
  eigenq::io::CalibrationStatsMap m;
  m["fc1.weight"] = sample_stats(6, 1);
  m["blk.0.attn_q.weight"] = sample_stats(4, 2);
  CalibrationStats partial;  // an imatrix-like subset
  partial.in = 5;
  partial.in_sum2 = Eigen::VectorXd::Constant(5, 2.5);
  partial.count = 7;
  m["fc2.weight"] = partial;
  for (auto dtype : {eigenq::io::DType::f32, eigenq::io::DType::f64}) {
    const std::string path = temp_path("roundtrip.safetensors");
    eigenq::io::CalibrationStatsWriteOptions o;
    o.hessian_dtype = dtype;
    o.file.sync = false;
    eigenq::io::write_calibration_stats(path, m, o);
    const auto back = eigenq::io::read_calibration_stats(path, {{"fc1.weight", 6}, {"blk.0.attn_q.weight", 4},
                                                                {"fc2.weight", 5}, {"other.weight", 9}});
    ASSERT_EQ(back.size(), 3u);
    for (const auto& [name, s] : m) {
      const CalibrationStats& r = back.at(name);
      EXPECT_EQ(r.in, s.in);
      EXPECT_EQ(r.count, s.count);
      EXPECT_EQ(r.has(eigenq::StatsField::hessian), s.has(eigenq::StatsField::hessian));
      const double tol = dtype == eigenq::io::DType::f64 ? 0.0 : 1e-6;
      if (s.hessian.size()) {
        EXPECT_LE((r.hessian - s.hessian).cwiseAbs().maxCoeff(), tol * s.hessian.cwiseAbs().maxCoeff());
      }
      EXPECT_TRUE(r.in_sum2.isApprox(s.in_sum2, 1e-6));
      EXPECT_EQ(r.in_abs_max.size(), s.in_abs_max.size());
      EXPECT_EQ(r.in_sum.size(), s.in_sum.size());
    }
    std::remove(path.c_str());
  }
}

// Writes raw tensors as a safetensors file and expects reading it to fail with E and fragments.
template <class E>
void expect_bad_file(const std::vector<OwnedTensor>& tensors, const std::vector<std::string>& fragments,
                     const std::map<std::string, Index>& weights = {}) {
  const std::string path = temp_path("bad.safetensors");
  eigenq::io::write_safetensors(path, tensors, {}, {false});
  std::vector<std::string> all = fragments;
  all.push_back(path);
  expect_error<E>([&] { eigenq::io::read_calibration_stats(path, weights); }, all);
  std::remove(path.c_str());
}

template <class T>
OwnedTensor tensor(const std::string& name, const eigenq::Shape& shape, std::vector<T> v) {
  return eigenq::io::make_tensor(name, shape, v.data());
}

TEST(CalibrationStatsFile, EveryRuleGivesATypedErrorNamingFileTensorAndField) {
  const auto count = [](std::int64_t c) { return tensor<std::int64_t>("a.weight.count", {1}, {c}); };
  const auto sum2 = [](std::vector<float> v) {
    const Index n = static_cast<Index>(v.size());
    return tensor<float>("a.weight.in_sum2", {n}, std::move(v));
  };
  expect_bad_file<eigenq::FormatError>({count(0), sum2({1, 2})}, {"'a.weight'", "'count'", "count = 0"});
  expect_bad_file<eigenq::FormatError>({count(-3), sum2({1, 2})}, {"'a.weight'", "'count'"});
  expect_bad_file<eigenq::FormatError>({tensor<std::int32_t>("a.weight.count", {1}, {4}), sum2({1, 2})},
                                       {"'a.weight'", "'count'", "I64"});
  expect_bad_file<eigenq::ShapeError>({tensor<std::int64_t>("a.weight.count", {2}, {4, 4}), sum2({1, 2})},
                                      {"'a.weight'", "'count'", "[1]"});
  expect_bad_file<eigenq::FormatError>({count(4), sum2({1, -2})}, {"'a.weight'", "'in_sum2'", "[1]", "negative"});
  expect_bad_file<eigenq::NonFiniteError>({count(4), sum2({1, NAN})}, {"'a.weight'", "'in_sum2'", "[1]"});
  expect_bad_file<eigenq::NonFiniteError>({count(4), sum2({INFINITY, 1})}, {"'a.weight'", "'in_sum2'", "[0]"});
  expect_bad_file<eigenq::ShapeError>({count(4), tensor<float>("a.weight.in_sum2", {2, 1}, {1, 2})},
                                      {"'a.weight'", "'in_sum2'", "[in]"});
  expect_bad_file<eigenq::ShapeError>({count(4), sum2({1, 2}), tensor<float>("a.weight.in_abs_max", {3}, {1, 2, 3})},
                                      {"'a.weight'", "'in_abs_max'", "3 input features", "'in_sum2' has 2"});
  expect_bad_file<eigenq::ShapeError>({tensor<float>("a.weight.hessian", {2, 3}, {1, 0, 0, 0, 1, 0})},
                                      {"'a.weight'", "'hessian'", "square"});
  expect_bad_file<eigenq::FormatError>({tensor<float>("a.weight.hessian", {2, 2}, {1, 0.5f, -0.5f, 1})},
                                       {"'a.weight'", "'hessian'", "not symmetric"});
  expect_bad_file<eigenq::FormatError>({tensor<double>("a.weight.hessian", {2, 2}, {-1, 0, 0, 1})},
                                       {"'a.weight'", "'hessian'", "[0, 0]", "negative"});
  expect_bad_file<eigenq::NonFiniteError>({tensor<double>("a.weight.hessian", {2, 2}, {1, NAN, NAN, 1})},
                                          {"'a.weight'", "'hessian'"});
  expect_bad_file<eigenq::FormatError>({tensor<std::int32_t>("a.weight.in_sum2", {2}, {1, 2})},
                                       {"'a.weight'", "'in_sum2'", "F32 or F64"});
  expect_bad_file<eigenq::FormatError>({count(3), sum2({1, 2}), tensor<float>("a.weight.in_mean", {2}, {1, 2})},
                                       {"'a.weight.in_mean'", "NAME.<field>"});
  expect_bad_file<eigenq::FormatError>({count(3)}, {"'a.weight'", "only a count"});
  expect_bad_file<eigenq::FormatError>({count(3), sum2({1, 2})}, {"'a.weight'", "matches no weight tensor"},
                                       {{"b.weight", 2}});
  expect_bad_file<eigenq::ShapeError>({count(3), sum2({1, 2})}, {"'a.weight'", "2 input features", "has 5"},
                                      {{"a.weight", 5}});

  // Writing refuses invalid statistics too, and leaves no file behind.
  eigenq::io::CalibrationStatsMap m;
  m["x.weight"].in = 2;
  m["x.weight"].in_sum2 = Eigen::Vector2d(1.0, -1.0);
  const std::string path = temp_path("not_written.safetensors");
  expect_error<eigenq::FormatError>([&] { eigenq::io::write_calibration_stats(path, m); }, {path, "'x.weight'", "in_sum2"});
  EXPECT_FALSE(std::ifstream(path).good());
}

// A legacy llama.cpp .dat importance matrix with the given entries.
std::vector<std::uint8_t> legacy_imatrix(const std::vector<std::pair<std::string, std::vector<float>>>& entries, int ncall) {
  std::vector<std::uint8_t> b;
  auto i32 = [&](std::int32_t v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + 4);
  };
  i32(static_cast<std::int32_t>(entries.size()));
  for (const auto& [name, values] : entries) {
    i32(static_cast<std::int32_t>(name.size()));
    b.insert(b.end(), name.begin(), name.end());
    i32(ncall);
    i32(static_cast<std::int32_t>(values.size()));
    for (float v : values) {
      const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
      b.insert(b.end(), p, p + 4);
    }
  }
  return b;
}

TEST(CalibrationStatsFile, FromLlamaCppImatrix) {
  const auto im = eigenq::io::parse_imatrix(legacy_imatrix({{"blk.0.ffn_up.weight", {2, 4, 6, 8}}, {"output.weight", {1, 1}}}, 2));
  const auto stats = eigenq::io::calibration_stats_from_imatrix(im);
  ASSERT_EQ(stats.size(), 2u);
  const CalibrationStats& s = stats.at("blk.0.ffn_up.weight");
  EXPECT_EQ(s.in, 4);
  EXPECT_EQ(s.count, 2);
  // importance = value / ncall; in_sum2 / count = importance.
  EXPECT_TRUE(s.mean_square().isApprox(Eigen::Vector4d(1, 2, 3, 4)));
  EXPECT_FALSE(s.has(eigenq::StatsField::hessian));
  // Written and read back as a statistics file.
  const std::string path = temp_path("from_imatrix.safetensors");
  eigenq::io::write_calibration_stats(path, stats, {eigenq::io::DType::f32, {false}});
  EXPECT_TRUE(eigenq::io::read_calibration_stats(path).at("output.weight").in_sum2.isApprox(Eigen::Vector2d(1, 1)));
  std::remove(path.c_str());
}

// examples/python/collect_stats.py --demo wrote tests/methods/data/collect_stats_demo.safetensors
// for its tiny model (fc1: 8 -> 16, relu, fc2: 16 -> 4) over 3 batches of 10 rows whose inputs are
// x[t, j] = ((7 t + 13 j) mod 17 - 8) / 4: exact in float, so fc1's statistics are known here.
TEST(CalibrationStatsFile, ReadsWhatCollectStatsPyWrites) {
  const std::string path = std::string(EIGENQ_TEST_DATA_DIR) + "/methods/data/collect_stats_demo.safetensors";
  const auto stats = eigenq::io::read_calibration_stats(path, {{"fc1.weight", 8}, {"fc2.weight", 16}});
  ASSERT_EQ(stats.size(), 2u);
  Eigen::MatrixXf x(30, 8);
  for (Index t = 0; t < 30; ++t) {
    for (Index j = 0; j < 8; ++j) x(t, j) = static_cast<float>(((7 * t + 13 * j) % 17) - 8) / 4.0f;
  }
  eigenq::CalibrationStatsObserver obs(8);
  obs.observe(x.topRows(10));
  obs.observe(x.middleRows(10, 10));
  obs.observe(x.bottomRows(10));
  const CalibrationStats want = obs.stats();
  const CalibrationStats& got = stats.at("fc1.weight");
  EXPECT_EQ(got.count, 30);
  EXPECT_EQ(got.hessian, want.hessian);  // exact sums of exact products, F64 in the file
  EXPECT_EQ(got.in_sum, want.in_sum);
  EXPECT_EQ(got.in_sum2, want.in_sum2);
  EXPECT_EQ(got.in_abs_sum, want.in_abs_sum);
  EXPECT_EQ(got.in_abs_max, want.in_abs_max);
  const CalibrationStats& fc2 = stats.at("fc2.weight");
  EXPECT_EQ(fc2.count, 30);
  EXPECT_TRUE(fc2.hessian.diagonal().isApprox(fc2.in_sum2, 1e-6));
  EXPECT_GE(fc2.in_sum.minCoeff(), 0.0);  // after a ReLU
}

}  // namespace
