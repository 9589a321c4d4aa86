// Scenario (a), ingest: C Socket.IO clients on one io_context, each keeping W add_ledger_entry
// requests with acks in flight, against any server that speaks the client API of
// docs/PROTOCOL.md §2 (gsio-node, or the Node.js reference in bench/peers/node-server).
// With --author-key, against a private network's node (§8): every client proves the author's key
// and every add carries an author block, so the node verifies one more signature per entry.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "bench/common.hpp"
#include "bench/raw_sio_peer.hpp"
#include "crypto/identity.hpp"
#include "ledger/entry.hpp"
#include "ledger/membership.hpp"
#include "ledger/validation.hpp"
#include "util/clock.hpp"
#include "util/options.hpp"

namespace gsio::bench {

namespace {

namespace asio = boost::asio;

struct ingest_options {
  std::string url;
  std::uint32_t clients = 32;
  std::uint32_t window = 1;
  std::uint64_t duration_s = 10;
  std::uint64_t warmup_s = 1;
  std::uint64_t connect_timeout_ms = 10000;
  std::uint64_t drain_timeout_ms = 5000;
  std::uint64_t server_pid = 0;  // when set, the server's CPU use inside the window is reported
  std::string author_key;        // a key file: authenticate as that author and sign every add
};

// What one connection did. The io_context runs on this one thread only (the machine's other cores
// belong to the server under test), so the callbacks of all clients and the controller's timers
// never run concurrently and plain counters suffice.
struct client_stats {
  std::uint64_t sent = 0;
  std::uint64_t acked_total = 0;
  std::uint64_t acked_measured = 0;  // acks that arrived inside the measurement window
  std::uint64_t refused = 0;         // acks carrying {error}
  std::uint64_t broadcasts = 0;      // ledger_entry_added events received
  std::uint64_t outstanding = 0;
  std::vector<std::uint32_t> latency_us;  // of measured acks
  std::string last_ack;  // the newest acked entry, for the id-versus-clock check in report()
  bool verified_first = false;
  std::string first_problem;  // a refused add, an invalid entry, an unexpected close
};

enum class run_phase : int { connecting, warmup, measuring, draining, closing };

class ingest_run {
public:
  ingest_run(ingest_options options, std::optional<crypto::identity> author)
      : options_(std::move(options)), author_(std::move(author)), work_(asio::make_work_guard(io_)),
        timer_(io_), stats_(options_.clients), server_cpu_(options_.server_pid) {}

  int run() {
    start_clients();
    io_.run();
    // The io_context has stopped: no callback can run any more, so the clients may go.
    clients_.clear();
    return report();
  }

private:
  void start_clients() {
    clients_.reserve(options_.clients);
    for (std::uint32_t i = 0; i < options_.clients; ++i) {
      raw_sio_callbacks cb;
      // An author's client is ready once its proof is acknowledged, after the challenge that a
      // private network's node sends right after CONNECT.
      cb.on_connect = [this] {
        if (!author_)
          client_ready();
      };
      // ledger_entry_added goes to every client for every entry: counted, not parsed.
      cb.on_event = [this, i](std::string_view event, std::string_view array) {
        if (event == "ledger_entry_added")
          ++stats_[i].broadcasts;
        else if (event == "challenge" && author_)
          answer_challenge(i, array);
      };
      cb.on_close = [this, i](std::string reason) { on_client_closed(i, std::move(reason)); };
      clients_.push_back(std::make_unique<raw_sio_peer>(io_, options_.url, std::move(cb)));
    }
    for (auto& c : clients_)
      c->start();
    timer_.expires_after(std::chrono::milliseconds(options_.connect_timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || phase_.load() != run_phase::connecting)
        return;
      fail("only " + std::to_string(connected_.load()) + " of " +
           std::to_string(options_.clients) + " clients connected to " + options_.url +
           " within " + std::to_string(options_.connect_timeout_ms) + " ms");
    });
  }

  void client_ready() {
    if (++connected_ == options_.clients)
      asio::post(io_, [this] { begin_load(); });
  }

  // authenticate {key, sig}: the author's signature over this connection's challenge.
  void answer_challenge(std::uint32_t i, std::string_view array) {
    rapidjson::Document doc;
    doc.Parse(array.data(), array.size());
    auto text = [&doc](const char* name) -> std::string {
      if (doc.HasParseError() || !doc.IsArray() || doc.Size() < 2 || !doc[1].IsObject())
        return {};
      auto it = doc[1].FindMember(name);
      return it != doc[1].MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string{};
    };
    network_id_ = text("network_id");
    const auto digest = ledger::client_proof_digest(network_id_, text("node_id"), text("challenge"), author_->node_id());
    const std::string proof = "{\"key\":\"" + author_->node_id() + "\",\"sig\":\"" + author_->sign_hash(digest) + "\"}";
    clients_[i]->emit("authenticate", proof, [this, i](const std::string& ack) {
      if (ack.find("\"error\"") != std::string::npos)
        return fail("client " + std::to_string(i) + ": the node refused the author's proof: " + ack);
      client_ready();
    });
  }

