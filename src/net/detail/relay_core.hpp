#pragma once
// What the relay's files share: relay_server::impl (the listener, the registry of connections and
// node ids, the router, the counters behind /stats and /metrics) and the causes it counts.
//
// The relay's objects and their executors:
//   relay_server::impl - relay_server.cpp: the listener (detail/listener), the registry of
//                        connections and node ids (one mutex), routing and the counters
//                        (atomics); relay_status.cpp: the status endpoints; relay_nats.cpp: the
//                        other relays through NATS (net/nats_bridge, on libnats's threads).
//   http_session       - relay_server.cpp: one per accepted TCP connection while it speaks HTTP
//                        (an http_connection, detail/http_connection): answers /health, /stats,
//                        /metrics and 404, checks upgrade requests and hands the socket over.
//   relay_connection   - detail/relay_connection: one per WebSocket (a ws_connection,
//                        detail/ws_connection): announces, proofs, limits and idle pings, on the
//                        strand of its socket.
// Routing runs on the sender's strand. Delivery to another connection is always posted to that
// connection's strand, so no handler touches another connection's stream.
#include "net/relay_server.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/listener.hpp"
#include "net/detail/ws_connection.hpp"
#include "net/p2p_message.hpp"

namespace gsio::util::prometheus { class text_writer; }

namespace gsio::net {

// Named (not anonymous) so relay_server::impl may hold these types without -Wsubobject-linkage.
namespace relay_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using beast::error_code;

inline constexpr std::string_view log_component = "relay";
inline constexpr std::string_view server_name = "gsio-relay";

// Spoofing peers are logged individually up to this many times per connection, then summarized,
// so a hostile peer cannot flood the log.
inline constexpr std::uint64_t logged_spoofs_per_connection = 10;

// Why a frame was received but not forwarded.
enum class drop_cause : std::size_t {
  malformed,          // not a valid P2P envelope
  unannounced,        // sent before the connection's NodeAnnounce
  spoofed,            // sender_id is not the connection's node id
  unknown_recipient,  // no live connection holds recipient_id
  self_addressed,     // recipient_id is the sender itself (the relay never echoes)
  unproven,           // a NodeAnnounce without the proof its id needs (see announce_proof.hpp)
  other_network,      // network_id differs from the one the connection announced in
  not_member,         // an announce without an admission the relay accepts (relay_options::admit_member)
};
inline constexpr std::array<std::string_view, 8> drop_cause_names{
  "malformed", "unannounced", "spoofed", "unknown_recipient", "self_addressed", "unproven",
  "other_network", "not_member"};
// Each invalid relay_proof costs an Ed25519 verification: a connection gets this many, then it is
// closed ("unproven"). An honest node sends one valid proof per connection.
inline constexpr unsigned max_invalid_proofs = 8;
// A node's heartbeat can reach a new connection before its hello with the proof, so a dropped
// unproven announce is not fatal; this many are, so that a node that never proves (an old version,
// a wrong key) hears why instead of sitting connected and cut off.
inline constexpr unsigned max_unproven_announces = 4;

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
inline constexpr std::array<std::string_view, 10> disconnect_cause_names{
  "peer_closed", "connection_lost", "timeout",  "oversized", "protocol",
  "replaced",    "slow_reader",     "handshake_failed", "shutdown", "unproven"};

// Why a connection was turned away before it became a WebSocket.
enum class reject_cause : std::size_t {
  unauthorized,   // missing or wrong network token (HTTP 401)
  over_capacity,  // max_connections reached (HTTP 503, or closed unread when HTTP is saturated)
  shutting_down,  // the relay is stopping (HTTP 503)
  browser,        // the upgrade carried an Origin header: a web page, not a node (HTTP 403)
};
inline constexpr std::array<std::string_view, 4> reject_cause_names{
  "unauthorized", "over_capacity", "shutting_down", "browser"};

template <class Enum> constexpr std::size_t index(Enum e) { return static_cast<std::size_t>(e); }

using frame_ptr = std::shared_ptr<const std::string>;

class http_session;
class relay_connection;

}  // namespace relay_detail

struct relay_server::impl : std::enable_shared_from_this<relay_server::impl> {
  using http_session = relay_detail::http_session;
  using relay_connection = relay_detail::relay_connection;
  using drop_cause = relay_detail::drop_cause;
  using disconnect_cause = relay_detail::disconnect_cause;
  using reject_cause = relay_detail::reject_cause;
  using frame_ptr = relay_detail::frame_ptr;
  using tcp = relay_detail::tcp;
  using error_code = relay_detail::error_code;
  using request_type = relay_detail::http::request<relay_detail::http::string_body>;
  using response_type = relay_detail::http::response<relay_detail::http::string_body>;

