#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_targets.hpp"
#include "net/engineio_codec.hpp"
#include "net/p2p_message.hpp"
#include "net/socketio_codec.hpp"
#include "net/ws_frame.hpp"

namespace gsio::fuzz {
namespace {

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

struct frame_event {
  net::ws::parsed::kind what;
  net::ws::opcode op;
  std::uint16_t code;
  std::string payload;
  friend bool operator==(const frame_event&, const frame_event&) = default;
};

// Reads `bytes` as a connection would, `step` bytes per read: parse what the buffer holds, drop
// what was consumed, stop at a close or a protocol failure.
std::vector<frame_event> read_frames(net::ws::frame_parser parser, std::string_view bytes,
                                     std::size_t step) {
  using kind = net::ws::parsed::kind;
  std::vector<frame_event> events;
  std::string buffer;
  for (std::size_t offset = 0; offset < bytes.size(); offset += step) {
    buffer.append(bytes.substr(offset, step));
    for (;;) {
      auto result = parser.parse(buffer);
      if (result.what == kind::need_more) {
        require(result.consumed == 0, "need_more consumed bytes");
        break;
      }
      require(result.consumed <= buffer.size(), "consumed more than the input");
      require(result.what == kind::failure || result.consumed > 0, "a frame consumed nothing");
      switch (result.what) {
        case kind::message:
          require(result.payload.size() <= parser.max_message_bytes(), "message over the limit");
          if (result.op == net::ws::opcode::text)
            require(net::ws::valid_utf8(result.payload), "text message that is not UTF-8");
          break;
        case kind::ping:
        case kind::pong:
        case kind::close:
          require(result.payload.size() <= net::ws::max_control_payload_bytes,
                  "control payload over 125 bytes");
          break;
        default:
          break;
      }
      buffer.erase(0, result.consumed);
      events.push_back({result.what, result.op, result.code, std::move(result.payload)});
      if (result.what == kind::failure || result.what == kind::close)
        return events;
    }
  }
  return events;
}

}  // namespace

// The first byte picks the side and the message limit; the rest is the peer's byte stream.
// What the parser delivers must not depend on how the stream was cut into reads.
void ws_frames(const std::uint8_t* data, std::size_t size) {
  if (size < 1)
    return;
  const auto side = (data[0] & 1) ? net::ws::role::client : net::ws::role::server;
  constexpr std::size_t limits[] = {0, 16, 125, 1000, 70000};
  const std::size_t limit = limits[(data[0] >> 1) % std::size(limits)];
  const std::size_t step = 1 + (data[0] >> 4);
  const auto bytes = as_text(data + 1, size - 1);
  const auto whole = read_frames(net::ws::frame_parser(limit, side), bytes, bytes.size() + 1);
  const auto in_steps = read_frames(net::ws::frame_parser(limit, side), bytes, step);
  require(whole == in_steps, "frames parse differently when the bytes arrive in pieces");
}

// A record that decodes encodes back to the same bytes: the codec accepts one spelling of each
// packet, so nothing a client sends can be read two ways.
void engineio_packets(const std::uint8_t* data, std::size_t size) {
  const auto text = as_text(data, size);
  if (auto packet = net::eio::decode_text(text))
    require(net::eio::encode_text(*packet) == text, "an Engine.IO record does not re-encode to itself");
  if (auto packets = net::eio::decode_payload(text)) {
    require(!packets->empty(), "a payload decoded to no packets");
    require(net::eio::encode_payload(*packets) == text, "a polling payload does not re-encode to itself");
  }
  if (auto bytes = net::eio::base64_decode(text))
    require(net::eio::base64_encode(*bytes) == text, "strict base64 accepted a second spelling");
}

// A packet that decodes survives encode + decode unchanged, and a decoded EVENT splits into a
// name and arguments that rebuild the same event (up to whitespace around the arguments, which
// the first rebuild drops).
void socketio_packets(const std::uint8_t* data, std::size_t size) {
  auto decoded = net::sio::decode(as_text(data, size));
  if (!decoded) {
    require(!decoded.error.empty(), "a refused packet without a reason");
    return;
  }
  const auto& packet = *decoded.value;
  auto again = net::sio::decode(net::sio::encode(packet));
  require(again && *again.value == packet, "a Socket.IO packet changed through encode + decode");
  if (packet.type == net::sio::packet_type::event) {
    auto parts = net::sio::split_event_payload(packet.data);
    require(parts.has_value(), "a valid EVENT payload did not split");
    // A name with a lone surrogate escape decodes to bytes that are not UTF-8: it can be received
    // (and is quoted back as U+FFFD), but no event can be sent under it.
    if (!net::ws::valid_utf8(parts->name))
      return;
    auto rebuild = [](const net::sio::event_parts& from) {
      return net::sio::split_event_payload(net::sio::make_event_payload(from.name, from.args_json));
    };
    auto rebuilt = rebuild(*parts);
    require(rebuilt && rebuilt->name == parts->name, "an event rebuilt from its parts has another name");
    auto again = rebuild(*rebuilt);
    require(again && again->name == rebuilt->name && again->args_json == rebuilt->args_json,
            "an event rebuilt twice differs");
  }
}

// Routing by the envelope alone (the relay) accepts exactly what a node accepts, and an accepted
// envelope survives encode + decode.
void p2p_envelopes(const std::uint8_t* data, std::size_t size) {
  const auto text = as_text(data, size);
  std::string error, routing_error;
  auto message = net::decode_p2p(text, error, true);
  auto routed = net::decode_p2p(text, routing_error, false);
  require(message.has_value() == routed.has_value(), "relay and node disagree on an envelope");
  if (!message) {
    require(!error.empty() && error == routing_error, "a refused envelope without the same reason");
    return;
  }
  std::string again_error;
  auto again = net::decode_p2p(net::encode(*message), again_error, true);
  require(again && again->type == message->type && again->message_id == message->message_id &&
            again->sender_id == message->sender_id && again->recipient_id == message->recipient_id &&
            again->payload_json == message->payload_json,
          "a P2P envelope changed through encode + decode");
}

}  // namespace gsio::fuzz
