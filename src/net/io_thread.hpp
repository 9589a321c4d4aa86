#pragma once
// One io_context and the thread that runs it, for a network part that needs one of its own (the
// debug console's admin server, an outbound link). Keeps Asio out of its owner's headers.
#include <memory>

namespace boost::asio { class io_context; }

namespace gsio::net {

class io_thread {
public:
  io_thread();
  ~io_thread();  // stop()
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;

  boost::asio::io_context& context();
  // Runs the context on a new thread, until stop(); once.
  void start();
  // Stops the context and joins the thread (from the thread itself: detaches it). Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gsio::net
