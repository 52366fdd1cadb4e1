// A pool of a chosen size made eigenq's for one scope, so that a test can run work on more
// threads than the machine has cores (the default pool has one thread fewer than the cores).
#pragma once

#include <unsupported/Eigen/CXX11/ThreadPool>

#include "eigenq/core/thread_pool.hpp"

namespace eigenq_test {

class ScopedThreadPool {
 public:
  explicit ScopedThreadPool(int threads) : pool_(threads) { eigenq::set_thread_pool(&pool_); }
  ~ScopedThreadPool() { eigenq::set_thread_pool(nullptr); }
  ScopedThreadPool(const ScopedThreadPool&) = delete;
  ScopedThreadPool& operator=(const ScopedThreadPool&) = delete;

  Eigen::ThreadPool& pool() { return pool_; }

 private:
  Eigen::ThreadPool pool_;
};

}  // namespace eigenq_test
