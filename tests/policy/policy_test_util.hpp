// Shared helpers of the policy tests: seeded data generators and error metrics.
// Generators draw from std::mt19937_64 words through our own transforms, so the
// data is the same with every standard library.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>
#include <unsupported/Eigen/CXX11/Tensor>

#include "eigenq/core/shape.hpp"
#include "eigenq/kernels/elementwise.hpp"  // the policies' bulk loops run the SIMD kernels here
#include "eigenq/core/types.hpp"

namespace eigenq_test {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

enum class Distribution { gaussian, laplacian, uniform, lognormal };

inline const char* to_string(Distribution d) {
  switch (d) {
    case Distribution::gaussian: return "gaussian";
    case Distribution::laplacian: return "laplacian";
    case Distribution::uniform: return "uniform";
    case Distribution::lognormal: return "lognormal";
  }
  return "?";
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  // (0, 1): never 0, so logs stay finite.
  double open01() { return (static_cast<double>(engine_() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * open01(); }
  std::int64_t integer(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(engine_() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  // Box-Muller, one value per call.
  double gaussian() {
    const double u = open01();
    const double v = open01();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
  }
  // Unit variance Laplace: scale 1/sqrt(2).
  double laplacian() {
    const double u = open01() - 0.5;
    const double sign = u < 0 ? -1.0 : 1.0;
    return -sign * std::log(1.0 - 2.0 * std::fabs(u)) / std::sqrt(2.0);
  }
  double draw(Distribution d) {
    switch (d) {
      case Distribution::gaussian: return gaussian();
      case Distribution::laplacian: return laplacian();
      case Distribution::uniform: return uniform(-1.0, 1.0);
      case Distribution::lognormal: return std::exp(gaussian());
    }
    return 0.0;
  }

 private:
  std::mt19937_64 engine_;
};

inline std::vector<float> sample(Distribution d, std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.draw(d));
  return v;
}

inline RowMatrix sample_matrix(Distribution d, eigenq::Index rows, eigenq::Index cols, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix m(rows, cols);
  for (eigenq::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.draw(d));
  return m;
}

// Rows scaled by factors spread over 2^-3 .. 2^3: channels with different ranges.
inline RowMatrix with_channel_scales(RowMatrix m, std::uint64_t seed) {
  Rng rng(seed);
  for (eigenq::Index r = 0; r < m.rows(); ++r) m.row(r) *= static_cast<float>(std::exp2(rng.uniform(-3.0, 3.0)));
  return m;
}

inline double mse(const float* a, const float* b, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = double{a[i]} - double{b[i]};
    s += d * d;
  }
  return s / static_cast<double>(n);
}

inline double mse(const std::vector<float>& a, const std::vector<float>& b) {
  return mse(a.data(), b.data(), a.size());
}

inline double power(const float* a, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += double{a[i]} * double{a[i]};
  return s / static_cast<double>(n);
}

inline double sqnr_db(double signal_power, double noise) {
  return noise > 0.0 ? 10.0 * std::log10(signal_power / noise) : INFINITY;
}

// A random shape of rank 1..max_rank with dimensions 1..max_dim.
inline eigenq::Shape random_shape(Rng& rng, int max_rank, eigenq::Index max_dim) {
  const int rank = static_cast<int>(rng.integer(1, max_rank));
  eigenq::Shape s(static_cast<std::size_t>(rank));
  for (auto& d : s) d = rng.integer(1, max_dim);
  return s;
}

// Quantizes row-major data of any rank 1..3 (as a TensorMap of that rank).
template <class Quantizer>
auto quantize_shaped(const Quantizer& q, const std::vector<float>& data, const eigenq::Shape& shape) {
  using Map1 = Eigen::TensorMap<const Eigen::Tensor<const float, 1, Eigen::RowMajor, eigenq::Index>>;
  using Map2 = Eigen::TensorMap<const Eigen::Tensor<const float, 2, Eigen::RowMajor, eigenq::Index>>;
  using Map3 = Eigen::TensorMap<const Eigen::Tensor<const float, 3, Eigen::RowMajor, eigenq::Index>>;
  switch (shape.size()) {
    case 1: return q.quantize(Map1(data.data(), shape[0]));
    case 2: return q.quantize(Map2(data.data(), shape[0], shape[1]));
    default: return q.quantize(Map3(data.data(), shape[0], shape[1], shape[2]));
  }
}

template <class Quantizer, class Params>
auto quantize_shaped(const Quantizer& q, const std::vector<float>& data, const eigenq::Shape& shape,
                     std::vector<Params> params) {
  using Map1 = Eigen::TensorMap<const Eigen::Tensor<const float, 1, Eigen::RowMajor, eigenq::Index>>;
  using Map2 = Eigen::TensorMap<const Eigen::Tensor<const float, 2, Eigen::RowMajor, eigenq::Index>>;
  using Map3 = Eigen::TensorMap<const Eigen::Tensor<const float, 3, Eigen::RowMajor, eigenq::Index>>;
  switch (shape.size()) {
    case 1: return q.quantize(Map1(data.data(), shape[0]), std::move(params));
    case 2: return q.quantize(Map2(data.data(), shape[0], shape[1]), std::move(params));
    default: return q.quantize(Map3(data.data(), shape[0], shape[1], shape[2]), std::move(params));
  }
}

}  // namespace eigenq_test
