// gsio-relay's WebSocket relay on Boost.Beast.
//
// Objects and their executors:
//   relay_server::impl - the listener (on a strand of its own), the registry of connections and
//                        node ids (one mutex) and the counters (atomics).
//   http_connection    - one per accepted TCP connection while it speaks HTTP: answers /health,
//                        /stats and 404, checks upgrade requests and hands the socket over.
//   relay_connection   - one per WebSocket: reads, routes and writes on the strand of its socket.
// Routing runs on the sender's strand. Delivery to another connection is always posted to that
// connection's strand, so no handler touches another connection's stream.
#include "net/relay_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/announce_proof.hpp"
#include "net/p2p_message.hpp"
#include "net/detail/write_batch.hpp"
#include "net/ws_frame.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"
#include "util/prometheus.hpp"
#include "util/secret.hpp"
#include "util/url.hpp"

namespace gsio::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using beast::error_code;
using namespace std::chrono_literals;

// Named (not anonymous) so relay_server::impl may hold these types without -Wsubobject-linkage.
namespace relay_detail {

constexpr std::string_view log_component = "relay";
constexpr std::string_view server_name = "gsio-relay";

// HTTP requests here are small GETs and upgrade requests; anything larger is not a client of ours.
constexpr std::size_t max_request_header_bytes = 16 * 1024;
constexpr std::size_t max_request_body_bytes = 4 * 1024;
// After a large frame the read buffer is given back, so one big message does not pin its
// capacity for the rest of the connection's life.
constexpr std::size_t kept_read_buffer_bytes = 64 * 1024;
// Waiting this long after a failed accept (usually: out of file descriptors) keeps the listener
// from spinning while still recovering on its own.
constexpr auto accept_retry_delay = 100ms;
// Spoofing peers are logged individually up to this many times per connection, then summarized,
// so a hostile peer cannot flood the log.
constexpr std::uint64_t logged_spoofs_per_connection = 10;

// Why a frame was received but not forwarded.
enum class drop_cause : std::size_t {
  malformed,          // not a valid P2P envelope
  unannounced,        // sent before the connection's NodeAnnounce
  spoofed,            // sender_id is not the connection's node id
  unknown_recipient,  // no live connection holds recipient_id
  self_addressed,     // recipient_id is the sender itself (the relay never echoes)
  unproven,           // a NodeAnnounce without the proof its id needs (see announce_proof.hpp)
};
constexpr std::array<std::string_view, 6> drop_cause_names{
  "malformed", "unannounced", "spoofed", "unknown_recipient", "self_addressed", "unproven"};
// Each invalid relay_proof costs an Ed25519 verification: a connection gets this many, then it is
// closed ("unproven"). An honest node sends one valid proof per connection.
constexpr unsigned max_invalid_proofs = 8;
// A node's heartbeat can reach a new connection before its hello with the proof, so a dropped
// unproven announce is not fatal; this many are, so that a node that never proves (an old version,
// a wrong key) hears why instead of sitting connected and cut off.
constexpr unsigned max_unproven_announces = 4;

// Why a WebSocket connection ended. Each connection counts exactly one.
enum class disconnect_cause : std::size_t {
  peer_closed,       // the peer sent a close frame
  connection_lost,   // reset, EOF or a write error without a close handshake
  timeout,           // no traffic (not even a pong) within the idle timeout
  oversized,         // a frame above max_frame_bytes
  protocol,          // a binary frame or a WebSocket protocol violation
  replaced,          // another connection announced the same node id
  slow_reader,       // the outbound queue would have passed max_queue_bytes
  handshake_failed,  // the WebSocket opening handshake did not complete
  shutdown,          // the relay is stopping
  unproven,          // too many announces without a valid relay_proof (see max_unproven_announces)
};
constexpr std::array<std::string_view, 10> disconnect_cause_names{
  "peer_closed", "connection_lost", "timeout",  "oversized", "protocol",
  "replaced",    "slow_reader",     "handshake_failed", "shutdown", "unproven"};

// Why a connection was turned away before it became a WebSocket.
enum class reject_cause : std::size_t {
  unauthorized,   // missing or wrong network token (HTTP 401)
  over_capacity,  // max_connections reached (HTTP 503, or closed unread when HTTP is saturated)
  shutting_down,  // the relay is stopping (HTTP 503)
  browser,        // the upgrade carried an Origin header: a web page, not a node (HTTP 403)
};
constexpr std::array<std::string_view, 4> reject_cause_names{"unauthorized", "over_capacity",
                                                             "shutting_down", "browser"};

template <class Enum> constexpr std::size_t index(Enum e) { return static_cast<std::size_t>(e); }

using frame_ptr = std::shared_ptr<const std::string>;

class http_connection;
class relay_connection;

}  // namespace relay_detail

using namespace relay_detail;

struct relay_server::impl : std::enable_shared_from_this<relay_server::impl> {
  impl(asio::io_context& context, relay_options opts)
      : io(context),
        options(std::move(opts)),
        acceptor(asio::make_strand(context)),
        accept_retry(acceptor.get_executor()) {}

  asio::io_context& io;
  const relay_options options;
  const std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  tcp::acceptor acceptor;          // on its own strand
  asio::steady_timer accept_retry; // on the acceptor's strand
  std::atomic<std::uint16_t> bound_port{0};

