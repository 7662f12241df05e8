#pragma once
// What the two walks of the quantizer share that is not arithmetic: the
// random tensor's check and the split of a tensor's flat range over threads.
#include <algorithm>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "ref/core/tensor.h"

namespace mls::quant_detail {

// Throws mls::Error naming `name` when `random` is not of x's shape or holds a
// value outside [-0.5, 0.5) (the first one by flat index).
void check_random(const TensorF& x, const TensorF& random, const std::string& name);

// body(begin, end) over [0, n) cut into `threads` consecutive slices (at most 64).
template <class F>
void parallel_for(int64_t n, int threads, F&& body) {
  threads = std::max(1, std::min<int>(threads, static_cast<int>(std::min<int64_t>(n, 64))));
  if (threads == 1) {
    body(int64_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { body(n * t / threads, n * (t + 1) / threads); });
  for (auto& th : pool) th.join();
}

}  // namespace mls::quant_detail
