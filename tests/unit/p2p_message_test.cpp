// The P2P envelope codec (net/p2p_message.hpp): what the relay and every node parse first.
#include <string>

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "net/nats_bridge.hpp"
#include "net/p2p_message.hpp"

using namespace gsio::net;

namespace {

std::string envelope_with_payload(const std::string& payload) {
  return R"({"message_type":"EntryAnnounce","message_id":"m1","sender_id":"a","recipient_id":null,"payload":)" +
         payload + "}";
}

}  // namespace

TEST_CASE("an envelope round-trips and keeps its payload") {
  p2p_message m;
  m.type = p2p_type::ledger_sync_response;
  m.message_id = "id-1";
  m.sender_id = "node-a";
  m.recipient_id = "node-b";
  m.payload_json = R"({"entries":[{"x":"[{"}],"more":false})";
  std::string error;
  auto back = decode_p2p(encode(m), error);
  REQUIRE_MESSAGE(back, error);
  CHECK(back->type == m.type);
  CHECK(back->message_id == "id-1");
  CHECK(back->sender_id == "node-a");
  CHECK(back->recipient_id == "node-b");
  CHECK(back->payload_json == m.payload_json);
  auto routed = decode_p2p(encode(m), error, /*with_payload=*/false);
  REQUIRE(routed);
  CHECK(routed->payload_json.empty());
}

TEST_CASE("malformed envelopes are refused with a reason") {
  std::string error;
  CHECK_FALSE(decode_p2p("not json", error));
  CHECK(error == "a P2P message must be a JSON object");
  CHECK_FALSE(decode_p2p(R"({"message_type":"Nope","message_id":"m","sender_id":"a","payload":{}})", error));
  CHECK(error.find("unknown message_type") != std::string::npos);
  CHECK_FALSE(decode_p2p(envelope_with_payload("[]"), error));
  CHECK(error == "\"payload\" must be an object");
}

TEST_CASE("nesting beyond any message is refused before it is parsed") {
  std::string error;
  std::string deep;
  for (int i = 0; i < 200'000; ++i)
    deep += "{\"a\":";
  deep += "0";
  deep += std::string(200'000, '}');
  CHECK_FALSE(decode_p2p(envelope_with_payload(deep), error));
  CHECK(error.find("at most 160 levels") != std::string::npos);
  CHECK_FALSE(decode_p2p(std::string(500'000, '['), error, /*with_payload=*/false));

  // 150 levels inside the payload (151 with the envelope) are fine.
  std::string fits = std::string(149, '[') + std::string(149, ']');
  REQUIRE(decode_p2p(envelope_with_payload("{\"d\":" + fits + "}"), error));
}

TEST_CASE("numbers in the payload keep their exact value through decode and encode") {
  // rapidjson's default parse rounds 9.899999999999999 to 9.9; an entry passed on from such a
  // parse would no longer match its hash.
  std::string error;
  auto m = decode_p2p(envelope_with_payload(
                        R"({"v":[9.899999999999999,114.99999999999999,123456789012345680000,5e-324]})"),
                      error);
  REQUIRE(m);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseFullPrecisionFlag>(m->payload_json.c_str());
  REQUIRE(doc.IsObject());
  const auto& v = doc["v"];
  CHECK(v[0].GetDouble() == 9.899999999999999);
  CHECK(v[1].GetDouble() == 114.99999999999999);
  CHECK(v[2].GetDouble() == 123456789012345680000.0);
  CHECK(v[3].GetDouble() == 5e-324);
}

TEST_CASE("envelopes whose text could be read two ways or re-encoded as invalid UTF-8 are refused") {
  std::string error;
  // A NUL byte ends rapidjson's parse early: the bytes after it would ride along unread.
  const std::string valid = envelope_with_payload("{}");
  REQUIRE(decode_p2p(valid, error));
  for (bool with_payload : {true, false}) {
    CHECK_FALSE(decode_p2p(valid + std::string(1, '\0') + "junk", error, with_payload));
    CHECK(error.find("NUL byte") != std::string::npos);
    // A lone surrogate escape decodes to bytes that are not UTF-8; a node that wrote the sender
    // id back out (as a recipient) would send text its WebSocket peer must refuse.
    CHECK_FALSE(decode_p2p(
      R"({"message_type":"NodeAnnounce","message_id":"m","sender_id":"a\udc00","payload":{}})", error,
      with_payload));
    CHECK(error.find("lone surrogate") != std::string::npos);
    CHECK_FALSE(decode_p2p(envelope_with_payload(R"({"address":"x\ud800y"})"), error, with_payload));
    CHECK_FALSE(decode_p2p(envelope_with_payload(R"({"address":"\ud83d"})"), error, with_payload));
  }
  CHECK_FALSE(decode_p2p(envelope_with_payload("{\"v\":0." + std::string(400, '0') + "}"), error));
  CHECK(error.find("more than 100 characters") != std::string::npos);
  // A whole pair is a character; an escaped backslash before "u" is no escape at all.
  CHECK(decode_p2p(envelope_with_payload(R"({"emoji":"\ud83d\ude00","path":"C:\\udc00"})"), error));
}

TEST_CASE("NATS subjects: a node id is bridged only as one subject token; prefixes are tokens joined by dots") {
  using gsio::net::nats_bridge;
  CHECK(nats_bridge::valid_subject_token(std::string(64, 'a')));
  CHECK(nats_bridge::valid_subject_token("node-1_B"));
  for (const char* bad : {"", "a.b", "a*", ">", "a b", "a\tb", "caf\xc3\xa9", "a\nb"})
    CHECK_MESSAGE(!nats_bridge::valid_subject_token(bad), bad);
  CHECK(!nats_bridge::valid_subject_token(std::string(257, 'a')));
  CHECK(nats_bridge::valid_subject_prefix("gsio"));
  CHECK(nats_bridge::valid_subject_prefix("gsio.net-1.eu_west"));
  for (const char* bad : {"", ".gsio", "gsio.", "gsio..x", "gsio.*", "gsio.>", "gs io"})
    CHECK_MESSAGE(!nats_bridge::valid_subject_prefix(bad), bad);
}
