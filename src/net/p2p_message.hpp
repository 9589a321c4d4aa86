#pragma once
// The P2P envelope carried by relay WebSocket frames and by the `/p2p` namespace's `p2p_message`
// event: {"message_type", "message_id", "sender_id", "recipient_id", "payload"} (docs/PROTOCOL.md).
// This layer knows the envelope and the message type names; the payload stays JSON text for the
// layers above (the relay never looks inside it).
#include <optional>
#include <cstddef>
#include <string>
#include <string_view>

namespace gsio::net {

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
  std::string payload_json = "{}";  // a JSON object, kept as text
};

// Encodes the envelope as one JSON object text.
std::string encode(const p2p_message& message);

// Parses and checks an envelope: an object with the five members, a known message_type, string
// ids (message_id and sender_id non-empty, at most 256 bytes) and an object payload.
// On failure returns nullopt and sets `error`.
// `with_payload` false checks that the payload is an object but leaves payload_json empty: the
// relay routes by the envelope alone and forwards the original text.
std::optional<p2p_message> decode_p2p(std::string_view json, std::string& error,
                                      bool with_payload = true);

// A fresh random message id (32 hex digits).
std::string new_message_id();

// `bytes` bytes from the system's cryptographic generator, as lowercase hex.
std::string random_hex(std::size_t bytes);

}  // namespace gsio::net
