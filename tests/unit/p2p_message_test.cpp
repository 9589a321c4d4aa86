// The P2P envelope codec (net/p2p_message.hpp): what the relay and every node parse first.
#include <string>

#include <doctest/doctest.h>

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
