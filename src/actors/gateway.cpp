#include "actors/gateway.hpp"

#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/sio_server.hpp"
#include "net/static_files.hpp"
#include "util/log.hpp"

namespace gsio::actors {

namespace {

std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
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

// Lives as long as anything still holds the server (sessions do), so a late reply from a session
// never touches a destroyed server. Handler callbacks run on the io threads.
struct gateway_frontend : net::handler {
  gateway_frontend(caf::actor_system& sys, gateway_options opts, ledger_actor ledger,
                   peer_registry_actor registry, sync_coordinator_actor coordinator)
    : system(sys),
      options(std::move(opts)),
      ledger(std::move(ledger)),
      registry(std::move(registry)),
      coordinator(std::move(coordinator)),
      work(boost::asio::make_work_guard(io)),
      started_ms(now_unix_ms()) {}

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

  mutable std::mutex mtx;  // guards everything below
  std::unordered_map<net::socket_id, client_session_actor> sessions;
  tip_info tip;
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;

  void start() {
    net::server_options so;
    so.host = options.host;
    so.port = options.port;
    so.namespaces = {"/", "/p2p"};
    so.ping_interval = options.ping_interval;
    so.ping_timeout = options.ping_timeout;
    so.connect_timeout = options.connect_timeout;
    so.max_payload = options.max_payload;
    so.max_buffered_bytes = options.max_buffered_bytes;
    so.max_connections = options.max_connections;
    so.cors_origin = options.cors_origin;
    server = std::make_shared<net::server>(io, so, *this);
    server->start();
    for (unsigned i = 0; i < std::max(1u, options.io_threads); ++i)
      threads.emplace_back([this] { io.run(); });
  }

  void stop() {
    if (server)
      server->stop();
    work.reset();
    std::vector<client_session_actor> remaining;
    {
      std::lock_guard<std::mutex> guard{mtx};
      for (auto& [id, session] : sessions)
        remaining.push_back(session);
      sessions.clear();
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
    auto session = system.spawn(client_session, info, server, ledger, registry, coordinator,
                                 options.session);
    std::lock_guard<std::mutex> guard{mtx};
    sessions.emplace(info.id, std::move(session));
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
      session = it->second;
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
      session = std::move(it->second);
      sessions.erase(it);
      ++disconnects;
    }
    log::debug("gateway", "socket ", id, " left: ", net::to_string(reason));
    caf::anon_send_exit(session, caf::exit_reason::normal);
  }

  net::http_response on_http(const net::http_request& req) override {
    auto path = std::string_view{req.target}.substr(0, req.target.find('?'));
    if (path == "/health")
      return health();
    if (req.method != "GET" && req.method != "HEAD")
      return {405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}}};
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
      w.Int64(now_unix_ms() - started_ms);
      w.EndObject();
    }
    net::http_response r;
    r.content_type = "application/json";
    r.body = buf.GetString();
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
    w.Key("broadcasts");
    w.Uint64(st.broadcasts);
    w.Key("reorgs");
    w.Uint64(st.reorgs);
    w.EndObject();
    return buf.GetString();
  }
};

gateway_actor::behavior_type gateway(gateway_actor::stateful_pointer<gateway_state> self,
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
      for (auto& entry : entries)
        fe.server->broadcast("/", "ledger_entry_added", net::sio_args{args_of(entry), {}});
      self->state.broadcasts += entries.size();
    },
    [=](reorg_atom, const reorg_event& ev) {
      auto& fe = *self->state.frontend;
      {
        std::lock_guard<std::mutex> guard{fe.mtx};
        fe.tip.height = ev.height;
        fe.tip.tip_hash = ev.tip_hash;
      }
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w{buf};
      w.StartObject();
      w.Key("fork_height");
      w.Uint64(ev.fork_height);
      w.Key("removed");
      w.StartArray();
      for (auto& id : ev.removed_ids)
        w.String(id.c_str());
      w.EndArray();
      w.Key("height");
      w.Uint64(ev.height);
      w.Key("tip_hash");
      w.String(ev.tip_hash.c_str());
      w.EndObject();
      std::string body = buf.GetString();
      // Splice the added entries (already JSON) in without re-parsing them.
      body.pop_back();
      body += ",\"added\":[";
      for (std::size_t i = 0; i < ev.added.size(); ++i) {
        if (i)
          body += ',';
        body += ev.added[i];
      }
      body += "]}";
      fe.server->broadcast("/", "ledger_reorg", net::sio_args{args_of(body), {}});
      ++self->state.reorgs;
    },
    [=](get_atom) { return self->state.frontend->server->port(); },
    [=](inspect_atom) { return self->state.frontend->inspect_json(self->state); },
  };
}

}  // namespace gsio::actors
