// The ledger actor in a real actor system: group commit, durability, paging, publishing.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <rapidjson/document.h>

#include "actor_test_util.hpp"
#include "actors/ledger_actor.hpp"
#include "ledger/entry.hpp"
#include "ledger/store.hpp"
#include "test_util.hpp"

using namespace gsio;
using namespace gsio::actors;
namespace fs = std::filesystem;

namespace {

using gsio::test::temp_dir;
using gsio::test::test_system;

// Collects what the ledger publishes.
struct listener_state {
  std::vector<std::string> appended;
  std::uint64_t last_height = 0;
};
using probe_actor = ledger_listener_actor::extend<caf::replies_to<get_atom>::with<std::vector<std::string>, std::uint64_t>>;

probe_actor::behavior_type probe(probe_actor::stateful_pointer<listener_state> self) {
  return {
    [=](appended_atom, const std::vector<std::string>& entries, const tip_info& tip) {
      self->state.appended.insert(self->state.appended.end(), entries.begin(), entries.end());
      self->state.last_height = tip.height;
    },
    [=](reorg_atom, const reorg_event&) {},
    [=](get_atom) { return caf::make_result(self->state.appended, self->state.last_height); },
  };
}

// A peer's chain of `length` entries from genesis, as JSON, with ids in the recent past.
std::vector<std::string> peer_chain_from_genesis(int length) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  auto peer = crypto::identity::generate();
  std::vector<std::string> chain;
  std::string parent(ledger::genesis_hash);
  for (int i = 0; i < length; ++i) {
    auto e = ledger::make_entry(peer, "{\"peer\":" + std::to_string(i) + "}", parent,
                                now - 2 * length + i);
    parent = e.hash;
    chain.push_back(ledger::to_json(e));
  }
  return chain;
}

// Stores a chain of `length` entries by a new key in `dir`, with ids from `first_ms` on, and
// returns its tip hash.
std::string store_chain(const fs::path& dir, int length, std::int64_t first_ms) {
  auto writer = crypto::identity::generate();
  std::vector<ledger::entry> stored;
  std::string parent(ledger::genesis_hash);
  for (int i = 0; i < length; ++i) {
    stored.push_back(ledger::make_entry(writer, "{\"i\":" + std::to_string(i) + "}", parent,
                                        first_ms + i));
    parent = stored.back().hash;
  }
  ledger::store s(dir.string());
  std::vector<const ledger::entry*> pointers;
  for (const auto& e : stored)
    pointers.push_back(&e);
  s.append(pointers);
  return parent;
}

constexpr auto request_timeout = std::chrono::seconds{30};

// The ledger's inspect answer, parsed.
rapidjson::Document inspect_ledger(caf::scoped_actor& self, const ledger_actor& ledger_handle) {
  rapidjson::Document d;
  self->request(ledger_handle, request_timeout, inspect_atom::value)
    .receive([&](const std::string& json) { d.Parse(json.c_str()); },
             [&](caf::error& err) { FAIL(caf::to_string(err)); });
  REQUIRE(d.IsObject());
  return d;
}

