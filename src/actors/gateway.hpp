#pragma once
// The gateway owns the Socket.IO/HTTP server and its io_context threads. It turns Socket.IO
// connects, events and disconnects into client-session actors and messages, serves the plain HTTP
// routes (/health, /health/live, /health/ready, /metrics, the web UI), and pushes every ledger
// change to all clients. For /metrics it refreshes a snapshot of the other actors' counters every
// second, so the HTTP handler (on an io thread) never waits for an actor.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/client_session.hpp"
#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "net/host_check.hpp"

namespace gsio::actors {

struct gateway_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  unsigned io_threads = 1;
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::chrono::milliseconds connect_timeout{45000};
  std::size_t max_payload = 1'000'000;
  std::size_t max_buffered_bytes = 4 * 1024 * 1024;
  // A ledger_reorg whose added entries exceed this is pushed as `partial` (no entries).
  std::size_t max_reorg_push_bytes = 1024 * 1024;
  std::size_t max_connections = 10'000;
  std::string cors_origin;  // net::server_options::cors_origin: "" admits same-origin pages only
  net::host_policy allowed_hosts;  // net::server_options::allowed_hosts
  std::string web_dir;   // static files served at "/", empty for none
  // The network token: when set, a socket joins "/p2p" only with {"token": it} as its auth
  // payload (other nodes' links), so that only the network's nodes speak P2P to this one.
  std::string p2p_token;
  // The private network this node serves (DESIGN §10; access.network_id empty: an open one):
  // what its clients must prove, and its name for /health.
  client_access access;
  std::string network_name;
  session_limits session;
  // Stored entries whose signatures the ledger verifies in the background after start (0: all
  // were verified before it started): what /health says until the ledger's first statistics.
  std::uint64_t unverified_at_start = 0;
};


struct gateway_frontend;  // io_context, server, threads and the session table (gateway.cpp)

struct gateway_state {
  static inline const char* name = "gateway";
  std::shared_ptr<gateway_frontend> frontend;
  std::uint64_t broadcasts = 0;
  std::uint64_t reorgs = 0;
  unsigned metrics_replies_pending = 0;  // inspect requests of the current metrics refresh
};

// Binds and starts listening before returning its behavior; a bind failure terminates the actor
// with an error that names the address.
gateway_actor::behavior_type gateway(instrumented<gateway_actor, gateway_state> self,
                                     gateway_options options, ledger_actor ledger,
                                     peer_registry_actor registry,
                                     sync_coordinator_actor coordinator, tip_info initial_tip);

}  // namespace gsio::actors
