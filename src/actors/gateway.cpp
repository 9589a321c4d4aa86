#include "actors/gateway.hpp"

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/prometheus.hpp"
#include "net/p2p_message.hpp"
#include "net/p2p_socketio.hpp"
#include "net/sio_server.hpp"
#include "net/static_files.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"

namespace gsio::actors {

namespace {

// Static initialization runs just before main: close enough to the process start for uptime.
const auto process_start = std::chrono::steady_clock::now();

constexpr auto metrics_refresh_interval = std::chrono::seconds{1};
constexpr auto metrics_request_timeout = std::chrono::seconds{5};

// What the other actors last reported, parsed from their inspect JSON, plus the gateway actor's
// own counters. Counters keep their last value when an actor does not answer in time: a counter
// that dropped to zero would look like a restart to Prometheus.
struct actor_metrics {
  // Ledger.
  bool ledger_answered = false;  // the ledger is loaded and answers (readiness)
  std::string node_id;
  std::uint64_t entries = 0;
  std::uint64_t height = 0;
  std::uint64_t forks = 0;
  std::uint64_t held = 0;
  std::uint64_t pending_adds = 0;
  std::uint64_t appended_local = 0;
  std::uint64_t merged = 0;
  std::uint64_t rejected_local = 0;
  std::uint64_t rejected_peer = 0;
  std::uint64_t commits = 0;
  std::uint64_t reappended = 0;
  std::uint64_t reorgs = 0;
  std::optional<util::prometheus::histogram> append_latency;
  std::optional<util::prometheus::histogram> commit_batch;
  // Sync coordinator.
  std::map<std::string, std::uint64_t> links_by_kind;
  std::map<std::string, std::uint64_t> p2p_received_by_type;
  std::map<std::string, std::uint64_t> p2p_sent_by_type;
  std::uint64_t p2p_duplicates = 0;
  std::uint64_t p2p_not_for_us = 0;
  std::uint64_t p2p_malformed = 0;
  std::uint64_t p2p_other_protocol = 0;
  std::uint64_t other_protocol_nodes = 0;
  std::uint64_t entries_received_sync = 0;
  std::uint64_t entries_received_announce = 0;
  std::uint64_t entries_sent_sync = 0;
  // Peer registry.
  std::map<std::string, std::uint64_t> peers_by_link;
  // Gateway actor.
  std::uint64_t broadcasts = 0;
};

std::uint64_t uint_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

std::map<std::string, std::uint64_t> uint_table(const rapidjson::Value& object, const char* name) {
  std::map<std::string, std::uint64_t> out;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsObject())
    return out;
  for (const auto& m : it->value.GetObject())
    if (m.value.IsUint64())
      out[std::string{m.name.GetString(), m.name.GetStringLength()}] = m.value.GetUint64();
  return out;
}

// The ledger's {"bounds":[...],"counts":[...],"sum":s} form; nullopt when absent or inconsistent.
std::optional<util::prometheus::histogram> histogram_member(const rapidjson::Value& object,
                                                   const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsObject())
    return std::nullopt;
  const auto& h = it->value;
  auto bounds_it = h.FindMember("bounds");
  auto counts_it = h.FindMember("counts");
  auto sum_it = h.FindMember("sum");
  if (bounds_it == h.MemberEnd() || !bounds_it->value.IsArray() || counts_it == h.MemberEnd()
      || !counts_it->value.IsArray() || sum_it == h.MemberEnd() || !sum_it->value.IsNumber())
    return std::nullopt;
  std::vector<double> bounds;
  for (const auto& b : bounds_it->value.GetArray()) {
    if (!b.IsNumber())
      return std::nullopt;
    bounds.push_back(b.GetDouble());
  }
  std::vector<std::uint64_t> counts;
  for (const auto& c : counts_it->value.GetArray()) {
    if (!c.IsUint64())
      return std::nullopt;
    counts.push_back(c.GetUint64());
  }
  try {
    return util::prometheus::histogram{std::move(bounds), std::move(counts), sum_it->value.GetDouble()};
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

// Each parser reads one actor's inspect JSON into `out`; false (and `out` untouched) when the
// text is not a JSON object.
bool parse_ledger_inspect(const std::string& json, actor_metrics& out) {
  rapidjson::Document doc;  // a fresh document per parse: a reused one never frees its pool
  if (doc.Parse(json.data(), json.size()).HasParseError() || !doc.IsObject())
    return false;
  out.ledger_answered = true;
  if (auto it = doc.FindMember("node_id"); it != doc.MemberEnd() && it->value.IsString())
    out.node_id = it->value.GetString();
  out.entries = uint_member(doc, "entries");
  out.height = uint_member(doc, "height");
  out.forks = uint_member(doc, "forks");
  out.held = uint_member(doc, "held");
  out.pending_adds = uint_member(doc, "pending_adds");
  out.appended_local = uint_member(doc, "appended_local");
  out.merged = uint_member(doc, "merged");
  out.rejected_local = uint_member(doc, "rejected");
  out.rejected_peer = uint_member(doc, "merge_rejected");
  out.commits = uint_member(doc, "commits");
  out.reappended = uint_member(doc, "reappended");
  out.reorgs = uint_member(doc, "reorgs");
  out.append_latency = histogram_member(doc, "append_latency_seconds");
  out.commit_batch = histogram_member(doc, "commit_batch_entries");
  return true;
}

bool parse_coordinator_inspect(const std::string& json, actor_metrics& out) {
  rapidjson::Document doc;
  if (doc.Parse(json.data(), json.size()).HasParseError() || !doc.IsObject())
    return false;
  out.links_by_kind.clear();
  if (auto it = doc.FindMember("links"); it != doc.MemberEnd() && it->value.IsArray())
    for (const auto& kind : it->value.GetArray())
      if (kind.IsString())
        ++out.links_by_kind[kind.GetString()];
  out.p2p_received_by_type = uint_table(doc, "in_by_type");
  out.p2p_sent_by_type = uint_table(doc, "out_by_type");
  out.p2p_duplicates = uint_member(doc, "duplicates_dropped");
  out.p2p_not_for_us = uint_member(doc, "not_for_us");
  out.p2p_malformed = uint_member(doc, "malformed");
  out.p2p_other_protocol = uint_member(doc, "other_protocol_dropped");
  out.other_protocol_nodes = 0;
  if (auto it = doc.FindMember("other_protocol"); it != doc.MemberEnd() && it->value.IsObject())
    out.other_protocol_nodes = it->value.MemberCount();
  out.entries_received_sync = uint_member(doc, "entries_received_sync");
  out.entries_received_announce = uint_member(doc, "entries_received_announce");
  out.entries_sent_sync = uint_member(doc, "entries_sent_sync");
  return true;
}

bool parse_registry_inspect(const std::string& json, actor_metrics& out) {
  rapidjson::Document doc;
  if (doc.Parse(json.data(), json.size()).HasParseError() || !doc.IsObject())
    return false;
  out.peers_by_link.clear();
  if (auto it = doc.FindMember("peers"); it != doc.MemberEnd() && it->value.IsArray())
    for (const auto& peer : it->value.GetArray()) {
      if (!peer.IsObject())
        continue;
      auto link = peer.FindMember("link");
      if (link != peer.MemberEnd() && link->value.IsString())
        ++out.peers_by_link[link->value.GetString()];
    }
  return true;
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

// What the io thread knows right now, next to the actors' last snapshot.
struct live_metrics {
  net::server_stats server;
  std::map<std::string, std::uint64_t> sockets_by_namespace;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  double uptime_seconds = 0;
};

std::string render_metrics(const actor_metrics& a, const live_metrics& live) {
  using util::prometheus::metric_type;
  util::prometheus::text_writer w;

  w.gauge("gsio_process_uptime_seconds", "Seconds since the gsio-node process started.",
          live.uptime_seconds);

  if (a.ledger_answered) {
    w.family("gsio_node_info", metric_type::gauge, "This node's identity; the value is always 1.");
    w.sample({{"node_id", a.node_id}}, std::uint64_t{1});
    w.gauge("gsio_ledger_entries", "Entries attached to the fork tree, on every branch.",
            static_cast<double>(a.entries));
    w.gauge("gsio_ledger_height", "Entries on the canonical chain.",
            static_cast<double>(a.height));
    w.gauge("gsio_ledger_forks", "Branches of the fork tree besides the canonical chain.",
            static_cast<double>(a.forks));
    w.gauge("gsio_ledger_held_entries", "Entries from peers waiting for an unknown parent.",
            static_cast<double>(a.held));
    w.gauge("gsio_ledger_pending_adds", "Local adds queued for the next group commit.",
            static_cast<double>(a.pending_adds));
    w.family("gsio_ledger_entries_appended_total", metric_type::counter,
             "Entries durably stored: origin=local (signed here) or peer (merged from peers).");
    w.sample({{"origin", "local"}}, a.appended_local);
    w.sample({{"origin", "peer"}}, a.merged);
    w.family("gsio_ledger_entries_rejected_total", metric_type::counter,
             "Entries refused: origin=local (client adds) or peer (failed validation).");
    w.sample({{"origin", "local"}}, a.rejected_local);
    w.sample({{"origin", "peer"}}, a.rejected_peer);
    w.counter("gsio_ledger_commits_total", "Store transactions committed (each one fsync'd).",
              a.commits);
    w.counter("gsio_ledger_orphans_reappended_total",
              "This node's entries re-appended on the tip after a reorg orphaned them.",
              a.reappended);
    w.counter("gsio_ledger_reorgs_total", "Switches of the canonical chain to another branch.",
              a.reorgs);
    if (a.append_latency) {
      w.family("gsio_ledger_append_latency_seconds", metric_type::histogram,
               "Seconds from a local add reaching the ledger to its entry being on disk.");
      w.sample({}, *a.append_latency);
    }
    if (a.commit_batch) {
      w.family("gsio_ledger_commit_batch_entries", metric_type::histogram,
               "Entries per group commit of local adds.");
      w.sample({}, *a.commit_batch);
    }
  }

  auto peers = a.peers_by_link;
  with_known_keys(peers, {"relay", "direct"});
  w.family("gsio_peers", metric_type::gauge,
           "Other nodes this node knows, by the link it last heard them on.");
  write_table(w, "link", peers);

  auto links = a.links_by_kind;
  with_known_keys(links, {"relay", "direct", "inbound"});
  w.family("gsio_p2p_links", metric_type::gauge,
           "Open P2P links: relay, direct (dialed by this node), inbound (/p2p sockets).");
  write_table(w, "kind", links);
  w.gauge("gsio_relay_link_up", "1 while a link to the relay is open, else 0.",
          links["relay"] > 0 ? 1.0 : 0.0);

  std::initializer_list<std::string_view> p2p_types = {
    net::to_string(net::p2p_type::node_announce),
    net::to_string(net::p2p_type::node_list_request),
    net::to_string(net::p2p_type::node_list_response),
    net::to_string(net::p2p_type::entry_announce),
    net::to_string(net::p2p_type::entry_request),
    net::to_string(net::p2p_type::entry_response),
    net::to_string(net::p2p_type::ledger_sync_request),
    net::to_string(net::p2p_type::ledger_sync_response)};
  auto received = a.p2p_received_by_type;
  with_known_keys(received, p2p_types);
  w.family("gsio_p2p_messages_received_total", metric_type::counter,
           "P2P messages handled, by message type (after dropping duplicates).");
  write_table(w, "type", received);
  auto sent = a.p2p_sent_by_type;
  with_known_keys(sent, p2p_types);
  w.family("gsio_p2p_messages_sent_total", metric_type::counter,
           "P2P messages sent, by message type.");
  write_table(w, "type", sent);
  w.family("gsio_p2p_messages_dropped_total", metric_type::counter,
           "P2P messages not handled: duplicate, not_for_us (addressed to another node), "
           "malformed, other_protocol (from a node announcing another protocol version).");
  w.sample({{"reason", "duplicate"}}, a.p2p_duplicates);
  w.sample({{"reason", "not_for_us"}}, a.p2p_not_for_us);
  w.sample({{"reason", "malformed"}}, a.p2p_malformed);
  w.sample({{"reason", "other_protocol"}}, a.p2p_other_protocol);
  w.gauge("gsio_p2p_other_protocol_nodes",
          "Nodes whose last NodeAnnounce named another protocol version; this node does not sync "
          "with them.",
          static_cast<double>(a.other_protocol_nodes));
  w.family("gsio_sync_entries_received_total", metric_type::counter,
           "Entries received from peers: via=sync (pull responses) or announce (pushed).");
  w.sample({{"via", "sync"}}, a.entries_received_sync);
  w.sample({{"via", "announce"}}, a.entries_received_announce);
  w.counter("gsio_sync_entries_sent_total", "Entries sent to peers in sync responses.",
            a.entries_sent_sync);

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

std::string args_of(const std::string& single_json) {
  std::string out;
  out.reserve(single_json.size() + 2);
  out += '[';
  out += single_json;
  out += ']';
  return out;
}

}  // namespace

// Handler callbacks run on the io threads. Session actors hold the server through a pointer that
// owns this frontend: the server's sockets and strands belong to `io`, so the io_context must
// outlive the last session that can still touch the server, which may be after the gateway quit.
struct gateway_frontend : net::handler, std::enable_shared_from_this<gateway_frontend> {
  gateway_frontend(caf::actor_system& sys, gateway_options opts, ledger_actor ledger,
                   peer_registry_actor registry, sync_coordinator_actor coordinator)
    : system(sys),
      options(std::move(opts)),
      ledger(std::move(ledger)),
      registry(std::move(registry)),
      coordinator(std::move(coordinator)),
      work(boost::asio::make_work_guard(io)),
      started_ms(util::now_unix_ms()) {}

  ~gateway_frontend() override { join(); }

  caf::actor_system& system;
  gateway_options options;
  ledger_actor ledger;
  peer_registry_actor registry;
  sync_coordinator_actor coordinator;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  std::shared_ptr<net::server> server;
  std::vector<std::thread> threads;
  std::int64_t started_ms;

  // Written only by the gateway actor while it collects a metrics refresh; copied to `scraped`
  // once every actor answered (or timed out).
  actor_metrics collecting;

  struct socket_entry {
    client_session_actor session;
    std::string nsp;
  };

  mutable std::mutex mtx;  // guards everything below
  std::unordered_map<net::socket_id, socket_entry> sessions;
  std::map<std::string, std::uint64_t> sockets_by_namespace;
  tip_info tip;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  bool listening = false;
  actor_metrics scraped;  // what /metrics serves

  void start() {
    net::server_options so;
    so.host = options.host;
    so.port = options.port;
    so.namespaces = {"/", std::string{net::p2p_socketio::nsp}};
    so.ping_interval = options.ping_interval;
    so.ping_timeout = options.ping_timeout;
    so.connect_timeout = options.connect_timeout;
    so.max_payload = options.max_payload;
    so.max_buffered_bytes = options.max_buffered_bytes;
    so.max_connections = options.max_connections;
    so.cors_origin = options.cors_origin;
    so.allowed_hosts = options.allowed_hosts;
    if (!options.p2p_token.empty())
      so.admit = [token = options.p2p_token](const std::string& nsp, const std::string& auth_json) {
        return nsp != net::p2p_socketio::nsp || net::p2p_socketio::auth_matches(auth_json, token)
                 ? std::string{}
                 : std::string{"unauthorized: /p2p needs the network token as auth {\"token\": ...}"};
      };
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (const auto& nsp : so.namespaces)
        sockets_by_namespace[nsp] = 0;
    }
    server = std::make_shared<net::server>(io, so, *this);
    server->start();
    {
      std::lock_guard<std::mutex> guard{mtx};
      listening = true;
    }
    for (unsigned i = 0; i < std::max(1u, options.io_threads); ++i)
      threads.emplace_back([this] { io.run(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      listening = false;
    }
    if (server)
      server->stop();
    work.reset();
    std::vector<client_session_actor> remaining;
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& [id, entry] : sessions)
        remaining.push_back(entry.session);
      sessions.clear();
      for (auto& [nsp, count] : sockets_by_namespace)
        count = 0;
    }
    for (auto& session : remaining)
      caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
    join();
  }

  void join() {
    for (auto& t : threads)
      if (t.joinable()) {
        if (t.get_id() == std::this_thread::get_id())
          t.detach();
        else
          t.join();
      }
    threads.clear();
  }

  void on_connect(const net::socket_info& info) override {
    auto session = system.spawn(client_session, info,
                                std::shared_ptr<net::server>{shared_from_this(), server.get()},
                                ledger, registry, coordinator, options.session);
    std::lock_guard<std::mutex> guard{mtx};
    sessions.emplace(info.id, socket_entry{std::move(session), info.nsp});
    ++sockets_by_namespace[info.nsp];
    ++connects;
    log::debug("gateway", "socket ", info.id, " joined ", info.nsp, " from ", info.remote_address);
  }

  void on_event(net::socket_id id, std::string event, net::sio_args args,
                std::optional<std::uint64_t> ack_id) override {
    client_session_actor session;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto it = sessions.find(id);
      if (it == sessions.end())
        return;
      session = it->second.session;
    }
    caf::anon_send(session, event_atom::value,
                   client_event{std::move(event), std::move(args.json),
                                std::move(args.attachments), ack_id.has_value(),
                                ack_id.value_or(0)});
  }

  void on_disconnect(net::socket_id id, net::disconnect_reason reason) override {
    client_session_actor session;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto it = sessions.find(id);
      if (it == sessions.end())
        return;
      session = std::move(it->second.session);
      --sockets_by_namespace[it->second.nsp];
      sessions.erase(it);
      ++disconnects;
    }
    log::debug("gateway", "socket ", id, " left: ", net::to_string(reason));
    // Not exit_reason::normal: actors ignore that one, and a session waiting for an answer
    // would linger (and hold up shutdown) until the answer or its timeout came.
    caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  }

