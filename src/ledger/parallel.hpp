#pragma once
// Spreads independent, CPU-bound work (parsing and verifying entries: Ed25519 verification is
// ~40 µs each) over the machine's cores. Small jobs stay on the calling thread, where starting a
// thread would cost more than it saves.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace gsio::ledger {

// Calls fn(i) for every i in [0, n), on up to hardware_concurrency() threads (the caller's
// included) when there are at least `min_per_thread` indices per thread. fn must be safe to call
// concurrently for different i. The threads take chunks of indices from a shared counter rather
// than a fixed share each: on a busy machine a thread that gets preempted (the node's other
// actors run on the same cores) then delays the whole job by one chunk, not by its share. The
// first exception thrown by fn is rethrown here, after every thread has finished.
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
  // Small enough to balance the tail, large enough that the counter is touched rarely.
  const std::size_t chunk = std::clamp<std::size_t>(n / (threads * 8), 1, 64);
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(threads);
  auto run_chunks = [&](std::size_t t) {
    try {
      for (std::size_t begin; (begin = next.fetch_add(chunk, std::memory_order_relaxed)) < n;)
        for (std::size_t i = begin, end = std::min(n, begin + chunk); i < end; ++i)
          fn(i);
    } catch (...) {
      errors[t] = std::current_exception();
      next.store(n, std::memory_order_relaxed);  // the others stop after their current chunk
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t)
    helpers.emplace_back(run_chunks, t);
  run_chunks(0);
  for (auto& h : helpers)
    h.join();
  for (auto& e : errors)
    if (e)
      std::rethrow_exception(e);
}

}  // namespace gsio::ledger
