#include "net/announce_proof.hpp"

#include "crypto/random.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"

namespace gsio::net {

std::string new_challenge() { return crypto::random_hex(32); }

std::string announce_proof_digest(std::string_view challenge, std::string_view node_id) {
  std::string text = "gsio-relay-announce\n";
  text.append(challenge).append("\n").append(node_id);
  return crypto::sha256_hex(text);
}

bool verify_announce_proof(std::string_view challenge, std::string_view node_id,
                           std::string_view signature_hex) {
  // The ledger's rule, not a laxer one: a small-order key with R = identity and S = 0 would
  // otherwise "prove" an id such as 0100...00 for every challenge.
  return crypto::verify_hex(node_id, announce_proof_digest(challenge, node_id), signature_hex);
}

}  // namespace gsio::net
