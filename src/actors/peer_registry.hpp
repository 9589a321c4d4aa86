#pragma once
// The peer registry: every node this node knows, with last-seen time, tip and how it is linked.
// Until the network layer feeds it announcements it knows only the node itself.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/ledger_actor.hpp"
#include "actors/messages.hpp"

namespace gsio::actors {

using peer_registry_actor = caf::typed_actor<
  // Every known node, this one first, with its current tip.
  caf::replies_to<peers_atom>::with<std::vector<node_record>>,
  caf::replies_to<inspect_atom>::with<std::string>>;

struct peer_registry_state {
  static inline const char* name = "peer-registry";
  node_record self_record;
  std::unordered_map<std::string, node_record> peers;  // by node id, never the node itself
  ledger_actor ledger;
  std::uint64_t queries = 0;
};

peer_registry_actor::behavior_type
peer_registry(peer_registry_actor::stateful_pointer<peer_registry_state> self, ledger_actor ledger,
              std::string node_id, std::string advertised_address);

}  // namespace gsio::actors
