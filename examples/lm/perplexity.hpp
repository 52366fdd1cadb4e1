// Perplexity of a ByteGpt on a text, with the sliding windows of train_lm.py's evaluate():
// windows of `window` bytes every `stride` bytes; the first window scores all of its
// predictions, each later one only the bytes no earlier window scored.
#pragma once

#include "byte_gpt.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

namespace lm {

// Flushes denormal floats to zero in the calling thread (x86: MXCSR FTZ and DAZ), as the
// training script does (torch.set_flush_denormal): the attention's softmax and the GELU of a
// trained model produce denormals, and each costs a microcode assist. Every thread that runs
// the model calls it (the flags are per thread).
inline void flush_denormals() {
#if defined(__SSE__) || defined(_M_X64)
  _mm_setcsr(_mm_getcsr() | 0x8040u);
#endif
}

struct Perplexity {
  double nll = 0;        // mean negative log-likelihood per byte, nats
  Index bytes = 0;       // bytes scored
  double seconds = 0;    // forward time
  double perplexity() const { return std::exp(nll); }
  double bits_per_byte() const { return nll / std::log(2.0); }
  double tokens_per_second() const { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }
};

// `threads` > 1 splits the windows between that many threads (seconds is then wall time).
inline Perplexity evaluate(const ByteGpt& model, const std::string& text, Index window = 256, Index stride = 128,
                           int threads = 1) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.data());
  const Index n = static_cast<Index>(text.size());
  if (n < 2 || window < 2 || stride < 1 || stride >= window) eigenq::raise("evaluate: bad text size or window");
  std::vector<Index> starts;
  for (Index start = 0;; start += stride) {
    starts.push_back(start);
    if (start + window >= n) break;
  }
  // Window k scores its predictions from `first` on: the NLL summed in double and the count.
  auto score = [&](std::size_t k, double& total, Index& count) {
    const Index start = starts[k];
    const Index end = std::min(start + window, n);
    const Matrix logits = model.forward(data + start, end - start - 1);
    const Index first = start == 0 ? 0 : window - 1 - stride;
    for (Index i = first; i < logits.rows(); ++i) {
      const auto row = logits.row(i).cast<double>();
      const double m = row.maxCoeff();
      const double log_sum = m + std::log((row.array() - m).exp().sum());
      total += log_sum - row(data[start + i + 1]);
      ++count;
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t parts = static_cast<std::size_t>(std::max(1, threads));
  std::vector<double> totals(parts, 0.0);
  std::vector<Index> counts(parts, 0);
  std::vector<std::exception_ptr> errors(parts);
  auto run = [&](std::size_t part) {
    flush_denormals();
    try {
      for (std::size_t k = part; k < starts.size(); k += parts) score(k, totals[part], counts[part]);
    } catch (...) {
      errors[part] = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  for (std::size_t part = 1; part < parts; ++part) workers.emplace_back(run, part);
  run(0);
  for (auto& w : workers) w.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  Perplexity r;
  double total = 0;
  for (std::size_t part = 0; part < parts; ++part) {
    total += totals[part];
    r.bytes += counts[part];
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.nll = total / static_cast<double>(r.bytes);
  return r;
}

}  // namespace lm
