// The fork tree: attachment, holding, reorgs, and fork choice as a pure function of the entry set.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <random>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/chain_tree.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;
using status = chain_tree::status;

namespace {

identity make_identity(int n) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(static_cast<std::uint8_t>(n));
  return identity::from_seed(seed);
}

struct factory {
  std::vector<identity> creators;
  std::int64_t clock = 1'700'000'000'000;
  factory() {
    for (int i = 1; i <= 3; ++i)
      creators.push_back(make_identity(i));
  }
  entry make(std::string_view parent, int creator = 0, std::string data = "{}") {
    return make_entry(creators[creator], std::move(data), std::string(parent), ++clock);
  }
};

std::vector<std::string> canonical_hashes(const chain_tree& tree) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < tree.height(); ++i)
    out.push_back(tree.at(i)->hash);
  return out;
}

// The fork choice computed from scratch, the slow and obvious way.
std::vector<std::string> reference_chain(const std::vector<entry>& entries) {
  std::map<std::string, std::vector<const entry*>> children;
  for (const entry& e : entries)
    children[e.previous_hash].push_back(&e);
  std::function<std::size_t(const std::string&)> subtree = [&](const std::string& hash) {
    std::size_t n = 1;
    for (const entry* child : children[hash])
      n += subtree(child->hash);
    return n;
  };
  std::vector<std::string> chain;
  std::string at(genesis_hash);
  while (!children[at].empty()) {
    const entry* best = nullptr;
    std::size_t best_size = 0;
    for (const entry* child : children[at]) {
      std::size_t size = subtree(child->hash);
      if (!best || size > best_size || (size == best_size && child->hash < best->hash)) {
        best = child;
        best_size = size;
      }
    }
    chain.push_back(best->hash);
    at = best->hash;
  }
  return chain;
}

}  // namespace

TEST_CASE("a linear chain grows at the tip") {
  factory f;
  chain_tree tree;
  CHECK(tree.height() == 0);
  CHECK(tree.tip() == nullptr);
  CHECK(tree.tip_hash() == genesis_hash);
  std::string parent(genesis_hash);
  for (int i = 0; i < 100; ++i) {
    entry e = f.make(parent);
    parent = e.hash;
    auto result = tree.insert(e);
    REQUIRE(result.outcome == status::appended);
    REQUIRE(result.added.size() == 1);
    CHECK(result.added[0]->hash == e.hash);
    CHECK(result.removed.empty());
    CHECK(result.attached.size() == 1);
  }
  CHECK(tree.height() == 100);
  CHECK(tree.tip_hash() == parent);
  CHECK(tree.canonical_index(parent) == 99u);
  CHECK(tree.at(0)->previous_hash == genesis_hash);
  CHECK(tree.fork_count() == 0);
  CHECK(tree.tips().size() == 1);
  CHECK(tree.insert(*tree.at(5)).outcome == status::duplicate);
  CHECK(tree.find_canonical_by_id(tree.at(7)->id) == tree.at(7));
  CHECK(tree.last_unix_us_of(f.creators[0].node_id()) == f.clock);
  CHECK(tree.last_unix_us_of(f.creators[1].node_id()) == -1);
}

TEST_CASE("the bigger subtree wins a fork and the switch is reported as a reorg") {
  factory f;
  chain_tree tree;
  entry root = f.make(genesis_hash);
  tree.insert(root);
  entry a1 = f.make(root.hash, 0);
  tree.insert(a1);
  entry b1 = f.make(root.hash, 1);
  entry b2 = f.make(b1.hash, 1);
  auto first = tree.insert(b1);
  CHECK(first.outcome == status::appended);
  CHECK(tree.fork_count() == 1);
  // 1 vs 1: the smaller hash wins.
  const std::string& tie_winner = std::min(a1.hash, b1.hash);
  CHECK(tree.tip_hash() == tie_winner);

  auto second = tree.insert(b2);
  CHECK(tree.tip_hash() == b2.hash);
  CHECK(tree.height() == 3);
  if (tie_winner == a1.hash) {
    REQUIRE(second.reorg());
    REQUIRE(second.removed.size() == 1);
    CHECK(second.removed[0]->hash == a1.hash);
    REQUIRE(second.added.size() == 2);
    CHECK(second.added[0]->hash == b1.hash);
    CHECK(second.added[1]->hash == b2.hash);
  } else {
    CHECK_FALSE(second.reorg());
    REQUIRE(second.added.size() == 1);
  }
  CHECK(tree.size() == 4);
  CHECK(tree.tips().size() == 2);

  // a1's creator must re-append it on the canonical tip.
  auto orphans = tree.orphaned_entries_of(f.creators[0].node_id());
  REQUIRE(orphans.size() == 1);
  CHECK(orphans[0]->hash == a1.hash);
  entry again = relink(a1, f.creators[0], b2.hash);
  CHECK(tree.insert(again).outcome == status::appended);
  CHECK(tree.tip_hash() == again.hash);
  CHECK(tree.orphaned_entries_of(f.creators[0].node_id()).empty());
}

