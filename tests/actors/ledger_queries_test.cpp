// The ledger's read answers for clients: history searches walk down from `before`, stop at their
// scan and byte budgets, and say where to go on (actors/ledger_queries.cpp).
#include <doctest/doctest.h>

#include "actors/ledger_actor.hpp"
#include "crypto/identity.hpp"
#include "ledger/chain_tree.hpp"

using namespace gsio;

namespace {

// 100 entries: every tenth has the nickname "ada", the others "bob".
ledger::chain_tree nicknamed_chain() {
  auto creator = crypto::identity::generate();
  ledger::chain_tree tree;
  std::string parent(ledger::genesis_hash);
  for (int i = 0; i < 100; ++i) {
    const std::string data = std::string("{\"nickname\":\"") + (i % 10 == 0 ? "ada" : "bob") +
                             "\",\"text\":\"" + std::to_string(i) + "\"}";
    auto e = ledger::make_entry(creator, data, parent, 1000 + i);
    parent = e.hash;
    REQUIRE(tree.insert(std::move(e)).outcome == ledger::chain_tree::status::appended);
  }
  return tree;
}

actors::history_query ada(std::uint64_t before, std::uint64_t limit, std::uint64_t max_scan) {
  actors::history_query q;
  q.query.nickname = "ada";
  q.before = before;
  q.limit = limit;
  q.max_scan = max_scan;
  q.max_bytes = 1 << 20;
  return q;
}

}  // namespace

TEST_CASE("history search: newest first, with heights, and where to go on") {
  const auto tree = nicknamed_chain();
  auto page = actors::find_history(tree, ada(UINT64_MAX, 3, 1000));
  CHECK(page.height == 100);
  CHECK(page.heights == std::vector<std::uint64_t>{90, 80, 70});
  REQUIRE(page.entries.size() == 3);
  CHECK(page.entries[0] == ledger::to_json(*tree.at(90)));
  CHECK(page.next == 70);  // entries below 70 are not searched yet
  CHECK(page.scanned == 30);

  page = actors::find_history(tree, ada(page.next, 100, 1000));
  CHECK(page.heights == std::vector<std::uint64_t>{60, 50, 40, 30, 20, 10, 0});
  CHECK(page.next == 0);  // reached the first entry
}

TEST_CASE("history search: stops after max_scan entries, even with no match") {
  const auto tree = nicknamed_chain();
  auto page = actors::find_history(tree, ada(89, 50, 5));
  CHECK(page.entries.empty());
  CHECK(page.scanned == 5);
  CHECK(page.next == 84);
  // The whole chain is reached in budget-sized steps.
  std::vector<std::uint64_t> found;
  std::uint64_t before = UINT64_MAX;
  int steps = 0;
  do {
    page = actors::find_history(tree, ada(before, 50, 7));
    found.insert(found.end(), page.heights.begin(), page.heights.end());
    before = page.next;
    ++steps;
  } while (before != 0 && steps < 100);
  CHECK(steps == 15);  // ceil(100 / 7)
  CHECK(found == std::vector<std::uint64_t>{90, 80, 70, 60, 50, 40, 30, 20, 10, 0});
}

TEST_CASE("history search: a byte budget cuts the page, and the next search starts at the cut") {
  const auto tree = nicknamed_chain();
  auto q = ada(UINT64_MAX, 50, 1000);
  q.max_bytes = ledger::to_json(*tree.at(90)).size() + 1;  // room for one match
  auto page = actors::find_history(tree, q);
  CHECK(page.heights == std::vector<std::uint64_t>{90});
  CHECK(page.next == 81);  // 80 matched but did not fit: it comes first next time
  q.max_bytes = 1;  // too small for any: one match still comes, so a search always moves on
  q.before = page.next;
  page = actors::find_history(tree, q);
  CHECK(page.heights == std::vector<std::uint64_t>{80});
}

TEST_CASE("history search: `before` above the height starts at the tip; an empty chain finds nothing") {
  const auto tree = nicknamed_chain();
  CHECK(actors::find_history(tree, ada(1'000'000, 1, 1000)).heights == std::vector<std::uint64_t>{90});
  const ledger::chain_tree empty;
  const auto page = actors::find_history(empty, ada(UINT64_MAX, 10, 1000));
  CHECK(page.entries.empty());
  CHECK(page.next == 0);
  CHECK(page.height == 0);
}
