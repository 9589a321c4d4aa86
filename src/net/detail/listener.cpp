#include "net/detail/listener.hpp"

#include <chrono>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace gsio::net::detail {

namespace {

// Waiting this long after a failed accept keeps the listener from spinning while still
// recovering on its own.
constexpr auto accept_retry_delay = std::chrono::milliseconds{100};

}  // namespace

listener::listener(asio::io_context& io)
  : io_(io), acceptor_(asio::make_strand(io)), retry_(acceptor_.get_executor()) {}

std::optional<listener::failure> listener::open(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  if (acceptor_.open(endpoint.protocol(), ec); ec)
    return failure{"open", ec};
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return failure{"SO_REUSEADDR", ec};
  if (acceptor_.bind(endpoint, ec); ec)
    return failure{"bind", ec};
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec)
    return failure{"listen", ec};
  port_ = acceptor_.local_endpoint(ec).port();
  return std::nullopt;
}

void listener::start(accept_handler on_accept, error_handler on_error) {
  on_accept_ = std::move(on_accept);
  on_error_ = std::move(on_error);
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept_next(); });
}

void listener::accept_next() {
  if (stopped_ || !acceptor_.is_open())
    return;
  acceptor_.async_accept(asio::make_strand(io_),
                         [self = shared_from_this()](boost::system::error_code ec,
                                                     tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec) {
    if (on_error_)
      on_error_(ec);
    retry_.expires_after(accept_retry_delay);
    retry_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
      if (!wait_ec)
        self->accept_next();
    });
    return;
  }
  on_accept_(std::move(socket));
  accept_next();
}

void listener::stop() {
  if (stopped_.exchange(true))
    return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->retry_.cancel();
    self->acceptor_.close(ignored);
  });
}

}  // namespace gsio::net::detail
