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
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "net/detail/sio_core.hpp"
#include "net/detail/write_batch.hpp"
#include "net/ws_frame.hpp"

namespace gsio::net::detail {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

// How long a client may take between "2probe" and "5" before the probe WebSocket is dropped.
constexpr auto upgrade_timeout = std::chrono::seconds{10};
// How long a graceful WebSocket close may wait for queued frames and the close handshake.
constexpr auto graceful_close_timeout = std::chrono::seconds{5};

class ws_session;

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

// A FIFO of frames that allocates nothing until the first frame and gives its memory back after
// a burst: std::deque allocates a 512-byte block per connection up front, which is most of what
// an idle WebSocket client costs.
class frame_queue {
public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  const outgoing& front() const { return items_[head_]; }
  void push_back(const outgoing& frame) { items_.push_back(frame); }
  void pop_front() {
    items_[head_++].bytes.reset();
    if (head_ == items_.size()) {
      head_ = 0;
      if (items_.capacity() > 64)
        std::vector<outgoing>{}.swap(items_);
      else
        items_.clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

private:
  std::vector<outgoing> items_;
  std::size_t head_ = 0;
};

// One WebSocket connection. Beast answers the opening handshake; after it the session frames by
// itself (net/ws_frame): it waits for the socket to become readable and reads into a scratch
// buffer shared by the thread, so an idle connection holds no read buffer, and it writes all of
// its queued frames with one gathered write (a broadcast burst is one syscall, not one per frame).
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  // `leftover`: bytes that arrived after the upgrade request, read along with it.
  ws_session(std::shared_ptr<server_core> core, bool raw, beast::tcp_stream stream,
             strand_type strand, std::string leftover)
    : core_(std::move(core)),
      raw_(raw),
      handshake_(std::in_place, std::move(stream)),
      socket_(strand),
      strand_(std::move(strand)),
      close_timer_(strand_),
      parser_(core_->options.max_payload),
      pending_input_(std::move(leftover)) {}

  const strand_type& strand() const { return strand_; }
  void set_engine(std::shared_ptr<engine_session> engine) { engine_ = std::move(engine); }

  // Runs the WebSocket handshake. Without an engine yet, a new WebSocket-only session is created
  // once it succeeds; with one (an upgrade probe), the engine is told about failure.
  void start_accept(http::request<http::string_body> request);
  // Answers the upgrade request with an HTTP error instead of accepting it.
  void reject(engine_reply reply, http::request<http::string_body> request);
  // Completes the handshake, then closes at once with a close frame without a status, as the
  // reference server does with a second upgrade for a session that has one already.
  void accept_and_close(http::request<http::string_body> request);

  // Queues frames that go together (a packet and its attachments, a commit's events). False when
  // the reader is too slow (backlog_judge, with max_buffered_bytes as the limit): the caller
  // closes.
  bool send(const outgoing* frames, std::size_t count);
  bool send(const outgoing& frame) { return send(&frame, 1); }
  bool send(const std::vector<outgoing>& frames) { return send(frames.data(), frames.size()); }
  // Graceful: flush queued frames, then the close handshake (bounded by a timer). Otherwise the
  // TCP connection is dropped at once. The engine is forgotten either way.
  // `code` is the status of the close frame: 1001 (going away) when the server shuts down.
  void close(bool graceful, std::uint16_t code = ws::close_code::normal);

private:
  void on_accept(beast::error_code ec);
  void wait_readable();
  void on_readable(beast::error_code ec);
  // Handles every complete frame at the start of `input`; returns the bytes used (all of them
  // once the rest is to be ignored).
  std::size_t take_frames(std::string_view input);
  void on_frame_failure(const ws::parsed& failure);
  void arm_close_timer();
  void arm_slow_timer();
  void queue_pong(std::string frame);
  void do_write();
  void on_write(beast::error_code ec, std::size_t bytes);
  void start_close_handshake(std::uint16_t code, std::string_view reason);
  void hard_close();
  void report_closed(disconnect_reason reason);
  tcp::socket& socket() { return handshake_ ? beast::get_lowest_layer(*handshake_).socket() : socket_; }

  std::shared_ptr<server_core> core_;
  bool raw_;
  std::optional<websocket::stream<beast::tcp_stream>> handshake_;  // until the handshake is done
  tcp::socket socket_;                                             // after it
  strand_type strand_;
  asio::steady_timer close_timer_;
  // Runs while the backlog is above max_buffered_bytes: a reader that takes nothing more is
  // judged when the grace ends, whether or not anything else is sent to it. Made when first
  // needed: an idle client should not pay for a timer (bench (e)).
  std::optional<asio::steady_timer> slow_timer_;
  bool slow_timer_armed_ = false;
  std::shared_ptr<engine_session> engine_;
  http::request<http::string_body> request_;  // kept alive for the asynchronous handshake only
  std::shared_ptr<http::response<http::string_body>> rejection_;
  ws::frame_parser parser_;
  std::string pending_input_;  // the start of a frame whose rest has not arrived
  frame_queue queue_;
  std::size_t queued_bytes_ = 0;
  backlog_judge backlog_;
  // The write in progress: its frames (which its buffers may point into) and its bytes.
  std::vector<outgoing> in_flight_;
  // A node holds thousands of sessions (the relay a few links): a smaller block bounds what
  // stalled readers hold together (10k of them: 160 MiB, not 640), for 2-5 % of ingest.
  write_batch batch_{16 * 1024};
  std::string control_pending_;    // pong or close frames waiting for the write in progress
  bool writing_ = false;
  bool closing_ = false;
  bool refuse_when_open_ = false;  // accept_and_close: close as soon as the handshake is done
  bool close_after_flush_ = false;
  std::uint16_t close_code_ = ws::close_code::normal;  // of the close frame sent after the flush
  bool close_sent_ = false;        // our close frame is queued or written
  bool close_queued_ = false;      // it is in control_pending_
  bool close_in_flight_ = false;   // it is in the write in progress
  bool peer_closed_ = false;       // the peer's close frame has arrived
  bool discard_input_ = false;     // after the peer's close frame or a malformed frame
  bool transport_failed_ = false;  // the stream is unusable: no close handshake
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
  void attach_websocket(std::shared_ptr<ws_session> ws);
  void begin_probe(std::shared_ptr<ws_session> ws, http::request<http::string_body> req);
  void handle_poll(std::shared_ptr<http_session> http);
  void handle_post(std::shared_ptr<http_session> http, std::string body);
  void poll_aborted(const std::shared_ptr<http_session>& http);
  void on_ws_frame(ws_session* ws, std::string data, bool text);
  void on_ws_closed(ws_session* ws, disconnect_reason reason);

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
  std::shared_ptr<ws_session> ws_;
  std::shared_ptr<ws_session> probe_;
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
