#include "util/base64.hpp"

#include <array>
#include <cstdint>

namespace gsio::util {

namespace {

constexpr std::string_view standard_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Maps a character to its 6-bit value; -1 for characters outside the alphabet.
constexpr std::array<std::int8_t, 256> make_table(std::string_view alphabet) {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto standard_table = make_table(standard_alphabet);
constexpr auto url_table = make_table(url_alphabet);

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t have = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 3; ++k)
      n = (n << 8) | (k < have ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (std::size_t k = 0; k < 4; ++k) {
      if (k <= have)
        out += alphabet[(n >> (18 - 6 * k)) & 63];
      else if (pad)
        out += '=';
    }
  }
  return out;
}

// `text` without padding: groups of 4 symbols, the last of 2, 3 or 4.
std::optional<std::string> decode(std::string_view text, const std::array<std::int8_t, 256>& table) {
  if (text.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const std::size_t symbols = std::min<std::size_t>(4, text.size() - i);
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::int8_t v = 0;
      if (k < symbols) {
        v = table[static_cast<unsigned char>(text[i + k])];
        if (v < 0)
          return std::nullopt;  // includes '=' in the middle of the input
      }
      n = (n << 6) | static_cast<std::uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 0xff);
    if (symbols >= 3)
      out += static_cast<char>((n >> 8) & 0xff);
    if (symbols == 4)
      out += static_cast<char>(n & 0xff);
    // Non-canonical encodings (set bits that the missing symbols drop) are rejected.
    if ((symbols == 2 && (n & 0xffff) != 0) || (symbols == 3 && (n & 0xff) != 0))
      return std::nullopt;
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view bytes) { return encode(bytes, standard_alphabet, true); }

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  return decode(text.substr(0, text.size() - padding), standard_table);
}

std::string base64url_encode(std::string_view bytes) { return encode(bytes, url_alphabet, false); }

std::optional<std::string> base64url_decode(std::string_view text) { return decode(text, url_table); }

}  // namespace gsio::util
