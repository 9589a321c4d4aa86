// Scenario (b), propagation: writers on one node, a subscriber on another node of the same
// network; the latency from emitting add_ledger_entry on the first to receiving the entry's
// ledger_entry_added push on the second. That spans the writer node's durable append, its
// EntryAnnounce through the relay (and any nodes between), the reader node's validation and
// durable append, and the push.
//
// Two load shapes:
//   --rate N  open loop: N adds per second spread over the writers, sent on a 1 ms tick whatever
//             the latency (a fixed offered load, so queueing shows in the percentiles);
//   --rate 0  saturation: closed loop, each writer keeps --window adds on their way to the
//             subscriber (an add is in flight until the reader node pushes it, not just until
//             the writer node acks it), so the figure is the end-to-end rate the network sustains
//             rather than the writer node's ingest with a backlog growing behind it.
#include <algorithm>
#include <atomic>
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
#include "net/sio_client.hpp"

namespace gsio::bench {

namespace {

namespace asio = boost::asio;

struct propagation_options {
  std::string writer_url;
  std::string reader_url;
  std::uint64_t rate = 1000;  // adds per second; 0 = saturation
  std::uint32_t writers = 4;
  std::uint32_t window = 16;  // saturation only
  std::uint64_t duration_s = 10;
  std::uint64_t warmup_s = 1;
  std::uint64_t connect_timeout_ms = 10000;
  std::uint64_t drain_timeout_ms = 5000;
};

enum class phase : int { connecting, warmup, measuring, draining, closing };

// One add as the bench sees it: when it was emitted, acked by the writer node and pushed by the
// reader node.
struct add_record {
  steady::time_point sent{};
  steady::time_point acked{};
  steady::time_point seen{};
  bool measured = false;  // emitted inside the measurement window
  std::uint32_t writer = 0;
};

// Everything runs on one io_context thread (the nodes and the relay own the other core), so the
// callbacks never run concurrently and plain members suffice.
class propagation_run {
public:
  explicit propagation_run(propagation_options o)
      : o_(std::move(o)), work_(asio::make_work_guard(io_)), phase_timer_(io_), tick_(io_) {
    // A tag unique to this run: the reader ignores entries of earlier runs on the same cluster.
    std::mt19937_64 rng{std::random_device{}()};
    tag_ = std::to_string(rng() % 1'000'000'000'000ULL);
    marker_ = "\"gsio_bench_run\":\"" + tag_ + "\",\"gsio_bench_seq\":";
    in_flight_.assign(o_.writers, 0);
  }

