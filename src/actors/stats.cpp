#include "actors/stats.hpp"

#include <numeric>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gsio::actors {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void string(json_writer& w, const std::string& text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// {"bounds":[...],"counts":[... one per bound, then +Inf; not cumulative],"sum":s,"count":n}
void histogram(json_writer& w, const histogram_counts& h) {
  w.StartObject();
  w.Key("bounds");
  w.StartArray();
  for (double bound : h.upper_bounds)
    w.Double(bound);
  w.EndArray();
  w.Key("counts");
  w.StartArray();
  for (auto count : h.counts)
    w.Uint64(count);
  w.EndArray();
  w.Key("sum");
  w.Double(h.sum);
  w.Key("count");
  w.Uint64(std::accumulate(h.counts.begin(), h.counts.end(), std::uint64_t{0}));
  w.EndObject();
}

void table(json_writer& w, const char* name, const std::map<std::string, std::uint64_t>& rows) {
  w.Key(name);
  w.StartObject();
  for (const auto& [key, value] : rows) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Uint64(value);
  }
  w.EndObject();
}

}  // namespace

std::string to_json(const ledger_stats& s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  auto count = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  w.StartObject();
  w.Key("node_id");
  string(w, s.node_id);
  count("height", s.height);
  w.Key("tip_hash");
  string(w, s.tip_hash);
  count("entries", s.entries);
  count("forks", s.forks);
  count("held", s.held);
  count("held_bytes", s.held_bytes);
  count("held_dropped", s.held_dropped);
  w.Key("store");
  string(w, s.store);
  count("pending_adds", s.pending_adds);
  w.Key("verifying");
  if (s.verifying) {
    w.StartObject();
    count("verified", s.verified);
    count("waiting", s.verify_waiting);
    w.EndObject();
  } else {
    w.Null();
  }
  count("committing_entries", s.committing_entries);
  count("appended_local", s.appended_local);
  count("commits", s.commits);
  count("largest_batch", s.largest_batch);
  count("rejected", s.rejected);
  count("merged", s.merged);
  count("merge_rejected", s.merge_rejected);
  count("reappended", s.reappended);
  count("reorgs", s.reorgs);
  w.Key("id_lead_us");
  w.Int64(s.id_lead_us);
  count("throttled_flushes", s.throttled_flushes);
  count("listeners", s.listeners);
  count("max_data_bytes", s.max_data_bytes);
  w.Key("append_latency_seconds");
  histogram(w, s.append_latency_seconds);
  w.Key("commit_batch_entries");
  histogram(w, s.commit_batch_entries);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string to_json(const sync_stats& s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  auto count = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  w.StartObject();
  w.Key("links");
  w.StartArray();
  for (const auto& kind : s.links)
    string(w, kind);
  w.EndArray();
  w.Key("pulling_from");
  if (!s.pulling_from.empty())
    string(w, s.pulling_from);
  else
    w.Null();
  w.Key("in_flight");
  if (s.waiting) {
    w.StartObject();
    w.Key("peer");
    string(w, s.in_flight.peer);
    w.Key("running_ms");
    w.Int64(s.in_flight.running_ms);
    w.Key("waiting_ms");
    w.Int64(s.in_flight.waiting_ms);
    count("pages", s.in_flight.pages);
    w.Key("full");
    w.Bool(s.in_flight.full);
    w.EndObject();
  } else {
    w.Null();
  }
  count("peers_known", s.peers_known);
  count("pulls", s.pulls);
  count("full_pulls", s.full_pulls);
  count("pulls_cut", s.pulls_cut);
  count("messages_in", s.messages_in);
  count("messages_out", s.messages_out);
  count("duplicates_dropped", s.duplicates_dropped);
  count("not_for_us", s.not_for_us);
  count("requests_dropped", s.requests_dropped);
  count("malformed", s.malformed);
  count("spoofed", s.spoofed);
  count("other_protocol_dropped", s.other_protocol_dropped);
  table(w, "other_protocol", s.other_protocol);
  count("entries_received_sync", s.entries_received_sync);
  count("entries_received_announce", s.entries_received_announce);
  count("entries_sent_sync", s.entries_sent_sync);
  count("pages_in_process", s.pages_in_process);
  count("pages_deferred", s.pages_deferred);
  count("pages_dropped", s.pages_dropped);
  count("entries_rejected", s.entries_rejected);
  count("merges_in_flight", s.merges_in_flight);
  count("merges_dropped", s.merges_dropped);
  table(w, "in_by_type", s.in_by_type);
  table(w, "out_by_type", s.out_by_type);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string to_json(const gateway_stats& s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  auto count = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  w.StartObject();
  w.Key("listen");
  string(w, s.listen);
  count("io_threads", s.io_threads);
  count("sessions", s.sessions);
  count("connects", s.connects);
  count("disconnects", s.disconnects);
  count("engine_sessions", s.engine_sessions);
  count("polling_sessions", s.polling_sessions);
  count("websocket_sessions", s.websocket_sessions);
  count("packets_in", s.packets_in);
  count("packets_out", s.packets_out);
  count("protocol_errors", s.protocol_errors);
  count("http_connections", s.http_connections);
  count("connections_refused", s.connections_refused);
  count("broadcasts", s.broadcasts);
  count("reorgs", s.reorgs);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string to_json(const session_stats& s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  auto count = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  w.StartObject();
  count("socket_id", s.socket_id);
  w.Key("namespace");
  string(w, s.nsp);
  w.Key("transport");
  string(w, s.transport);
  w.Key("remote_address");
  string(w, s.remote_address);
  w.Key("connected_since_ms");
  w.Int64(s.connected_since_ms);
  count("events_in", s.events_in);
  count("messages_out", s.messages_out);
  count("errors", s.errors);
  count("adds_in_flight", s.adds_in_flight);
  count("requests_in_flight", s.requests_in_flight);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string to_json(const outbound_link_stats& s) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  auto count = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  w.StartObject();
  w.Key("kind");
  string(w, s.kind);
  w.Key("url");
  string(w, s.url);
  w.Key("state");
  string(w, s.state);
  w.Key("connected_since_ms");
  w.Int64(s.connected_since_ms);
  count("connects", s.connects);
  count("reconnects", s.connects > 0 ? s.connects - 1 : 0);
  count("failed_attempts", s.failed_attempts);
  w.Key("last_error");
  string(w, s.last_error);
  count("frames_in", s.frames_in);
  count("frames_out", s.frames_out);
  count("duplicates", s.duplicates);
  count("malformed", s.malformed);
  count("dropped_offline", s.dropped_offline);
  count("queued_bytes", s.queued_bytes);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string to_json(const node_record& r, std::string_view last_seen_key) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("node_id");
  string(w, r.node_id);
  w.Key("is_self");
  w.Bool(r.is_self);
  w.Key("link");
  string(w, r.link);
  w.Key("address");
  string(w, r.address);
  w.Key(last_seen_key.data(), static_cast<rapidjson::SizeType>(last_seen_key.size()));
  w.Int64(r.last_seen_ms);
  w.Key("height");
  w.Uint64(r.height);
  w.Key("tip_hash");
  string(w, r.tip_hash);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace gsio::actors
