// eigenq's flagship demo: train a small MLP on the UCI handwritten digits,
// quantize it every way eigenq knows, and show what each way costs.
//
//   eigenq_demo [--data path/to/digits.csv] [--out DIR] [--splits N]
//
// Prints one table (accuracy, size, weight and output SQNR, latency per batch)
// for float, int8 dynamic (PyTorch's quantize_dynamic), int8 static
// full-integer (TFLite's int8 conversion), int4 grouped, log and codebook
// weights, per-tensor against per-channel, and mixed-precision models chosen
// under an average of 4 bits per weight (per output channel, and per layer);
// then the per-layer sensitivity and the mixed-precision choices; then the
// headline models' accuracy on N (default 5) more train/test splits, since a
// single 450-image test set cannot separate models an image or two apart.
// With --out DIR it also writes DIR/results.csv and DIR/accuracy_vs_size.svg.
#include <eigenq/analysis/metrics.hpp>
#include <eigenq/analysis/mixed_precision.hpp>
#include <eigenq/analysis/sensitivity.hpp>
#include <eigenq/nn/to_mlp_model.hpp>
#include <eigenq/kernels/isa.hpp>
#include <eigenq/version.hpp>
#include <eigenq/nn/convert.hpp>
#include <eigenq/policy/codebook.hpp>
#include <eigenq/policy/log.hpp>

#include "digits.hpp"
#include "results_chart.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifndef EIGENQ_DIGITS_CSV
#define EIGENQ_DIGITS_CSV "examples/data/digits.csv"
#endif

