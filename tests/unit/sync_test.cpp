// Sync building blocks: locators, pages from the common ancestor, orphan re-append, the planner.
#include <doctest/doctest.h>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/chain_tree.hpp"
#include "ledger/sync.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;
using relation = sync_planner::tip_relation;

namespace {

identity make_identity(int n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(static_cast<std::uint8_t>(n));
  return identity::from_seed(seed);
}

// Appends `count` entries by `who` on the tree's tip.
void grow(chain_tree& tree, const identity& who, int count, std::int64_t& clock) {
  for (int i = 0; i < count; ++i)
    tree.insert(make_entry(who, "{\"i\":" + std::to_string(i) + "}", std::string(tree.tip_hash()), ++clock));
}

// Copies every entry of `from` into `to` through sync pages, returning how many crossed.
std::size_t pull_all(const chain_tree& from, chain_tree& to, std::size_t limit) {
  std::size_t crossed = 0;
  sync_request request{to.locator(), std::nullopt, limit};
  for (;;) {
    auto page = answer_sync(from, request, 1000);
    crossed += page.entries.size();
    for (const entry* e : page.entries)
      to.insert(*e);
    if (!page.more)
      return crossed;
    request = {{}, page.next_cursor, limit};
  }
}

}  // namespace

TEST_CASE("the locator starts at the tip, thins out exponentially and ends at the first entry") {
  auto alice = make_identity(1);
  chain_tree tree;
  CHECK(tree.locator().empty());
  std::int64_t clock = 1000;
  grow(tree, alice, 1000, clock);
  auto locator = tree.locator();
  CHECK(locator.front() == tree.tip_hash());
  CHECK(locator.back() == tree.at(0)->hash);
  CHECK(locator.size() < 16);
  CHECK(tree.common_ancestor(locator) == tree.tip());
  CHECK(tree.common_ancestor({"unknown", tree.at(10)->hash}) == tree.at(10));
  CHECK(tree.common_ancestor({}) == nullptr);
}

TEST_CASE("a node that lacks a suffix receives only that suffix, in bounded pages") {
  auto alice = make_identity(1);
  chain_tree full, lagging;
  std::int64_t clock = 1000;
  grow(full, alice, 1000, clock);
  for (std::size_t i = 0; i < 800; ++i)
    lagging.insert(*full.at(i));
  CHECK(pull_all(full, lagging, 64) == 200);
  CHECK(lagging.tip_hash() == full.tip_hash());

  chain_tree fresh;
  CHECK(pull_all(full, fresh, 500) == 1000);
  CHECK(fresh.tip_hash() == full.tip_hash());

  sync_request oversized{{}, std::uint64_t{0}, 1'000'000};
  CHECK(answer_sync(full, oversized, 1000).entries.size() == 1000);
  CHECK(answer_sync(full, oversized, 100).entries.size() == 100);
  auto tiny_bytes = answer_sync(full, oversized, 1000, 1);
  CHECK(tiny_bytes.entries.size() == 1);  // never an empty page
  CHECK(tiny_bytes.more);
  CHECK(tiny_bytes.next_cursor == 1);
}

TEST_CASE("after a partition each side receives the other's branch, side branches included") {
  auto alice = make_identity(1), bob = make_identity(2), carol = make_identity(3);
  chain_tree a, b;
  std::int64_t clock = 1000;
  grow(a, alice, 10, clock);
  for (std::size_t i = 0; i < a.height(); ++i)
    b.insert(*a.at(i));
  grow(a, alice, 3, clock);
  grow(b, bob, 5, clock);
  // A fork on b's side of the partition.
  b.insert(make_entry(carol, "{}", b.at(12)->hash, ++clock));
  // b lacks alice's 3; a lacks bob's 5 and carol's fork. A page holds everything the responder
  // attached after the common ancestor, so carol's side branch travels too, and what b just
  // learned from a goes back to a (harmless duplicates). The locator thins out, so the ancestor
  // it finds may lie a little before the fork: 2 entries b already has travel as well.
  CHECK(pull_all(a, b, 4) == 5);
  CHECK(pull_all(b, a, 4) == 9);
  CHECK(a.size() == b.size());
  CHECK(a.digest() == b.digest());
  CHECK(a.tip_hash() == b.tip_hash());
}

