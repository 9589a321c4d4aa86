// The store writer: batches written in queue order on its own thread, batches queued during a
// transaction sharing the next one, a failure stopping everything after it, and a real store.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/store.hpp"
#include "ledger/store_writer.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;

namespace {

std::shared_ptr<const store_writer::batch> batch_of(std::initializer_list<const char*> ids) {
  auto out = std::make_shared<store_writer::batch>();
  for (const char* id : ids) {
    entry e;
    e.id = id;
    out->push_back(std::move(e));
  }
  return out;
}

// A stand-in store: records each transaction's ids; the first transaction can be held open until
// the test releases it, and a chosen transaction can fail.
struct fake_store {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::vector<std::string>> transactions;
  bool hold_first = false;
  bool first_started = false;
  bool released = false;
  int fail_at = -1;  // index of the transaction that throws

  void append(const std::vector<const entry*>& entries) {
    std::unique_lock lock{mutex};
    const int index = static_cast<int>(transactions.size());
    if (index == 0 && hold_first) {
      first_started = true;
      changed.notify_all();
      changed.wait(lock, [this] { return released; });
    }
    if (index == fail_at)
      throw std::runtime_error("disk full");
    std::vector<std::string> ids;
    for (const entry* e : entries)
      ids.push_back(e->id);
    transactions.push_back(std::move(ids));
  }
  void wait_first_started() {
    std::unique_lock lock{mutex};
    REQUIRE(changed.wait_for(lock, std::chrono::seconds{10}, [this] { return first_started; }));
  }
  void release() {
    std::lock_guard lock{mutex};
    released = true;
    changed.notify_all();
  }
};

// What the writer reported, collected from its thread.
struct reports {
  struct report {
    std::size_t batches;
    std::size_t entries;
    std::string error;
  };
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<report> seen;
  std::size_t batches_seen = 0;

  store_writer::commit_fn callback() {
    return [this](std::size_t batches, std::size_t entries, const std::string& error) {
      std::lock_guard lock{mutex};
      seen.push_back({batches, entries, error});
      batches_seen += batches;
      changed.notify_all();
    };
  }
  void wait_batches(std::size_t n) {
    std::unique_lock lock{mutex};
    REQUIRE(changed.wait_for(lock, std::chrono::seconds{10}, [&] { return batches_seen >= n; }));
  }
};

}  // namespace

TEST_CASE("store writer: batches queued during a transaction share the next one, in queue order") {
  fake_store disk;
  disk.hold_first = true;
  reports done;
  store_writer writer{[&](const auto& entries) { disk.append(entries); }, done.callback()};
  writer.enqueue(batch_of({"a1", "a2"}));
  disk.wait_first_started();
  writer.enqueue(batch_of({"b1"}));
  writer.enqueue(batch_of({"c1", "c2", "c3"}));
  disk.release();
  done.wait_batches(3);

  std::lock_guard lock{disk.mutex};
  REQUIRE(disk.transactions.size() == 2);
  CHECK(disk.transactions[0] == std::vector<std::string>{"a1", "a2"});
  CHECK(disk.transactions[1] == std::vector<std::string>{"b1", "c1", "c2", "c3"});
  std::lock_guard report_lock{done.mutex};
  REQUIRE(done.seen.size() == 2);
  CHECK(done.seen[0].batches == 1);
  CHECK(done.seen[0].entries == 2);
  CHECK(done.seen[0].error.empty());
  CHECK(done.seen[1].batches == 2);
  CHECK(done.seen[1].entries == 4);
  CHECK(done.seen[1].error.empty());
}

TEST_CASE("store writer: after a failed transaction nothing more is written, and every batch fails") {
  fake_store disk;
  disk.hold_first = true;
  disk.fail_at = 0;
  reports done;
  store_writer writer{[&](const auto& entries) { disk.append(entries); }, done.callback()};
  writer.enqueue(batch_of({"a1"}));
  disk.wait_first_started();
  writer.enqueue(batch_of({"b1"}));  // queued behind the failing transaction
  disk.release();
  done.wait_batches(2);
  writer.enqueue(batch_of({"c1"}));  // queued after the failure was reported
  done.wait_batches(3);

  entry lone;
  lone.id = "d1";
  CHECK_THROWS_WITH_AS(writer.append_now({&lone}), "disk full", std::runtime_error);
  std::lock_guard lock{disk.mutex};
  CHECK(disk.transactions.empty());
  std::lock_guard report_lock{done.mutex};
  REQUIRE(done.seen.size() == 3);
  for (const auto& r : done.seen)
    CHECK(r.error == "disk full");
  CHECK(done.seen[0].batches == 1);
  CHECK(done.seen[1].batches == 1);
  CHECK(done.seen[2].batches == 1);
}

TEST_CASE("store writer: a failed append_now stops the writer as well") {
  fake_store disk;
  disk.fail_at = 0;
  reports done;
  store_writer writer{[&](const auto& entries) { disk.append(entries); }, done.callback()};
  entry lone;
  lone.id = "a1";
  CHECK_THROWS_WITH_AS(writer.append_now({&lone}), "disk full", std::runtime_error);
  disk.fail_at = -1;  // the disk would take the next transaction
  writer.enqueue(batch_of({"b1"}));  // may link to a1, which is not on disk
  done.wait_batches(1);
  entry later;
  later.id = "c1";
  CHECK_THROWS_WITH_AS(writer.append_now({&later}), "disk full", std::runtime_error);
  std::lock_guard lock{disk.mutex};
  CHECK(disk.transactions.empty());
  std::lock_guard report_lock{done.mutex};
  REQUIRE(done.seen.size() == 1);
  CHECK(done.seen[0].error == "disk full");
}

TEST_CASE("store writer: writes what is still queued when destroyed") {
  fake_store disk;
  disk.hold_first = true;
  reports done;
  std::future<void> destroyed;
  {
    auto writer = std::make_unique<store_writer>(
      [&](const auto& entries) { disk.append(entries); }, done.callback());
    writer->enqueue(batch_of({"a1"}));
    disk.wait_first_started();
    writer->enqueue(batch_of({"b1", "b2"}));
    destroyed = std::async(std::launch::async, [w = std::move(writer)]() mutable { w.reset(); });
    // The destructor waits for the transaction in progress; release it.
    CHECK(destroyed.wait_for(std::chrono::milliseconds{50}) == std::future_status::timeout);
    disk.release();
    destroyed.get();
  }
  std::lock_guard lock{disk.mutex};
  REQUIRE(disk.transactions.size() == 2);
  CHECK(disk.transactions[1] == std::vector<std::string>{"b1", "b2"});
}

TEST_CASE("store writer: append_now is one transaction among the writer's, on a real store") {
  gsio::test::temp_dir dir;
  auto creator = identity::generate();
  std::vector<entry> chain;
  std::string parent(genesis_hash);
  for (int i = 0; i < 5; ++i) {
    chain.push_back(make_entry(creator, "{\"n\":" + std::to_string(i) + "}", parent, 1000 + i));
    parent = chain.back().hash;
  }
  {
    store s{dir.path};
    reports done;
    store_writer writer{[&](const auto& entries) { s.append(entries); }, done.callback()};
    writer.enqueue(std::make_shared<store_writer::batch>(chain.begin(), chain.begin() + 3));
    done.wait_batches(1);
    writer.append_now({&chain[3], &chain[4]});
  }
  store reopened{dir.path};
  auto stored = reopened.load_verified();
  REQUIRE(stored.size() == 5);
  for (std::size_t i = 0; i < stored.size(); ++i)
    CHECK(stored[i] == chain[i]);
}
