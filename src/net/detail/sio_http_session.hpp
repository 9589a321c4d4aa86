#pragma once
// One TCP connection of the Socket.IO server that speaks HTTP: Engine.IO polling (a poll or POST
// is handed to its engine session and answered when the session replies), CORS, requests outside
// the Engine.IO paths (the handler's on_http), and the upgrade request, whose socket it hands over
// to a WebSocket (detail/engineio_session). Runs on the strand of its socket.
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/sio_core.hpp"

namespace gsio::net::detail {

namespace beast = boost::beast;
namespace http = beast::http;

// Upper bound for writing one HTTP response to a client that does not read.
constexpr auto http_write_timeout = std::chrono::seconds{30};
constexpr std::uint32_t max_header_bytes = 16 * 1024;
// What one read of an HTTP connection may add to its buffer (Beast reads at most 64 KiB a time).
constexpr std::size_t max_read_bytes = 64 * 1024;

class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(std::shared_ptr<server_core> core, tcp::socket socket)
    : core_(std::move(core)), stream_(std::move(socket)), executor_(stream_.get_executor()) {
    // Beast's header_limit covers the request line and headers only: a chunk-size line or a
    // trailer that never ends would otherwise grow the buffer until the request timeout. Bodies
    // are taken out of the buffer as they arrive, so it never needs more than the headers and
    // one read. Beyond this the read fails with buffer_overflow, answered with 400.
    buffer_.max_size(max_header_bytes + max_read_bytes);
    beast::error_code ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec)
      remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }
  ~http_session() { core_->unregister_connection(this); }

  void start() {
    asio::dispatch(executor_, [self = shared_from_this()] { self->do_read(); });
  }
  // Called (posted) by the engine session with the answer to a poll or POST.
  void deliver(engine_reply reply);
  // Server shutdown: drop the connection.
  void shutdown() {
    asio::post(executor_, [self = shared_from_this()] { self->close_stream(); });
  }
  // The connection's strand. Cached: the stream itself moves into a WebSocket on upgrade.
  const asio::any_io_executor& executor() const { return executor_; }

private:
  void do_read();
  void on_read(beast::error_code ec, std::size_t bytes);
  void handle_request(http::request<http::string_body> req);
  void handle_engine_request(http::request<http::string_body> req, std::string_view path,
                             std::string_view query);
  void handle_plain_request(http::request<http::string_body> req);
  void handle_upgrade(http::request<http::string_body> req, bool raw, std::string sid);
  // Hands the connection over for a WebSocket, moved onto `strand`: Beast runs the WebSocket's
  // internal timers on the socket's executor, which must be the strand our handlers use.
  std::optional<beast::tcp_stream> take_stream_onto(const strand_type& strand);
  void on_oversized_body();
  // The connection cannot go on (a read failed, or a request cannot be answered) while a poll is
  // held or a response is on its way: aborts the held poll, or closes once the response is
  // written. False when nothing is pending.
  bool end_behind_pending();
  void respond(engine_reply reply);
  void write(http::response<http::string_body> res);
  void on_write(beast::error_code ec, std::size_t bytes);
  void add_cors(http::response<http::string_body>& res) const;
  // No Origin (not a browser, or a same-origin GET), the server's own origin, or cors_origin.
  bool origin_allowed(const http::request<http::string_body>& req) const;
  void close_stream();
  void linger();

  std::shared_ptr<server_core> core_;
  beast::tcp_stream stream_;
  const asio::any_io_executor executor_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::request<http::string_body>> stashed_;  // arrived while busy
  std::shared_ptr<http::response<http::string_body>> response_;
  std::string remote_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool reading_ = false;
  bool writing_ = false;
  bool awaiting_engine_ = false;  // a poll or POST was handed to an engine session
  bool awaiting_poll_ = false;    // ... and it is a GET that the engine may hold
  bool peer_eof_ = false;         // the client half-closed; finish the response, then close
  bool linger_after_write_ = false;  // unread request bytes remain: drain before closing
  bool lingering_ = false;
  std::size_t lingered_bytes_ = 0;
  std::array<char, 16 * 1024> drain_buffer_;
  bool closed_ = false;
  std::shared_ptr<engine_session> engine_;  // the session the pending request went to
};

}  // namespace gsio::net::detail