TEST_CASE("a creator re-appends its orphaned entries on the canonical tip with the same ids") {
  auto alice = make_identity(1), bob = make_identity(2);
  chain_tree tree;
  std::int64_t clock = 1000;
  grow(tree, alice, 3, clock);
  const std::string fork_point = tree.tip()->hash;
  entry a1 = make_entry(alice, "{\"a\":1}", fork_point, ++clock);
  entry a2 = make_entry(alice, "{\"a\":2}", a1.hash, ++clock);
  tree.insert(a1);
  tree.insert(a2);
  std::string parent = fork_point;
  for (int i = 0; i < 3; ++i) {  // bob's heavier branch wins
    entry e = make_entry(bob, "{}", parent, ++clock);
    parent = e.hash;
    tree.insert(e);
  }
  CHECK(tree.tip_hash() == parent);
  auto fresh = reappend_orphans(tree, alice);
  REQUIRE(fresh.size() == 2);
  CHECK(fresh[0].id == a1.id);
  CHECK(fresh[0].data == a1.data);
  CHECK(fresh[0].previous_hash == parent);
  CHECK(fresh[1].id == a2.id);
  CHECK(fresh[1].previous_hash == fresh[0].hash);
  for (auto& e : fresh)
    CHECK(tree.insert(e).outcome == chain_tree::status::appended);
  CHECK(tree.find_canonical_by_id(a1.id) != nullptr);
  CHECK(tree.find_canonical_by_id(a2.id) != nullptr);
  CHECK(reappend_orphans(tree, alice).empty());
  CHECK(reappend_orphans(tree, bob).empty());
}

TEST_CASE("the planner pulls once for an unknown tip, pages, times out and detects stuck peers") {
  sync_planner::options o;
  o.request_timeout_ms = 100;
  o.stuck_after_ms = 50;
  o.full_pull_interval_ms = 1000;
  sync_planner planner(o);

  auto first = planner.on_announce("p1", 10, "t1", relation::unknown, 0);
  REQUIRE(first.has_value());
  CHECK(first->peer == "p1");
  CHECK_FALSE(first->cursor.has_value());
  CHECK(planner.busy());
  // Another peer announcing the same unknown tip does not start a second pull.
  CHECK_FALSE(planner.on_announce("p2", 10, "t1", relation::unknown, 1).has_value());
  auto next = planner.on_page("p1", true, 7, 7, 2);
  REQUIRE(next.has_value());
  CHECK(next->cursor == 7u);
  CHECK_FALSE(planner.on_page("p2", false, 0, 0, 3).has_value());  // not the peer we pull from
  CHECK(planner.busy());
  CHECK_FALSE(planner.on_page("p1", false, 9, 2, 4).has_value());
  CHECK_FALSE(planner.busy());

  // Lagging or equal peers cause nothing.
  CHECK_FALSE(planner.on_announce("p2", 5, "old", relation::behind, 5).has_value());
  CHECK_FALSE(planner.on_announce("p2", 10, "t1", relation::same, 6).has_value());

  // An unanswered pull expires.
  REQUIRE(planner.on_announce("p2", 11, "t2", relation::unknown, 10).has_value());
  planner.tick(50);
  CHECK(planner.busy());
  planner.tick(111);
  CHECK_FALSE(planner.busy());

  // Diverged for longer than stuck_after: one full pull, then not again within the interval.
  CHECK_FALSE(planner.on_announce("p3", 9, "side", relation::diverged, 200).has_value());
  auto full = planner.on_announce("p3", 9, "side", relation::diverged, 260);
  REQUIRE(full.has_value());
  CHECK(full->full);
  CHECK(full->cursor == 0u);
  planner.on_page("p3", false, 40, 40, 261);
  CHECK_FALSE(planner.on_announce("p3", 9, "side", relation::diverged, 400).has_value());
  CHECK(planner.full_pulls() == 1);

  planner.abandon("p3");
  REQUIRE(planner.on_unknown_parent("p4", 500).has_value());
  planner.abandon("p4");
  CHECK_FALSE(planner.busy());
}

