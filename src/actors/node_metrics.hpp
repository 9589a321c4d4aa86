#pragma once
// The Prometheus text of a node's GET /metrics, from typed statistics: the gateway collects the
// other actors' stats once a second and its io threads render them here on each scrape. Series
// names, types and help texts live here and nowhere else.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "actors/stats.hpp"
#include "net/sio_server.hpp"

namespace gsio::actors {

// What the other actors last reported, plus the gateway actor's own counters. What an actor
// reported stays until it reports again: a counter that dropped to zero because an actor did not
// answer in time would look like a restart to Prometheus.
struct actor_metrics {
  std::optional<ledger_stats> ledger;  // set once the ledger is loaded and answers (readiness)
  sync_stats sync;
  std::map<std::string, std::uint64_t> peers_by_link;
  std::uint64_t broadcasts = 0;
};

// What the io thread knows right now, next to the actors' last snapshot.
struct live_metrics {
  net::server_stats server;
  std::map<std::string, std::uint64_t> sockets_by_namespace;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  double uptime_seconds = 0;
};

// The exposition text (text format 0.0.4) of one scrape.
std::string render_metrics(const actor_metrics& reported, const live_metrics& live);

}  // namespace gsio::actors
