#pragma once
// The callbacks an owner gave a client that runs on an io thread (ws_client, sio_client), with
// the promise their destructors make: once detach() returns, no callback runs. Callbacks run
// under a recursive mutex that detach() takes too, so it waits for a callback in progress on
// another thread; recursive, because a callback may destroy its own client (detach() then runs
// inside the callback, on the thread that holds the mutex).
#include <mutex>
#include <utility>

namespace gsio::net::detail {

template <class Callbacks>
class callback_gate {
public:
  explicit callback_gate(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

  // Runs `call(callbacks)` unless detached. Callbacks must not throw.
  template <class Call>
  void notify(Call&& call) {
    std::lock_guard<std::recursive_mutex> lock{mutex_};
    if (detached_)
      return;
    // Restores the depth even if a callback throws (the exception then leaves io_context::run).
    struct depth_guard {
      int& depth;
      explicit depth_guard(int& d) : depth(d) { ++depth; }
      ~depth_guard() { --depth; }
    } guard{depth_};
    call(callbacks_);
  }

  // Stops every later notify(). Returns the callbacks, for the caller to destroy once its own
  // locks are released (their captures may run destructors); inside one of our own callbacks the
  // running std::function must stay alive, so it is then kept here and released with the gate.
  Callbacks detach() {
    std::lock_guard<std::recursive_mutex> lock{mutex_};
    detached_ = true;
    return depth_ == 0 ? std::move(callbacks_) : Callbacks{};
  }

private:
  std::recursive_mutex mutex_;
  Callbacks callbacks_;
  bool detached_ = false;
  int depth_ = 0;  // > 0 while a callback runs (on the thread holding the mutex)
};

}  // namespace gsio::net::detail
