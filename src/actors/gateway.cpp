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

#include "actors/node_metrics.hpp"
#include "actors/p2p_session.hpp"
#include "net/p2p_message.hpp"
#include "net/p2p_socketio.hpp"
#include "net/sio_server.hpp"
#include "net/static_files.hpp"
#include "util/clock.hpp"
#include "util/json_object.hpp"
#include "util/log.hpp"
#include "util/prometheus.hpp"
#include "util/secret.hpp"

namespace gsio::actors {

namespace {

constexpr auto metrics_refresh_interval = std::chrono::seconds{1};
constexpr auto metrics_request_timeout = std::chrono::seconds{5};

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
    socket_session_actor session;
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
    so.broadcasts_need_opt_in = !options.access.network_id.empty() && options.access.members_only_reads;
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
    std::vector<socket_session_actor> remaining;
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
    // The session keeps the server alive through a pointer that also owns this frontend and its
    // io_context (see gateway.hpp).
    std::shared_ptr<net::server> for_session{shared_from_this(), server.get()};
    socket_session_actor session =
      info.nsp == net::p2p_socketio::nsp
        ? caf::actor_cast<socket_session_actor>(system.spawn(p2p_session, info, for_session, coordinator))
        : system.spawn(client_session, info, for_session, ledger, registry, coordinator, options.session,
                       options.access);
    std::lock_guard<std::mutex> guard{mtx};
    sessions.emplace(info.id, socket_entry{std::move(session), info.nsp});
    ++sockets_by_namespace[info.nsp];
    ++connects;
    log::debug("gateway", "socket ", info.id, " joined ", info.nsp, " from ", info.remote_address);
  }

  void on_event(net::socket_id id, std::string event, net::sio_args args,
                std::optional<std::uint64_t> ack_id) override {
    socket_session_actor session;
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
    socket_session_actor session;
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
    util::json_object status;
    {
      std::lock_guard<std::mutex> guard{mtx};
      status.text("status", "ok")
        .count("protocol", net::protocol_version)
        .text("node_id", tip.node_id)
        .count("height", tip.height)
        .text("tip_hash", tip.tip_hash)
        .count("entries", tip.entries)
        .count("sessions", sessions.size())
        .integer("uptime_ms", util::now_unix_ms() - started_ms)
        .object_or_null("network", !options.access.network_id.empty(), [this](util::json_object& n) {
          n.text("id", options.access.network_id).text("name", options.network_name);
        })
        .flag("open", options.access.network_id.empty());
      write_verification(status);
    }
    return json_response(200, status.finish());
  }

  // What of the chain is verified (hashes, links and signatures): all of it, or while the
  // background check of the stored entries runs (gsio-node --verify-on-start background), the
  // canonical entries up to verified_height. Caller holds mtx.
  void write_verification(util::json_object& status) const {
    const bool scraped_once = scraped.ledger.has_value();
    const auto total = scraped_once ? scraped.ledger->start_check_total : options.unverified_at_start;
    const bool running = scraped_once ? scraped.ledger->start_check_running : total > 0;
    const std::uint64_t verified_height = !running ? tip.height : scraped_once ? scraped.ledger->verified_height : 0;
    status.count("verified_height", verified_height)
      .object_or_null("start_check", true, [&](util::json_object& c) {
        c.text("mode", scraped_once ? scraped.ledger->start_check : total > 0 ? "background" : "full")
          .text("state", running ? "running" : "done")
          .count("verified", scraped_once ? scraped.ledger->start_check_verified : 0)
          .count("of", total);
      });
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
      ledger_loaded = scraped.ledger.has_value();
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
      std::chrono::duration<double>(util::process_uptime()).count();
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

  gateway_stats stats_of(const gateway_state& st) const {
    const auto server_stats = server ? server->stats() : net::server_stats{};
    gateway_stats s;
    s.listen = options.host + ":" + std::to_string(server ? server->port() : 0);
    s.io_threads = threads.size();
    {
      std::lock_guard<std::mutex> guard{mtx};
      s.sessions = sessions.size();
      s.connects = connects;
      s.disconnects = disconnects;
    }
    s.engine_sessions = server_stats.engine_sessions;
    s.polling_sessions = server_stats.polling_sessions;
    s.websocket_sessions = server_stats.websocket_sessions;
    s.packets_in = server_stats.packets_in;
    s.packets_out = server_stats.packets_out;
    s.protocol_errors = server_stats.protocol_errors;
    s.http_connections = server_stats.http_connections;
    s.connections_refused = server_stats.connections_refused;
    s.broadcasts = st.broadcasts;
    s.reorgs = st.reorgs;
    return s;
  }
};

namespace {

// One metrics refresh: asks the ledger, the coordinator and the registry for their statistics
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
      log::debug("gateway", "metrics: no statistics from the ", who, ": ", caf::to_string(err));
      done();
    };
  };
  self->request(fe->ledger, metrics_request_timeout, stats_atom::value)
    .then(
      [fe, done](ledger_stats& stats) {
        fe->collecting.ledger = std::move(stats);
        done();
      },
      failed("ledger"));
  self->request(fe->coordinator, metrics_request_timeout, stats_atom::value)
    .then(
      [fe, done](sync_stats& stats) {
        fe->collecting.sync = std::move(stats);
        done();
      },
      failed("sync coordinator"));
  self->request(fe->registry, metrics_request_timeout, peers_atom::value)
    .then(
      [fe, done](const std::vector<node_record>& nodes) {
        auto& by_link = fe->collecting.peers_by_link;
        by_link.clear();
        for (const auto& n : nodes)
          if (!n.is_self)
            ++by_link[n.link];
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
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) {
      return inspect_with_vitals(self, to_json(self->state.frontend->stats_of(self->state)));
    },
    [=](stats_atom) { return self->state.frontend->stats_of(self->state); },
    [=](tick_atom) { refresh_metrics(self); },
    [=](sessions_atom) {
      auto& fe = *self->state.frontend;
      std::vector<socket_session_actor> out;
      std::lock_guard<std::mutex> guard{fe.mtx};
      out.reserve(fe.sessions.size());
      for (auto& [id, entry] : fe.sessions)
        out.push_back(entry.session);
      return out;
    },
  };
}

}  // namespace gsio::actors
