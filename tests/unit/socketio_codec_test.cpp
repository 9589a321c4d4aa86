#include <doctest/doctest.h>

#include <string>

#include "net/socketio_codec.hpp"

using namespace gsio::net::sio;
using namespace std::string_literals;

namespace {

packet make(packet_type type, std::string nsp, std::optional<std::uint64_t> id, std::string data,
            std::size_t attachments = 0) {
  packet p;
  p.type = type;
  p.nsp = std::move(nsp);
  p.id = id;
  p.data = std::move(data);
  p.attachments = attachments;
  return p;
}

packet decoded(std::string_view text) {
  auto r = decode(text);
  INFO("input: ", std::string{text}, " error: ", r.error);
  REQUIRE(r);
  return *r.value;
}

}  // namespace

TEST_CASE("socket.io: encoding follows the v5 wire format") {
  CHECK(encode(make(packet_type::connect, "/", {}, "")) == "0");
  CHECK(encode(make(packet_type::connect, "/", {}, R"({"sid":"abc"})")) == R"(0{"sid":"abc"})");
  CHECK(encode(make(packet_type::connect, "/admin", {}, R"({"sid":"abc"})")) ==
        R"(0/admin,{"sid":"abc"})");
  CHECK(encode(make(packet_type::disconnect, "/admin", {}, "")) == "1/admin,");
  CHECK(encode(make(packet_type::disconnect, "/", {}, "")) == "1");
  CHECK(encode(make(packet_type::event, "/", {}, R"(["foo"])")) == R"(2["foo"])");
  CHECK(encode(make(packet_type::event, "/admin", 13, R"(["bar"])")) == R"(2/admin,13["bar"])");
  CHECK(encode(make(packet_type::ack, "/admin", 13, R"(["bar"])")) == R"(3/admin,13["bar"])");
  CHECK(encode(make(packet_type::connect_error, "/random", {},
                    R"({"message":"Invalid namespace"})")) ==
        R"(4/random,{"message":"Invalid namespace"})");
  CHECK(encode(make(packet_type::binary_event, "/", {},
                    R"(["baz",{"_placeholder":true,"num":0}])", 1)) ==
        R"(51-["baz",{"_placeholder":true,"num":0}])");
  CHECK(encode(make(packet_type::binary_ack, "/admin", 15,
                    R"([{"_placeholder":true,"num":0}])", 1)) ==
        R"(61-/admin,15[{"_placeholder":true,"num":0}])");
}

TEST_CASE("socket.io: decoding CONNECT") {
  auto p = decoded("0");
  CHECK(p.type == packet_type::connect);
  CHECK(p.nsp == "/");
  CHECK(p.data.empty());

  p = decoded(R"(0{"token":"123"})");
  CHECK(p.nsp == "/");
  CHECK(p.data == R"({"token":"123"})");

  p = decoded("0/custom,");
  CHECK(p.nsp == "/custom");
  CHECK(p.data.empty());

  // The trailing comma is optional when nothing follows the namespace.
  p = decoded("0/custom");
  CHECK(p.nsp == "/custom");

  p = decoded(R"(0/custom,{"token":"abc"})");
  CHECK(p.nsp == "/custom");
  CHECK(p.data == R"({"token":"abc"})");
}

