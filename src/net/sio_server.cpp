// Socket.IO v5 / Engine.IO v4 server on Boost.Beast.
//
// Objects and their executors:
//   server_core    - the listener, the session registry (mutex) and the statistics (atomics).
//   http_session   - one per TCP connection that speaks HTTP; runs on the strand of its socket.
//   engine_session - one Engine.IO session (with its Socket.IO sockets); owns a strand of its own
//                    because a polling session is fed by several TCP connections.
//   ws_session     - one WebSocket; all its handlers are bound to the strand of the engine session
//                    it carries, so engine and WebSocket call each other directly.
// Cross-strand calls (HTTP <-> engine, public API -> engine) are always posted, never run inline,
// so no handler ever re-enters an object that is in the middle of processing.
#include "net/sio_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/engineio_codec.hpp"
#include "net/socketio_codec.hpp"
#include "net/detail/write_batch.hpp"
#include "net/ws_frame.hpp"
#include "util/url.hpp"

namespace gsio::net {

const char* to_string(disconnect_reason reason) {
  switch (reason) {
  case disconnect_reason::client_disconnect: return "client disconnect";
  case disconnect_reason::transport_close: return "transport close";
  case disconnect_reason::transport_error: return "transport error";
  case disconnect_reason::ping_timeout: return "ping timeout";
  case disconnect_reason::parse_error: return "parse error";
  case disconnect_reason::server_disconnect: return "server disconnect";
  case disconnect_reason::buffer_overflow: return "buffer overflow";
  case disconnect_reason::server_shutdown: return "server shutting down";
  }
  return "unknown";
}

// Named (not anonymous) so that server::impl may derive from server_core without
// -Wsubobject-linkage complaining.
namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;
using namespace std::chrono_literals;

// How long a client may take between "2probe" and "5" before the probe WebSocket is dropped.
constexpr auto upgrade_timeout = 10s;
// How long a graceful WebSocket close may wait for queued frames and the close handshake.
constexpr auto graceful_close_timeout = 5s;
// Upper bound for writing one HTTP response to a client that does not read.
constexpr auto http_write_timeout = 30s;
constexpr std::uint32_t max_header_bytes = 16 * 1024;
// What one read of an HTTP connection may add to its buffer (Beast reads at most 64 KiB a time).
constexpr std::size_t max_read_bytes = 64 * 1024;
// Pause before accepting again after an accept error such as EMFILE, instead of spinning.
constexpr auto accept_retry_delay = 100ms;
// After an error answer to a request whose body was not read (413, malformed HTTP), unread input
// is drained for a while before closing: closing with unread data makes the kernel send a reset,
// which can destroy the answer before the client has read it.
constexpr auto linger_timeout = 2s;
constexpr std::size_t linger_max_bytes = 4 * 1024 * 1024;

class server_core;
class http_session;
class ws_session;
class engine_session;

// An encoded outbound Engine.IO packet. Text packets hold their full text form ("4..."), binary
// packets their raw bytes. Shared so that a broadcast encodes once for every receiver.
struct outgoing {
  std::shared_ptr<const std::string> bytes;
  bool binary = false;
};

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

outgoing text_packet(eio::packet_type type, std::string_view data = {}) {
  std::string text;
  text.reserve(data.size() + 1);
  text += static_cast<char>(type);
  text += data;
  return {std::make_shared<const std::string>(std::move(text)), false};
}

outgoing binary_packet(std::string bytes) {
  return {std::make_shared<const std::string>(std::move(bytes)), true};
}

// Bytes the packet occupies in a polling payload (binary grows by base64).
std::size_t polling_size(const outgoing& o) {
  return o.binary ? 1 + (o.bytes->size() + 2) / 3 * 4 : o.bytes->size();
}

// A Socket.IO packet plus its attachments as Engine.IO packets.
std::vector<outgoing> encode_sio(const sio::packet& p,
                                 const std::vector<std::string>& attachments) {
  std::vector<outgoing> out;
  out.reserve(1 + attachments.size());
  out.push_back(text_packet(eio::packet_type::message, sio::encode(p)));
  for (const auto& a : attachments)
    out.push_back(binary_packet(a));
  return out;
}

// Engine.IO error answers (the codes of the reference implementation).
enum class engine_error {
  transport_unknown = 0,
  session_id_unknown = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};

struct engine_reply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
};

engine_reply error_reply(engine_error e) {
  static constexpr const char* messages[] = {"Transport unknown", "Session ID unknown",
                                             "Bad handshake method", "Bad request", "Forbidden",
                                             "Unsupported protocol version"};
  auto code = static_cast<int>(e);
  return {400, "application/json",
          R"({"code":)" + std::to_string(code) + R"(,"message":")" + messages[code] + "\"}"};
}

engine_reply text_reply(std::string body) {
  return {200, "text/plain; charset=UTF-8", std::move(body)};
}

// 120 random bits as 20 URL-safe characters.
std::string random_id() {
  static std::mutex mutex;
  static std::random_device device;
  std::string bytes(15, '\0');
  {
    std::lock_guard<std::mutex> lock{mutex};
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
      auto r = device();
      bytes[i] = static_cast<char>(r & 0xff);
      bytes[i + 1] = static_cast<char>((r >> 8) & 0xff);
      bytes[i + 2] = static_cast<char>((r >> 16) & 0xff);
    }
  }
  auto id = eio::base64_encode(bytes);
  std::replace(id.begin(), id.end(), '+', '-');
  std::replace(id.begin(), id.end(), '/', '_');
  return id;
}

std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {buffer.GetString(), buffer.GetSize()};
}

// Acks carry a JSON array; a caller passing a single value gets it wrapped.
std::string as_json_array(std::string_view json) {
  auto first = json.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return "[]";
  if (json[first] == '[')
    return std::string{json};
  return "[" + std::string{json} + "]";
}

// "/socket.io/" also answers "/socket.io" (clients built with a path without the slash).
bool path_matches(std::string_view path, std::string_view endpoint) {
  if (endpoint.empty())
    return false;
  if (path == endpoint)
    return true;
  return endpoint.back() == '/' && path == endpoint.substr(0, endpoint.size() - 1);
}

// ---------------------------------------------------------------------------------------------

class server_core : public std::enable_shared_from_this<server_core> {
public:
  server_core(asio::io_context& context, server_options opts, handler& h, engineio_handler* raw)
    : io(context),
      options(std::move(opts)),
      sio_handler(h),
      raw_handler(raw),
      request_timeout(std::max<std::chrono::milliseconds>(
          30s, options.ping_interval + options.ping_timeout + 5s)),
      acceptor_(asio::make_strand(context)),
      accept_retry_(acceptor_.get_executor()) {}

  asio::io_context& io;
  const server_options options;
  handler& sio_handler;
  engineio_handler* const raw_handler;
  // Idle keep-alive connections and request reads; longer than a held poll can last.
  const std::chrono::milliseconds request_timeout;

