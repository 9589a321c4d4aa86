#pragma once
// Socket.IO protocol v5 packet encoding (https://socket.io/docs/v4/socket-io-protocol/).
//
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
//
// The namespace is written only when it is not "/". BINARY_EVENT and BINARY_ACK packets are
// followed by `attachments` Engine.IO binary messages; their JSON refers to them through
// {"_placeholder":true,"num":N} objects. Pure string processing: no I/O, and bad input yields an
// error value, never an exception.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gsio::net::sio {

enum class packet_type : char {
  connect = '0',
  disconnect = '1',
  event = '2',
  ack = '3',
  connect_error = '4',
  binary_event = '5',
  binary_ack = '6',
};

// Ack ids travel as JSON numbers; above 2^53 - 1 JavaScript clients could not represent them.
inline constexpr std::uint64_t max_ack_id = (std::uint64_t{1} << 53) - 1;
// A packet announcing more attachments than this is rejected instead of waiting for them.
inline constexpr std::size_t max_attachments = 1000;

struct packet {
  packet_type type = packet_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  std::size_t attachments = 0;  // only for binary_event / binary_ack
  std::string data;             // JSON text; empty when the packet has no payload

  friend bool operator==(const packet&, const packet&) = default;
};

// Encodes the text part of a packet. For binary packets the attachments follow separately.
std::string encode(const packet& p);

struct decode_result {
  std::optional<packet> value;
  std::string error;  // set when `value` is empty
  explicit operator bool() const { return value.has_value(); }
};

// Decodes and validates one packet: the type must be known, the ack id and attachment count must
// be decimal numbers in range, the payload must be valid UTF-8 JSON of the shape the type requires
// (CONNECT: absent or object; DISCONNECT: absent; EVENT: non-empty array whose first element is a
// string naming a non-reserved event; ACK: array, with an ack id; CONNECT_ERROR: object or
// string), and placeholders must refer to announced attachments. Numbers beyond the double range
// (1e400) are rejected, since no client could have meant them.
decode_result decode(std::string_view text);

// EVENT payload helpers. The argument list stays raw JSON text so that numbers keep their exact
// spelling.
// Builds ["<event>", ...args] from an event name and a JSON array of arguments.
std::string make_event_payload(std::string_view event, std::string_view args_array_json);
struct event_parts {
  std::string name;
  std::string args_json;  // JSON array of the remaining elements
};
// Splits a validated EVENT payload into its name and arguments.
std::optional<event_parts> split_event_payload(std::string_view payload);

// Collects the Engine.IO binary messages that follow a BINARY_EVENT/BINARY_ACK header.
class binary_reassembler {
public:
  // Starts collecting for `header`; it must announce at least one attachment.
  void start(packet header);
  bool active() const { return header_.has_value(); }
  // Adds one attachment; returns true when the packet is complete (then take() it).
  bool add(std::string attachment);
  struct complete_packet {
    packet header;
    std::vector<std::string> attachments;
  };
  complete_packet take();
  void reset();

private:
  std::optional<packet> header_;
  std::vector<std::string> attachments_;
};

}  // namespace gsio::net::sio