TEST_CASE("an entry whose parent is unknown is held, then released with its descendants") {
  factory f;
  chain_tree tree;
  entry e1 = f.make(genesis_hash);
  entry e2 = f.make(e1.hash);
  entry e3 = f.make(e2.hash);
  CHECK(tree.insert(e3).outcome == status::held);
  CHECK(tree.insert(e3).outcome == status::duplicate);
  CHECK(tree.insert(e2).outcome == status::held);
  CHECK(tree.held_count() == 2);
  CHECK(tree.missing_parents() == std::vector<std::string>{e1.hash});
  CHECK(tree.height() == 0);
  auto result = tree.insert(e1);
  CHECK(result.outcome == status::appended);
  REQUIRE(result.attached.size() == 3);
  CHECK(result.attached[0]->hash == e1.hash);
  CHECK(result.attached[1]->hash == e2.hash);
  CHECK(result.attached[2]->hash == e3.hash);
  CHECK(result.added.size() == 3);
  CHECK(tree.held_count() == 0);
  CHECK(tree.missing_parents().empty());
  CHECK(tree.tip_hash() == e3.hash);
}

TEST_CASE("held entries are bounded: beyond the limits the longest held are dropped") {
  factory f;
  chain_tree tree{chain_tree::held_limits{3, 1 << 20}};
  std::vector<entry> parents, children;
  for (int i = 0; i < 5; ++i) {
    parents.push_back(f.make(genesis_hash, 0, "{\"parent\":" + std::to_string(i) + "}"));
    children.push_back(f.make(parents.back().hash));
    CHECK(tree.insert(children.back()).outcome == status::held);
  }
  CHECK(tree.held_count() == 3);
  CHECK(tree.held_dropped() == 2);
  // The two oldest are gone: their parents come alone. The others are still released.
  CHECK(tree.insert(parents[0]).attached.size() == 1);
  CHECK(tree.insert(parents[4]).attached.size() == 2);
  CHECK(tree.held_count() == 2);
  // A dropped entry is taken again when a peer sends it again.
  CHECK(tree.insert(children[0]).outcome == status::appended);

  // The byte bound counts data: one large entry pushes out the others.
  chain_tree small{chain_tree::held_limits{100, 8 * 1024}};
  for (int i = 0; i < 3; ++i)
    small.insert(f.make(parents[i].hash, 1, "{\"n\":" + std::to_string(i) + "}"));
  CHECK(small.held_count() == 3);
  const auto before = small.held_bytes();
  CHECK(before > 0);
  small.insert(f.make(parents[3].hash, 1, "\"" + std::string(7000, 'x') + "\""));
  CHECK(small.held_bytes() <= 8 * 1024);
  CHECK(small.held_count() < 4);
  CHECK(small.held_dropped() >= 1);
}

TEST_CASE("entries held below an entry that is refused on arrival are dropped with it") {
  factory f;
  chain_tree tree;
  entry e1 = f.make(genesis_hash);
  entry e2 = f.make(e1.hash);
  tree.insert(e1);
  // A replay of e1 below e2 (a duplicate id on its path), with a child waiting for it.
  entry replay = relink(e1, f.creators[0], e2.hash);
  entry child = f.make(replay.hash, 1);
  CHECK(tree.insert(child).outcome == status::held);
  CHECK(tree.insert(replay).outcome == status::held);  // e2 is not there yet
  CHECK(tree.held_count() == 2);
  auto result = tree.insert(e2);  // releases the replay, which is refused, and so its child
  CHECK(result.outcome == status::appended);
  CHECK(result.attached.size() == 1);
  CHECK(tree.held_count() == 0);
  CHECK(tree.held_dropped() == 1);
  CHECK(tree.missing_parents().empty());

  // The same when the refused entry itself is what arrives last.
  entry replay2 = relink(e2, f.creators[0], e2.hash);
  entry child2 = f.make(replay2.hash, 2);
  CHECK(tree.insert(child2).outcome == status::held);
  CHECK(tree.insert(replay2).outcome == status::rejected);
  CHECK(tree.held_count() == 0);
  CHECK(tree.held_dropped() == 2);
}

