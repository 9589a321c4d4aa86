#pragma once
// The ledger entry and its hash / signature rules (DESIGN §7, docs/PROTOCOL.md).
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace gsio::crypto {
class identity;
}

namespace gsio::ledger {

inline constexpr std::string_view genesis_hash =
  "0000000000000000000000000000000000000000000000000000000000000000";

struct entry {
  std::string id;               // "<creator_node_id>-<unix_us>"
  std::string timestamp;        // RFC 3339 UTC with microseconds, the same instant as the id
  std::string data;             // canonical JSON text (RFC 8785) of the entry's data
  std::string previous_hash;    // 64 hex; genesis_hash for the first entry
  std::string hash;             // 64 hex SHA-256 of hash_input()
  std::string creator_node_id;  // 64 hex Ed25519 public key
  std::vector<std::pair<std::string, std::string>> signatures;  // node id -> hex signature, sorted by node id

  // unix microseconds parsed from the id suffix; -1 when the id is malformed.
  std::int64_t unix_us() const;
  const std::string* signature_of(std::string_view node_id) const;
  friend bool operator==(const entry&, const entry&) = default;
};

// Canonical JSON of [id, timestamp, data, previous_hash, creator_node_id].
std::string hash_input(const entry& e);
std::string compute_hash(const entry& e);

// "2026-01-02T03:04:05.678901Z": RFC 3339 UTC with exactly six fractional digits. Throws
// std::invalid_argument for a negative time or one past the year 9999.
std::string format_timestamp(std::int64_t unix_us);

// Builds a complete signed entry: id, timestamp, hash and the creator's signature.
// `canonical_data` must already be canonical JSON.
entry make_entry(const crypto::identity& creator, std::string canonical_data, std::string previous_hash,
                 std::int64_t unix_us);

// Same id, timestamp and data, linked to a new parent, re-hashed and re-signed (orphan re-append).
entry relink(const entry& original, const crypto::identity& creator, std::string previous_hash);

// The entry as canonical JSON (an object with all seven fields).
void append_json(const entry& e, std::string& out);
std::string to_json(const entry& e);

// Reads an entry object. Checks the shape only (field presence and JSON types); the rules are
// checked by validate(). `data` is stored canonicalized.
bool from_json(const rapidjson::Value& value, entry& out, std::string& error);
bool from_json_text(std::string_view json, entry& out, std::string& error);

}  // namespace gsio::ledger
