#include "net/engineio_codec.hpp"

#include <array>
#include <cstdint>

namespace gsio::net::eio {
namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Maps a character to its 6-bit value; -1 for characters outside the alphabet.
constexpr std::array<std::int8_t, 256> make_base64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& v : table)
    v = -1;
  for (std::size_t i = 0; i < base64_alphabet.size(); ++i)
    table[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto base64_table = make_base64_table();

bool is_known_type(char c) { return c >= '0' && c <= '6'; }

// close, upgrade and noop carry no data in v4; anything after the type byte is malformed.
bool may_carry_data(packet_type t) {
  return t != packet_type::close && t != packet_type::upgrade && t != packet_type::noop;
}

}  // namespace

packet make_text(packet_type type, std::string data) {
  return packet{type, std::move(data), false};
}

packet make_binary(std::string bytes) {
  return packet{packet_type::message, std::move(bytes), true};
}

std::string encode_text(const packet& p) {
  if (p.binary)
    return "b" + base64_encode(p.data);
  std::string out;
  out.reserve(p.data.size() + 1);
  out += static_cast<char>(p.type);
  out += p.data;
  return out;
}

std::string encode_payload(const std::vector<packet>& packets) {
  std::string out;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    if (i != 0)
      out += record_separator;
    out += encode_text(packets[i]);
  }
  return out;
}

std::optional<packet> decode_text(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  if (text.front() == 'b') {
    auto bytes = base64_decode(text.substr(1));
    if (!bytes)
      return std::nullopt;
    return make_binary(std::move(*bytes));
  }
  if (!is_known_type(text.front()))
    return std::nullopt;
  auto type = static_cast<packet_type>(text.front());
  if (text.size() > 1 && !may_carry_data(type))
    return std::nullopt;
  return make_text(type, std::string{text.substr(1)});
}

packet decode_binary_frame(std::string bytes) { return make_binary(std::move(bytes)); }

std::optional<std::vector<packet>> decode_payload(std::string_view payload) {
  std::vector<packet> packets;
  std::size_t start = 0;
  while (true) {
    auto end = payload.find(record_separator, start);
    auto record = payload.substr(start, end == std::string_view::npos ? end : end - start);
    auto p = decode_text(record);
    if (!p)
      return std::nullopt;
    packets.push_back(std::move(*p));
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return packets;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t n = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                      (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                      std::uint32_t(static_cast<unsigned char>(bytes[i + 2]));
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += base64_alphabet[(n >> 6) & 63];
    out += base64_alphabet[n & 63];
  }
  auto rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t n = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    std::uint32_t n = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                      (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8);
    out += base64_alphabet[(n >> 18) & 63];
    out += base64_alphabet[(n >> 12) & 63];
    out += base64_alphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=')
    padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;

  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last_group = i + 4 == text.size();
    std::size_t symbols = last_group ? 4 - padding : 4;
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      std::int8_t v = 0;
      if (k < symbols) {
        v = base64_table[static_cast<unsigned char>(text[i + k])];
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
    // Non-canonical encodings (set bits that the padding drops) are rejected.
    if ((symbols == 2 && (n & 0xffff) != 0) || (symbols == 3 && (n & 0xff) != 0))
      return std::nullopt;
  }
  return out;
}

}  // namespace gsio::net::eio
