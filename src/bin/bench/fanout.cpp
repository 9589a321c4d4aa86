// Scenario (c), relay fan-out: R raw WebSocket peers on a relay (gsio-relay, or the Node `ws`
// reference in bench/peers/ws-relay), each announced as a node; S of them broadcast envelopes
// shaped like EntryAnnounce. A broadcast is complete when every other peer has received it, and
// each sender keeps --window broadcasts incomplete at a time (closed loop: the relay runs at its
// own pace and never has to drop a slow reader). The figure of merit is broadcast messages
// delivered per second (one per recipient).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bench/common.hpp"
#include "bench/raw_ws_peer.hpp"
#include "util/options.hpp"

namespace gsio::bench {

namespace {

namespace asio = boost::asio;

struct fanout_options {
  std::string url;                // one relay, or several (comma-separated): peer i on url i mod n
  std::vector<std::string> urls;  // `url`, split
  std::string token;
  std::uint32_t peers = 16;
  std::uint32_t senders = 0;  // 0 = every peer
  std::uint32_t window = 8;
  std::uint32_t payload_bytes = 600;
  std::uint64_t duration_s = 5;
  std::uint64_t warmup_s = 1;
  std::uint64_t connect_timeout_ms = 10000;
  std::uint64_t drain_timeout_ms = 5000;
  std::uint64_t server_pid = 0;  // the relay's, to report its CPU use inside the window
};

enum class phase : int { connecting, barrier, warmup, measuring, draining, closing };

// A broadcast still waiting for some recipients.
struct pending {
  std::uint64_t seq = UINT64_MAX;
  std::uint32_t remaining = 0;
  steady::time_point sent{};
  bool measured = false;
};

struct peer_state {
  std::string node_id;
  std::uint64_t next_seq = 0;
  std::uint64_t incomplete = 0;
  std::vector<pending> ring;  // indexed by seq % size; see send_one
  std::uint32_t barrier_seen = 0;
};

class fanout_run {
public:
  explicit fanout_run(fanout_options o)
      : o_(std::move(o)), work_(asio::make_work_guard(io_)), timer_(io_), peers_(o_.peers),
        server_cpu_(o_.server_pid) {
    std::mt19937_64 rng{std::random_device{}()};
    // Node ids look like real ones (64 hex digits): the relay compares them on every message.
    for (auto& p : peers_) {
      static constexpr char hex[] = "0123456789abcdef";
      p.node_id.resize(64);
      for (auto& c : p.node_id)
        c = hex[rng() & 0xF];
      // Recipients of one sender see its frames in order (one connection each way), so
      // completions are in order and window slots suffice; twice that is slack.
      p.ring.resize(2 * static_cast<std::size_t>(o_.window));
    }
    if (o_.senders == 0 || o_.senders > o_.peers)
      o_.senders = o_.peers;
    filler_.assign(o_.payload_bytes, 'x');
  }

  int run() {
    start_peers();
    io_.run();
    clients_.clear();
    return report();
  }

private:
  std::string envelope(std::uint32_t from, std::string_view type, const std::string& message_id,
                       const std::string& payload) const {
    return "{\"message_type\":\"" + std::string(type) + "\",\"message_id\":\"" + message_id +
           "\",\"sender_id\":\"" + peers_[from].node_id + "\",\"recipient_id\":\"\",\"payload\":" +
           payload + "}";
  }