  // Runs once every client has joined: the load starts for all of them together.
  void begin_load() {
    if (phase_.load() != run_phase::connecting)
      return;
    timer_.cancel();
    phase_ = run_phase::warmup;
    std::fprintf(stderr, "gsio-bench: %u clients connected; warming up %llu s, measuring %llu s\n",
                 options_.clients, static_cast<unsigned long long>(options_.warmup_s),
                 static_cast<unsigned long long>(options_.duration_s));
    for (std::uint32_t i = 0; i < options_.clients; ++i)
      for (std::uint32_t k = 0; k < options_.window; ++k)
        send_one(i);
    run_measurement_window(timer_, options_.warmup_s, options_.duration_s, [this] {
      cpu_at_start_ = process_cpu_seconds();
      server_cpu_.start();
      measure_start_ = steady::now();
      phase_ = run_phase::measuring;
    }, [this] { begin_drain(); });
  }

  // Emits one add on client i. Called on client i's callbacks, or from begin_load before any of
  // them can fire for an ack.
  void send_one(std::uint32_t i) {
    auto& s = stats_[i];
    const auto seq = s.sent++;
    ++s.outstanding;
    // Small, fixed-shape data, already canonical (sorted keys) so both servers do the same work.
    std::string data = "{\"client\":" + std::to_string(i) + ",\"note\":\"gsio-bench ingest\"," +
                       "\"seq\":" + std::to_string(seq) + "}";
    if (author_) {
      // A block (key, time) appears once on a chain: the times of all clients strictly increase.
      last_author_us_ = std::max(util::now_unix_us(), last_author_us_ + 1);
      data = ledger::add_author_block(*author_, network_id_, data, last_author_us_);
    }
    const auto sent_at = steady::now();
    const bool queued = clients_[i]->emit(
      "add_ledger_entry", data,
      [this, i, sent_at](const std::string& ack) { on_ack(i, sent_at, ack); });
    if (!queued) {
      --s.outstanding;
      --s.sent;
      // Closed or queue full; the close (if any) is reported through on_close.
      if (s.first_problem.empty() && phase_.load() < run_phase::draining)
        s.first_problem = "client " + std::to_string(i) + ": emit refused (closed or queue full)";
    }
  }

