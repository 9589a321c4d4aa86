#pragma once
// Atoms and message structs exchanged between the node's actors. Entries cross actor boundaries as
// their canonical JSON text: that is what clients, peers and the store all want, and it keeps
// messages small, copyable and serializable. The one exception, checked_page, carries entries the
// entry verifier already parsed to the ledger.
#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include "ledger/entry.hpp"
#include "ledger/entry_query.hpp"

namespace caf { class actor_system_config; }

namespace gsio::actors {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using tip_atom = caf::atom_constant<caf::atom("tip")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using reorg_atom = caf::atom_constant<caf::atom("reorg")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using entry_atom = caf::atom_constant<caf::atom("entry")>;
using find_atom = caf::atom_constant<caf::atom("find")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using verify_step_atom = caf::atom_constant<caf::atom("verifystep")>;
using verified_atom = caf::atom_constant<caf::atom("verified")>;
// Node-to-node traffic.
using merge_atom = caf::atom_constant<caf::atom("merge")>;
using merge_flush_atom = caf::atom_constant<caf::atom("mergeflush")>;
using check_atom = caf::atom_constant<caf::atom("check")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using missing_atom = caf::atom_constant<caf::atom("missing")>;
using reappend_atom = caf::atom_constant<caf::atom("reappend")>;
using relate_atom = caf::atom_constant<caf::atom("relate")>;
using p2p_atom = caf::atom_constant<caf::atom("p2p")>;
using send_atom = caf::atom_constant<caf::atom("send")>;
using link_up_atom = caf::atom_constant<caf::atom("link_up")>;
using link_down_atom = caf::atom_constant<caf::atom("link_down")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using seen_atom = caf::atom_constant<caf::atom("seen")>;
using hashes_atom = caf::atom_constant<caf::atom("hashes")>;
using advertise_atom = caf::atom_constant<caf::atom("advertise")>;
using suspend_atom = caf::atom_constant<caf::atom("suspend")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
// Debug console.
using console_atom = caf::atom_constant<caf::atom("console")>;
using forks_atom = caf::atom_constant<caf::atom("forks")>;
using orphans_atom = caf::atom_constant<caf::atom("orphans")>;
using sessions_atom = caf::atom_constant<caf::atom("sessions")>;
// Typed statistics (actors/stats.hpp), for /metrics and the console.
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using vitals_atom = caf::atom_constant<caf::atom("vitals")>;
using members_atom = caf::atom_constant<caf::atom("members")>;
using role_atom = caf::atom_constant<caf::atom("role")>;
using refused_atom = caf::atom_constant<caf::atom("refused")>;

// Outcome of an append request: exactly one of the two is non-empty.
struct add_result {
  std::string entry_json;
  std::string error;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, add_result& x) {
  return f(caf::meta::type_name("gsio::add_result"), x.entry_json, x.error);
}

struct tip_info {
  std::string node_id;
  std::uint64_t height = 0;
  std::string tip_hash;
  std::uint64_t entries = 0;  // attached entries on every branch
  std::uint64_t forks = 0;
  std::uint64_t held = 0;     // entries waiting for an unknown parent
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tip_info& x) {
  return f(caf::meta::type_name("gsio::tip_info"), x.node_id, x.height, x.tip_hash, x.entries,
           x.forks, x.held);
}

// A page of the canonical chain.
struct entries_page {
  std::uint64_t from = 0;
  std::uint64_t height = 0;                 // chain height when the page was cut
  std::vector<std::string> entries;         // canonical JSON of each entry, chain order
  // False when the entries asked for would have passed the asker's byte limit: `entries` then
  // holds only those below it (at least one), and the asker should ask for that many.
  bool complete = true;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entries_page& x) {
  return f(caf::meta::type_name("gsio::entries_page"), x.from, x.height, x.entries, x.complete);
}


// A history search (client API find_entries): the canonical entries below height `before` that
// match `query`, newest first.
struct history_query {
  ledger::entry_query query;
  std::uint64_t before = 0;     // exclusive; above the height means from the tip
  std::uint64_t limit = 50;     // matches to return at most
  std::uint64_t max_scan = 0;   // entries to look at at most (the ledger answers between them)
  std::uint64_t max_bytes = 0;  // entry JSON to return at most (at least one match)
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_query& x) {
  return f(caf::meta::type_name("gsio::history_query"), x.query.author, x.query.nickname,
           x.query.text, x.query.from_us, x.query.to_us, x.before, x.limit, x.max_scan, x.max_bytes);
}

struct history_page {
  std::vector<std::string> entries;   // canonical JSON, newest first
  std::vector<std::uint64_t> heights;  // each entry's index on the chain
  // Where the search stopped: ask again with before = next to go on; 0 when it reached the
  // first entry.
  std::uint64_t next = 0;
  std::uint64_t scanned = 0;
  std::uint64_t height = 0;  // chain height when the search ran
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("gsio::history_page"), x.entries, x.heights, x.next, x.scanned,
           x.height);
}

