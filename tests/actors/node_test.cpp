// The node's actor graph (actors/node.hpp), booted as gsio-node boots it: two nodes in one actor
// system, the second linked directly to the first's /p2p, sync an entry, stop in order with it
// on disk, and start again from their data directories.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "actor_test_util.hpp"
#include "actors/node.hpp"
#include "test_util.hpp"

using namespace gsio;
using namespace gsio::actors;

namespace {

node_config config_for(std::uint16_t port = 0) {
  node_config c;
  c.gateway.host = "127.0.0.1";
  c.gateway.port = port;
  c.sync.announce_interval = std::chrono::milliseconds{100};
  return c;
}

tip_info tip_of(caf::actor_system& sys, const ledger_actor& ledger) {
  caf::scoped_actor self{sys};
  tip_info tip;
  self->request(ledger, std::chrono::seconds{10}, tip_atom::value)
    .receive([&](tip_info& t) { tip = std::move(t); }, [](caf::error& err) { FAIL(caf::to_string(err)); });
  return tip;
}

}  // namespace

TEST_CASE("node: two nodes booted from their data directories sync, stop in order and start again") {
  test::temp_dir dir_a, dir_b;
  test::test_system ts;
  std::string entry_hash;
  {
    node a{*ts.sys, open_ledger(dir_a.path.string(), {}), config_for()};
    std::string error;
    const auto port_a = a.wait_ready(error);
    REQUIRE_MESSAGE(port_a, error);
    CHECK(*port_a != 0);

    auto config_b = config_for();
    outbound_link_options peer;
    peer.urls = {"http://127.0.0.1:" + std::to_string(*port_a)};
    config_b.peer_links.push_back(peer);
    node b{*ts.sys, open_ledger(dir_b.path.string(), {}), config_b};
    REQUIRE_MESSAGE(b.wait_ready(error), error);
    CHECK(b.links().size() == 1);
    CHECK(a.node_id() != b.node_id());

    caf::scoped_actor self{*ts.sys};
    self->request(b.ledger(), std::chrono::seconds{10}, add_atom::value, std::string{R"({"n":1})"})
      .receive([&](add_result& r) { REQUIRE(r.error.empty()); },
               [](caf::error& err) { FAIL(caf::to_string(err)); });
    entry_hash = tip_of(*ts.sys, b.ledger()).tip_hash;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (tip_of(*ts.sys, a.ledger()).tip_hash != entry_hash && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    CHECK(tip_of(*ts.sys, a.ledger()).tip_hash == entry_hash);
    CHECK_FALSE(a.core_actor_died());

    const auto stopped_b = b.stop();
    REQUIRE(stopped_b);
    CHECK(stopped_b->height == 1);
    CHECK_FALSE(b.stop());  // once
    const auto stopped_a = a.stop();
    REQUIRE(stopped_a);
    CHECK(stopped_a->tip_hash == entry_hash);
  }
  // Both stores hold the entry: a node booted again from either starts at it.
  for (const auto* dir : {&dir_a, &dir_b}) {
    node again{*ts.sys, open_ledger(dir->path.string(), {}), config_for()};
    std::string error;
    REQUIRE_MESSAGE(again.wait_ready(error), error);
    CHECK(tip_of(*ts.sys, again.ledger()).tip_hash == entry_hash);
  }
}

TEST_CASE("node: a port already taken is reported, and the node still stops") {
  test::temp_dir dir_a, dir_b;
  test::test_system ts;
  node a{*ts.sys, open_ledger(dir_a.path.string(), {}), config_for()};
  std::string error;
  const auto port = a.wait_ready(error);
  REQUIRE(port);
  node b{*ts.sys, open_ledger(dir_b.path.string(), {}), config_for(*port)};
  CHECK_FALSE(b.wait_ready(error));
  CHECK(error.find("the client port did not open") == 0);
  CHECK(b.stop().has_value());  // the ledger still commits and answers
}
