#pragma once
// Handling secrets: comparing shared ones (the network token) without leaking, through timing,
// how much of a guess was right, and wiping copies of keys once they are used.
#include <string.h>  // explicit_bzero

#include <cstddef>
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

// Overwrites `size` bytes at `data` with zeros in a way the compiler may not drop as a dead store.
inline void wipe(void* data, std::size_t size) { ::explicit_bzero(data, size); }

}  // namespace gsio::util
