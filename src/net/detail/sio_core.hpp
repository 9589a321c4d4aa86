#pragma once
// What the layers of the Socket.IO server (sio_server.hpp) share: the server core (the listener,
// the session and socket registries, the counters), the encoded packets they pass around and
// Engine.IO's error answers.
//
// The layers, each in a file pair of its own:
//   server_core       - sio_server.cpp: the listener (detail/listener), registries and counters,
//                       and the public API on top.
//   http_session      - detail/sio_http_session: one TCP connection speaking HTTP (polling, CORS,
//                       plain requests, the upgrade request; an http_connection,
//                       detail/http_connection); runs on the strand of its socket.
//   engine_session    - detail/engineio_session: one Engine.IO session (heartbeat, polling
//                       transport, WebSocket transport and the upgrade between them); owns a
//                       strand because a polling session is fed by several TCP connections.
//   ws_transport      - detail/engineio_session: the session's WebSocket (a ws_connection,
//                       detail/ws_connection); all its handlers run on the strand of the engine
//                       session it carries, so engine and WebSocket call each other directly.
//   socketio_session  - detail/socketio_session: the Socket.IO layer of an Engine.IO session
//                       (namespaces, acks, binary attachments).
// Cross-strand calls (HTTP <-> engine, public API -> engine) are always posted, never run inline,
// so no handler ever re-enters an object that is in the middle of processing.
#include "net/sio_server.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include "net/detail/listener.hpp"
#include "net/detail/ws_connection.hpp"
#include "net/engineio_codec.hpp"
#include "net/socketio_codec.hpp"

// Named (not anonymous) so that server::impl may derive from server_core without
// -Wsubobject-linkage complaining.
namespace gsio::net::detail {

class http_session;
class engine_session;
class socketio_session;

// An encoded outbound Engine.IO packet. Text packets hold their full text form ("4..."), binary
// packets their raw bytes. Shared so that a broadcast encodes once for every receiver.
struct outgoing {
  std::shared_ptr<const std::string> bytes;
  bool binary = false;
};

inline outgoing text_packet(eio::packet_type type, std::string_view data = {}) {
  std::string text;
  text.reserve(data.size() + 1);
  text += static_cast<char>(type);
  text += data;
  return {std::make_shared<const std::string>(std::move(text)), false};
}

inline outgoing binary_packet(std::string bytes) {
  return {std::make_shared<const std::string>(std::move(bytes)), true};
}

// Bytes the packet occupies in a polling payload (binary grows by base64).
inline std::size_t polling_size(const outgoing& o) {
  return o.binary ? 1 + (o.bytes->size() + 2) / 3 * 4 : o.bytes->size();
}

// A Socket.IO packet plus its attachments as Engine.IO packets.
std::vector<outgoing> encode_sio(const sio::packet& p, const std::vector<std::string>& attachments);

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

engine_reply error_reply(engine_error e);

inline engine_reply text_reply(std::string body) {
  return {200, "text/plain; charset=UTF-8", std::move(body)};
}

// 120 random bits as 20 URL-safe characters.
std::string random_id();

std::string json_string(std::string_view s);

// "/socket.io/" also answers "/socket.io" (clients built with a path without the slash).
bool path_matches(std::string_view path, std::string_view endpoint);

// ---------------------------------------------------------------------------------------------

class server_core : public std::enable_shared_from_this<server_core> {
public:
  server_core(asio::io_context& context, server_options opts, handler& h, engineio_handler* raw);

  asio::io_context& io;
  const server_options options;
  handler& sio_handler;
  engineio_handler* const raw_handler;
  // Idle keep-alive connections and request reads; longer than a held poll can last.
  const std::chrono::milliseconds request_timeout;
  // The WebSocket transports' (a node holds thousands of them; see the constructor).
  const ws_settings websocket_settings;

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

  // Creates and registers an engine session (a Socket.IO one, or with `raw` one of the plain
  // Engine.IO endpoint); nullptr when stopping or at max_connections.
  std::shared_ptr<engine_session> create_session(strand_type strand, bool raw,
                                                 transport_kind transport, std::string remote);
  std::shared_ptr<engine_session> find_session(const std::string& sid, bool raw);
  void unregister_session(const std::string& sid, transport_kind transport);
  void transport_upgraded() {
    --polling_sessions;
    ++websocket_sessions;
  }

  socket_id register_socket(const std::shared_ptr<socketio_session>& session,
                            const std::string& nsp);
  void unregister_socket(socket_id id);
  std::shared_ptr<socketio_session> find_socket(socket_id id);
  void receive_broadcasts(socket_id id, bool receive);
  std::vector<std::pair<socket_id, std::shared_ptr<socketio_session>>> sockets_of(
      const std::string& nsp);

  // The HTTP connections (not yet WebSocket), at most max_connections.
  std::size_t connection_count() const { return connections_.size(); }
  void unregister_connection(const http_session* c) { connections_.remove(c); }

  std::size_t session_count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return sessions_.size();
  }
  std::size_t socket_count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return sockets_.size();
  }

private:
  void on_accept(tcp::socket socket);

  const std::shared_ptr<listener> listener_;
  connection_set<http_session> connections_;

  struct socket_entry {
    std::weak_ptr<socketio_session> session;
    std::string nsp;
    bool receives_broadcasts = true;
  };
  std::mutex mutex_;  // guards the session and socket maps and next_socket_id_
  std::unordered_map<std::string, std::shared_ptr<engine_session>> sessions_;
  std::unordered_map<socket_id, socket_entry> sockets_;
  socket_id next_socket_id_ = 1;
};

}  // namespace gsio::net::detail
