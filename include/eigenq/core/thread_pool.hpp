// The threads eigenq's parallel work runs on: one pool for the process, alive across calls, so
// that no call starts a thread. By default it is an Eigen::ThreadPool (Eigen's CXX11 ThreadPool
// module) with one thread fewer than the machine has, made at the first parallel call; the
// calling thread always runs one share of the work itself. An engine that owns its threads hands
// them to eigenq with set_thread_pool(): any Eigen::ThreadPoolInterface will do.
//
//   eigenq::set_thread_pool(&my_pool);   // an Eigen::ThreadPoolInterface, alive while in use
//   eigenq::kernels::gemm(..., /*threads=*/4);
//
// Results never depend on the number of threads: work is split so that each share writes its
// own outputs, and no sum is split across shares.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <unsupported/Eigen/CXX11/ThreadPool>

#include "eigenq/core/parallel_for.hpp"
#include "eigenq/core/types.hpp"

namespace eigenq {
namespace detail {

inline std::atomic<Eigen::ThreadPoolInterface*>& installed_thread_pool() {
  static std::atomic<Eigen::ThreadPoolInterface*> pool{nullptr};
  return pool;
}

// The shares of a run_shares call still running. The caller, done with its own share, spins on
// the count for up to 100 microseconds before it sleeps: the other shares usually end within
// that, and waking a sleeping thread costs tens of microseconds. The count falls under the
// mutex, so when wait() returns no share touches this object again.
class PendingShares {
 public:
  explicit PendingShares(int count) : pending_(count) {}

  void finish_one() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.notify_one();
  }

  void wait() {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 1; pending_.load(std::memory_order_acquire) > 0; ++i) {
      if (i % 64 == 0 && std::chrono::steady_clock::now() - start > std::chrono::microseconds(100)) break;
      std::this_thread::yield();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }

 private:
  std::atomic<int> pending_;
  std::mutex mutex_;
  std::condition_variable done_;
};

inline Eigen::ThreadPoolInterface& default_thread_pool() {
  static Eigen::ThreadPool pool(static_cast<int>(std::max(2u, std::thread::hardware_concurrency()) - 1));
  return pool;
}

}  // namespace detail

// Makes eigenq run its parallel work on `pool`; nullptr returns to the default pool. The pool
// must outlive every eigenq call that may use it, and its CurrentThreadId() must say which
// calls come from its own threads (eigenq runs those serially rather than wait on itself).
inline void set_thread_pool(Eigen::ThreadPoolInterface* pool) noexcept {
  detail::installed_thread_pool().store(pool);
}

// The pool eigenq's parallel work runs on: the one set with set_thread_pool(), else the default.
inline Eigen::ThreadPoolInterface& thread_pool() {
  Eigen::ThreadPoolInterface* pool = detail::installed_thread_pool().load();
  return pool != nullptr ? *pool : detail::default_thread_pool();
}

// How many shares of work can run at once: the pool's threads and the caller; 1 on a thread of
// the pool itself (parallel work inside parallel work runs serially).
inline int available_threads() {
  Eigen::ThreadPoolInterface& pool = thread_pool();
  return pool.CurrentThreadId() >= 0 ? 1 : pool.NumThreads() + 1;
}

// The threads worth using for `multiply_adds` operations: at most `threads`, and few enough that
// each gets at least 2^22 of them (tens of microseconds), so that waking a pool thread never
// costs more than it saves. A 64x64x64 product runs on the calling thread alone.
inline int threads_for_work(double multiply_adds, int threads) {
  constexpr double per_thread = 4194304.0;
  const double worth = std::max(1.0, multiply_adds / per_thread);
  return threads <= 1 ? threads : static_cast<int>(std::min(double(threads), worth));
}

// Runs task(0), ..., task(shares - 1) at once, task(0) on the calling thread and the others on
// the pool, and returns when all have finished. If tasks throw, the exception of the lowest
// share is rethrown then.
template <class Task>
void run_shares(int shares, const Task& task) {
  if (shares <= 1) {
    task(0);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(shares));
  const auto run = [&task, &errors](int s) {
    try {
      task(s);
    } catch (...) {
      errors[static_cast<std::size_t>(s)] = std::current_exception();
    }
  };
  detail::PendingShares pending(shares - 1);
  Eigen::ThreadPoolInterface& pool = thread_pool();
  for (int s = 1; s < shares; ++s) {
    pool.Schedule([&run, &pending, s] {
      run(s);
      pending.finish_one();
    });
  }
  run(0);
  pending.wait();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// Splits [0, count) into contiguous ranges, one per share, and runs work(begin, end) on up to
// `threads` threads (fewer when the pool has fewer, or count is smaller).
template <class Work>
void split_over_threads(Index count, int threads, const Work& work) {
  const Index shares = threads <= 1 || count <= 1
                           ? 1
                           : std::min<Index>({Index{threads}, count, Index{available_threads()}});
  if (shares == 1) {
    work(Index{0}, count);
    return;
  }
  run_shares(static_cast<int>(shares), [&](int s) {
    work(count * s / shares, count * (s + 1) / shares);
  });
}

namespace detail {

// Installs split_over_threads as parallel_for's runner (core/parallel_for.hpp) at start-up.
inline const bool share_runner_installed = [] {
  share_runner() = [](Index count, int threads, const std::function<void(Index, Index)>& work) {
    split_over_threads(count, threads, work);
  };
  return true;
}();

}  // namespace detail

}  // namespace eigenq
