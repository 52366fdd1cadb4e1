// Perplexity of a ByteGpt on a text, with the sliding windows of train_lm.py's evaluate():
// windows of `window` bytes every `stride` bytes; the first window scores all of its
// predictions, each later one only the bytes no earlier window scored.
#pragma once

#include "byte_gpt.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>

namespace lm {

struct Perplexity {
  double nll = 0;        // mean negative log-likelihood per byte, nats
  Index bytes = 0;       // bytes scored
  double seconds = 0;    // forward time
  double perplexity() const { return std::exp(nll); }
  double bits_per_byte() const { return nll / std::log(2.0); }
  double tokens_per_second() const { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }
};

inline Perplexity evaluate(const ByteGpt& model, const std::string& text, Index window = 256, Index stride = 128) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(text.data());
  const Index n = static_cast<Index>(text.size());
  if (n < 2 || window < 2 || stride < 1 || stride >= window) eigenq::raise("evaluate: bad text size or window");
  Perplexity r;
  double total = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (Index start = 0;; start += stride) {
    const Index end = std::min(start + window, n);
    const Matrix logits = model.forward(data + start, end - start - 1);
    const Index first = start == 0 ? 0 : window - 1 - stride;
    for (Index i = first; i < logits.rows(); ++i) {
      const auto row = logits.row(i).cast<double>();
      const double m = row.maxCoeff();
      const double log_sum = m + std::log((row.array() - m).exp().sum());
      total += log_sum - row(data[start + i + 1]);
      ++r.bytes;
    }
    if (end == n) break;
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.nll = total / static_cast<double>(r.bytes);
  return r;
}

}  // namespace lm
