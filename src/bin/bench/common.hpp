#pragma once
// Helpers shared by the gsio-bench scenarios (src/bin/gsio_bench.cpp and src/bin/bench/*.cpp).
// Every scenario prints one JSON object on stdout and its progress on stderr.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/options.hpp"

namespace gsio::bench {

using steady = std::chrono::steady_clock;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Nearest-rank percentile of sorted samples; 0 when there are none.
template <class T>
T percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty())
    return T{};
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

inline double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return tv(usage.ru_utime) + tv(usage.ru_stime);
}

inline double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

inline void print_json(const std::function<void(json_writer&)>& body) {
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  body(w);
  std::printf("%s\n", buffer.GetString());
  std::fflush(stdout);
}

// Writes {"p50", "p90", "p99", "p999", "max", "samples"} in milliseconds for microsecond samples
// (sorted in place).
// The last member of a report: why the run failed, when it did.
inline void write_error(json_writer& w, const std::string& problem) {
  if (problem.empty())
    return;
  w.Key("error");
  w.String(problem.c_str());
}

// The exit status of a scenario: 0, or 1 after saying on stderr why it failed.
inline int exit_status(const char* scenario, const std::string& problem) {
  if (problem.empty())
    return 0;
  std::fprintf(stderr, "gsio-bench %s: %s\n", scenario, problem.c_str());
  return 1;
}

inline void write_latency_ms(json_writer& w, std::vector<std::uint32_t>& samples_us) {
  std::sort(samples_us.begin(), samples_us.end());
  auto ms = [](std::uint32_t us) { return round_to(us / 1000.0, 3); };
  w.StartObject();
  w.Key("p50"); w.Double(ms(percentile(samples_us, 50)));
  w.Key("p90"); w.Double(ms(percentile(samples_us, 90)));
  w.Key("p99"); w.Double(ms(percentile(samples_us, 99)));
  w.Key("p999"); w.Double(ms(percentile(samples_us, 99.9)));
  w.Key("max"); w.Double(ms(samples_us.empty() ? 0 : samples_us.back()));
  w.Key("samples"); w.Uint64(samples_us.size());
  w.EndObject();
}

inline std::uint32_t micros_since(steady::time_point start, steady::time_point now) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(us, 0, UINT32_MAX));
}

// Resident set size of a process in KiB (VmRSS in /proc/PID/status); -1 when unreadable.
inline std::int64_t rss_kib(std::uint64_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stoll(line.substr(6));
  return -1;
}

// CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat; -1 when
// unreadable. Read at the edges of a measurement window, it gives the server's CPU use inside it.
inline double process_cpu_seconds_of(std::uint64_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat;
  std::getline(in, stat);
  // Field 2 (the command) may contain spaces; the fields after its closing ')' start at field 3.
  const auto close = stat.rfind(')');
  if (close == std::string::npos)
    return -1;
  std::istringstream fields{stat.substr(close + 2)};
  std::string skip;
  for (int field = 3; field < 14; ++field)
    fields >> skip;
  double utime = 0, stime = 0;
  if (!(fields >> utime >> stime))
    return -1;
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Tracks another process's CPU use over a window (pid 0: nothing is tracked).
class server_cpu_meter {
public:
  explicit server_cpu_meter(std::uint64_t pid = 0) : pid_(pid) {}
  void start() {
    if (pid_ != 0)
      at_start_ = process_cpu_seconds_of(pid_);
  }
  void stop() {
    if (pid_ != 0)
      at_stop_ = process_cpu_seconds_of(pid_);
  }
  bool valid() const { return pid_ != 0 && at_start_ >= 0 && at_stop_ >= at_start_; }
  // Cores used on average over a window of `seconds`.
  double cores(double seconds) const {
    return valid() && seconds > 0 ? round_to((at_stop_ - at_start_) / seconds, 2) : 0.0;
  }

private:
  std::uint64_t pid_ = 0;
  double at_start_ = -1, at_stop_ = -1;
};

// Parses `options`; returns the exit code when the command must stop (help or a bad option).
inline std::optional<int> parse_options(util::option_set& options, int argc, char** argv) {
  switch (options.parse(argc, argv)) {
    case util::option_set::outcome::exit_ok: return 0;
    case util::option_set::outcome::exit_error: return 2;
    case util::option_set::outcome::proceed: break;
  }
  return std::nullopt;
}

// The scenarios in src/bin/bench/*.cpp; each gets argv with the command in argv[0].
// The measurement window every load scenario uses: `warmup_s` of load, then `on_start` (take the
// starting counters), `duration_s` measured, then `on_end` (begin draining). A cancelled timer
// (the run failed or is closing) ends the chain.
inline void run_measurement_window(boost::asio::steady_timer& timer, std::uint64_t warmup_s,
                                   std::uint64_t duration_s, std::function<void()> on_start,
                                   std::function<void()> on_end) {
  timer.expires_after(std::chrono::seconds(warmup_s));
  timer.async_wait([&timer, duration_s, on_start = std::move(on_start),
                    on_end = std::move(on_end)](boost::system::error_code ec) mutable {
    if (ec)
      return;
    on_start();
    timer.expires_after(std::chrono::seconds(duration_s));
    timer.async_wait([on_end = std::move(on_end)](boost::system::error_code ec2) {
      if (!ec2)
        on_end();
    });
  });
}

int run_ingest(int argc, char** argv);
int run_limits(int argc, char** argv);
int run_propagation(int argc, char** argv);
int run_fanout(int argc, char** argv);
int run_mkstore(int argc, char** argv);
int run_catchup(int argc, char** argv);
int run_idle(int argc, char** argv);
int run_pages(int argc, char** argv);

}  // namespace gsio::bench
