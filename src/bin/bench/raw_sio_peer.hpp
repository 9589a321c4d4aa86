#pragma once
// The ingest load generator's Socket.IO client: Engine.IO v4 / Socket.IO v5 on the default
// namespace over a raw_ws_peer, WebSocket from the start. It answers pings, matches acks by id
// and reports events by name without parsing their arguments (it hands over their text): every entry is pushed to every
// client, so in the ingest scenario the load generator receives 33 messages per entry and a
// client that parses each of them (net::sio_client) would bound the figure instead of the server.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio { class io_context; }

namespace gsio::bench {

struct raw_sio_callbacks {
  std::function<void()> on_connect;                     // the namespace is joined
  // An event from the server, by name, with the packet's argument array text (["name", ...]),
  // which the callback parses only for the few events it needs to read.
  std::function<void(std::string_view name, std::string_view array)> on_event;
  std::function<void(std::string reason)> on_close;
};

class raw_sio_peer {
public:
  // `url`: http://host:port of the server.
  raw_sio_peer(boost::asio::io_context& io, const std::string& url, raw_sio_callbacks callbacks);
  ~raw_sio_peer();
  raw_sio_peer(const raw_sio_peer&) = delete;
  raw_sio_peer& operator=(const raw_sio_peer&) = delete;

  void start();
  // Emits `event` with `args_json` (the JSON texts of the arguments, comma-separated) and an ack
  // id; `on_ack` gets the ack's JSON array text. False when not connected.
  bool emit(std::string_view event, std::string_view args_json,
            std::function<void(const std::string& ack_array)> on_ack);
  void close();

private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::bench
