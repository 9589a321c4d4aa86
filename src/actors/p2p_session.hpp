#pragma once
// A P2P session: one socket on the node's "/p2p" namespace, where another node that dialed this
// one directly (`gsio-node --peer`) exchanges P2P envelopes (net/p2p_socketio.hpp). To the sync
// coordinator it is a link like the relay's ("inbound"): envelopes from the peer go to the
// coordinator, and what the coordinator sends it goes out as `p2p_message` events.
#include <memory>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "actors/socket_session.hpp"

namespace gsio::actors {

struct p2p_session_state : socket_session_state {
  static inline const char* name = "p2p-session";
  sync_coordinator_actor coordinator;
};

p2p_session_actor::behavior_type
p2p_session(instrumented<p2p_session_actor, p2p_session_state> self, net::socket_info info,
            std::shared_ptr<net::server> server, sync_coordinator_actor coordinator);

}  // namespace gsio::actors
