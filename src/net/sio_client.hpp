#pragma once
// A Socket.IO v5 client (Engine.IO v4, WebSocket transport only, no polling) that joins one
// namespace; a node uses it to reach another node's "/p2p" namespace directly. Built on
// ws_client; Beast and Asio stay inside the .cpp files.
//
// Threading and lifetime (the same rules as ws_client):
//   - Runs on the io_context it is given; the callbacks of one client run one at a time, in order,
//     on that io_context's threads, and must not block or throw.
//   - emit() and close() are thread-safe and may be called from any thread, also from callbacks.
//   - The destructor may run on any thread, also inside one of this client's callbacks. When it
//     returns, no callback (on_connect, on_event, on_close or an emit's on_ack) is running on
//     another thread and none will start; it waits for a callback running elsewhere, so do not
//     destroy the client while holding a lock that its callbacks take.
//   - The io_context must outlive the client.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "net/sio_server.hpp"  // sio_args

namespace boost::asio { class io_context; }

namespace gsio::net {

struct sio_client_options {
  // http://host:port or https://host:port (ws:// and wss:// are accepted as well); no path: use
  // `path` and `nsp`. https:// connects over TLS (see ws_client.hpp for the certificate checks).
  std::string url;
  std::string tls_ca_file;  // https:// only: extra CA certificates to trust (PEM)
  std::string path = "/socket.io/";  // the server's Engine.IO endpoint
  std::string nsp = "/";
  std::string auth_json;  // the CONNECT payload, a JSON object; empty = none
  // Largest incoming WebSocket message, and largest total of emits buffered before the namespace
  // is joined.
  std::size_t max_payload = 16 * 1024 * 1024;
  // From start() until the namespace is joined (TCP, upgrade, Engine.IO open, CONNECT reply).
  std::chrono::milliseconds connect_timeout{5000};
};

struct sio_client_callbacks {
  std::function<void()> on_connect;  // the namespace was joined
  std::function<void(std::string event, sio_args args)> on_event;  // EVENT / BINARY_EVENT
  // Exactly once after start() or close() was first called (unless the client is destroyed
  // first), e.g. "connect error: Invalid namespace", "io server disconnect", "ping timeout",
  // "transport close: closed by peer (code 1000)", "parse error: ...", "io client disconnect".
  std::function<void(std::string reason)> on_close;
};

class sio_client {
public:
  sio_client(boost::asio::io_context& io, sio_client_options options,
             sio_client_callbacks callbacks);
  ~sio_client();
  sio_client(const sio_client&) = delete;
  sio_client& operator=(const sio_client&) = delete;

  // Begins connecting; only the first call has an effect. Errors are reported through on_close.
  void start();
  // Sends an event (BINARY_EVENT when args has attachments). `args.json` must be a JSON array
  // whose binary arguments are {"_placeholder":true,"num":N} objects. Emits made before the
  // namespace is joined are buffered (up to max_payload bytes) and sent once it is. With
  // `on_ack`, the server is asked for an acknowledgement and on_ack receives its arguments; it is
  // never called if the connection closes first. Returns false when the client is closed, the
  // event or arguments are invalid (a reserved name such as "connect", not a JSON array,
  // placeholders without attachments), or the outbound queue is full.
  bool emit(std::string event, sio_args args, std::function<void(sio_args)> on_ack = {});
  // Leaves the namespace (DISCONNECT) and closes the connection. Idempotent; on_close follows
  // with "io client disconnect".
  void close();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
