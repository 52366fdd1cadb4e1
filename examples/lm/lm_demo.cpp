// The language-model half of eigenq's demo: the byte-level GPT of train_lm.py (examples/lm/data),
// its held-out perplexity in float and quantized every way eigenq knows: W8A8 (dynamic, static,
// static with SmoothQuant), int4/int3/int2 weights by round to nearest, importance-weighted
// rounding, GPTQ and AWQ, the exact mixed-precision search over those candidates, and ggml's
// block types with and without an importance matrix.
//
//   eigenq_lm_demo [--data DIR] [--out DIR] [--slice BYTES] [--threads N] [--calib-windows N]
//                  [--search-windows N] [--float-only] [--check-reference]
//
// The float model's perplexity is compared with PyTorch's on the same slice, which train_lm.py
// wrote into lm.safetensors' metadata (heldout_nll, heldout_bytes_scored); --check-reference
// makes a difference of more than 0.1% (or a missing figure) an error, exit code 1.
//
// Calibration uses calibration.txt (training text), never the held-out slice. Rows are built
// and evaluated on --threads worker threads (one row per thread at a time; tokens/s is per
// thread). With --out DIR it writes DIR/lm_results.csv and DIR/perplexity_vs_size.svg.
#include "byte_gpt.hpp"
#include "lm_analysis.hpp"
#include "lm_calibration.hpp"
#include "lm_quantize.hpp"
#include "perplexity.hpp"

#include "../demo/results_chart.hpp"

#include <eigenq/analysis/method_schemes.hpp>
#include <eigenq/analysis/mixed_precision.hpp>
#include <eigenq/analysis/scheme.hpp>
#include <eigenq/io/safetensors.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#ifndef EIGENQ_LM_DATA
#define EIGENQ_LM_DATA "examples/lm/data"
#endif