  // Counters: atomics, because every connection's strand updates them.
  std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0};
  std::array<std::atomic<std::uint64_t>, drop_cause_names.size()> drops{};
  std::array<std::atomic<std::uint64_t>, disconnect_cause_names.size()> disconnects{};
  std::array<std::atomic<std::uint64_t>, reject_cause_names.size()> rejects{};

  void count(drop_cause c) { drops[index(c)].fetch_add(1, std::memory_order_relaxed); }
  void count(disconnect_cause c) { disconnects[index(c)].fetch_add(1, std::memory_order_relaxed); }
  void count(reject_cause c) { rejects[index(c)].fetch_add(1, std::memory_order_relaxed); }

  // The registry. Connections are held weakly: they live as long as their pending operations.
  struct node_slot {
    const relay_connection* owner = nullptr;  // identity, compared without locking the weak_ptr
    std::weak_ptr<relay_connection> handle;
    bool proven = false;  // the owner proved the id: only another proof takes it over
  };
  mutable std::mutex mutex;
  bool stopping = false;
  std::size_t live_connections = 0;  // reserved WebSocket slots, counted against max_connections
  std::unordered_map<const http_connection*, std::weak_ptr<http_connection>> http_connections;
  std::unordered_map<const relay_connection*, std::weak_ptr<relay_connection>> connections;
  std::unordered_map<std::string, node_slot> nodes;

  void start();
  void stop();
  void accept_next();
  void on_accept(error_code ec, tcp::socket socket);

  std::optional<reject_cause> admit_http(const std::shared_ptr<http_connection>& connection);
  bool http_pool_has_room();  // below half of max_connections connections not upgraded yet
  void forget_http(const http_connection* connection);
  std::optional<reject_cause> reserve_connection_slot();
  bool enlist(const std::shared_ptr<relay_connection>& connection);
  void forget(const relay_connection* connection, const std::string& node_id);
  // False (and nothing changes) when an unproven connection claims an id a proven one holds.
  bool announce(const std::shared_ptr<relay_connection>& connection, const std::string& node_id,
                bool proven);
  // The connection holding node_id proved it later; false if it no longer holds it.
  bool mark_proven(const relay_connection& connection, const std::string& node_id);
  void route(const relay_connection& sender, const p2p_message& message, const frame_ptr& frame);

  bool authorized(const http::request<http::string_body>& request) const;
  http::response<http::string_body> answer(const http::request<http::string_body>& request) const;
  std::string health_json() const;
  std::string stats_json() const;
  std::string metrics_text() const;
};

namespace relay_detail {

namespace {

std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const auto text = address.to_string();
  return (address.is_v6() ? "[" + text + "]" : text) + ":" + std::to_string(endpoint.port());
}

using util::printable_prefix;

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

std::string error_body(std::string_view error, std::string_view message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.String(error.data(), static_cast<rapidjson::SizeType>(error.size()));
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

http::response<http::string_body> json_response(http::status status, std::string body,
                                                 unsigned version, bool keep_alive) {
  http::response<http::string_body> response{status, version};
  response.set(http::field::server, server_name);
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

}  // namespace

// One WebSocket connection of a node. Beast answers the opening handshake; after it the connection
// frames by itself (net/ws_frame): a forwarded frame is encoded once and the same bytes are
// queued on every recipient, and each write gathers every frame queued so far.
class relay_connection : public std::enable_shared_from_this<relay_connection> {
public:
  // Outbound bytes accepted for this peer and not yet written (for /metrics).
  std::size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }

  // `leftover`: bytes the client sent after its upgrade request, already read with it.
  relay_connection(std::shared_ptr<relay_server::impl> core, beast::tcp_stream&& stream,
                   std::string remote, std::string leftover)
      : core_(std::move(core)),
        strand_(stream.get_executor()),
        handshake_(std::in_place, std::move(stream)),
        socket_(strand_),
        idle_timer_(strand_),
        close_deadline_(strand_),
        remote_(std::move(remote)),
        read_buffer_(core_->options.max_frame_bytes + ws::max_header_bytes + read_chunk_bytes),
        parser_(core_->options.max_frame_bytes),
        leftover_(std::move(leftover)) {}

  ~relay_connection() {
    // Only reached without end() when the io_context is destroyed with our handlers still queued.
    if (!ended_.exchange(true))
      core_->forget(this, node_id_);
  }

  // Runs on the strand (the HTTP connection's handler, which shares the socket's strand).
  void start(http::request<http::string_body> request) {
    if (!core_->enlist(shared_from_this())) {  // stop() ran after the slot was reserved
      close_now(disconnect_cause::shutdown);
      return;
    }
    beast::get_lowest_layer(*handshake_).expires_after(core_->options.handshake_timeout);
    handshake_->set_option(websocket::stream_base::decorator(
      [challenge = challenge_](websocket::response_type& response) {
        response.set(http::field::server, server_name);
        response.set(beast::string_view{challenge_header.data(), challenge_header.size()},
                     challenge);
      }));
    handshake_->async_accept(
      request, beast::bind_front_handler(&relay_connection::on_handshake, shared_from_this()));
  }

  // Queues a frame for this connection. Any thread. The byte count is reserved before the frame
  // is posted to the strand, so frames in transit count against the limit as well.
  void deliver(const frame_ptr& frame) {
    if (ended_.load(std::memory_order_acquire))
      return;
    const auto size = frame->size();
    const auto before = queued_bytes_.fetch_add(size, std::memory_order_acq_rel);
    // An empty queue always takes one frame, so a limit below max_frame_bytes cannot starve a
    // healthy peer; memory per connection stays below max_queue_bytes + max_frame_bytes.
    if (before != 0 && before + size > core_->options.max_queue_bytes) {
      queued_bytes_.fetch_sub(size, std::memory_order_acq_rel);
      if (!overflowed_.exchange(true))
        asio::post(strand_, [self = shared_from_this()] { self->on_overflow(); });
      return;
    }
    asio::post(strand_, [self = shared_from_this(), frame] { self->enqueue(frame, true); });
  }

  void close_replaced() {
    asio::post(strand_, [self = shared_from_this()] {
      self->close_gracefully(disconnect_cause::replaced, ws::close_code::policy_violation,
                             "replaced by a newer connection for this node id");
    });
  }

  void close_for_shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->close_gracefully(disconnect_cause::shutdown, ws::close_code::going_away,
                             "relay shutting down");
    });
  }

  // Strand only (routing runs on the sender's strand).
  const std::string& node_id() const { return node_id_; }