  net::http_response on_http(const net::http_request& req) override {
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (path == "/health")
      return health();
    if (req.method != "GET" && req.method != "HEAD")
      return {405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}}};
    if (path == "/health/live")
      return json_response(200, "{\"status\":\"live\"}");
    if (path == "/health/ready")
      return readiness();
    if (path == "/metrics")
      return metrics_response();
    if (options.web_dir.empty())
      return {404, "text/plain; charset=utf-8", "not found\n", {}};
    return net::serve_static(options.web_dir, req.target);
  }

  net::http_response health() const {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    {
      std::lock_guard<std::mutex> guard{mtx};
      w.StartObject();
      w.Key("status");
      w.String("ok");
      w.Key("protocol");
      w.Uint64(net::protocol_version);
      w.Key("node_id");
      w.String(tip.node_id.c_str());
      w.Key("height");
      w.Uint64(tip.height);
      w.Key("tip_hash");
      w.String(tip.tip_hash.c_str());
      w.Key("entries");
      w.Uint64(tip.entries);
      w.Key("sessions");
      w.Uint64(sessions.size());
      w.Key("uptime_ms");
      w.Int64(util::now_unix_ms() - started_ms);
      w.EndObject();
    }
    net::http_response r;
    r.content_type = "application/json";
    r.body = buf.GetString();
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  static net::http_response json_response(unsigned status, std::string body) {
    net::http_response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  // Ready once the ledger has answered (it is loaded and its actor runs) and the listener is
  // open; 503 before and while shutting down, so a load balancer stops sending clients here.
  net::http_response readiness() const {
    bool ledger_loaded = false;
    bool is_listening = false;
    {
      std::lock_guard<std::mutex> guard{mtx};
      ledger_loaded = scraped.ledger_answered;
      is_listening = listening;
    }
    const bool ready = ledger_loaded && is_listening;
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    w.StartObject();
    w.Key("status");
    w.String(ready ? "ready" : "not_ready");
    w.Key("ledger_loaded");
    w.Bool(ledger_loaded);
    w.Key("listening");
    w.Bool(is_listening);
    w.EndObject();
    return json_response(ready ? 200 : 503, buf.GetString());
  }

  // Renders the last actor snapshot with the server's live counters; takes the mutex only to
  // copy, never waits for an actor.
  net::http_response metrics_response() const {
    live_metrics live;
    live.server = server ? server->stats() : net::server_stats{};
    live.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - process_start).count();
    actor_metrics snapshot;
    {
      std::lock_guard<std::mutex> guard{mtx};
      snapshot = scraped;
      live.sockets_by_namespace = sockets_by_namespace;
      live.connects = connects;
      live.disconnects = disconnects;
    }
    net::http_response r;
    r.content_type = std::string{util::prometheus::text_writer::content_type};
    r.body = render_metrics(snapshot, live);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  }

  std::string inspect_json(const gateway_state& st) const {
    auto stats = server ? server->stats() : net::server_stats{};
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    std::lock_guard<std::mutex> guard{mtx};
    w.StartObject();
    w.Key("listen");
    w.String((options.host + ":" + std::to_string(server ? server->port() : 0)).c_str());
    w.Key("io_threads");
    w.Uint(static_cast<unsigned>(threads.size()));
    w.Key("sessions");
    w.Uint64(sessions.size());
    w.Key("connects");
    w.Uint64(connects);
    w.Key("disconnects");
    w.Uint64(disconnects);
    w.Key("engine_sessions");
    w.Uint64(stats.engine_sessions);
    w.Key("polling_sessions");
    w.Uint64(stats.polling_sessions);
    w.Key("websocket_sessions");
    w.Uint64(stats.websocket_sessions);
    w.Key("packets_in");
    w.Uint64(stats.packets_in);
    w.Key("packets_out");
    w.Uint64(stats.packets_out);
    w.Key("protocol_errors");
    w.Uint64(stats.protocol_errors);
    w.Key("http_connections");
    w.Uint64(stats.http_connections);
    w.Key("connections_refused");
    w.Uint64(stats.connections_refused);
    w.Key("broadcasts");
    w.Uint64(st.broadcasts);
    w.Key("reorgs");
    w.Uint64(st.reorgs);
    w.EndObject();
    return buf.GetString();
  }
};