TEST_CASE("socket.io: decoding EVENT and ACK") {
  auto p = decoded(R"(2["message",1,"2",{"3":[true]}])");
  CHECK(p.type == packet_type::event);
  CHECK_FALSE(p.id);
  CHECK(p.data == R"(["message",1,"2",{"3":[true]}])");

  p = decoded(R"(2456["message-with-ack",1])");
  REQUIRE(p.id);
  CHECK(*p.id == 456);
  CHECK(p.data == R"(["message-with-ack",1])");

  p = decoded(R"(2/admin,7["x"])");
  CHECK(p.nsp == "/admin");
  CHECK(p.id == std::optional<std::uint64_t>{7});

  p = decoded(R"(31[1,"2",{"3":[true]}])");
  CHECK(p.type == packet_type::ack);
  CHECK(p.id == std::optional<std::uint64_t>{1});
  CHECK(p.data == R"([1,"2",{"3":[true]}])");

  p = decoded("30[]");
  CHECK(p.id == std::optional<std::uint64_t>{0});
  CHECK(p.data == "[]");

  p = decoded("1/custom");
  CHECK(p.type == packet_type::disconnect);
  CHECK(p.nsp == "/custom");

  // rapidjson stops at a NUL byte as if the text ended there: what follows it would be accepted
  // unread (found by tests/fuzz).
  CHECK_FALSE(decode("2[\"message\",1]\n\0junk"s));
  CHECK_FALSE(decode("2[\"mes\0sage\"]"s));
  // rapidjson skips a byte order mark byte by byte: a lone 0xEF before the JSON passed.
  CHECK_FALSE(decode("24\xef[\"d\"]"));
  CHECK_FALSE(decode("2\xef\xbb\xbf[\"d\"]"));
  CHECK_FALSE(decode("210\xbb[\"get_ledger\"]"));
  CHECK_FALSE(decode("2\xbf[\"d\"]"));
}

TEST_CASE("socket.io: decoding binary packets") {
  auto p = decoded(R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  CHECK(p.type == packet_type::binary_event);
  CHECK(p.attachments == 2);
  CHECK_FALSE(p.id);

  p = decoded(R"(52-789["message-with-ack",{"_placeholder":true,"num":0},)"
              R"({"_placeholder":true,"num":1}])");
  CHECK(p.id == std::optional<std::uint64_t>{789});

  p = decoded(R"(61-/admin,15[{"_placeholder":true,"num":0}])");
  CHECK(p.type == packet_type::binary_ack);
  CHECK(p.nsp == "/admin");
  CHECK(p.attachments == 1);
  CHECK(p.id == std::optional<std::uint64_t>{15});
}

TEST_CASE("socket.io: round trips are byte exact") {
  for (std::string text : {R"(0/custom,{"token":"abc"})", R"(2["message",1,"2",{"3":[true]}])",
                           R"(3456[1,"2",{"3":[false]}])",
                           R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])",
                           R"(4/random,{"message":"Invalid namespace"})", "1/custom,",
                           R"(2/a,1["e",1.50,-0,1e300])"}) {
    CHECK(encode(decoded(text)) == text);
  }
}

TEST_CASE("socket.io: malformed packets are errors") {
  for (std::string bad : {
           "",
           "7",
           "abc",
           "a[\"x\"]",
           R"(2{})",                        // EVENT payload is not an array
           "2",                             // EVENT without payload
           "2[]",                           // EVENT without a name
           "2[1]",                          // event name is not a string
           R"(2["connect"])",               // reserved name
           R"(2["disconnect",1])",
           R"(2abc["message-with-ack",1,"2",{"3":[false]}])",  // invalid ack id
           R"(299999999999999999999["x"])",  // ack id out of range
           R"(29007199254740992["x"])",      // 2^53: beyond what JavaScript can represent
           R"(2["x")",                       // truncated JSON
           R"(2["x"] junk)",
           R"(2["x",NaN])",
           "2[\"\xff\"]",                    // invalid UTF-8
           "0[]",                            // CONNECT payload must be an object
           R"(0"token")",
           R"(01{})",                        // CONNECT cannot carry an ack id
           R"(1{})",                         // DISCONNECT carries no payload
           "3[]",                            // ACK needs an id
           R"(31{})",                        // ACK payload must be an array
           "31",
           "4",                              // CONNECT_ERROR needs a payload
           "4[1]",
           R"(5["x",{"_placeholder":true,"num":0}])",   // no attachment count
           R"(5-["x"])",
           R"(5a-["x"])",
           R"(51["x"])",
           R"(51-["x",{"_placeholder":true,"num":1}])",  // placeholder out of range
           R"(51-["x",{"_placeholder":true}])",
           R"(51-["x",{"_placeholder":true,"num":-1}])",
           R"(51-["x",{"_placeholder":true,"num":"0"}])",
           R"(51001-["x"])",                            // more attachments than allowed
           R"(61-1{"_placeholder":true,"num":0})",
       }) {
    auto r = decode(bad);
    INFO("input: ", bad);
    CHECK_FALSE(r);
    CHECK_FALSE(r.error.empty());
  }
}

