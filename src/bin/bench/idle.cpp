// Scenario (e), idle clients: N Socket.IO clients (WebSocket transport) join one server and stay
// idle; the server's resident memory grows by RSS-per-client × N. The server's RSS (VmRSS of
// --pid) is read before the first client connects and again once all are connected and the
// server has had --settle-ms to finish its work, so lazily freed or allocated memory counts.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>
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

struct idle_options {
  std::string url;
  std::uint64_t pid = 0;
  std::uint32_t clients = 10000;
  std::uint32_t concurrency = 200;  // connections being set up at once
  std::uint64_t settle_ms = 2000;
  std::uint64_t connect_timeout_ms = 60000;
};

class idle_run {
public:
  explicit idle_run(idle_options o)
      : o_(std::move(o)), work_(asio::make_work_guard(io_)), timer_(io_) {}

  int run() {
    rss_before_ = rss_kib(o_.pid);
    own_rss_before_ = rss_kib(static_cast<std::uint64_t>(::getpid()));
    if (rss_before_ < 0) {
      std::fprintf(stderr, "gsio-bench idle: cannot read /proc/%llu/status\n",
                   static_cast<unsigned long long>(o_.pid));
      return 1;
    }
    clients_.resize(o_.clients);
    started_at_ = steady::now();
    // Connections are opened a window at a time: 10k simultaneous SYNs would overflow the
    // server's listen backlog and measure retransmission timers instead.
    for (std::uint32_t k = 0; k < std::min(o_.concurrency, o_.clients); ++k)
      start_next();
    timer_.expires_after(std::chrono::milliseconds(o_.connect_timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !all_connected_)
        fail("only " + std::to_string(connected_) + " of " + std::to_string(o_.clients) +
             " clients connected within " + std::to_string(o_.connect_timeout_ms) + " ms");
    });
    io_.run();
    clients_.clear();
    return report();
  }

private:
  void start_next() {
    if (next_ >= o_.clients || !failure_.empty())
      return;
    const auto i = next_++;
    net::sio_client_options co;
    co.url = o_.url;
    co.connect_timeout = std::chrono::milliseconds(o_.connect_timeout_ms);
    net::sio_client_callbacks cb;
    cb.on_connect = [this] {
      ++connected_;
      if (connected_ == o_.clients)
        asio::post(io_, [this] { on_all_connected(); });
      else
        start_next();
    };
    // The server greets every client with an `auth` event; idle clients get nothing else.
    cb.on_event = [this](std::string, net::sio_args) { ++events_; };
    cb.on_close = [this, i](std::string reason) {
      if (!closing_)
        fail("client " + std::to_string(i) + " closed: " + reason);
      else if (++closed_ == next_)
        io_.stop();  // every started client reports its close once
    };
    clients_[i] = std::make_unique<net::sio_client>(io_, std::move(co), std::move(cb));
    clients_[i]->start();
  }

  void on_all_connected() {
    all_connected_ = true;
    connected_at_ = steady::now();
    std::fprintf(stderr, "gsio-bench idle: %u clients connected in %.2f s; settling %llu ms\n",
                 o_.clients, seconds_between(started_at_, connected_at_),
                 static_cast<unsigned long long>(o_.settle_ms));
    timer_.cancel();
    timer_.expires_after(std::chrono::milliseconds(o_.settle_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec)
        return;
      rss_after_ = rss_kib(o_.pid);
      own_rss_after_ = rss_kib(static_cast<std::uint64_t>(::getpid()));
      close_all();
    });
  }

  void close_all() {
    if (closing_)
      return;
    closing_ = true;
    timer_.cancel();
    for (auto& c : clients_)
      if (c)
        c->close();
    timer_.expires_after(std::chrono::seconds(3));
    timer_.async_wait([this](boost::system::error_code) { io_.stop(); });
    work_.reset();
  }

  void fail(std::string why) {
    if (!failure_.empty())
      return;
    failure_ = std::move(why);
    asio::post(io_, [this] { close_all(); });
  }

  int report() {
    const bool ok = failure_.empty() && rss_after_ > 0;
    const double per_client_kib =
      ok ? static_cast<double>(rss_after_ - rss_before_) / o_.clients : 0.0;
    const double own_per_client_kib =
      ok ? static_cast<double>(own_rss_after_ - own_rss_before_) / o_.clients : 0.0;
    const double connect_s = all_connected_ ? seconds_between(started_at_, connected_at_) : 0.0;
    print_json([&](json_writer& w) {
      w.StartObject();
      w.Key("scenario"); w.String("idle");
      w.Key("url"); w.String(o_.url.c_str());
      w.Key("clients"); w.Uint(o_.clients);
      w.Key("connected"); w.Uint(connected_);
      w.Key("connect_s"); w.Double(round_to(connect_s, 3));
      w.Key("connects_per_s"); w.Double(connect_s > 0 ? round_to(o_.clients / connect_s, 1) : 0.0);
      w.Key("server_rss_before_kib"); w.Int64(rss_before_);
      w.Key("server_rss_after_kib"); w.Int64(rss_after_);
      w.Key("rss_per_client_kib"); w.Double(round_to(per_client_kib, 2));
      w.Key("clients_per_gib");
      w.Double(per_client_kib > 0 ? std::round(1024.0 * 1024.0 / per_client_kib) : 0.0);
      // The load generator's own cost per client (project's sio_client), for comparison.
      w.Key("bench_rss_per_client_kib"); w.Double(round_to(own_per_client_kib, 2));
      w.Key("events_received"); w.Uint64(events_);
      if (!failure_.empty()) {
        w.Key("error"); w.String(failure_.c_str());
      }
      w.EndObject();
    });
    if (!ok) {
      std::fprintf(stderr, "gsio-bench idle: %s\n",
                   failure_.empty() ? "the server's RSS could not be read" : failure_.c_str());
      return 1;
    }
    return 0;
  }

  idle_options o_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<net::sio_client>> clients_;
  std::uint32_t next_ = 0, connected_ = 0, closed_ = 0;
  std::uint64_t events_ = 0;
  bool all_connected_ = false, closing_ = false;
  std::int64_t rss_before_ = -1, rss_after_ = -1, own_rss_before_ = -1, own_rss_after_ = -1;
  steady::time_point started_at_{}, connected_at_{};
  std::string failure_;
};

}  // namespace

int run_idle(int argc, char** argv) {
  idle_options o;
  util::option_set options{
    "gsio-bench idle",
    "Scenario (e): connects N Socket.IO WebSocket clients to one server, keeps them idle, and\n"
    "reports the growth of the server's RSS (/proc/PID/status VmRSS) per client:\n"
    "{rss_per_client_kib, clients_per_gib, connects_per_s, ...}."};
  options.add("url", "the server, http://host:port (required)", o.url)
    .add("pid", "the server's process id, whose RSS is measured (required)", o.pid)
    .add("clients", "idle clients", o.clients)
    .add("concurrency", "connections being opened at the same time", o.concurrency)
    .add("settle-ms", "wait after the last client joined before reading the RSS", o.settle_ms)
    .add("connect-timeout-ms", "how long all clients may take to connect", o.connect_timeout_ms);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  if (o.url.empty() || o.pid == 0 || o.clients == 0 || o.concurrency == 0) {
    std::fprintf(stderr, "gsio-bench idle: --url and --pid are required; --clients and "
                         "--concurrency must be positive\n");
    return 2;
  }
  return idle_run{std::move(o)}.run();
}

}  // namespace gsio::bench