  int run() {
    start_clients();
    io_.run();
    clients_.clear();
    reader_.reset();
    return report();
  }

private:
  void start_clients() {
    auto make = [this](const std::string& url, bool is_reader, std::uint32_t index) {
      net::sio_client_options co;
      co.url = url;
      co.connect_timeout = std::chrono::milliseconds(o_.connect_timeout_ms);
      net::sio_client_callbacks cb;
      cb.on_connect = [this] {
        if (++connected_ == o_.writers + 1)
          asio::post(io_, [this] { begin(); });
      };
      if (is_reader)
        cb.on_event = [this](std::string event, net::sio_args args) {
          if (std::string_view{event} == "ledger_entry_added")
            on_pushed(args.json);
        };
      cb.on_close = [this, index, is_reader](std::string reason) {
        if (phase_ != phase::closing)
          fail(std::string(is_reader ? "reader" : "writer " + std::to_string(index)) +
               " closed: " + reason);
        else if (++closed_ == o_.writers + 1)
          io_.stop();  // every close is reported once; nothing left to wait for
      };
      return std::make_unique<net::sio_client>(io_, std::move(co), std::move(cb));
    };
    reader_ = make(o_.reader_url, true, 0);
    for (std::uint32_t i = 0; i < o_.writers; ++i)
      clients_.push_back(make(o_.writer_url, false, i));
    reader_->start();
    for (auto& c : clients_)
      c->start();
    phase_timer_.expires_after(std::chrono::milliseconds(o_.connect_timeout_ms));
    phase_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && phase_ == phase::connecting)
        fail("only " + std::to_string(connected_) + " of " + std::to_string(o_.writers + 1) +
             " clients connected within " + std::to_string(o_.connect_timeout_ms) + " ms");
    });
  }

  void begin() {
    if (phase_ != phase::connecting)
      return;
    phase_timer_.cancel();
    phase_ = phase::warmup;
    load_start_ = steady::now();
    std::fprintf(stderr, "gsio-bench propagation: %u writers on %s, reader on %s, %s\n", o_.writers,
                 o_.writer_url.c_str(), o_.reader_url.c_str(),
                 o_.rate ? ("open loop at " + std::to_string(o_.rate) + " adds/s").c_str()
                         : ("saturation, window " + std::to_string(o_.window)).c_str());
    if (o_.rate > 0) {
      schedule_tick();
    } else {
      for (std::uint32_t w = 0; w < o_.writers; ++w)
        for (std::uint32_t k = 0; k < o_.window; ++k)
          send_one(w);
    }
    run_measurement_window(phase_timer_, o_.warmup_s, o_.duration_s, [this] {
      phase_ = phase::measuring;
      measure_start_ = steady::now();
      cpu_start_ = process_cpu_seconds();
    }, [this] { begin_drain(); });
  }

  // Open loop: on every tick, emit as many adds as the rate says are due by now. Sending on a
  // 1 ms grid rather than at exact instants adds at most 1 ms of burstiness; the latency clock
  // starts at the actual emit, so it does not inflate the figures.
  void schedule_tick() {
    tick_.expires_after(std::chrono::milliseconds(1));
    tick_.async_wait([this](boost::system::error_code ec) {
      if (ec || (phase_ != phase::warmup && phase_ != phase::measuring))
        return;
      const double elapsed = seconds_between(load_start_, steady::now());
      const auto due = static_cast<std::uint64_t>(elapsed * static_cast<double>(o_.rate));
      while (records_.size() < due)
        send_one(static_cast<std::uint32_t>(records_.size() % o_.writers));
      schedule_tick();
    });
  }

  void send_one(std::uint32_t w) {
    const std::uint64_t seq = records_.size();
    add_record r;
    r.sent = steady::now();
    r.measured = phase_ == phase::measuring;
    r.writer = w;
    records_.push_back(r);
    ++in_flight_[w];
    // Canonical already (sorted keys), so the nodes store it as sent and the reader can find it.
    std::string data = "[{" + marker_ + std::to_string(seq) + ",\"writer\":" + std::to_string(w) +
                       "}]";
    const bool queued = clients_[w]->emit(
      "add_ledger_entry", net::sio_args{std::move(data), {}},
      [this, w, seq](net::sio_args ack) { on_ack(w, seq, ack.json); });
    if (!queued)
      fail("writer " + std::to_string(w) + ": emit refused (closed or queue full)");
  }

  void on_ack(std::uint32_t w, std::uint64_t seq, const std::string& json) {
    --in_flight_[w];
    if (json.find("\"error\"") != std::string::npos) {
      ++refused_;
      if (first_refusal_.empty())
        first_refusal_ = json.substr(0, 300);
    } else {
      records_[seq].acked = steady::now();
    }
    // A refused add never reaches the reader: at saturation its slot is given back here.
    if (o_.rate == 0 && records_[seq].acked == steady::time_point{})
      refill(w);
    maybe_finish_drain();
  }

  void on_pushed(const std::string& json) {
    const auto at = json.find(marker_);
    if (at == std::string::npos)
      return;  // another run's entry, or not ours
    const char* digits = json.c_str() + at + marker_.size();
    char* end = nullptr;
    const auto seq = std::strtoull(digits, &end, 10);
    if (end == digits || seq >= records_.size())
      return;
    auto& r = records_[seq];
    if (r.seen != steady::time_point{}) {
      ++duplicates_;
      return;
    }
    r.seen = steady::now();
    ++seen_;
    if (r.measured)
      ++seen_measured_;
    if (o_.rate == 0)
      refill(r.writer);
    maybe_finish_drain();
  }

  // Saturation: the writer that sent an add which has now completed sends the next one.
  void refill(std::uint32_t w) {
    if (phase_ == phase::warmup || phase_ == phase::measuring)
      send_one(w);
  }

  void begin_drain() {
    measure_end_ = steady::now();
    cpu_end_ = process_cpu_seconds();
    phase_ = phase::draining;
    tick_.cancel();
    phase_timer_.expires_after(std::chrono::milliseconds(o_.drain_timeout_ms));
    phase_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec)
        close_all();
    });
    maybe_finish_drain();
  }

  // Drained once every add has been acked and every acked add has reached the reader.
  void maybe_finish_drain() {
    if (phase_ != phase::draining)
      return;
    for (auto n : in_flight_)
      if (n != 0)
        return;
    if (seen_ + refused_ < records_.size())
      return;
    asio::post(io_, [this] { close_all(); });
  }

  void close_all() {
    if (phase_ == phase::closing)
      return;
    phase_ = phase::closing;
    phase_timer_.cancel();
    tick_.cancel();
    for (auto& c : clients_)
      c->close();
    if (reader_)
      reader_->close();
    phase_timer_.expires_after(std::chrono::seconds(2));
    phase_timer_.async_wait([this](boost::system::error_code) { io_.stop(); });
    work_.reset();
  }

  void fail(std::string why) {
    if (!failure_.empty())
      return;
    failure_ = std::move(why);
    if (phase_ == phase::measuring || phase_ == phase::warmup) {
      measure_end_ = steady::now();
      cpu_end_ = process_cpu_seconds();
    }
    asio::post(io_, [this] { close_all(); });
  }

  int report() {
    std::vector<std::uint32_t> e2e, ack, relay_part;
    std::uint64_t sent_measured = 0, lost = 0;
    for (const auto& r : records_) {
      if (!r.measured)
        continue;
      ++sent_measured;
      if (r.seen == steady::time_point{}) {
        ++lost;
        continue;
      }
      e2e.push_back(micros_since(r.sent, r.seen));
      if (r.acked != steady::time_point{}) {
        ack.push_back(micros_since(r.sent, r.acked));
        // What follows the writer node's ack: relay hop, reader node's append and push. Can be
        // "negative" (the push overtook the ack), which clamps to 0.
        relay_part.push_back(micros_since(r.acked, r.seen));
      }
    }
    const bool measured = measure_start_ != steady::time_point{} && measure_end_ > measure_start_;
    const double window_s = measured ? seconds_between(measure_start_, measure_end_) : 0.0;
    std::string problem = failure_;
    if (problem.empty() && refused_ > 0)
      problem = std::to_string(refused_) + " adds refused, first: " + first_refusal_;
    if (problem.empty() && lost > 0)
      problem = std::to_string(lost) + " of " + std::to_string(sent_measured) +
                " measured adds never reached the reader within the drain timeout";
    if (problem.empty() && sent_measured == 0)
      problem = "nothing was sent inside the measurement window";
    print_json([&](json_writer& w) {
      w.StartObject();
      w.Key("scenario"); w.String("propagation");
      w.Key("mode"); w.String(o_.rate ? "fixed_rate" : "saturation");
      w.Key("offered_per_s"); w.Uint64(o_.rate);
      w.Key("writers"); w.Uint(o_.writers);
      w.Key("window"); w.Uint(o_.rate ? 0 : o_.window);
      w.Key("duration_s"); w.Double(round_to(window_s, 3));
      w.Key("warmup_s"); w.Uint64(o_.warmup_s);
      w.Key("sent_measured"); w.Uint64(sent_measured);
      w.Key("sent_per_s"); w.Double(window_s > 0 ? round_to(sent_measured / window_s, 1) : 0.0);
      // Adds emitted inside the window that reached the reader, per second of window.
      w.Key("delivered_per_s");
      w.Double(window_s > 0 ? round_to(seen_measured_ / window_s, 1) : 0.0);
      w.Key("lost"); w.Uint64(lost);
      w.Key("duplicates"); w.Uint64(duplicates_);
      w.Key("refused"); w.Uint64(refused_);
      w.Key("latency_ms"); write_latency_ms(w, e2e);
      w.Key("writer_ack_ms"); write_latency_ms(w, ack);
      w.Key("after_ack_ms"); write_latency_ms(w, relay_part);
      w.Key("client_cpu_util");
      w.Double(window_s > 0 ? round_to((cpu_end_ - cpu_start_) / window_s, 2) : 0.0);
      write_error(w, problem);
      w.EndObject();
    });
    return exit_status("propagation", problem);
  }

  propagation_options o_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer phase_timer_;
  asio::steady_timer tick_;
  std::unique_ptr<net::sio_client> reader_;
  std::vector<std::unique_ptr<net::sio_client>> clients_;
  std::vector<std::uint64_t> in_flight_;
  std::vector<add_record> records_;  // indexed by seq
  std::string tag_, marker_;
  phase phase_ = phase::connecting;
  std::uint32_t connected_ = 0, closed_ = 0;
  std::uint64_t seen_ = 0, seen_measured_ = 0, duplicates_ = 0, refused_ = 0;
  std::string first_refusal_;
  steady::time_point load_start_{}, measure_start_{}, measure_end_{};
  double cpu_start_ = 0, cpu_end_ = 0;
  std::string failure_;
};

}  // namespace

