#include "net/io_thread.hpp"

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace gsio::net {

struct io_thread::impl {
  boost::asio::io_context io;
  // Keeps run() going while nothing is queued.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
};

io_thread::io_thread() : impl_(std::make_unique<impl>()) {}

io_thread::~io_thread() { stop(); }

boost::asio::io_context& io_thread::context() { return impl_->io; }

void io_thread::start() {
  if (!impl_->thread.joinable())
    impl_->thread = std::thread{[this] { impl_->io.run(); }};
}

void io_thread::stop() {
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) {
    if (impl_->thread.get_id() == std::this_thread::get_id())
      impl_->thread.detach();
    else
      impl_->thread.join();
  }
}

}  // namespace gsio::net
