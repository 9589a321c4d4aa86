// The Ed25519 fast path (ledger/ed25519.hpp) against Crypto++'s verifier: it must accept valid
// signatures by keys it has tables for (or it is no faster), and never accept what Crypto++ refuses;
// and the node's verify_signature enforces the encoding rules of RFC 8032 that Crypto++ does not.
#include <array>
#include <memory>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <cryptopp/xed25519.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include "crypto/ed25519.hpp"
#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/entry.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;

namespace {

using bytes32 = std::array<std::uint8_t, 32>;
using bytes64 = std::array<std::uint8_t, 64>;

struct signed_message {
  bytes32 key;
  bytes32 message;
  bytes64 signature;
};

identity identity_from(std::uint64_t n) {
  std::array<std::uint8_t, 32> seed{};
  for (int i = 0; i < 8; ++i)
    seed[i] = static_cast<std::uint8_t>(n >> (8 * i));
  seed[31] = 0x5a;
  return identity::from_seed(seed);
}

signed_message sign_random(const identity& signer, std::mt19937_64& rng) {
  signed_message out;
  for (auto& b : out.message)
    b = static_cast<std::uint8_t>(rng());
  REQUIRE(from_hex(signer.node_id(), out.key.data(), 32));
  REQUIRE(from_hex(signer.sign_hash(to_hex(out.message.data(), 32)), out.signature.data(), 64));
  return out;
}

bool reference_verify(const signed_message& m) {
  try {
    CryptoPP::ed25519::Verifier verifier(m.key.data());
    return verifier.VerifyMessage(m.message.data(), 32, m.signature.data(), 64);
  } catch (const CryptoPP::Exception&) {
    return false;
  }
}

bool fast_verify(const signed_message& m) {
  return gsio::crypto::ed25519::verify_if_fast(m.key.data(), m.message.data(), 32, m.signature.data());
}

bool node_verify(const signed_message& m) {
  return gsio::crypto::verify_hex(to_hex(m.key.data(), 32), to_hex(m.message.data(), 32),
                          to_hex(m.signature.data(), 64));
}

// The node accepts only what Crypto++ accepts, and the fast path only what the node accepts.
void check_agreement(const signed_message& m) {
  const bool node = node_verify(m);
  if (node)
    CHECK(reference_verify(m));
  if (fast_verify(m))
    CHECK(node);
}

}  // namespace

TEST_CASE("the fast path verifies a key's signatures from its second one on") {
  gsio::crypto::ed25519::forget_keys();
  std::mt19937_64 rng{7};
  auto alice = identity_from(1);
  auto bob = identity_from(2);
  const auto first = sign_random(alice, rng);
  CHECK_FALSE(fast_verify(first));  // a key seen once gets no table
  CHECK(node_verify(first));        // ...and is verified by Crypto++
  CHECK(fast_verify(first));
  CHECK(fast_verify(sign_random(bob, rng)) == false);
  for (int i = 0; i < 500; ++i) {
    const auto& signer = i % 2 ? alice : bob;
    const auto m = sign_random(signer, rng);
    CAPTURE(i);
    REQUIRE(fast_verify(m));
    CHECK(reference_verify(m));
  }
}

TEST_CASE("the fast path accepts no altered signature, message or key") {
  gsio::crypto::ed25519::forget_keys();
  std::mt19937_64 rng{11};
  auto alice = identity_from(3);
  auto bob = identity_from(4);
  for (int warm = 0; warm < 2; ++warm) {
    fast_verify(sign_random(alice, rng));
    fast_verify(sign_random(bob, rng));
  }
  for (int i = 0; i < 400; ++i) {
    CAPTURE(i);
    const auto m = sign_random(alice, rng);
    REQUIRE(fast_verify(m));

    auto bad_r = m;
    bad_r.signature[rng() % 32] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    auto bad_s = m;
    bad_s.signature[32 + rng() % 31] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    auto bad_message = m;
    bad_message.message[rng() % 32] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    auto wrong_key = m;
    REQUIRE(from_hex(bob.node_id(), wrong_key.key.data(), 32));
    for (const auto* altered : {&bad_r, &bad_s, &bad_message, &wrong_key}) {
      CHECK_FALSE(fast_verify(*altered));
      CHECK_FALSE(reference_verify(*altered));
      CHECK_FALSE(node_verify(*altered));
    }
  }
}

