#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ws_frame.hpp"

using namespace gsio::net::ws;

namespace {

// A client frame as a browser would send it: masked with `key`.
std::string client_frame(std::uint8_t first_byte, std::string_view payload,
                         std::uint32_t key = 0x37fa213d) {
  std::string frame;
  frame.push_back(static_cast<char>(first_byte));
  const auto size = payload.size();
  if (size < 126) {
    frame.push_back(static_cast<char>(0x80 | size));
  } else if (size <= 0xFFFF) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(size >> 8));
    frame.push_back(static_cast<char>(size & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      frame.push_back(static_cast<char>((static_cast<std::uint64_t>(size) >> (8 * i)) & 0xFF));
  }
  const char mask[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16),
                        static_cast<char>(key >> 8), static_cast<char>(key)};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < size; ++i)
    frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return frame;
}

constexpr std::uint8_t fin_text = 0x81, fin_binary = 0x82, text_start = 0x01,
                       fin_continuation = 0x80, continuation = 0x00, ping = 0x89, pong = 0x8A,
                       close = 0x88;

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

}  // namespace

TEST_CASE("server frames use the shortest length encoding and no mask") {
  CHECK(encode_frame(opcode::text, "hi") == std::string("\x81\x02hi", 4));
  const std::string medium(126, 'x');
  const auto m = encode_frame(opcode::text, medium);
  CHECK(m.substr(0, 4) == std::string("\x81\x7e\x00\x7e", 4));
  CHECK(m.size() == 4 + 126);
  const std::string large(70'000, 'y');
  const auto l = encode_frame(opcode::binary, large);
  CHECK(l.substr(0, 10) == std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  CHECK(l.size() == 10 + 70'000);
  CHECK(header_size(125) == 2);
  CHECK(header_size(0xFFFF) == 4);
  CHECK(header_size(0x10000) == 10);
}

TEST_CASE("close frames carry the code and a reason cut at a character boundary") {
  CHECK(encode_close(1001, "bye") == std::string("\x88\x05\x03\xe9" "bye", 7));
  std::string long_reason(122, 'a');
  long_reason += "\xc3\xa9\xc3\xa9";  // "éé": the cut at 123 bytes falls inside the first
  const auto frame = encode_close(1000, long_reason);
  const auto size = static_cast<std::uint8_t>(frame[1]);
  CHECK(size <= 125);
  CHECK(valid_utf8(std::string_view(frame).substr(4)));
  CHECK(frame.size() == 2 + size);
}

TEST_CASE("UTF-8 validation follows RFC 3629") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ASCII, longer than eight bytes"));
  CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));                       // U+10FFFF
  CHECK_FALSE(valid_utf8("\xc0\xaf"));                         // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));                     // overlong, 3 bytes
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));                     // surrogate U+D800
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));                 // above U+10FFFF
  CHECK_FALSE(valid_utf8("abcdefgh\x80"));                     // stray continuation after ASCII
  CHECK_FALSE(valid_utf8("\xe2\x82"));                         // truncated
  CHECK_FALSE(valid_utf8("\xc3\x28"));                         // bad continuation
}

TEST_CASE("a masked text frame is unmasked, whole or arriving byte by byte") {
  frame_parser parser{1024};
  const std::string text = "{\"message_type\":\"NodeAnnounce\"} with some length to it";
  const auto frame = client_frame(fin_text, text);
  for (std::size_t cut = 0; cut < frame.size(); ++cut) {
    auto partial = parser.parse(std::string_view(frame).substr(0, cut));
    REQUIRE(partial.what == parsed::kind::need_more);
    CHECK(partial.consumed == 0);
  }
  auto whole = parser.parse(frame + "trailing bytes of the next frame");
  REQUIRE(whole.what == parsed::kind::message);
  CHECK(whole.op == opcode::text);
  CHECK(whole.payload == text);
  CHECK(whole.consumed == frame.size());
}