// The canonical chain switched branches.
struct reorg_event {
  std::uint64_t fork_height = 0;            // entries below this index are unchanged
  std::vector<std::string> removed_ids;     // ids that left the canonical chain
  std::vector<std::string> added;           // entries (JSON) that joined it, chain order
  std::string tip_hash;
  std::uint64_t height = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reorg_event& x) {
  return f(caf::meta::type_name("gsio::reorg_event"), x.fork_height, x.removed_ids, x.added,
           x.tip_hash, x.height);
}

// One Socket.IO event from a client, as the gateway hands it to the client's session.
struct client_event {
  std::string name;
  std::string args_json;                    // JSON array of the arguments after the name
  std::vector<std::string> attachments;     // binary arguments, referenced by placeholders
  bool wants_ack = false;
  std::uint64_t ack_id = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_event& x) {
  return f(caf::meta::type_name("gsio::client_event"), x.name, x.args_json, x.attachments,
           x.wants_ack, x.ack_id);
}

// What the node knows about one node of the network (itself included).
struct node_record {
  std::string node_id;
  bool is_self = false;
  std::string link;                         // "self", "relay" or "direct"
  std::string address;                      // where it can be reached, if known
  std::int64_t last_seen_ms = 0;
  std::uint64_t height = 0;
  std::string tip_hash;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_record& x) {
  return f(caf::meta::type_name("gsio::node_record"), x.node_id, x.is_self, x.link, x.address,
           x.last_seen_ms, x.height, x.tip_hash);
}

// What merging entries from a peer did.
struct merge_result {
  std::uint64_t appended = 0;   // attached (including held entries they released)
  std::uint64_t duplicates = 0;
  std::uint64_t held = 0;       // waiting for an unknown parent
  std::uint64_t rejected = 0;
  std::vector<std::string> rejections;  // reasons, at most a few
  bool reorg = false;
  tip_info tip;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, merge_result& x) {
  return f(caf::meta::type_name("gsio::merge_result"), x.appended, x.duplicates, x.held,
           x.rejected, x.rejections, x.reorg, x.tip);
}

// A LedgerSyncRequest (see ledger::sync_request).
struct sync_query {
  std::vector<std::string> locator;
  bool has_cursor = false;
  std::uint64_t cursor = 0;
  std::uint64_t limit = 500;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sync_query& x) {
  return f(caf::meta::type_name("gsio::sync_query"), x.locator, x.has_cursor, x.cursor, x.limit);
}

// A LedgerSyncResponse (see ledger::sync_page); entries as JSON.
struct sync_answer {
  std::vector<std::string> entries;
  std::uint64_t next_cursor = 0;
  bool more = false;
  std::uint64_t height = 0;
  std::string tip_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sync_answer& x) {
  return f(caf::meta::type_name("gsio::sync_answer"), x.entries, x.next_cursor, x.more, x.height,
           x.tip_hash);
}