  std::atomic<bool> stopping{false};
  std::atomic<std::uint16_t> bound_port{0};
  std::atomic<std::uint64_t> packets_in{0};
  std::atomic<std::uint64_t> packets_out{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::size_t> polling_sessions{0};
  std::atomic<std::size_t> websocket_sessions{0};

  void start();
  void stop();

  // Creates and registers an engine session; nullptr when stopping or at max_connections.
  std::shared_ptr<engine_session> create_session(strand_type strand, bool raw,
                                                 transport_kind transport, std::string remote);
  std::shared_ptr<engine_session> find_session(const std::string& sid, bool raw);
  void unregister_session(const std::string& sid, transport_kind transport);
  void transport_upgraded() {
    --polling_sessions;
    ++websocket_sessions;
  }

  socket_id register_socket(const std::shared_ptr<engine_session>& engine, const std::string& nsp);
  void unregister_socket(socket_id id);
  std::shared_ptr<engine_session> find_socket(socket_id id);
  std::vector<std::pair<socket_id, std::shared_ptr<engine_session>>> sockets_of(
      const std::string& nsp);

  enum class admission { admitted, stopping, full };
  admission register_connection(const std::shared_ptr<http_session>& c);
  std::size_t connection_count();
  void unregister_connection(const http_session* c);

  std::size_t session_count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return sessions_.size();
  }
  std::size_t socket_count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return sockets_.size();
  }

private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);

  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;

  struct socket_entry {
    std::weak_ptr<engine_session> engine;
    std::string nsp;
  };
  std::mutex mutex_;  // guards the maps and next_socket_id_
  std::unordered_map<std::string, std::shared_ptr<engine_session>> sessions_;
  std::unordered_map<socket_id, socket_entry> sockets_;
  std::unordered_map<const http_session*, std::weak_ptr<http_session>> connections_;
  socket_id next_socket_id_ = 1;
};

// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------

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
      connect_timer_(strand_),
      upgrade_timer_(strand_) {}

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

  void emit(socket_id id, std::string event, sio_args args, std::function<void(sio_args)> on_ack);
  void send_shared(socket_id id, const std::shared_ptr<const std::vector<outgoing>>& packets);
  void ack(socket_id id, std::uint64_t ack_id, sio_args args);
  void disconnect_socket(socket_id id);
  void send_raw(std::string data, bool binary);
  void close(disconnect_reason reason);

private:
  struct sio_socket {
    socket_id id = 0;
    std::string nsp;
    std::string sio_sid;
    std::uint64_t next_ack_id = 1;
    std::unordered_map<std::uint64_t, std::function<void(sio_args)>> acks;
  };

  void schedule_ping();
  void on_ping_timer(beast::error_code ec);
  void handle_packet(eio::packet p);
  void handle_probe_frame(std::string data, bool text);
  void complete_upgrade();
  void abort_probe();
  void send(std::vector<outgoing> packets);
  void flush_polling();
  void reply(const std::shared_ptr<http_session>& http, engine_reply r);
  void protocol_error();

  void on_sio_text(std::string text);
  void on_sio_attachment(std::string bytes);
  void dispatch(sio::packet p, std::vector<std::string> attachments);
  void on_sio_connect(sio::packet p);
  sio_socket* socket_by_id(socket_id id);

  std::shared_ptr<server_core> core_;
  strand_type strand_;
  const std::string sid_;
  const bool raw_;
  transport_kind transport_;
  std::string remote_;
  bool closed_ = false;

  // Heartbeat: the timer waits ping_interval, then (after a ping) ping_timeout for the pong.
  asio::steady_timer ping_timer_;
  bool awaiting_pong_ = false;
  asio::steady_timer connect_timer_;

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

  // Socket.IO layer.
  std::map<std::string, sio_socket> sockets_;  // by namespace
  bool ever_connected_ = false;
  sio::binary_reassembler reassembler_;
  std::size_t reassembly_bytes_ = 0;
};

// ============================ server_core ====================================================

void server_core::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec)
    throw std::system_error(std::error_code(ec), "invalid listen address " + options.host);
  tcp::endpoint endpoint{address, options.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(endpoint, ec);
  if (!ec)
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(std::error_code(ec),
                            "listen on " + options.host + ":" + std::to_string(options.port));
  bound_port = acceptor_.local_endpoint().port();
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void server_core::do_accept() {
  acceptor_.async_accept(asio::make_strand(io),
                         beast::bind_front_handler(&server_core::on_accept, shared_from_this()));
}

void server_core::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor_.is_open())
    return;
  if (ec) {
    accept_retry_.expires_after(accept_retry_delay);
    accept_retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopping)
        self->do_accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<http_session>(shared_from_this(), std::move(socket));
  switch (register_connection(session)) {
    case admission::stopping:
      return;  // stop() ran since the check above; the socket closes with the session
    case admission::full:
      ++connections_refused;  // the socket closes with the session, unread
      break;
    case admission::admitted:
      session->start();
      break;
  }
  do_accept();
}

void server_core::stop() {
  if (stopping.exchange(true))
    return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->accept_retry_.cancel();
    self->acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<engine_session>> engines;
  std::vector<std::shared_ptr<http_session>> connections;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    for (auto& [sid, engine] : sessions_)
      engines.push_back(engine);
    for (auto& [ptr, weak] : connections_)
      if (auto c = weak.lock())
        connections.push_back(std::move(c));
  }
  for (auto& engine : engines)
    asio::post(engine->strand(), [engine] { engine->close(disconnect_reason::server_shutdown); });
  for (auto& c : connections)
    c->shutdown();
}

std::shared_ptr<engine_session> server_core::create_session(strand_type strand, bool raw,
                                                            transport_kind transport,
                                                            std::string remote) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping || sessions_.size() >= options.max_connections)
    return nullptr;
  std::string sid;
  do
    sid = random_id();
  while (sessions_.count(sid) != 0);
  auto engine = std::make_shared<engine_session>(shared_from_this(), std::move(strand), sid, raw,
                                                 transport, std::move(remote));
  sessions_.emplace(std::move(sid), engine);
  if (transport == transport_kind::polling)
    ++polling_sessions;
  else
    ++websocket_sessions;
  return engine;
}

std::shared_ptr<engine_session> server_core::find_session(const std::string& sid, bool raw) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = sessions_.find(sid);
  if (it == sessions_.end() || it->second->raw() != raw)
    return nullptr;
  return it->second;
}

void server_core::unregister_session(const std::string& sid, transport_kind transport) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (sessions_.erase(sid) == 0)
    return;
  if (transport == transport_kind::polling)
    --polling_sessions;
  else
    --websocket_sessions;
}

socket_id server_core::register_socket(const std::shared_ptr<engine_session>& engine,
                                       const std::string& nsp) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto id = next_socket_id_++;
  sockets_.emplace(id, socket_entry{engine, nsp});
  return id;
}

void server_core::unregister_socket(socket_id id) {
  std::lock_guard<std::mutex> lock{mutex_};
  sockets_.erase(id);
}

std::shared_ptr<engine_session> server_core::find_socket(socket_id id) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.engine.lock();
}

std::vector<std::pair<socket_id, std::shared_ptr<engine_session>>> server_core::sockets_of(
    const std::string& nsp) {
  std::vector<std::pair<socket_id, std::shared_ptr<engine_session>>> out;
  std::lock_guard<std::mutex> lock{mutex_};
  for (auto& [id, entry] : sockets_)
    if (entry.nsp == nsp)
      if (auto engine = entry.engine.lock())
        out.emplace_back(id, std::move(engine));
  return out;
}

server_core::admission server_core::register_connection(const std::shared_ptr<http_session>& c) {
  // stop() sets `stopping` before it takes the lock to collect the connections: a connection
  // either is in its list or sees the flag here, so none outlives the stop.
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping)
    return admission::stopping;
  if (connections_.size() >= options.max_connections)
    return admission::full;
  connections_.emplace(c.get(), c);
  return admission::admitted;
}

