#pragma once
// An outbound P2P link: the node's connection to the relay (a raw WebSocket, `--relay ws://...`)
// or to another node's "/p2p" Socket.IO namespace (`--peer http://...`). Either way it keeps the
// connection up, reconnecting with capped exponential backoff and jitter, decodes incoming P2P
// envelopes, drops duplicates by message_id and hands the rest to the sync coordinator, whose
// link it is. The connection itself runs on the link's own io_context thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "net/seen_messages.hpp"

namespace gsio::actors {

enum class link_transport {
  relay,  // a raw WebSocket to gsio-relay: one text frame per envelope
  peer,   // Socket.IO to a node's "/p2p" namespace: one `p2p_message` event per envelope
};

struct relay_link_options {
  link_transport transport = link_transport::relay;
  std::string url;    // ws:// or wss://host:port for the relay, http:// or https:// for a peer
  std::string tls_ca_file;  // extra CA certificates (PEM) to trust for wss:// and https://
  // The shared network token: to a relay as "Authorization: Bearer", to a peer as the /p2p auth
  // payload {"token": ...}.
  std::string token;
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{10000};
  // The backoff starts again from backoff_initial only after a link stayed up this long: a link
  // that is closed right after it opens (another connection taking this node id at the relay,
  // say) must not redial several times a second.
  std::chrono::milliseconds stable_after{30000};
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  std::size_t max_queue_bytes = 16 * 1024 * 1024;
  // Signs a relay's challenge (net/announce_proof.hpp) with the node key: the hex signature of
  // net::announce_proof_digest(challenge, node id). Unset: no proof is sent.
  std::function<std::string(const std::string& challenge)> prove_identity;
};


struct link_connection;  // io_context, thread and the current client (relay_link.cpp)

struct relay_link_state {
  static inline const char* name = "relay-link";
  relay_link_options options;
  sync_coordinator_actor coordinator;
  std::shared_ptr<link_connection> connection;
  std::uint64_t generation = 0;
  bool connected = false;
  bool suspended = false;
  unsigned failures = 0;  // attempts that failed or did not stay up, for the backoff
  net::seen_messages seen{8192};
  std::string last_error;
  std::int64_t connected_since_ms = 0;
  std::uint64_t connects = 0;
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t malformed = 0;
  std::uint64_t dropped_offline = 0;  // messages to send while disconnected
};

relay_link_actor::behavior_type relay_link(instrumented<relay_link_actor, relay_link_state> self,
                                           relay_link_options options,
                                           sync_coordinator_actor coordinator);

}  // namespace gsio::actors
