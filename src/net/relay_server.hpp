#pragma once
// gsio-relay: the WebSocket relay that gsio nodes dial out to (DESIGN.md §6, docs/PROTOCOL.md).
//
// Every text frame a node sends is one P2P envelope. The relay learns a connection's node id from
// its first NodeAnnounce, forwards broadcasts (empty recipient_id) to every other announced
// connection and directed messages only to their recipient, never echoes to the sender, and drops
// messages whose sender_id is not the connection's own. It looks at the envelope only, never at the
// payload, and keeps no state that would need to survive a restart.
//
// Memory is bounded per connection: an inbound frame is at most max_frame_bytes, and a connection
// whose outbound queue would pass max_queue_bytes is disconnected ("slow_reader") instead of
// buffering more. Plain HTTP GET /health and /stats report liveness and counters. With
// relay_options::nats, relays of one network forward to each other through NATS.
//
// Beast and Asio stay in relay_server.cpp; this header is cheap to include.
//
// Threading: the server runs on the io_context it is given; any number of threads may run it.
// Every public member function is thread-safe.
#include "net/host_check.hpp"
#include "net/nats_bridge.hpp"

#include <chrono>
#include <functional>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio { class io_context; }

namespace gsio::net {

struct relay_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8787;                     // 0 picks a free port; see relay_server::port()
  std::string token;                             // non-empty: upgrades must present it
  std::size_t max_frame_bytes = 4 * 1024 * 1024; // larger inbound frames close the connection
  std::size_t max_queue_bytes = 8 * 1024 * 1024; // outbound bytes queued per connection
  std::size_t max_connections = 10'000;          // WebSocket connections; more get HTTP 503
  // A connection that sends nothing (not even a pong to our keep-alive ping) for this long is
  // considered dead and closed ("timeout"). Pings go out after half of it without traffic.
  std::chrono::milliseconds idle_timeout{20'000};
  // Time a client has to finish an HTTP request (including the upgrade request) and the
  // WebSocket handshakes, and a closing connection has to finish the close handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  // A connection joins only with a NodeAnnounce that proves its node id (net/announce_proof.hpp).
  // Without it an unproven announce is still accepted, but never for an id a proven connection
  // holds.
  bool require_proof = false;
  // The private networks this relay serves (gsio-relay --network): when set, a connection joins
  // only with a proven NodeAnnounce whose network_id and payload.membership (the data of the entry
  // that admitted the node, "" when the charter did) this function accepts. It answers "" or why
  // not; the membership rules stay outside the net layer. Unset: any network_id, no membership.
  std::function<std::string(const std::string& network_id, const std::string& node_id,
                            const std::string& membership)>
    admit_member;
  // Their ids, sent in every upgrade response (announce_proof.hpp, networks_header).
  std::vector<std::string> private_networks;
  // The Host names /stats and /metrics answer to (they list the network's node ids): a web page
  // must not read them through DNS rebinding. /health and WebSocket upgrades are not checked.
  host_policy allowed_hosts;
  // Several relays, one network (DESIGN §11): with NATS, broadcasts also go to the other relays
  // on the same subjects, and directed messages for a node not connected here go to the relay
  // that has it (net/nats_bridge.hpp). What arrives from NATS is checked like a node's frame
  // (a valid envelope within max_frame_bytes) and delivered to the nodes here, never to its sender.
  std::optional<nats_options> nats;
};

class relay_server {
public:
  relay_server(boost::asio::io_context& io, relay_options options);
  ~relay_server();  // calls stop()
  relay_server(const relay_server&) = delete;
  relay_server& operator=(const relay_server&) = delete;

  // Binds and starts accepting. Call once. Throws std::runtime_error (naming the address) when the
  // address cannot be resolved or bound.
  void start();

  // The bound port (the chosen one when options.port was 0); 0 before start().
  std::uint16_t port() const;

  // Stops accepting and closes every connection (WebSocket close code 1001 "going away").
  // Idempotent. The io_context runs out of work once the closes complete; a peer that does not
  // answer the close handshake is cut off after handshake_timeout.
  void stop();

  // The bodies served at GET /health and GET /stats (JSON objects).
  std::string health_json() const;
  std::string stats_json() const;

  struct impl;  // public so the session classes in the .cpp can name it

private:
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
