#pragma once
// The payloads of the P2P messages (docs/PROTOCOL.md §7) as typed structs, with their JSON
// encoding and the rules a node applies when it reads one from a peer: what is kept, what is
// cut to a bound, and what makes a message malformed. Entries stay JSON text here; what makes an
// entry valid is the ledger's business.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "net/p2p_message.hpp"

namespace gsio::net::p2p {

// NodeAnnounce: who a node is and where its chain stands; the heartbeat of every link.
struct node_announce {
  std::uint64_t protocol = protocol_version;  // read: 1 when absent, 0 when not a number
  std::string node_id;
  std::string address;   // read: "" when over max_address_bytes
  std::uint64_t height = 0;
  std::string tip_hash;  // read: "" unless 64 lowercase hex digits
  std::uint64_t entries = 0;
  std::string relay_proof;  // only on the first announce of a relay link; "" when none
  // With relay_proof on a private network: the data (JSON text) of the entry that admitted this
  // node (docs/PROTOCOL.md §8, Relays); "" when the charter did, or on an open network.
  std::string membership;
};

// NodeListRequest: "who do you know?".
struct node_list_request {};

// What a node says of another in a NodeListResponse.
struct peer_summary {
  std::string node_id;
  std::string address;   // read as in node_announce
  std::uint64_t height = 0;
  std::string tip_hash;  // read as in node_announce
};

// NodeListResponse: the ids (`nodes`, as the original protocol has them) and what the sender
// knows of each (`peers`).
struct node_list_response {
  std::vector<std::string> nodes;
  std::vector<peer_summary> peers;
};

// EntryAnnounce: one entry its creator just appended, with the creator's tip after it.
struct entry_announce {
  std::string entry;  // JSON text of one object
  std::uint64_t height = 0;
  std::string tip_hash;
};

// EntryRequest: the entries with these hashes, from anyone who has them.
struct entry_request {
  std::vector<std::string> hashes;  // read: only 64-digit lowercase hex, at most max_hashes
};

// EntryResponse: entries asked for by hash.
struct entry_response {
  std::vector<std::string> entries;  // JSON text of each
};

// LedgerSyncRequest: a page of what the responder attached after the first locator hash it
// has on its canonical chain, or the page at `cursor` of a pull under way.
struct ledger_sync_request {
  std::vector<std::string> locator;    // read: only 64-digit lowercase hex, at most max_locator
  std::optional<std::uint64_t> cursor;
  std::uint64_t limit = 500;           // read: clamped to [1, max_page_limit]
};

// LedgerSyncResponse: one page of a pull.
struct ledger_sync_response {
  std::vector<std::string> entries;  // JSON text of each, in the responder's attach order
  std::uint64_t next_cursor = 0;
  bool more = false;
  std::uint64_t height = 0;
  std::string tip_hash;
};

using payload = std::variant<node_announce, node_list_request, node_list_response, entry_announce,
                             entry_request, entry_response, ledger_sync_request,
                             ledger_sync_response>;

// The bounds of what is read from a peer.
inline constexpr std::size_t max_address_bytes = 512;  // an http:// URL
inline constexpr std::size_t max_hashes = 256;          // in an EntryRequest, and entries per EntryResponse
inline constexpr std::size_t max_locator = 128;
inline constexpr std::uint64_t max_page_limit = 1000;
inline constexpr std::size_t max_listed_nodes = 1024;   // in a NodeListResponse

struct read_limits {
  // Entries in a LedgerSyncResponse beyond what this node asks for make it malformed: nothing it
  // asks for holds more, and a message of a few megabytes of tiny objects would otherwise become
  // a page of a million entries to check.
  std::size_t max_page_entries = max_page_limit;
};

// The JSON text of a payload (an object), as the message type of its struct wants it.
std::string encode(const payload& p);

// The type a payload struct travels as.
p2p_type type_of(const payload& p);

// Reads the payload of a message of type `type` from its JSON text by the rules above; nullopt,
// with `error` set, when it is not an object or breaks a rule that makes the message malformed
// (an entry that is not an object, more entries than a response may hold). Members of the wrong
// type read as absent.
std::optional<payload> decode(p2p_type type, std::string_view json, std::string& error,
                              const read_limits& limits = {});

}  // namespace gsio::net::p2p