private:
  // A frame waiting to be written. Only data frames count against the queue limit and as
  // messages out; control frames (ping, pong, close) are the connection's own.
  struct outgoing {
    frame_ptr frame;
    bool data = false;
    bool close = false;
  };

  void on_handshake(error_code ec) {
    if (ec || socket_closed_) {
      if (ec)
        log::debug(log_component, remote_, ": WebSocket handshake failed: ", ec.message());
      close_now(disconnect_cause::handshake_failed);
      return;
    }
    beast::get_lowest_layer(*handshake_).expires_never();
    socket_ = beast::get_lowest_layer(*handshake_).release_socket();
    handshake_.reset();
    log::debug(log_component, remote_, ": connected");
    last_received_ = std::chrono::steady_clock::now();
    arm_idle_timer();
    if (!leftover_.empty()) {
      auto room = read_buffer_.prepare(leftover_.size());
      asio::buffer_copy(room, asio::buffer(leftover_));
      read_buffer_.commit(leftover_.size());
      leftover_ = std::string{};
      process_input();
    }
    read_next();
  }

  void read_next() {
    if (socket_closed_)
      return;
    // Read into the room the buffer already has (at least min_read_bytes), within its limit.
    const auto room = std::max(min_read_bytes, read_buffer_.capacity() - read_buffer_.size());
    const auto allowed = read_buffer_.max_size() - read_buffer_.size();
    socket_.async_read_some(read_buffer_.prepare(std::min(room, allowed)),
                            beast::bind_front_handler(&relay_connection::on_read,
                                                      shared_from_this()));
  }

  void on_read(error_code ec, std::size_t bytes) {
    if (ec) {
      on_read_failed(ec);
      return;
    }
    read_buffer_.commit(bytes);
    // Only whole messages count as signs of life: a peer that trickles one byte of a frame at a
    // time, or sends the first fragment of a message and then only pings, would otherwise hold
    // its connection, and the message's buffer, for ever.
    if (process_input())
      last_received_ = std::chrono::steady_clock::now();
    if (read_buffer_.size() == 0 && read_buffer_.capacity() > kept_read_buffer_bytes)
      read_buffer_.shrink_to_fit();
    read_next();
  }

  void on_read_failed(error_code ec) {
    if (ec == asio::error::operation_aborted || socket_closed_) {
      end(disconnect_cause::connection_lost);  // we cut it ourselves; end() already knows why
      return;
    }
    end(disconnect_cause::connection_lost);  // no-op after a close handshake: its cause stands
    close_socket();
  }

  // Takes every complete frame out of the read buffer; true if one was a sign of life: a whole
  // message, or a control frame outside a fragmented message.
  bool process_input() {
    bool took_frame = false;
    while (!socket_closed_ && !discard_input_) {
      const auto bytes = read_buffer_.data();
      auto result = parser_.parse({static_cast<const char*>(bytes.data()), bytes.size()});
      if (result.what == ws::parsed::kind::need_more)
        return took_frame;
      if (result.what != ws::parsed::kind::fragment && !parser_.inside_message())
        took_frame = true;
      read_buffer_.consume(result.consumed);
      switch (result.what) {
        case ws::parsed::kind::need_more:
        case ws::parsed::kind::fragment:
        case ws::parsed::kind::pong:
          break;
        case ws::parsed::kind::message:
          on_message(std::move(result));
          break;
        case ws::parsed::kind::ping:
          queue_pong(result.payload);
          break;
        case ws::parsed::kind::close:
          on_peer_close(result.code);
          return took_frame;
        case ws::parsed::kind::failure: {
          const bool too_big = result.code == ws::close_code::message_too_big;
          log::info(log_component, remote_, describe_node(), ": closing: ", result.payload);
          // Nothing after a violation is parsed (the frame boundary may be lost, and a peer
          // that keeps breaking the protocol must not fill the log); its EOF ends the close.
          discard_input_ = true;
          close_gracefully(too_big ? disconnect_cause::oversized : disconnect_cause::protocol,
                           result.code, result.payload);
          break;
        }
      }
    }
    if (discard_input_)
      read_buffer_.consume(read_buffer_.size());
    return took_frame;
  }

  void on_message(ws::parsed message) {
    if (ended_.load(std::memory_order_relaxed))
      return;  // closing: forward nothing more
    core_->messages_in.fetch_add(1, std::memory_order_relaxed);
    core_->bytes_in.fetch_add(message.payload.size(), std::memory_order_relaxed);
    if (message.op != ws::opcode::text) {
      log::info(log_component, remote_, ": binary frame; closing the connection");
      close_gracefully(disconnect_cause::protocol, ws::close_code::unsupported_data,
                       "only text frames carrying P2P messages are accepted");
      return;
    }
    // The frame every recipient gets: encoded once, shared by all of them.
    const auto header = ws::header_size(message.payload.size());
    auto frame = std::make_shared<std::string>();
    frame->reserve(header + message.payload.size());
    ws::append_header(*frame, ws::opcode::text, message.payload.size());
    frame->append(message.payload);
    const auto text = std::string_view{*frame}.substr(header);
    handle_frame(text, std::move(frame));
  }

  void handle_frame(std::string_view text, frame_ptr frame) {
    std::string error;
    auto message = decode_p2p(text, error, /*with_payload=*/false);
    if (!message) {
      core_->count(drop_cause::malformed);
      log::debug(log_component, remote_, describe_node(), ": dropped a malformed message: ", error);
      return;
    }
    if (node_id_.empty()) {
      if (message->type != p2p_type::node_announce) {
        core_->count(drop_cause::unannounced);
        log::debug(log_component, remote_, ": dropped ", to_string(message->type),
                   " sent before NodeAnnounce");
        return;
      }
      // An announce that cannot take the id is dropped, not fatal: a node's heartbeat can reach a
      // new connection before the hello that carries its proof.
      const auto proof = check_proof(text, message->sender_id);
      if (proof == proof_check::closed)
        return;
      const bool proven = proof == proof_check::valid;
      if (!proven && core_->options.require_proof) {
        drop_unproven(*message, "this relay requires relay_proof");
        return;
      }
      if (!core_->announce(shared_from_this(), message->sender_id, proven)) {
        drop_unproven(*message, "node id held by a connection that proved it");
        return;
      }
      node_id_ = message->sender_id;
      proven_ = proven;
      log::info(log_component, "node ", printable_prefix(node_id_), proven ? " (proven)" : "",
                " announced from ", remote_);
    } else if (message->sender_id != node_id_) {
      core_->count(drop_cause::spoofed);
      ++spoofed_;
      if (spoofed_ <= logged_spoofs_per_connection)
        log::warn(log_component, remote_, " (node ", printable_prefix(node_id_), ") sent ",
                  to_string(message->type), " as sender_id ", printable_prefix(message->sender_id),
                  "; dropped");
      if (spoofed_ == logged_spoofs_per_connection)
        log::warn(log_component, remote_, ": further spoofed messages are dropped silently");
      return;
    } else if (!proven_ && message->type == p2p_type::node_announce) {
      const auto proof = check_proof(text, node_id_);
      if (proof == proof_check::closed)
        return;
      if (proof == proof_check::valid && core_->mark_proven(*this, node_id_)) {
        proven_ = true;
        log::info(log_component, "node ", printable_prefix(node_id_), " proved its id");
      }
    }
    core_->route(*this, *message, frame);
  }

  enum class proof_check { absent, invalid, valid, closed };

  // Whether the announce `text` carries a valid relay_proof of `node_id` for this connection's
  // challenge; `closed` once the connection has sent too many invalid ones.
  proof_check check_proof(std::string_view text, const std::string& node_id) {
    if (text.find(relay_proof_member) == std::string_view::npos)
      return proof_check::absent;
    if (invalid_proofs_ > max_invalid_proofs)
      return proof_check::closed;  // closing already: no more verifications, no more log lines
    if (proves_identity(text, node_id))
      return proof_check::valid;
    if (++invalid_proofs_ <= max_invalid_proofs)
      return proof_check::invalid;
    log::warn(log_component, remote_, ": sent ", invalid_proofs_,
              " NodeAnnounces with an invalid relay_proof; closing");
    close_gracefully(disconnect_cause::unproven, ws::close_code::policy_violation,
                     "too many invalid relay_proofs");
    return proof_check::closed;
  }

  void drop_unproven(const p2p_message& announce, const char* why) {
    core_->count(drop_cause::unproven);
    ++unproven_announces_;
    if (unproven_announces_ < max_unproven_announces) {
      log::info(log_component, remote_, ": NodeAnnounce as ", printable_prefix(announce.sender_id),
                " without a valid relay_proof dropped (", why, ")");
    } else if (unproven_announces_ == max_unproven_announces) {  // later ones: counted only
      log::warn(log_component, remote_, ": ", unproven_announces_, " NodeAnnounces as ",
                printable_prefix(announce.sender_id), " without a valid relay_proof (", why,
                "); closing");
      close_gracefully(disconnect_cause::unproven, ws::close_code::policy_violation, why);
    }
  }

  // Reads payload.relay_proof of an envelope decode_p2p has already checked (its payload is an
  // object): a second parse, at most a few times per connection.
  bool proves_identity(std::string_view text, const std::string& node_id) const {
    rapidjson::Document announce;
    announce.Parse(text.data(), text.size());
    if (announce.HasParseError() || !announce.IsObject())
      return false;
    const auto payload = announce.FindMember("payload");
    if (payload == announce.MemberEnd() || !payload->value.IsObject())
      return false;
    const auto proof = payload->value.FindMember(relay_proof_member.data());
    if (proof == payload->value.MemberEnd() || !proof->value.IsString())
      return false;
    return verify_announce_proof(challenge_, node_id,
                                 {proof->value.GetString(), proof->value.GetStringLength()});
  }

  // The peer's close frame: answer it (unless we began the close) and close the socket once the
  // answer is out, as the server side of RFC 6455 §7.1.1 does.
  void on_peer_close(std::uint16_t code) {
    discard_input_ = true;
    peer_closed_ = true;
    if (close_sent_) {
      close_socket();
      return;
    }
    end(disconnect_cause::peer_closed);
    close_sent_ = true;
    const auto echoed = code == no_status_code ? ws::close_code::normal : code;
    enqueue(std::make_shared<const std::string>(ws::encode_close(echoed, {})), false, true);
    arm_close_deadline();
  }

  // Strand only. `data`: a forwarded message (its size was reserved by deliver()).
  void enqueue(frame_ptr frame, bool data, bool close = false) {
    if (socket_closed_ || (data && ended_.load(std::memory_order_relaxed))) {
      if (data)
        queued_bytes_.fetch_sub(frame->size(), std::memory_order_acq_rel);
      return;
    }
    queue_.push_back(outgoing{std::move(frame), data, close});
    if (!write_active_)
      write_queued();
  }

  // Only the latest ping not yet answered gets a pong (RFC 6455 §5.5.3 allows it): a peer that
  // sends pings and reads nothing cannot make pongs pile up.
  void queue_pong(std::string_view payload) {
    if (close_sent_ || socket_closed_)
      return;
    pong_ = ws::encode_frame(ws::opcode::pong, payload);
    if (!write_active_)
      write_queued();
  }

  // One gathered write of everything queued so far (bounded, so that a connection slow to read
  // holds little); writing_ keeps those frames alive until it completes.
  void write_queued() {
    std::size_t bytes = 0;
    batch_.copy(pong_);
    pong_.clear();
    while (!queue_.empty() && writing_.size() < max_frames_per_write && !batch_.full() &&
           (writing_.empty() || bytes + queue_.front().frame->size() <= max_bytes_per_write)) {
      bytes += queue_.front().frame->size();
      batch_.add(*queue_.front().frame);
      writing_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (batch_.empty())
      return;
    write_active_ = true;
    asio::async_write(socket_, batch_.buffers(),
                      beast::bind_front_handler(&relay_connection::on_write, shared_from_this()));
  }

  void on_write(error_code ec, std::size_t) {
    std::size_t data_bytes = 0, data_frames = 0;
    bool wrote_close = false;
    for (const auto& out : writing_) {
      if (out.data) {
        data_bytes += out.frame->size();
        ++data_frames;
      }
      wrote_close = wrote_close || out.close;
    }
    writing_.clear();
    batch_.clear();
    write_active_ = false;
    queued_bytes_.fetch_sub(data_bytes, std::memory_order_acq_rel);
    if (ec) {
      if (!socket_closed_) {
        log::debug(log_component, remote_, describe_node(), ": write failed: ", ec.message());
        close_now(disconnect_cause::connection_lost);
      }
      return;
    }
    core_->messages_out.fetch_add(data_frames, std::memory_order_relaxed);
    core_->bytes_out.fetch_add(data_bytes, std::memory_order_relaxed);
    if (wrote_close) {
      // Our close frame is out: nothing more will be written. When the peer began the close it
      // has nothing more to say either; otherwise its close frame or EOF ends the wait. Until
      // then its bytes are still read: closing with unread data would reset the connection and
      // could destroy the close frame on its way to the peer.
      error_code ignored;
      socket_.shutdown(tcp::socket::shutdown_send, ignored);
      if (peer_closed_)
        close_socket();
      return;
    }
    if (!queue_.empty() || !pong_.empty())
      write_queued();
  }

  // Ping after half the idle timeout without traffic; close after all of it. Checked every
  // quarter of it, so a connection is closed within 1.25 idle timeouts of its last byte.
  void arm_idle_timer() {
    idle_timer_.expires_after(core_->options.idle_timeout / 4);
    idle_timer_.async_wait(
      beast::bind_front_handler(&relay_connection::on_idle_tick, shared_from_this()));
  }

  void on_idle_tick(error_code ec) {
    if (ec || socket_closed_ || close_sent_)
      return;
    const auto silent = std::chrono::steady_clock::now() - last_received_;
    if (silent < core_->options.idle_timeout / 2) {
      pinged_ = false;
    } else if (silent < core_->options.idle_timeout) {
      if (!pinged_)
        enqueue(std::make_shared<const std::string>(ws::encode_frame(ws::opcode::ping, {})),
                false);
      pinged_ = true;
    } else {
      log::info(log_component, remote_, describe_node(), ": nothing received for ",
                core_->options.idle_timeout.count(), " ms; closing");
      close_now(disconnect_cause::timeout);
      return;
    }
    arm_idle_timer();
  }

  void on_overflow() {
    if (ended_.load(std::memory_order_relaxed))
      return;
    log::info(log_component, remote_, describe_node(), ": not reading; outbound queue passed ",
              core_->options.max_queue_bytes, " bytes; disconnecting");
    // A peer that does not read would not read a close frame either: cut the TCP connection.
    close_now(disconnect_cause::slow_reader);
  }

  // Records the cause (first one wins), leaves the registry and frees the queue. Strand only.
  void end(disconnect_cause cause) {
    if (ended_.exchange(true, std::memory_order_acq_rel))
      return;
    core_->count(cause);
    core_->forget(this, node_id_);
    std::size_t freed = 0;
    for (const auto& out : queue_)
      if (out.data)
        freed += out.frame->size();
    queue_.clear();
    queue_.shrink_to_fit();
    queued_bytes_.fetch_sub(freed, std::memory_order_acq_rel);
    log::debug(log_component, remote_, describe_node(), ": disconnected (",
               disconnect_cause_names[index(cause)], ")");
  }

  // Sends a close frame and waits for the peer's, but no longer than handshake_timeout: a peer
  // whose socket is stuck (a pending write never completes) is then cut off.
  void close_gracefully(disconnect_cause cause, std::uint16_t code, std::string_view reason) {
    end(cause);
    if (close_sent_ || socket_closed_)
      return;
    if (handshake_) {  // the handshake has not completed
      close_now(cause);
      return;
    }
    close_sent_ = true;
    enqueue(std::make_shared<const std::string>(ws::encode_close(code, reason)), false, true);
    arm_close_deadline();
  }

  void arm_close_deadline() {
    close_deadline_.expires_after(core_->options.handshake_timeout);
    close_deadline_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec)
        self->close_socket();
    });
  }

  void close_now(disconnect_cause cause) {
    end(cause);
    close_sent_ = true;
    close_socket();
  }

  void close_socket() {
    if (socket_closed_)
      return;
    socket_closed_ = true;
    idle_timer_.cancel();
    close_deadline_.cancel();
    error_code ignored;
    if (handshake_)
      beast::get_lowest_layer(*handshake_).close();
    else
      socket_.close(ignored);
  }

  std::string describe_node() const {
    return node_id_.empty() ? std::string{} : " (node " + printable_prefix(node_id_) + ")";
  }

  static constexpr std::uint16_t no_status_code = 1005;
  // One read takes up to this much; a gathered write up to this many frames and bytes.
  static constexpr std::size_t read_chunk_bytes = 64 * 1024;
  static constexpr std::size_t min_read_bytes = 16 * 1024;
  static constexpr std::size_t max_frames_per_write = 256;
  static constexpr std::size_t max_bytes_per_write = 256 * 1024;

  std::shared_ptr<relay_server::impl> core_;
  const asio::any_io_executor strand_;  // a copy, so deliver() never touches the socket off it
  std::optional<websocket::stream<beast::tcp_stream>> handshake_;  // until the handshake is done
  tcp::socket socket_;                                             // after it
  asio::steady_timer idle_timer_;
  asio::steady_timer close_deadline_;
  const std::string remote_;
  const std::string challenge_ = new_challenge();  // sent in the 101, signed in the NodeAnnounce
  beast::flat_buffer read_buffer_;
  ws::frame_parser parser_;
  std::string leftover_;

  // Strand-only state.
  std::string node_id_;  // empty until the first NodeAnnounce
  bool proven_ = false;  // node_id_ was proven (announce_proof.hpp)
  unsigned invalid_proofs_ = 0;
  unsigned unproven_announces_ = 0;
  std::deque<outgoing> queue_;
  std::vector<outgoing> writing_;  // the frames of the write in progress
  std::string pong_;                // the answer to the latest ping, not written yet
  write_batch batch_;               // the bytes of the write in progress
  bool write_active_ = false;
  std::chrono::steady_clock::time_point last_received_ = std::chrono::steady_clock::now();
  bool pinged_ = false;  // a keep-alive ping went out in the current silence
  bool close_sent_ = false;     // our close frame is queued (or the socket is being cut)
  bool discard_input_ = false;  // the frame boundary is lost, or the peer's close has arrived
  bool peer_closed_ = false;    // the peer's close frame has arrived
  bool socket_closed_ = false;
  std::uint64_t spoofed_ = 0;

  // Shared with deliver() on other threads.
  std::atomic<std::size_t> queued_bytes_{0};  // posted + queued + in flight
  std::atomic<bool> ended_{false};
  std::atomic<bool> overflowed_{false};
};