namespace {

using eigenq::nn::Matrix;
using eigenq::nn::Sequential;
namespace ls = eigenq::nn::layer_schemes;

struct Row {
  std::string model;
  std::string description;
  double avg_bits = 0;
  std::size_t bytes = 0;
  double accuracy = 0;
  double weight_sqnr_db = 0;
  double output_sqnr_db = 0;
  double latency_us = 0;
};

// A scheme under one name for both uses: the analysis (fake quantization, to
// measure sensitivity and choose a mix) and the conversion (a real layer).
struct Candidate {
  eigenq::Scheme analysis;
  eigenq::nn::LayerScheme layer;
};

// int4 in groups of G with f16 scales, as GroupedLinear stores them: the
// analysis twin of layer_schemes::int4_grouped(G).
eigenq::Scheme int4_grouped_f16(eigenq::Index group) {
  using Lin8 = eigenq::Linear<std::int8_t>;
  const eigenq::Quantizer<Lin8, eigenq::PerGroup> q(Lin8::symmetric().with_bits(4), eigenq::PerGroup{1, group});
  eigenq::Scheme s;
  s.name = "int4-g" + std::to_string(group);
  s.fake_quantize = [group](Eigen::MatrixXf& w) {
    eigenq::nn::GroupedLinearOptions o;
    o.group_size = group;
    w = eigenq::nn::GroupedLinear(w, Eigen::VectorXf::Zero(w.rows()), o).dequantized_weight();
  };
  s.storage_bits = [q](const Eigen::MatrixXf& w) {
    const auto t = q.quantize(w);
    return 8 * static_cast<std::int64_t>(t.codes().bytes()) + 16 * static_cast<std::int64_t>(t.params().size());
  };
  s.rows_independent = true;  // groups run inside each row
  return s;
}

template <class Policy, class G>
Candidate weight_only(const std::string& name, eigenq::Quantizer<Policy, G> q) {
  return {eigenq::make_scheme(name, q), ls::weight_only(name, q)};
}

using Lin8 = eigenq::Linear<std::int8_t>;

eigenq::Quantizer<Lin8, eigenq::PerChannel> per_row(int bits) {
  return eigenq::Quantizer<Lin8, eigenq::PerChannel>(Lin8::symmetric().with_bits(bits), eigenq::PerChannel{0});
}

eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerTensor> book(int bits) {
  return eigenq::Quantizer<eigenq::Codebook<std::uint8_t>, eigenq::PerTensor>(eigenq::Codebook<std::uint8_t>().with_bits(bits), eigenq::PerTensor{});
}

// Candidates chosen per output channel: each quantizes rows independently.
std::vector<Candidate> channel_candidates() {
  std::vector<Candidate> c = {
      {eigenq::schemes::int8_per_channel(), ls::int8_dynamic()},
      {int4_grouped_f16(32), ls::int4_grouped(32)},
  };
  for (int bits : {2, 3, 4, 5, 6}) c.push_back(weight_only("int" + std::to_string(bits) + "-per-channel", per_row(bits)));
  return c;
}

// Candidates chosen per layer: also per-tensor codebooks.
std::vector<Candidate> layer_candidates() {
  return {
      {eigenq::schemes::int8_per_channel(), ls::int8_dynamic()},
      {int4_grouped_f16(32), ls::int4_grouped(32)},
      {int4_grouped_f16(128), ls::int4_grouped(128)},
      weight_only("int3-per-channel", per_row(3)),
      weight_only("int4-per-channel", per_row(4)),
      weight_only("int2-g32", eigenq::Quantizer<Lin8, eigenq::PerGroup>(Lin8::symmetric().with_bits(2),
                                                                        eigenq::PerGroup{1, 32})),
      weight_only("codebook-4bit", book(4)),
      weight_only("codebook-3bit", book(3)),
      weight_only("codebook-2bit", book(2)),
  };
}

struct MixedModel {
  eigenq::MixedPrecisionResult choice;
  Sequential model;
};

// Mixed precision under 4 bits per weight (codes, parameters and any channel -> scheme map
// included): sensitivity = output MSE on the calibration images with one block quantized,
// choice exact (DP), then converted to real layers.
eigenq::MixedPrecisionResult choose_mix(const Sequential& model, const Matrix& calibration,
                                        const std::vector<Candidate>& candidates, eigenq::Index rows_per_block) {
  eigenq::MixedPrecisionOptions o;
  for (const auto& c : candidates) o.candidates.push_back(c.analysis);
  o.front_samples = 8;
  o.rows_per_block = rows_per_block;
  return eigenq::choose_mixed_precision(eigenq::to_mlp_model(model), calibration, eigenq::Budget::average_bits(4.0), o);
}

std::vector<eigenq::nn::LayerScheme> layer_schemes_of(const std::vector<Candidate>& candidates) {
  std::vector<eigenq::nn::LayerScheme> out;
  for (const auto& c : candidates) out.push_back(c.layer);
  return out;
}

// One scheme per output channel: a row's bits follow how much its neuron matters.
MixedModel mixed_per_channel(const Sequential& model, const Matrix& calibration) {
  const auto candidates = channel_candidates();
  MixedModel m{choose_mix(model, calibration, candidates, 1), {}};
  std::vector<std::vector<std::string>> plan;
  for (const auto& c : m.choice.choices) plan.push_back(c.row_schemes);
  m.model = eigenq::nn::quantize_mixed_per_channel(model, plan, layer_schemes_of(candidates));
  return m;
}

MixedModel mixed_per_layer(const Sequential& model, const Matrix& calibration) {
  const auto candidates = layer_candidates();
  MixedModel m{choose_mix(model, calibration, candidates, 0), {}};
  std::vector<std::string> plan;
  for (const auto& c : m.choice.choices) plan.push_back(c.scheme);
  m.model = eigenq::nn::quantize_mixed(model, plan, layer_schemes_of(candidates));
  return m;
}

// All weights of all layers, flattened: for the weight SQNR.
Eigen::VectorXf all_weights(const Sequential& m) {
  std::vector<float> v;
  for (std::size_t i = 0; i < m.size(); ++i) {
    const Eigen::MatrixXf w = m[i].dequantized_weight();
    v.insert(v.end(), w.data(), w.data() + w.size());
  }
  return Eigen::Map<const Eigen::VectorXf>(v.data(), static_cast<Eigen::Index>(v.size()));
}

Eigen::Index bias_count(const Sequential& m) {
  Eigen::Index n = 0;
  for (std::size_t i = 0; i < m.size(); ++i) n += m[i].dequantized_weight().rows();
  return n;
}

// Median wall time of forward() on the whole test set.
double latency_us(const Sequential& m, const Matrix& x) {
  std::vector<double> t;
  for (int rep = 0; rep < 31; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    const Matrix y = m(x);
    const auto t1 = std::chrono::steady_clock::now();
    if (y.rows() != x.rows()) std::abort();
    t.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::nth_element(t.begin(), t.begin() + 15, t.end());
  return t[15];
}

Row evaluate(const std::string& name, const std::string& description, const Sequential& m,
             const Sequential& reference, const digits::Split& data) {
  Row r;
  r.model = name;
  r.description = description;
  const Matrix logits = m(data.x_test);
  r.accuracy = 100.0 * digits::accuracy(logits, data.y_test);
  r.bytes = m.weight_bytes();
  const std::size_t bias_bytes = sizeof(float) * static_cast<std::size_t>(bias_count(m));
  r.avg_bits = 8.0 * static_cast<double>(r.bytes - bias_bytes) / static_cast<double>(m.weight_count());
  r.weight_sqnr_db = eigenq::compare(all_weights(reference), all_weights(m)).sqnr_db;
  r.output_sqnr_db = eigenq::compare(reference(data.x_test), logits).sqnr_db;
  r.latency_us = latency_us(m, data.x_test);
  return r;
}

std::string db(double v) {
  char buf[32];
  if (v > 1e9) return "inf";
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The headline comparisons again on other random 75/25 splits, each with a model trained on
// it: one test set of 450 images resolves 0.22 points, so one split cannot tell schemes
// apart that differ by an image or two.
void accuracy_over_splits(const std::string& path, int splits) {
  const std::vector<std::string> names = {"float", "int8-dynamic", "int4-grouped", "mixed-4bit", "mixed-4bit-per-layer"};
  std::vector<std::vector<int>> correct(names.size());
  std::vector<double> sqnr_sum(names.size(), 0.0);
  int tested = 0;
  for (int split = 1; split <= splits; ++split) {
    const digits::Split data = digits::load(path, static_cast<unsigned>(split));
    const Sequential model = digits::train_mlp(data, {64, 128, 64, 10});
    const std::vector<Sequential> models = {model, eigenq::nn::quantize_dynamic(model), eigenq::nn::quantize_grouped(model),
                                            mixed_per_channel(model, data.x_train).model,
                                            mixed_per_layer(model, data.x_train).model};
    const auto n = static_cast<int>(data.x_test.rows());
    tested += n;
    const Matrix reference = model(data.x_test);
    for (std::size_t m = 0; m < models.size(); ++m) {
      const Matrix logits = models[m](data.x_test);
      correct[m].push_back(static_cast<int>(std::lround(digits::accuracy(logits, data.y_test) * n)));
      if (m > 0) sqnr_sum[m] += eigenq::compare(reference, logits).sqnr_db;
    }
  }
  std::printf("Test accuracy on %d more random 75/25 splits (seeds 1..%d), a model trained on each:\n%-22s", splits,
              splits, "model");
  for (int split = 1; split <= splits; ++split) std::printf("  split %d", split);
  std::printf("  all %d test images  mean out SQNR\n", tested);
  for (std::size_t m = 0; m < names.size(); ++m) {
    std::printf("%-22s", names[m].c_str());
    int total = 0;
    for (int c : correct[m]) {
      std::printf("  %6.2f%%", 100.0 * c / (tested / splits));
      total += c;
    }
    std::printf("  %6.2f%% (%d)", 100.0 * total / tested, total);
    std::printf(m == 0 ? "          inf\n" : "  %8.1f dB\n", sqnr_sum[m] / splits);
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // The latency column times the layers, not glibc giving the heap's top back to the system
  // after each forward pass and faulting it in again on the next: hundreds of us a pass on a
  // VM, on or off for a row depending on the heap's history.
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
#endif
  try {
    std::string data_path = EIGENQ_DIGITS_CSV;
    std::string out_dir;
    int splits = 5;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--out" && i + 1 < argc) out_dir = argv[++i];
      else if (a == "--data" && i + 1 < argc) data_path = argv[++i];
      else if (a == "--splits" && i + 1 < argc) splits = std::max(0, std::atoi(argv[++i]));
      else {
        std::fprintf(stderr, "usage: %s [--data digits.csv] [--out DIR] [--splits N]\n", argv[0]);
        return 2;
      }
    }

    const digits::Split data = digits::load(data_path);
    const auto t0 = std::chrono::steady_clock::now();
    const Sequential model = digits::train_mlp(data, {64, 128, 64, 10});
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("eigenq %s digits demo: MLP 64-128-64-10 trained in %.2f s on %lld images (ISA %s)\n",
                eigenq::version_string(), train_s, static_cast<long long>(data.x_train.rows()),
                eigenq::kernels::to_string(eigenq::kernels::active_isa()));
    std::printf("test set: %lld images, latency = one forward pass over all of them, single thread\n\n",
                static_cast<long long>(data.x_test.rows()));

    // Calibration data: the training images, in batches of 64.
    std::vector<Matrix> calibration;
    for (Eigen::Index r = 0; r < data.x_train.rows(); r += 64) {
      calibration.push_back(data.x_train.middleRows(r, std::min<Eigen::Index>(64, data.x_train.rows() - r)));
    }

    const auto per_tensor = [](Lin8 p) { return eigenq::Quantizer<Lin8, eigenq::PerTensor>(p, eigenq::PerTensor{}); };

    std::vector<Row> rows;
    rows.push_back(evaluate("float", "float32", model, model, data));
    rows.push_back(evaluate("int8-dynamic", "int8 dynamic, per-channel weights", eigenq::nn::quantize_dynamic(model),
                            model, data));
    eigenq::nn::DynamicLinearOptions tensor_weights;
    tensor_weights.per_channel_weights = false;
    rows.push_back(evaluate("int8-dynamic-per-tensor", "int8 dynamic, per-tensor weights",
                            eigenq::nn::quantize_dynamic(model, tensor_weights), model, data));
    rows.push_back(evaluate("int8-static", "int8 static full-integer (TFLite)",
                            eigenq::nn::quantize_static(model, calibration), model, data));
    rows.push_back(evaluate("int4-grouped", "int4 groups of 32, f16 scales (int4 GEMV)", eigenq::nn::quantize_grouped(model),
                            model, data));
    rows.push_back(evaluate("int4-per-channel", "int4 per channel (weight-only)",
                            eigenq::nn::quantize_mixed(model, std::vector<eigenq::nn::LayerScheme>(
                                3, ls::weight_only("int4-per-channel", per_row(4)))),
                            model, data));
    rows.push_back(evaluate("int4-per-tensor", "int4 per tensor (weight-only)",
                            eigenq::nn::quantize_mixed(model, std::vector<eigenq::nn::LayerScheme>(
                                3, ls::weight_only("int4-per-tensor", per_tensor(Lin8::symmetric().with_bits(4))))),
                            model, data));
    using LogS = eigenq::LogSigned<std::int8_t>;
    rows.push_back(evaluate("log-4bit", "signed log 4-bit per channel (weight-only)",
                            eigenq::nn::quantize_mixed(model, std::vector<eigenq::nn::LayerScheme>(
                                3, ls::weight_only("log-4bit", eigenq::Quantizer<LogS, eigenq::PerChannel>(
                                                                   LogS().with_bits(4), eigenq::PerChannel{0})))),
                            model, data));
    for (int bits : {4, 3}) {
      const std::string name = "codebook-" + std::to_string(bits) + "bit";
      rows.push_back(evaluate(name, "k-means codebook " + std::to_string(bits) + "-bit per tensor (weight-only)",
                              eigenq::nn::quantize_mixed(model, std::vector<eigenq::nn::LayerScheme>(
                                                                    3, ls::weight_only(name, book(bits)))),
                              model, data));
    }

    const MixedModel mixed = mixed_per_channel(model, data.x_train);
    rows.push_back(evaluate("mixed-4bit", "mixed <= 4 bits/weight, chosen per output channel", mixed.model, model, data));
    const MixedModel mixed_layers = mixed_per_layer(model, data.x_train);
    std::string plan_text;
    for (const auto& c : mixed_layers.choice.choices) plan_text += (plan_text.empty() ? "" : " / ") + c.scheme;
    rows.push_back(evaluate("mixed-4bit-per-layer", "mixed <= 4 bits/weight per layer: " + plan_text,
                            mixed_layers.model, model, data));

    std::printf("%-24s %8s %9s %8s %9s %9s %11s  %s\n", "model", "accuracy", "bytes", "bits/w", "w SQNR",
                "out SQNR", "latency", "scheme");
    for (const Row& r : rows) {
      std::printf("%-24s %7.2f%% %9zu %8.2f %9s %9s %8.0f us  %s\n", r.model.c_str(), r.accuracy, r.bytes,
                  r.avg_bits, db(r.weight_sqnr_db).c_str(), db(r.output_sqnr_db).c_str(), r.latency_us,
                  r.description.c_str());
    }
    std::printf("\nbytes: weights and biases as stored; bits/w: weight storage (codes, scales, zero points,\n"
                "codebooks) per weight; SQNR in dB against the float model.\n\n");

    eigenq::SensitivityOptions sopt;
    sopt.weight_scheme = eigenq::schemes::int4_per_group(32);
    const auto sensitivity = eigenq::analyze_sensitivity(eigenq::to_mlp_model(model), data.x_train, sopt);
    std::printf("Per-layer sensitivity: one point quantized at a time (weights int4 groups of 32,\n"
                "activations uint8 per tensor), output MSE against the float model, most sensitive first\n%s\n",
                sensitivity.to_table().c_str());
    std::printf("Mixed precision under 4 bits/weight, per output channel (exact DP over every channel x candidate;\n"
                "scheme = candidate:channels)\n%s\n",
                mixed.choice.to_table().c_str());
    std::printf("Mixed precision under 4 bits/weight, per layer (exact DP over every layer x candidate)\n%s\n",
                mixed_layers.choice.to_table().c_str());

    if (splits > 0) accuracy_over_splits(data_path, splits);

    if (!out_dir.empty()) {
      std::filesystem::create_directories(out_dir);
      const std::string csv = out_dir + "/results.csv";
      std::ofstream f(csv);
      if (!f) throw std::runtime_error("cannot write " + csv);
      f << "model,avg_bits,bytes,accuracy,weight_sqnr_db,output_sqnr_db,latency_us\n";
      for (const Row& r : rows) {
        char line[256];
        std::snprintf(line, sizeof line, "%s,%.4f,%zu,%.4f,%s,%s,%.1f\n", r.model.c_str(), r.avg_bits, r.bytes,
                      r.accuracy, r.weight_sqnr_db > 1e9 ? "inf" : db(r.weight_sqnr_db).c_str(),
                      r.output_sqnr_db > 1e9 ? "inf" : db(r.output_sqnr_db).c_str(), r.latency_us);
        f << line;
      }
      std::vector<demo_chart::Point> points;
      for (const Row& r : rows) points.push_back({r.model, r.avg_bits, r.accuracy});
      const std::string svg = out_dir + "/accuracy_vs_size.svg";
      std::ofstream s(svg);
      if (!s) throw std::runtime_error("cannot write " + svg);
      s << demo_chart::accuracy_vs_size_svg(points);
      std::printf("wrote %s and %s\n", csv.c_str(), svg.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eigenq_demo: %s\n", e.what());
    return 1;
  }
}
