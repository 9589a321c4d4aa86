#include "net/p2p_payloads.hpp"

#include <algorithm>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "util/hex.hpp"
#include "util/json_parse.hpp"

namespace gsio::net::p2p {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- encoding ---------------------------------------------------------------------------------

void key(json_writer& w, std::string_view name) {
  w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
}

void string(json_writer& w, std::string_view text) {
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void strings(json_writer& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const auto& s : list)
    string(w, s);
  w.EndArray();
}

// Entries are JSON text already (canonical, from the ledger): spliced in as they are.
void entries(json_writer& w, const std::vector<std::string>& list) {
  w.StartArray();
  for (const auto& e : list)
    w.RawValue(e.data(), e.size(), rapidjson::kObjectType);
  w.EndArray();
}

struct encoder {
  json_writer& w;

  void operator()(const node_announce& p) {
    key(w, protocol_member);
    w.Uint64(p.protocol);
    key(w, "node_id");
    string(w, p.node_id);
    key(w, "address");
    string(w, p.address);
    key(w, "height");
    w.Uint64(p.height);
    key(w, "tip_hash");
    string(w, p.tip_hash);
    key(w, "entries");
    w.Uint64(p.entries);
    if (!p.membership.empty()) {
      key(w, "membership");
      string(w, p.membership);
    }
    if (!p.relay_proof.empty()) {
      key(w, "relay_proof");
      string(w, p.relay_proof);
    }
  }
  void operator()(const node_list_request&) {}
  void operator()(const node_list_response& p) {
    key(w, "nodes");
    strings(w, p.nodes);
    key(w, "peers");
    w.StartArray();
    for (const auto& peer : p.peers) {
      w.StartObject();
      key(w, "node_id");
      string(w, peer.node_id);
      key(w, "address");
      string(w, peer.address);
      key(w, "height");
      w.Uint64(peer.height);
      key(w, "tip_hash");
      string(w, peer.tip_hash);
      w.EndObject();
    }
    w.EndArray();
  }
  void operator()(const entry_announce& p) {
    key(w, "entry");
    w.RawValue(p.entry.data(), p.entry.size(), rapidjson::kObjectType);
    key(w, "height");
    w.Uint64(p.height);
    key(w, "tip_hash");
    string(w, p.tip_hash);
  }
  void operator()(const entry_request& p) {
    key(w, "hashes");
    strings(w, p.hashes);
  }
  void operator()(const entry_response& p) {
    key(w, "entries");
    entries(w, p.entries);
  }
  void operator()(const ledger_sync_request& p) {
    key(w, "locator");
    strings(w, p.locator);
    key(w, "cursor");
    if (p.cursor)
      w.Uint64(*p.cursor);
    else
      w.Null();
    key(w, "limit");
    w.Uint64(p.limit);
  }
  void operator()(const ledger_sync_response& p) {
    key(w, "entries");
    entries(w, p.entries);
    key(w, "next_cursor");
    w.Uint64(p.next_cursor);
    key(w, "more");
    w.Bool(p.more);
    key(w, "height");
    w.Uint64(p.height);
    key(w, "tip_hash");
    string(w, p.tip_hash);
  }
};

// ---- reading ----------------------------------------------------------------------------------

std::string string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString()
           ? std::string(it->value.GetString(), it->value.GetStringLength())
           : std::string();
}

std::uint64_t uint_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

// What a peer says of a node is kept only when well-formed: anything else would be kept in the
// registry and repeated to every client that asks for the known nodes.
std::string address_member(const rapidjson::Value& object) {
  auto address = string_member(object, "address");
  return address.size() <= max_address_bytes ? address : std::string();
}

std::string tip_hash_member(const rapidjson::Value& object) {
  auto hash = string_member(object, "tip_hash");
  return util::is_lower_hex(hash, 64) ? hash : std::string();
}

const rapidjson::Value* array_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

// The members of `array` that are entry hashes (64 lowercase hex digits), at most `limit`.
std::vector<std::string> hashes_in(const rapidjson::Value* array, std::size_t limit) {
  std::vector<std::string> hashes;
  if (!array)
    return hashes;
  for (const auto& hash : array->GetArray()) {
    if (hashes.size() == limit)
      break;
    if (hash.IsString() && util::is_lower_hex({hash.GetString(), hash.GetStringLength()}, 64))
      hashes.emplace_back(hash.GetString(), hash.GetStringLength());
  }
  return hashes;
}

