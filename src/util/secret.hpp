#pragma once
// Comparing shared secrets (the network token) without leaking, through timing, how much of a
// guess was right.
#include <string_view>

namespace gsio::util {

// True when `given` equals `expected`; the time taken depends only on their lengths.
inline bool same_secret(std::string_view given, std::string_view expected) {
  if (given.size() != expected.size())
    return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return difference == 0;
}

}  // namespace gsio::util
