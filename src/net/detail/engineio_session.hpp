#pragma once
// One Engine.IO v4 session: the handshake fields, the heartbeat, the polling transport (an outbox
// answered to held polls), the WebSocket transport and the upgrade from polling to WebSocket
// (probe, "3probe", noop to the held poll, "5"). What its messages mean is up to the layer on
// top: socketio_session (detail/socketio_session) for the Socket.IO endpoint, raw_session below
// for the plain Engine.IO endpoint. Everything runs on the session's strand.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "net/detail/sio_core.hpp"
#include "net/detail/ws_connection.hpp"
#include "net/ws_frame.hpp"

namespace gsio::net::detail {

// How long a client may take between "2probe" and "5" before the probe WebSocket is dropped.
constexpr auto upgrade_timeout = std::chrono::seconds{10};

class ws_transport;

// Decides when a reader is too slow to keep (P4), the way Redis judges its clients' output
// buffers: a backlog above the limit is let be for a grace period, so that a burst (a large
// commit's events, the acks of many adds, a page of big entries) reaches a reader that keeps up;
// a backlog above the limit for longer than that, or above four times the limit at any time,
// ends the session. What a session holds stays below four times the limit.
class backlog_judge {
public:
  static constexpr std::size_t hard_factor = 4;
  static constexpr std::chrono::seconds grace{5};

  // After the backlog grew to `backlog`: true when the reader is too slow.
  bool too_slow(std::size_t backlog, std::size_t limit) {
    if (backlog <= limit) {
      over_since_.reset();
      return false;
    }
    if (backlog > hard_factor * limit)
      return true;
    const auto now = std::chrono::steady_clock::now();
    if (!over_since_)
      over_since_ = now;
    return now - *over_since_ > grace;
  }
  // After the backlog shrank to `backlog`.
  void drained(std::size_t backlog, std::size_t limit) {
    if (backlog <= limit)
      over_since_.reset();
  }
  // How much of the grace is left for a backlog above the limit (all of it when it is not).
  std::chrono::steady_clock::duration grace_left() const {
    if (!over_since_)
      return grace;
    const auto over_for = std::chrono::steady_clock::now() - *over_since_;
    return over_for < grace ? grace - over_for : std::chrono::steady_clock::duration::zero();
  }

private:
  std::optional<std::chrono::steady_clock::time_point> over_since_;
};

// The WebSocket transport of an Engine.IO session (or of an upgrade probe): a ws_connection on
// the session's strand that hands its messages to the session, and judges its backlog with a
// backlog_judge (max_buffered_bytes as the limit).
class ws_transport final : public ws_connection {
public:
  // `leftover`: bytes that arrived after the upgrade request, read along with it.
  ws_transport(std::shared_ptr<server_core> core, bool raw, beast::tcp_stream stream,
               strand_type strand, std::string leftover);

  void set_engine(std::shared_ptr<engine_session> engine) { engine_ = std::move(engine); }

  // Runs the WebSocket handshake. Without an engine yet, a new WebSocket-only session is created
  // once it succeeds; with one (an upgrade probe), the engine is told about failure.
  void start_accept(request_type request) { accept(std::move(request)); }
  // Answers the upgrade request with an HTTP error instead of accepting it.
  void reject(engine_reply reply, request_type request);
  // (accept_and_close, for a second upgrade of a session that has one already, as the reference
  // server does: complete the handshake, then close at once without a status.)

  // Queues frames that go together (a packet and its attachments, a commit's events). False when
  // the reader is too slow (backlog_judge, with max_buffered_bytes as the limit): the caller
  // closes.
  bool send(const outgoing* frames, std::size_t count);
  bool send(const outgoing& frame) { return send(&frame, 1); }
  bool send(const std::vector<outgoing>& frames) { return send(frames.data(), frames.size()); }
  // Graceful: flush queued frames, then the close handshake (bounded by a timer). Otherwise the
  // TCP connection is dropped at once. The engine is forgotten either way.
  // `code` is the status of the close frame: 1001 (going away) when the server shuts down.
  void end(bool graceful, std::uint16_t code = ws::close_code::normal);

private:
  void decorate(response_type& response) override;
  bool on_open() override;
  void on_message(ws::parsed message) override;
  void on_end(const ws_ending& ending) override;
  void on_write_done(std::size_t data_bytes, std::size_t data_frames, bool ok) override;
  void on_socket_closed() override;
  void arm_slow_timer();

