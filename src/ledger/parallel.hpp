#pragma once
// Spreads independent, CPU-bound work (parsing and verifying entries: Ed25519 verification is
// ~40 µs each) over the machine's cores. Small jobs stay on the calling thread, where starting a
// thread would cost more than it saves.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace gsio::ledger {

// Calls fn(i) for every i in [0, n), on up to hardware_concurrency() threads (the caller's
// included), each taking a contiguous range of at least `min_per_thread` indices. fn must be safe
// to call concurrently for different i. The first exception thrown by fn is rethrown here, after
// every thread has finished.
template <class Fn>
void parallel_for(std::size_t n, Fn&& fn, std::size_t min_per_thread = 64) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = std::clamp<std::size_t>(n / std::max<std::size_t>(1, min_per_thread),
                                                      1, cores);
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i)
      fn(i);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  auto run_range = [&](std::size_t t) {
    const std::size_t begin = n * t / threads;
    const std::size_t end = n * (t + 1) / threads;
    try {
      for (std::size_t i = begin; i < end; ++i)
        fn(i);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t)
    helpers.emplace_back(run_range, t);
  run_range(0);
  for (auto& h : helpers)
    h.join();
  for (auto& e : errors)
    if (e)
      std::rethrow_exception(e);
}

}  // namespace gsio::ledger
