#include <doctest/doctest.h>

#include <string>

#include "net/announce_proof.hpp"
#include "test_util.hpp"

using namespace gsio::net;

namespace {
// Made with node:crypto (seed 32 × 0x07), independently of the project's Ed25519 code.
const std::string node_id = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";
const std::string challenge = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const std::string signature =
  "0f2c3fd2682ad7e432360e4808307bfa2d3c330c4faa30aa44aad8dc5780bea2"
  "68e18051d4dcef359e7e737a333fc7b6058924d0795bb78f57522138af06bb07";
}  // namespace

TEST_CASE("announce proof: the digest and a signature made elsewhere") {
  CHECK(announce_proof_digest(challenge, node_id) ==
        "d5ce94252021ba47a56da5339281b0c24249c46555fc8ad9f4add35168750c6e");
  CHECK(verify_announce_proof(challenge, node_id, signature));
}

TEST_CASE("announce proof: bound to the challenge, the id and the signature's exact spelling") {
  auto other_challenge = challenge;
  other_challenge[0] = '1';
  CHECK_FALSE(verify_announce_proof(other_challenge, node_id, signature));
  auto other_id = node_id;
  other_id[63] = 'd';
  CHECK_FALSE(verify_announce_proof(challenge, other_id, signature));
  auto flipped = signature;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  CHECK_FALSE(verify_announce_proof(challenge, node_id, flipped));
  std::string upper = signature;
  for (auto& c : upper)
    c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 32 : c);
  CHECK_FALSE(verify_announce_proof(challenge, node_id, upper));
  CHECK_FALSE(verify_announce_proof(challenge, node_id, signature.substr(2)));
  CHECK_FALSE(verify_announce_proof(challenge, node_id, ""));
  CHECK_FALSE(verify_announce_proof(challenge, "not-a-key", signature));
  CHECK_FALSE(verify_announce_proof(challenge, std::string(64, 'z'), signature));
}

TEST_CASE("announce proof: challenges are fresh 64-digit hex") {
  const auto a = new_challenge();
  const auto b = new_challenge();
  CHECK(a.size() == 64);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
}

TEST_CASE("announce proof: the one signature rule, so no key of small order proves an id") {
  // The relay used to verify proofs with a laxer rule than the ledger: a small-order key with
  // R = identity and S = 0 then "proved" an id such as 0100...00 for any challenge. The edge
  // vectors whose signature holds for every message are tried against fresh challenges.
  std::size_t tried = 0;
  for (const auto& c : gsio::test::edge_cases()) {
    if (!c.message_independent())
      continue;
    CAPTURE(c.name);
    ++tried;
    for (int i = 0; i < 3; ++i)
      CHECK_FALSE(verify_announce_proof(new_challenge(), c.public_key, c.signature));
  }
  CHECK(tried >= 7);
}