std::size_t server_core::connection_count() {
  std::lock_guard<std::mutex> lock{mutex_};
  return connections_.size();
}

void server_core::unregister_connection(const http_session* c) {
  std::lock_guard<std::mutex> lock{mutex_};
  connections_.erase(c);
}

// ============================ http_session ===================================================

void http_session::do_read() {
  if (closed_ || reading_)
    return;
  reading_ = true;
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(core_->options.max_payload);
  stream_.expires_after(core_->request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, std::size_t) {
  reading_ = false;
  if (closed_)
    return;
  if (ec == http::error::body_limit) {
    on_oversized_body();
    return;
  }
  if (ec) {
    if (end_behind_pending())
      return;
    if (ec != http::error::end_of_stream &&
        ec.category() == http::make_error_code(http::error::bad_target).category()) {
      // Malformed HTTP: say so before hanging up.
      ++core_->protocol_errors;
      keep_alive_ = false;
      linger_after_write_ = true;
      respond(engine_reply{400, "text/plain; charset=UTF-8", "bad request\n"});
      return;
    }
    close_stream();
    return;
  }
  auto request = parser_->release();
  if (awaiting_engine_ || writing_) {
    stashed_ = std::move(request);  // pipelined; handled after the current response
    return;
  }
  handle_request(std::move(request));
}

bool http_session::end_behind_pending() {
  // A client that goes away while its poll is held has aborted the poll; Engine.IO then closes
  // the session (a later poll with the same sid must fail).
  if (awaiting_poll_ && engine_) {
    auto engine = engine_;
    asio::post(engine->strand(),
               [engine, self = shared_from_this()] { engine->poll_aborted(self); });
    close_stream();
    return true;
  }
  if (awaiting_engine_ || writing_) {
    peer_eof_ = true;  // answer what is in flight, then close
    return true;
  }
  return false;
}

void http_session::on_oversized_body() {
  // Engine.IO closes a session whose client sent more than maxPayload in one POST.
  auto target = std::string(parser_->get().target());
  auto qpos = target.find('?');
  std::string_view path = std::string_view{target}.substr(0, qpos);
  std::string_view query =
      qpos == std::string::npos ? std::string_view{} : std::string_view{target}.substr(qpos + 1);
  bool raw = path_matches(path, core_->options.engineio_path);
  if (raw || path_matches(path, core_->options.path)) {
    if (auto engine = core_->find_session(util::query_parameter(query, "sid").value_or(""), raw))
      asio::post(engine->strand(),
                 [engine] { engine->close(disconnect_reason::transport_error); });
  }
  ++core_->protocol_errors;
  keep_alive_ = false;  // the unread rest of the body makes the connection unusable
  // Pipelined behind a request still being answered (a held poll reads on, to notice a client
  // that gives up): only one response may be written at a time, so this one gets none.
  if (end_behind_pending())
    return;
  version_ = parser_->get().version();
  linger_after_write_ = true;
  respond(engine_reply{413, "text/plain; charset=UTF-8", "payload too large\n"});
}

void http_session::handle_request(http::request<http::string_body> req) {
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  const auto host = req[http::field::host];
  if (!host_allowed({host.data(), host.size()}, core_->options.allowed_hosts)) {
    ++core_->protocol_errors;
    auto name = host_of({host.data(), host.size()});
    respond(engine_reply{403, "text/plain; charset=UTF-8",
                         "host not allowed: " + (name.empty() ? std::string{"(malformed)"} : name) +
                           " (this node answers to IP addresses, localhost and the host names it "
                           "is configured with; see --allowed-hosts)\n"});
    return;
  }
  std::string target{req.target()};
  auto qpos = target.find('?');
  std::string_view path = std::string_view{target}.substr(0, qpos);
  std::string_view query =
      qpos == std::string::npos ? std::string_view{} : std::string_view{target}.substr(qpos + 1);
  if (path_matches(path, core_->options.path) ||
      (core_->raw_handler && path_matches(path, core_->options.engineio_path)))
    handle_engine_request(std::move(req), path, query);
  else
    handle_plain_request(std::move(req));
}

void http_session::handle_plain_request(http::request<http::string_body> req) {
  http_request request;
  request.method = std::string(req.method_string());
  request.target = std::string(req.target());
  request.body = std::move(req.body());
  for (const auto& field : req)
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));

  http_response answer;
  try {
    answer = core_->sio_handler.on_http(request);
  } catch (const std::exception&) {
    answer = http_response{500, "text/plain; charset=utf-8", "internal server error\n", {}};
  }
  http::response<http::string_body> res{static_cast<http::status>(answer.status), version_};
  res.set(http::field::server, "gsio-net");
  res.set(http::field::content_type, answer.content_type);
  for (auto& [name, value] : answer.headers)
    res.set(name, value);
  res.keep_alive(keep_alive_);
  res.body() = std::move(answer.body);
  res.prepare_payload();
  if (req.method() == http::verb::head)
    res.body().clear();  // Content-Length still announces the size of the GET body
  write(std::move(res));
}

void http_session::handle_engine_request(http::request<http::string_body> req,
                                         std::string_view path, std::string_view query) {
  bool raw = core_->raw_handler && path_matches(path, core_->options.engineio_path) &&
             !path_matches(path, core_->options.path);
  if (req.method() == http::verb::options) {
    http::response<http::string_body> res{http::status::no_content, version_};
    add_cors(res);
    if (!core_->options.cors_origin.empty()) {
      res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
      auto requested = req[http::field::access_control_request_headers];
      res.set(http::field::access_control_allow_headers,
              requested.empty() ? beast::string_view{"content-type"} : requested);
      res.set(http::field::access_control_max_age, "86400");
    }
    res.keep_alive(keep_alive_);
    write(std::move(res));
    return;
  }

  if (!origin_allowed(req)) {
    ++core_->protocol_errors;
    http::response<http::string_body> res{http::status::forbidden, version_};
    res.set(http::field::content_type, "text/plain; charset=UTF-8");
    res.body() = "origin not allowed (see --cors-origin)\n";
    res.keep_alive(keep_alive_);
    res.prepare_payload();
    write(std::move(res));
    return;
  }

  const auto transport = util::query_parameter(query, "transport").value_or("");
  if (transport != "polling" && transport != "websocket") {
    ++core_->protocol_errors;
    respond(error_reply(engine_error::transport_unknown));
    return;
  }
  if (util::query_parameter(query, "EIO") != "4") {
    ++core_->protocol_errors;
    respond(error_reply(engine_error::unsupported_protocol_version));
    return;
  }
  std::string sid = util::query_parameter(query, "sid").value_or("");
  const bool has_sid = util::has_query_parameter(query, "sid");

  if (websocket::is_upgrade(req)) {
    if (transport != "websocket") {
      respond(error_reply(engine_error::bad_request));
      return;
    }
    handle_upgrade(std::move(req), raw, has_sid ? sid : std::string{});
    return;
  }
  if (transport == "websocket") {  // a plain HTTP request cannot use the websocket transport
    respond(error_reply(engine_error::bad_request));
    return;
  }

  if (!has_sid) {
    if (req.method() != http::verb::get) {
      respond(error_reply(engine_error::bad_handshake_method));
      return;
    }
    auto engine = core_->create_session(asio::make_strand(core_->io), raw, transport_kind::polling,
                                        remote_);
    if (!engine) {
      respond(engine_reply{503, "application/json",
                           R"({"code":3,"message":"Server at capacity"})"});
      return;
    }
    auto open = "0" + engine->open_packet_json();
    asio::post(engine->strand(), [engine] { engine->start(); });
    respond(text_reply(std::move(open)));
    return;
  }

  auto engine = core_->find_session(sid, raw);
  if (!engine) {
    respond(error_reply(engine_error::session_id_unknown));
    return;
  }
  if (req.method() == http::verb::get) {
    awaiting_engine_ = true;
    awaiting_poll_ = true;
    engine_ = engine;
    asio::post(engine->strand(),
               [engine, self = shared_from_this()] { engine->handle_poll(self); });
    do_read();  // notices a client that gives up on the held poll
  } else if (req.method() == http::verb::post) {
    awaiting_engine_ = true;
    engine_ = engine;
    asio::post(engine->strand(),
               [engine, self = shared_from_this(), body = std::move(req.body())]() mutable {
                 engine->handle_post(self, std::move(body));
               });
  } else {
    respond(error_reply(engine_error::bad_request));
  }
}

