#pragma once
// One actor per Socket.IO socket on "/": runs the client API (docs/PROTOCOL.md §2) for it, with
// its limits. Replies go straight to the Socket.IO server, which is safe to call from any thread.
// Sockets on "/p2p" get a P2P session instead (p2p_session.hpp).
#include <cstdint>
#include <memory>
#include <string>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "actors/socket_session.hpp"
#include "net/sio_server.hpp"

namespace gsio::actors {


struct session_limits {
  std::uint32_t max_adds_in_flight = 256;   // add_ledger_entry requests awaiting the ledger
  // Other requests awaiting an answer (get_ledger, get_entry, get_known_nodes, node_info,
  // verify_ledger): each can cost the ledger a page of up to max_unpaged_entries, so one client
  // must not queue thousands of them.
  std::uint32_t max_requests_in_flight = 16;
  std::uint64_t max_unpaged_entries = 10'000;  // get_ledger without {limit}
  std::uint64_t max_page_entries = 1'000;      // get_ledger with {limit}
  // Entry JSON in one get_ledger answer (at least one entry): a page must reach a client well
  // within what the transport lets a reader fall behind (max_buffered_bytes, 4x in bursts), and
  // 10,000 entries of 64 KiB (650 MB, copied several times on the way out) must never be built.
  std::uint64_t max_page_bytes = 2 * 1024 * 1024;
  // find_entries: matches in one answer (default 50), and entries the ledger looks at for one
  // answer (the client goes on from where it stopped), so that a search of a long chain never
  // keeps the ledger from its adds for more than a few milliseconds at a time.
  std::uint64_t max_search_results = 200;
  std::uint64_t max_search_scan = 20'000;
  std::size_t max_search_text = 256;  // bytes of a nickname or text to look for
};

// What a client of a private network must prove (DESIGN §10, docs/PROTOCOL.md §8, Clients). The
// session sends a fresh challenge on connect; `authenticate` with a member's key and signature
// over it admits the session with that key's role.
struct client_access {
  std::string network_id;  // empty: an open network, nothing to prove
  std::string network_name;
  std::string node_id;     // this node's: a proof is bound to it
  bool members_only_reads = false;  // the charter's read policy is "members"
};

struct client_session_state : socket_session_state {
  static inline const char* name = "client-session";
  ledger_actor ledger;
  peer_registry_actor registry;
  sync_coordinator_actor coordinator;  // for node_info's sync statistics
  session_limits limits;
  client_access access;
  std::string challenge;    // this connection's, sent on connect (private networks)
  std::string key;          // proved by `authenticate`; empty until then
  std::string role;         // the key's role when it was proved
  bool authenticating = false;  // a proof is being checked against the membership
  std::uint32_t failed_proofs = 0;
  std::uint32_t adds_in_flight = 0;
  std::uint32_t requests_in_flight = 0;
};

client_session_actor::behavior_type
client_session(instrumented<client_session_actor, client_session_state> self,
               net::socket_info info, std::shared_ptr<net::server> server, ledger_actor ledger,
               peer_registry_actor registry, sync_coordinator_actor coordinator,
               session_limits limits, client_access access);

}  // namespace gsio::actors