TEST_CASE("16- and 64-bit lengths are read") {
  frame_parser parser{1 << 20};
  const std::string medium(300, 'm');
  auto m = parser.parse(client_frame(fin_binary, medium));
  REQUIRE(m.what == parsed::kind::message);
  CHECK(m.op == opcode::binary);
  CHECK(m.payload == medium);
  const std::string large(70'000, 'L');
  auto l = parser.parse(client_frame(fin_text, large));
  REQUIRE(l.what == parsed::kind::message);
  CHECK(l.payload == large);
}

TEST_CASE("fragments are reassembled, with control frames between them") {
  frame_parser parser{1024};
  std::string stream = client_frame(text_start, "{\"a\":") + client_frame(ping, "are you there") +
                       client_frame(continuation, "\"caf\xc3") +
                       client_frame(fin_continuation, "\xa9\"}");
  std::vector<parsed> events;
  std::string_view rest = stream;
  while (!rest.empty()) {
    auto p = parser.parse(rest);
    REQUIRE(p.what != parsed::kind::need_more);
    REQUIRE(p.what != parsed::kind::failure);
    rest.remove_prefix(p.consumed);
    events.push_back(std::move(p));
  }
  REQUIRE(events.size() == 4);
  CHECK(events[0].what == parsed::kind::fragment);
  CHECK(events[1].what == parsed::kind::ping);
  CHECK(events[1].payload == "are you there");
  CHECK(events[2].what == parsed::kind::fragment);  // the UTF-8 sequence spans two fragments
  CHECK(events[3].what == parsed::kind::message);
  CHECK(events[3].payload == "{\"a\":\"caf\xc3\xa9\"}");
}

TEST_CASE("close frames report their code and reason") {
  frame_parser parser{1024};
  auto with_code = parser.parse(client_frame(close, close_payload(1000, "done")));
  REQUIRE(with_code.what == parsed::kind::close);
  CHECK(with_code.code == 1000);
  CHECK(with_code.payload == "done");
  auto empty = parser.parse(client_frame(close, ""));
  REQUIRE(empty.what == parsed::kind::close);
  CHECK(empty.code == 1005);
  auto pong_frame = parser.parse(client_frame(pong, "x"));
  CHECK(pong_frame.what == parsed::kind::pong);
}

TEST_CASE("protocol violations fail with the close code RFC 6455 asks for") {
  auto failure_of = [](std::string bytes, std::size_t max = 1024) {
    frame_parser parser{max};
    auto p = parser.parse(bytes);
    REQUIRE(p.what == parsed::kind::failure);
    CHECK_FALSE(p.payload.empty());
    return p.code;
  };
  std::string unmasked = "\x81\x02hi";
  CHECK(failure_of(unmasked) == close_code::protocol_error);
  CHECK(failure_of(client_frame(0xC1, "rsv1")) == close_code::protocol_error);
  CHECK(failure_of(client_frame(0x83, "opcode 3")) == close_code::protocol_error);
  CHECK(failure_of(client_frame(0x09, "fragmented ping")) == close_code::protocol_error);
  CHECK(failure_of(client_frame(ping, std::string(126, 'p'))) == close_code::protocol_error);
  CHECK(failure_of(client_frame(fin_continuation, "nothing to continue")) ==
        close_code::protocol_error);
  CHECK(failure_of(client_frame(close, "x")) == close_code::protocol_error);
  CHECK(failure_of(client_frame(close, close_payload(1005))) == close_code::protocol_error);
  CHECK(failure_of(client_frame(close, close_payload(999))) == close_code::protocol_error);
  CHECK(failure_of(client_frame(close, close_payload(1000, "\xff"))) == close_code::invalid_payload);
  CHECK(failure_of(client_frame(fin_text, "caf\xc3")) == close_code::invalid_payload);
  CHECK(failure_of(client_frame(fin_text, std::string(1025, 'x'))) == close_code::message_too_big);

  // A 16-bit length that would fit in 7 bits is not the shortest encoding.
  std::string padded = client_frame(fin_text, std::string(200, 'x'));
  padded[2] = 0;
  padded[3] = 5;
  CHECK(failure_of(padded) == close_code::protocol_error);
}

TEST_CASE("the size limit counts every fragment and is checked before the payload arrives") {
  frame_parser parser{100};
  auto first = parser.parse(client_frame(text_start, std::string(60, 'a')));
  REQUIRE(first.what == parsed::kind::fragment);
  // Only the header of the second fragment is given: the limit is known from it already.
  const auto second = client_frame(fin_continuation, std::string(60, 'b'));
  auto p = parser.parse(std::string_view(second).substr(0, 6));
  REQUIRE(p.what == parsed::kind::failure);
  CHECK(p.code == close_code::message_too_big);

  frame_parser huge{1 << 20};
  std::string header = "\x81\xff";  // 64-bit length, masked
  header += std::string("\x00\x00\x00\x01\x00\x00\x00\x00", 8);  // 4 GiB
  auto big = huge.parse(header);
  REQUIRE(big.what == parsed::kind::failure);
  CHECK(big.code == close_code::message_too_big);
}

TEST_CASE("a new message inside a fragmented one is a protocol error") {
  frame_parser parser{1024};
  REQUIRE(parser.parse(client_frame(text_start, "part")).what == parsed::kind::fragment);
  auto p = parser.parse(client_frame(fin_text, "interloper"));
  REQUIRE(p.what == parsed::kind::failure);
  CHECK(p.code == close_code::protocol_error);
}

TEST_CASE("a client-side parser reads unmasked server frames and refuses masked ones") {
  frame_parser client{1 << 20, role::client};
  const std::string text(300, 't');
  auto p = client.parse(encode_frame(opcode::text, text) + "next");
  REQUIRE(p.what == parsed::kind::message);
  CHECK(p.payload == text);
  CHECK(p.consumed == 4 + 300);
  auto c = client.parse(encode_close(1001, "going"));
  REQUIRE(c.what == parsed::kind::close);
  CHECK(c.code == 1001);
  CHECK(c.payload == "going");
  auto masked = client.parse(client_frame(fin_text, "masked"));
  REQUIRE(masked.what == parsed::kind::failure);
  CHECK(masked.code == close_code::protocol_error);
}

TEST_CASE("masked frames from append_masked_frame read back through a server-side parser") {
  for (std::size_t size : {0u, 5u, 125u, 126u, 65535u, 65536u}) {
    std::string payload(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
      payload[i] = static_cast<char>('a' + i % 26);
    std::string frame;
    append_masked_frame(frame, opcode::text, payload, 0xa1b2c3d4);
    CHECK(frame.size() == header_size(size) + 4 + size);
    CHECK(frame == client_frame(fin_text, payload, 0xa1b2c3d4));
    frame_parser server{1 << 20};
    auto p = server.parse(frame);
    REQUIRE(p.what == parsed::kind::message);
    CHECK(p.payload == payload);
  }
}