void http_session::handle_upgrade(http::request<http::string_body> req, bool raw, std::string sid) {
  if (sid.empty()) {
    if (core_->stopping) {
      respond(error_reply(engine_error::bad_request));
      return;
    }
    auto strand = asio::make_strand(core_->io);
    auto leftover = beast::buffers_to_string(buffer_.data());
    auto stream = take_stream_onto(strand);
    if (!stream)
      return;
    auto ws = std::make_shared<ws_session>(core_, raw, std::move(*stream), std::move(strand),
                                           std::move(leftover));
    ws->start_accept(std::move(req));
    return;
  }
  auto engine = core_->find_session(sid, raw);
  if (!engine) {
    respond(error_reply(engine_error::session_id_unknown));
    return;
  }
  auto leftover = beast::buffers_to_string(buffer_.data());
  auto stream = take_stream_onto(engine->strand());
  if (!stream)
    return;
  auto ws = std::make_shared<ws_session>(core_, raw, std::move(*stream), engine->strand(),
                                         std::move(leftover));
  asio::post(engine->strand(), [engine, ws, req = std::move(req)]() mutable {
    engine->begin_probe(ws, std::move(req));
  });
}

std::optional<beast::tcp_stream> http_session::take_stream_onto(const strand_type& strand) {
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

void http_session::deliver(engine_reply reply) {
  awaiting_engine_ = false;
  awaiting_poll_ = false;
  engine_.reset();
  if (closed_)
    return;
  respond(std::move(reply));
}

void http_session::respond(engine_reply reply) {
  http::response<http::string_body> res{static_cast<http::status>(reply.status), version_};
  res.set(http::field::content_type, reply.content_type);
  add_cors(res);
  res.keep_alive(keep_alive_ && !peer_eof_);
  res.body() = std::move(reply.body);
  res.prepare_payload();
  write(std::move(res));
}

bool http_session::origin_allowed(const http::request<http::string_body>& req) const {
  const auto origin = req[http::field::origin];
  if (origin.empty() || core_->options.cors_origin == "*" || origin == core_->options.cors_origin)
    return true;
  // Same origin: "scheme://" then the authority the request was sent to (its Host header).
  const auto authority = origin.find("://");
  if (authority == beast::string_view::npos)
    return false;  // "null" (a file or sandboxed page), or malformed
  return beast::iequals(origin.substr(authority + 3), req[http::field::host]);
}

void http_session::add_cors(http::response<http::string_body>& res) const {
  if (core_->options.cors_origin.empty())
    return;
  res.set(http::field::access_control_allow_origin, core_->options.cors_origin);
  if (core_->options.cors_origin != "*")
    res.set(http::field::vary, "Origin");
}

void http_session::write(http::response<http::string_body> res) {
  if (writing_) {
    // Two writes at once would interleave on the socket; every caller waits for on_write, so
    // this is a broken invariant: drop the connection rather than corrupt it.
    ++core_->protocol_errors;
    close_stream();
    return;
  }
  writing_ = true;
  response_ = std::make_shared<http::response<http::string_body>>(std::move(res));
  stream_.expires_after(http_write_timeout);
  // The handler holds the response: the serializer reads it until the write completes.
  http::async_write(stream_, *response_,
                    [self = shared_from_this(), response = response_](beast::error_code ec,
                                                                      std::size_t n) {
                      self->on_write(ec, n);
                    });
}

void http_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  bool keep = response_ && response_->keep_alive();
  response_.reset();
  if (closed_)
    return;
  if (!ec && linger_after_write_) {
    linger();
    return;
  }
  if (ec || !keep || peer_eof_) {
    close_stream();
    return;
  }
  if (stashed_) {
    auto next = std::move(*stashed_);
    stashed_.reset();
    handle_request(std::move(next));
    return;
  }
  if (reading_)
    stream_.expires_after(core_->request_timeout);  // the write changed the shared deadline
  else
    do_read();
}

void http_session::linger() {
  if (!lingering_) {
    lingering_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
  }
  stream_.async_read_some(asio::buffer(drain_buffer_), [self = shared_from_this()](
                                                           beast::error_code ec, std::size_t n) {
    self->lingered_bytes_ += n;
    if (ec || self->lingered_bytes_ > linger_max_bytes)
      self->close_stream();
    else
      self->linger();
  });
}

void http_session::close_stream() {
  if (closed_)
    return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

// ============================ ws_session =====================================================

void ws_session::start_accept(http::request<http::string_body> request) {
  request_ = std::move(request);
  beast::get_lowest_layer(*handshake_).expires_after(std::chrono::seconds(30));
  handshake_->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "gsio-net"); }));
  handshake_->async_accept(request_, asio::bind_executor(strand_, beast::bind_front_handler(
                                                                      &ws_session::on_accept,
                                                                      shared_from_this())));
}

void ws_session::reject(engine_reply reply, http::request<http::string_body> request) {
  closing_ = true;
  rejection_ = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(reply.status), request.version());
  rejection_->set(http::field::content_type, reply.content_type);
  if (!core_->options.cors_origin.empty())
    rejection_->set(http::field::access_control_allow_origin, core_->options.cors_origin);
  rejection_->keep_alive(false);
  rejection_->body() = std::move(reply.body);
  rejection_->prepare_payload();
  beast::get_lowest_layer(*handshake_).expires_after(http_write_timeout);
  http::async_write(beast::get_lowest_layer(*handshake_), *rejection_,
                    asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code,
                                                                             std::size_t) {
                      self->hard_close();
                    }));
}

void ws_session::accept_and_close(http::request<http::string_body> request) {
  refuse_when_open_ = true;
  start_accept(std::move(request));
}

void ws_session::on_accept(beast::error_code ec) {
  request_ = {};  // the handshake is done: its headers need not live as long as the connection
  if (closing_)
    return;
  if (ec) {
    transport_failed_ = true;
    report_closed(disconnect_reason::transport_error);
    hard_close();
    return;
  }
  beast::get_lowest_layer(*handshake_).expires_never();
  socket_ = beast::get_lowest_layer(*handshake_).release_socket();
  handshake_.reset();
  beast::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (refuse_when_open_) {
    closing_ = true;
    arm_close_timer();
    start_close_handshake(ws::close_code::no_status, {});
    wait_readable();  // for the client's close frame, which ends the connection
    return;
  }
  if (!engine_) {
    // A WebSocket-only session: it shares this WebSocket's strand.
    std::string remote;
    auto endpoint = socket_.remote_endpoint(ignored);
    if (!ignored)
      remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    auto engine =
        core_->create_session(strand_, raw_, transport_kind::websocket, std::move(remote));
    if (!engine) {
      close(true);
      return;
    }
    engine->attach_websocket(shared_from_this());
  }
  if (!pending_input_.empty()) {
    const auto used = take_frames(pending_input_);
    pending_input_.erase(0, used);
  }
  wait_readable();
}