TEST_CASE("encodings that RFC 8032 refuses are refused, although Crypto++ accepts them") {
  gsio::crypto::ed25519::forget_keys();
  std::mt19937_64 rng{13};
  auto alice = identity_from(5);
  const auto valid = sign_random(alice, rng);
  fast_verify(valid);
  REQUIRE(fast_verify(valid));

  SUBCASE("S plus the group order: the same signature written another way") {
    auto malleated = valid;
    const auto s = gsio::test::plus_group_order(valid.signature.data() + 32);
    std::copy(s.begin(), s.end(), malleated.signature.begin() + 32);
    CHECK(reference_verify(malleated));
    CHECK_FALSE(gsio::crypto::ed25519::canonical_s(malleated.signature.data()));
    CHECK_FALSE(fast_verify(malleated));
    CHECK_FALSE(node_verify(malleated));
  }
  SUBCASE("a key of small order: the neutral point 'signs' anything with R = neutral, S = 0") {
    signed_message neutral{};
    neutral.key[0] = 1;        // y = 1, x = 0
    neutral.signature[0] = 1;  // R = neutral, S = 0
    neutral.message = valid.message;
    CHECK(reference_verify(neutral));
    CHECK_FALSE(gsio::crypto::ed25519::usable_key(neutral.key.data()));
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(fast_verify(neutral));
      CHECK_FALSE(node_verify(neutral));
    }
  }
  SUBCASE("a key encoded with y >= p") {
    signed_message odd = valid;
    // y = p + 1 encodes the neutral point's y = 1 non-canonically.
    odd.key.fill(0xff);
    odd.key[0] = 0xee;
    odd.key[31] = 0x7f;
    CHECK_FALSE(gsio::crypto::ed25519::usable_key(odd.key.data()));
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(fast_verify(odd));
      CHECK_FALSE(node_verify(odd));
    }
  }
  SUBCASE("a key that is no curve point") {
    signed_message not_a_point = valid;
    // y = 2 is not the y of any curve point (u/v = 3/(4d + 1) is not a square).
    not_a_point.key.fill(0);
    not_a_point.key[0] = 2;
    CHECK_FALSE(gsio::crypto::ed25519::usable_key(not_a_point.key.data()));
    for (int i = 0; i < 3; ++i) {
      CHECK_FALSE(fast_verify(not_a_point));
      check_agreement(not_a_point);
    }
  }
  SUBCASE("ordinary keys are usable and ordinary signatures canonical") {
    for (int i = 0; i < 20; ++i) {
      const auto m = sign_random(identity_from(400 + i), rng);
      CHECK(gsio::crypto::ed25519::usable_key(m.key.data()));
      CHECK(gsio::crypto::ed25519::canonical_s(m.signature.data()));
      CHECK(node_verify(m));
    }
  }
  SUBCASE("random keys and signatures") {
    for (int i = 0; i < 200; ++i) {
      signed_message junk;
      for (auto& b : junk.key)
        b = static_cast<std::uint8_t>(rng());
      for (auto& b : junk.signature)
        b = static_cast<std::uint8_t>(rng());
      junk.signature[63] &= 0x0f;
      junk.message = valid.message;
      check_agreement(junk);
      check_agreement(junk);
      CHECK_FALSE(fast_verify(junk));
    }
  }
}

TEST_CASE("signed entry vectors verify on the fast path") {
  gsio::crypto::ed25519::forget_keys();
  rapidjson::Document doc;
  doc.Parse(gsio::test::read_file(gsio::test::vectors_dir() / "entries.json").c_str());
  REQUIRE(doc.IsArray());
  for (int round = 0; round < 2; ++round) {
    for (const auto& vector : doc.GetArray()) {
      entry e;
      std::string error;
      REQUIRE_MESSAGE(from_json(vector["entry"], e, error), error);
      signed_message m;
      REQUIRE(from_hex(e.creator_node_id, m.key.data(), 32));
      REQUIRE(from_hex(e.hash, m.message.data(), 32));
      REQUIRE(from_hex(*e.signature_of(e.creator_node_id), m.signature.data(), 64));
      CHECK(node_verify(m));
      if (round == 1)
        CHECK(fast_verify(m));
    }
  }
}