  std::shared_ptr<server_core> core_;
  bool raw_;
  std::shared_ptr<engine_session> engine_;
  // Runs while the backlog is above max_buffered_bytes: a reader that takes nothing more is
  // judged when the grace ends, whether or not anything else is sent to it. Made when first
  // needed: an idle client should not pay for a timer (bench (e)).
  std::optional<asio::steady_timer> slow_timer_;
  bool slow_timer_armed_ = false;
  backlog_judge backlog_;
};

// ---------------------------------------------------------------------------------------------

// An Engine.IO session. The layer on top receives its messages through on_message and learns of
// its start and end through on_open and on_closed; it sends with send().
class engine_session : public std::enable_shared_from_this<engine_session> {
public:
  engine_session(std::shared_ptr<server_core> core, strand_type strand, std::string sid, bool raw,
                 transport_kind transport, std::string remote)
    : core_(std::move(core)),
      strand_(std::move(strand)),
      sid_(std::move(sid)),
      raw_(raw),
      transport_(transport),
      remote_(std::move(remote)),
      ping_timer_(strand_),
      upgrade_timer_(strand_) {}
  virtual ~engine_session() = default;

  const strand_type& strand() const { return strand_; }
  const std::string& sid() const { return sid_; }
  bool raw() const { return raw_; }

  std::string open_packet_json() const;

  // Everything below runs on strand().
  void start();
  void attach_websocket(std::shared_ptr<ws_transport> ws);
  void begin_probe(std::shared_ptr<ws_transport> ws, http::request<http::string_body> req);
  void handle_poll(std::shared_ptr<http_session> http);
  void handle_post(std::shared_ptr<http_session> http, std::string body);
  void poll_aborted(const std::shared_ptr<http_session>& http);
  void on_ws_frame(ws_transport* ws, std::string data, bool text);
  void on_ws_closed(ws_transport* ws, disconnect_reason reason);

  // Sends one Engine.IO message.
  void send_message(std::string data, bool binary);
  void close(disconnect_reason reason);

protected:
  // The session has started (its open packet is on its way).
  virtual void on_open() = 0;
  // An Engine.IO message from the client.
  virtual void on_message(std::string data, bool binary) = 0;
  // The session has ended and left the registry; nothing can be sent any more.
  virtual void on_closed(disconnect_reason reason) = 0;

  void send(std::vector<outgoing> packets);
  // Counts a protocol error and closes the session (parse_error).
  void protocol_error();
  bool closed() const { return closed_; }
  transport_kind transport() const { return transport_; }
  const std::string& remote() const { return remote_; }

  std::shared_ptr<server_core> core_;

private:
  void schedule_ping();
  void on_ping_timer(beast::error_code ec);
  void handle_packet(eio::packet p);
  void handle_probe_frame(std::string data, bool text);
  void complete_upgrade();
  void abort_probe();
  void flush_polling();
  void reply(const std::shared_ptr<http_session>& http, engine_reply r);
  // False, with the error already answered, when this session cannot take a polling request.
  bool accept_polling_request(const std::shared_ptr<http_session>& http);

  strand_type strand_;
  const std::string sid_;
  const bool raw_;
  transport_kind transport_;
  std::string remote_;
  bool closed_ = false;

  // Heartbeat: the timer waits ping_interval, then (after a ping) ping_timeout for the pong.
  asio::steady_timer ping_timer_;
  bool awaiting_pong_ = false;

  // Polling transport.
  std::vector<outgoing> outbox_;
  std::size_t outbox_bytes_ = 0;
  backlog_judge poll_backlog_;  // judges outbox_bytes_
  std::shared_ptr<http_session> pending_poll_;

  // WebSocket transport, and the probe WebSocket of an upgrade in progress.
  std::shared_ptr<ws_transport> ws_;
  std::shared_ptr<ws_transport> probe_;
  bool probed_ = false;  // "2probe" answered; polls now return at once so the client can pause
  asio::steady_timer upgrade_timer_;
};

// A session of the plain Engine.IO endpoint (server_options::engineio_path): its messages go to
// the engineio_handler as they are.
class raw_session final : public engine_session {
public:
  using engine_session::engine_session;

private:
  void on_open() override;
  void on_message(std::string data, bool binary) override;
  void on_closed(disconnect_reason reason) override;
};

}  // namespace gsio::net::detail
