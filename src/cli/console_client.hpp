#pragma once
// The client side of the node's debug console protocol (net/admin_server.hpp): one TCP
// connection, one command line out, one framed reply back. Blocking, with timeouts; errors are
// cli_error with the gsio exit codes (unreachable, malformed).
#include <chrono>
#include <cstdint>
#include <string>

namespace gsio::cli {

class console_client {
public:
  // Connects and reads the greeting. `connect_timeout` bounds the connect and the greeting,
  // `reply_timeout` each later reply (some commands, like `ledger verify`, take a while).
  console_client(std::string host, std::uint16_t port, std::chrono::milliseconds connect_timeout,
                 std::chrono::milliseconds reply_timeout);
  ~console_client();
  console_client(const console_client&) = delete;
  console_client& operator=(const console_client&) = delete;

  struct reply {
    bool ok = false;
    std::string text;
  };

  const std::string& greeting() const { return greeting_; }
  const std::string& address() const { return address_; }
  // Sends one command and waits for its reply. After `quit` the node closes the connection.
  reply run(const std::string& line);

private:
  reply read_reply(std::chrono::milliseconds timeout);
  std::string read_until_newline(std::chrono::steady_clock::time_point deadline);
  void fill(std::chrono::steady_clock::time_point deadline);

  std::string address_;
  int fd_ = -1;
  std::chrono::milliseconds reply_timeout_;
  std::string buffer_;  // received, not yet consumed
  std::string greeting_;
};

// Parses "HOST:PORT", "[V6]:PORT" or "PORT" (host 127.0.0.1). False when it is none of these.
bool parse_host_port(const std::string& text, std::string& host, std::uint16_t& port);

}  // namespace gsio::cli
