#include "crypto/random.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "util/hex.hpp"

namespace gsio::crypto {

void random_bytes(std::uint8_t* out, std::size_t size) {
  // getrandom blocks only until the kernel's pool is first seeded, and returns at most 32 MiB
  // per call; a signal can cut a call short.
  while (size > 0) {
    const ssize_t got = ::getrandom(out, size, 0);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      throw std::runtime_error(std::string("the system's random generator failed: ") +
                               std::strerror(errno));
    }
    out += got;
    size -= static_cast<std::size_t>(got);
  }
}

std::string random_hex(std::size_t bytes) {
  std::vector<std::uint8_t> buffer(bytes);
  random_bytes(buffer.data(), buffer.size());
  return util::to_hex(buffer.data(), buffer.size());
}

}  // namespace gsio::crypto
