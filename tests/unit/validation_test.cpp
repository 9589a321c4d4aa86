// Every rejection carries its code and a reason naming the entry.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/canonical_json.hpp"
#include "ledger/entry.hpp"
#include "ledger/validation.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;

namespace {

const std::int64_t now_us = 1767323045678902;
const std::chrono::microseconds now{now_us};

identity make_identity(char fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(static_cast<std::uint8_t>(fill));
  return identity::from_seed(seed);
}

entry good_entry(const identity& creator) {
  return make_entry(creator, R"({"message":"hi"})", std::string(genesis_hash), now_us - 10);
}

reject_code code_of(const entry& e, const validation_limits& limits = {}) {
  auto result = validate(e, limits, now);
  REQUIRE(result.has_value());
  CHECK(result->reason.find(e.id.empty() ? "entry" : e.id) != std::string::npos);
  return result->code;
}

void resign(entry& e, const identity& creator) {
  e.hash = compute_hash(e);
  e.signatures.assign(1, {creator.node_id(), creator.sign_hash(e.hash)});
}

}  // namespace

TEST_CASE("a well-formed signed entry passes") {
  auto creator = make_identity(1);
  CHECK_FALSE(validate(good_entry(creator), {}, now).has_value());
}

TEST_CASE("malformed fields are rejected as malformed") {
  auto creator = make_identity(1);
  entry e = good_entry(creator);
  e.timestamp = "2026-01-02T03:04:05Z";
  resign(e, creator);
  CHECK(code_of(e) == reject_code::malformed);
  CHECK(validate(e, {}, now)->reason.find("timestamp must be") != std::string::npos);

  e = good_entry(creator);
  e.id = std::string(64, 'b') + "-" + std::to_string(now_us);
  resign(e, creator);
  CHECK(code_of(e) == reject_code::malformed);

  e = good_entry(creator);
  e.previous_hash = "ABC";
  resign(e, creator);
  CHECK(code_of(e) == reject_code::malformed);

  e = good_entry(creator);
  e.creator_node_id = "xyz";
  CHECK(code_of(e) == reject_code::malformed);
}

TEST_CASE("an entry of protocol 1 (millisecond id and timestamp) is refused as such") {
  auto creator = make_identity(1);
  entry e = good_entry(creator);
  e.id = creator.node_id() + "-1767323045679";
  e.timestamp = "2026-01-02T03:04:05.679Z";
  resign(e, creator);
  CHECK(code_of(e) == reject_code::malformed);
  CHECK(validate(e, {}, now)->reason.find("made by protocol 1") != std::string::npos);
  // Another instant with three digits is just a wrong timestamp.
  e.timestamp = "2026-01-02T03:04:05.680Z";
  resign(e, creator);
  CHECK(validate(e, {}, now)->reason.find("timestamp must be 1970-01-21T10:55:23.045679Z") !=
        std::string::npos);
}

TEST_CASE("changed data breaks the hash") {
  auto creator = make_identity(1);
  entry e = good_entry(creator);
  e.data = R"({"message":"HI"})";
  CHECK(code_of(e) == reject_code::bad_hash);
  CHECK(validate(e, {}, now)->reason.find("SHA-256") != std::string::npos);
}

TEST_CASE("missing, forged and foreign signatures are rejected") {
  auto creator = make_identity(1);
  auto mallory = make_identity(2);
  entry e = good_entry(creator);
  e.signatures.clear();
  CHECK(code_of(e) == reject_code::bad_signature);
  CHECK(validate(e, {}, now)->reason.find("missing") != std::string::npos);

  e = good_entry(creator);
  e.signatures[0].second = mallory.sign_hash(e.hash);
  CHECK(code_of(e) == reject_code::bad_signature);
  CHECK(validate(e, {}, now)->reason.find("creator's signature is invalid") != std::string::npos);

  // A valid attestation by another node is accepted; an invalid one is not.
  e = good_entry(creator);
  e.signatures.emplace_back(mallory.node_id(), mallory.sign_hash(e.hash));
  std::sort(e.signatures.begin(), e.signatures.end());
  CHECK_FALSE(validate(e, {}, now).has_value());
  for (auto& [node, signature] : e.signatures)
    if (node == mallory.node_id())
      signature = creator.sign_hash(e.hash);
  CHECK(code_of(e) == reject_code::bad_signature);
  CHECK(validate(e, {}, now)->reason.find("attestation") != std::string::npos);
}