  void start_peers() {
    for (std::uint32_t i = 0; i < o_.peers; ++i) {
      raw_ws_peer_callbacks cb;
      cb.on_open = [this, i] {
        // NodeAnnounce first: the relay forwards nothing from a connection before it.
        clients_[i]->send(envelope(i, "NodeAnnounce", "announce-" + peers_[i].node_id,
                                   "{\"node_id\":\"" + peers_[i].node_id +
                                     "\",\"address\":\"http://127.0.0.1:1\",\"height\":0,"
                                     "\"tip_hash\":\"\",\"entries\":0}"));
        if (++opened_ == o_.peers)
          asio::post(io_, [this] { barrier_round(); });
      };
      cb.on_message = [this, i](const std::string& text) { on_message(i, text); };
      cb.on_close = [this, i](std::string reason) {
        if (phase_ != phase::closing)
          fail("peer " + std::to_string(i) + " closed: " + reason);
        else if (++closed_ == o_.peers)
          io_.stop();  // every close is reported once; nothing left to wait for
      };
      clients_.push_back(std::make_unique<raw_ws_peer>(io_, o_.urls[i % o_.urls.size()], o_.token,
                                                       std::move(cb)));
    }
    for (auto& c : clients_)
      c->start();
    timer_.expires_after(std::chrono::milliseconds(o_.connect_timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && phase_ <= phase::barrier)
        fail("the peers did not all connect and see each other within " +
             std::to_string(o_.connect_timeout_ms) + " ms (" + std::to_string(opened_) + " of " +
             std::to_string(o_.peers) + " open)");
    });
  }

  // The relay registers a peer when it reads its NodeAnnounce, and there is no reply to wait
  // for. So every peer broadcasts a numbered barrier message; once every peer has received the
  // current round from all others, everyone is registered. A round that stalls (a broadcast
  // that overtook a registration) is retried with a new number.
  void barrier_round() {
    if (phase_ > phase::barrier)
      return;
    phase_ = phase::barrier;
    ++barrier_round_;
    for (auto& p : peers_)
      p.barrier_seen = 0;
    barrier_done_ = 0;
    for (std::uint32_t i = 0; i < o_.peers; ++i)
      clients_[i]->send(envelope(i, "NodeListRequest",
                                 "barrier-" + std::to_string(barrier_round_) + "-" +
                                   std::to_string(i), "{}"));
    retry_.emplace(io_);
    retry_->expires_after(std::chrono::milliseconds(500));
    retry_->async_wait([this](boost::system::error_code ec) {
      if (!ec)
        barrier_round();
    });
  }

  void on_message(std::uint32_t to, const std::string& text) {
    // The envelopes are ours, so the message_id is found by text, cheaply: "<sender>:<seq>" for
    // load, "barrier-<round>-<sender>" for the barrier.
    constexpr std::string_view key = "\"message_id\":\"";
    const auto at = text.find(key);
    if (at == std::string::npos)
      return;
    const char* id = text.c_str() + at + key.size();
    if (id[0] == 'b') {
      const auto round = std::strtoull(id + 8, nullptr, 10);
      if (phase_ == phase::barrier && round == barrier_round_ &&
          ++peers_[to].barrier_seen == o_.peers - 1 && ++barrier_done_ == o_.peers)
        asio::post(io_, [this] { begin_load(); });
      return;
    }
    if (id[0] < '0' || id[0] > '9')
      return;  // an announce
    char* end = nullptr;
    const auto from = static_cast<std::uint32_t>(std::strtoul(id, &end, 10));
    if (end == nullptr || *end != ':' || from >= o_.peers)
      return;
    const auto seq = std::strtoull(end + 1, nullptr, 10);
    ++received_;
    if (phase_ == phase::measuring)
      ++received_measured_;
    auto& sender = peers_[from];
    auto& slot = sender.ring[seq % sender.ring.size()];
    if (slot.seq != seq) {
      ++unexpected_;
      return;
    }
    if (--slot.remaining == 0) {
      --sender.incomplete;
      if (slot.measured)
        latency_us_.push_back(micros_since(slot.sent, steady::now()));
      slot.seq = UINT64_MAX;
      if (phase_ == phase::warmup || phase_ == phase::measuring)
        send_one(from);
      else if (phase_ == phase::draining)
        maybe_drained();
    }
  }

  void begin_load() {
    if (phase_ != phase::barrier)
      return;
    retry_->cancel();
    timer_.cancel();
    phase_ = phase::warmup;
    std::fprintf(stderr, "gsio-bench fanout: %u peers on %s see each other; %u senders, window %u\n",
                 o_.peers, o_.url.c_str(), o_.senders, o_.window);
    for (std::uint32_t s = 0; s < o_.senders; ++s)
      for (std::uint32_t k = 0; k < o_.window; ++k)
        send_one(s);
    run_measurement_window(timer_, o_.warmup_s, o_.duration_s, [this] {
      phase_ = phase::measuring;
      measure_start_ = steady::now();
      cpu_start_ = process_cpu_seconds();
      server_cpu_.start();
    }, [this] { begin_drain(); });
  }

