// The one signature rule (crypto/signature.hpp) against tests/vectors/ed25519-edge.tsv, made
// outside the project: 19 crafted cases (S + L, small-order and non-canonical keys and R points,
// mixed-order keys, signatures that verify only with the cofactor) and the 12 ed25519-speccheck
// vectors. Every path on which a node checks a signature must give each case the vector's
// decision: one signature at a time, in batches, and as an entry's signature in validation.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "crypto/ed25519.hpp"
#include "crypto/identity.hpp"
#include "crypto/signature.hpp"
#include "ledger/entry.hpp"
#include "ledger/validation.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio;
using gsio::test::edge_case;

namespace {

crypto::signature_job job_of(const edge_case& c) {
  crypto::signature_job job;
  REQUIRE(util::from_hex(c.public_key, job.public_key, sizeof job.public_key));
  REQUIRE(util::from_hex(c.message, job.message, sizeof job.message));
  REQUIRE(util::from_hex(c.signature, job.signature, sizeof job.signature));
  return job;
}

// An entry by `creator` (any 64-digit key) whose hash is right and whose only signature is
// `signature`, which nobody had to hold a secret key to make.
ledger::entry entry_signed_as(const std::string& creator, const std::string& signature) {
  ledger::entry e;
  e.creator_node_id = creator;
  e.id = creator + "-1767323045678902";
  e.timestamp = ledger::format_timestamp(1767323045678902);
  e.data = R"({"note":"forged"})";
  e.previous_hash = std::string(ledger::genesis_hash);
  e.hash = ledger::compute_hash(e);
  e.signatures.emplace_back(creator, signature);
  return e;
}

}  // namespace

TEST_CASE("the edge vectors are all there") {
  const auto cases = test::edge_cases();
  CHECK(cases.size() == 31);
  std::size_t valid = 0, independent = 0;
  for (const auto& c : cases) {
    valid += c.valid;
    independent += c.message_independent();
  }
  CHECK(valid == 7);
  CHECK(independent >= 7);
}

TEST_CASE("signature rule: one signature at a time, before and after the key has a table") {
  for (const auto& c : test::edge_cases()) {
    CAPTURE(c.name);
    crypto::ed25519::forget_keys();
    // The fast path builds a key's table the second time it sees the key: the first answer comes
    // from Crypto++ behind the rule's own checks, later ones from the table.
    for (int round = 0; round < 3; ++round) {
      CAPTURE(round);
      CHECK(crypto::verify_hex(c.public_key, c.message, c.signature) == c.valid);
      const auto job = job_of(c);
      CHECK(crypto::verify(job.public_key, job.message, sizeof job.message, job.signature) == c.valid);
    }
  }
}

TEST_CASE("signature rule: in batches, alone and mixed with each other") {
  const auto cases = test::edge_cases();
  std::vector<crypto::signature_job> jobs;
  for (const auto& c : cases)
    jobs.push_back(job_of(c));
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    if (round == 0)
      crypto::ed25519::forget_keys();
    auto valid = std::make_unique<bool[]>(jobs.size());
    crypto::verify_batch(jobs.data(), jobs.size(), valid.get());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      CAPTURE(cases[i].name);
      CHECK(valid[i] == cases[i].valid);
    }
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CAPTURE(cases[i].name);
    bool valid = !cases[i].valid;
    crypto::verify_batch(&jobs[i], 1, &valid);
    CHECK(valid == cases[i].valid);
  }
}

TEST_CASE("signature rule: an entry's signatures in validation") {
  // Each case as the creator's signature of an entry whose hash is the case's message: everything
  // validation checks after the hash.
  for (const auto& c : test::edge_cases()) {
    CAPTURE(c.name);
    ledger::entry e;
    e.creator_node_id = c.public_key;
    e.hash = c.message;
    e.signatures.emplace_back(c.public_key, c.signature);
    const auto why = ledger::validate_signatures(e);
    CHECK(why.has_value() == !c.valid);
    if (why)
      CHECK(why->code == ledger::reject_code::bad_signature);
    // And as an attestation by another node beside a valid creator signature.
    const auto creator = crypto::identity::generate();
    ledger::entry attested;
    attested.creator_node_id = creator.node_id();
    attested.hash = c.message;
    attested.signatures.emplace_back(creator.node_id(), creator.sign_hash(c.message));
    attested.signatures.emplace_back(c.public_key, c.signature);
    std::sort(attested.signatures.begin(), attested.signatures.end());
    CHECK(ledger::validate_signatures(attested).has_value() == !c.valid);
  }
}

TEST_CASE("signature rule: forgeries that need no secret key fail whole-entry validation") {
  // A small-order or non-canonical key with R = identity and S = 0 satisfies a lax verifier's
  // equation for every message, so it "signs" any entry hash. Single and batched paths both.
  std::vector<ledger::entry> forged;
  for (const auto& c : test::edge_cases()) {
    if (!c.message_independent())
      continue;
    CAPTURE(c.name);
    REQUIRE_FALSE(c.valid);
    forged.push_back(entry_signed_as(c.public_key, c.signature));
    const auto why = ledger::validate(forged.back(), {}, std::chrono::microseconds{1767323045678902});
    REQUIRE(why.has_value());
    CHECK(why->code == ledger::reject_code::bad_signature);
    CHECK(why->reason.find("the creator's signature is invalid") != std::string::npos);
  }
  REQUIRE(forged.size() >= 7);
  // Among honest entries, as a page from a peer arrives.
  const auto honest = crypto::identity::generate();
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < forged.size(); ++i) {
    texts.push_back(ledger::to_json(ledger::make_entry(honest, R"({"n":1})",
                                                       std::string(ledger::genesis_hash),
                                                       1767323045678902 + static_cast<std::int64_t>(i))));
    texts.push_back(ledger::to_json(forged[i]));
  }
  std::vector<const std::string*> page;
  for (const auto& t : texts)
    page.push_back(&t);
  const auto checked = ledger::check_entries(page, {}, std::chrono::microseconds{1767323045678902});
  REQUIRE(checked.size() == texts.size());
  for (std::size_t i = 0; i < checked.size(); ++i) {
    CAPTURE(i);
    CHECK(checked[i].why.has_value() == (i % 2 == 1));
  }
}