TEST_CASE("side branches, off-chain and held entries are listed for the debug console") {
  factory f;
  chain_tree tree;
  // canonical: c0 c1 c2 c3 c4; a branch of 2 forks after c1, one of 1 forks after c3.
  std::vector<entry> chain{f.make(genesis_hash)};
  for (int i = 1; i < 5; ++i)
    chain.push_back(f.make(chain.back().hash));
  for (auto& e : chain)
    tree.insert(e);
  entry long1 = f.make(chain[1].hash, 1);
  entry long2 = f.make(long1.hash, 1);
  entry short1 = f.make(chain[3].hash, 2);
  tree.insert(long1);
  tree.insert(long2);
  tree.insert(short1);
  REQUIRE(tree.tip_hash() == chain[4].hash);

  auto branches = tree.side_branches();
  REQUIRE(branches.size() == 2);
  CHECK(branches[0].tip->hash == long2.hash);
  CHECK(branches[0].fork_height == 2);
  CHECK(branches[0].length == 2);
  CHECK(branches[1].tip->hash == short1.hash);
  CHECK(branches[1].fork_height == 4);
  CHECK(branches[1].length == 1);

  auto off = tree.off_chain_entries();
  REQUIRE(off.size() == 3);
  CHECK(off[0]->hash == long1.hash);
  CHECK(off[1]->hash == long2.hash);
  CHECK(off[2]->hash == short1.hash);

  // A branch from the genesis link shares nothing with the chain.
  entry lone = f.make(genesis_hash, 2);
  tree.insert(lone);
  auto with_lone = tree.side_branches();
  REQUIRE(with_lone.size() == 3);
  CHECK(with_lone[0].tip->hash == long2.hash);
  // Branches of one length come in the order of their tip hashes.
  const auto& [first, second] = std::minmax(short1.hash, lone.hash);
  CHECK(with_lone[1].tip->hash == first);
  CHECK(with_lone[2].tip->hash == second);
  const auto& lone_branch = with_lone[1].tip->hash == lone.hash ? with_lone[1] : with_lone[2];
  CHECK(lone_branch.fork_height == 0);
  CHECK(lone_branch.length == 1);

  entry unknown_parent = f.make(genesis_hash);
  entry held = f.make(unknown_parent.hash);
  CHECK(tree.insert(held).outcome == status::held);
  REQUIRE(tree.held_entries().size() == 1);
  CHECK(tree.held_entries()[0]->hash == held.hash);
  tree.insert(unknown_parent);
  CHECK(tree.held_entries().empty());
}

TEST_CASE("the same id twice on one path is rejected, on separate branches it is allowed") {
  factory f;
  chain_tree tree;
  entry e1 = f.make(genesis_hash);
  tree.insert(e1);
  entry e2 = f.make(e1.hash);
  tree.insert(e2);
  entry replay = relink(e1, f.creators[0], e2.hash);
  auto result = tree.insert(replay);
  CHECK(result.outcome == status::rejected);
  REQUIRE(result.why.has_value());
  CHECK(result.why->code == reject_code::duplicate_id);
  CHECK(result.why->reason.find(e1.id) != std::string::npos);
  CHECK(tree.height() == 2);

  entry e2_elsewhere = relink(e2, f.creators[0], std::string(genesis_hash));
  CHECK(tree.insert(e2_elsewhere).outcome == status::appended);
}