void ws_session::wait_readable() {
  if (transport_failed_ || !socket_.is_open())
    return;
  socket_.async_wait(tcp::socket::wait_read,
                     asio::bind_executor(strand_, beast::bind_front_handler(
                                                      &ws_session::on_readable,
                                                      shared_from_this())));
}

// Reads what the socket holds into the thread's scratch buffer and parses it there; only the
// start of an incomplete frame is kept by the session.
void ws_session::on_readable(beast::error_code ec) {
  thread_local std::vector<char> scratch(64 * 1024);
  std::size_t bytes = 0;
  if (!ec)
    bytes = socket_.read_some(asio::buffer(scratch), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    wait_readable();
    return;
  }
  if (ec) {
    transport_failed_ = true;
    const bool clean = ec == asio::error::eof || ec == asio::error::operation_aborted ||
                       ec == asio::error::connection_reset;
    report_closed(clean ? disconnect_reason::transport_close : disconnect_reason::transport_error);
    hard_close();
    return;
  }
  if (pending_input_.empty()) {
    const auto used = take_frames({scratch.data(), bytes});
    pending_input_.assign(scratch.data() + used, bytes - used);
  } else {
    pending_input_.append(scratch.data(), bytes);
    const auto used = take_frames(pending_input_);
    pending_input_.erase(0, used);
  }
  if (pending_input_.empty() && pending_input_.capacity() > 0)
    std::string{}.swap(pending_input_);  // an idle connection keeps no input buffer
  wait_readable();  // also after close(): the close handshake completes through the read
}

std::size_t ws_session::take_frames(std::string_view input) {
  std::size_t used = 0;
  while (!transport_failed_) {
    if (discard_input_)
      return input.size();
    auto frame = parser_.parse(input.substr(used));
    if (frame.what == ws::parsed::kind::need_more)
      break;
    used += frame.consumed;
    switch (frame.what) {
    case ws::parsed::kind::message:
      if (engine_ && !closing_) {
        auto engine = engine_;  // the engine may close us (and drop engine_) while handling it
        engine->on_ws_frame(this, std::move(frame.payload), frame.op == ws::opcode::text);
      }
      break;
    case ws::parsed::kind::ping:
      if (!close_sent_)
        queue_pong(ws::encode_frame(ws::opcode::pong, frame.payload));
      break;
    case ws::parsed::kind::close:
      peer_closed_ = true;
      discard_input_ = true;  // nothing may follow a close frame
      closing_ = true;        // first: the engine's close() must not cut the connection
      report_closed(disconnect_reason::transport_close);
      if (close_sent_) {
        hard_close();
      } else {
        // Answer with the same code, then close the connection once the answer is out.
        close_after_flush_ = false;
        arm_close_timer();
        start_close_handshake(frame.code == 1005 ? ws::close_code::normal : frame.code, {});
      }
      return input.size();
    case ws::parsed::kind::failure:
      on_frame_failure(frame);
      return input.size();
    default:
      break;
    }
  }
  return used;
}

void ws_session::on_frame_failure(const ws::parsed& failure) {
  discard_input_ = true;  // where a frame was malformed, nothing after it can be parsed
  closing_ = true;        // first: the engine's close() must not cut the connection
  report_closed(disconnect_reason::transport_error);
  arm_close_timer();
  start_close_handshake(failure.code, failure.payload);
}

// Bounds every close: a peer that stops reading cannot keep the connection open.
void ws_session::arm_slow_timer() {
  if (slow_timer_armed_)
    return;
  slow_timer_armed_ = true;
  if (!slow_timer_)
    slow_timer_.emplace(strand_);
  // When the current stretch above the limit ends its grace (it may have begun after a dip
  // below the limit while an earlier timer ran).
  slow_timer_->expires_after(backlog_.grace_left() + std::chrono::milliseconds{100});
  slow_timer_->async_wait(asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
    self->slow_timer_armed_ = false;
    if (ec || self->closing_)
      return;
    const auto limit = self->core_->options.max_buffered_bytes;
    if (self->backlog_.too_slow(self->queued_bytes_, limit)) {
      if (auto engine = self->engine_)
        engine->close(disconnect_reason::buffer_overflow);
    } else if (self->queued_bytes_ > limit) {
      self->arm_slow_timer();  // it fell behind again after a catch-up: a new grace
    }
  }));
}

void ws_session::arm_close_timer() {
  close_timer_.expires_after(graceful_close_timeout);
  close_timer_.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->hard_close();
      }));
}

// Only the latest ping not yet answered gets a pong (RFC 6455 §5.5.3 allows it): a peer that
// sends pings and reads nothing cannot make pongs pile up. Before our close frame is queued,
// control_pending_ holds at most that pong.
void ws_session::queue_pong(std::string frame) {
  control_pending_ = std::move(frame);
  if (!writing_)
    do_write();
}

bool ws_session::send(const outgoing* frames, std::size_t count) {
  if (closing_)
    return true;
  for (std::size_t i = 0; i < count; ++i) {
    queued_bytes_ += frames[i].bytes->size();
    queue_.push_back(frames[i]);
  }
  if (backlog_.too_slow(queued_bytes_, core_->options.max_buffered_bytes))
    return false;
  if (queued_bytes_ > core_->options.max_buffered_bytes)
    arm_slow_timer();
  if (!writing_)
    do_write();
  return true;
}

// One gathered write: pending control frames first, then queued frames up to a bound, each
// behind its header. The frames move to in_flight_ so that dropping the queue cannot free bytes
// the write still references.
void ws_session::do_write() {
  if (transport_failed_ || (queue_.empty() && control_pending_.empty()))
    return;
  constexpr std::size_t max_frames_per_write = 256;
  constexpr std::size_t max_bytes_per_write = 256 * 1024;
  writing_ = true;
  close_in_flight_ = close_queued_;
  close_queued_ = false;
  batch_.copy(control_pending_);
  control_pending_.clear();
  std::size_t bytes = 0;
  std::string header;
  while (!queue_.empty() && in_flight_.size() < max_frames_per_write &&
         bytes < max_bytes_per_write && !batch_.full()) {
    const auto& frame = queue_.front();
    header.clear();
    ws::append_header(header, frame.binary ? ws::opcode::binary : ws::opcode::text,
                      frame.bytes->size());
    batch_.copy(header);
    batch_.add(*frame.bytes);
    bytes += frame.bytes->size();
    in_flight_.push_back(frame);
    queue_.pop_front();
  }
  asio::async_write(socket_, batch_.buffers(),
                    asio::bind_executor(strand_, beast::bind_front_handler(&ws_session::on_write,
                                                                           shared_from_this())));
}

