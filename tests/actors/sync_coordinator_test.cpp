// The sync coordinator against a stand-in ledger: what it asks of a ledger that falls behind.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <rapidjson/document.h>

#include "actor_test_util.hpp"
#include "actors/sync_coordinator.hpp"
#include "net/p2p_message.hpp"

using namespace gsio;
using namespace gsio::actors;

namespace {

using gsio::test::test_system;

struct stalled_ledger_state {
  std::vector<caf::response_promise> merges;  // taken, never answered
};

// A ledger busy with something long: it takes merge requests and answers none. Other requests
// wait unanswered too (answering them with an error would be a ledger the node never has).
caf::behavior stalled_ledger(caf::stateful_actor<stalled_ledger_state>* self) {
  self->set_default_handler(caf::skip);
  return {
    [=](merge_atom, std::vector<std::string>&) {
      self->state.merges.push_back(self->make_response_promise());
      return self->state.merges.back();
    },
    [=](get_atom) { return self->state.merges.size(); },
  };
}

// Stands in for the peer registry and the links: takes everything, answers nothing.
caf::behavior black_hole(caf::event_based_actor* self) {
  self->set_default_handler(caf::skip);
  return {[](tick_atom) {}};
}

// Stops the actors when the test ends, however it ends: the actor system waits for them.
struct stop_at_exit {
  std::vector<caf::actor> actors;
  ~stop_at_exit() {
    for (auto& a : actors)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
};

// A coordinator (node id "aa..a") with a stalled ledger, and a black hole for the registry and
// its link; stopped when the test ends.
struct coordinator_fixture {
  test_system ts;
  caf::actor ledger = ts.sys->spawn(stalled_ledger);
  caf::actor nowhere = ts.sys->spawn(black_hole);
  sync_coordinator_actor coordinator = spawn_coordinator();
  stop_at_exit stop{{caf::actor_cast<caf::actor>(coordinator), ledger, nowhere}};
  p2p_link_actor link = caf::actor_cast<p2p_link_actor>(nowhere);

  // The coordinator's inspect JSON, once it has handled everything sent to it before.
  std::string inspect() {
    caf::scoped_actor self{*ts.sys};
    std::string state;
    self->request(coordinator, std::chrono::seconds{10}, inspect_atom::value)
      .receive([&](const std::string& json) { state = json; },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    return state;
  }

  sync_coordinator_actor spawn_coordinator() {
    sync_options options;
    options.node_id = std::string(64, 'a');
    return ts.sys->spawn(sync_coordinator, options, caf::actor_cast<ledger_actor>(ledger),
                         caf::actor_cast<peer_registry_actor>(nowhere));
  }
};

std::uint64_t counter(const std::string& inspect_json, const char* name) {
  rapidjson::Document d;
  d.Parse(inspect_json.c_str());
  REQUIRE(d.IsObject());
  REQUIRE(d.HasMember(name));
  return d[name].GetUint64();
}

}  // namespace

TEST_CASE("sync coordinator: announced entries wait for a stalled ledger up to a bound, the rest "
          "are dropped") {
  coordinator_fixture f;
  auto& [ts, ledger, nowhere, coordinator, stop, link] = f;
  constexpr int announces = 300;
  for (int i = 0; i < announces; ++i) {
    p2p_envelope env;
    env.type = static_cast<std::uint8_t>(net::p2p_type::entry_announce);
    env.message_id = "announce-" + std::to_string(i);
    env.sender_id = std::string(64, 'b');
    env.payload_json = R"({"entry":{"n":)" + std::to_string(i) + "}}";
    caf::anon_send(coordinator, p2p_atom::value, env, link);
  }
  const auto state = f.inspect();
  caf::scoped_actor self{*ts.sys};
  CHECK(counter(state, "entries_received_announce") == announces);
  CHECK(counter(state, "merges_in_flight") == 256);
  CHECK(counter(state, "merges_dropped") == announces - 256);

  std::size_t taken = 0;
  for (int i = 0; i < 200 && taken < 256; ++i) {
    self->request(ledger, std::chrono::seconds{10}, get_atom::value)
      .receive([&](std::size_t n) { taken = n; }, [&](caf::error& err) { FAIL(caf::to_string(err)); });
    if (taken < 256)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  CHECK(taken == 256);
}

TEST_CASE("seen messages are known by sender and id together, and forgotten beyond the capacity") {
  gsio::net::seen_messages seen(3);
  CHECK(seen.first_time("a", "1"));
  CHECK_FALSE(seen.first_time("a", "1"));
  // Another sender's message with the same id is no duplicate: a peer that sends a node's next
  // ids first cannot have that node's messages dropped.
  CHECK(seen.first_time("b", "1"));
  CHECK(seen.first_time("ab", "c"));
  CHECK(seen.first_time("a", "bc"));  // the same characters, split differently
  CHECK(seen.first_time("a", "1"));   // three newer ones pushed it out
}

TEST_CASE("P2P message ids are 32 hex digits, fresh each time") {
  const auto a = gsio::net::new_message_id();
  const auto b = gsio::net::new_message_id();
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("sync coordinator: routes to senders heard over a link stay bounded") {
  coordinator_fixture f;
  auto& [ts, ledger, nowhere, coordinator, stop, link] = f;
  constexpr int senders = 5000;  // a relay client that reconnects under ever new node ids
  for (int i = 0; i < senders; ++i) {
    char id[65];
    std::snprintf(id, sizeof id, "%064x", i + 1);
    p2p_envelope env;
    env.type = static_cast<std::uint8_t>(net::p2p_type::node_list_response);
    env.message_id = "list-" + std::to_string(i);
    env.sender_id = id;
    env.payload_json = R"({"nodes":[]})";
    caf::anon_send(coordinator, p2p_atom::value, env, link);
  }
  const auto state = f.inspect();
  CHECK(counter(state, "messages_in") == senders);
  CHECK(counter(state, "peers_known") == 4096);
}

TEST_CASE("sync coordinator: a peer's requests are answered a few at a time, pulls only when directed") {
  coordinator_fixture f;  // its ledger answers no request: every one stays in flight
  auto& [ts, ledger, nowhere, coordinator, stop, link] = f;
  int sent = 0;
  auto send = [&](net::p2p_type type, const std::string& sender, const std::string& recipient,
                  const std::string& payload) {
    p2p_envelope env;
    env.type = static_cast<std::uint8_t>(type);
    env.message_id = "m" + std::to_string(++sent);
    env.sender_id = sender;
    env.recipient_id = recipient;
    env.payload_json = payload;
    caf::anon_send(coordinator, p2p_atom::value, env, link);
  };
  const std::string flooder(64, 'f'), other(64, 'e'), us(64, 'a');
  const std::string locator = R"({"locator":[")" + std::string(64, '0') + R"("],"limit":1000})";
  for (int i = 0; i < 20; ++i)
    send(net::p2p_type::ledger_sync_request, flooder, us, locator);
  for (int i = 0; i < 3; ++i)
    send(net::p2p_type::ledger_sync_request, flooder, "", locator);  // broadcast pulls
  send(net::p2p_type::entry_request, flooder, "", R"({"hashes":[")" + std::string(64, '1') + R"("]})");
  send(net::p2p_type::entry_request, other, "", R"({"hashes":["not a hash"]})");  // nothing to ask
  send(net::p2p_type::ledger_sync_request, other, us, locator);  // another peer has its own slots
  const auto state = f.inspect();
  CHECK(counter(state, "requests_dropped") == 16 + 1);
  CHECK(counter(state, "not_for_us") == 3);
}
