#include "util/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "util/printable.hpp"

namespace gsio::log {
namespace {

std::atomic<int> threshold{static_cast<int>(level::info)};
std::mutex output_mutex;

constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "off"};

}  // namespace

std::optional<level> parse_level(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(level::off); ++i)
    if (names[i] == name)
      return static_cast<level>(i);
  if (name == "warning")
    return level::warn;
  return std::nullopt;
}

std::string_view to_string(level l) { return names[static_cast<int>(l)]; }

level current() { return static_cast<level>(threshold.load(std::memory_order_relaxed)); }

void set_level(level l) { threshold.store(static_cast<int>(l), std::memory_order_relaxed); }

void write(level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms % 1000));
  // Messages carry text from peers and clients (entry ids, addresses, reasons): escaped, it can
  // neither start a forged log line nor send escape sequences to whoever reads the log.
  const auto text = util::printable(message, false);
  std::lock_guard<std::mutex> guard{output_mutex};
  std::fprintf(stderr, "%s %-5.*s %.*s: %.*s\n", stamp, static_cast<int>(to_string(l).size()),
               to_string(l).data(), static_cast<int>(component.size()), component.data(),
               static_cast<int>(text.size()), text.data());
}

}  // namespace gsio::log