// A TCP connection speaking HTTP until it upgrades to WebSocket (or closes).
class http_connection : public std::enable_shared_from_this<http_connection> {
public:
  http_connection(std::shared_ptr<relay_server::impl> core, tcp::socket&& socket, std::string remote)
      : core_(std::move(core)),
        strand_(socket.get_executor()),
        stream_(std::move(socket)),
        buffer_(max_request_header_bytes + max_request_body_bytes),
        remote_(std::move(remote)) {}

  ~http_connection() {
    // Only reached without finish() when the io_context is destroyed with our handlers queued.
    if (!done_)
      core_->forget_http(this);
  }

  // Any thread: the first read is started on the socket's strand.
  void start() {
    asio::post(strand_,
               beast::bind_front_handler(&http_connection::read_request, shared_from_this()));
  }

  // Any thread.
  void abort() {
    asio::post(strand_, [self = shared_from_this()] { self->finish(); });
  }

private:
  void read_request() {
    if (done_)
      return;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(max_request_header_bytes));
    parser_->body_limit(max_request_body_bytes);
    stream_.expires_after(core_->options.handshake_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_connection::on_read, shared_from_this()));
  }

  void on_read(error_code ec, std::size_t) {
    if (done_)
      return;
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
          ec != http::error::end_of_stream) {
        // Unparseable or too large: say so once, then close.
        respond(json_response(http::status::bad_request,
                              error_body("bad_request", ec.message()), 11, false));
        return;
      }
      finish();  // EOF, timeout, reset
      return;
    }
    auto& request = parser_->get();
    if (websocket::is_upgrade(request)) {
      upgrade(parser_->release());
      return;
    }
    // Sockets kept alive between monitoring requests sit in the pool that nodes' upgrades must
    // get through: a client sending a request every few seconds could hold a place there for
    // good. Once the pool is half full, each such request gets its own connection.
    auto response = core_->answer(request);
    if (!core_->http_pool_has_room())
      response.keep_alive(false);
    respond(std::move(response));
  }

  void upgrade(http::request<http::string_body> request) {
    const auto version = request.version();
    // Browsers send Origin with every WebSocket handshake and apply no same-origin rule to
    // WebSockets, so without this any page a member opened could join a relay it can reach (one
    // on 127.0.0.1 or a private network) and pull the ledger. Nodes send no Origin.
    if (request.find(http::field::origin) != request.end()) {
      core_->count(reject_cause::browser);
      log::info(log_component, remote_, ": upgrade refused: sent by a web page (Origin ",
                printable_prefix(to_std(request[http::field::origin])), ")");
      respond(json_response(http::status::forbidden,
                            error_body("browser",
                                       "the relay is for nodes; web pages (requests with an "
                                       "Origin header) may not join"),
                            version, false));
      return;
    }
    if (!core_->authorized(request)) {
      core_->count(reject_cause::unauthorized);
      log::info(log_component, remote_, ": upgrade refused: missing or wrong network token");
      respond(json_response(http::status::unauthorized,
                            error_body("unauthorized",
                                       "this relay requires the network token (query ?token= or "
                                       "header Authorization: Bearer)"),
                            version, false),
              {{http::field::www_authenticate, "Bearer"}});
      return;
    }
    if (auto refused = core_->reserve_connection_slot()) {
      core_->count(*refused);
      const bool full = *refused == reject_cause::over_capacity;
      log::info(log_component, remote_, ": upgrade refused: ",
                full ? "max connections reached" : "shutting down");
      respond(json_response(http::status::service_unavailable,
                            error_body(reject_cause_names[index(*refused)],
                                       full ? "the relay has reached its connection limit"
                                            : "the relay is shutting down"),
                            version, false),
              {{http::field::retry_after, "5"}});
      return;
    }
    done_ = true;
    core_->forget_http(this);
    // Bytes after the request (a client may send its first frame without waiting for the 101)
    // belong to the WebSocket.
    auto leftover = beast::buffers_to_string(buffer_.data());
    auto connection =
      std::make_shared<relay_connection>(core_, std::move(stream_), remote_, std::move(leftover));
    connection->start(std::move(request));
  }

  void respond(http::response<http::string_body> response,
               std::initializer_list<std::pair<http::field, std::string_view>> extra = {}) {
    for (const auto& [field, value] : extra)
      response.set(field, beast_view(value));
    response_.emplace(std::move(response));
    stream_.expires_after(core_->options.handshake_timeout);
    http::async_write(stream_, *response_,
                      beast::bind_front_handler(&http_connection::on_write, shared_from_this()));
  }

  static beast::string_view beast_view(std::string_view text) { return {text.data(), text.size()}; }

  void on_write(error_code ec, std::size_t) {
    const bool close = response_->need_eof();
    response_.reset();
    if (ec || close || done_) {
      finish();
      return;
    }
    read_request();
  }

  void finish() {
    if (done_)
      return;
    done_ = true;
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
    core_->forget_http(this);
  }

  std::shared_ptr<relay_server::impl> core_;
  // A copy of the socket's strand: abort() may run on another thread after the stream was handed
  // over to a relay_connection, so it must not touch stream_.
  const asio::any_io_executor strand_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  const std::string remote_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  bool done_ = false;  // closed or handed over to a relay_connection; stream_ is unusable
};

}  // namespace relay_detail

