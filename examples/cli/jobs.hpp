// Runs one job per tensor on up to N threads of eigenq's thread pool
// (core/thread_pool.hpp; the caller is one of them). Each thread takes the next
// tensor in file order, so at most N tensors are in memory at once whatever
// the file's size. The first failure stops the others from starting new
// tensors; the error of the lowest-numbered failed tensor is rethrown, so
// the reported error does not depend on thread timing.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>

#include "eigenq/core/thread_pool.hpp"

namespace eigenq_cli {

template <class Job>
void run_jobs(std::size_t count, int threads, Job&& job) {
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::size_t failed_index = count;
  std::exception_ptr error;

  auto worker = [&] {
    for (;;) {
      if (failed.load()) return;
      const std::size_t i = next.fetch_add(1);
      if (i >= count) return;
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < failed_index) {
          failed_index = i;
          error = std::current_exception();
        }
        failed.store(true);
      }
    }
  };

  const std::size_t n = threads < 1 ? 1 : static_cast<std::size_t>(threads);
  eigenq::run_shares(static_cast<int>(n < count ? n : count), [&](int) { worker(); });
  if (error) std::rethrow_exception(error);
}

}  // namespace eigenq_cli
