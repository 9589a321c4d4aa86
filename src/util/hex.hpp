#pragma once
// Hexadecimal text, the one spelling of keys, hashes, signatures and ids on every wire.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gsio::util {

// The value of one hex digit (either case), or -1.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Lowercase hex of `size` bytes.
std::string to_hex(const std::uint8_t* bytes, std::size_t size);
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& bytes) {
  return to_hex(bytes.data(), N);
}

// Decodes hex (either case) into exactly `size` bytes; false if malformed or of another length.
bool from_hex(std::string_view hex, std::uint8_t* out, std::size_t size);

// True when `text` is exactly `expected_length` lowercase hex digits.
bool is_lower_hex(std::string_view text, std::size_t expected_length);

}  // namespace gsio::util
