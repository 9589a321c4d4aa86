#pragma once
// An outbound WebSocket connection (ws:// or wss://) on Boost.Beast, used by a node to dial the
// relay and, through sio_client, other nodes. Beast, Asio and OpenSSL stay inside ws_client.cpp.
// Over wss:// the server's certificate is always verified against the system's CA certificates
// (plus ws_client_options::tls_ca_file) and must name the host of the URL.
//
// Threading and lifetime:
//   - The connection runs on the io_context it is given (any number of threads may run it); all
//     of its work, and every callback, runs on one strand per connection, so callbacks of one
//     client never run concurrently and arrive in order.
//   - send(), close() and queued_bytes() are thread-safe and may be called from any thread,
//     including from inside a callback.
//   - The destructor may run on any thread, also inside one of this client's own callbacks. When
//     it returns no callback of this client is running on another thread and none will start.
//     It achieves this by waiting for a callback that is running on another thread to return, so
//     do not destroy the client while holding a lock that its callbacks also take.
//   - The io_context must outlive the client. Destroying the client does not block on I/O: the
//     connection is closed in the background and its resources are released once the io_context
//     has run the remaining handlers.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio { class io_context; }

namespace gsio::net {

struct ws_client_options {
  // ws:// or wss://host[:port][/path][?query]; other schemes are rejected through on_close.
  std::string url;
  // wss:// only: a PEM file of CA certificates to trust besides the system's (a private CA).
  std::string tls_ca_file;
  std::vector<std::pair<std::string, std::string>> headers;  // extra upgrade request headers
  // A larger incoming message closes the connection (Beast answers it with close code 1009).
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  // Outbound bytes queued but not yet written; a send() beyond it fails and closes the connection
  // (a peer that does not read must not make us grow memory).
  std::size_t max_queue_bytes = 16 * 1024 * 1024;
  std::chrono::milliseconds connect_timeout{5000};  // resolve + TCP connect + upgrade handshake
  // Beast keep-alive: a ping is sent after half of this much silence, and a peer that stays silent
  // for the whole period is dropped. Zero disables it.
  std::chrono::milliseconds idle_timeout{20000};
};

struct ws_client_callbacks {
  // The headers of the server's 101 response, just before on_open.
  std::function<void(const std::vector<std::pair<std::string, std::string>>& headers)>
    on_upgrade_response;
  std::function<void()> on_open;
  // Text messages. Binary messages also arrive here unless on_binary is set.
  std::function<void(std::string text)> on_message;
  // Binary messages, when the caller needs to tell them apart from text (Engine.IO attachments).
  std::function<void(std::string bytes)> on_binary;
  // Exactly once after start() or close() was first called, for any reason: "invalid URL: ...",
  // "connect failed: ...", "upgrade refused: 401", "closed by peer (code 1000)",
  // "idle timeout: ...", "send queue limit exceeded (...)", "closed" (after close()), ...
  // Not called when the client is destroyed first.
  std::function<void(std::string reason)> on_close;
};

class ws_client {
public:
  ws_client(boost::asio::io_context& io, ws_client_options options, ws_client_callbacks callbacks);
  ~ws_client();  // closes if still open; no callback runs after the destructor returns
  ws_client(const ws_client&) = delete;
  ws_client& operator=(const ws_client&) = delete;

  // Begins connecting; only the first call has an effect. Errors are reported through on_close.
  void start();
  // Queues a text message (written after the handshake if called before). Returns false when the
  // client is closed or closing, or when the message would take the queue past max_queue_bytes;
  // in the latter case the connection is closed as well.
  bool send(std::string text);
  // Same as send() for a binary message.
  bool send_binary(std::string bytes);
  // Closes the connection: messages already queued are written first, then the WebSocket close
  // handshake runs (bounded by connect_timeout). Idempotent; on_close follows with "closed".
  void close();
  // Bytes accepted by send()/send_binary() and not yet written.
  std::size_t queued_bytes() const;

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
