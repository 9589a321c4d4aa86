#pragma once
// What the ledger, the sync coordinator and the peer registry report of themselves, as typed
// structs: the gateway turns them into /metrics, the console into tables, node_info and the
// console's inspect into JSON, each at its own edge. A renamed field is a compile error there,
// not a series that silently drops to zero.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/meta/type_name.hpp>

#include "actors/messages.hpp"

namespace gsio::actors {

// A histogram's buckets as util::prometheus::histogram keeps them: one count per upper bound,
// plus one for the observations above the last.
struct histogram_counts {
  std::vector<double> upper_bounds;
  std::vector<std::uint64_t> counts;
  double sum = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, histogram_counts& x) {
  return f(caf::meta::type_name("gsio::histogram_counts"), x.upper_bounds, x.counts, x.sum);
}

struct ledger_stats {
  std::string node_id;
  std::uint64_t height = 0;
  std::string tip_hash;
  std::uint64_t entries = 0;  // attached, on every branch
  std::uint64_t forks = 0;
  std::uint64_t held = 0;
  std::uint64_t held_bytes = 0;
  std::uint64_t held_dropped = 0;  // held too long past the limits, or below a refused entry
  std::string store;
  std::uint64_t pending_adds = 0;
  // Canonical entries from the first on whose hashes, links and signatures are all verified.
  std::uint64_t verified_height = 0;
  // How the stored entries were checked at start (gsio-node --verify-on-start): "full", or
  // "background", where the signatures of `start_check_total` entries are verified after the
  // node started, the canonical chain first.
  std::string start_check;
  bool start_check_running = false;
  std::uint64_t start_check_verified = 0;
  std::uint64_t start_check_total = 0;
  double start_check_seconds = 0;  // how long the background check took, once done
  bool verifying = false;  // a verify_ledger in progress:
  std::uint64_t verified = 0;         // entries verified so far
  std::uint64_t verify_waiting = 0;   // requests waiting for it
  std::uint64_t committing_entries = 0;  // made and signed, waiting for the disk
  std::uint64_t appended_local = 0;
  std::uint64_t commits = 0;
  std::uint64_t largest_batch = 0;
  std::uint64_t rejected = 0;        // local adds
  std::uint64_t merged = 0;
  std::uint64_t merge_rejected = 0;  // entries from peers
  std::map<std::string, std::uint64_t> refused_by_reason;  // both, by reject code
  // Private network (DESIGN §10); network_id empty on an open one.
  std::string network_id;
  std::string network_name;
  std::uint64_t members = 0;  // at the tip
  std::string self_role;      // this node's role at the tip, empty if not a member
  std::uint64_t reappended = 0;
  std::uint64_t reorgs = 0;
  std::int64_t id_lead_us = 0;  // how far the last local id is ahead of the clock (< 0: behind)
  std::uint64_t throttled_flushes = 0;
  std::uint64_t listeners = 0;
  std::uint64_t max_data_bytes = 0;
  histogram_counts append_latency_seconds;
  histogram_counts commit_batch_entries;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ledger_stats& x) {
  return f(caf::meta::type_name("gsio::ledger_stats"), x.node_id, x.height, x.tip_hash, x.entries,
           x.forks, x.held, x.held_bytes, x.held_dropped, x.store, x.pending_adds, x.verified_height,
           x.start_check, x.start_check_running, x.start_check_verified, x.start_check_total,
           x.start_check_seconds, x.verifying,
           x.verified, x.verify_waiting, x.committing_entries, x.appended_local, x.commits,
           x.largest_batch, x.rejected, x.merged, x.merge_rejected, x.refused_by_reason,
           x.network_id, x.network_name, x.members, x.self_role, x.reappended, x.reorgs,
           x.id_lead_us, x.throttled_flushes, x.listeners, x.max_data_bytes,
           x.append_latency_seconds, x.commit_batch_entries);
}

// An open P2P link of the coordinator.
struct link_stats {
  std::string kind;   // relay, direct, inbound
  std::string where;  // the relay or peer url, or an inbound socket's remote address
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, link_stats& x) {
  return f(caf::meta::type_name("gsio::link_stats"), x.kind, x.where);
}

// The pull a coordinator is waiting on.
struct pull_stats {
  std::string peer;
  std::int64_t running_ms = 0;
  std::int64_t waiting_ms = 0;  // since the last request of it
  std::uint64_t pages = 0;
  bool full = false;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pull_stats& x) {
  return f(caf::meta::type_name("gsio::pull_stats"), x.peer, x.running_ms, x.waiting_ms, x.pages,
           x.full);
}

struct sync_stats {
  std::vector<link_stats> links;
  // (No std::optional here: CAF 0.17 does not serialize it.)
  std::string pulling_from;  // "" when no pull runs
  bool waiting = false;      // a request of that pull is in flight:
  pull_stats in_flight;
  std::uint64_t peers_known = 0;
  std::uint64_t pulls = 0;
  std::uint64_t full_pulls = 0;
  std::uint64_t pulls_cut = 0;  // ended because a page said "more" without moving the cursor
  std::uint64_t messages_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t duplicates_dropped = 0;
  std::uint64_t not_for_us = 0;
  std::uint64_t requests_dropped = 0;
  std::uint64_t malformed = 0;
  std::uint64_t spoofed = 0;
  std::uint64_t other_protocol_dropped = 0;
  std::uint64_t other_network_dropped = 0;
  std::uint64_t not_member_dropped = 0;  // requests of nodes that may not read a private chain
  std::map<std::string, std::uint64_t> other_protocol;  // node id -> the protocol it announced
  std::uint64_t entries_received_sync = 0;
  std::uint64_t entries_received_announce = 0;
  std::uint64_t entries_sent_sync = 0;
  std::uint64_t pages_in_process = 0;
  std::uint64_t pages_deferred = 0;
  std::uint64_t pages_dropped = 0;
  std::uint64_t entries_rejected = 0;
  std::uint64_t merges_in_flight = 0;
  std::uint64_t merges_dropped = 0;
  std::map<std::string, std::uint64_t> in_by_type;   // P2P messages by message type
  std::map<std::string, std::uint64_t> out_by_type;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sync_stats& x) {
  return f(caf::meta::type_name("gsio::sync_stats"), x.links, x.pulling_from, x.waiting, x.in_flight,
           x.peers_known, x.pulls, x.full_pulls, x.pulls_cut, x.messages_in, x.messages_out,
           x.duplicates_dropped, x.not_for_us, x.requests_dropped, x.malformed, x.spoofed,
           x.other_protocol_dropped, x.other_network_dropped, x.not_member_dropped, x.other_protocol, x.entries_received_sync,
           x.entries_received_announce, x.entries_sent_sync, x.pages_in_process, x.pages_deferred,
           x.pages_dropped, x.entries_rejected, x.merges_in_flight, x.merges_dropped, x.in_by_type,
           x.out_by_type);
}

// What every actor says of itself (actors/instrumented.hpp), for the console's `actors`.
struct actor_vitals {
  std::string name;
  std::uint64_t id = 0;
  std::uint64_t mailbox = 0;  // messages waiting, not counting the one being handled
  std::int64_t uptime_ms = 0;
  std::uint64_t handled = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_vitals& x) {
  return f(caf::meta::type_name("gsio::actor_vitals"), x.name, x.id, x.mailbox, x.uptime_ms,
           x.handled);
}

struct gateway_stats {
  std::string listen;  // host:port
  std::uint64_t io_threads = 0;
  std::uint64_t sessions = 0;  // session actors, one per Socket.IO socket
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t engine_sessions = 0;
  std::uint64_t polling_sessions = 0;
  std::uint64_t websocket_sessions = 0;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t http_connections = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t broadcasts = 0;
  std::uint64_t reorgs = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, gateway_stats& x) {
  return f(caf::meta::type_name("gsio::gateway_stats"), x.listen, x.io_threads, x.sessions,
           x.connects, x.disconnects, x.engine_sessions, x.polling_sessions, x.websocket_sessions,
           x.packets_in, x.packets_out, x.protocol_errors, x.http_connections,
           x.connections_refused, x.broadcasts, x.reorgs);
}

// One Socket.IO socket's session (client session on "/", P2P session on "/p2p").
struct session_stats {
  std::uint64_t socket_id = 0;
  std::string nsp;
  std::string transport;  // polling, websocket
  std::string remote_address;
  std::int64_t connected_since_ms = 0;
  std::uint64_t events_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t errors = 0;
  std::uint64_t adds_in_flight = 0;      // client sessions only
  std::uint64_t requests_in_flight = 0;  // client sessions only
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_stats& x) {
  return f(caf::meta::type_name("gsio::session_stats"), x.socket_id, x.nsp, x.transport,
           x.remote_address, x.connected_since_ms, x.events_in, x.messages_out, x.errors,
           x.adds_in_flight, x.requests_in_flight);
}

// A relay or peer link.
struct outbound_link_stats {
  std::string kind;  // relay, direct
  std::string url;   // the one it dials now
  std::vector<std::string> urls;  // every url it may dial, in failover order
  std::uint64_t failovers = 0;    // moves to the next url after a failed or lost connection
  std::string state;  // connected, connecting, suspended
  std::int64_t connected_since_ms = 0;  // 0 unless connected
  std::uint64_t connects = 0;
  std::uint64_t failed_attempts = 0;  // since the link last stayed up
  std::string last_error;
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t malformed = 0;
  std::uint64_t dropped_offline = 0;  // messages to send while disconnected
  std::uint64_t queued_bytes = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_link_stats& x) {
  return f(caf::meta::type_name("gsio::outbound_link_stats"), x.kind, x.url, x.urls, x.failovers, x.state,
           x.connected_since_ms, x.connects, x.failed_attempts, x.last_error, x.frames_in,
           x.frames_out, x.duplicates, x.malformed, x.dropped_offline, x.queued_bytes);
}

// The JSON the console's inspect and node_info show (the members in the order above).
// get_members' answer: {network: {id, name, read} | null, members: [...], changes: [...]}.
std::string to_json(const members_view& v);
std::string to_json(const ledger_stats& s);
std::string to_json(const sync_stats& s);
std::string to_json(const gateway_stats& s);
std::string to_json(const session_stats& s);
std::string to_json(const outbound_link_stats& s);

// One known node as the client API's `peers` and the registry's inspect show it:
// {node_id, is_self, link, address, <last_seen_key>, height, tip_hash}.
std::string to_json(const node_record& r, std::string_view last_seen_key = "last_seen");

}  // namespace gsio::actors
