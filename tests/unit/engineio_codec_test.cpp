#include <doctest/doctest.h>

#include <string>

#include "net/engineio_codec.hpp"

using namespace gsio::net::eio;
using namespace std::string_literals;

TEST_CASE("engine.io: text packets encode as type byte plus data") {
  CHECK(encode_text(make_text(packet_type::open, R"({"sid":"x"})")) == R"(0{"sid":"x"})");
  CHECK(encode_text(make_text(packet_type::close)) == "1");
  CHECK(encode_text(make_text(packet_type::ping)) == "2");
  CHECK(encode_text(make_text(packet_type::ping, "probe")) == "2probe");
  CHECK(encode_text(make_text(packet_type::pong, "probe")) == "3probe");
  CHECK(encode_text(make_text(packet_type::message, "hello")) == "4hello");
  CHECK(encode_text(make_text(packet_type::message)) == "4");
  CHECK(encode_text(make_text(packet_type::upgrade)) == "5");
  CHECK(encode_text(make_text(packet_type::noop)) == "6");
}

TEST_CASE("engine.io: binary messages encode as 'b' plus base64 in text form") {
  CHECK(encode_text(make_binary("\x01\x02\x03\x04"s)) == "bAQIDBA==");
  CHECK(encode_text(make_binary("")) == "b");
}

TEST_CASE("engine.io: payloads join records with the record separator") {
  CHECK(encode_payload({make_text(packet_type::message, "test1"),
                        make_text(packet_type::message, "test2"),
                        make_text(packet_type::message, "test3")}) ==
        "4test1\x1e" "4test2\x1e" "4test3");
  CHECK(encode_payload({make_text(packet_type::message, "hello"),
                        make_binary("\x01\x02\x03\x04"s)}) == "4hello\x1e" "bAQIDBA==");
  CHECK(encode_payload({make_text(packet_type::noop)}) == "6");
  CHECK(encode_payload({}).empty());
}

TEST_CASE("engine.io: decoding text packets") {
  auto p = decode_text("4hello");
  REQUIRE(p);
  CHECK(p->type == packet_type::message);
  CHECK(p->data == "hello");
  CHECK_FALSE(p->binary);

  p = decode_text("2probe");
  REQUIRE(p);
  CHECK(p->type == packet_type::ping);
  CHECK(p->data == "probe");

  p = decode_text("3");
  REQUIRE(p);
  CHECK(p->type == packet_type::pong);
  CHECK(p->data.empty());

  p = decode_text("4");
  REQUIRE(p);
  CHECK(p->type == packet_type::message);
  CHECK(p->data.empty());

  for (char type : {'1', '5', '6'}) {
    p = decode_text(std::string(1, type));
    REQUIRE(p);
    CHECK(static_cast<char>(p->type) == type);
  }
}

TEST_CASE("engine.io: decoding base64 binary records") {
  auto p = decode_text("bAQIDBA==");
  REQUIRE(p);
  CHECK(p->binary);
  CHECK(p->type == packet_type::message);
  CHECK(p->data == "\x01\x02\x03\x04"s);

  p = decode_text("b");
  REQUIRE(p);
  CHECK(p->binary);
  CHECK(p->data.empty());
}

TEST_CASE("engine.io: malformed packets are rejected") {
  CHECK_FALSE(decode_text(""));
  CHECK_FALSE(decode_text("abc"));
  CHECK_FALSE(decode_text("7"));
  CHECK_FALSE(decode_text("9hello"));
  CHECK_FALSE(decode_text("/"));
  CHECK_FALSE(decode_text("1x"));       // close carries no data
  CHECK_FALSE(decode_text("5probe"));   // upgrade carries no data
  CHECK_FALSE(decode_text("6x"));       // noop carries no data
  CHECK_FALSE(decode_text("bAQID!A=="));
  CHECK_FALSE(decode_text("bAQI"s + "\x1e"));
}

TEST_CASE("engine.io: binary WebSocket frames are binary messages") {
  auto p = decode_binary_frame("\x00\x01\xff"s);
  CHECK(p.binary);
  CHECK(p.type == packet_type::message);
  CHECK(p.data == "\x00\x01\xff"s);
}

