#pragma once
// A fast path for Ed25519 verification, for keys that sign many entries.
//
// A catch-up verifies thousands of signatures by the same few keys, and Crypto++'s general
// verifier (about 42 µs on the bench machine) was two thirds of a syncing node's CPU.
// Verification computes [S]B - [k]A; B is fixed, and so, in practice, is A. With a precomputed
// table of multiples of A as well as of B (7-bit signed windows), each product takes 37 table
// additions and the two share 7 doublings, against the 250-odd doublings of a verifier without
// a table: about 17 µs per signature, 12 µs in batches (verify_batch_if_fast).
//
// The fast path only ever says "valid": it answers true when it has computed [S]B - [k]A and found
// it equal to R, and false whenever it cannot say, which includes every invalid signature. The
// caller then asks Crypto++ (signature.cpp does). The fast path handles only inputs on which the
// two compute the same equation: S below the group order, A canonically encoded on the curve and
// not of small order, R compared by its canonical encoding. Those are also the rule's own
// conditions (signature.hpp; Crypto++ checks none of them), so the rule accepts exactly the
// signatures that meet them and that Crypto++ accepts.
//
// Tables are built for a key the second time it is seen, so that entries signed by many one-off
// keys cost no more than before.
#include <cstddef>
#include <cstdint>

#include "crypto/signature.hpp"

namespace gsio::crypto::ed25519 {

// How many keys have tables (143 KiB each), and how many lookups a key's table must go unused
// before a new key may take its place.
constexpr std::size_t tables_kept = 32;
constexpr std::uint64_t table_idle_lookups = 4096;

// True if `signature` (R || S, 64 bytes) is a valid signature by `public_key` (32 bytes) of
// `message`; false if it is not, or if the fast path cannot tell (see above).
bool verify_if_fast(const std::uint8_t* public_key, const std::uint8_t* message,
                    std::size_t message_size, const std::uint8_t* signature);

// The rule's conditions that Crypto++ does not check: S (the second half of the signature) below
// the group order L; the key a canonical encoding (y < p) of a curve point that is not of small
// order. crypto::verify refuses signatures that break them.
bool canonical_s(const std::uint8_t* signature);
bool usable_key(const std::uint8_t* public_key);

// verify_if_fast for each of `count` jobs into valid[0..count). The last step of a verification
// turns the computed point into its encoding, which takes a field inversion (about a fifth of
// the work); a batch shares one inversion among all its signatures.
void verify_batch_if_fast(const signature_job* jobs, std::size_t count, bool* valid);

// For tests: drops every table and every key seen, as if the process had just started.
void forget_keys();

}  // namespace gsio::crypto::ed25519