namespace {

// One metrics refresh: asks the ledger, the coordinator and the registry for their inspect JSON
// and publishes the snapshot once all three answered or timed out. The next refresh is scheduled
// only then, so refreshes never overlap, and a slow actor delays metrics, never a scrape.
void refresh_metrics(instrumented<gateway_actor, gateway_state> self) {
  auto fe = self->state.frontend;
  self->state.metrics_replies_pending = 3;
  auto done = [self, fe] {
    if (--self->state.metrics_replies_pending != 0)
      return;
    fe->collecting.broadcasts = self->state.broadcasts;
    {
      std::lock_guard<std::mutex> guard{fe->mtx};
      fe->scraped = fe->collecting;
    }
    self->delayed_send(self, metrics_refresh_interval, tick_atom::value);
  };
  auto failed = [done](const char* who) {
    return [done, who](const caf::error& err) {
      log::debug("gateway", "metrics: no inspect reply from the ", who, ": ", caf::to_string(err));
      done();
    };
  };
  self->request(fe->ledger, metrics_request_timeout, inspect_atom::value)
    .then(
      [fe, done](const std::string& json) {
        parse_ledger_inspect(json, fe->collecting);
        done();
      },
      failed("ledger"));
  self->request(fe->coordinator, metrics_request_timeout, inspect_atom::value)
    .then(
      [fe, done](const std::string& json) {
        parse_coordinator_inspect(json, fe->collecting);
        done();
      },
      failed("sync coordinator"));
  self->request(fe->registry, metrics_request_timeout, inspect_atom::value)
    .then(
      [fe, done](const std::string& json) {
        parse_registry_inspect(json, fe->collecting);
        done();
      },
      failed("peer registry"));
}

}  // namespace

