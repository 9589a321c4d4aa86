#pragma once
// SHA-256 (Crypto++ stays inside sha256.cpp).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace gsio::crypto {

using digest = std::array<std::uint8_t, 32>;

digest sha256(std::string_view bytes);
// Lowercase hex of sha256(bytes).
std::string sha256_hex(std::string_view bytes);

}  // namespace gsio::crypto
