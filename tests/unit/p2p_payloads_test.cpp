// The P2P payloads (src/net/p2p_payloads.hpp): encoded as docs/PROTOCOL.md §7 has them, and read
// from a peer by the rules there.
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "net/p2p_payloads.hpp"

using namespace gsio::net;
using namespace gsio::net::p2p;

namespace {

const std::string hash_a(64, 'a');
const std::string hash_b(64, 'b');

template <class T>
T decoded(p2p_type type, std::string_view json, const read_limits& limits = {}) {
  std::string error;
  auto p = decode(type, json, error, limits);
  REQUIRE_MESSAGE(p.has_value(), error);
  REQUIRE(std::holds_alternative<T>(*p));
  return std::get<T>(*p);
}

bool refused(p2p_type type, std::string_view json, const read_limits& limits = {}) {
  std::string error;
  const bool refused = !decode(type, json, error, limits);
  CHECK(refused == !error.empty());
  return refused;
}

}  // namespace

TEST_CASE("p2p payloads: every type encodes and reads back, and travels as its message type") {
  node_announce announce;
  announce.node_id = hash_a;
  announce.address = "http://10.0.0.1:3000";
  announce.height = 7;
  announce.tip_hash = hash_b;
  announce.entries = 9;
  announce.relay_proof = std::string(128, 'c');
  CHECK(encode(announce) ==
        R"({"protocol":2,"node_id":")" + hash_a + R"(","address":"http://10.0.0.1:3000","height":7,"tip_hash":")" +
          hash_b + R"(","entries":9,"relay_proof":")" + std::string(128, 'c') + R"("})");
  auto a = decoded<node_announce>(p2p_type::node_announce, encode(announce));
  CHECK(a.protocol == 2);
  CHECK(a.node_id == hash_a);
  CHECK(a.address == announce.address);
  CHECK(a.height == 7);
  CHECK(a.tip_hash == hash_b);
  CHECK(a.entries == 9);
  CHECK(a.relay_proof == announce.relay_proof);
  CHECK(type_of(announce) == p2p_type::node_announce);

  node_list_response list{{hash_a, hash_b}, {{hash_a, "http://a", 1, hash_b}}};
  CHECK(encode(list) == R"({"nodes":[")" + hash_a + R"(",")" + hash_b + R"("],"peers":[{"node_id":")" +
                          hash_a + R"(","address":"http://a","height":1,"tip_hash":")" + hash_b + R"("}]})");
  auto l = decoded<node_list_response>(p2p_type::node_list_response, encode(list));
  CHECK(l.nodes == list.nodes);
  REQUIRE(l.peers.size() == 1);
  CHECK(l.peers[0].address == "http://a");

  const std::string entry = R"({"creator_node_id":"x","data":{"n":1.5}})";
  entry_announce ea{entry, 3, hash_a};
  CHECK(encode(ea) == R"({"entry":)" + entry + R"(,"height":3,"tip_hash":")" + hash_a + R"("})");
  CHECK(decoded<entry_announce>(p2p_type::entry_announce, encode(ea)).entry == entry);

  CHECK(encode(entry_request{{hash_a}}) == R"({"hashes":[")" + hash_a + R"("]})");
  CHECK(encode(entry_response{{entry, entry}}) == R"({"entries":[)" + entry + "," + entry + "]}");
  CHECK(decoded<entry_response>(p2p_type::entry_response, encode(entry_response{{entry}})).entries ==
        std::vector<std::string>{entry});

  CHECK(encode(ledger_sync_request{{hash_a}, std::nullopt, 100}) ==
        R"({"locator":[")" + hash_a + R"("],"cursor":null,"limit":100})");
  auto r = decoded<ledger_sync_request>(p2p_type::ledger_sync_request, encode(ledger_sync_request{{}, 42, 10}));
  CHECK(r.cursor == 42);
  CHECK(r.limit == 10);

  ledger_sync_response page{{entry}, 5, true, 6, hash_a};
  CHECK(encode(page) == R"({"entries":[)" + entry + R"(],"next_cursor":5,"more":true,"height":6,"tip_hash":")" +
                          hash_a + R"("})");
  auto pg = decoded<ledger_sync_response>(p2p_type::ledger_sync_response, encode(page));
  CHECK(pg.entries == page.entries);
  CHECK(pg.more);
  CHECK(pg.next_cursor == 5);
  CHECK(encode(node_list_request{}) == "{}");
  CHECK(type_of(page) == p2p_type::ledger_sync_response);
}

TEST_CASE("p2p payloads: what a peer says is kept only when well-formed") {
  // A protocol 1 announce has no version; a version that is not a number reads as 0.
  CHECK(decoded<node_announce>(p2p_type::node_announce, R"({"node_id":"x"})").protocol == 1);
  CHECK(decoded<node_announce>(p2p_type::node_announce, R"({"protocol":"2"})").protocol == 0);
  auto a = decoded<node_announce>(p2p_type::node_announce,
                                  R"({"address":")" + std::string(513, 'x') + R"(","tip_hash":"ABC","height":-1})");
  CHECK(a.address.empty());
  CHECK(a.tip_hash.empty());
  CHECK(a.height == 0);
  // Hashes: lowercase hex only, at most max_hashes; locators at most max_locator.
  std::string hashes = R"({"hashes":[")" + std::string(64, 'A') + R"(",1,")" + hash_a + "\"";
  for (int i = 0; i < 300; ++i)
    hashes += ",\"" + hash_b + "\"";
  hashes += "]}";
  auto req = decoded<entry_request>(p2p_type::entry_request, hashes);
  CHECK(req.hashes.size() == max_hashes);
  CHECK(req.hashes.front() == hash_a);
  // A page limit is clamped to [1, 1000].
  CHECK(decoded<ledger_sync_request>(p2p_type::ledger_sync_request, R"({"limit":0})").limit == 1);
  CHECK(decoded<ledger_sync_request>(p2p_type::ledger_sync_request, R"({"limit":5000})").limit == 1000);
  CHECK_FALSE(decoded<ledger_sync_request>(p2p_type::ledger_sync_request, R"({"cursor":null})").cursor);
  // A node list names at most max_listed_nodes.
  std::string many = R"({"nodes":[)";
  for (std::size_t i = 0; i < max_listed_nodes + 10; ++i)
    many += std::string(i ? "," : "") + "\"" + hash_a + "\"";
  many += "]}";
  CHECK(decoded<node_list_response>(p2p_type::node_list_response, many).nodes.size() == max_listed_nodes);
}

TEST_CASE("p2p payloads: what makes a message malformed") {
  CHECK(refused(p2p_type::node_announce, "[]"));
  CHECK(refused(p2p_type::node_announce, "{"));
  CHECK(refused(p2p_type::entry_announce, R"({"entry":[1]})"));
  CHECK(refused(p2p_type::entry_announce, R"({"height":1})"));
  // More entries than a request may ask for.
  std::string entries = R"({"entries":[)";
  for (int i = 0; i < 257; ++i)
    entries += std::string(i ? "," : "") + "{}";
  entries += "]}";
  CHECK(refused(p2p_type::entry_response, entries));
  CHECK_FALSE(refused(p2p_type::ledger_sync_response, entries));
  CHECK(refused(p2p_type::ledger_sync_response, entries, read_limits{100}));
  // Numbers keep every digit: an entry's data reads back as the same double.
  const auto page = decoded<ledger_sync_response>(p2p_type::ledger_sync_response,
                                                  R"({"entries":[{"x":9.899999999999999}]})");
  CHECK(page.entries.front() == R"({"x":9.899999999999999})");
}