gateway_actor::behavior_type gateway(instrumented<gateway_actor, gateway_state> self,
                                     gateway_options options, ledger_actor ledger,
                                     peer_registry_actor registry,
                                     sync_coordinator_actor coordinator, tip_info initial_tip) {
  auto frontend = std::make_shared<gateway_frontend>(self->system(), std::move(options), ledger,
                                                     std::move(registry), std::move(coordinator));
  frontend->tip = std::move(initial_tip);
  self->state.frontend = frontend;
  try {
    frontend->start();
    log::info("gateway", "listening on http://", frontend->options.host, ":",
              frontend->server->port());
    self->attach_functor([frontend](const caf::error&) { frontend->stop(); });
    self->send(ledger, subscribe_atom::value, caf::actor_cast<ledger_listener_actor>(self));
    self->send(self, tick_atom::value);  // first metrics snapshot right away
  } catch (const std::exception& ex) {
    auto where = frontend->options.host + ":" + std::to_string(frontend->options.port);
    log::error("gateway", "cannot listen on ", where, ": ", ex.what());
    frontend->stop();
    // The handlers below never run once the actor has quit.
    self->quit(caf::make_error(caf::sec::cannot_open_port, "cannot listen on " + where));
  }
  return {
    [=](appended_atom, const std::vector<std::string>& entries, tip_info& tip) {
      auto& fe = *self->state.frontend;
      {
        std::lock_guard<std::mutex> guard{fe.mtx};
        fe.tip = std::move(tip);
      }
      std::vector<net::sio_args> messages;
      messages.reserve(entries.size());
      for (auto& entry : entries)
        messages.push_back(net::sio_args{args_of(entry), {}});
      fe.server->broadcast_each("/", "ledger_entry_added", messages);
      self->state.broadcasts += entries.size();
    },
    [=](reorg_atom, const reorg_event& ev) {
      auto& fe = *self->state.frontend;
      {
        std::lock_guard<std::mutex> guard{fe.mtx};
        fe.tip.height = ev.height;
        fe.tip.tip_hash = ev.tip_hash;
      }
      // A switch to a long branch would make one event too big for a client's send buffer (and
      // cut the client off): then the event says `partial`, without the entries, and clients
      // fetch the new branch from fork_height with get_ledger.
      std::size_t bytes = 0;
      for (const auto& id : ev.removed_ids)
        bytes += id.size() + 3;
      for (const auto& entry : ev.added)
        bytes += entry.size() + 1;
      const bool partial = bytes > fe.options.max_reorg_push_bytes;
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      w.StartObject();
      w.Key("fork_height");
      w.Uint64(ev.fork_height);
      w.Key("removed");
      w.StartArray();
      for (std::size_t i = 0; !partial && i < ev.removed_ids.size(); ++i)
        w.String(ev.removed_ids[i].c_str());
      w.EndArray();
      w.Key("height");
      w.Uint64(ev.height);
      w.Key("tip_hash");
      w.String(ev.tip_hash.c_str());
      if (partial) {
        w.Key("partial");
        w.Bool(true);
      }
      w.EndObject();
      std::string body = buf.GetString();
      // Splice the added entries (already JSON) in without re-parsing them.
      body.pop_back();
      body += ",\"added\":[";
      for (std::size_t i = 0; !partial && i < ev.added.size(); ++i) {
        if (i)
          body += ',';
        body += ev.added[i];
      }
      body += "]}";
      fe.server->broadcast("/", "ledger_reorg", net::sio_args{args_of(body), {}});
      ++self->state.reorgs;
    },
    [=](get_atom) { return self->state.frontend->server->port(); },
    [=](inspect_atom) {
      return inspect_with_vitals(self, self->state.frontend->inspect_json(self->state));
    },
    [=](tick_atom) { refresh_metrics(self); },
    [=](sessions_atom) {
      auto& fe = *self->state.frontend;
      std::vector<client_session_actor> out;
      std::lock_guard<std::mutex> guard{fe.mtx};
      out.reserve(fe.sessions.size());
      for (auto& [id, entry] : fe.sessions)
        out.push_back(entry.session);
      return out;
    },
  };
}

}  // namespace gsio::actors
