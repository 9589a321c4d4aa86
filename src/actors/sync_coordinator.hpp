#pragma once
// The sync coordinator speaks the P2P protocol (docs/PROTOCOL.md §7) over every link the node has
// (the relay link, direct peer links, inbound /p2p sockets): it announces this node's tip and new
// entries, answers other nodes' requests from the ledger, and decides what to fetch and from whom
// with a ledger::sync_planner: only what is missing, from the common ancestor, in bounded pages.
// After a reorg it has the ledger re-append this node's orphaned entries once no pull is running.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "ledger/sync.hpp"
#include "ledger/validation.hpp"
#include "net/seen_messages.hpp"

namespace gsio::actors {



struct sync_options {
  std::string node_id;
  std::string address;  // advertised in NodeAnnounce
  std::string network_id;  // the private network's id, on every message; empty: open network
  // The data of the entry that admitted this node (see p2p::node_announce::membership).
  std::string membership_proof;
  std::chrono::milliseconds announce_interval{2000};
  std::uint64_t page_limit = 500;
  ledger::sync_planner::options planner;
  ledger::validation_limits limits;  // the ledger's, for checking pages before it merges them
};

struct sync_coordinator_state {
  static inline const char* name = "sync-coordinator";

  struct link {
    p2p_link_actor handle;
    std::string kind;
    std::string where;  // the relay or peer url, or an inbound socket's remote address
    // A direct or inbound link carries one node: the first sender heard on it (an inbound
    // socket's, proven by its P2P session). Other sender ids on it are refused, as the relay
    // refuses them on its connections.
    std::string peer_id;
  };

  // The next page of a pull, asked for once fewer pages are in process (see on_sync_response).
  struct deferred_page {
    std::string peer;
    std::uint64_t cursor = 0;
    std::size_t entries = 0;  // in the page that said there is more
  };

  sync_options options;
  ledger_actor ledger;
  peer_registry_actor registry;
  entry_verifier_actor verifier;  // spawned and linked by the coordinator
  ledger::sync_planner planner;
  std::size_t pages_in_process = 0;  // received and not merged yet
  std::optional<deferred_page> deferred;
  net::seen_messages seen;
  std::vector<link> links;
  std::unordered_map<std::string, p2p_link_actor> route;  // node id -> link it was last heard on
  tip_info tip;
  bool reappend_wanted = true;  // also at start: orphans may predate a restart
  std::int64_t last_parent_request_ms = 0;

  // A private network's nodes that asked to read the chain or announced themselves: the
  // ledger's last verdict on each (ledger::check_node_reader) and the admission it was given.
  struct reader {
    std::string admission;        // the membership of the node's latest NodeAnnounce
    bool admitted = false;
    std::int64_t checked_ms = 0;  // steady clock; 0: not checked with this admission
    bool checking = false;
    std::vector<std::function<void()>> waiting;  // requests held for the verdict
  };
  std::unordered_map<std::string, reader> readers;

  // Counters for inspect and the tests.
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t not_for_us = 0;
  std::uint64_t malformed = 0;
  std::uint64_t spoofed = 0;
  // Nodes whose last NodeAnnounce named another protocol (node id -> that version, 0 if it was
  // not a number; at most max_routes), and the messages dropped for it.
  std::unordered_map<std::string, std::uint64_t> other_protocol;
  std::uint64_t other_protocol_dropped = 0;
  std::uint64_t other_network_dropped = 0;  // messages of another network (or of an open one)
  std::uint64_t not_member_dropped = 0;     // requests of nodes that may not read the chain
  std::uint64_t entries_received_sync = 0;
  std::uint64_t entries_received_announce = 0;
  std::uint64_t entries_sent_sync = 0;
  std::uint64_t pages_deferred = 0;  // pages asked for only after an earlier one was merged
  std::uint64_t pages_dropped = 0;   // sync pages nobody asked for, beyond the pages in process
  std::uint64_t entries_rejected = 0;
  // Merges of announced or requested entries the ledger has not answered yet, and the messages
  // dropped for being beyond max_merges_in_flight (their entries come with the next pull).
  std::size_t merges_in_flight = 0;
  std::uint64_t merges_dropped = 0;
  // Requests (EntryRequest, LedgerSyncRequest) per peer that the ledger is answering now, and
  // the requests dropped for being beyond max_requests_per_peer.
  std::unordered_map<std::string, unsigned> answering;
  std::uint64_t requests_dropped = 0;
  std::unordered_map<std::string, std::uint64_t> in_by_type;
  std::unordered_map<std::string, std::uint64_t> out_by_type;
};

sync_coordinator_actor::behavior_type
sync_coordinator(instrumented<sync_coordinator_actor, sync_coordinator_state> self,
                 sync_options options, ledger_actor ledger, peer_registry_actor registry);

}  // namespace gsio::actors