namespace {

using lm::Index;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) eigenq::raise<eigenq::IoError>("cannot open ", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Row {
  std::string model;
  std::string description;
  double bits_per_weight = 0;
  lm::Perplexity ppl;
  double build_seconds = 0;
  std::vector<lm::LayerReport> report;
};

// A row: its name, what it is, and how to build its model.
struct Task {
  std::string name;
  std::string description;
  std::function<lm::Quantized()> build;
};

// Runs tasks on `threads` workers; a task may add tasks (the mixed rows after the search).
class Pool {
 public:
  explicit Pool(int threads) : threads_(std::max(1, threads)) {}

  void add(std::function<void()> f) {
    std::lock_guard<std::mutex> lock(m_);
    q_.push_back(std::move(f));
    ++pending_;
    cv_.notify_one();
  }

  void run() {
    std::vector<std::thread> workers;
    for (int i = 0; i < threads_; ++i) {
      workers.emplace_back([this] {
        lm::flush_denormals();
        while (true) {
          std::function<void()> f;
          {
            std::unique_lock<std::mutex> lock(m_);
            cv_.wait(lock, [this] { return !q_.empty() || pending_ == 0; });
            if (q_.empty()) return;
            f = std::move(q_.front());
            q_.pop_front();
          }
          try {
            f();
          } catch (...) {
            std::lock_guard<std::mutex> lock(m_);
            if (!error_) error_ = std::current_exception();
          }
          std::lock_guard<std::mutex> lock(m_);
          if (--pending_ == 0) cv_.notify_all();
        }
      });
    }
    for (auto& w : workers) w.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  int threads_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  int pending_ = 0;
  std::exception_ptr error_;
};

// PyTorch's figure for the float model on the held-out slice, as train_lm.py wrote it.
struct Reference {
  double nll = 0;
  long long bytes = 0;
  bool present = false;
};

Reference read_reference(const std::string& path) {
  const eigenq::io::SafetensorsFile f(path);
  const auto& meta = f.metadata();
  const auto nll = meta.find("heldout_nll");
  const auto bytes = meta.find("heldout_bytes_scored");
  Reference r;
  if (nll == meta.end() || bytes == meta.end()) return r;
  r.nll = std::stod(nll->second);
  r.bytes = std::stoll(bytes->second);
  r.present = true;
  return r;
}

// Prints the float model's figure against PyTorch's; true when they agree within 0.1% in
// perplexity on the same number of scored bytes.
bool compare_with_reference(const lm::Perplexity& p, const Reference& ref) {
  if (!ref.present) {
    std::printf("PyTorch reference: lm.safetensors holds no heldout_nll / heldout_bytes_scored\n");
    return false;
  }
  const double ref_ppl = std::exp(ref.nll);
  const double rel = p.perplexity() / ref_ppl - 1.0;
  const bool same_slice = ref.bytes == static_cast<long long>(p.bytes);
  const bool ok = same_slice && std::fabs(rel) <= 0.001;
  std::printf("PyTorch (train_lm.py) on the same slice: %lld bytes, nll %.6f, perplexity %.4f; eigenq %+.4f%% (target "
              "within 0.1%%): %s\n",
              ref.bytes, ref.nll, ref_ppl, 100 * rel,
              !same_slice ? "NOT the same slice" : ok ? "met" : "NOT met");
  return ok;
}

double bits_per_weight(const lm::ByteGpt& m) {
  return 8.0 * static_cast<double>(m.linear_bytes()) / static_cast<double>(m.linear_weight_count());
}

// A candidate of the mixed-precision search: the analysis scheme and the recipe that builds it.
struct Candidate {
  eigenq::Scheme scheme;
  lm::Recipe recipe;
};

std::vector<Candidate> candidates(bool awq_scales_stored) {
  using lm::Method;
  const auto scales = awq_scales_stored ? eigenq::AwqInputScales::stored : eigenq::AwqInputScales::folded;
  std::vector<Candidate> c;
  auto add = [&](const std::string& name, Method m, const lm::Quant& q) {
    eigenq::Scheme s;
    switch (m) {
      case Method::rtn: s = eigenq::make_scheme(name, q); break;
      case Method::weighted: s = eigenq::make_weighted_scheme(name, q); break;
      case Method::gptq: s = eigenq::make_gptq_scheme(name, q); break;
      case Method::awq: s = eigenq::make_awq_scheme(name, q, {}, scales); break;
    }
    c.push_back({s, lm::Recipe{name, m, q}});
  };
  add("int8-rtn", Method::rtn, lm::int8_channel());
  add("int4-g128-rtn", Method::rtn, lm::int_group(4, 128));
  add("int4-g128-weighted", Method::weighted, lm::int_group(4, 128));
  add("int4-g128-gptq", Method::gptq, lm::int_group(4, 128));
  add("int4-g128-awq", Method::awq, lm::int_group(4, 128));
  add("int3-g128-rtn", Method::rtn, lm::int_group(3, 128));
  add("int3-g128-gptq", Method::gptq, lm::int_group(3, 128));
  add("int3-g128-awq", Method::awq, lm::int_group(3, 128));
  add("int2-g64-gptq", Method::gptq, lm::int_group(2, 64));
  return c;
}

const lm::Recipe& recipe_named(const std::vector<Candidate>& c, const std::string& name) {
  for (const Candidate& x : c) {
    if (x.recipe.name == name) return x.recipe;
  }
  eigenq::raise("no candidate named ", name);
}

}  // namespace

int main(int argc, char** argv) {
#if defined(__GLIBC__)
  // Activations of a few hundred KiB are allocated per layer call: keep them in the heap
  // instead of fresh (zero-filled) pages from mmap every time.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
  lm::flush_denormals();
  std::string data_dir = EIGENQ_LM_DATA;
  std::string out_dir;
  Index slice = 32 * 1024;
  int threads = 2;
  Index calib_windows = 64;
  Index search_windows = 8;
  bool float_only = false;
  bool check_reference = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) eigenq::raise(a, " needs a value");
      return argv[++i];
    };
    if (a == "--data") data_dir = next();
    else if (a == "--out") out_dir = next();
    else if (a == "--slice") slice = std::stoll(next());
    else if (a == "--threads") threads = std::stoi(next());
    else if (a == "--calib-windows") calib_windows = std::stoll(next());
    else if (a == "--search-windows") search_windows = std::stoll(next());
    else if (a == "--float-only") float_only = true;
    else if (a == "--check-reference") check_reference = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--data DIR] [--out DIR] [--slice BYTES] [--threads N] [--calib-windows N] "
                   "[--search-windows N] [--float-only] [--check-reference]\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    const auto t_start = Clock::now();
    const lm::ByteGpt model = lm::ByteGpt::load(data_dir + "/lm.safetensors");
    const Reference reference = read_reference(data_dir + "/lm.safetensors");
    const std::string heldout_all = read_file(data_dir + "/heldout.txt");
    const std::string text = heldout_all.substr(0, static_cast<std::size_t>(std::min<Index>(slice, static_cast<Index>(heldout_all.size()))));
    const std::string calibration = read_file(data_dir + "/calibration.txt");
    const auto& cfg = model.config();
    std::printf("Byte-level GPT (%s): %lld layers, width %lld, %lld heads, context %lld; %lld Linear weights in %zu "
                "layers\n",
                data_dir.c_str(), static_cast<long long>(cfg.layers), static_cast<long long>(cfg.width),
                static_cast<long long>(cfg.heads), static_cast<long long>(cfg.ctx),
                static_cast<long long>(model.linear_weight_count()), model.linear_names().size());
    std::printf("Held-out slice: the first %zu bytes of heldout.txt, windows of 256 every 128 bytes (train_lm.py's "
                "evaluation)\n",
                text.size());
    if (float_only) {
      const lm::Perplexity p = lm::evaluate(model, text, 256, 128, threads);
      std::printf("float: %lld bytes, nll %.6f, perplexity %.4f, %.4f bits/byte, %.0f bytes/s\n",
                  static_cast<long long>(p.bytes), p.nll, p.perplexity(), p.bits_per_byte(), p.tokens_per_second());
      const bool ok = compare_with_reference(p, reference);
      return check_reference && !ok ? 1 : 0;
    }

    // Calibration: statistics of every Linear's input on windows of the training text.
    auto t0 = Clock::now();
    const std::vector<std::string> calib = lm::windows(calibration, cfg.ctx, calib_windows);
    const lm::Stats stats = lm::collect_stats(model, calib);
    std::printf("Calibration: %zu windows of %lld bytes of calibration.txt (training text): %lld rows per Linear, "
                "statistics in %.1f s\n",
                calib.size(), static_cast<long long>(cfg.ctx), static_cast<long long>(stats.begin()->second.count),
                seconds_since(t0));
    const auto outliers = lm::outlier_ratios(stats);
    std::printf("Activation outliers (largest input channel's max |x| / median channel's, per Linear input):\n");
    for (std::size_t b = 0; b < model.blocks(); ++b) {
      const std::string p = "blocks." + std::to_string(b);
      std::printf("  block %zu: attn.qkv %.1f, attn.proj %.1f, mlp.fc %.1f, mlp.proj %.1f\n", b,
                  outliers.at(p + ".attn.qkv"), outliers.at(p + ".attn.proj"), outliers.at(p + ".mlp.fc"),
                  outliers.at(p + ".mlp.proj"));
    }

    std::vector<Candidate> cands = candidates(false);
    const std::vector<Candidate> cands_stored = candidates(true);  // mlp.proj: AWQ keeps an InputScale
    auto weights_row = [&](const std::string& name) {
      return [&, name] { return lm::quantize_weights(model, stats, lm::uniform_plan(model, recipe_named(cands, name))); };
    };
    auto plain = [](lm::ByteGpt m) { return lm::Quantized{std::move(m), {}}; };

    std::vector<Task> tasks;
    tasks.push_back({"float", "float32", [&] { return plain(model); }});
    tasks.push_back({"w8a8-dynamic", "int8 per-channel weights, uint8 activations per call (DynamicLinear)",
                     [&] { return plain(lm::quantize_dynamic(model)); }});
    eigenq::nn::StaticQuantOptions static_options;
    tasks.push_back({"w8a8-static", "int8 weights, int8 activations with min-max ranges (StaticLinear)",
                     [&] { return plain(lm::quantize_static(model, calib, static_options)); }});
    tasks.push_back({"w8a8-static-smoothquant", "w8a8-static after SmoothQuant (alpha 0.5, into ln1 / ln2)",
                     [&] { return plain(lm::quantize_static(lm::smooth(model, stats), calib, static_options)); }});
    for (const char* name : {"int4-g128-rtn", "int4-g128-weighted", "int4-g128-gptq", "int4-g128-awq", "int3-g128-rtn",
                             "int3-g128-gptq", "int3-g128-awq", "int2-g64-gptq"}) {
      tasks.push_back({name, "weight-only, float32 scales", weights_row(name)});
    }
    const std::vector<std::pair<const char*, eigenq::ggml::Type>> ggml_types = {
        {"q4_0", eigenq::ggml::Type::q4_0},
        {"q4_k", eigenq::ggml::Type::q4_K},
        {"q3_k", eigenq::ggml::Type::q3_K},
        {"iq4_nl", eigenq::ggml::Type::iq4_nl}};
    for (const auto& [name, type] : ggml_types) {
      const eigenq::ggml::Type t = type;
      tasks.push_back({name, std::string("ggml ") + eigenq::ggml::type_name(t),
                       [&, t] { return plain(lm::quantize_ggml(model, t, nullptr)); }});
      tasks.push_back({std::string(name) + "-imatrix", std::string("ggml ") + eigenq::ggml::type_name(t) + ", imatrix",
                       [&, t] { return plain(lm::quantize_ggml(model, t, &stats)); }});
    }

    // The rows, in table order (mixed rows land between the uniform ones and ggml's).
    std::vector<std::string> order;
    for (const Task& t : tasks) order.push_back(t.name);
    order.insert(order.begin() + 12, {"mixed-3.5bit", "mixed-4bit"});
    std::map<std::string, Row> rows;
    std::mutex rows_mutex;
    std::vector<eigenq::MixedPrecisionResult> mixed;
    double search_seconds = 0;

    Pool pool(threads);
    auto run_task = [&](const Task& t) {
      const auto tb = Clock::now();
      lm::Quantized q = t.build();
      Row r;
      r.model = t.name;
      r.description = t.description;
      r.build_seconds = seconds_since(tb);
      r.bits_per_weight = bits_per_weight(q.model);
      r.report = std::move(q.report);
      r.ppl = lm::evaluate(q.model, text);
      std::lock_guard<std::mutex> lock(rows_mutex);
      std::printf("  %-26s perplexity %8.4f  (built in %5.1f s, evaluated in %5.1f s)\n", t.name.c_str(),
                  r.ppl.perplexity(), r.build_seconds, r.ppl.seconds);
      std::fflush(stdout);
      rows[t.name] = std::move(r);
    };

    // The exact search over the weight-only candidates, per layer, from one sensitivity table:
    // budgets of 3.5 and 4.0 bits per weight with everything stored counted (the biases are
    // float32 and outside the search's points: their bits come off the budget).
    const double bias_bits_per_weight = [&] {
      double bits = 0;
      for (const std::string& n : model.linear_names()) bits += 32.0 * static_cast<double>(lm::float_linear(model, n).bias().size());
      return bits / static_cast<double>(model.linear_weight_count());
    }();
    pool.add([&] {
      const auto ts = Clock::now();
      const lm::LmModel analysis(model);
      const std::vector<std::string> sw = lm::windows(calibration, cfg.ctx, search_windows);
      eigenq::MixedPrecisionOptions o;
      for (const Candidate& c : cands) o.candidates.push_back(c.scheme);
      for (std::size_t b = 0; b < model.blocks(); ++b) {
        std::vector<eigenq::Scheme> s;
        for (const Candidate& c : cands_stored) s.push_back(c.scheme);
        o.per_point["blocks." + std::to_string(b) + ".mlp.proj.weight"] = s;
      }
      o.metric = lm::kl_metric();
      o.measure_front = false;
      for (const auto& kv : stats) o.statistics[kv.first + ".weight"] = kv.second;
      mixed = eigenq::choose_mixed_precision(
          analysis, lm::as_batch(sw),
          {eigenq::Budget::average_bits(3.5 - bias_bits_per_weight), eigenq::Budget::average_bits(4.0 - bias_bits_per_weight)}, o);
      search_seconds = seconds_since(ts);
      {
        std::lock_guard<std::mutex> lock(rows_mutex);
        std::printf("  mixed-precision search: %zu layers x %zu candidates on %zu windows in %.1f s\n",
                    mixed[0].choices.size(), cands.size(), sw.size(), search_seconds);
      }
      for (std::size_t k = 0; k < mixed.size(); ++k) {
        const char* name = k == 0 ? "mixed-3.5bit" : "mixed-4bit";
        std::map<std::string, lm::Recipe> plan;
        std::string summary;
        std::map<std::string, int> counts;
        for (const auto& c : mixed[k].choices) {
          const std::string layer = c.point.substr(0, c.point.size() - std::string(".weight").size());
          plan[layer] = recipe_named(cands, c.scheme);
          ++counts[c.scheme];
        }
        for (const auto& kv : counts) summary += (summary.empty() ? "" : ", ") + kv.first + " x" + std::to_string(kv.second);
        Task t{name, "exact search per layer: " + summary,
               [&, plan] { return lm::quantize_weights(model, stats, plan); }};
        pool.add([&, t] { run_task(t); });
      }
    });
    for (const Task& t : tasks) pool.add([&, t] { run_task(t); });
    std::printf("Building and evaluating %zu models on %d threads:\n", tasks.size() + 2, threads);
    pool.run();

    // The table.
    const double float_ppl = rows.at("float").ppl.perplexity();
    std::printf("\n");
    const bool reference_ok = compare_with_reference(rows.at("float").ppl, reference);
    std::printf("\n%-26s %8s %11s %9s %10s %9s  %s\n", "model", "bits/w", "perplexity", "vs float", "bits/byte",
                "tokens/s", "what");
    for (const std::string& name : order) {
      const Row& r = rows.at(name);
      std::printf("%-26s %8.3f %11.4f %+8.2f%% %10.4f %9.0f  %s\n", r.model.c_str(), r.bits_per_weight, r.ppl.perplexity(),
                  100.0 * (r.ppl.perplexity() / float_ppl - 1.0), r.ppl.bits_per_byte(), r.ppl.tokens_per_second(),
                  r.description.c_str());
    }
    std::printf("\nbits/w: every byte stored for the 16 Linear layers (codes, every scale, zero point and table, the\n"
                "float32 biases, AWQ's input scales where kept) x 8 / their %lld weights. Embeddings and LayerNorms\n"
                "(float32, the same in every row) are not counted. Perplexity and bits/byte on %lld held-out bytes;\n"
                "tokens/s: bytes scored per second of forward passes, one thread per model, %d models at a time.\n",
                static_cast<long long>(model.linear_weight_count()), static_cast<long long>(rows.at("float").ppl.bytes),
                threads);

    // The targets.
    auto ppl = [&](const std::string& n) { return rows.at(n).ppl.perplexity(); };
    std::printf("\nTargets (CORRECTIONS.md):\n");
    for (const char* bits : {"int4", "int3"}) {
      const std::string g = std::string(bits) + "-g128-gptq", r = std::string(bits) + "-g128-rtn";
      const double cut = (ppl(r) - ppl(g)) / (ppl(r) - float_ppl);
      std::printf("  %s g128: GPTQ cuts RTN's perplexity increase (+%.4f) to +%.4f, by %.0f%% (target >= 50%%): %s\n",
                  bits, ppl(r) - float_ppl, ppl(g) - float_ppl, 100 * cut, cut >= 0.5 ? "met" : "NOT met");
    }
    auto layer_errors = [&](const std::string& n, double& e, double& e_rtn) {
      e = 0;
      e_rtn = 0;
      for (const auto& l : rows.at(n).report) {
        e += l.layer_error;
        e_rtn += l.rtn_layer_error;
      }
    };
    for (const char* n : {"int4-g128-awq", "int4-g128-weighted", "int3-g128-awq"}) {
      double e = 0, e_rtn = 0;
      layer_errors(n, e, e_rtn);
      int worse = 0;
      for (const auto& l : rows.at(n).report) worse += l.layer_error > l.rtn_layer_error * (1 + 1e-9);
      const std::string rtn = std::string(n).substr(0, 9) + "-rtn";
      const double dppl = ppl(n) / ppl(rtn) - 1.0;
      std::printf("  %s: calibration layer error %.4g vs RTN %.4g (%.1f%%), %d of 16 layers worse than RTN; perplexity "
                  "%.4f vs RTN %.4f (%+.3f%%, target <= +0.1%%): %s\n",
                  n, e, e_rtn, 100 * e / e_rtn, worse, ppl(n), ppl(rtn), 100 * dppl,
                  worse == 0 && dppl <= 0.001 ? "met" : "NOT met");
    }
    {
      const Row& m4 = rows.at("mixed-4bit");
      std::string best_fit;
      double best_fit_ppl = 1e300;
      std::string best4;
      double best4_ppl = 1e300;
      for (const std::string& n : order) {
        if (n.rfind("mixed", 0) == 0 || n == "float") continue;
        const Row& r = rows.at(n);
        if (r.bits_per_weight <= 4.0 && r.ppl.perplexity() < best_fit_ppl) {
          best_fit = n;
          best_fit_ppl = r.ppl.perplexity();
        }
        const bool four = n.rfind("int4", 0) == 0 || n.rfind("q4", 0) == 0 || n.rfind("iq4", 0) == 0;
        if (four && r.ppl.perplexity() < best4_ppl) {
          best4 = n;
          best4_ppl = r.ppl.perplexity();
        }
      }
      std::printf("  mixed-4bit (%.3f bits/w): perplexity %.4f; best uniform row within 4.0 bits/w: %s %.4f (%.3f bits/w): "
                  "%s; best uniform 4-bit row of any size: %s %.4f (%.3f bits/w), mixed-4bit %+.4f from it\n",
                  m4.bits_per_weight, m4.ppl.perplexity(), best_fit.c_str(), best_fit_ppl,
                  rows.at(best_fit).bits_per_weight,
                  m4.bits_per_weight <= 4.0 && m4.ppl.perplexity() < best_fit_ppl ? "met" : "NOT met", best4.c_str(),
                  best4_ppl, rows.at(best4).bits_per_weight, m4.ppl.perplexity() - best4_ppl);
    }
    {
      const double sq = ppl("w8a8-static-smoothquant") / float_ppl - 1.0;
      double max_ratio = 0;
      for (const auto& kv : outliers) max_ratio = std::max(max_ratio, kv.second);
      std::printf("  w8a8-static-smoothquant: %+.2f%% from float (target within 1%%): %s; w8a8-static %+.2f%%; largest "
                  "outlier ratio of any Linear input %.1f\n",
                  100 * sq, std::fabs(sq) <= 0.01 ? "met" : "NOT met", 100 * (ppl("w8a8-static") / float_ppl - 1.0),
                  max_ratio);
    }
    for (const auto& m : mixed) {
      std::printf("\nMixed precision, budget %s for the weights (the biases' %.4f bits/w come off 3.5 / 4.0), KL "
                  "divergence from float on %lld calibration windows:\n%s",
                  m.budget.c_str(), bias_bits_per_weight, static_cast<long long>(search_windows), m.to_table().c_str());
    }
    if (!mixed.empty()) std::printf("\nSensitivity of every layer and candidate (one layer quantized at a time):\n%s",
                                    mixed[0].candidates_table().c_str());

    if (!out_dir.empty()) {
      std::filesystem::create_directories(out_dir);
      const std::string csv = out_dir + "/lm_results.csv";
      std::ofstream f(csv);
      if (!f) eigenq::raise<eigenq::IoError>("cannot write ", csv);
      f << "model,bits_per_weight,perplexity,bits_per_byte,tokens_per_s\n";
      std::vector<demo_chart::Point> points;
      for (const std::string& name : order) {
        const Row& r = rows.at(name);
        char line[256];
        std::snprintf(line, sizeof line, "%s,%.4f,%.4f,%.4f,%.0f\n", r.model.c_str(), r.bits_per_weight, r.ppl.perplexity(),
                      r.ppl.bits_per_byte(), r.ppl.tokens_per_second());
        f << line;
        points.push_back({r.model, r.bits_per_weight, r.ppl.perplexity()});
      }
      demo_chart::Style style;
      style.title = "Byte-level GPT: held-out perplexity against size of the Linear layers";
      char sub[160];
      std::snprintf(sub, sizeof sub, "%lld held-out bytes of the Python docs; float perplexity %.4f at 32 bits",
                    static_cast<long long>(rows.at("float").ppl.bytes), float_ppl);
      style.subtitle = sub;
      style.x_label = "bits per weight (codes, scales, biases, log scale)";
      style.y_label = "perplexity per byte (lower is better)";
      style.tick_format = "%.2f";
      style.value_format = "%.3f";
      style.higher_is_better = false;
      style.percent_axis = false;
      const std::string svg = out_dir + "/perplexity_vs_size.svg";
      std::ofstream s(svg);
      if (!s) eigenq::raise<eigenq::IoError>("cannot write ", svg);
      s << demo_chart::scatter_svg(points, style);
      std::printf("\nwrote %s and %s\n", csv.c_str(), svg.c_str());
    }
    std::printf("language-model demo: %.1f s\n", seconds_since(t_start));
    if (check_reference && !reference_ok) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eigenq_lm_demo: %s\n", e.what());
    return 2;
  }
  return 0;
}
