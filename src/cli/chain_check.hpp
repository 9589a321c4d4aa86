#pragma once
// Client-side verification of a downloaded chain (docs/PROTOCOL.md §3), trusting nothing the
// node says: each entry's shape, its hash recomputed from canonical JSON, every signature, the
// id/timestamp agreement, the previous_hash links from genesis and unique ids.
//
// Entries are fed in chain order, one page at a time, so a long chain never has to be held in
// memory at once.
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_set>

#include "ledger/membership.hpp"

#include <rapidjson/document.h>

namespace gsio::cli {

struct chain_failure {
  std::size_t index = 0;  // position in the chain, 0 = first entry
  std::string id;         // the entry's id when it could be read, else empty
  std::string rule;       // malformed, bad_hash, bad_signature, broken_link, duplicate_id
  std::string reason;     // human-readable detail
};

class chain_verifier {
public:
  // Checks the next entry of the chain. Returns false at the first failure (see failure());
  // later calls keep returning false.
  bool add(const rapidjson::Value& entry_json);

  std::size_t entries() const { return count_; }
  // The hash of the last verified entry; genesis (64 zeros) for an empty chain.
  const std::string& tip_hash() const { return tip_hash_; }
  const std::optional<chain_failure>& failure() const { return failure_; }

private:
  bool fail(std::string id, std::string rule, std::string reason);

  std::size_t count_ = 0;
  std::string tip_hash_ = std::string(64, '0');
  std::unordered_set<std::string> ids_;
  // A chain that starts with a charter is a private network's: every entry is also checked by
  // the membership rules (ledger/membership.hpp), with the state folded along the chain.
  std::string network_id_;
  ledger::membership_ptr members_;
  std::optional<chain_failure> failure_;
};

// "entry #3 (8a88…-1767323045679): bad_hash: ..." for messages.
std::string describe(const chain_failure& failure);

}  // namespace gsio::cli
