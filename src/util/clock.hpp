#pragma once
// The clocks the programs read. Wall time (unix_*) is what entry ids, last-seen times and logs
// carry; the steady clock is for durations and deadlines, which must not jump with the wall clock.
#include <chrono>
#include <cstdint>

namespace gsio::util {

inline std::int64_t now_unix_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// The same, typed: what ledger validation takes as "now".
inline std::chrono::microseconds since_unix_epoch() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch());
}

inline std::int64_t now_unix_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// Milliseconds on the steady clock: only differences between two readings mean anything.
inline std::int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Time since the process started (measured from the static initialization of util).
std::chrono::milliseconds process_uptime();

}  // namespace gsio::util
