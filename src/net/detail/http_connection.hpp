#pragma once
// One accepted TCP connection while it speaks HTTP/1.1: the Socket.IO server's http_session
// (detail/sio_http_session) and the relay's HTTP side (relay_server.cpp) are built on it.
//
// It reads one request at a time within limits (the header, the body, the read buffer) and by a
// deadline, and tells a request it cannot take (malformed, or a body over the limit) from a
// connection that went away; it writes one response at a time by a deadline and says whether
// the connection may be kept; and it hands its socket over to a WebSocket together with the
// bytes read after the upgrade request. What a request means, keep-alive decisions and the
// Host and Origin checks are up to each server.
//
// Threading: everything runs on executor(), the strand of the socket.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace gsio::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;

// Why a request could not be read.
enum class http_read_error {
  closed,          // EOF, reset, the deadline: nothing to answer
  body_too_large,  // the body passed its limit; request_so_far() holds the header
  malformed,       // not HTTP, or a line past its limit: answer 400 and close
};

class http_connection : public std::enable_shared_from_this<http_connection> {
public:
  using request_type = http::request<http::string_body>;
  using response_type = http::response<http::string_body>;

  virtual ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  // The connection's strand. Cached: the stream itself moves into a WebSocket on upgrade.
  const asio::any_io_executor& executor() const { return executor_; }

protected:
  // `buffer_limit`: the most the read buffer may hold. Beast's header limit covers the request
  // line and headers only (a chunk-size line or a trailer that never ends would otherwise grow
  // the buffer until the deadline), and bodies are taken out of the buffer as they arrive, so
  // it needs no more than the headers and one read; beyond it a read fails as malformed.
  http_connection(tcp::socket socket, std::size_t buffer_limit);

  // Reads the next request: then on_request, or on_read_failed. Nothing while a read is under
  // way or once closed.
  void read_request(std::uint32_t header_limit, std::uint64_t body_limit,
                    std::chrono::steady_clock::duration timeout);
  virtual void on_request(request_type request) = 0;
  virtual void on_read_failed(beast::error_code ec, http_read_error what) = 0;
  // The header of the request being read, or whose read failed.
  const request_type& request_so_far() const { return parser_->get(); }

  // Writes `response` (one at a time: wait for on_written). `keep_alive`: the response lets the
  // connection be kept. on_written is not called once the connection is closed.
  void write(response_type response, std::chrono::steady_clock::duration timeout);
  virtual void on_written(beast::error_code ec, bool keep_alive) = 0;

  bool reading() const { return reading_; }
  bool writing() const { return writing_; }
  bool closed() const { return closed_; }
  beast::tcp_stream& stream() { return stream_; }

  // Shuts the connection down and closes it. Idempotent.
  void close_stream();

  // Handing the connection over to a WebSocket: first the bytes read after the request, then the
  // stream, as it is or moved onto `strand` (nullopt when the connection is already gone). The
  // connection counts as closed from then on.
  std::string take_leftover() const;
  beast::tcp_stream take_stream();
  std::optional<beast::tcp_stream> take_stream_onto(const strand_type& strand);

  template <class Derived>
  std::shared_ptr<Derived> shared_as() {
    return std::static_pointer_cast<Derived>(shared_from_this());
  }

private:
  void on_read(beast::error_code ec, std::size_t bytes);
  void on_write(beast::error_code ec, std::size_t bytes);

  beast::tcp_stream stream_;
  const asio::any_io_executor executor_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<response_type> response_;
  bool reading_ = false;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace gsio::net::detail
