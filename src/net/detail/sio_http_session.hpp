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

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "net/detail/http_connection.hpp"
#include "net/detail/sio_core.hpp"

namespace gsio::net::detail {

// Upper bound for writing one HTTP response to a client that does not read.
constexpr auto http_write_timeout = std::chrono::seconds{30};
constexpr std::uint32_t max_header_bytes = 16 * 1024;
// What one read of an HTTP connection may add to its buffer (Beast reads at most 64 KiB a time).
constexpr std::size_t max_read_bytes = 64 * 1024;

class http_session final : public http_connection {
public:
  // A read past the buffer's bound fails as malformed: answered with 400.
  http_session(std::shared_ptr<server_core> core, tcp::socket socket)
    : http_connection(std::move(socket), max_header_bytes + max_read_bytes),
      core_(std::move(core)) {
    beast::error_code ec;
    auto endpoint = stream().socket().remote_endpoint(ec);
    if (!ec)
      remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }
  ~http_session() override { core_->unregister_connection(this); }

  void start() {
    asio::dispatch(executor(), [self = shared_as<http_session>()] { self->do_read(); });
  }
  // Called (posted) by the engine session with the answer to a poll or POST.
  void deliver(engine_reply reply);
  // Server shutdown: drop the connection.
  void shutdown() {
    asio::post(executor(), [self = shared_as<http_session>()] { self->close_stream(); });
  }

private:
  void do_read();
  void on_request(request_type req) override;
  void on_read_failed(beast::error_code ec, http_read_error what) override;
  void on_written(beast::error_code ec, bool keep_alive) override;
  void handle_request(request_type req);
  void handle_engine_request(request_type req, std::string_view path, std::string_view query);
  void handle_plain_request(request_type req);
  void handle_upgrade(request_type req, bool raw, std::string sid);
  void on_oversized_body();
  // The connection cannot go on (a read failed, or a request cannot be answered) while a poll is
  // held or a response is on its way: aborts the held poll, or closes once the response is
  // written. False when nothing is pending.
  bool end_behind_pending();
  void respond(engine_reply reply);
  void send_response(response_type res);
  void add_cors(response_type& res) const;
  // No Origin (not a browser, or a same-origin GET), the server's own origin, or cors_origin.
  bool origin_allowed(const request_type& req) const;
  void linger();

  std::shared_ptr<server_core> core_;
  std::optional<request_type> stashed_;  // arrived while busy
  std::string remote_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool awaiting_engine_ = false;  // a poll or POST was handed to an engine session
  bool awaiting_poll_ = false;    // ... and it is a GET that the engine may hold
  bool peer_eof_ = false;         // the client half-closed; finish the response, then close
  bool linger_after_write_ = false;  // unread request bytes remain: drain before closing
  bool lingering_ = false;
  std::size_t lingered_bytes_ = 0;
  std::array<char, 16 * 1024> drain_buffer_;
  std::shared_ptr<engine_session> engine_;  // the session the pending request went to
};

}  // namespace gsio::net::detail