  void on_ack(std::uint32_t i, steady::time_point sent_at, const std::string& ack) {
    const auto now = steady::now();
    auto& s = stats_[i];
    --s.outstanding;
    ++s.acked_total;
    // The ack is [entry] or [{error}]. Checking for "error" by text keeps the hot path cheap; the
    // first entry per client is parsed and fully validated (hash, signature, shape), which proves
    // that the server builds real entries without making the client the bottleneck.
    if (ack.find("\"error\"") != std::string::npos) {
      ++s.refused;
      if (s.first_problem.empty())
        s.first_problem = "client " + std::to_string(i) + ": add refused: " + ack;
    } else {
      if (!s.verified_first) {
        s.verified_first = true;
        check_entry(i, ack);
      }
      s.last_ack = ack;
    }
    const auto p = phase_.load();
    if (p == run_phase::measuring) {
      ++s.acked_measured;
      s.latency_us.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - sent_at).count()));
    }
    if (p == run_phase::warmup || p == run_phase::measuring) {
      send_one(i);
    } else if (p == run_phase::draining && s.outstanding == 0) {
      if (++drained_ == options_.clients)
        asio::post(io_, [this] { close_all(); });
    }
  }

  void check_entry(std::uint32_t i, const std::string& ack_json) {
    rapidjson::Document doc;
    doc.Parse(ack_json.data(), ack_json.size());
    ledger::entry e;
    std::string error;
    if (doc.HasParseError() || !doc.IsArray() || doc.Empty()) {
      error = "ack is not a JSON array with an entry: " + ack_json.substr(0, 200);
    } else if (ledger::from_json(doc[0], e, error)) {
      if (auto bad = ledger::validate_integrity(e))
        error = bad->reason;
    }
    if (error.empty()) {
      ++verified_entries_;
    } else if (stats_[i].first_problem.empty()) {
      stats_[i].first_problem = "client " + std::to_string(i) + ": invalid entry: " + error;
    }
  }

  void begin_drain() {
    measure_end_ = steady::now();
    wall_at_end_ = std::chrono::system_clock::now();
    cpu_at_end_ = process_cpu_seconds();
    server_cpu_.stop();
    phase_ = run_phase::draining;
    // Each client counts itself drained on its last ack; those with nothing in flight now are
    // drained already. In-flight acks are waited for so the server is idle before the next run.
    for (std::uint32_t i = 0; i < options_.clients; ++i)
      if (stats_[i].outstanding == 0 && ++drained_ == options_.clients)
        asio::post(io_, [this] { close_all(); });
    timer_.expires_after(std::chrono::milliseconds(options_.drain_timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec)
        close_all();
    });
  }

  void close_all() {
    if (phase_.exchange(run_phase::closing) == run_phase::closing)
      return;
    timer_.cancel();
    for (auto& c : clients_)
      c->close();
    // Let the WebSocket closes go out, but do not wait on a server that stopped answering.
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([this](boost::system::error_code) { io_.stop(); });
    work_.reset();
  }

  void on_client_closed(std::uint32_t i, std::string reason) {
    if (phase_.load() == run_phase::closing) {
      // Every close is reported once: when the last one is in, there is nothing to wait for.
      if (++closed_ == options_.clients)
        io_.stop();
      return;
    }
    if (stats_[i].first_problem.empty())
      stats_[i].first_problem = "client " + std::to_string(i) + " closed: " + reason;
    // A connection lost before the run ends spoils the run: stop at once instead of measuring
    // a different client count.
    asio::post(io_, [this, i] { fail(stats_[i].first_problem); });
  }

  void fail(std::string why) {
    if (!failure_.empty())
      return;
    failure_ = std::move(why);
    if (phase_.load() == run_phase::measuring || phase_.load() == run_phase::warmup) {
      measure_end_ = steady::now();
      wall_at_end_ = std::chrono::system_clock::now();
      cpu_at_end_ = process_cpu_seconds();
    }
    close_all();
  }

  // How far the newest acked entry's id (creator-unix_us) runs ahead of the wall clock at the
  // end of the window, in milliseconds. PROTOCOL §3 makes the microsecond strictly increasing per
  // creator, so a node adding more than 1,000,000 entries/s would have to move its ids ahead of
  // the clock, and peers refuse entries more than 5 minutes ahead (future_timestamp). Protocol 1
  // counted milliseconds, and this lead was what bounded sustained ingest.
  double id_clock_lead_ms() const {
    std::int64_t newest = -1;
    for (const auto& s : stats_) {
      if (s.last_ack.empty())
        continue;
      rapidjson::Document doc;
      doc.Parse(s.last_ack.data(), s.last_ack.size());
      ledger::entry e;
      std::string error;
      if (!doc.HasParseError() && doc.IsArray() && !doc.Empty() && ledger::from_json(doc[0], e, error))
        newest = std::max(newest, e.unix_us());
    }
    if (newest < 0 || wall_at_end_ == std::chrono::system_clock::time_point{})
      return 0;
    const auto wall_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           wall_at_end_.time_since_epoch()).count();
    return static_cast<double>(newest - static_cast<std::int64_t>(wall_us)) / 1000.0;
  }

  int report() {
    std::uint64_t acked = 0, refused = 0, broadcasts = 0, sent = 0;
    std::vector<std::uint32_t> latencies;
    std::string problem = failure_;
    for (auto& s : stats_) {
      acked += s.acked_measured;
      refused += s.refused;
      broadcasts += s.broadcasts;
      sent += s.sent;
      latencies.insert(latencies.end(), s.latency_us.begin(), s.latency_us.end());
      if (problem.empty() && !s.first_problem.empty())
        problem = s.first_problem;
    }
    std::sort(latencies.begin(), latencies.end());
    const bool measured = measure_start_ != steady::time_point{} &&
                          measure_end_ > measure_start_;
    const double window_s = measured ? seconds_between(measure_start_, measure_end_) : 0.0;
    const double rate = window_s > 0 ? static_cast<double>(acked) / window_s : 0.0;
    auto ms = [](std::uint32_t us) { return round_to(us / 1000.0, 3); };
    print_json([&](json_writer& w) {
      w.StartObject();
      w.Key("scenario"); w.String("ingest");
      w.Key("url"); w.String(options_.url.c_str());
      w.Key("clients"); w.Uint(options_.clients);
      w.Key("author_signed"); w.Bool(author_.has_value());
      w.Key("window"); w.Uint(options_.window);
      w.Key("duration_s"); w.Double(round_to(window_s, 3));
      w.Key("warmup_s"); w.Uint64(options_.warmup_s);
      w.Key("acked"); w.Uint64(acked);
      w.Key("entries_per_s"); w.Double(round_to(rate, 1));
      w.Key("latency_ms");
      w.StartObject();
      w.Key("p50"); w.Double(ms(percentile(latencies, 50)));
      w.Key("p99"); w.Double(ms(percentile(latencies, 99)));
      w.Key("p999"); w.Double(ms(percentile(latencies, 99.9)));
      w.Key("max"); w.Double(ms(latencies.empty() ? 0 : latencies.back()));
      w.EndObject();
      w.Key("sent_total"); w.Uint64(sent);
      w.Key("refused"); w.Uint64(refused);
      w.Key("verified_entries"); w.Uint64(verified_entries_.load());
      // Every entry is pushed to every client (PROTOCOL §2), so each client receives
      // broadcasts ≈ clients × entries: the bench client's own CPU use shows whether it, rather
      // than the server, was the limit.
      w.Key("broadcasts_received"); w.Uint64(broadcasts);
      w.Key("id_clock_lead_ms"); w.Double(round_to(id_clock_lead_ms(), 3));
      w.Key("client_cpu_util");
      w.Double(window_s > 0 ? round_to((cpu_at_end_ - cpu_at_start_) / window_s, 2) : 0.0);
      if (server_cpu_.valid()) {
        w.Key("server_cpu_util"); w.Double(server_cpu_.cores(window_s));
      }
      write_error(w, problem);
      w.EndObject();
    });
    if (!problem.empty()) {
      std::fprintf(stderr, "gsio-bench ingest: %s\n", problem.c_str());
      return 1;
    }
    if (acked == 0) {
      std::fprintf(stderr, "gsio-bench ingest: no add was acknowledged inside the window\n");
      return 1;
    }
    return 0;
  }

  ingest_options options_;
  std::optional<crypto::identity> author_;
  std::string network_id_;          // from the first challenge
  std::int64_t last_author_us_ = 0;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;  // one phase at a time: connect, warm-up, measure, drain, close
  std::vector<client_stats> stats_;
  std::vector<std::unique_ptr<raw_sio_peer>> clients_;
  std::atomic<run_phase> phase_{run_phase::connecting};
  std::atomic<std::uint32_t> connected_{0};
  std::atomic<std::uint32_t> drained_{0};
  std::uint32_t closed_ = 0;  // clients closed after close_all()
  server_cpu_meter server_cpu_;
  std::atomic<std::uint64_t> verified_entries_{0};
  steady::time_point measure_start_{}, measure_end_{};
  std::chrono::system_clock::time_point wall_at_end_{};
  double cpu_at_start_ = 0, cpu_at_end_ = 0;
  std::string failure_;
};

}  // namespace

