// The background check of entries loaded without their signatures.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "chains.hpp"
#include "crypto/identity.hpp"
#include "ledger/background_verifier.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;

namespace {

std::vector<entry> signed_chain(int n) {
  return gsio::test::make_chain(identity::generate(), n);
}

// What a verifier reported, for a test to wait on.
struct reports {
  std::mutex mtx;
  std::condition_variable changed;
  std::vector<std::size_t> progress;
  std::optional<std::optional<background_verifier::failure>> done;

  background_verifier start(const std::vector<entry>& entries, std::size_t chunk) {
    std::vector<const entry*> list;
    for (const auto& e : entries)
      list.push_back(&e);
    return background_verifier(
      std::move(list),
      [this](std::size_t verified) {
        std::lock_guard<std::mutex> guard{mtx};
        progress.push_back(verified);
      },
      [this](const std::optional<background_verifier::failure>& result) {
        std::lock_guard<std::mutex> guard{mtx};
        done = result;
        changed.notify_all();
      },
      chunk);
  }
  bool wait_done() {
    std::unique_lock<std::mutex> lock{mtx};
    return changed.wait_for(lock, std::chrono::seconds{60}, [this] { return done.has_value(); });
  }
};

}  // namespace

TEST_CASE("the background check verifies every entry, reporting progress chunk by chunk") {
  const auto chain = signed_chain(300);
  reports seen;
  auto verifier = seen.start(chain, 64);
  REQUIRE(seen.wait_done());
  CHECK_FALSE(seen.done->has_value());
  CHECK(seen.progress == std::vector<std::size_t>{64, 128, 192, 256, 300});
}

TEST_CASE("the background check names the first entry with a bad signature and stops there") {
  auto chain = signed_chain(300);
  // A valid signature of this hash by another key: right form, wrong signer.
  const auto other = identity::generate();
  const auto foreign = make_entry(other, chain[200].data, chain[200].previous_hash, 5000);
  chain[200].signatures.front().second = foreign.signatures.front().second;
  chain[250].signatures.front().second = foreign.signatures.front().second;
  reports seen;
  auto verifier = seen.start(chain, 64);
  REQUIRE(seen.wait_done());
  REQUIRE(seen.done->has_value());
  CHECK((*seen.done)->entry_id == chain[200].id);
  CHECK((*seen.done)->reason.find("signature is invalid") != std::string::npos);
  // Only the chunks before the bad one were reported verified.
  CHECK(seen.progress == std::vector<std::size_t>{64, 128, 192});
}

TEST_CASE("a bad hash is found too, and a verifier destroyed early stops without reporting done") {
  auto chain = signed_chain(50);
  chain[10].data = "{\"n\":99}";
  reports seen;
  {
    auto verifier = seen.start(chain, 8);
    REQUIRE(seen.wait_done());
  }
  REQUIRE(seen.done->has_value());
  CHECK((*seen.done)->entry_id == chain[10].id);
  CHECK((*seen.done)->reason.find("hash") != std::string::npos);

  const auto big = signed_chain(2000);
  reports stopped;
  { auto verifier = stopped.start(big, 1); }  // destroyed at once
  std::lock_guard<std::mutex> guard{stopped.mtx};
  CHECK_FALSE(stopped.done.has_value());
}
