#pragma once
// RFC 6455 framing without sockets: encoding the unmasked frames a server sends and the masked
// frames a client sends, and parsing either side's frames.
//
// Why not Beast's stream after the handshake: a server frame is the same bytes for every
// recipient, so a relay can encode a broadcast once and hand the same buffer to every connection,
// and a connection can write all of its queued frames with one gathered write. Beast's stream
// frames each message itself and writes one message per operation.
//
// No extension is negotiated (no permessage-deflate), so every RSV bit must be zero.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gsio::net::ws {

enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close status codes used here (RFC 6455 §7.4.1).
namespace close_code {
constexpr std::uint16_t normal = 1000;
constexpr std::uint16_t going_away = 1001;
constexpr std::uint16_t protocol_error = 1002;
constexpr std::uint16_t unsupported_data = 1003;
constexpr std::uint16_t invalid_payload = 1007;  // e.g. a text message that is not UTF-8
constexpr std::uint16_t policy_violation = 1008;
constexpr std::uint16_t message_too_big = 1009;
// Never on the wire (RFC 6455 §7.4.1): what a peer reports for a close frame without a status.
// encode_close writes such a frame for it.
constexpr std::uint16_t no_status = 1005;
}  // namespace close_code

constexpr std::size_t max_header_bytes = 14;          // 2 + 8 (length) + 4 (mask)
constexpr std::size_t max_control_payload_bytes = 125;

// Appends the header of an unmasked, final frame carrying `payload_size` bytes.
void append_header(std::string& out, opcode op, std::size_t payload_size);

// A whole unmasked, final frame: header and payload.
std::string encode_frame(opcode op, std::string_view payload);

// A close frame: the code and a reason (cut to fit a control frame); for close_code::no_status, a
// close frame with an empty payload.
std::string encode_close(std::uint16_t code, std::string_view reason);

// Appends a final frame as a client sends it: masked with `mask_key` (RFC 6455 §5.3 asks for a
// fresh unpredictable key per frame).
void append_masked_frame(std::string& out, opcode op, std::string_view payload,
                         std::uint32_t mask_key);

bool valid_utf8(std::string_view text);

// What the parser found at the front of the bytes it was given.
struct parsed {
  enum class kind {
    need_more,  // no complete frame yet: read more and call again with the same bytes and more
    fragment,   // a non-final data frame was taken in; nothing to deliver yet
    message,    // a whole text or binary message; `opcode` says which, `payload` holds it
    ping,       // `payload` holds the ping's application data (answer with a pong carrying it)
    pong,
    close,      // the peer's close frame: `code` (1005 when it carried none) and `payload` its reason
    failure,    // the peer broke the protocol: close with `code`; `payload` says why
  };
  kind what = kind::need_more;
  opcode op = opcode::text;
  std::uint16_t code = 0;
  std::size_t consumed = 0;  // bytes of input used; drop them before the next call
  std::string payload;
};

// Which side's frames a parser reads: a server reads masked client frames, a client reads
// unmasked server frames; anything else is a protocol error.
enum class role { server, client };

// Parses the peer's frames one at a time and reassembles fragmented messages. A frame is
// parsed only once it is complete in the input, so the caller's buffer must be able to hold
// max_message_bytes + max_header_bytes. Messages larger than max_message_bytes (counting all their
// fragments) fail with 1009; text messages must be valid UTF-8 (1007).
class frame_parser {
public:
  explicit frame_parser(std::size_t max_message_bytes, role side = role::server)
      : max_message_bytes_(max_message_bytes), side_(side) {}

  parsed parse(std::string_view input);

  std::size_t max_message_bytes() const { return max_message_bytes_; }
  // Between the first and the last frame of a fragmented message.
  bool inside_message() const { return in_message_; }

private:
  parsed fail(std::uint16_t code, std::string why, std::size_t consumed = 0);

  std::size_t max_message_bytes_;
  role side_;
  bool in_message_ = false;  // inside a fragmented message
  opcode message_op_ = opcode::text;
  std::string message_;      // the fragments so far
};

// The header size of an unmasked frame carrying `payload_size` bytes.
std::size_t header_size(std::size_t payload_size);

}  // namespace gsio::net::ws