// Sends `count` adds numbered from `first` without waiting for any reply, as many clients would.
auto fire_adds(caf::scoped_actor& self, const ledger_actor& ledger_handle, int first, int count) {
  using handle = decltype(self->request(ledger_handle, request_timeout, add_atom::value,
                                        std::string{}));
  std::vector<handle> out;
  for (int i = first; i < first + count; ++i)
    out.push_back(self->request(ledger_handle, request_timeout, add_atom::value,
                                "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

// Holds the ledger's first store transaction open until release(); `later` runs in place of each
// later transaction's start. By default every batch goes through the writer thread, so the ledger
// actor is free meanwhile; with `blocking_actor`, an idle ledger commits its first batch itself and
// is blocked until release(), so that a test can lay out its mailbox. Declared before the actor
// system, so that it outlives the threads that call it.
class first_commit_gate {
public:
  void install(ledger_resources& res, std::function<void()> later = {},
               bool blocking_actor = false) {
    res.commit_inline_when_idle = blocking_actor;
    res.before_commit = [this, later = std::move(later)] {
      std::unique_lock lock{mutex_};
      if (transactions_++ != 0) {
        lock.unlock();
        if (later)
          later();
        return;
      }
      holding_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
    };
  }
  bool wait_holding() {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, std::chrono::seconds{10}, [this] { return holding_; });
  }
  void release() {
    std::lock_guard lock{mutex_};
    released_ = true;
    changed_.notify_all();
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool holding_ = false;
  bool released_ = false;
  int transactions_ = 0;
};

// A ledger actor on a fresh directory whose first store transaction `gate` holds (see
// first_commit_gate::install for `later` and `blocking_actor`). Members go in reverse order: the
// actor system stops before the gate that its threads may be waiting in.
struct gated_ledger {
  temp_dir dir;
  first_commit_gate gate;
  test_system ts;
  caf::scoped_actor self;
  ledger_actor handle;

  explicit gated_ledger(std::function<void()> later = {}, bool blocking_actor = false)
    : self{*ts.sys} {
    auto res = open_ledger(dir.path.string(), {});
    gate.install(*res, std::move(later), blocking_actor);
    handle = ts.sys->spawn(actors::ledger, res);
  }
};

std::string field(const std::string& json, const char* name) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  REQUIRE(d.IsObject());
  return d[name].GetString();
}

}  // namespace

TEST_CASE("ledger actor: concurrent adds share commits, are durable, chained and published in order") {
  temp_dir dir;
  constexpr int adds = 500;
  std::vector<std::string> acked;
  std::string node_id;
  {
    test_system ts;
    auto res = open_ledger(dir.path.string(), {});
    node_id = res->self.node_id();
    auto ledger_handle = ts.sys->spawn(actors::ledger, res);
    auto listener = ts.sys->spawn(probe);
    caf::scoped_actor self{*ts.sys};
    self->send(ledger_handle, subscribe_atom::value, caf::actor_cast<ledger_listener_actor>(listener));
    // Fire every request before collecting any reply, as many clients would.
    using handle = decltype(self->request(ledger_handle, caf::infinite, add_atom::value,
                                          std::string{}));
    std::vector<handle> pending;
    for (int i = 0; i < adds; ++i)
      pending.push_back(self->request(ledger_handle, std::chrono::seconds{30}, add_atom::value,
                                      "{\"n\":" + std::to_string(i) + "}"));
    for (auto& h : pending)
      h.receive([&](add_result& r) {
                  CHECK(r.error.empty());
                  acked.push_back(r.entry_json);
                },
                [&](caf::error& err) { FAIL(caf::to_string(err)); });
    REQUIRE(acked.size() == adds);
    const auto d = inspect_ledger(self, ledger_handle);
    CHECK(d["height"].GetUint64() == adds);
    CHECK(d["appended_local"].GetUint64() == adds);
    // Group commit: requests that waited together shared transactions.
    CHECK(d["commits"].GetUint64() < adds);
    entries_page page;
    self->request(ledger_handle, std::chrono::seconds{5}, get_atom::value, std::uint64_t{10},
                  std::uint64_t{5}, std::uint64_t{1} << 20)
      .receive([&](entries_page& p) { page = std::move(p); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    CHECK(page.height == adds);
    REQUIRE(page.entries.size() == 5);
    CHECK(page.complete);
    CHECK(page.entries[0] == acked[10]);
    CHECK(field(page.entries[1], "previous_hash") == field(page.entries[0], "hash"));
    // A byte limit below the five entries cuts the page after those that fit, and says so.
    const auto two = page.entries[0].size() + page.entries[1].size();
    self->request(ledger_handle, std::chrono::seconds{5}, get_atom::value, std::uint64_t{10},
                  std::uint64_t{5}, std::uint64_t{two + page.entries[2].size() - 1})
      .receive([&](entries_page& p) { page = std::move(p); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    CHECK_FALSE(page.complete);
    CHECK(page.entries.size() == 2);

    std::vector<std::string> published;
    std::uint64_t published_height = 0;
    self->request(listener, std::chrono::seconds{5}, get_atom::value)
      .receive([&](std::vector<std::string>& p, std::uint64_t h) {
                 published = std::move(p);
                 published_height = h;
               },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    CHECK(published == acked);
    CHECK(published_height == adds);
    self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
    self->send_exit(listener, caf::exit_reason::user_shutdown);
  }
  // Everything acknowledged is in the store, in order, and verifies.
  ledger::store reopened{dir.path};
  auto stored = reopened.load_verified();
  REQUIRE(stored.size() == adds);
  for (int i = 0; i < adds; ++i)
    CHECK(ledger::to_json(stored[i]) == acked[i]);
  CHECK(stored.front().creator_node_id == node_id);
}

TEST_CASE("ledger actor: ids never lead the clock by more than max_id_lead_us") {
  // 400 adds arrive at once and are made in a flush or two, one microsecond apart from the same
  // clock reading, so a 5 us lead holds most of them back until the clock catches up.
  temp_dir dir;
  constexpr int adds = 400;
  constexpr std::int64_t lead_us = 5;
  test_system ts;
  auto res = open_ledger(dir.path.string(), {});
  res->max_id_lead_us = lead_us;
  auto ledger_handle = ts.sys->spawn(actors::ledger, res);
  caf::scoped_actor self{*ts.sys};
  using handle = decltype(self->request(ledger_handle, caf::infinite, add_atom::value, std::string{}));
  std::vector<handle> pending;
  for (int i = 0; i < adds; ++i)
    pending.push_back(self->request(ledger_handle, std::chrono::seconds{30}, add_atom::value,
                                    "{\"n\":" + std::to_string(i) + "}"));
  std::int64_t previous = 0;
  for (auto& h : pending)
    h.receive(
      [&](add_result& r) {
        REQUIRE(r.error.empty());
        const auto acked_at = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
        const auto id = field(r.entry_json, "id");
        const auto unix_us = std::stoll(id.substr(id.find('-') + 1));
        CHECK(unix_us > previous);  // still strictly increasing
        previous = unix_us;
        // Given out no further ahead of the clock than allowed.
        CHECK(unix_us <= acked_at + lead_us);
      },
      [&](caf::error& err) { FAIL(caf::to_string(err)); });
  const auto d = inspect_ledger(self, ledger_handle);
  CHECK(d["height"].GetUint64() == adds);
  CHECK(d["throttled_flushes"].GetUint64() > 0);
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
}

TEST_CASE("ledger actor: refuses oversized data with a reason") {
  temp_dir dir;
  test_system ts;
  ledger::validation_limits limits;
  limits.max_data_bytes = 32;
  auto ledger_handle = ts.sys->spawn(actors::ledger, open_ledger(dir.path.string(), limits));
  caf::scoped_actor self{*ts.sys};
  self->request(ledger_handle, std::chrono::seconds{5}, add_atom::value,
                std::string{"{\"text\":\"" + std::string(100, 'x') + "\"}"})
    .receive([&](add_result& r) {
               CHECK(r.entry_json.empty());
               CHECK(r.error.find("limit") != std::string::npos);
             },
             [&](caf::error& err) { FAIL(caf::to_string(err)); });
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
}

TEST_CASE("ledger actor: merges checked pages and unchecked entries, counting each request's own") {
  temp_dir dir;
  test_system ts;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  // A stored chain long enough that re-verifying it keeps the actor busy while both merge
  // requests reach its mailbox, so that they share one flush (where a checked page once lost
  // its entries to an unchecked request's results).
  std::string parent = store_chain(dir.path, 2000, now - 10'000);
  auto peer = crypto::identity::generate();
  std::vector<ledger::entry> chain;
  for (int i = 0; i < 6; ++i) {
    const auto data = "{\"n\":" + std::to_string(i) + "}";
    chain.push_back(ledger::make_entry(peer, data, parent, now - 100 + i));
    parent = chain.back().hash;
  }
  auto ledger_handle = ts.sys->spawn(actors::ledger, open_ledger(dir.path.string(), {}));
  caf::scoped_actor self{*ts.sys};
  auto commits = [&] { return inspect_ledger(self, ledger_handle)["commits"].GetUint64(); };
  const auto commits_before = commits();

  // As the entry verifier hands it over: the first three entries valid, one refused.
  checked_page page;
  page.valid.assign(chain.begin(), chain.begin() + 3);
  page.refused.push_back("entry x: hash is not SHA-256 of the canonical hash input");
  // Unchecked entries from another peer: a forged one, two valid ones (one of them also in the
  // checked page), and one whose parent nobody sent.
  auto forged = chain[3];
  forged.data = R"({"n":"forged"})";
  std::vector<std::string> unchecked{ledger::to_json(forged), ledger::to_json(chain[3]),
                                     ledger::to_json(chain[2]), ledger::to_json(chain[5])};
  const auto timeout = std::chrono::seconds{30};
  auto busy = self->request(ledger_handle, timeout, verify_atom::value);
  auto checked_reply = self->request(ledger_handle, timeout, merge_atom::value, page);
  auto unchecked_reply = self->request(ledger_handle, timeout, merge_atom::value, unchecked);
  busy.receive([](const std::string& problem) { CHECK(problem.empty()); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  checked_reply.receive(
    [&](merge_result& r) {
      CHECK(r.appended == 3);
      CHECK(r.rejected == 1);
      REQUIRE(r.rejections.size() == 1);
      CHECK(r.rejections[0] == page.refused[0]);
      CHECK(r.duplicates == 0);
      CHECK(r.held == 0);
    },
    [&](caf::error& err) { FAIL(caf::to_string(err)); });
  unchecked_reply.receive(
    [&](merge_result& r) {
      CHECK(r.appended == 1);
      CHECK(r.rejected == 1);
      REQUIRE(r.rejections.size() == 1);
      CHECK(r.rejections[0].find("hash") != std::string::npos);
      CHECK(r.duplicates == 1);
      CHECK(r.held == 1);
      CHECK(r.tip.height == 2004);
      CHECK(r.tip.tip_hash == chain[3].hash);
    },
    [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(commits() == commits_before + 1);  // both requests in one transaction
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);

  // What was attached is on disk.
  ledger::store reopened(dir.path.string());
  CHECK(reopened.load_verified().size() == 2004);
}

TEST_CASE("ledger actor: verify_ledger runs in steps between other messages, shared by every "
          "request made meanwhile") {
  temp_dir dir;
  test_system ts;
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  constexpr int length = 10'000;  // more than two steps
  store_chain(dir.path, length, now - 2 * length);
  auto ledger_handle = ts.sys->spawn(actors::ledger, open_ledger(dir.path.string(), {}));
  caf::scoped_actor self{*ts.sys};
  auto first = self->request(ledger_handle, request_timeout, verify_atom::value);
  // Handled after the first step: the verification is under way, not done.
  const auto during = inspect_ledger(self, ledger_handle);
  REQUIRE(during["verifying"].IsObject());
  const auto verified = during["verifying"]["verified"].GetUint64();
  CHECK(verified > 0);
  CHECK(verified < length);
  auto second = self->request(ledger_handle, request_timeout, verify_atom::value);
  auto add = self->request(ledger_handle, request_timeout, add_atom::value, std::string{"{}"});
  for (auto* reply : {&first, &second})
    reply->receive([](const std::string& problem) { CHECK(problem.empty()); },
                   [&](caf::error& err) { FAIL(caf::to_string(err)); });
  add.receive([](const add_result& r) { CHECK(r.error.empty()); },
              [&](caf::error& err) { FAIL(caf::to_string(err)); });
  const auto after = inspect_ledger(self, ledger_handle);
  CHECK(after["verifying"].IsNull());
  CHECK(after["height"].GetUint64() == length + 1);
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);
}

TEST_CASE("ledger actor: adds pipelined with a merge and a re-append are all durable, on the chain, "
          "and drain waits for them") {
  temp_dir dir;
  test_system ts;
  constexpr int adds_each_side = 300;
  // A peer's short chain from genesis: it forks from this node's chain whichever arrives first.
  const auto peer_chain = peer_chain_from_genesis(3);
  auto ledger_handle = ts.sys->spawn(actors::ledger, open_ledger(dir.path.string(), {}));
  caf::scoped_actor self{*ts.sys};
  const auto timeout = request_timeout;
  // Everything is in the mailbox before the first reply: the merge and the re-append land while
  // local batches are being committed.
  auto before = fire_adds(self, ledger_handle, 0, adds_each_side);
  auto merged = self->request(ledger_handle, timeout, merge_atom::value, peer_chain);
  auto after = fire_adds(self, ledger_handle, adds_each_side, adds_each_side);
  auto reappended = self->request(ledger_handle, timeout, reappend_atom::value);
  auto drained = self->request(ledger_handle, timeout, drain_atom::value);

  std::vector<std::string> acked_ids;
  for (auto* handles : {&before, &after})
    for (auto& h : *handles)
      h.receive(
        [&](add_result& r) {
          REQUIRE(r.error.empty());
          acked_ids.push_back(field(r.entry_json, "id"));
        },
        [&](caf::error& err) { FAIL(caf::to_string(err)); });
  merged.receive([](merge_result& r) { CHECK(r.appended == 3); },
                 [&](caf::error& err) { FAIL(caf::to_string(err)); });
  // This node's entries never left the chain, so there is nothing to re-append.
  reappended.receive([](std::vector<std::string>& fresh) { CHECK(fresh.empty()); },
                     [&](caf::error& err) { FAIL(caf::to_string(err)); });
  tip_info tip;
  drained.receive([&](tip_info& t) { tip = std::move(t); },
                  [&](caf::error& err) { FAIL(caf::to_string(err)); });
  REQUIRE(acked_ids.size() == 2 * adds_each_side);
  CHECK(tip.entries == 2 * adds_each_side + 3);
  CHECK(tip.held == 0);
  // Local entries are made on each other while batches commit: the peer's chain is the only fork.
  CHECK(tip.forks <= 1);
  for (const auto& id : acked_ids) {
    self->request(ledger_handle, timeout, get_atom::value, entry_atom::value, id)
      .receive([&](const std::string& json) { CHECK_MESSAGE(!json.empty(), id << " is off the chain"); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  }
  const auto d = inspect_ledger(self, ledger_handle);
  CHECK(d["committing_entries"].GetUint64() == 0);
  CHECK(d["pending_adds"].GetUint64() == 0);
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);

  // The store holds the same tree: pipelined commits and the merge's kept parents first.
  auto reopened = open_ledger(dir.path.string(), {});
  CHECK(reopened->tree.size() == tip.entries);
  CHECK(reopened->tree.tip_hash() == tip.tip_hash);
  CHECK(reopened->tree.height() == tip.height);
}

TEST_CASE("ledger actor: adds made after a merge build on the chain it chose; a re-append brings "
          "back exactly those that lost the fork") {
  temp_dir dir;
  test_system ts;
  constexpr int adds_each_side = 300;
  // A peer's chain from genesis, longer than everything this node will add: it wins the fork.
  const auto peer_chain = peer_chain_from_genesis(1000);
  auto ledger_handle = ts.sys->spawn(actors::ledger, open_ledger(dir.path.string(), {}));
  caf::scoped_actor self{*ts.sys};
  const auto timeout = request_timeout;
  using add_handle = decltype(fire_adds(self, ledger_handle, 0, 0))::value_type;
  auto collect = [&](std::vector<add_handle>& handles) {
    std::vector<std::string> entries;
    for (auto& h : handles)
      h.receive(
        [&](add_result& r) {
          REQUIRE(r.error.empty());
          entries.push_back(std::move(r.entry_json));
        },
        [&](caf::error& err) { FAIL(caf::to_string(err)); });
    return entries;
  };
  auto before = fire_adds(self, ledger_handle, 0, adds_each_side);
  self->request(ledger_handle, timeout, merge_atom::value, peer_chain)
    .receive([](merge_result& r) { CHECK(r.appended == 1000); },
             [&](caf::error& err) { FAIL(caf::to_string(err)); });
  // The merge is in the tree now; whatever is made from here on links to the peer's chain.
  auto after = fire_adds(self, ledger_handle, adds_each_side, adds_each_side);
  auto before_entries = collect(before);
  auto after_entries = collect(after);
  self->request(ledger_handle, timeout, drain_atom::value)
    .receive([](tip_info&) {}, [&](caf::error& err) { FAIL(caf::to_string(err)); });

  auto on_chain = [&](const std::string& id) {
    bool found = false;
    self->request(ledger_handle, timeout, get_atom::value, entry_atom::value, id)
      .receive([&](const std::string& json) { found = !json.empty(); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    return found;
  };
  for (const auto& json : after_entries)
    CHECK_MESSAGE(on_chain(field(json, "id")), field(json, "id") << " was made on a stale tip");
  // Those made before the merge lost the fork; a re-append brings back exactly those.
  std::vector<std::string> off_chain;
  for (const auto& json : before_entries)
    if (!on_chain(field(json, "id")))
      off_chain.push_back(field(json, "id"));
  std::vector<std::string> reappended_ids;
  self->request(ledger_handle, timeout, reappend_atom::value)
    .receive(
      [&](std::vector<std::string>& fresh) {
        for (const auto& json : fresh)
          reappended_ids.push_back(field(json, "id"));
      },
      [&](caf::error& err) { FAIL(caf::to_string(err)); });
  CHECK(reappended_ids == off_chain);
  for (const auto& json : before_entries)
    CHECK(on_chain(field(json, "id")));
  self->request(ledger_handle, timeout, tip_atom::value)
    .receive([&](tip_info& tip) { CHECK(tip.height == 1000 + 2 * adds_each_side); },
             [&](caf::error& err) { FAIL(caf::to_string(err)); });
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);
}

TEST_CASE("ledger actor: a merge waits while a local batch is being committed") {
  gated_ledger ledger;
  auto& gate = ledger.gate;
  auto& self = ledger.self;
  const auto& ledger_handle = ledger.handle;
  auto before = fire_adds(self, ledger_handle, 0, 50);
  REQUIRE(gate.wait_holding());
  // Longer than this node's chain: once merged it is the chain, and adds after it build on it.
  const auto peer_chain = peer_chain_from_genesis(100);
  auto merged =
    self->request(ledger_handle, std::chrono::milliseconds{500}, merge_atom::value, peer_chain);
  auto after = fire_adds(self, ledger_handle, 50, 20);
  merged.receive(
    [](merge_result&) { FAIL("a merge was applied while a local batch was committing"); },
    [](caf::error& err) { CHECK(err == caf::sec::request_timeout); });
  gate.release();
  for (auto& h : before)
    h.receive([](add_result& r) { CHECK(r.error.empty()); },
              [&](caf::error& err) { FAIL(caf::to_string(err)); });
  std::vector<std::string> after_ids;
  for (auto& h : after)
    h.receive(
      [&](add_result& r) {
        REQUIRE(r.error.empty());
        after_ids.push_back(field(r.entry_json, "id"));
      },
      [&](caf::error& err) { FAIL(caf::to_string(err)); });
  self->request(ledger_handle, request_timeout, drain_atom::value)
    .receive(
      [](tip_info& tip) {
        CHECK(tip.entries == 170);
        CHECK(tip.height == 120);  // the peer's chain and the adds sent after the merge
      },
      [&](caf::error& err) { FAIL(caf::to_string(err)); });
  for (const auto& id : after_ids)
    self->request(ledger_handle, request_timeout, get_atom::value, entry_atom::value, id)
      .receive([&](const std::string& json) { CHECK_MESSAGE(!json.empty(), id << " was made on a stale tip"); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);
}

TEST_CASE("ledger actor: when the disk fails, exactly the acknowledged adds are stored and the "
          "ledger stops") {
  temp_dir dir;
  test_system ts;
  auto res = open_ledger(dir.path.string(), {});
  std::atomic<int> transactions{0};
  res->before_commit = [&transactions] {
    if (transactions.fetch_add(1) >= 1)  // the first transaction goes through
      throw std::runtime_error("disk on fire");
  };
  auto ledger_handle = ts.sys->spawn(actors::ledger, res);
  res.reset();
  caf::scoped_actor self{*ts.sys};
  std::vector<std::string> acked_ids;
  std::size_t refused_for_storage = 0;
  std::size_t unanswered = 0;  // reached the ledger after it stopped
  auto collect = [&](auto& handles) {
    for (auto& h : handles)
      h.receive(
        [&](add_result& r) {
          if (r.error.empty())
            acked_ids.push_back(field(r.entry_json, "id"));
          else if (r.error == "storage failure: the node is shutting down")
            ++refused_for_storage;
          else
            FAIL("unexpected refusal: " << r.error);
        },
        [&](caf::error&) { ++unanswered; });
  };
  auto first = fire_adds(self, ledger_handle, 0, 1);
  collect(first);
  REQUIRE(acked_ids.size() == 1);
  auto rest = fire_adds(self, ledger_handle, 1, 200);
  collect(rest);
  CHECK(acked_ids.size() == 1);
  CHECK(refused_for_storage >= 1);
  CHECK(acked_ids.size() + refused_for_storage + unanswered == 201);
  self->wait_for(ledger_handle);  // it stopped by itself

  ledger::store reopened{dir.path};
  auto stored = reopened.load_verified();
  REQUIRE(stored.size() == acked_ids.size());
  CHECK(stored.front().id == acked_ids.front());
}

TEST_CASE("ledger actor: adds and merges take effect in the order they arrived") {
  // Whichever of the flushes runs first (the add's before or after the merge's, which depends on
  // when the ledger's worker wakes up), the add sent before the merge is made on this node's chain
  // and the one sent after it on the peer's, which the merge makes canonical (it is longer).
  // Several rounds, since only some interleavings would show a wrong order.
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    gated_ledger ledger;
    auto& gate = ledger.gate;
    auto& self = ledger.self;
    const auto& ledger_handle = ledger.handle;
    auto committing = fire_adds(self, ledger_handle, 0, 1);
    REQUIRE(gate.wait_holding());
    // Many adds before the merge, so that the ledger lags behind the sender: its flush for them is
    // queued after the merge and the add behind it.
    auto before = fire_adds(self, ledger_handle, 1, 100);
    auto merged = self->request(ledger_handle, request_timeout, merge_atom::value,
                                peer_chain_from_genesis(150));
    auto after = fire_adds(self, ledger_handle, 2, 1);
    gate.release();
    auto id_of = [&](auto& handles) {
      std::string id;
      handles.front().receive(
        [&](add_result& r) {
          REQUIRE(r.error.empty());
          id = field(r.entry_json, "id");
        },
        [&](caf::error& err) { FAIL(caf::to_string(err)); });
      return id;
    };
    id_of(committing);
    std::vector<std::string> before_ids;
    for (auto& handle : before) {
      std::vector one{std::move(handle)};
      before_ids.push_back(id_of(one));
    }
    const auto after_id = id_of(after);
    merged.receive([](merge_result& r) { CHECK(r.appended == 150); },
                   [&](caf::error& err) { FAIL(caf::to_string(err)); });
    auto on_chain = [&](const std::string& id) {
      bool found = false;
      self->request(ledger_handle, request_timeout, get_atom::value, entry_atom::value, id)
        .receive([&](const std::string& json) { found = !json.empty(); },
                 [&](caf::error& err) { FAIL(caf::to_string(err)); });
      return found;
    };
    for (const auto& id : before_ids)
      CHECK_FALSE(on_chain(id));  // on this node's branch, which lost to the peer's
    CHECK(on_chain(after_id));
    self->request(ledger_handle, request_timeout, drain_atom::value)
      .receive([](tip_info& tip) { CHECK(tip.height == 151); },
               [&](caf::error& err) { FAIL(caf::to_string(err)); });
    self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
    self->wait_for(ledger_handle);
  }
}

TEST_CASE("ledger actor: an add behind a merge is made once the merge is applied, whatever came "
          "before") {
  gated_ledger ledger{{}, /*blocking_actor=*/true};
  auto& gate = ledger.gate;
  auto& self = ledger.self;
  const auto& ledger_handle = ledger.handle;
  auto first = fire_adds(self, ledger_handle, 0, 1);
  REQUIRE(gate.wait_holding());  // the ledger itself is inside that commit
  // Its mailbox: an add it refuses (its flush makes nothing), a merge, an add after the merge.
  auto refused = self->request(ledger_handle, request_timeout, add_atom::value,
                               "{\"big\":\"" + std::string(100 * 1024, 'x') + "\"}");
  auto merged = self->request(ledger_handle, request_timeout, merge_atom::value,
                              peer_chain_from_genesis(3));
  const auto wait = std::chrono::seconds{5};  // it is made at once when it passes
  auto behind = self->request(ledger_handle, wait, add_atom::value, std::string{"{\"n\":1}"});
  gate.release();
  first.front().receive([](add_result& r) { CHECK(r.error.empty()); },
                        [&](caf::error& err) { FAIL(caf::to_string(err)); });
  refused.receive([](add_result& r) { CHECK_FALSE(r.error.empty()); },
                  [&](caf::error& err) { FAIL(caf::to_string(err)); });
  merged.receive([](merge_result& r) { CHECK(r.appended == 3); },
                 [&](caf::error& err) { FAIL(caf::to_string(err)); });
  behind.receive([](add_result& r) { CHECK(r.error.empty()); },
                 [&](caf::error& err) {
                   FAIL_CHECK("the add behind the merge was left waiting: " << caf::to_string(err));
                 });
  self->send_exit(ledger_handle, caf::exit_reason::user_shutdown);
  self->wait_for(ledger_handle);
}

TEST_CASE("ledger actor: when a merge cannot be stored, every request waiting on the ledger is "
          "answered") {
  // The transaction after the held one is the merge's.
  gated_ledger ledger{[] { throw std::runtime_error("disk full"); }};
  auto& gate = ledger.gate;
  auto& self = ledger.self;
  const auto& ledger_handle = ledger.handle;
  auto committing = fire_adds(self, ledger_handle, 0, 1);  // one add, so one batch
  REQUIRE(gate.wait_holding());
  // While a batch is being committed the merge waits; the adds and the drain behind it wait too.
  const auto wait = std::chrono::seconds{10};  // longer than the test takes when it passes
  auto merged = self->request(ledger_handle, wait, merge_atom::value, peer_chain_from_genesis(3));
  using add_handle = decltype(self->request(ledger_handle, wait, add_atom::value, std::string{}));
  std::vector<add_handle> waiting_adds;
  for (int i = 0; i < 3; ++i)
    waiting_adds.push_back(self->request(ledger_handle, wait, add_atom::value, std::string{"{}"}));
  auto drained = self->request(ledger_handle, wait, drain_atom::value);
  gate.release();
  for (auto& h : committing)  // durable before the failure
    h.receive([](add_result& r) { CHECK(r.error.empty()); },
              [&](caf::error& err) { FAIL(caf::to_string(err)); });
  auto told_of_storage = [](const caf::error& err) {
    CHECK_MESSAGE(err != caf::sec::request_timeout, "left waiting until the timeout");
    CHECK(caf::to_string(err).find("storage failure") != std::string::npos);
  };
  merged.receive([](merge_result&) { FAIL("a merge that was not stored was answered"); },
                 told_of_storage);
  for (auto& h : waiting_adds)
    h.receive(
      [](add_result& r) { CHECK(r.error == "storage failure: the node is shutting down"); },
      [](caf::error& err) { FAIL("an add waiting behind the merge got " << caf::to_string(err)); });
  drained.receive([](tip_info&) { FAIL("a drain was answered as if the ledger were drained"); },
                  told_of_storage);
  self->wait_for(ledger_handle);  // it stopped by itself

  ledger::store reopened{ledger.dir.path};
  CHECK(reopened.load_verified().size() == 1);
}