// ---- relay_server::impl ----------------------------------------------------------------------

void relay_server::impl::start() {
  tcp::resolver resolver{io};
  error_code ec;
  const auto where = options.host + ":" + std::to_string(options.port);
  auto results = resolver.resolve(options.host, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + where + ": " +
                             (ec ? ec.message() : std::string{"no addresses"}));
  const tcp::endpoint endpoint = results.begin()->endpoint();
  auto fail = [&](const char* step) {
    throw std::runtime_error(std::string{"cannot listen on "} + where + " (" + step +
                             "): " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec); ec)
    fail("open");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec)
    fail("SO_REUSEADDR");
  if (acceptor.bind(endpoint, ec); ec)
    fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    fail("listen");
  bound_port = acceptor.local_endpoint(ec).port();
  asio::post(acceptor.get_executor(), [self = shared_from_this()] { self->accept_next(); });
}

void relay_server::impl::accept_next() {
  if (!acceptor.is_open())
    return;
  acceptor.async_accept(asio::make_strand(io),
                        beast::bind_front_handler(&impl::on_accept, shared_from_this()));
}

void relay_server::impl::on_accept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor.is_open())
    return;
  if (ec) {
    log::warn(log_component, "accept failed: ", ec.message(), "; retrying shortly");
    accept_retry.expires_after(accept_retry_delay);
    accept_retry.async_wait([self = shared_from_this()](error_code wait_ec) {
      if (!wait_ec)
        self->accept_next();
    });
    return;
  }
  error_code ignored;
  // Without TCP_NODELAY a small frame waits behind the peer's delayed ACK (up to 40 ms) whenever
  // an earlier frame is unacknowledged; bursts go out as one gathered write (relay_connection).
  socket.set_option(tcp::no_delay(true), ignored);
  const auto peer = socket.remote_endpoint(ignored);
  auto connection = std::make_shared<http_connection>(shared_from_this(), std::move(socket),
                                                      describe(peer));
  if (auto refused = admit_http(connection))
    count(*refused);  // the socket closes with `connection`, unread
  else
    connection->start();
  accept_next();
}

