#pragma once
// Proof that a connection to the relay belongs to the node id it announces. Node ids are Ed25519
// public keys, so the relay hands each connection a fresh challenge in its upgrade response and
// the node signs it in its first NodeAnnounce. A proof is bound to one connection's challenge:
// seeing another node's announce (the relay broadcasts it) does not let anyone reuse it.

#include <string>
#include <string_view>

namespace gsio::net {

// The upgrade response header carrying the relay's challenge, and the NodeAnnounce payload member
// carrying the proof.
inline constexpr std::string_view challenge_header = "X-Gsio-Challenge";
// The upgrade response header of a relay serving private networks (gsio-relay --network): their
// ids, comma-separated. A node of a private network uses only a relay that lists its network,
// since any other relay would hand its broadcasts to whoever connects.
inline constexpr std::string_view networks_header = "X-Gsio-Networks";
inline constexpr std::string_view relay_proof_member = "relay_proof";

// 32 random bytes as lowercase hex.
std::string new_challenge();

// What the node signs: hex SHA-256 of "gsio-relay-announce\n" challenge "\n" node_id.
std::string announce_proof_digest(std::string_view challenge, std::string_view node_id);

// True when `signature_hex` (128 hex digits) is node_id's (64 hex digits, an Ed25519 public key)
// Ed25519 signature of the digest's 32 bytes, under the one signature rule (crypto/signature.hpp).
bool verify_announce_proof(std::string_view challenge, std::string_view node_id,
                           std::string_view signature_hex);

}  // namespace gsio::net
