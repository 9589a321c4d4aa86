#include "actors/node_metrics.hpp"

#include <initializer_list>
#include <string_view>

#include "net/p2p_message.hpp"
#include "util/prometheus.hpp"

namespace gsio::actors {

namespace {

util::prometheus::histogram histogram_of(const histogram_counts& h) {
  return {h.upper_bounds, h.counts, h.sum};
}

// Label values every scrape shows, with 0 when nothing was counted yet: a series that appears
// only with its first increment hides that increment from rate() and increase().
void with_known_keys(std::map<std::string, std::uint64_t>& table,
                     std::initializer_list<std::string_view> keys) {
  for (auto key : keys)
    table.try_emplace(std::string{key}, 0);
}

void write_table(util::prometheus::text_writer& w, const char* label,
                 const std::map<std::string, std::uint64_t>& table) {
  for (const auto& [value, count] : table)
    w.sample({{label, value}}, count);
}

}  // namespace

std::string render_metrics(const actor_metrics& a, const live_metrics& live) {
  using util::prometheus::metric_type;
  util::prometheus::text_writer w;

  w.gauge("gsio_process_uptime_seconds", "Seconds since the gsio-node process started.",
          live.uptime_seconds);

  if (a.ledger) {
    const auto& l = *a.ledger;
    w.family("gsio_node_info", metric_type::gauge, "This node's identity; the value is always 1.");
    w.sample({{"node_id", l.node_id}}, std::uint64_t{1});
    w.gauge("gsio_ledger_entries", "Entries attached to the fork tree, on every branch.",
            static_cast<double>(l.entries));
    w.gauge("gsio_ledger_height", "Entries on the canonical chain.",
            static_cast<double>(l.height));
    w.gauge("gsio_ledger_verified_height",
            "Canonical entries from the first whose hashes, links and signatures are verified.",
            static_cast<double>(l.verified_height));
    w.gauge("gsio_ledger_start_check_running",
            "1 while the stored entries loaded at start are verified in the background.",
            l.start_check_running ? 1.0 : 0.0);
    w.gauge("gsio_ledger_start_check_verified_entries",
            "Stored entries the background check at start has verified so far.",
            static_cast<double>(l.start_check_verified));
    w.gauge("gsio_ledger_start_check_entries",
            "Stored entries the background check at start verifies (0: all verified before start).",
            static_cast<double>(l.start_check_total));
    w.gauge("gsio_ledger_forks", "Branches of the fork tree besides the canonical chain.",
            static_cast<double>(l.forks));
    w.gauge("gsio_ledger_held_entries", "Entries from peers waiting for an unknown parent.",
            static_cast<double>(l.held));
    w.gauge("gsio_ledger_pending_adds", "Local adds queued for the next group commit.",
            static_cast<double>(l.pending_adds));
    w.family("gsio_ledger_entries_appended_total", metric_type::counter,
             "Entries durably stored: origin=local (signed here) or peer (merged from peers).");
    w.sample({{"origin", "local"}}, l.appended_local);
    w.sample({{"origin", "peer"}}, l.merged);
    w.family("gsio_ledger_entries_rejected_total", metric_type::counter,
             "Entries refused: origin=local (client adds) or peer (failed validation).");
    w.sample({{"origin", "local"}}, l.rejected);
    w.sample({{"origin", "peer"}}, l.merge_rejected);
    w.family("gsio_ledger_refusals_total", metric_type::counter,
             "Entries refused by the rule they broke (local adds and peers' entries alike).");
    for (const auto& [reason, count] : l.refused_by_reason)
      w.sample({{"reason", reason}}, count);
    w.counter("gsio_ledger_commits_total", "Store transactions committed (each one fsync'd).",
              l.commits);
    w.counter("gsio_ledger_orphans_reappended_total",
              "This node's entries re-appended on the tip after a reorg orphaned them.",
              l.reappended);
    w.counter("gsio_ledger_reorgs_total", "Switches of the canonical chain to another branch.",
              l.reorgs);
    w.family("gsio_ledger_append_latency_seconds", metric_type::histogram,
             "Seconds from a local add reaching the ledger to its entry being on disk.");
    w.sample({}, histogram_of(l.append_latency_seconds));
    w.family("gsio_ledger_commit_batch_entries", metric_type::histogram,
             "Entries per group commit of local adds.");
    w.sample({}, histogram_of(l.commit_batch_entries));
  }

  auto peers = a.peers_by_link;
  with_known_keys(peers, {"relay", "direct"});
  w.family("gsio_peers", metric_type::gauge,
           "Other nodes this node knows, by the link it last heard them on.");
  write_table(w, "link", peers);

  std::map<std::string, std::uint64_t> links;
  std::map<std::string, std::uint64_t> relays;
  for (const auto& link : a.sync.links) {
    ++links[link.kind];
    if (link.kind == "relay")
      ++relays[link.where];
  }
  with_known_keys(links, {"relay", "direct", "inbound"});
  w.family("gsio_p2p_links", metric_type::gauge,
           "Open P2P links: relay, direct (dialed by this node), inbound (/p2p sockets).");
  write_table(w, "kind", links);
  w.gauge("gsio_relay_link_up", "1 while a link to a relay is open, else 0.",
          links["relay"] > 0 ? 1.0 : 0.0);
  w.family("gsio_relay_link_open", metric_type::gauge,
           "Open links to relays, by relay url: which relays this node is on right now.");
  write_table(w, "url", relays);

  std::initializer_list<std::string_view> p2p_types = {
    net::to_string(net::p2p_type::node_announce),
    net::to_string(net::p2p_type::node_list_request),
    net::to_string(net::p2p_type::node_list_response),
    net::to_string(net::p2p_type::entry_announce),
    net::to_string(net::p2p_type::entry_request),
    net::to_string(net::p2p_type::entry_response),
    net::to_string(net::p2p_type::ledger_sync_request),
    net::to_string(net::p2p_type::ledger_sync_response)};
  auto received = a.sync.in_by_type;
  with_known_keys(received, p2p_types);
  w.family("gsio_p2p_messages_received_total", metric_type::counter,
           "P2P messages handled, by message type (after dropping duplicates).");
  write_table(w, "type", received);
  auto sent = a.sync.out_by_type;
  with_known_keys(sent, p2p_types);
  w.family("gsio_p2p_messages_sent_total", metric_type::counter,
           "P2P messages sent, by message type.");
  write_table(w, "type", sent);
  w.family("gsio_p2p_messages_dropped_total", metric_type::counter,
           "P2P messages not handled: duplicate, not_for_us (addressed to another node), "
           "malformed, other_protocol (from a node announcing another protocol version), other_network, "
           "not_member (a request of a node that may not read this private network's chain).");
  w.sample({{"reason", "duplicate"}}, a.sync.duplicates_dropped);
  w.sample({{"reason", "not_for_us"}}, a.sync.not_for_us);
  w.sample({{"reason", "malformed"}}, a.sync.malformed);
  w.sample({{"reason", "other_protocol"}}, a.sync.other_protocol_dropped);
  w.sample({{"reason", "other_network"}}, a.sync.other_network_dropped);
  w.sample({{"reason", "not_member"}}, a.sync.not_member_dropped);
  w.gauge("gsio_p2p_other_protocol_nodes",
          "Nodes whose last NodeAnnounce named another protocol version; this node does not sync "
          "with them.",
          static_cast<double>(a.sync.other_protocol.size()));
  w.family("gsio_sync_entries_received_total", metric_type::counter,
           "Entries received from peers: via=sync (pull responses) or announce (pushed).");
  w.sample({{"via", "sync"}}, a.sync.entries_received_sync);
  w.sample({{"via", "announce"}}, a.sync.entries_received_announce);
  w.counter("gsio_sync_entries_sent_total", "Entries sent to peers in sync responses.",
            a.sync.entries_sent_sync);

  w.family("gsio_engineio_sessions", metric_type::gauge,
           "Open Engine.IO sessions by current transport.");
  w.sample({{"transport", "polling"}}, std::uint64_t{live.server.polling_sessions});
  w.sample({{"transport", "websocket"}}, std::uint64_t{live.server.websocket_sessions});
  w.family("gsio_socketio_sockets", metric_type::gauge, "Connected Socket.IO sockets by namespace.");
  write_table(w, "namespace", live.sockets_by_namespace);
  w.counter("gsio_socketio_connects_total", "Socket.IO namespace connects.", live.connects);
  w.counter("gsio_socketio_disconnects_total", "Socket.IO namespace disconnects.",
            live.disconnects);
  w.counter("gsio_engineio_packets_received_total", "Engine.IO packets received.",
            live.server.packets_in);
  w.counter("gsio_engineio_packets_sent_total", "Engine.IO packets sent.",
            live.server.packets_out);
  w.counter("gsio_engineio_protocol_errors_total",
            "Invalid Engine.IO or Socket.IO input from clients.", live.server.protocol_errors);
  w.family("gsio_http_connections", metric_type::gauge,
           "Open HTTP connections (polling, REST, not yet upgraded to WebSocket).");
  w.sample({}, std::uint64_t{live.server.http_connections});
  w.counter("gsio_connections_refused_total",
            "Connections closed unread because --max-connections were open.",
            live.server.connections_refused);
  w.counter("gsio_broadcast_entries_total", "Entries broadcast to clients as ledger_entry_added.",
            a.broadcasts);
  return w.take();
}

}  // namespace gsio::actors