std::string text_of(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  value.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// The entries of member "entries", each written out again as text (the ledger parses and checks
// them); nullopt for more than `max`.
std::optional<std::vector<std::string>> entries_member(const rapidjson::Value& object, std::size_t max) {
  std::vector<std::string> out;
  const auto* array = array_member(object, "entries");
  if (!array)
    return out;
  if (array->Size() > max)
    return std::nullopt;
  out.reserve(array->Size());
  for (const auto& item : array->GetArray())
    out.push_back(text_of(item));
  return out;
}

node_announce read_node_announce(const rapidjson::Value& v) {
  node_announce p;
  p.protocol = 1;  // protocol 1 announces carried no version
  if (auto it = v.FindMember(protocol_member.data()); it != v.MemberEnd())
    p.protocol = it->value.IsUint64() ? it->value.GetUint64() : 0;
  p.node_id = string_member(v, "node_id");
  p.address = address_member(v);
  p.height = uint_member(v, "height");
  p.tip_hash = tip_hash_member(v);
  p.entries = uint_member(v, "entries");
  p.relay_proof = string_member(v, "relay_proof");
  p.membership = string_member(v, "membership");
  return p;
}

node_list_response read_node_list(const rapidjson::Value& v) {
  node_list_response p;
  if (const auto* nodes = array_member(v, "nodes"))
    for (const auto& id : nodes->GetArray()) {
      if (p.nodes.size() == max_listed_nodes)
        break;
      if (id.IsString())
        p.nodes.emplace_back(id.GetString(), id.GetStringLength());
    }
  if (const auto* peers = array_member(v, "peers"))
    for (const auto& n : peers->GetArray()) {
      if (p.peers.size() == max_listed_nodes)
        break;
      if (n.IsObject())
        p.peers.push_back({string_member(n, "node_id"), address_member(n), uint_member(n, "height"),
                           tip_hash_member(n)});
    }
  return p;
}

ledger_sync_request read_sync_request(const rapidjson::Value& v) {
  ledger_sync_request p;
  p.locator = hashes_in(array_member(v, "locator"), max_locator);
  if (auto it = v.FindMember("cursor"); it != v.MemberEnd() && it->value.IsUint64())
    p.cursor = it->value.GetUint64();
  p.limit = std::clamp<std::uint64_t>(uint_member(v, "limit"), 1, max_page_limit);
  return p;
}

}  // namespace

std::string encode(const payload& p) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  std::visit(encoder{w}, p);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

p2p_type type_of(const payload& p) {
  static constexpr p2p_type types[] = {
    p2p_type::node_announce, p2p_type::node_list_request, p2p_type::node_list_response,
    p2p_type::entry_announce, p2p_type::entry_request, p2p_type::entry_response,
    p2p_type::ledger_sync_request, p2p_type::ledger_sync_response};
  static_assert(std::size(types) == std::variant_size_v<payload>);
  return types[p.index()];
}

std::optional<payload> decode(p2p_type type, std::string_view json, std::string& error,
                              const read_limits& limits) {
  rapidjson::Document doc;
  if (util::parse_exact(doc, json).IsError() || !doc.IsObject()) {
    error = "the payload is not a JSON object";
    return std::nullopt;
  }
  switch (type) {
    case p2p_type::node_announce: return read_node_announce(doc);
    case p2p_type::node_list_request: return node_list_request{};
    case p2p_type::node_list_response: return read_node_list(doc);
    case p2p_type::entry_announce: {
      auto it = doc.FindMember("entry");
      if (it == doc.MemberEnd() || !it->value.IsObject()) {
        error = "an EntryAnnounce without an entry object";
        return std::nullopt;
      }
      return entry_announce{text_of(it->value), uint_member(doc, "height"), tip_hash_member(doc)};
    }
    case p2p_type::entry_request: return entry_request{hashes_in(array_member(doc, "hashes"), max_hashes)};
    case p2p_type::entry_response: {
      auto entries = entries_member(doc, max_hashes);
      if (!entries) {
        error = "more entries than an EntryRequest asks for";
        return std::nullopt;
      }
      return entry_response{std::move(*entries)};
    }
    case p2p_type::ledger_sync_request: return read_sync_request(doc);
    case p2p_type::ledger_sync_response: {
      auto entries = entries_member(doc, limits.max_page_entries);
      if (!entries) {
        error = "more entries than the page asked for";
        return std::nullopt;
      }
      const auto more = doc.FindMember("more");
      return ledger_sync_response{std::move(*entries), uint_member(doc, "next_cursor"),
                                  more != doc.MemberEnd() && more->value.IsBool() && more->value.GetBool(),
                                  uint_member(doc, "height"), tip_hash_member(doc)};
    }
  }
  error = "an unknown message type";
  return std::nullopt;
}

}  // namespace gsio::net::p2p