void relay_server::impl::stop() {
  std::vector<std::shared_ptr<http_connection>> http_open;
  std::vector<std::shared_ptr<relay_connection>> ws_open;
  {
    std::lock_guard lock{mutex};
    if (stopping)
      return;
    stopping = true;
    for (const auto& [key, weak] : http_connections)
      if (auto c = weak.lock())
        http_open.push_back(std::move(c));
    for (const auto& [key, weak] : connections)
      if (auto c = weak.lock())
        ws_open.push_back(std::move(c));
  }
  asio::post(acceptor.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor.close(ignored);
    self->accept_retry.cancel();
  });
  for (const auto& c : http_open)
    c->abort();
  for (const auto& c : ws_open)
    c->close_for_shutdown();
}

std::optional<reject_cause>
relay_server::impl::admit_http(const std::shared_ptr<http_connection>& connection) {
  std::lock_guard lock{mutex};
  if (stopping)
    return reject_cause::shutting_down;
  // Connections that have not upgraded yet are bounded too, so idle sockets cannot pile up.
  if (http_connections.size() >= options.max_connections)
    return reject_cause::over_capacity;
  http_connections.emplace(connection.get(), connection);
  return std::nullopt;
}

bool relay_server::impl::http_pool_has_room() {
  std::lock_guard lock{mutex};
  return http_connections.size() < options.max_connections / 2;
}

