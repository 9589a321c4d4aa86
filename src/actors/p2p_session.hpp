#pragma once
// A P2P session: one socket on the node's "/p2p" namespace, where another node that dialed this
// one directly (`gsio-node --peer`) exchanges P2P envelopes (net/p2p_socketio.hpp). To the sync
// coordinator it is a link like the relay's ("inbound"): envelopes from the peer go to the
// coordinator once the peer proved its node id, and what the coordinator sends it goes out as
// `p2p_message` events.
#include <cstdint>
#include <memory>
#include <string>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "actors/socket_session.hpp"

namespace gsio::actors {

struct p2p_session_state : socket_session_state {
  static inline const char* name = "p2p-session";
  sync_coordinator_actor coordinator;
  // Sent on connect (net/p2p_socketio.hpp); the socket carries nothing to the coordinator until
  // a NodeAnnounce proves a node id for it.
  std::string challenge;
  std::string proven_id;
  std::uint32_t unproven = 0;  // messages refused before a proof; the socket is closed past a few
};

p2p_session_actor::behavior_type
p2p_session(instrumented<p2p_session_actor, p2p_session_state> self, net::socket_info info,
            std::shared_ptr<net::server> server, sync_coordinator_actor coordinator);

}  // namespace gsio::actors
