// Every policy at every granularity on Gaussian, Laplacian and uniform data
// (and log-normal, where the unsigned log policy applies) at 2, 3, 4 and 8
// bits: prints MSE, SQNR and true storage (bits per weight, parameters
// included) as a table, and asserts the orderings theory guarantees.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
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

using eigenq::Granularity;
using eigenq::Index;
using eigenq_test::Distribution;
using eigenq_test::RowMatrix;

constexpr int kBits[] = {2, 3, 4, 8};
const char* const kGranularities[] = {"tensor", "channel", "group32"};

Granularity granularity(const std::string& name) {
  if (name == "tensor") return eigenq::PerTensor{};
  if (name == "channel") return eigenq::PerChannel{0};
  return eigenq::PerGroup{1, 32};
}

struct Outcome {
  double mse = 0.0;
  double bits_per_weight = 0.0;  // storage_bytes() * 8 / elements
};

// A policy at a granularity, or nothing where it does not apply.
using Runner = std::function<std::optional<Outcome>(const RowMatrix&, int bits, const Granularity&)>;

template <class Q>
Outcome measure(const Q& qt, const RowMatrix& w) {
  const RowMatrix back = eigenq::dequantize(qt);
  const double n = static_cast<double>(w.size());
  return {(back - w).squaredNorm() / n, 8.0 * static_cast<double>(qt.storage_bytes()) / n};
}

template <class Policy>
std::optional<Outcome> fake_quant(const Policy& policy, const RowMatrix& w, const Granularity& g) {
  const eigenq::Quantizer<Policy, Granularity> q(policy, g);
  return measure(q.quantize(w), w);
}

struct Row {
  std::string name;
  Runner run;
};

std::vector<Row> policies() {
  std::vector<Row> rows;
  rows.push_back({"linear-affine", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::Linear<std::int8_t>::affine().with_bits(b), w, g);
                  }});
  rows.push_back({"linear-symmetric", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::Linear<std::int8_t>::symmetric().with_bits(b), w, g);
                  }});
  rows.push_back({"linear-real-offset", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::LinearRealOffset<std::uint8_t>().with_bits(b), w, g);
                  }});
  rows.push_back({"linear-sym+8bit-scales", [](const RowMatrix& w, int b, const Granularity& g) -> std::optional<Outcome> {
                    if (g.kind != Granularity::Kind::group) return std::nullopt;
                    const eigenq::Quantizer<eigenq::Linear<std::int8_t>, eigenq::PerGroup> q(
                        eigenq::Linear<std::int8_t>::symmetric().with_bits(b), eigenq::PerGroup{g.axis, g.group_size});
                    const auto dq = eigenq::double_quantize(q, w, 8);
                    Outcome o = measure(dq.tensor, w);
                    o.bits_per_weight = 8.0 * static_cast<double>(dq.storage_bytes()) / static_cast<double>(w.size());
                    return o;
                  }});
  rows.push_back({"log", [](const RowMatrix& w, int b, const Granularity& g) -> std::optional<Outcome> {
                    if (w.minCoeff() <= 0.0f) return std::nullopt;  // needs positive data
                    return fake_quant(eigenq::Log<std::uint8_t>().with_bits(b), w, g);
                  }});
  rows.push_back({"log-signed", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::LogSigned<std::int8_t>().with_bits(b), w, g);
                  }});
  rows.push_back({"log2", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::Log2<std::int8_t>().with_bits(b), w, g);
                  }});
  rows.push_back({"exp", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::Exp<std::uint8_t>().with_bits(b), w, g);
                  }});
  rows.push_back({"codebook", [](const RowMatrix& w, int b, const Granularity& g) {
                    return fake_quant(eigenq::Codebook<std::uint8_t>().with_bits(b), w, g);
                  }});
  return rows;
}

// results[policy][granularity][bits] = MSE
using Results = std::map<std::string, std::map<std::string, std::map<int, double>>>;

