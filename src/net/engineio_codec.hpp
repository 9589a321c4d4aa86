#pragma once
// Engine.IO protocol v4 packet encoding (https://socket.io/docs/v4/engine-io-protocol/).
//
// A packet is a one-character type followed by its data. Text packets travel as WebSocket text
// frames or as records of an HTTP long-polling payload, records being separated by the ASCII record
// separator 0x1e. Binary message packets travel as raw WebSocket binary frames (no type byte) or,
// inside a polling payload, as 'b' followed by the base64 of the bytes.
//
// Everything here is pure string processing; malformed input yields std::nullopt, never a throw.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/base64.hpp"

namespace gsio::net::eio {

enum class packet_type : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

inline constexpr char record_separator = '\x1e';

struct packet {
  packet_type type = packet_type::message;
  std::string data;     // text, or raw bytes when `binary`
  bool binary = false;  // only message packets can be binary

  friend bool operator==(const packet&, const packet&) = default;
};

packet make_text(packet_type type, std::string data = {});
packet make_binary(std::string bytes);

// One packet as a polling record or a WebSocket text frame: "4hello", "2probe", "bAQID".
std::string encode_text(const packet& p);
// A polling payload: the records of `packets` joined with the record separator.
std::string encode_payload(const std::vector<packet>& packets);

// Decodes a WebSocket text frame or one polling record. Rejects empty input, unknown types, binary
// records with invalid base64 and data on packet types that carry none (close, upgrade, noop).
std::optional<packet> decode_text(std::string_view text);
// A WebSocket binary frame is always a binary message.
packet decode_binary_frame(std::string bytes);
// Decodes a polling payload; fails as a whole when any record is invalid.
std::optional<std::vector<packet>> decode_payload(std::string_view payload);

// Binary packets in polling payloads: RFC 4648 base64 with padding (util/base64.hpp).
using util::base64_encode;
using util::base64_decode;

}  // namespace gsio::net::eio