TEST_CASE("a signature with S at or above the group order is refused (RFC 8032)") {
  // S + L verifies wherever S does under Crypto++; the protocol (and the web UI) refuse it.
  auto creator = make_identity(1);
  entry e = good_entry(creator);
  std::uint8_t signature[64];
  REQUIRE(from_hex(e.signatures[0].second, signature, 64));
  const auto s = gsio::test::plus_group_order(signature + 32);
  std::copy(s.begin(), s.end(), signature + 32);
  e.signatures[0].second = to_hex(signature, 64);
  CHECK(code_of(e) == reject_code::bad_signature);
}

TEST_CASE("time and size limits") {
  auto creator = make_identity(1);
  entry future = make_entry(creator, "1", std::string(genesis_hash), now_us + 6 * 60 * 1000 * 1000);
  CHECK(code_of(future) == reject_code::future_timestamp);
  entry near_future = make_entry(creator, "1", std::string(genesis_hash), now_us + 60 * 1000 * 1000);
  CHECK_FALSE(validate(near_future, {}, now).has_value());

  validation_limits small;
  small.max_data_bytes = 8;
  entry big = make_entry(creator, R"("0123456789")", std::string(genesis_hash), now_us);
  CHECK(code_of(big, small) == reject_code::too_large);
  CHECK(validate(big, small, now)->reason.find("limit is 8") != std::string::npos);
}

TEST_CASE("reject codes have stable names") {
  CHECK(to_string(reject_code::malformed) == "malformed");
  CHECK(to_string(reject_code::bad_hash) == "bad_hash");
  CHECK(to_string(reject_code::bad_signature) == "bad_signature");
  CHECK(to_string(reject_code::future_timestamp) == "future_timestamp");
  CHECK(to_string(reject_code::too_large) == "too_large");
  CHECK(to_string(reject_code::duplicate_id) == "duplicate_id");
}

TEST_CASE("check_entries parses and validates a page over the cores, in order") {
  auto creator = make_identity(1);
  // Enough entries for parallel_for to use every core, with bad ones at both ends of the ranges.
  std::vector<entry> chain;
  std::string parent(genesis_hash);
  for (int i = 0; i < 300; ++i) {
    const auto data = "{\"n\":" + std::to_string(i) + "}";
    chain.push_back(make_entry(creator, data, parent, now_us - 1000 + i));
    parent = chain.back().hash;
  }
  std::vector<std::string> texts;
  for (const auto& e : chain)
    texts.push_back(to_json(e));
  texts[0] = R"({"id":"x"})";
  entry forged = chain[150];
  forged.data = R"({"n":"forged"})";
  texts[150] = to_json(forged);
  entry future = make_entry(creator, "1", parent, now_us + 6 * 60 * 1000 * 1000);
  texts.push_back(to_json(future));

  std::vector<const std::string*> json;
  for (const auto& t : texts)
    json.push_back(&t);
  auto checked = check_entries(json, {}, now);
  REQUIRE(checked.size() == texts.size());
  REQUIRE(checked[0].why);
  CHECK(checked[0].why->code == reject_code::malformed);
  REQUIRE(checked[150].why);
  CHECK(checked[150].why->code == reject_code::bad_hash);
  REQUIRE(checked.back().why);
  CHECK(checked.back().why->code == reject_code::future_timestamp);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    if (i == 150)
      continue;
    CHECK_FALSE(checked[i].why);
    CHECK(checked[i].e == chain[i]);
  }

  // An entry the caller already holds skips the checks only if it is an exact copy.
  std::vector<const std::string*> again{&texts[1], &texts[150]};
  std::atomic<int> asked{0};
  auto known = check_entries(again, {}, now, [&](const entry& e) {
    ++asked;
    return e == chain[1];
  });
  CHECK(asked == 2);
  CHECK_FALSE(known[0].why);
  REQUIRE(known[1].why);
  CHECK(known[1].why->code == reject_code::bad_hash);
}

