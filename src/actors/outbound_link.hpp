#pragma once
// An outbound P2P link: the node's connection to a relay (`--relay ws://...`, a relay link) or to
// another node's "/p2p" namespace (`--peer http://...`, a peer link). The dialer (net/
// p2p_dialer.hpp) speaks the transport; the link keeps the connection up, reconnecting with
// capped exponential backoff and jitter, decodes incoming P2P envelopes, drops duplicates by
// message_id and hands the rest to the sync coordinator, whose link it is.
//
// A relay link may be given several relays: it starts at one and, when a connection fails or is
// lost, moves on to the next in the list (failover), round and round with the backoff growing as
// long as none answers.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "net/p2p_dialer.hpp"
#include "net/seen_messages.hpp"

namespace gsio::actors {

struct outbound_link_options {
  // The relays (or the one peer) to dial: the first one, then the next after each failed or
  // lost connection, round the list.
  std::vector<std::string> urls;
  // How to dial; for a relay link the node sets prove_identity (actors/node.hpp).
  net::p2p_dial_options dial;
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{10000};
  // The backoff starts again from backoff_initial only after a link stayed up this long: a link
  // that is closed right after it opens (another connection taking this node id at the relay,
  // say) must not redial several times a second.
  std::chrono::milliseconds stable_after{30000};
};

struct outbound_link_state {
  outbound_link_options options;
  sync_coordinator_actor coordinator;
  // Shared with a functor that drops it when the actor terminates, whatever the reason: the
  // dialer's io thread must not outlive the actor.
  std::shared_ptr<net::p2p_dialer> dialer;
  std::size_t current = 0;       // index in options.urls of the one dialed last
  std::uint64_t generation = 0;  // of the current dial; callbacks of older ones are ignored
  bool connected = false;
  bool suspended = false;
  unsigned failures = 0;  // attempts that failed or did not stay up, for the backoff
  net::seen_messages seen{8192};
  std::string last_error;
  std::int64_t connected_since_ms = 0;
  std::uint64_t connects = 0;
  std::uint64_t failovers = 0;  // moves to another url of the list
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t malformed = 0;
  std::uint64_t dropped_offline = 0;  // messages to send while disconnected
};

struct relay_link_state : outbound_link_state {
  static inline const char* name = "relay-link";
};

struct peer_link_state : outbound_link_state {
  static inline const char* name = "peer-link";
};

outbound_link_actor::behavior_type relay_link(instrumented<outbound_link_actor, relay_link_state> self,
                                              outbound_link_options options,
                                              sync_coordinator_actor coordinator);

outbound_link_actor::behavior_type peer_link(instrumented<outbound_link_actor, peer_link_state> self,
                                             outbound_link_options options,
                                             sync_coordinator_actor coordinator);

}  // namespace gsio::actors