  void send_one(std::uint32_t s) {
    auto& p = peers_[s];
    const auto seq = p.next_seq++;
    auto& slot = p.ring[seq % p.ring.size()];
    if (slot.seq != UINT64_MAX) {
      fail("internal: sender " + std::to_string(s) + " ran out of window slots");
      return;
    }
    slot.seq = seq;
    slot.remaining = o_.peers - 1;
    slot.sent = steady::now();
    slot.measured = phase_ == phase::measuring;
    ++p.incomplete;
    ++sent_;
    // Shaped like an EntryAnnounce: an entry-sized object the relay must carry but not read.
    std::string payload = "{\"entry\":{\"data\":\"" + filler_ + "\"},\"height\":" +
                          std::to_string(seq) + ",\"tip_hash\":\"\"}";
    if (!clients_[s]->send(envelope(s, "EntryAnnounce",
                                    std::to_string(s) + ":" + std::to_string(seq), payload)))
      fail("sender " + std::to_string(s) + ": send refused (closed or queue full)");
  }

  void begin_drain() {
    measure_end_ = steady::now();
    cpu_end_ = process_cpu_seconds();
    server_cpu_.stop();
    phase_ = phase::draining;
    timer_.expires_after(std::chrono::milliseconds(o_.drain_timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec)
        close_all();
    });
    maybe_drained();
  }

  void maybe_drained() {
    for (const auto& p : peers_)
      if (p.incomplete != 0)
        return;
    asio::post(io_, [this] { close_all(); });
  }

  void close_all() {
    if (phase_ == phase::closing)
      return;
    phase_ = phase::closing;
    timer_.cancel();
    if (retry_)
      retry_->cancel();
    for (auto& c : clients_)
      c->close();
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([this](boost::system::error_code) { io_.stop(); });
    work_.reset();
  }

  void fail(std::string why) {
    if (!failure_.empty())
      return;
    failure_ = std::move(why);
    if (phase_ == phase::measuring) {
      measure_end_ = steady::now();
      cpu_end_ = process_cpu_seconds();
    }
    asio::post(io_, [this] { close_all(); });
  }

  int report() {
    const bool measured = measure_start_ != steady::time_point{} && measure_end_ > measure_start_;
    const double window_s = measured ? seconds_between(measure_start_, measure_end_) : 0.0;
    std::uint64_t incomplete = 0;
    for (const auto& p : peers_)
      incomplete += p.incomplete;
    std::string problem = failure_;
    if (problem.empty() && incomplete > 0)
      problem = std::to_string(incomplete) + " broadcasts did not reach every peer within the drain timeout";
    if (problem.empty() && received_measured_ == 0)
      problem = "nothing was delivered inside the measurement window";
    const auto frame_bytes = envelope(0, "EntryAnnounce", "0:0",
                                      "{\"entry\":{\"data\":\"" + filler_ +
                                        "\"},\"height\":0,\"tip_hash\":\"\"}").size();
    print_json([&](json_writer& w) {
      w.StartObject();
      w.Key("scenario"); w.String("fanout");
      w.Key("url"); w.String(o_.url.c_str());
      w.Key("peers"); w.Uint(o_.peers);
      w.Key("senders"); w.Uint(o_.senders);
      w.Key("window"); w.Uint(o_.window);
      w.Key("frame_bytes"); w.Uint64(frame_bytes);
      w.Key("duration_s"); w.Double(round_to(window_s, 3));
      w.Key("warmup_s"); w.Uint64(o_.warmup_s);
      w.Key("delivered_per_s");
      w.Double(window_s > 0 ? round_to(received_measured_ / window_s, 1) : 0.0);
      // Broadcasts sent per second = deliveries / (R - 1).
      w.Key("broadcasts_per_s");
      w.Double(window_s > 0 ? round_to(received_measured_ / window_s / (o_.peers - 1), 1) : 0.0);
      w.Key("delivered_mb_per_s");
      w.Double(window_s > 0 ? round_to(received_measured_ * frame_bytes / window_s / 1e6, 1) : 0.0);
      // From the send to the last recipient's receipt.
      w.Key("fanout_latency_ms"); write_latency_ms(w, latency_us_);
      w.Key("sent_total"); w.Uint64(sent_);
      w.Key("received_total"); w.Uint64(received_);
      w.Key("unexpected"); w.Uint64(unexpected_);
      w.Key("barrier_rounds"); w.Uint64(barrier_round_);
      w.Key("client_cpu_util");
      w.Double(window_s > 0 ? round_to((cpu_end_ - cpu_start_) / window_s, 2) : 0.0);
      if (server_cpu_.valid()) {
        w.Key("server_cpu_util"); w.Double(server_cpu_.cores(window_s));
      }
      write_error(w, problem);
      w.EndObject();
    });
    return exit_status("fanout", problem);
  }

