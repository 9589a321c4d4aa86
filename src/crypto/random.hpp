#pragma once
// Unpredictable bytes from the kernel's generator (getrandom), for challenges, nonces and ids
// that others must not guess.
#include <cstddef>
#include <cstdint>
#include <string>

namespace gsio::crypto {

// Fills `out` with `size` random bytes; throws std::runtime_error if the kernel cannot.
void random_bytes(std::uint8_t* out, std::size_t size);
// `bytes` random bytes as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace gsio::crypto