int run_ingest(int argc, char** argv) {
  ingest_options o;
  util::option_set options{
    "gsio-bench ingest",
    "Scenario (a): C clients on one io_context, each keeping W add_ledger_entry requests with\n"
    "acks in flight for the duration; prints {scenario, clients, window, duration_s, acked,\n"
    "entries_per_s, latency_ms: {p50, p99, p999, max}, ...}. Only acks that arrive inside the\n"
    "measurement window (after the warm-up) count."};
  options.add("url", "the server, http://host:port (required)", o.url)
    .add("clients", "concurrent Socket.IO connections", o.clients)
    .add("window", "add_ledger_entry requests in flight per client (1 = send after each ack)",
         o.window)
    .add("duration-s", "measurement window, seconds", o.duration_s)
    .add("warmup-s", "load before the window starts, not measured, seconds", o.warmup_s)
    .add("connect-timeout-ms", "how long all clients may take to connect", o.connect_timeout_ms)
    .add("drain-timeout-ms", "how long to wait for in-flight acks after the window",
         o.drain_timeout_ms)
    .add("server-pid", "the server's process id: report its CPU use inside the window",
         o.server_pid)
    .add("author-key", "a private network's author key file (gsio key create): every client proves it "
         "and every add carries its author block", o.author_key);
  switch (options.parse(argc, argv)) {
    case util::option_set::outcome::exit_ok: return 0;
    case util::option_set::outcome::exit_error: return 2;
    case util::option_set::outcome::proceed: break;
  }
  std::string problem;
  if (o.url.empty())
    problem = "--url is required (e.g. --url http://127.0.0.1:3000)";
  else if (o.url.rfind("http://", 0) != 0 && o.url.rfind("ws://", 0) != 0)
    problem = "--url must start with http:// or ws://";
  else if (o.clients == 0 || o.clients > 10000)
    problem = "--clients must be 1..10000";
  else if (o.window == 0 || o.window > 256)
    problem = "--window must be 1..256 (a node refuses more than 256 adds in flight per client)";
  else if (o.duration_s == 0)
    problem = "--duration-s must be at least 1";
  if (!problem.empty()) {
    std::fprintf(stderr, "gsio-bench ingest: %s\n", problem.c_str());
    return 2;
  }
  std::optional<crypto::identity> author;
  if (!o.author_key.empty()) {
    try {
      author = crypto::identity::load_file(o.author_key);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "gsio-bench ingest: --author-key: %s\n", ex.what());
      return 2;
    }
  }
  return ingest_run{std::move(o), std::move(author)}.run();
}

}  // namespace gsio::bench