  fanout_options o_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;
  std::optional<asio::steady_timer> retry_;
  std::vector<peer_state> peers_;
  std::vector<std::unique_ptr<raw_ws_peer>> clients_;
  std::string filler_;
  phase phase_ = phase::connecting;
  std::uint32_t opened_ = 0, barrier_done_ = 0, closed_ = 0;
  server_cpu_meter server_cpu_;
  std::uint64_t barrier_round_ = 0;
  std::uint64_t sent_ = 0, received_ = 0, received_measured_ = 0, unexpected_ = 0;
  std::vector<std::uint32_t> latency_us_;
  steady::time_point measure_start_{}, measure_end_{};
  double cpu_start_ = 0, cpu_end_ = 0;
  std::string failure_;
};

}  // namespace

int run_fanout(int argc, char** argv) {
  fanout_options o;
  util::option_set options{
    "gsio-bench fanout",
    "Scenario (c): R WebSocket peers announce themselves on a relay; S of them broadcast\n"
    "EntryAnnounce-shaped envelopes, each keeping W broadcasts not yet received by every other\n"
    "peer. Prints {delivered_per_s (one per recipient), broadcasts_per_s, fanout_latency_ms, ...}."};
  options.add("url",
               "the relay, ws://host:port/ (required); several, comma-separated, spread the peers "
               "over them (relays joined through NATS, scenario g)",
               o.url)
    .add("token", "network token (sent as Authorization: Bearer)", o.token)
    .add("peers", "WebSocket peers (R)", o.peers)
    .add("senders", "peers that broadcast (0 = all)", o.senders)
    .add("window", "incomplete broadcasts per sender", o.window)
    .add("payload-bytes", "filler bytes in each broadcast's payload", o.payload_bytes)
    .add("duration-s", "measurement window, seconds", o.duration_s)
    .add("warmup-s", "load before the window starts, not measured, seconds", o.warmup_s)
    .add("connect-timeout-ms", "how long the peers may take to connect and see each other",
         o.connect_timeout_ms)
    .add("drain-timeout-ms", "how long to wait for incomplete broadcasts after the window",
         o.drain_timeout_ms)
    .add("server-pid", "the relay's process id: report its CPU use inside the window",
         o.server_pid);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  std::string problem;
  o.urls = util::split_list(o.url);
  if (o.urls.empty() || std::any_of(o.urls.begin(), o.urls.end(),
                                    [](const std::string& u) { return u.rfind("ws://", 0) != 0; }))
    problem = "--url must be ws://host:port/ (or several, comma-separated)";
  else if (o.peers < 2 || o.peers > 5000)
    problem = "--peers must be 2..5000";
  else if (o.window == 0 || o.window > 4096)
    problem = "--window must be 1..4096";
  else if (o.duration_s == 0)
    problem = "--duration-s must be at least 1";
  if (!problem.empty()) {
    std::fprintf(stderr, "gsio-bench fanout: %s\n", problem.c_str());
    return 2;
  }
  return fanout_run{std::move(o)}.run();
}

}  // namespace gsio::bench
