// core/thread_pool.hpp: the process-wide pool, shares of work on it, and an engine's own pool.
#include "eigenq/core/thread_pool.hpp"

#include "support/scoped_thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <dirent.h>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using eigenq::Index;

// Threads of this process (Linux: the entries of /proc/self/task).
int process_threads() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count;
}

TEST(ThreadPool, SharesRunOnceEachTheFirstOnTheCaller) {
  eigenq_test::ScopedThreadPool scoped(3);
  std::vector<std::atomic<int>> runs(4);
  std::vector<int> pool_thread(4, -2);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> first_on_caller{false};
  eigenq::run_shares(4, [&](int s) {
    runs[static_cast<std::size_t>(s)]++;
    pool_thread[static_cast<std::size_t>(s)] = scoped.pool().CurrentThreadId();
    if (s == 0) first_on_caller = std::this_thread::get_id() == caller;
  });
  for (const auto& r : runs) EXPECT_EQ(r.load(), 1);
  EXPECT_TRUE(first_on_caller.load());
  EXPECT_EQ(pool_thread[0], -1);
  for (int s = 1; s < 4; ++s) EXPECT_GE(pool_thread[static_cast<std::size_t>(s)], 0) << "share " << s;
}

TEST(ThreadPool, TheLowestFailingShareIsRethrownAfterAllFinish) {
  eigenq_test::ScopedThreadPool scoped(3);
  std::atomic<int> finished{0};
  try {
    eigenq::run_shares(4, [&](int s) {
      if (s == 1 || s == 3) throw std::runtime_error("share " + std::to_string(s));
      finished++;
    });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "share 1");
  }
  EXPECT_EQ(finished.load(), 2);
}

TEST(ThreadPool, SplitCoversEveryIndexOnceInContiguousRanges) {
  eigenq_test::ScopedThreadPool scoped(3);  // 4 shares at most: 3 pool threads and the caller
  for (Index count : {0, 1, 2, 3, 7, 100, 1001}) {
    for (int threads : {1, 2, 3, 4, 64}) {
      std::mutex mutex;
      std::vector<std::pair<Index, Index>> ranges;
      std::vector<int> seen(static_cast<std::size_t>(count), 0);
      eigenq::split_over_threads(count, threads, [&](Index begin, Index end) {
        std::lock_guard<std::mutex> lock(mutex);
        ranges.emplace_back(begin, end);
        for (Index i = begin; i < end; ++i) seen[static_cast<std::size_t>(i)]++;
      });
      for (int s : seen) ASSERT_EQ(s, 1) << count << " " << threads;
      const Index expected_shares = count <= 1 ? 1 : std::min<Index>({Index{threads}, count, 4});
      EXPECT_EQ(static_cast<Index>(ranges.size()), expected_shares) << count << " " << threads;
    }
  }
}

TEST(ThreadPool, WorkInsideAPoolThreadRunsSeriallyInsteadOfWaitingOnItself) {
  eigenq_test::ScopedThreadPool scoped(1);  // one pool thread: waiting on it from it would hang
  std::atomic<int> inner_shares{0};
  std::atomic<int> inner_available{0};
  eigenq::run_shares(2, [&](int s) {
    if (s != 1) return;
    inner_available = eigenq::available_threads();
    eigenq::split_over_threads(100, 8, [&](Index, Index) { inner_shares++; });
  });
  EXPECT_EQ(inner_available.load(), 1);
  EXPECT_EQ(inner_shares.load(), 1);
}

TEST(ThreadPool, AnEnginesPoolIsUsedAndTheDefaultComesBack) {
  Eigen::ThreadPool engine(2);
  eigenq::set_thread_pool(&engine);
  EXPECT_EQ(&eigenq::thread_pool(), &engine);
  EXPECT_EQ(eigenq::available_threads(), 3);
  std::atomic<int> on_engine{0};
  eigenq::run_shares(3, [&](int s) {
    if (s > 0 && engine.CurrentThreadId() >= 0) on_engine++;
  });
  EXPECT_EQ(on_engine.load(), 2);
  eigenq::set_thread_pool(nullptr);
  EXPECT_NE(&eigenq::thread_pool(), &engine);
  EXPECT_GE(eigenq::available_threads(), 2);
}

TEST(ThreadPool, NoThreadIsStartedPerCall) {
  std::atomic<Index> total{0};
  const auto call = [&] {
    eigenq::split_over_threads(64, 2, [&](Index b, Index e) { total += e - b; });
  };
  call();  // makes the default pool
  const int before = process_threads();
  ASSERT_GT(before, 0);
  for (int i = 0; i < 200; ++i) call();
  EXPECT_EQ(process_threads(), before);
  EXPECT_EQ(total.load(), 201 * 64);
}

TEST(ThreadPool, SmallWorkStaysOnOneThread) {
  EXPECT_EQ(eigenq::threads_for_work(64.0 * 64 * 64, 2), 1);
  EXPECT_EQ(eigenq::threads_for_work(1024.0 * 1024 * 1024, 2), 2);
  EXPECT_EQ(eigenq::threads_for_work(4096.0 * 4096, 8), 4);
  EXPECT_EQ(eigenq::threads_for_work(1e12, 1), 1);
}

}  // namespace
