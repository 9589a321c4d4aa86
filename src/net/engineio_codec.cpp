#include "net/engineio_codec.hpp"

#include <array>
#include <cstdint>

namespace gsio::net::eio {
namespace {


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

}  // namespace gsio::net::eio
