// Runs one job per tensor on up to N threads. Each thread takes the next
// tensor in file order, so at most N tensors are in memory at once whatever
// the file's size. The first failure stops the others from starting new
// tensors; the error of the lowest-numbered failed tensor is rethrown, so
// the reported error does not depend on thread timing.
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

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
  if (n == 1 || count <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    const std::size_t spawn = n < count ? n : count;
    pool.reserve(spawn - 1);
    for (std::size_t t = 0; t + 1 < spawn; ++t) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace eigenq_cli