void ws_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  for (const auto& frame : in_flight_)
    queued_bytes_ -= frame.bytes->size();
  backlog_.drained(queued_bytes_, core_->options.max_buffered_bytes);
  in_flight_.clear();
  batch_.clear();
  const bool wrote_close = std::exchange(close_in_flight_, false);
  if (ec) {
    transport_failed_ = true;
    report_closed(disconnect_reason::transport_error);
    hard_close();
    return;
  }
  if (wrote_close) {
    // Our close frame is out and nothing follows it. If the peer began the close, we are done;
    // otherwise its close frame or EOF arrives through the read loop, bounded by close_timer_.
    // (Closing now, with its bytes unread, would reset the connection and could destroy the
    // close frame on its way.)
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    if (peer_closed_)
      hard_close();
    return;
  }
  if (!queue_.empty() || !control_pending_.empty()) {
    do_write();
    return;
  }
  if (close_after_flush_)
    start_close_handshake(close_code_, {});
}

void ws_session::close(bool graceful, std::uint16_t code) {
  if (closing_)
    return;
  closing_ = true;
  close_code_ = code;
  engine_.reset();
  if (!graceful || transport_failed_ || handshake_) {
    hard_close();
    return;
  }
  close_after_flush_ = true;
  arm_close_timer();
  if (!writing_ && queue_.empty())
    start_close_handshake(close_code_, {});
}

// Queues our close frame; queued data frames are dropped (a graceful close has flushed them).
void ws_session::start_close_handshake(std::uint16_t code, std::string_view reason) {
  close_after_flush_ = false;
  if (close_sent_ || transport_failed_)
    return;
  close_sent_ = true;
  while (!queue_.empty()) {
    queued_bytes_ -= queue_.front().bytes->size();
    queue_.pop_front();
  }
  control_pending_ += ws::encode_close(code, reason);
  close_queued_ = true;
  if (!writing_)
    do_write();
}

void ws_session::hard_close() {
  close_timer_.cancel();
  if (slow_timer_)
    slow_timer_->cancel();
  auto& sock = socket();
  if (!sock.is_open())
    return;
  beast::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

void ws_session::report_closed(disconnect_reason reason) {
  if (auto engine = std::move(engine_))
    engine->on_ws_closed(this, reason);
}

// ============================ engine_session =================================================

std::string engine_session::open_packet_json() const {
  bool can_upgrade = transport_ == transport_kind::polling && core_->options.allow_upgrades;
  std::string json = R"({"sid":)" + json_string(sid_);
  json += R"(,"upgrades":)";
  json += can_upgrade ? R"(["websocket"])" : "[]";
  json += R"(,"pingInterval":)" + std::to_string(core_->options.ping_interval.count());
  json += R"(,"pingTimeout":)" + std::to_string(core_->options.ping_timeout.count());
  json += R"(,"maxPayload":)" + std::to_string(core_->options.max_payload);
  json += '}';
  return json;
}

void engine_session::start() {
  if (closed_)
    return;
  schedule_ping();
  if (raw_) {
    core_->raw_handler->on_open(sid_);
    return;
  }
  connect_timer_.expires_after(core_->options.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    // Socket.IO's connectTimeout: an Engine.IO connection that never joins a namespace is dropped.
    if (!ec && !self->closed_ && !self->ever_connected_)
      self->close(disconnect_reason::transport_close);
  });
}

void engine_session::attach_websocket(std::shared_ptr<ws_session> ws) {
  ws_ = std::move(ws);
  ws_->set_engine(shared_from_this());
  ws_->send(text_packet(eio::packet_type::open, open_packet_json()));
  start();
}

void engine_session::schedule_ping() {
  awaiting_pong_ = false;
  ping_timer_.expires_after(core_->options.ping_interval);
  ping_timer_.async_wait(
      beast::bind_front_handler(&engine_session::on_ping_timer, shared_from_this()));
}

void engine_session::on_ping_timer(beast::error_code ec) {
  if (ec || closed_)
    return;
  if (awaiting_pong_) {
    close(disconnect_reason::ping_timeout);
    return;
  }
  awaiting_pong_ = true;
  send({text_packet(eio::packet_type::ping)});
  if (closed_)
    return;
  ping_timer_.expires_after(core_->options.ping_timeout);
  ping_timer_.async_wait(
      beast::bind_front_handler(&engine_session::on_ping_timer, shared_from_this()));
}

void engine_session::reply(const std::shared_ptr<http_session>& http, engine_reply r) {
  asio::post(http->executor(), [http, r = std::move(r)]() mutable { http->deliver(std::move(r)); });
}

void engine_session::handle_poll(std::shared_ptr<http_session> http) {
  if (closed_) {
    reply(http, error_reply(engine_error::session_id_unknown));
    return;
  }
  if (transport_ != transport_kind::polling) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    return;
  }
  if (pending_poll_) {
    // Two concurrent polls: the client is confused or hostile; Engine.IO ends the session.
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    close(disconnect_reason::transport_error);
    return;
  }
  pending_poll_ = std::move(http);
  flush_polling();
}

void engine_session::poll_aborted(const std::shared_ptr<http_session>& http) {
  if (closed_ || pending_poll_ != http)
    return;  // already answered
  pending_poll_.reset();
  close(disconnect_reason::transport_close);
}

void engine_session::handle_post(std::shared_ptr<http_session> http, std::string body) {
  if (closed_) {
    reply(http, error_reply(engine_error::session_id_unknown));
    return;
  }
  if (transport_ != transport_kind::polling) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    return;
  }
  auto packets = eio::decode_payload(body);
  if (!packets) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    close(disconnect_reason::parse_error);
    return;
  }
  for (auto& p : *packets) {
    if (closed_)
      break;
    handle_packet(std::move(p));
  }
  reply(http, engine_reply{200, "text/html", "ok"});
}

void engine_session::flush_polling() {
  if (!pending_poll_ || closed_)
    return;
  std::string body;
  if (outbox_.empty()) {
    if (!probed_)
      return;  // keep holding the poll
    body = "6";  // lets the client finish this poll and pause polling for the upgrade
  } else {
    body.reserve(outbox_bytes_ + outbox_.size());
    for (std::size_t i = 0; i < outbox_.size(); ++i) {
      if (i != 0)
        body += eio::record_separator;
      if (outbox_[i].binary) {
        body += 'b';
        body += eio::base64_encode(*outbox_[i].bytes);
      } else {
        body += *outbox_[i].bytes;
      }
    }
    outbox_.clear();
    outbox_bytes_ = 0;
    poll_backlog_.drained(0, core_->options.max_buffered_bytes);
  }
  reply(pending_poll_, text_reply(std::move(body)));
  pending_poll_.reset();
}

void engine_session::send(std::vector<outgoing> packets) {
  if (closed_)
    return;
  core_->packets_out += packets.size();
  if (transport_ == transport_kind::websocket && ws_) {
    if (!ws_->send(packets))
      close(disconnect_reason::buffer_overflow);
    return;
  }
  for (auto& p : packets) {
    outbox_bytes_ += polling_size(p) + 1;
    outbox_.push_back(std::move(p));
  }
  if (poll_backlog_.too_slow(outbox_bytes_, core_->options.max_buffered_bytes)) {
    close(disconnect_reason::buffer_overflow);
    return;
  }
  flush_polling();
}

void engine_session::protocol_error() {
  ++core_->protocol_errors;
  close(disconnect_reason::parse_error);
}