TEST_CASE("check_entries decides every entry exactly as validate does") {
  // Signatures are verified in batches (validate_batched); a batch with a bad signature in it
  // must still give every entry validate's own verdict and reason.
  auto alice = make_identity(1);
  auto bob = make_identity(2);
  auto mallory = make_identity(3);
  std::vector<entry> page;
  std::string parent(genesis_hash);
  for (int i = 0; i < 200; ++i) {
    const auto& creator = i % 3 == 0 ? bob : alice;
    page.push_back(make_entry(creator, "{\"n\":" + std::to_string(i) + "}", parent, now_us - 1000 + i));
    parent = page.back().hash;
  }
  page[7].signatures[0].second = mallory.sign_hash(page[7].hash);  // forged by another key
  page[8].signatures[0].second[5] ^= 1;                            // not hex any more, or changed
  page[40].signatures.emplace_back(mallory.node_id(), mallory.sign_hash(page[40].hash));
  std::sort(page[40].signatures.begin(), page[40].signatures.end());  // a valid attestation
  page[41].signatures.emplace_back(mallory.node_id(), alice.sign_hash(page[41].hash));
  std::sort(page[41].signatures.begin(), page[41].signatures.end());  // an invalid attestation
  // Too far ahead and badly signed: the signature is reported, as validate checks it first.
  page[90] = make_entry(alice, "1", parent, now_us + 6 * 60 * 1000 * 1000);
  page[90].signatures[0].second = bob.sign_hash(page[90].hash);
  page[91] = make_entry(alice, "2", parent, now_us + 6 * 60 * 1000 * 1000);
  page[150].signatures[0].second = std::string(128, 'f');  // S far above the group order

  std::vector<std::string> texts;
  for (const auto& e : page)
    texts.push_back(to_json(e));
  std::vector<const std::string*> json;
  for (const auto& t : texts)
    json.push_back(&t);
  auto checked = check_entries(json, {}, now);
  REQUIRE(checked.size() == page.size());
  int rejected = 0;
  for (std::size_t i = 0; i < page.size(); ++i) {
    CAPTURE(i);
    const auto expected = validate(page[i], {}, now);
    REQUIRE(checked[i].why.has_value() == expected.has_value());
    if (expected) {
      ++rejected;
      CHECK(checked[i].why->code == expected->code);
      CHECK(checked[i].why->reason == expected->reason);
    }
  }
  CHECK(rejected == 6);
  CHECK(checked[90].why->code == reject_code::bad_signature);
  CHECK(checked[91].why->code == reject_code::future_timestamp);
  CHECK(checked[41].why->reason.find("attestation") != std::string::npos);
}

TEST_CASE("data may nest 128 levels of arrays and objects, and deeper text is refused unparsed") {
  auto creator = make_identity(1);
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  entry fits = make_entry(creator, nested(128), std::string(genesis_hash), now_us);
  CHECK_FALSE(validate(fits, {}, now).has_value());
  entry deep = make_entry(creator, nested(129), std::string(genesis_hash), now_us);
  CHECK(code_of(deep) == reject_code::too_large);
  CHECK(validate(deep, {}, now)->reason.find("more than 128 levels deep") != std::string::npos);
  CHECK(data_over_limits(nested(129), {}).has_value());
  CHECK_FALSE(data_over_limits(nested(128), {}).has_value());

  // An entry from a peer nested far deeper is refused before it is parsed (no recursion).
  std::string text = to_json(fits);
  const auto at = text.find("\"data\":") + 7;
  text.replace(at, nested(128).size(), nested(300'000));
  entry parsed;
  std::string error;
  CHECK_FALSE(from_json_text(text, parsed, error));
  CHECK(error.find("nested more than 160 levels") != std::string::npos);
  std::string canonical;
  CHECK_FALSE(canonicalize_text(nested(300'000), canonical, error));
}