TEST_CASE("socket.io: nesting beyond any message is refused before it is parsed") {
  // Everything after the codec walks documents recursively (serializing, canonicalizing), so
  // the codec refuses what no message of the protocol needs: more than 160 levels.
  std::string deep = "2[\"x\"," + std::string(200000, '[') + std::string(200000, ']') + "]";
  auto r = decode(deep);
  CHECK_FALSE(r);
  CHECK_FALSE(r.error.empty());
  std::string unbalanced = "2[\"x\"," + std::string(200000, '[');
  CHECK_FALSE(decode(unbalanced));
  std::string deep_binary = "51-[\"x\"," + std::string(100000, '[') +
                            R"({"_placeholder":true,"num":0})" + std::string(100000, ']') + "]";
  CHECK_FALSE(decode(deep_binary));
  // 159 levels inside the event's array (160 in all) are fine.
  std::string fits = "2[\"x\"," + std::string(159, '[') + std::string(159, ']') + "]";
  CHECK(decode(fits));
  CHECK_FALSE(decode("2[\"x\",[" + std::string(159, '[') + std::string(159, ']') + "]]"));
}

TEST_CASE("socket.io: event payload helpers") {
  CHECK(make_event_payload("auth", "[{}]") == R"(["auth",{}])");
  CHECK(make_event_payload("message-back", "[]") == R"(["message-back"])");
  CHECK(make_event_payload("e", " [ 1, 2 ] ") == R"(["e",1, 2])");
  CHECK(make_event_payload("quote\"d", "[1]") == R"(["quote\"d",1])");
  CHECK(make_event_payload("single", R"({"a":1})") == R"(["single",{"a":1}])");

  auto parts = split_event_payload(R"(["message",1,"2",{"3":[true]}])");
  REQUIRE(parts);
  CHECK(parts->name == "message");
  CHECK(parts->args_json == R"([1,"2",{"3":[true]}])");

  parts = split_event_payload(R"(["only"])");
  REQUIRE(parts);
  CHECK(parts->name == "only");
  CHECK(parts->args_json == "[]");

  parts = split_event_payload(R"([ "esc\"aped\\" , 1.50 ])");
  REQUIRE(parts);
  CHECK(parts->name == "esc\"aped\\");
  CHECK(parts->args_json == "[1.50 ]");

  CHECK_FALSE(split_event_payload("[]"));
  CHECK_FALSE(split_event_payload("[1]"));
  CHECK_FALSE(split_event_payload(R"(["unterminated)"));

  // Splitting and rebuilding gives back the original payload.
  std::string original = R"(["message-back",1,"2",{"3":[true]}])";
  auto split = split_event_payload(original);
  REQUIRE(split);
  CHECK(make_event_payload(split->name, split->args_json) == original);
}

TEST_CASE("socket.io: binary reassembly collects the announced attachments") {
  binary_reassembler r;
  CHECK_FALSE(r.active());
  r.start(decoded(R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])"));
  CHECK(r.active());
  CHECK_FALSE(r.add("\x01\x02\x03"s));
  CHECK(r.add("\x04\x05\x06"s));
  auto complete = r.take();
  CHECK_FALSE(r.active());
  CHECK(complete.header.type == packet_type::binary_event);
  REQUIRE(complete.attachments.size() == 2);
  CHECK(complete.attachments[0] == "\x01\x02\x03"s);
  CHECK(complete.attachments[1] == "\x04\x05\x06"s);

  r.start(decoded(R"(51-["x",{"_placeholder":true,"num":0}])"));
  r.reset();
  CHECK_FALSE(r.active());
}
