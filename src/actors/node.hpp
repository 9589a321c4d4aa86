#pragma once
// The actor graph of one gsio-node: which actors it spawns, wired to which, and the order they
// stop in. gsio-node's main parses options and runs one; the actor tests boot the same graph.
//
// Start: ledger, peer registry, sync coordinator, gateway (the client port), the links (relay
// and direct peers), the debug console. Stop: the console and the links, then the gateway (no
// new requests; it closes every session), the coordinator, then the ledger commits what it
// already accepted (drain) and exits last, after the registry.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/console.hpp"
#include "actors/gateway.hpp"
#include "actors/ledger_actor.hpp"
#include "actors/outbound_link.hpp"
#include "actors/peer_registry.hpp"
#include "actors/sync_coordinator.hpp"

namespace caf { class actor_system; }

namespace gsio::actors {

struct node_config {
  gateway_options gateway;
  // node_id and address are filled in by the node (address: `advertise`, else the gateway's URL).
  sync_options sync;
  std::string advertise;
  std::chrono::milliseconds peer_expiry{15'000};
  // Links to relays (`--relay`) and to other nodes' /p2p (`--peer`). Relay links prove the
  // node's id with a copy of its key (net/announce_proof.hpp): the node sets prove_identity.
  std::vector<outbound_link_options> relay_links;
  std::vector<outbound_link_options> peer_links;
  std::optional<console_options> console;
};

class node {
public:
  // Spawns the graph around an opened ledger (open_ledger).
  node(caf::actor_system& sys, std::shared_ptr<ledger_resources> ledger, node_config config);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Waits for the gateway, and the console if there is one, to listen. The gateway's port, or
  // nullopt with `error` saying what did not start. With an advertised address left to the
  // gateway and port 0, the address is known only now and is handed to the coordinator and the
  // registry here.
  std::optional<std::uint16_t> wait_ready(std::string& error);

  // SIGUSR1 / SIGUSR2: the relay and peer links close and stay closed, or dial again.
  void suspend_links();
  void resume_links();

  // True once the ledger or the gateway has stopped on its own (a storage failure, a listener
  // that died): the node cannot go on.
  bool core_actor_died() const { return died_->load(); }

  // Stops the graph in order (see the top of this file) and returns the ledger's tip once what it
  // had accepted is on disk; nullopt if the ledger did not answer. The store is closed when it
  // returns. Idempotent.
  std::optional<tip_info> stop();

  const std::string& node_id() const { return node_id_; }
  ledger_actor ledger() const { return ledger_; }
  gateway_actor gateway() const { return gateway_; }
  sync_coordinator_actor coordinator() const { return coordinator_; }
  peer_registry_actor registry() const { return registry_; }
  const std::vector<outbound_link_actor>& links() const { return links_; }

private:
  caf::actor_system& sys_;
  node_config config_;
  std::string node_id_;
  // Set by functors attached to the ledger and the gateway, which may run during ~actor_system:
  // shared with them, so that it outlives whichever ends last.
  std::shared_ptr<std::atomic<bool>> died_ = std::make_shared<std::atomic<bool>>(false);
  ledger_actor ledger_;
  peer_registry_actor registry_;
  sync_coordinator_actor coordinator_;
  gateway_actor gateway_;
  std::vector<outbound_link_actor> links_;
  console_actor console_;
  bool stopped_ = false;
};

}  // namespace gsio::actors
