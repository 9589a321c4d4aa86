#pragma once
// The typed interface of every actor of a node, in one place: what each one takes and answers.
// An actor's header adds its options, its state and the function that spawns its behavior;
// code that only talks to an actor includes this header, not the actor's.
#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include "actors/messages.hpp"
#include "actors/stats.hpp"

namespace gsio::actors {

// Receives what the ledger publishes: entries that joined the canonical chain by extending it
// (JSON, chain order) with the tip after them, and branch switches.
using ledger_listener_actor = caf::typed_actor<
  caf::reacts_to<appended_atom, std::vector<std::string>, tip_info>,
  caf::reacts_to<reorg_atom, reorg_event>>;

using ledger_actor = caf::typed_actor<
  // Sign and durably append local data (canonical JSON); replies once it is on disk.
  caf::replies_to<add_atom, std::string>::with<add_result>,
  // A page of the canonical chain: from, limit, and the most entry JSON it may hold in bytes.
  caf::replies_to<get_atom, std::uint64_t, std::uint64_t, std::uint64_t>::with<entries_page>,
  // One entry by id, from the canonical chain ("" when unknown).
  caf::replies_to<get_atom, entry_atom, std::string>::with<std::string>,
  // A history search on the canonical chain, newest first.
  caf::replies_to<find_atom, history_query>::with<history_page>,
  caf::replies_to<tip_atom>::with<tip_info>,
  // A private network's members at the tip and the changes on the canonical chain.
  caf::replies_to<get_atom, members_atom>::with<members_view>,
  // The role of a key at the tip ("" when it is not a member, or the network is open).
  caf::replies_to<get_atom, role_atom, std::string>::with<std::string>,
  // Whether node `key`, showing admission `proof` (p2p::node_announce::membership), may read the
  // chain over P2P (ledger::check_node_reader at the tip): "" when it may, else why not.
  caf::replies_to<check_atom, members_atom, std::string, std::string>::with<std::string>,
  // A client session refused a request for want of access: counted by reason with the ledger's.
  caf::reacts_to<refused_atom, std::string>,
  // Re-verifies the whole canonical chain in memory; replies "" or the first problem. Done in
  // steps between other messages, and shared by every request that arrives meanwhile.
  caf::replies_to<verify_atom>::with<std::string>,
  caf::reacts_to<verify_step_atom>,
  // From the background check of the entries loaded at start: how many are verified, or
  // (0, entry id, reason) for the first bad one.
  caf::reacts_to<verified_atom, std::uint64_t, std::string, std::string>,
  caf::reacts_to<subscribe_atom, ledger_listener_actor>,
  // Validates, attaches and durably stores entries from peers (JSON); publishes what changed.
  caf::replies_to<merge_atom, std::vector<std::string>>::with<merge_result>,
  // The same for entries an entry_verifier checked: only attaches and stores them.
  caf::replies_to<merge_atom, checked_page>::with<merge_result>,
  // Answers a peer's LedgerSyncRequest.
  caf::replies_to<sync_atom, sync_query>::with<sync_answer>,
  // This node's locator (ledger::chain_tree::locator) for its own LedgerSyncRequest.
  caf::replies_to<get_atom, sync_atom>::with<std::vector<std::string>>,
  // Parent hashes that held entries wait for.
  caf::replies_to<get_atom, missing_atom>::with<std::vector<std::string>>,
  // Entries (JSON) with the given hashes, on any branch; unknown hashes are skipped.
  caf::replies_to<get_atom, hashes_atom, std::vector<std::string>>::with<std::vector<std::string>>,
  // Re-appends this node's orphaned entries on the canonical tip; replies with them (JSON).
  caf::replies_to<reappend_atom>::with<std::vector<std::string>>,
  // Where a peer's tip hash is in the tree: a ledger::sync_planner::tip_relation.
  caf::replies_to<relate_atom, std::string>::with<std::uint8_t>,
  // For the debug console: the side branches, and entries off the chain (at most `limit` each).
  // (The `limit` longest side branches, and how many there are in all.)
  caf::replies_to<get_atom, forks_atom, std::uint64_t>::with<std::vector<branch_info>, std::uint64_t>,
  caf::replies_to<get_atom, orphans_atom, std::uint64_t>::with<orphan_report>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>,
  caf::replies_to<stats_atom>::with<ledger_stats>,
  // Makes what is pending and replies with the tip once nothing made is waiting for the disk (adds
  // held back by the id clock stay pending): for an orderly shutdown.
  caf::replies_to<drain_atom>::with<tip_info>,
  caf::reacts_to<flush_atom>,
  caf::reacts_to<merge_flush_atom>,
  // From the store writer: batches, entries, and "" or the error that stopped it.
  caf::reacts_to<committed_atom, std::uint64_t, std::uint64_t, std::string>>;

using peer_registry_actor = caf::typed_actor<
  // Every known node, this one first, with its current tip.
  caf::replies_to<peers_atom>::with<std::vector<node_record>>,
  // A node was heard from (or, with last_seen_ms 0, heard of through another node).
  caf::reacts_to<seen_atom, node_record>,
  caf::reacts_to<tick_atom>,
  caf::reacts_to<advertise_atom, std::string>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>>;

// Anything that can carry P2P envelopes to other nodes: it sends the encoded envelope as is.
using p2p_link_actor = caf::typed_actor<caf::reacts_to<send_atom, std::string>>;

using entry_verifier_actor = caf::typed_actor<
  // Parses and validates entries (JSON) from a peer; the ledger takes the result as a merge.
  caf::replies_to<check_atom, std::vector<std::string>>::with<checked_page>>;

using sync_coordinator_actor = ledger_listener_actor::extend<
  // A P2P message arrived on `link`.
  caf::reacts_to<p2p_atom, p2p_envelope, p2p_link_actor>,
  // A link came up: its kind ("relay", "direct" for links this node dialed, "inbound" for /p2p
  // sockets), where it leads (the relay or peer url, or the remote address of an
  // inbound socket), and the relay_proof its first NodeAnnounce carries ("": none).
  caf::reacts_to<link_up_atom, p2p_link_actor, std::string, std::string, std::string>,
  caf::reacts_to<link_down_atom, p2p_link_actor>,
  caf::reacts_to<tick_atom>,
  // The address to advertise, once the listening port is known.
  caf::reacts_to<advertise_atom, std::string>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>,
  caf::replies_to<stats_atom>::with<sync_stats>>;

// One socket of the node's Socket.IO server: the gateway hands it the socket's events. A client
// session serves "/" (the client API), a P2P session "/p2p" (docs/PROTOCOL.md §7, Direct peering).
using socket_session_actor = caf::typed_actor<
  caf::reacts_to<event_atom, client_event>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>,
  caf::replies_to<stats_atom>::with<session_stats>>;
using client_session_actor = socket_session_actor;
// A /p2p socket is a link of the sync coordinator too: it sends what the coordinator sends it.
using p2p_session_actor = socket_session_actor::extend_with<p2p_link_actor>;

using gateway_actor = ledger_listener_actor::extend<
  // The bound port (useful with port 0).
  caf::replies_to<get_atom>::with<std::uint16_t>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>,
  caf::replies_to<stats_atom>::with<gateway_stats>,
  // The session actor of every connected Socket.IO socket, "/" and "/p2p" alike.
  caf::replies_to<sessions_atom>::with<std::vector<socket_session_actor>>,
  // Refreshes the /metrics snapshot; the gateway sends it to itself.
  caf::reacts_to<tick_atom>>;

// The generation counter in the internal messages ties a callback to the connection attempt it
// belongs to, so a late callback of an old connection cannot disturb a newer one.
using outbound_link_actor = p2p_link_actor::extend<
  caf::reacts_to<link_up_atom, std::uint64_t, std::string>,    // connected, with a relay_proof
  caf::reacts_to<p2p_atom, std::uint64_t, std::string>,        // a frame arrived
  caf::reacts_to<link_down_atom, std::uint64_t, std::string>,  // closed, with the reason
  caf::reacts_to<tick_atom, std::uint64_t>,                    // time to dial again
  // Operator controls (gsio-node takes SIGUSR1 / SIGUSR2): drop the link and stay offline, or
  // dial again. Used to cut and heal one node's link in a test cluster.
  caf::reacts_to<suspend_atom>,
  caf::reacts_to<resume_atom>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>,
  caf::replies_to<stats_atom>::with<outbound_link_stats>>;

using console_actor = caf::typed_actor<
  // The bound admin port.
  caf::replies_to<get_atom>::with<std::uint16_t>,
  // A command line from admin connection `id` (sent by the admin server's io thread).
  caf::reacts_to<console_atom, std::uint64_t, std::string>,
  caf::replies_to<inspect_atom>::with<std::string>,
  caf::replies_to<vitals_atom>::with<actor_vitals>>;

}  // namespace gsio::actors