// One decoded P2P envelope (net::p2p_message) crossing actor boundaries.
struct p2p_envelope {
  std::uint8_t type = 0;      // net::p2p_type
  std::string message_id;
  std::string sender_id;
  std::string recipient_id;
  std::string payload_json;
  std::string network_id;  // empty: an open network
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, p2p_envelope& x) {
  return f(caf::meta::type_name("gsio::p2p_envelope"), x.type, x.message_id, x.sender_id,
           x.recipient_id, x.payload_json, x.network_id);
}

// A branch that left the canonical chain (ledger::chain_tree::side_branch).
struct branch_info {
  std::string tip_hash;
  std::string tip_id;
  std::uint64_t fork_height = 0;  // canonical entries it shares with the chain
  std::uint64_t length = 0;       // its entries off the chain
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, branch_info& x) {
  return f(caf::meta::type_name("gsio::branch_info"), x.tip_hash, x.tip_id, x.fork_height,
           x.length);
}

// Entries the node holds outside its canonical chain: attached on side branches (off_chain) and
// held because their parent is unknown. The lists are cut at the requested limit (newest kept).
struct orphan_report {
  std::uint64_t off_chain_total = 0;
  std::vector<std::string> off_chain;  // entry JSON, attach order
  std::uint64_t held_total = 0;
  std::vector<std::string> held;       // entry JSON
  std::vector<std::string> missing_parents;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, orphan_report& x) {
  return f(caf::meta::type_name("gsio::orphan_report"), x.off_chain_total, x.off_chain,
           x.held_total, x.held, x.missing_parents);
}

// A private network's membership at the canonical tip, and how it came to be (DESIGN §10).
struct member_row {
  std::string key;
  std::string role;
  std::string nick;
  std::int64_t since_us = 0;  // time of the entry that admitted it
  std::string admitted_by;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_row& x) {
  return f(caf::meta::type_name("gsio::member_row"), x.key, x.role, x.nick, x.since_us, x.admitted_by);
}

// One change on the canonical chain: `key` admitted (with `role`) or removed, by admin `by`.
struct member_change {
  std::uint64_t index = 0;  // of the entry on the canonical chain
  std::string entry_id;
  std::int64_t time_us = 0;
  bool admitted = true;
  std::string key;
  std::string role;
  std::string nick;
  std::string by;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_change& x) {
  return f(caf::meta::type_name("gsio::member_change"), x.index, x.entry_id, x.time_us, x.admitted,
           x.key, x.role, x.nick, x.by);
}

struct members_view {
  std::string network_id;  // empty: an open network (no members)
  std::string name;
  std::string read;        // members or anyone
  std::vector<member_row> members;
  std::vector<member_change> changes;  // oldest first
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, members_view& x) {
  return f(caf::meta::type_name("gsio::members_view"), x.network_id, x.name, x.read, x.members,
           x.changes);
}

}  // namespace gsio::actors

namespace gsio::ledger {

// Entries travel parsed only inside checked_page below; CAF finds this by argument-dependent
// lookup.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entry& x) {
  return f(caf::meta::type_name("gsio::entry"), x.id, x.timestamp, x.data, x.previous_hash, x.hash,
           x.creator_node_id, x.signatures);
}

}  // namespace gsio::ledger

namespace gsio::actors {

// Entries from a peer that already went through the checks needing no chain (ledger::
// check_entries, done by the entry_verifier actor so that the ledger does not verify signatures
// while it could be persisting). Unlike other messages they carry parsed entries: parsing them a
// second time would put that work back on the ledger's thread.
struct checked_page {
  std::vector<ledger::entry> valid;   // in the order received
  std::vector<std::string> refused;   // the reason each other entry was refused
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checked_page& x) {
  return f(caf::meta::type_name("gsio::checked_page"), x.valid, x.refused);
}

// Registers every message type above with the actor system.
void register_message_types(caf::actor_system_config& cfg);

}  // namespace gsio::actors