int run_propagation(int argc, char** argv) {
  propagation_options o;
  util::option_set options{
    "gsio-bench propagation",
    "Scenario (b): W writer clients on one node, one subscriber on another node of the same\n"
    "network. Latency = emit of add_ledger_entry on the writer node -> ledger_entry_added for that\n"
    "entry at the subscriber. --rate N offers N adds/s (open loop); --rate 0 saturates (each\n"
    "writer keeps --window adds on their way to the subscriber). Prints {latency_ms, writer_ack_ms, after_ack_ms,\n"
    "delivered_per_s, ...}; only adds emitted inside the window (after the warm-up) count."};
  options.add("writer-url", "the node the writers add to, http://host:port (required)", o.writer_url)
    .add("reader-url", "the node the subscriber listens on, http://host:port (required)",
         o.reader_url)
    .add("rate", "offered adds per second; 0 = saturation (closed loop)", o.rate)
    .add("writers", "writer connections", o.writers)
    .add("window", "adds per writer on their way to the subscriber, at saturation", o.window)
    .add("duration-s", "measurement window, seconds", o.duration_s)
    .add("warmup-s", "load before the window starts, not measured, seconds", o.warmup_s)
    .add("connect-timeout-ms", "how long all clients may take to connect", o.connect_timeout_ms)
    .add("drain-timeout-ms", "how long to wait for outstanding entries after the window",
         o.drain_timeout_ms);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  std::string problem;
  if (o.writer_url.empty() || o.reader_url.empty())
    problem = "--writer-url and --reader-url are required";
  else if (o.writers == 0 || o.writers > 1000)
    problem = "--writers must be 1..1000";
  else if (o.window == 0 || o.window > 256)
    problem = "--window must be 1..256";
  else if (o.duration_s == 0)
    problem = "--duration-s must be at least 1";
  else if (o.rate > 100000)
    problem = "--rate must be at most 100000";
  if (!problem.empty()) {
    std::fprintf(stderr, "gsio-bench propagation: %s\n", problem.c_str());
    return 2;
  }
  return propagation_run{std::move(o)}.run();
}

}  // namespace gsio::bench