void engine_session::handle_packet(eio::packet p) {
  ++core_->packets_in;
  switch (p.type) {
  case eio::packet_type::pong:
    if (awaiting_pong_)
      schedule_ping();
    return;
  case eio::packet_type::ping:
    // v4 clients never ping, but answering is harmless and helps v3-style tools.
    send({text_packet(eio::packet_type::pong, p.data)});
    return;
  case eio::packet_type::message:
    if (raw_) {
      core_->raw_handler->on_message(sid_, std::move(p.data), p.binary);
    } else if (p.binary) {
      on_sio_attachment(std::move(p.data));
    } else {
      on_sio_text(std::move(p.data));
    }
    return;
  case eio::packet_type::close:
    close(disconnect_reason::client_disconnect);
    return;
  case eio::packet_type::noop:
    return;
  case eio::packet_type::open:
  case eio::packet_type::upgrade:
    protocol_error();  // only valid from the server, or on a probe WebSocket
    return;
  }
}

// --- upgrade -----------------------------------------------------------------------------------

void engine_session::begin_probe(std::shared_ptr<ws_session> ws,
                                 http::request<http::string_body> req) {
  if (closed_) {
    ws->reject(error_reply(engine_error::session_id_unknown), std::move(req));
    return;
  }
  if (transport_ != transport_kind::polling || probe_) {
    // Already upgraded, or an upgrade is under way: the reference server (engine.io 6) completes
    // this WebSocket's handshake and closes it at once, leaving the session as it was.
    ++core_->protocol_errors;
    ws->accept_and_close(std::move(req));
    return;
  }
  if (!core_->options.allow_upgrades) {
    ++core_->protocol_errors;
    ws->reject(error_reply(engine_error::bad_request), std::move(req));
    return;
  }
  probe_ = ws;
  ws->set_engine(shared_from_this());
  ws->start_accept(std::move(req));
  upgrade_timer_.expires_after(upgrade_timeout);
  upgrade_timer_.async_wait([self = shared_from_this(), probe = std::weak_ptr<ws_session>(ws)](
                                beast::error_code ec) {
    if (!ec && !self->closed_ && self->probe_ && self->probe_ == probe.lock())
      self->abort_probe();
  });
}

void engine_session::handle_probe_frame(std::string data, bool text) {
  auto p = text ? eio::decode_text(data) : std::nullopt;
  if (p && p->type == eio::packet_type::ping && p->data == "probe" && !probed_) {
    probed_ = true;
    probe_->send(text_packet(eio::packet_type::pong, "probe"));
    flush_polling();  // a held poll is answered with a noop
    return;
  }
  if (p && p->type == eio::packet_type::upgrade && probed_) {
    complete_upgrade();
    return;
  }
  abort_probe();  // anything else ends the upgrade attempt, not the session
}

void engine_session::complete_upgrade() {
  upgrade_timer_.cancel();
  ws_ = std::move(probe_);
  probed_ = false;
  transport_ = transport_kind::websocket;
  core_->transport_upgraded();
  if (pending_poll_) {
    reply(pending_poll_, text_reply("6"));
    pending_poll_.reset();
  }
  auto queued = std::move(outbox_);
  outbox_.clear();
  outbox_bytes_ = 0;
  if (!ws_->send(queued))
    close(disconnect_reason::buffer_overflow);
}

void engine_session::abort_probe() {
  upgrade_timer_.cancel();
  probed_ = false;
  if (auto probe = std::move(probe_))
    probe->close(false);
}

void engine_session::on_ws_frame(ws_session* ws, std::string data, bool text) {
  if (closed_)
    return;
  if (probe_ && ws == probe_.get()) {
    handle_probe_frame(std::move(data), text);
    return;
  }
  if (!ws_ || ws != ws_.get())
    return;
  auto p = text ? eio::decode_text(data)
                : std::optional<eio::packet>{eio::decode_binary_frame(std::move(data))};
  if (!p) {
    protocol_error();
    return;
  }
  handle_packet(std::move(*p));
}

void engine_session::on_ws_closed(ws_session* ws, disconnect_reason reason) {
  if (closed_)
    return;
  if (probe_ && ws == probe_.get()) {
    upgrade_timer_.cancel();
    probe_.reset();
    probed_ = false;
    return;
  }
  if (ws_ && ws == ws_.get())
    close(reason);
}

// --- close -------------------------------------------------------------------------------------

void engine_session::close(disconnect_reason reason) {
  if (closed_)
    return;
  closed_ = true;
  ping_timer_.cancel();
  connect_timer_.cancel();
  upgrade_timer_.cancel();
  core_->unregister_session(sid_, transport_);

  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto& [nsp, s] : sockets) {
    core_->unregister_socket(s.id);
    core_->sio_handler.on_disconnect(s.id, reason);
  }
  if (raw_)
    core_->raw_handler->on_close(sid_);
  reassembler_.reset();
  outbox_.clear();
  outbox_bytes_ = 0;

  if (pending_poll_) {
    // A client that asked to close gets a noop; otherwise the close packet tells it why the poll
    // ended.
    reply(pending_poll_, text_reply(reason == disconnect_reason::client_disconnect ? "6" : "1"));
    pending_poll_.reset();
  }
  bool graceful = reason == disconnect_reason::client_disconnect ||
                  reason == disconnect_reason::parse_error ||
                  reason == disconnect_reason::server_disconnect ||
                  reason == disconnect_reason::server_shutdown;
  if (auto ws = std::move(ws_))
    ws->close(graceful, reason == disconnect_reason::server_shutdown ? ws::close_code::going_away
                                                                     : ws::close_code::normal);
  if (auto probe = std::move(probe_))
    probe->close(false);
}

// --- Socket.IO layer ---------------------------------------------------------------------------

void engine_session::on_sio_text(std::string text) {
  if (reassembler_.active()) {
    protocol_error();  // a text packet while attachments are still expected
    return;
  }
  auto decoded = sio::decode(text);
  if (!decoded) {
    protocol_error();
    return;
  }
  auto& p = *decoded.value;
  bool binary = p.type == sio::packet_type::binary_event || p.type == sio::packet_type::binary_ack;
  if (binary && p.attachments > 0) {
    reassembly_bytes_ = text.size();
    reassembler_.start(std::move(p));
    return;
  }
  dispatch(std::move(p), {});
}

void engine_session::on_sio_attachment(std::string bytes) {
  if (!reassembler_.active()) {
    protocol_error();
    return;
  }
  // One Socket.IO packet with its attachments is held to max_payload, as it is over polling.
  reassembly_bytes_ += bytes.size();
  if (reassembly_bytes_ > core_->options.max_payload) {
    protocol_error();
    return;
  }
  if (reassembler_.add(std::move(bytes))) {
    auto complete = reassembler_.take();
    reassembly_bytes_ = 0;
    dispatch(std::move(complete.header), std::move(complete.attachments));
  }
}

engine_session::sio_socket* engine_session::socket_by_id(socket_id id) {
  for (auto& [nsp, s] : sockets_)
    if (s.id == id)
      return &s;
  return nullptr;
}

