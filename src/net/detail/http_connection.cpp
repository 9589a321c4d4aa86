#include "net/detail/http_connection.hpp"

#include <utility>

#include <unistd.h>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace gsio::net::detail {

http_connection::http_connection(tcp::socket socket, std::size_t buffer_limit)
  : stream_(std::move(socket)), executor_(stream_.get_executor()), buffer_(buffer_limit) {}

http_connection::~http_connection() = default;

void http_connection::read_request(std::uint32_t header_limit, std::uint64_t body_limit,
                                   std::chrono::steady_clock::duration timeout) {
  if (closed_ || reading_)
    return;
  reading_ = true;
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(body_limit);
  stream_.expires_after(timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
}

void http_connection::on_read(beast::error_code ec, std::size_t) {
  reading_ = false;
  if (closed_)
    return;
  if (!ec) {
    on_request(parser_->release());
    return;
  }
  auto what = http_read_error::closed;
  if (ec == http::error::body_limit)
    what = http_read_error::body_too_large;
  else if (ec != http::error::end_of_stream &&
           ec.category() == http::make_error_code(http::error::bad_target).category())
    what = http_read_error::malformed;
  on_read_failed(ec, what);
}

void http_connection::write(response_type response, std::chrono::steady_clock::duration timeout) {
  writing_ = true;
  response_ = std::make_shared<response_type>(std::move(response));
  stream_.expires_after(timeout);
  // The handler holds the response: the serializer reads it until the write completes.
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), response = response_](beast::error_code ec,
                                                                      std::size_t n) {
                      self->on_write(ec, n);
                    });
}

void http_connection::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  const bool keep_alive = response_ && !response_->need_eof();
  response_.reset();
  if (closed_)
    return;
  on_written(ec, keep_alive);
}

void http_connection::close_stream() {
  if (closed_)
    return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

std::string http_connection::take_leftover() const {
  return beast::buffers_to_string(buffer_.data());
}

beast::tcp_stream http_connection::take_stream() {
  closed_ = true;  // from here on the connection belongs to the WebSocket
  return std::move(stream_);
}

// Beast runs a WebSocket's internal timers on its socket's executor, which must be the strand its
// handlers use: the socket is rebound to `strand`.
std::optional<beast::tcp_stream> http_connection::take_stream_onto(const strand_type& strand) {
  closed_ = true;  // from here on the connection belongs to the WebSocket
  tcp::socket socket = stream_.release_socket();
  beast::error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  auto handle = ec ? tcp::socket::native_handle_type{} : socket.release(ec);
  if (ec)
    return std::nullopt;  // the connection is already gone; `socket` closes it
  tcp::socket rebound{strand};
  rebound.assign(protocol, handle, ec);
  if (ec) {
    ::close(handle);
    return std::nullopt;
  }
  return beast::tcp_stream{std::move(rebound)};
}

}  // namespace gsio::net::detail
