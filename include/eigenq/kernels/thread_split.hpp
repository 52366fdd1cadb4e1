// Splits [0, count) into contiguous ranges run on up to `threads` std::threads
// (the calling thread takes the first range). The kernels use it over weight
// panels, so each thread writes its own columns and no result depends on the
// split. If the system refuses a thread, its range runs on the calling thread.
#pragma once

#include <algorithm>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

#include "eigenq/core/types.hpp"

namespace eigenq {
namespace kernels {
namespace detail {

template <class Work>
void split_over_threads(Index count, int threads, const Work& work) {
  const Index workers = std::max<Index>(1, std::min<Index>(threads, count));
  if (workers == 1) {
    work(Index{0}, count);
    return;
  }
  // A range that throws (scratch allocation can) is reported after every thread has joined.
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
  const auto run = [&work, &errors](Index w, Index begin, Index end) {
    try {
      work(begin, end);
    } catch (...) {
      errors[static_cast<std::size_t>(w)] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers - 1));
  for (Index w = 1; w < workers; ++w) {
    const Index begin = count * w / workers;
    const Index end = count * (w + 1) / workers;
    try {
      pool.emplace_back(run, w, begin, end);
    } catch (const std::system_error&) {
      run(w, begin, end);
    }
  }
  run(0, 0, count / workers);
  for (auto& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace detail
}  // namespace kernels
}  // namespace eigenq