void relay_server::impl::forget_http(const http_connection* connection) {
  std::lock_guard lock{mutex};
  http_connections.erase(connection);
}

std::optional<reject_cause> relay_server::impl::reserve_connection_slot() {
  std::lock_guard lock{mutex};
  if (stopping)
    return reject_cause::shutting_down;
  if (live_connections >= options.max_connections)
    return reject_cause::over_capacity;
  ++live_connections;
  return std::nullopt;
}

bool relay_server::impl::enlist(const std::shared_ptr<relay_connection>& connection) {
  std::lock_guard lock{mutex};
  if (stopping)
    return false;
  connections.emplace(connection.get(), connection);
  return true;
}

void relay_server::impl::forget(const relay_connection* connection, const std::string& node_id) {
  std::lock_guard lock{mutex};
  connections.erase(connection);
  --live_connections;  // every relay_connection was created on a reserved slot
  if (!node_id.empty())
    if (auto it = nodes.find(node_id); it != nodes.end() && it->second.owner == connection)
      nodes.erase(it);
}

bool relay_server::impl::announce(const std::shared_ptr<relay_connection>& connection,
                                  const std::string& node_id, bool proven) {
  std::shared_ptr<relay_connection> older;
  {
    std::lock_guard lock{mutex};
    auto& slot = nodes[node_id];
    if (slot.owner != nullptr && slot.owner != connection.get()) {
      older = slot.handle.lock();
      if (older && slot.proven && !proven)
        return false;
    }
    slot = node_slot{connection.get(), connection, proven};
  }
  // The newest connection wins: a node that reconnects must not wait for its dead link to time out.
  if (older) {
    log::info(log_component, "node ", printable_prefix(node_id),
              " connected again; closing its older connection");
    older->close_replaced();
  }
  return true;
}

bool relay_server::impl::mark_proven(const relay_connection& connection,
                                     const std::string& node_id) {
  std::lock_guard lock{mutex};
  auto it = nodes.find(node_id);
  if (it == nodes.end() || it->second.owner != &connection)
    return false;
  it->second.proven = true;
  return true;
}

void relay_server::impl::route(const relay_connection& sender, const p2p_message& message,
                               const frame_ptr& frame) {
  if (message.recipient_id.empty()) {
    std::vector<std::shared_ptr<relay_connection>> targets;
    {
      std::lock_guard lock{mutex};
      targets.reserve(nodes.size());
      for (const auto& [id, slot] : nodes)
        if (slot.owner != &sender)
          if (auto target = slot.handle.lock())
            targets.push_back(std::move(target));
    }
    for (const auto& target : targets)
      target->deliver(frame);
    return;
  }
  if (message.recipient_id == sender.node_id()) {
    count(drop_cause::self_addressed);
    return;
  }
  std::shared_ptr<relay_connection> target;
  {
    std::lock_guard lock{mutex};
    if (auto it = nodes.find(message.recipient_id); it != nodes.end())
      target = it->second.handle.lock();
  }
  if (!target) {
    count(drop_cause::unknown_recipient);
    log::debug(log_component, "no connection for recipient ", printable_prefix(message.recipient_id),
               "; dropped ", to_string(message.type));
    return;
  }
  target->deliver(frame);
}

bool relay_server::impl::authorized(const http::request<http::string_body>& request) const {
  if (options.token.empty())
    return true;
  auto header = to_std(request[http::field::authorization]);
  constexpr std::string_view scheme = "bearer ";
  if (header.size() > scheme.size() && beast::iequals(header.substr(0, scheme.size()), scheme)) {
    auto given = header.substr(scheme.size());
    while (!given.empty() && given.front() == ' ')
      given.remove_prefix(1);
    while (!given.empty() && given.back() == ' ')
      given.remove_suffix(1);
    if (util::same_secret(given, options.token))
      return true;
  }
  auto query_token = util::query_parameter(to_std(request.target()), "token");
  return query_token && util::same_secret(*query_token, options.token);
}