TEST_CASE("engine.io: decoding payloads") {
  auto packets = decode_payload("4test1\x1e" "4test2\x1e" "bAQIDBA==");
  REQUIRE(packets);
  REQUIRE(packets->size() == 3);
  CHECK((*packets)[0] == make_text(packet_type::message, "test1"));
  CHECK((*packets)[1] == make_text(packet_type::message, "test2"));
  CHECK((*packets)[2] == make_binary("\x01\x02\x03\x04"s));

  packets = decode_payload("3");
  REQUIRE(packets);
  REQUIRE(packets->size() == 1);
  CHECK((*packets)[0].type == packet_type::pong);

  // One bad record spoils the whole payload.
  CHECK_FALSE(decode_payload("4a\x1e" "abc"));
  CHECK_FALSE(decode_payload("4a\x1e"));       // empty trailing record
  CHECK_FALSE(decode_payload("\x1e" "4a"));    // empty leading record
  CHECK_FALSE(decode_payload(""));
  CHECK_FALSE(decode_payload("abc"));
}

TEST_CASE("engine.io: payload round trip keeps every packet") {
  std::vector<packet> packets{make_text(packet_type::message, "h\xc3\xa9llo"),
                              make_binary(std::string("\x00\x1e\xff", 3)),
                              make_text(packet_type::ping), make_text(packet_type::noop)};
  auto decoded = decode_payload(encode_payload(packets));
  REQUIRE(decoded);
  CHECK(*decoded == packets);
}

TEST_CASE("base64: RFC 4648 test vectors") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("\xff\xfe\xfd"s) == "//79");

  CHECK(base64_decode("") == ""s);
  CHECK(base64_decode("Zg==") == "f"s);
  CHECK(base64_decode("Zm8=") == "fo"s);
  CHECK(base64_decode("Zm9v") == "foo"s);
  CHECK(base64_decode("Zm9vYg==") == "foob"s);
  CHECK(base64_decode("Zm9vYmE=") == "fooba"s);
  CHECK(base64_decode("Zm9vYmFy") == "foobar"s);
  CHECK(base64_decode("//79") == "\xff\xfe\xfd"s);
}

TEST_CASE("base64: every byte value survives a round trip") {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); len += 37) {
    auto chunk = all.substr(0, len);
    CHECK(base64_decode(base64_encode(chunk)) == chunk);
  }
}

TEST_CASE("base64: malformed input is rejected") {
  CHECK_FALSE(base64_decode("Zg"));       // missing padding
  CHECK_FALSE(base64_decode("Zg="));      // length not a multiple of 4
  CHECK_FALSE(base64_decode("Z==="));     // too much padding
  CHECK_FALSE(base64_decode("===="));
  CHECK_FALSE(base64_decode("Zg==Zg==")); // padding in the middle
  CHECK_FALSE(base64_decode("Zm9v YmFy"));
  CHECK_FALSE(base64_decode("Zm9-"));     // base64url alphabet is not accepted
  CHECK_FALSE(base64_decode("Zh=="));     // non-zero bits dropped by the padding
  CHECK_FALSE(base64_decode("Zm9=" "x"));
}

TEST_CASE("base64url: the URL alphabet without padding, strict") {
  using gsio::util::base64url_decode;
  using gsio::util::base64url_encode;
  CHECK(base64url_encode("") == "");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_encode("\xff\xfe\xfd\xfb"s) == "__79-w");
  CHECK(base64url_decode("__79-w") == "\xff\xfe\xfd\xfb"s);
  CHECK(base64url_decode("Zm8") == "fo"s);
  CHECK_FALSE(base64url_decode("Zm8="));   // no padding
  CHECK_FALSE(base64url_decode("//79"));   // the standard alphabet's symbols
  CHECK_FALSE(base64url_decode("Zh"));     // unused bits set: a second spelling of "f"
  CHECK_FALSE(base64url_decode("Z"));      // no whole byte
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  for (std::size_t len = 0; len <= all.size(); ++len)
    CHECK(base64url_decode(base64url_encode(all.substr(0, len))) == all.substr(0, len));
}
