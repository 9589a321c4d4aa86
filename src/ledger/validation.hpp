#pragma once
// Stateless entry checks. Checks that need the chain (duplicate id on the path, unknown parent)
// live in chain_tree.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/entry.hpp"

namespace gsio::ledger {

enum class reject_code {
  malformed,          // a field is missing, has the wrong form, or id/timestamp disagree
  bad_hash,           // hash is not SHA-256 of the canonical hash input
  bad_signature,      // creator signature missing or invalid, or an attestation is invalid
  future_timestamp,   // too far ahead of this node's clock
  too_large,          // canonical data larger than the limit
  duplicate_id,       // the id already appears on the entry's path
  // Membership (DESIGN §10, ledger/membership.hpp): checked against the state at the parent.
  wrong_network,      // not rooted at this network's charter, or a statement for another network
  not_member,         // creator, author or signer lacks the role the entry needs
  bad_statement,      // a charter, statement or redemption that is malformed or replayed
  bad_author,         // an author block that is malformed, out of time or wrongly signed
  invite_used,        // the invite's nonce was already redeemed on the entry's path
  invite_expired,     // the entry's time is after the invite's expiry
};

std::string_view to_string(reject_code code);

struct rejection {
  reject_code code;
  std::string reason;  // human-readable, names the entry and the failed rule
};

struct validation_limits {
  std::size_t max_data_bytes = 64 * 1024;
  std::size_t max_data_depth = 128;  // levels of arrays and objects nested in data
  std::int64_t max_future_skew_ms = 5 * 60 * 1000;
};

// Why `data` (canonical JSON) is over the size or nesting limit, or nullopt.
std::optional<std::string> data_over_limits(std::string_view data, const validation_limits& limits);

// Returns nullopt when `e` is well-formed, correctly hashed and signed by its creator, within
// the size limit and not too far in the future relative to `now`, the time since the unix epoch
// (a typed duration: milliseconds convert to it exactly, a bare number does not at all).
std::optional<rejection> validate(const entry& e, const validation_limits& limits,
                                  std::chrono::microseconds now);

// The same checks without the clock and size limits: what verifying a stored chain needs.
std::optional<rejection> validate_integrity(const entry& e);

// Checks one signature: (signer node id, hash, signature), all hex, as crypto::verify_hex does.
using signature_check =
  std::function<bool(std::string_view signer, std::string_view hash_hex, std::string_view signature_hex)>;

// validate and validate_integrity with the signatures checked by `check`.
std::optional<rejection> validate(const entry& e, const validation_limits& limits,
                                  std::chrono::microseconds now, const signature_check& check);
std::optional<rejection> validate_integrity(const entry& e, const signature_check& check);

// The signature part of validate_integrity: the creator's signature is present, and every
// signature is spelled in lowercase hex and valid for `e.hash` by `check` (by default the one
// rule, crypto::verify_hex). validate_integrity calls it once the hash is known to be right.
std::optional<rejection> validate_signatures(const entry& e, const signature_check& check);
std::optional<rejection> validate_signatures(const entry& e);

// Runs validate_one(i, check) for every i in [0, n) on all cores, where validate_one validates
// item i, checking its signatures with `check`, and stores the outcome (it may run twice for
// the same i and must then start afresh). The signatures of a run of items are verified
// together (crypto::verify_batch): a first pass takes every signature as valid and records it,
// and an item with a signature that the batch finds invalid is validated again, one signature at
// a time, for the exact reason.
void validate_batched(std::size_t n,
                      const std::function<void(std::size_t i, const signature_check& check)>& validate_one);

// An entry from a peer after check_entries: parsed, and refused with a reason or not.
struct checked_entry {
  entry e;                        // as far as it parsed
  std::optional<rejection> why;   // nullopt: valid, or an exact copy of a known entry
};

// Parses entries from a peer (each one JSON object) and validates them, spread over the machine's
// cores: signature checks dominate and need no chain. `known` (optional, called concurrently)
// names entries the caller already holds; an exact copy of one skips the checks, since attaching
// it is a no-op. Results are in the order given.
std::vector<checked_entry> check_entries(const std::vector<const std::string*>& json,
                                         const validation_limits& limits, std::chrono::microseconds now,
                                         const std::function<bool(const entry&)>& known = {});

}  // namespace gsio::ledger
