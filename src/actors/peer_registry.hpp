#pragma once
// The peer registry: every node this node knows, with last-seen time, tip and how it is linked.
// The sync coordinator reports every node it hears from; nodes silent for `expiry` are forgotten.
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"

namespace gsio::actors {


struct peer_registry_state {
  static inline const char* name = "peer-registry";
  // Nodes only heard of through other nodes (NodeListResponse) are remembered while fewer than
  // this many nodes are known, so that a peer cannot fill the registry with made-up ids; nodes
  // heard from directly are always remembered.
  static constexpr std::size_t max_heard_of = 1024;
  node_record self_record;
  std::unordered_map<std::string, node_record> peers;  // by node id, never the node itself
  ledger_actor ledger;
  std::uint64_t queries = 0;
  std::uint64_t expired = 0;
  std::uint64_t heard_of_ignored = 0;  // beyond max_heard_of
  std::chrono::milliseconds expiry{30000};
};

peer_registry_actor::behavior_type
peer_registry(instrumented<peer_registry_actor, peer_registry_state> self, ledger_actor ledger,
              std::string node_id, std::string advertised_address,
              std::chrono::milliseconds expiry = std::chrono::milliseconds{30000});

}  // namespace gsio::actors