TEST_CASE("fork choice depends only on the set of entries, not on arrival order") {
  std::mt19937 rng(20261125);
  for (int round = 0; round < 8; ++round) {
    factory f;
    std::vector<entry> entries;
    // Mostly chains with frequent forks; parents are chosen among recent entries.
    for (int i = 0; i < 150; ++i) {
      std::string parent(genesis_hash);
      if (!entries.empty() && rng() % 25 != 0) {
        std::size_t window = std::min<std::size_t>(entries.size(), 1 + rng() % 6);
        parent = entries[entries.size() - 1 - rng() % window].hash;
      }
      entries.push_back(f.make(parent, static_cast<int>(rng() % 3),
                               "{\"i\":" + std::to_string(i) + "}"));
    }
    const auto expected = reference_chain(entries);
    for (int order = 0; order < 25; ++order) {
      std::vector<entry> shuffled = entries;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      chain_tree tree;
      std::vector<std::string> replayed;  // the canonical chain rebuilt from the reported diffs
      for (entry& e : shuffled) {
        auto result = tree.insert(std::move(e));
        REQUIRE(result.outcome != status::rejected);
        REQUIRE(replayed.size() >= result.removed.size());
        for (std::size_t i = 0; i < result.removed.size(); ++i)
          CHECK(replayed[replayed.size() - result.removed.size() + i] == result.removed[i]->hash);
        replayed.resize(replayed.size() - result.removed.size());
        for (const entry* added : result.added)
          replayed.push_back(added->hash);
        REQUIRE(replayed == canonical_hashes(tree));
      }
      CHECK(tree.held_count() == 0);
      CHECK(tree.size() == entries.size());
      CHECK(canonical_hashes(tree) == expected);
      CHECK(replayed == expected);
      for (std::size_t i = 0; i < tree.height(); ++i)
        CHECK(tree.canonical_index(tree.at(i)->hash) == i);
    }
  }
}

TEST_CASE("forks anywhere in long runs keep fork choice exact, whichever side of a split moves") {
  // Splitting a run of entries moves its shorter side: forks near the start of a long run move
  // the head, forks near its end the tail. Both must leave the tree as the reference sees it.
  std::mt19937 rng(20261126);
  for (int round = 0; round < 6; ++round) {
    factory f;
    std::vector<entry> entries;
    for (int i = 0; i < 120; ++i)  // one long run first
      entries.push_back(f.make(entries.empty() ? std::string(genesis_hash) : entries.back().hash, 0,
                               "{\"i\":" + std::to_string(i) + "}"));
    for (int i = 120; i < 260; ++i) {  // then parents anywhere, old ones included
      const auto& parent = entries[rng() % entries.size()].hash;
      entries.push_back(f.make(parent, static_cast<int>(rng() % 3), "{\"i\":" + std::to_string(i) + "}"));
    }
    for (int order = 0; order < 4; ++order) {
      std::vector<entry> arrival = entries;
      if (order != 0)
        std::shuffle(arrival.begin(), arrival.end(), rng);
      chain_tree tree;
      std::vector<entry> inserted;
      for (entry& e : arrival) {
        inserted.push_back(e);
        REQUIRE(tree.insert(std::move(e)).outcome != status::rejected);
        if (order == 0)  // in creation order every prefix is a whole tree: check each step
          REQUIRE(canonical_hashes(tree) == reference_chain(inserted));
      }
      CHECK(canonical_hashes(tree) == reference_chain(entries));
      for (std::size_t i = 0; i < tree.height(); ++i)
        CHECK(tree.canonical_index(tree.at(i)->hash) == i);
    }
  }
  // The pattern of a peer forking old entries one after the other, then the chain growing on.
  factory f;
  std::vector<entry> entries;
  chain_tree tree;
  auto add = [&](entry e) {
    entries.push_back(e);
    REQUIRE(tree.insert(std::move(e)).outcome == status::appended);
  };
  for (int i = 0; i < 200; ++i)
    add(f.make(entries.empty() ? std::string(genesis_hash) : entries.back().hash));
  for (int height = 0; height < 60; ++height)
    add(f.make(entries[static_cast<std::size_t>(height)].hash, 1));
  for (int i = 0; i < 20; ++i)
    add(f.make(tree.tip()->hash));
  CHECK(canonical_hashes(tree) == reference_chain(entries));
  CHECK(tree.height() == 220);
  // The same id twice on one path is still found across the segments the splits made.
  auto copy = f.make(entries[150].hash);
  copy.id = entries[10].id;
  CHECK(tree.insert(std::move(copy)).outcome == status::rejected);
}