void engine_session::dispatch(sio::packet p, std::vector<std::string> attachments) {
  switch (p.type) {
  case sio::packet_type::connect:
    on_sio_connect(std::move(p));
    return;
  case sio::packet_type::disconnect: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end())
      return;
    auto id = it->second.id;
    sockets_.erase(it);
    core_->unregister_socket(id);
    core_->sio_handler.on_disconnect(id, disconnect_reason::client_disconnect);
    return;
  }
  case sio::packet_type::event:
  case sio::packet_type::binary_event: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end())
      return;  // not connected to that namespace: ignored, as Socket.IO does
    auto parts = sio::split_event_payload(p.data);
    if (!parts) {
      protocol_error();
      return;
    }
    core_->sio_handler.on_event(it->second.id, std::move(parts->name),
                                sio_args{std::move(parts->args_json), std::move(attachments)},
                                p.id);
    return;
  }
  case sio::packet_type::ack:
  case sio::packet_type::binary_ack: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end() || !p.id)
      return;
    auto callback = it->second.acks.find(*p.id);
    if (callback == it->second.acks.end())
      return;  // unknown or already answered
    auto fn = std::move(callback->second);
    it->second.acks.erase(callback);
    if (fn)
      fn(sio_args{std::move(p.data), std::move(attachments)});
    return;
  }
  case sio::packet_type::connect_error:
    protocol_error();  // only servers send CONNECT_ERROR
    return;
  }
}

void engine_session::on_sio_connect(sio::packet p) {
  const auto& allowed = core_->options.namespaces;
  if (std::find(allowed.begin(), allowed.end(), p.nsp) == allowed.end()) {
    sio::packet error;
    error.type = sio::packet_type::connect_error;
    error.nsp = p.nsp;
    error.data = R"({"message":"Invalid namespace"})";
    send(encode_sio(error, {}));
    return;
  }
  if (sockets_.count(p.nsp) != 0) {
    protocol_error();  // a second CONNECT for a namespace this connection already joined
    return;
  }
  auto first = p.data.find_first_not_of(" \t\r\n");
  std::string auth_json = first == std::string::npos ? "{}" : std::move(p.data);
  if (core_->options.admit) {
    if (auto refusal = core_->options.admit(p.nsp, auth_json); !refusal.empty()) {
      sio::packet error;
      error.type = sio::packet_type::connect_error;
      error.nsp = p.nsp;
      error.data = R"({"message":)" + json_string(refusal) + "}";
      send(encode_sio(error, {}));
      return;
    }
  }
  sio_socket s;
  s.nsp = p.nsp;
  s.sio_sid = random_id();
  s.id = core_->register_socket(shared_from_this(), p.nsp);
  ever_connected_ = true;
  connect_timer_.cancel();

  socket_info info;
  info.id = s.id;
  info.nsp = p.nsp;
  info.auth_json = std::move(auth_json);
  info.remote_address = remote_;
  info.transport = transport_;
  info.engine_sid = sid_;
  info.sio_sid = s.sio_sid;
  sockets_.emplace(p.nsp, std::move(s));

  sio::packet reply_packet;
  reply_packet.type = sio::packet_type::connect;
  reply_packet.nsp = info.nsp;
  reply_packet.data = R"({"sid":)" + json_string(info.sio_sid) + "}";
  send(encode_sio(reply_packet, {}));
  if (!closed_)
    core_->sio_handler.on_connect(info);
}

void engine_session::emit(socket_id id, std::string event, sio_args args,
                          std::function<void(sio_args)> on_ack) {
  if (closed_)
    return;
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = args.attachments.empty() ? sio::packet_type::event : sio::packet_type::binary_event;
  p.attachments = args.attachments.size();
  p.nsp = s->nsp;
  p.data = sio::make_event_payload(event, args.json);
  if (on_ack) {
    p.id = s->next_ack_id++;
    s->acks.emplace(*p.id, std::move(on_ack));
  }
  send(encode_sio(p, args.attachments));
}

void engine_session::send_shared(socket_id id,
                                 const std::shared_ptr<const std::vector<outgoing>>& packets) {
  if (closed_ || !socket_by_id(id))
    return;
  send(*packets);
}

void engine_session::ack(socket_id id, std::uint64_t ack_id, sio_args args) {
  if (closed_)
    return;
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = args.attachments.empty() ? sio::packet_type::ack : sio::packet_type::binary_ack;
  p.attachments = args.attachments.size();
  p.nsp = s->nsp;
  p.id = ack_id;
  p.data = as_json_array(args.json);
  send(encode_sio(p, args.attachments));
}

void engine_session::disconnect_socket(socket_id id) {
  if (closed_)
    return;
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = sio::packet_type::disconnect;
  p.nsp = s->nsp;
  sockets_.erase(s->nsp);
  core_->unregister_socket(id);
  send(encode_sio(p, {}));
  core_->sio_handler.on_disconnect(id, disconnect_reason::server_disconnect);
}

void engine_session::send_raw(std::string data, bool binary) {
  if (closed_)
    return;
  send({binary ? binary_packet(std::move(data)) : text_packet(eio::packet_type::message, data)});
}

}  // namespace detail

// ============================ public API =====================================================

struct server::impl : detail::server_core {
  using detail::server_core::server_core;
};

server::server(boost::asio::io_context& io, server_options options, handler& h,
               engineio_handler* raw)
  : impl_(std::make_shared<impl>(io, std::move(options), h, raw)) {}

server::~server() { stop(); }

void server::start() { impl_->start(); }

void server::stop() { impl_->stop(); }

std::uint16_t server::port() const { return impl_->bound_port; }

void server::emit(socket_id id, std::string event, sio_args args,
                  std::function<void(sio_args)> on_ack) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id, event = std::move(event), args = std::move(args),
                                       on_ack = std::move(on_ack)]() mutable {
    engine->emit(id, std::move(event), std::move(args), std::move(on_ack));
  });
}

void server::broadcast(const std::string& nsp, std::string event, sio_args args) {
  broadcast_each(nsp, event, std::vector<sio_args>{std::move(args)});
}

void server::broadcast_each(const std::string& nsp, const std::string& event,
                            const std::vector<sio_args>& messages) {
  if (messages.empty())
    return;
  auto receivers = impl_->sockets_of(nsp);
  if (receivers.empty())
    return;
  std::vector<detail::outgoing> encoded;
  for (const auto& args : messages) {
    sio::packet p;
    p.type = args.attachments.empty() ? sio::packet_type::event : sio::packet_type::binary_event;
    p.attachments = args.attachments.size();
    p.nsp = nsp;
    p.data = sio::make_event_payload(event, args.json);
    for (auto& packet : detail::encode_sio(p, args.attachments))
      encoded.push_back(std::move(packet));
  }
  auto packets = std::make_shared<const std::vector<detail::outgoing>>(std::move(encoded));
  for (auto& [id, engine] : receivers)
    boost::asio::post(engine->strand(), [engine = engine, id = id, packets] {
      engine->send_shared(id, packets);
    });
}

void server::ack(socket_id id, std::uint64_t ack_id, sio_args args) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id, ack_id, args = std::move(args)]() mutable {
    engine->ack(id, ack_id, std::move(args));
  });
}

void server::disconnect(socket_id id) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id] { engine->disconnect_socket(id); });
}

void server::send_engineio(const std::string& sid, std::string data, bool binary) {
  auto engine = impl_->find_session(sid, true);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, data = std::move(data), binary]() mutable {
    engine->send_raw(std::move(data), binary);
  });
}

server_stats server::stats() const {
  server_stats s;
  s.engine_sessions = impl_->session_count();
  s.polling_sessions = impl_->polling_sessions;
  s.websocket_sessions = impl_->websocket_sessions;
  s.sockets = impl_->socket_count();
  s.packets_in = impl_->packets_in;
  s.packets_out = impl_->packets_out;
  s.protocol_errors = impl_->protocol_errors;
  s.http_connections = impl_->connection_count();
  s.connections_refused = impl_->connections_refused;
  return s;
}

}  // namespace gsio::net
