// The relay's status endpoints: GET /health and /stats (JSON) and /metrics (Prometheus text),
// read from the registry and the counters of relay_server::impl (detail/relay_core.hpp).
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/detail/relay_connection.hpp"
#include "net/detail/relay_core.hpp"
#include "util/prometheus.hpp"

namespace gsio::net {

using namespace relay_detail;

std::string relay_server::impl::health_json() const {
  std::size_t connection_count = 0;
  std::size_t node_count = 0;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_count = nodes.size();
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - started_at);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("status");
  writer.String("ok");
  writer.Key("connections");
  writer.Uint64(connection_count);
  writer.Key("nodes");
  writer.Uint64(node_count);
  writer.Key("uptime_ms");
  writer.Int64(uptime.count());
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string relay_server::impl::stats_json() const {
  std::size_t connection_count = 0;
  std::vector<std::string> node_ids;
  std::vector<std::string> proven_ids;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_ids.reserve(nodes.size());
    for (const auto& [id, slot] : nodes) {
      node_ids.push_back(id);
      if (slot.proven)
        proven_ids.push_back(id);
    }
  }
  std::sort(node_ids.begin(), node_ids.end());
  std::sort(proven_ids.begin(), proven_ids.end());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  auto counters = [&writer](const char* key, const auto& names, const auto& values) {
    writer.Key(key);
    writer.StartObject();
    for (std::size_t i = 0; i < names.size(); ++i) {
      writer.Key(names[i].data(), static_cast<rapidjson::SizeType>(names[i].size()));
      writer.Uint64(values[i].load(std::memory_order_relaxed));
    }
    writer.EndObject();
  };
  writer.StartObject();
  writer.Key("connections");
  writer.Uint64(connection_count);
  writer.Key("nodes");
  writer.StartArray();
  for (const auto& id : node_ids)
    writer.String(id);
  writer.EndArray();
  writer.Key("proven_nodes");  // those whose connection proved the id (announce_proof.hpp)
  writer.StartArray();
  for (const auto& id : proven_ids)
    writer.String(id);
  writer.EndArray();
  writer.Key("messages_in");
  writer.Uint64(messages_in.load(std::memory_order_relaxed));
  writer.Key("messages_out");
  writer.Uint64(messages_out.load(std::memory_order_relaxed));
  writer.Key("bytes_in");
  writer.Uint64(bytes_in.load(std::memory_order_relaxed));
  writer.Key("bytes_out");
  writer.Uint64(bytes_out.load(std::memory_order_relaxed));
  counters("drops", drop_cause_names, drops);
  counters("disconnects", disconnect_cause_names, disconnects);
  counters("rejected", reject_cause_names, rejects);
  writer.Key("nats");
  const auto nats_json = nats_stats_json();
  writer.RawValue(nats_json.data(), nats_json.size(), rapidjson::kObjectType);
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

// The Prometheus text exposition format (0.0.4): the counters of /stats plus queue depth.
std::string relay_server::impl::metrics_text() const {
  std::size_t connection_count = 0;
  std::size_t node_count = 0;
  std::size_t queued = 0;
  std::size_t deepest = 0;
  {
    std::lock_guard lock{mutex};
    connection_count = live_connections;
    node_count = nodes.size();
    for (const auto& [raw, weak] : connections)
      if (auto connection = weak.lock()) {
        queued += connection->queued_bytes();
        deepest = std::max(deepest, connection->queued_bytes());
      }
  }
  using util::prometheus::metric_type;
  util::prometheus::text_writer w;
  auto counter = [](const std::atomic<std::uint64_t>& value) { return value.load(std::memory_order_relaxed); };
  auto by_cause = [&](std::string_view name, std::string_view help, const auto& names,
                      const auto& values) {
    w.family(name, metric_type::counter, help);
    for (std::size_t i = 0; i < names.size(); ++i)
      w.sample({{"cause", names[i]}}, counter(values[i]));
  };
  w.gauge("gsio_relay_connections", "Open WebSocket connections.", static_cast<double>(connection_count));
  w.gauge("gsio_relay_nodes", "Connections that announced a node id.", static_cast<double>(node_count));
  w.counter("gsio_relay_messages_received_total", "P2P messages received from nodes.", counter(messages_in));
  w.counter("gsio_relay_messages_forwarded_total",
            "P2P messages delivered to nodes (one per recipient).", counter(messages_out));
  w.counter("gsio_relay_received_bytes_total", "Bytes of P2P messages received.", counter(bytes_in));
  w.counter("gsio_relay_forwarded_bytes_total", "Bytes of P2P messages forwarded.", counter(bytes_out));
  by_cause("gsio_relay_dropped_total", "Messages dropped, by cause.", drop_cause_names, drops);
  by_cause("gsio_relay_disconnects_total", "Connections closed, by cause.", disconnect_cause_names,
           disconnects);
  by_cause("gsio_relay_rejected_total", "Connections refused before the upgrade, by cause.",
           reject_cause_names, rejects);
  w.gauge("gsio_relay_queued_bytes", "Outbound bytes queued across all connections.",
          static_cast<double>(queued));
  w.gauge("gsio_relay_max_connection_queued_bytes",
          "Outbound bytes queued for the most backed-up connection.", static_cast<double>(deepest));
  w.gauge("gsio_relay_uptime_seconds", "Seconds since the relay started.",
          static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now() - started_at).count()));
  write_nats_metrics(w);
  return w.take();
}

}  // namespace gsio::net