  impl(boost::asio::io_context& context, relay_options opts);

  boost::asio::io_context& io;
  const relay_options options;
  // The WebSocket connections' (see the constructor).
  const detail::ws_settings websocket_settings;
  const std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
  const std::shared_ptr<detail::listener> listener;
  std::atomic<std::uint16_t> bound_port{0};

  // Counters: atomics, because every connection's strand updates them.
  std::atomic<std::uint64_t> messages_in{0}, messages_out{0}, bytes_in{0}, bytes_out{0};
  std::array<std::atomic<std::uint64_t>, relay_detail::drop_cause_names.size()> drops{};
  std::array<std::atomic<std::uint64_t>, relay_detail::disconnect_cause_names.size()>
      disconnects{};
  std::array<std::atomic<std::uint64_t>, relay_detail::reject_cause_names.size()> rejects{};

  void count(drop_cause c) {
    drops[relay_detail::index(c)].fetch_add(1, std::memory_order_relaxed);
  }
  void count(disconnect_cause c) {
    disconnects[relay_detail::index(c)].fetch_add(1, std::memory_order_relaxed);
  }
  void count(reject_cause c) {
    rejects[relay_detail::index(c)].fetch_add(1, std::memory_order_relaxed);
  }

  // The registry. Connections are held weakly: they live as long as their pending operations.
  struct node_slot {
    const relay_connection* owner = nullptr;  // identity, compared without locking the weak_ptr
    std::weak_ptr<relay_connection> handle;
    bool proven = false;  // the owner proved the id: only another proof takes it over
    std::string network;  // the network_id it announced in: it hears only that network
  };
  mutable std::mutex mutex;
  bool stopping = false;
  std::size_t live_connections = 0;  // reserved WebSocket slots, counted against max_connections
  // Connections not upgraded yet: bounded too, so idle sockets cannot pile up.
  detail::connection_set<http_session> http_connections;
  std::unordered_map<const relay_connection*, std::weak_ptr<relay_connection>> connections;
  std::unordered_map<std::string, node_slot> nodes;

  // From NATS: envelopes that failed the checks, and directed ones for a node no longer here.
  std::atomic<std::uint64_t> nats_malformed{0}, nats_unknown_node{0};
  // Declared last, so destroyed first: its destructor waits for the libnats callbacks, which use
  // the registry and the counters above.
  std::unique_ptr<nats_bridge> nats;

  void start();
  void stop();
  void on_accept(tcp::socket socket);

  std::optional<reject_cause> admit_http(const std::shared_ptr<http_session>& connection);
  bool http_pool_has_room();  // below half of max_connections connections not upgraded yet
  void forget_http(const http_session* connection);
  std::optional<reject_cause> reserve_connection_slot();
  bool enlist(const std::shared_ptr<relay_connection>& connection);
  void forget(const relay_connection* connection, const std::string& node_id);
  // False (and nothing changes) when an unproven connection claims an id a proven one holds.
  bool announce(const std::shared_ptr<relay_connection>& connection, const std::string& node_id,
                bool proven, const std::string& network);
  // The connection holding node_id proved it later; false if it no longer holds it.
  bool mark_proven(const relay_connection& connection, const std::string& node_id);
  void route(const relay_connection& sender, const p2p_message& message, const frame_ptr& frame);
  // Delivers a frame to every connection announced in `network` but the one of `except_node_id`:
  // networks sharing the relay never see each other's traffic.
  void deliver_to_all(const frame_ptr& frame, std::string_view network, std::string_view except_node_id,
                      const relay_connection* except_connection);

  // ---- the other relays, through NATS (relay_nats.cpp) ----
  void start_nats();  // with options.nats; throws std::runtime_error for settings libnats refuses
  void from_nats(std::string envelope, const std::string* directed_to);
  // The envelope of a frame from a node, to the other relays (frames carry the WebSocket header
  // the local recipients get; NATS carries the envelope alone). False without NATS, or when the
  // recipient cannot be named on NATS.
  bool broadcast_on_nats(const frame_ptr& frame);
  bool send_on_nats(const std::string& recipient_id, const frame_ptr& frame);
  // Starts or stops hearing a node's directed messages from the other relays.
  void watch_on_nats(const std::string& node_id);
  void unwatch_on_nats(const std::string& node_id);
  std::string nats_stats_json() const;  // "null" without NATS
  void write_nats_metrics(util::prometheus::text_writer& w) const;

  bool authorized(const request_type& request) const;
  response_type answer(const request_type& request) const;
  std::string health_json() const;
  std::string stats_json() const;
  std::string metrics_text() const;
};

}  // namespace gsio::net
