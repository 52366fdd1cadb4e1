// The error hierarchy: every failure is an eigenq::Error subtype whose message
// says what was wrong and where.
#include "eigenq/core/error.hpp"
#include "eigenq/policy/linear.hpp"
#include "eigenq/policy/linear_real_offset.hpp"
#include "eigenq/quantizer/quantizer.hpp"

#include <gtest/gtest.h>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ios>
#include <sstream>
#include <limits>
#include <stdexcept>
#include <vector>
#include <string>
#include <type_traits>

namespace {

static_assert(std::is_base_of_v<std::runtime_error, eigenq::Error>);
static_assert(std::is_base_of_v<eigenq::Error, eigenq::InvalidArgument>);
static_assert(std::is_base_of_v<eigenq::InvalidArgument, eigenq::ShapeError>);
static_assert(std::is_base_of_v<eigenq::InvalidArgument, eigenq::NonFiniteError>);
static_assert(std::is_base_of_v<eigenq::Error, eigenq::IoError>);
static_assert(std::is_base_of_v<eigenq::Error, eigenq::FormatError>);

template <class E, class F>
std::string expect_throw(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

TEST(Errors, RaiseBuildsTheMessage) {
  const std::string m =
      expect_throw<eigenq::InvalidArgument>([] { eigenq::raise("bits = ", 9, " for ", "int8"); });
  EXPECT_EQ(m, "bits = 9 for int8");
  EXPECT_EQ(expect_throw<eigenq::IoError>([] { eigenq::raise<eigenq::IoError>("x"); }), "x");
}

TEST(Errors, EmptyTensorsOfEveryKind) {
  const auto pol = eigenq::Linear<std::int8_t>::affine();
  for (const auto& m : {Eigen::MatrixXf(0, 0), Eigen::MatrixXf(3, 0), Eigen::MatrixXf(0, 3)}) {
    const std::string msg = expect_throw<eigenq::ShapeError>([&] { eigenq::quantize(m, pol); });
    EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  }
  Eigen::Tensor<float, 3> t(2, 0, 4);
  const std::string msg = expect_throw<eigenq::ShapeError>(
      [&] { eigenq::quantize(t, pol, eigenq::PerChannel{2}); });
  EXPECT_NE(msg.find("[2, 0, 4]"), std::string::npos) << msg;
}

TEST(Errors, NonFiniteInTensorsNamesIndexAndChannel) {
  Eigen::Tensor<float, 3> t(2, 3, 4);
  t.setConstant(1.0f);
  t(1, 2, 0) = -std::numeric_limits<float>::infinity();
  const std::string msg = expect_throw<eigenq::NonFiniteError>(
      [&] { eigenq::quantize(t, eigenq::Linear<std::int8_t>::affine(), eigenq::PerChannel{1}); });
  EXPECT_NE(msg.find("-Inf"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 2, 0]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("channel 2 of axis 1"), std::string::npos) << msg;
}

TEST(Errors, FitErrorsNameTheGroup) {
  const std::string msg = expect_throw<eigenq::InvalidArgument>(
      [] { eigenq::Linear<std::uint8_t>::affine().fit(1.0f, -1.0f); });
  EXPECT_NE(msg.find("min = 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max = -1"), std::string::npos) << msg;
}

TEST(Errors, CodeRangesThatDoNotFit) {
  const std::string msg = expect_throw<eigenq::InvalidArgument>(
      [] { eigenq::Linear<std::uint8_t>::affine().with_range(-1, 255); });
  EXPECT_NE(msg.find("[-1, 255]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0, 255]"), std::string::npos) << msg;
  EXPECT_THROW(eigenq::Linear<std::int16_t>::affine().with_range(-40000, 0), eigenq::InvalidArgument);
  EXPECT_THROW(eigenq::LinearRealOffset<std::uint8_t>().with_range(10, 5), eigenq::InvalidArgument);
}

TEST(Errors, QTensorRejectsInconsistentParts) {
  using Q = eigenq::QTensor<eigenq::Linear<std::int8_t>>;
  const std::vector<std::int8_t> codes(6, 0);
  const eigenq::CodeStorage<std::int8_t> storage(codes.data(), 6, 8);
  EXPECT_THROW(Q(eigenq::Linear<std::int8_t>(), {2, 3}, eigenq::PerChannel{0},
                 {eigenq::LinearParams{}}, storage),
               eigenq::ShapeError);
  EXPECT_THROW(Q(eigenq::Linear<std::int8_t>(), {2, 4}, eigenq::PerTensor{},
                 {eigenq::LinearParams{}}, storage),
               eigenq::ShapeError);
  const Q ok(eigenq::Linear<std::int8_t>(), {2, 3}, eigenq::PerChannel{-1},
             std::vector<eigenq::LinearParams>(3), storage);
  EXPECT_EQ(ok.axis(), 1);
  EXPECT_THROW((ok.dequantize<Eigen::Tensor<float, 3>>()), eigenq::ShapeError);
}

}  // namespace

namespace {

template <class... Parts>
std::string streamed(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

// Messages of strings and numbers skip the stream (compile time) but must read exactly as
// the stream prints them; any other part (here std::hex) goes through a stream.
TEST(ErrorMessage, ReadsAsAnOstreamPrintsIt) {
  const float inf = std::numeric_limits<float>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string name = "fc1.weight";
  const std::int8_t code = 65;
  EXPECT_EQ(eigenq::detail::error_message("tensor '", name, "' axis ", 2, " of ", std::size_t{5}, ": ", 0.1f, " ",
                                          1e-7, " ", -0.0f, " ", inf, " ", -inf, " ", 123456789.0f, " ", true),
            streamed("tensor '", name, "' axis ", 2, " of ", std::size_t{5}, ": ", 0.1f, " ", 1e-7, " ", -0.0f, " ",
                     inf, " ", -inf, " ", 123456789.0f, " ", true));
  EXPECT_EQ(eigenq::detail::error_message(std::int64_t{-9000000000}, code, 'x', std::uint16_t{65535}),
            streamed(std::int64_t{-9000000000}, code, 'x', std::uint16_t{65535}));
  EXPECT_EQ(eigenq::detail::error_message(nan), streamed(nan));
  EXPECT_EQ(eigenq::detail::error_message("0x", std::hex, 255u, std::dec, " ", 10), "0xff 10");
}

}  // namespace
