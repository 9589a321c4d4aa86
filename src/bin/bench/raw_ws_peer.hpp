#pragma once
// The load generator's WebSocket client for the relay fan-out scenario: plain ws:// only, one
// io_context thread, no per-message copies. It reads whole buffers and parses frames in place
// (net/ws_frame) and writes everything queued with one gathered write; net::ws_client, which
// nodes use, validates and copies every message, and in this scenario the load generator
// receives every delivery, so its cost per message bounds what can be measured of a relay.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio { class io_context; }

namespace gsio::bench {

struct raw_ws_peer_callbacks {
  std::function<void()> on_open;
  std::function<void(const std::string& text)> on_message;
  std::function<void(std::string reason)> on_close;        // once, after on_open or instead of it
};

class raw_ws_peer {
public:
  // `url`: ws://host:port/path. `bearer_token`: sent as Authorization when not empty.
  raw_ws_peer(boost::asio::io_context& io, std::string url, std::string bearer_token,
              raw_ws_peer_callbacks callbacks);
  ~raw_ws_peer();
  raw_ws_peer(const raw_ws_peer&) = delete;
  raw_ws_peer& operator=(const raw_ws_peer&) = delete;

  void start();
  // Queues one text message. False once the peer is closing or closed.
  bool send(std::string_view text);
  // Sends a close frame after what is queued and closes the socket when the relay answers.
  void close();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::bench
