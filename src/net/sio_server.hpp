#pragma once
// Socket.IO v5 over Engine.IO v4 on Boost.Beast: HTTP long-polling, WebSocket and the upgrade from
// polling to WebSocket. Beast and Asio stay inside the .cpp files; this header is cheap to include.
//
// Threading: the server runs on the io_context it is given (any number of threads may run it).
// Handler callbacks are invoked on those threads and must not block. Every public member function
// is thread-safe and may be called from any thread (actors call emit()/ack() directly).
#include "net/host_check.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio { class io_context; }

namespace gsio::net {

// Identifies one Socket.IO socket (one namespace on one Engine.IO connection). Never reused.
using socket_id = std::uint64_t;

enum class transport_kind { polling, websocket };

// An event's arguments: a JSON array text in which binary arguments appear as
// {"_placeholder":true,"num":N}, plus the N attachments in order.
struct sio_args {
  std::string json = "[]";
  std::vector<std::string> attachments;
};

struct socket_info {
  socket_id id = 0;
  std::string nsp;           // "/" or "/p2p" ...
  std::string auth_json;     // the CONNECT payload, "{}" when absent
  std::string remote_address;
  transport_kind transport = transport_kind::polling;
  std::string engine_sid;    // the Engine.IO session id
  std::string sio_sid;       // the Socket.IO socket id sent in the CONNECT reply
};

struct http_request {
  std::string method;
  std::string target;        // path and query
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct server_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;            // 0 picks a free port; see server::port()
  std::string path = "/socket.io/";     // Engine.IO endpoint
  std::vector<std::string> namespaces{"/"};  // a CONNECT to any other gets CONNECT_ERROR
  // Decides a CONNECT to a configured namespace from its auth payload (JSON, "{}" when absent):
  // "" admits it, any other text refuses it with CONNECT_ERROR {"message": text}. Unset: all are
  // admitted. Called on an io thread.
  std::function<std::string(const std::string& nsp, const std::string& auth_json)> admit;
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::chrono::milliseconds connect_timeout{45000};  // Engine.IO open without a namespace CONNECT
  std::size_t max_payload = 1'000'000;  // maxHttpBufferSize: POST bodies and WebSocket frames
  std::size_t max_buffered_bytes = 4 * 1024 * 1024;  // per connection outbound; beyond it we close
  // Engine.IO sessions; also the most HTTP connections (a polling session uses one or two, a
  // WebSocket session none once upgraded) held at once: beyond it new ones are closed unread.
  std::size_t max_connections = 100'000;
  // Access-Control-Allow-Origin; "" disables CORS headers. It also decides which browser pages
  // may open sessions: a handshake, poll or upgrade whose Origin header is neither the server's
  // own origin (its Host) nor cors_origin ("*": any) gets 403, so that a page elsewhere cannot
  // use a member's browser to reach a node it can reach (one bound to 127.0.0.1, say).
  std::string cors_origin = "*";
  // The names requests may carry in their Host header (see host_check.hpp); others get 403.
  host_policy allowed_hosts;
  bool allow_upgrades = true;
  // Optional second endpoint that speaks plain Engine.IO without Socket.IO on top (protocol
  // conformance tests, raw clients). Its sessions report to the engineio_handler given to the
  // server; "" disables it.
  std::string engineio_path;
  // When set, a socket receives broadcasts only once receive_broadcasts(id, true) is called for
  // it: a node of a members-only network keeps pushed entries from clients that have not proved
  // a member's key.
  bool broadcasts_need_opt_in = false;
};

enum class disconnect_reason {
  client_disconnect,       // DISCONNECT packet or Engine.IO close
  transport_close,         // the connection went away
  transport_error,
  ping_timeout,
  parse_error,             // invalid packet
  server_disconnect,       // server::disconnect()
  buffer_overflow,         // reader too slow: outbound buffer passed max_buffered_bytes
  server_shutdown,
};
const char* to_string(disconnect_reason reason);

class handler {
public:
  virtual ~handler() = default;
  // A socket joined a configured namespace. The server has already replied with CONNECT.
  virtual void on_connect(const socket_info& info) = 0;
  // EVENT or BINARY_EVENT; `ack_id` is set when the client asked for an acknowledgement.
  virtual void on_event(socket_id id, std::string event, sio_args args,
                        std::optional<std::uint64_t> ack_id) = 0;
  virtual void on_disconnect(socket_id id, disconnect_reason reason) = 0;
  // A request outside `path`: health checks, metrics, static files.
  virtual http_response on_http(const http_request& request) = 0;
};

// Receives the sessions of server_options::engineio_path: every Engine.IO message as is.
class engineio_handler {
public:
  virtual ~engineio_handler() = default;
  virtual void on_open(const std::string& sid) = 0;
  virtual void on_message(const std::string& sid, std::string data, bool binary) = 0;
  virtual void on_close(const std::string& sid) = 0;
};

struct server_stats {
  std::size_t engine_sessions = 0;
  std::size_t polling_sessions = 0;
  std::size_t websocket_sessions = 0;
  std::size_t sockets = 0;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t protocol_errors = 0;
  std::size_t http_connections = 0;          // open HTTP connections (not yet WebSocket)
  std::uint64_t connections_refused = 0;     // closed unread at max_connections
};

class server {
public:
  // `raw` serves options.engineio_path; it must outlive the server like `h`.
  server(boost::asio::io_context& io, server_options options, handler& h,
         engineio_handler* raw = nullptr);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  void start();                 // binds and listens; throws std::system_error on failure
  void stop();                  // closes the listener and every session (server_shutdown)
  std::uint16_t port() const;   // the bound port

  // Sends an EVENT (BINARY_EVENT when there are attachments). With `on_ack`, asks the client for
  // an acknowledgement and calls it with the client's ACK arguments. Unknown ids are ignored.
  void emit(socket_id id, std::string event, sio_args args,
            std::function<void(sio_args)> on_ack = {});
  // Sends `event` to every socket of `nsp` (one encoding shared by all).
  void broadcast(const std::string& nsp, std::string event, sio_args args);
  // Sends one `event` per element of `messages`, in order, to every socket of `nsp`: one hand-off
  // to each connection for the whole batch instead of one per message.
  void broadcast_each(const std::string& nsp, const std::string& event,
                      const std::vector<sio_args>& messages);
  // Whether broadcasts reach socket `id` (see server_options::broadcasts_need_opt_in).
  void receive_broadcasts(socket_id id, bool receive);
  // Replies to a client's ack request.
  void ack(socket_id id, std::uint64_t ack_id, sio_args args);
  // Sends DISCONNECT for the socket and forgets it.
  void disconnect(socket_id id);

  // Sends one Engine.IO message to a session of the plain Engine.IO endpoint.
  void send_engineio(const std::string& sid, std::string data, bool binary);

  server_stats stats() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
