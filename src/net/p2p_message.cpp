#include "net/p2p_message.hpp"

#include <array>
#include <stdexcept>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "crypto/random.hpp"
#include "util/hex.hpp"
#include "util/json_depth.hpp"
#include "util/json_object.hpp"
#include "util/json_parse.hpp"

namespace gsio::net {

namespace {

constexpr std::array<std::pair<p2p_type, std::string_view>, 8> type_names{{
  {p2p_type::node_announce, "NodeAnnounce"},
  {p2p_type::node_list_request, "NodeListRequest"},
  {p2p_type::node_list_response, "NodeListResponse"},
  {p2p_type::entry_announce, "EntryAnnounce"},
  {p2p_type::entry_request, "EntryRequest"},
  {p2p_type::entry_response, "EntryResponse"},
  {p2p_type::ledger_sync_request, "LedgerSyncRequest"},
  {p2p_type::ledger_sync_response, "LedgerSyncResponse"},
}};

constexpr std::size_t max_id_bytes = 256;

}  // namespace

std::string_view to_string(p2p_type type) {
  for (const auto& [t, name] : type_names)
    if (t == type)
      return name;
  return "Unknown";
}

std::optional<p2p_type> p2p_type_from_string(std::string_view name) {
  for (const auto& [t, n] : type_names)
    if (n == name)
      return t;
  return std::nullopt;
}

std::string encode(const p2p_message& message) {
  util::json_object envelope;
  envelope.text("message_type", to_string(message.type))
    .text("message_id", message.message_id)
    .text("sender_id", message.sender_id)
    .text("recipient_id", message.recipient_id);
  if (!message.network_id.empty())
    envelope.text("network_id", message.network_id);
  envelope.raw("payload", message.payload_json);  // already JSON: spliced in unchanged
  return envelope.finish();
}

std::optional<p2p_message> decode_p2p(std::string_view json, std::string& error,
                                      bool with_payload) {
  // Parsing is iterative, but serializing the payload below recurses once per level.
  if (util::json_nested_deeper_than(json, util::max_message_nesting)) {
    error = "a P2P message may nest at most " + std::to_string(util::max_message_nesting) +
            " levels of arrays and objects";
    return std::nullopt;
  }
  // Whatever a node takes in it may write out again to other nodes (a sender id as a recipient,
  // addresses in node lists), so only text that re-encodes as valid UTF-8 is accepted.
  if (const char* refusal = util::exact_json_refusal(json)) {
    error = std::string("a P2P message must not hold ") + refusal;
    return std::nullopt;
  }
  if (util::json_has_lone_surrogate(json)) {
    error = "a P2P message's strings must be Unicode text (no lone surrogate escape)";
    return std::nullopt;
  }
  rapidjson::Document doc;
  if (util::parse_exact(doc, json).IsError() || !doc.IsObject()) {
    error = "a P2P message must be a JSON object";
    return std::nullopt;
  }
  p2p_message message;
  auto read_id = [&](const char* name, std::string& out, bool required) {
    auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      error = std::string("\"") + name + "\" must be a string";
      return false;
    }
    if (it->value.GetStringLength() > max_id_bytes || (required && it->value.GetStringLength() == 0)) {
      error = std::string("\"") + name + "\" must be 1 to 256 bytes";
      return false;
    }
    out.assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  std::string type_name;
  if (!read_id("message_type", type_name, true) || !read_id("message_id", message.message_id, true) ||
      !read_id("sender_id", message.sender_id, true))
    return std::nullopt;
  auto recipient = doc.FindMember("recipient_id");
  if (recipient != doc.MemberEnd() && !recipient->value.IsNull() &&
      !read_id("recipient_id", message.recipient_id, false))
    return std::nullopt;
  if (auto network = doc.FindMember("network_id"); network != doc.MemberEnd()) {
    if (!network->value.IsString() || !util::is_lower_hex({network->value.GetString(), network->value.GetStringLength()}, 64)) {
      error = "\"network_id\" must be 64 lowercase hex digits (a charter's hash)";
      return std::nullopt;
    }
    message.network_id.assign(network->value.GetString(), network->value.GetStringLength());
  }
  auto type = p2p_type_from_string(type_name);
  if (!type) {
    error = "unknown message_type \"" + type_name.substr(0, 64) + "\"";
    return std::nullopt;
  }
  message.type = *type;
  auto payload = doc.FindMember("payload");
  if (payload == doc.MemberEnd() || !payload->value.IsObject()) {
    error = "\"payload\" must be an object";
    return std::nullopt;
  }
  if (!with_payload) {
    message.payload_json.clear();
    return message;
  }
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  payload->value.Accept(writer);
  message.payload_json.assign(buffer.GetString(), buffer.GetSize());
  return message;
}

std::string new_message_id() {
  // Random: ids that others could predict would let a peer send a node's next ids first, and have
  // the node's own messages dropped as duplicates.
  return crypto::random_hex(16);
}

}  // namespace gsio::net