Results run_table(Distribution d, const RowMatrix& w) {
  const double power = w.squaredNorm() / static_cast<double>(w.size());
  Results results;
  std::printf("\n%s data, %lld x %lld, rows scaled by 2^U(-3, 3); MSE, SQNR (dB), storage bits/weight\n",
              eigenq_test::to_string(d), static_cast<long long>(w.rows()), static_cast<long long>(w.cols()));
  std::printf("%-24s %-8s", "policy", "granul.");
  for (int b : kBits) std::printf(" | %d-bit MSE    SQNR   b/w", b);
  std::printf("\n");
  for (const Row& row : policies()) {
    for (const char* gname : kGranularities) {
      std::string line;
      char cell[64];
      bool any = false;
      for (int b : kBits) {
        const std::optional<Outcome> e = row.run(w, b, granularity(gname));
        if (e) {
          results[row.name][gname][b] = e->mse;
          std::snprintf(cell, sizeof cell, " | %9.3e %6.2f %5.2f", e->mse, eigenq_test::sqnr_db(power, e->mse),
                        e->bits_per_weight);
          any = true;
        } else {
          std::snprintf(cell, sizeof cell, " | %22s", "n/a");
        }
        line += cell;
      }
      if (any) std::printf("%-24s %-8s%s\n", row.name.c_str(), gname, line.c_str());
    }
  }
  std::fflush(stdout);
  return results;
}

class PolicyComparison : public ::testing::TestWithParam<Distribution> {};

TEST_P(PolicyComparison, TableAndOrderings) {
  const Distribution d = GetParam();
  const RowMatrix w = eigenq_test::with_channel_scales(eigenq_test::sample_matrix(d, 64, 512, 2024), 7);
  const Results r = run_table(d, w);

  for (const char* lin : {"linear-affine", "linear-symmetric", "linear-real-offset"}) {
    for (int b : kBits) {
      // Channels with different ranges: a channel's own range is never wider
      // than the tensor's, so its grid is never coarser (likewise for groups).
      EXPECT_LE(r.at(lin).at("channel").at(b), r.at(lin).at("tensor").at(b)) << lin << " " << b << " bits";
      EXPECT_LE(r.at(lin).at("group32").at(b), r.at(lin).at("tensor").at(b)) << lin << " " << b << " bits";
    }
    for (const char* g : kGranularities) {
      // More bits never hurt a linear quantizer on the same range.
      for (std::size_t i = 0; i + 1 < std::size(kBits); ++i) {
        EXPECT_LE(r.at(lin).at(g).at(kBits[i + 1]), r.at(lin).at(g).at(kBits[i])) << lin << " " << g;
      }
    }
  }
  if (d == Distribution::gaussian || d == Distribution::laplacian) {
    // Lloyd-Max on a log-concave density converges to the MSE-optimal k
    // levels, which beat the uniform grid of the same count; each channel is
    // one such density (the tensor, a scale mixture, is checked per channel).
    for (int b : kBits) {
      for (const char* lin : {"linear-affine", "linear-symmetric", "linear-real-offset"}) {
        EXPECT_LE(r.at("codebook").at("channel").at(b), r.at(lin).at("channel").at(b)) << lin << " " << b << " bits";
      }
      EXPECT_LE(r.at("codebook").at("channel").at(b), r.at("codebook").at("tensor").at(b)) << b << " bits";
    }
    for (const char* g : kGranularities) {
      for (std::size_t i = 0; i + 1 < std::size(kBits); ++i) {
        EXPECT_LE(r.at("codebook").at(g).at(kBits[i + 1]), r.at("codebook").at(g).at(kBits[i])) << g;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Distributions, PolicyComparison,
                         ::testing::Values(Distribution::gaussian, Distribution::laplacian, Distribution::uniform,
                                           Distribution::lognormal),
                         [](const ::testing::TestParamInfo<Distribution>& info) {
                           return std::string(eigenq_test::to_string(info.param));
                         });

}  // namespace