http::response<http::string_body>
relay_server::impl::answer(const http::request<http::string_body>& request) const {
  const auto path = util::path_of(to_std(request.target()));
  const bool keep_alive = request.keep_alive();
  const bool known = path == "/health" || path == "/stats" || path == "/metrics";
  if (!known)
    return json_response(http::status::not_found,
                         error_body("not_found", "no such resource; WebSocket clients may "
                                                 "connect on any path"),
                         request.version(), keep_alive);
  if (path != "/health") {
    const auto host = request[http::field::host];
    if (!host_allowed({host.data(), host.size()}, options.allowed_hosts))
      return json_response(http::status::forbidden,
                           error_body("host_not_allowed",
                                      "/stats and /metrics answer only the relay's own host "
                                      "names (see --allowed-hosts)"),
                           request.version(), keep_alive);
  }
  if (request.method() != http::verb::get) {
    auto response = json_response(http::status::method_not_allowed,
                                  error_body("method_not_allowed", "use GET"), request.version(),
                                  keep_alive);
    response.set(http::field::allow, "GET");
    return response;
  }
  if (path == "/metrics") {
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, std::string{util::prometheus::text_writer::content_type});
    response.keep_alive(keep_alive);
    response.body() = metrics_text();
    response.prepare_payload();
    return response;
  }
  return json_response(http::status::ok, path == "/health" ? health_json() : stats_json(),
                       request.version(), keep_alive);
}

std::string relay_server::impl::health_json() const {
  std::size_t connection_count = 0;
  std::size_t node_count = 0;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_count = nodes.size();
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started_at);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("status");
  writer.String("ok");
  writer.Key("connections");
  writer.Uint64(connection_count);
  writer.Key("nodes");
  writer.Uint64(node_count);
  writer.Key("uptime_ms");
  writer.Int64(uptime.count());
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string relay_server::impl::stats_json() const {
  std::size_t connection_count = 0;
  std::vector<std::string> node_ids;
  std::vector<std::string> proven_ids;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_ids.reserve(nodes.size());
    for (const auto& [id, slot] : nodes) {
      node_ids.push_back(id);
      if (slot.proven)
        proven_ids.push_back(id);
    }
  }
  std::sort(node_ids.begin(), node_ids.end());
  std::sort(proven_ids.begin(), proven_ids.end());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  auto counters = [&writer](const char* key, const auto& names, const auto& values) {
    writer.Key(key);
    writer.StartObject();
    for (std::size_t i = 0; i < names.size(); ++i) {
      writer.Key(names[i].data(), static_cast<rapidjson::SizeType>(names[i].size()));
      writer.Uint64(values[i].load(std::memory_order_relaxed));
    }
    writer.EndObject();
  };
  writer.StartObject();
  writer.Key("connections");
  writer.Uint64(connection_count);
  writer.Key("nodes");
  writer.StartArray();
  for (const auto& id : node_ids)
    writer.String(id);
  writer.EndArray();
  writer.Key("proven_nodes");  // those whose connection proved the id (announce_proof.hpp)
  writer.StartArray();
  for (const auto& id : proven_ids)
    writer.String(id);
  writer.EndArray();
  writer.Key("messages_in");
  writer.Uint64(messages_in.load(std::memory_order_relaxed));
  writer.Key("messages_out");
  writer.Uint64(messages_out.load(std::memory_order_relaxed));
  writer.Key("bytes_in");
  writer.Uint64(bytes_in.load(std::memory_order_relaxed));
  writer.Key("bytes_out");
  writer.Uint64(bytes_out.load(std::memory_order_relaxed));
  counters("drops", drop_cause_names, drops);
  counters("disconnects", disconnect_cause_names, disconnects);
  counters("rejected", reject_cause_names, rejects);
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// The Prometheus text exposition format (0.0.4): the counters of /stats plus queue depth.
std::string relay_server::impl::metrics_text() const {
  std::size_t connection_count = 0;
  std::size_t node_count = 0;
  std::size_t queued = 0;
  std::size_t deepest = 0;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_count = nodes.size();
    for (const auto& [raw, weak] : connections)
      if (auto connection = weak.lock()) {
        queued += connection->queued_bytes();
        deepest = std::max(deepest, connection->queued_bytes());
      }
  }
  using util::prometheus::metric_type;
  util::prometheus::text_writer w;
  auto counter = [](const std::atomic<std::uint64_t>& value) { return value.load(std::memory_order_relaxed); };
  auto by_cause = [&](std::string_view name, std::string_view help, const auto& names,
                      const auto& values) {
    w.family(name, metric_type::counter, help);
    for (std::size_t i = 0; i < names.size(); ++i)
      w.sample({{"cause", names[i]}}, counter(values[i]));
  };
  w.gauge("gsio_relay_connections", "Open WebSocket connections.", static_cast<double>(connection_count));
  w.gauge("gsio_relay_nodes", "Connections that announced a node id.", static_cast<double>(node_count));
  w.counter("gsio_relay_messages_received_total", "P2P messages received from nodes.", counter(messages_in));
  w.counter("gsio_relay_messages_forwarded_total",
            "P2P messages delivered to nodes (one per recipient).", counter(messages_out));
  w.counter("gsio_relay_received_bytes_total", "Bytes of P2P messages received.", counter(bytes_in));
  w.counter("gsio_relay_forwarded_bytes_total", "Bytes of P2P messages forwarded.", counter(bytes_out));
  by_cause("gsio_relay_dropped_total", "Messages dropped, by cause.", drop_cause_names, drops);
  by_cause("gsio_relay_disconnects_total", "Connections closed, by cause.", disconnect_cause_names,
           disconnects);
  by_cause("gsio_relay_rejected_total", "Connections refused before the upgrade, by cause.",
           reject_cause_names, rejects);
  w.gauge("gsio_relay_queued_bytes", "Outbound bytes queued across all connections.",
          static_cast<double>(queued));
  w.gauge("gsio_relay_max_connection_queued_bytes",
          "Outbound bytes queued for the most backed-up connection.", static_cast<double>(deepest));
  w.gauge("gsio_relay_uptime_seconds", "Seconds since the relay started.",
          static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now() - started_at).count()));
  return w.take();
}

// ---- relay_server ----------------------------------------------------------------------------

relay_server::relay_server(asio::io_context& io, relay_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

relay_server::~relay_server() { stop(); }

void relay_server::start() { impl_->start(); }

std::uint16_t relay_server::port() const { return impl_->bound_port.load(); }

void relay_server::stop() { impl_->stop(); }

std::string relay_server::health_json() const { return impl_->health_json(); }

std::string relay_server::stats_json() const { return impl_->stats_json(); }

}  // namespace gsio::net
