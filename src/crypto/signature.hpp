#pragma once
// The signature rule of protocol 2 (DESIGN §7, docs/PROTOCOL.md §3), written once for every
// verifier in the project: entries in the ledger, relay proofs, the CLI's chain check.
//
// A signature (R || S, 64 bytes) by public key A (32 bytes) over a message is valid iff
//   - S < L (the group order): S + L would verify wherever S does, a second spelling;
//   - A is the canonical encoding (y < p, no "negative zero" x) of a curve point that is not of
//     small order ([8]A is not the neutral point): a small-order key "signs" some messages for
//     anyone, e.g. A = identity, R = identity, S = 0 for every message;
//   - [S]B = R + [k]A without the cofactor, k = SHA-512(R || A || message) mod L, checked as
//     "the encoding of [S]B - [k]A equals the 32 bytes R", which also refuses a non-canonical R.
// ../shared/vectors/ed25519-edge.tsv (copied to tests/vectors) pins it case by case; the
// TypeScript client applies the same rule (clients/ts/src/verify.ts).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace gsio::crypto {

inline constexpr std::size_t public_key_bytes = 32;
inline constexpr std::size_t signature_bytes = 64;

// The rule above, on raw bytes.
bool verify(const std::uint8_t* public_key, const std::uint8_t* message, std::size_t message_size,
            const std::uint8_t* signature);

// The rule above on the wire's spelling: a 64-digit key, a 64-digit (32-byte) message such as an
// entry hash, a 128-digit signature, all lowercase hex. Any malformed input is simply "not valid".
bool verify_hex(std::string_view public_key_hex, std::string_view message_hex,
                std::string_view signature_hex);

// One signature over a 32-byte message (an entry hash).
struct signature_job {
  std::uint8_t public_key[32];
  std::uint8_t message[32];
  std::uint8_t signature[64];
};

// verify() for each of `count` jobs into valid[0..count), with exactly verify()'s answers. The
// jobs share work (ed25519.hpp: one field inversion for the batch, tables for keys seen before),
// so a page of entries by a few keys costs about two thirds of verifying them one by one.
void verify_batch(const signature_job* jobs, std::size_t count, bool* valid);

}  // namespace gsio::crypto
