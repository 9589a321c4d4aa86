#pragma once
// The debug console's wire protocol: a line-based TCP service, bound to 127.0.0.1 by default,
// that `gsio console` talks to.
//
//   client -> server   one command per line (UTF-8, at most max_line_bytes, "\n" or "\r\n")
//   server -> client   one framed reply per command, in order:
//                          "ok <n>\n" or "error <n>\n", then exactly n bytes of text
//
// On connect the server sends one "ok" frame with its greeting. The length prefix lets a reply
// hold any text (pretty JSON, tables, blank lines) without escaping. A connection handles one
// command at a time: the next line is read only after the reply to the previous one is written,
// so a client that pipelines commands gets its replies in order and memory stays bounded. A line
// that is too long gets an error reply and the connection is closed.
//
// Beast and Asio stay in admin_server.cpp; this header is cheap to include. Every public member
// function is thread-safe.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio { class io_context; }

namespace gsio::net {

using admin_connection_id = std::uint64_t;

struct admin_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;          // 0 picks a free port; see admin_server::port()
  std::size_t max_line_bytes = 4096;
  std::size_t max_connections = 16;
  std::string greeting;            // sent as the first frame of every connection
  // A connection is closed when its client sends no command for idle_timeout, or does not take
  // a reply within write_timeout, so that idle or stuck clients cannot hold every slot.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{15}};
  std::chrono::milliseconds write_timeout{std::chrono::seconds{30}};
};

// Receives commands on the io threads. Every on_command must eventually be answered with
// admin_server::reply (from any thread); until then the connection reads nothing more.
class admin_handler {
public:
  virtual ~admin_handler() = default;
  virtual void on_command(admin_connection_id id, std::string line) = 0;
};

class admin_server {
public:
  admin_server(boost::asio::io_context& io, admin_options options, admin_handler& handler);
  ~admin_server();  // calls stop()
  admin_server(const admin_server&) = delete;
  admin_server& operator=(const admin_server&) = delete;

  // Binds and starts accepting. Throws std::runtime_error naming the address on failure.
  void start();
  std::uint16_t port() const;  // the bound port; 0 before start()
  // Stops accepting and closes every connection. Idempotent.
  void stop();

  // Answers the connection's pending command; with close_after the connection is closed once the
  // reply is written. Replies to connections that are gone are dropped.
  void reply(admin_connection_id id, bool ok, std::string text, bool close_after = false);

  std::size_t connections() const;

  struct impl;  // public so the connection class in the .cpp can name it

private:
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