TEST_CASE("tip relations") {
  auto alice = make_identity(1), bob = make_identity(2);
  chain_tree tree;
  std::int64_t clock = 1000;
  grow(tree, alice, 5, clock);
  entry side = make_entry(bob, "{}", tree.at(1)->hash, ++clock);
  tree.insert(side);
  CHECK(sync_planner::relate(tree, std::string(tree.tip_hash())) == relation::same);
  CHECK(sync_planner::relate(tree, tree.at(0)->hash) == relation::behind);
  CHECK(sync_planner::relate(tree, std::string(genesis_hash)) == relation::behind);
  CHECK(sync_planner::relate(tree, side.hash) == relation::diverged);
  CHECK(sync_planner::relate(tree, std::string(64, 'f')) == relation::unknown);
}

TEST_CASE("sync planner: a pull whose pages say 'more' without moving the cursor ends") {
  using relation = sync_planner::tip_relation;
  sync_planner planner;
  REQUIRE(planner.on_announce("p1", 10, "t1", relation::unknown, 0).has_value());
  auto next = planner.on_page("p1", true, 5, 5, 1);
  REQUIRE(next.has_value());
  CHECK(next->cursor == 5u);
  // The same cursor again: the peer is not getting anywhere.
  CHECK_FALSE(planner.on_page("p1", true, 5, 3, 2).has_value());
  CHECK_FALSE(planner.busy());
  CHECK(planner.pulls_cut() == 1);

  // An empty page that says there is more ends a pull as well, its first page included.
  REQUIRE(planner.on_announce("p2", 10, "t2", relation::unknown, 3).has_value());
  CHECK_FALSE(planner.on_page("p2", true, 9, 0, 4).has_value());
  CHECK_FALSE(planner.busy());
  CHECK(planner.pulls_cut() == 2);

  // A full pull starts at cursor 0: its pages must go past it.
  sync_planner::options o;
  o.stuck_after_ms = 0;
  sync_planner full_planner(o);
  auto full = full_planner.on_announce("p3", 9, "side", relation::diverged, 10);
  REQUIRE(full.has_value());
  REQUIRE(full->full);
  CHECK_FALSE(full_planner.on_page("p3", true, 0, 4, 11).has_value());
  CHECK(full_planner.pulls_cut() == 1);
  // Another peer can be pulled from at once.
  CHECK(full_planner.on_announce("p4", 12, "t4", relation::unknown, 12).has_value());
}

TEST_CASE("sync planner: a pull ends after max_pull_ms however its pages move on") {
  using relation = sync_planner::tip_relation;
  sync_planner::options o;
  o.max_pull_ms = 1000;
  sync_planner planner(o);
  REQUIRE(planner.on_announce("p1", 10, "t1", relation::unknown, 0).has_value());
  // One entry a page, the cursor one further each time, an answer well within the timeout.
  std::uint64_t cursor = 0;
  std::int64_t now = 0;
  for (; now < 1000; now += 100)
    REQUIRE(planner.on_page("p1", true, ++cursor, 1, now).has_value());
  CHECK_FALSE(planner.on_page("p1", true, ++cursor, 1, now).has_value());
  CHECK_FALSE(planner.busy());
  CHECK(planner.pulls_cut() == 1);
  // The next announce of an honest peer starts a new pull from where this one got.
  CHECK(planner.on_announce("p1", 20, "t2", relation::unknown, now + 1).has_value());
}
