#pragma once
// Leveled, line-oriented logging to stderr: `2026-01-02T03:04:05.678Z info  gateway: listening on ...`.
// Cheap when a level is off: the arguments are only formatted when the line will be written.
#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace gsio::log {

enum class level : int { trace = 0, debug, info, warn, error, off };

std::optional<level> parse_level(std::string_view name);
std::string_view to_string(level l);

level current();
void set_level(level l);
inline bool enabled(level l) { return static_cast<int>(l) >= static_cast<int>(current()); }

void write(level l, std::string_view component, std::string_view message);

template <class... Ts>
void emit(level l, std::string_view component, const Ts&... parts) {
  if (!enabled(l))
    return;
  std::ostringstream out;
  (out << ... << parts);
  write(l, component, out.str());
}

template <class... Ts> void trace(std::string_view c, const Ts&... p) { emit(level::trace, c, p...); }
template <class... Ts> void debug(std::string_view c, const Ts&... p) { emit(level::debug, c, p...); }
template <class... Ts> void info(std::string_view c, const Ts&... p) { emit(level::info, c, p...); }
template <class... Ts> void warn(std::string_view c, const Ts&... p) { emit(level::warn, c, p...); }
template <class... Ts> void error(std::string_view c, const Ts&... p) { emit(level::error, c, p...); }

}  // namespace gsio::log
