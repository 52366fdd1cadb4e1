// parallel_for(count, threads, work): work(begin, end) over contiguous shares of [0, count), on
// eigenq's thread pool when this program has one, else on the caller. For code that must stay
// cheap to include (the quantizer, under <eigenq/quantize.hpp>): this header does not include
// Eigen's ThreadPool. core/thread_pool.hpp, which the kernels, the nn layers and the umbrella
// header include, installs the pool's split_over_threads here when the program starts; until
// some translation unit includes it, every call runs serially. The shares are the same either
// way, so the results are too.
#pragma once

#include <functional>

#include "eigenq/core/types.hpp"

namespace eigenq {
namespace detail {

using ShareRunner = void (*)(Index count, int threads, const std::function<void(Index, Index)>& work);

inline ShareRunner& share_runner() {
  static ShareRunner runner = nullptr;
  return runner;
}

}  // namespace detail

template <class Work>
void parallel_for(Index count, int threads, const Work& work) {
  const detail::ShareRunner runner = detail::share_runner();
  if (runner == nullptr || threads <= 1 || count <= 1) {
    work(Index{0}, count);
    return;
  }
  runner(count, threads, std::function<void(Index, Index)>(work));
}

}  // namespace eigenq
