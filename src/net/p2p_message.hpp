#pragma once
// The P2P envelope carried by relay WebSocket frames and by the `/p2p` namespace's `p2p_message`
// event: {"message_type", "message_id", "sender_id", "recipient_id", "network_id"?, "payload"}
// (docs/PROTOCOL.md). network_id names a private network (its charter's hash); it is absent on
// an open network.
// This layer knows the envelope and the message type names; the payload stays JSON text for the
// layers above (the relay never looks inside it).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gsio::net {

// The protocol this code speaks (docs/PROTOCOL.md): entry ids in microseconds, the one signature
// rule, and these message shapes. A NodeAnnounce carries it as payload.protocol; an announce
// without it is of protocol 1. Nodes of different protocols do not sync with each other.
inline constexpr std::uint64_t protocol_version = 2;
inline constexpr std::string_view protocol_member = "protocol";

enum class p2p_type {
  node_announce,
  node_list_request,
  node_list_response,
  entry_announce,
  entry_request,
  entry_response,
  ledger_sync_request,
  ledger_sync_response,
};

// "NodeAnnounce", "LedgerSyncRequest", ... (the names on the wire).
std::string_view to_string(p2p_type type);
std::optional<p2p_type> p2p_type_from_string(std::string_view name);

struct p2p_message {
  p2p_type type = p2p_type::node_announce;
  std::string message_id;    // unique per message; receivers drop duplicates by it
  std::string sender_id;     // node id of the sender
  std::string recipient_id;  // empty: broadcast
  std::string network_id;    // empty: an open network
  std::string payload_json = "{}";  // a JSON object, kept as text
};

// Encodes the envelope as one JSON object text.
std::string encode(const p2p_message& message);

// Parses and checks an envelope: an object with the five members, a known message_type, string
// ids (message_id and sender_id non-empty, at most 256 bytes), an object payload, and when
// present a network_id of 64 lowercase hex digits.
// On failure returns nullopt and sets `error`.
// `with_payload` false checks that the payload is an object but leaves payload_json empty: the
// relay routes by the envelope alone and forwards the original text.
std::optional<p2p_message> decode_p2p(std::string_view json, std::string& error,
                                      bool with_payload = true);

// A fresh random message id (32 hex digits).
std::string new_message_id();

}  // namespace gsio::net
