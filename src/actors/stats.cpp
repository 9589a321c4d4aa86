#include "actors/stats.hpp"

#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "util/json_object.hpp"

namespace gsio::actors {

namespace {

util::histogram_view view_of(const histogram_counts& h) {
  return {h.upper_bounds, h.counts, h.sum};
}

void write_start_check(util::json_object& c, const ledger_stats& s) {
  c.text("mode", s.start_check)
    .text("state", s.start_check_running ? "running" : "done")
    .count("verified", s.start_check_verified)
    .count("of", s.start_check_total)
    .number("seconds", s.start_check_seconds);
}

}  // namespace

std::string to_json(const members_view& v) {
  util::json_object o;
  o.object_or_null("network", !v.network_id.empty(), [&](util::json_object& n) {
     n.text("id", v.network_id).text("name", v.name).text("read", v.read);
   })
    .objects("members", v.members, [](util::json_object& m, const member_row& row) {
      m.text("key", row.key)
        .text("role", row.role)
        .text("nick", row.nick)
        .integer("since_us", row.since_us)
        .text("admitted_by", row.admitted_by);
    })
    .objects("changes", v.changes, [](util::json_object& c, const member_change& change) {
      c.count("index", change.index)
        .text("entry_id", change.entry_id)
        .integer("time_us", change.time_us)
        .text("op", change.admitted ? "admitted" : "removed")
        .text("key", change.key)
        .text("role", change.role)
        .text("nick", change.nick)
        .text("by", change.by);
    });
  return o.finish();
}

std::string to_json(const ledger_stats& s) {
  util::json_object o;
  o.text("node_id", s.node_id)
    .count("height", s.height)
    .text("tip_hash", s.tip_hash)
    .count("entries", s.entries)
    .count("forks", s.forks)
    .count("held", s.held)
    .count("held_bytes", s.held_bytes)
    .count("held_dropped", s.held_dropped)
    .text("store", s.store)
    .count("pending_adds", s.pending_adds)
    .count("verified_height", s.verified_height)
    .object_or_null("start_check", true, [&](util::json_object& c) { write_start_check(c, s); })
    .object_or_null("verifying", s.verifying, [&](util::json_object& v) {
      v.count("verified", s.verified).count("waiting", s.verify_waiting);
    })
    .count("committing_entries", s.committing_entries)
    .count("appended_local", s.appended_local)
    .count("commits", s.commits)
    .count("largest_batch", s.largest_batch)
    .count("rejected", s.rejected)
    .count("merged", s.merged)
    .count("merge_rejected", s.merge_rejected)
    .table("refused_by_reason", s.refused_by_reason)
    .object_or_null("network", !s.network_id.empty(), [&](util::json_object& n) {
      n.text("id", s.network_id)
        .text("name", s.network_name)
        .count("members", s.members)
        .text("self_role", s.self_role);
    })
    .count("reappended", s.reappended)
    .count("reorgs", s.reorgs)
    .integer("id_lead_us", s.id_lead_us)
    .count("throttled_flushes", s.throttled_flushes)
    .count("listeners", s.listeners)
    .count("max_data_bytes", s.max_data_bytes)
    .histogram("append_latency_seconds", view_of(s.append_latency_seconds))
    .histogram("commit_batch_entries", view_of(s.commit_batch_entries));
  return o.finish();
}

std::string to_json(const sync_stats& s) {
  util::json_object o;
  o.objects("links", s.links, [](util::json_object& l, const link_stats& link) {
     l.text("kind", link.kind).text("where", link.where);
   })
    .text_or_null("pulling_from", s.pulling_from)
    .object_or_null("in_flight", s.waiting, [&](util::json_object& f) {
      f.text("peer", s.in_flight.peer)
        .integer("running_ms", s.in_flight.running_ms)
        .integer("waiting_ms", s.in_flight.waiting_ms)
        .count("pages", s.in_flight.pages)
        .flag("full", s.in_flight.full);
    })
    .count("peers_known", s.peers_known)
    .count("pulls", s.pulls)
    .count("full_pulls", s.full_pulls)
    .count("pulls_cut", s.pulls_cut)
    .count("messages_in", s.messages_in)
    .count("messages_out", s.messages_out)
    .count("duplicates_dropped", s.duplicates_dropped)
    .count("not_for_us", s.not_for_us)
    .count("requests_dropped", s.requests_dropped)
    .count("malformed", s.malformed)
    .count("spoofed", s.spoofed)
    .count("other_protocol_dropped", s.other_protocol_dropped)
    .count("other_network_dropped", s.other_network_dropped)
    .count("not_member_dropped", s.not_member_dropped)
    .table("other_protocol", s.other_protocol)
    .count("entries_received_sync", s.entries_received_sync)
    .count("entries_received_announce", s.entries_received_announce)
    .count("entries_sent_sync", s.entries_sent_sync)
    .count("pages_in_process", s.pages_in_process)
    .count("pages_deferred", s.pages_deferred)
    .count("pages_dropped", s.pages_dropped)
    .count("entries_rejected", s.entries_rejected)
    .count("merges_in_flight", s.merges_in_flight)
    .count("merges_dropped", s.merges_dropped)
    .table("in_by_type", s.in_by_type)
    .table("out_by_type", s.out_by_type);
  return o.finish();
}

std::string to_json(const gateway_stats& s) {
  util::json_object o;
  o.text("listen", s.listen)
    .count("io_threads", s.io_threads)
    .count("sessions", s.sessions)
    .count("connects", s.connects)
    .count("disconnects", s.disconnects)
    .count("engine_sessions", s.engine_sessions)
    .count("polling_sessions", s.polling_sessions)
    .count("websocket_sessions", s.websocket_sessions)
    .count("packets_in", s.packets_in)
    .count("packets_out", s.packets_out)
    .count("protocol_errors", s.protocol_errors)
    .count("http_connections", s.http_connections)
    .count("connections_refused", s.connections_refused)
    .count("broadcasts", s.broadcasts)
    .count("reorgs", s.reorgs);
  return o.finish();
}

std::string to_json(const session_stats& s) {
  util::json_object o;
  o.count("socket_id", s.socket_id)
    .text("namespace", s.nsp)
    .text("transport", s.transport)
    .text("remote_address", s.remote_address)
    .integer("connected_since_ms", s.connected_since_ms)
    .count("events_in", s.events_in)
    .count("messages_out", s.messages_out)
    .count("errors", s.errors)
    .count("adds_in_flight", s.adds_in_flight)
    .count("requests_in_flight", s.requests_in_flight);
  return o.finish();
}

std::string to_json(const outbound_link_stats& s) {
  util::json_object o;
  o.text("kind", s.kind)
    .text("url", s.url)
    .texts("urls", s.urls)
    .count("failovers", s.failovers)
    .text("state", s.state)
    .integer("connected_since_ms", s.connected_since_ms)
    .count("connects", s.connects)
    .count("reconnects", s.connects > 0 ? s.connects - 1 : 0)
    .count("failed_attempts", s.failed_attempts)
    .text("last_error", s.last_error)
    .count("frames_in", s.frames_in)
    .count("frames_out", s.frames_out)
    .count("duplicates", s.duplicates)
    .count("malformed", s.malformed)
    .count("dropped_offline", s.dropped_offline)
    .count("queued_bytes", s.queued_bytes);
  return o.finish();
}

std::string to_json(const node_record& r, std::string_view last_seen_key) {
  util::json_object o;
  o.text("node_id", r.node_id)
    .flag("is_self", r.is_self)
    .text("link", r.link)
    .text("address", r.address)
    .integer(last_seen_key, r.last_seen_ms)
    .count("height", r.height)
    .text("tip_hash", r.tip_hash);
  return o.finish();
}

}  // namespace gsio::actors