TEST_CASE("more keys than tables, from several threads at once") {
  gsio::crypto::ed25519::forget_keys();
  std::vector<identity> signers;
  for (int i = 0; i < 40; ++i)
    signers.push_back(identity_from(100 + i));
  std::vector<signed_message> messages;
  std::mt19937_64 rng{17};
  for (int round = 0; round < 6; ++round)
    for (const auto& signer : signers)
      messages.push_back(sign_random(signer, rng));
  std::vector<std::vector<signed_message>> forged(2);
  for (auto& list : forged)
    for (auto m : messages) {
      m.signature[40] ^= 4;
      list.push_back(m);
    }
  std::array<int, 2> accepted{}, forged_accepted{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (const auto& m : messages)
        accepted[t] += node_verify(m);
      for (const auto& m : forged[t])
        forged_accepted[t] += node_verify(m) || fast_verify(m);
    });
  for (auto& t : threads)
    t.join();
  CHECK(accepted[0] == static_cast<int>(messages.size()));
  CHECK(accepted[1] == static_cast<int>(messages.size()));
  CHECK(forged_accepted[0] == 0);
  CHECK(forged_accepted[1] == 0);

  // Keys in steady use keep their tables: 32 keys have one, the other 8 are left to Crypto++
  // rather than evicting them.
  int with_table = 0;
  for (const auto& signer : signers)
    with_table += fast_verify(sign_random(signer, rng));
  CHECK(with_table == static_cast<int>(gsio::crypto::ed25519::tables_kept));
}

TEST_CASE("a table unused for long enough goes to a new key") {
  gsio::crypto::ed25519::forget_keys();
  std::vector<identity> signers;
  for (std::size_t i = 0; i <= gsio::crypto::ed25519::tables_kept; ++i)
    signers.push_back(identity_from(200 + i));
  std::mt19937_64 rng{19};
  std::vector<signed_message> by_signer;
  for (const auto& signer : signers)
    by_signer.push_back(sign_random(signer, rng));
  for (int round = 0; round < 2; ++round)
    for (std::size_t i = 0; i < gsio::crypto::ed25519::tables_kept; ++i)
      fast_verify(by_signer[i]);
  const auto& newcomer = by_signer.back();
  fast_verify(newcomer);
  CHECK_FALSE(fast_verify(newcomer));  // seen twice, but every table is in steady use
  // All keys but the first keep being used; the first goes idle.
  for (std::uint64_t n = 0; n <= gsio::crypto::ed25519::table_idle_lookups; ++n)
    fast_verify(by_signer[1 + n % (gsio::crypto::ed25519::tables_kept - 1)]);
  CHECK(fast_verify(newcomer));
  CHECK_FALSE(fast_verify(by_signer[0]));  // it gave its table up
  CHECK(fast_verify(by_signer[1]));
}

TEST_CASE("a batch gives each signature the fast path's own answer") {
  gsio::crypto::ed25519::forget_keys();
  std::mt19937_64 rng{23};
  auto alice = identity_from(300);
  auto bob = identity_from(301);
  auto newcomer = identity_from(302);
  for (int warm = 0; warm < 2; ++warm) {
    fast_verify(sign_random(alice, rng));
    fast_verify(sign_random(bob, rng));
  }
  std::vector<gsio::crypto::signature_job> jobs;
  std::vector<bool> expected;
  for (int i = 0; i < 70; ++i) {
    auto m = sign_random(i % 2 ? alice : bob, rng);
    bool valid = true;
    if (i % 9 == 4) {
      m.signature[3] ^= 0x10;
      valid = false;
    }
    if (i == 33) {
      m = sign_random(newcomer, rng);  // first sighting: no table yet
      valid = false;
    }
    gsio::crypto::signature_job job;
    std::copy(m.key.begin(), m.key.end(), job.public_key);
    std::copy(m.message.begin(), m.message.end(), job.message);
    std::copy(m.signature.begin(), m.signature.end(), job.signature);
    jobs.push_back(job);
    expected.push_back(valid);
  }
  auto valid = std::make_unique<bool[]>(jobs.size());
  gsio::crypto::ed25519::verify_batch_if_fast(jobs.data(), jobs.size(), valid.get());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    CAPTURE(i);
    CHECK(valid[i] == expected[i]);
  }
  gsio::crypto::ed25519::verify_batch_if_fast(jobs.data(), 0, valid.get());  // an empty batch is fine
  gsio::crypto::ed25519::verify_batch_if_fast(jobs.data(), 1, valid.get());
  CHECK(valid[0] == expected[0]);
}
