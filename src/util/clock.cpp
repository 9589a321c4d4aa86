#include "util/clock.hpp"

namespace gsio::util {

namespace {

// Static initialization runs just before main: close enough to the process start for uptime.
const auto process_start = std::chrono::steady_clock::now();

}  // namespace

std::chrono::milliseconds process_uptime() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               process_start);
}

}  // namespace gsio::util
