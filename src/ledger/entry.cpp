#include "ledger/entry.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "ledger/canonical_json.hpp"
#include "util/json_depth.hpp"
#include "util/json_parse.hpp"

namespace gsio::ledger {

std::int64_t entry::unix_us() const {
  // The first dash: a node id has none, so "<id>-x-<us>" or "<id>--<us>" read as no time at all
  // rather than as other spellings of <us>. 18 digits reach past the year 9999.
  auto dash = id.find('-');
  if (dash == std::string::npos || dash + 1 >= id.size() || id.size() - dash - 1 > 18)
    return -1;
  std::int64_t us = -1;
  const char* first = id.data() + dash + 1;
  const char* last = id.data() + id.size();
  if (*first == '0' && last - first > 1)
    return -1;  // one spelling per instant: no leading zeros
  auto [ptr, ec] = std::from_chars(first, last, us);
  if (ec != std::errc{} || ptr != last || us < 0)
    return -1;
  return us;
}

const std::string* entry::signature_of(std::string_view node_id) const {
  auto it = std::lower_bound(signatures.begin(), signatures.end(), node_id,
                             [](const auto& pair, std::string_view key) { return pair.first < key; });
  return it != signatures.end() && it->first == node_id ? &it->second : nullptr;
}

std::string hash_input(const entry& e) {
  std::string out;
  out.reserve(e.id.size() + e.timestamp.size() + e.data.size() + 160);
  out.push_back('[');
  append_canonical_string(e.id, out);
  out.push_back(',');
  append_canonical_string(e.timestamp, out);
  out.push_back(',');
  out += e.data;  // already canonical
  out.push_back(',');
  append_canonical_string(e.previous_hash, out);
  out.push_back(',');
  append_canonical_string(e.creator_node_id, out);
  out.push_back(']');
  return out;
}

std::string compute_hash(const entry& e) {
  return crypto::sha256_hex(hash_input(e));
}

std::string format_timestamp(std::int64_t unix_us) {
  if (unix_us < 0)
    throw std::invalid_argument("format_timestamp: negative time");
  const std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm utc{};
  if (!::gmtime_r(&seconds, &utc) || utc.tm_year + 1900 > 9999)
    throw std::invalid_argument("format_timestamp: time out of range");
  char buf[96];  // roomy enough for any int fields, which keeps -Wformat-truncation quiet
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(unix_us % 1'000'000));
  return buf;
}

entry make_entry(const crypto::identity& creator, std::string canonical_data, std::string previous_hash,
                 std::int64_t unix_us) {
  entry e;
  e.creator_node_id = creator.node_id();
  e.id = e.creator_node_id + "-" + std::to_string(unix_us);
  e.timestamp = format_timestamp(unix_us);
  e.data = std::move(canonical_data);
  e.previous_hash = std::move(previous_hash);
  e.hash = compute_hash(e);
  e.signatures.emplace_back(e.creator_node_id, creator.sign_hash(e.hash));
  return e;
}

entry relink(const entry& original, const crypto::identity& creator, std::string previous_hash) {
  if (original.creator_node_id != creator.node_id())
    throw std::invalid_argument("relink: only the creator may re-append an entry");
  entry e = original;
  e.previous_hash = std::move(previous_hash);
  e.hash = compute_hash(e);
  // Attestations signed the old hash; they do not carry over.
  e.signatures.assign(1, {e.creator_node_id, creator.sign_hash(e.hash)});
  return e;
}

void append_json(const entry& e, std::string& out) {
  // Members in RFC 8785 order (code-unit order of the names), so the text is canonical.
  out += "{\"creator_node_id\":";
  append_canonical_string(e.creator_node_id, out);
  out += ",\"data\":";
  out += e.data;
  out += ",\"hash\":";
  append_canonical_string(e.hash, out);
  out += ",\"id\":";
  append_canonical_string(e.id, out);
  out += ",\"previous_hash\":";
  append_canonical_string(e.previous_hash, out);
  out += ",\"signatures\":{";
  bool first = true;
  for (const auto& [node, signature] : e.signatures) {
    if (!first)
      out.push_back(',');
    first = false;
    append_canonical_string(node, out);
    out.push_back(':');
    append_canonical_string(signature, out);
  }
  out += "},\"timestamp\":";
  append_canonical_string(e.timestamp, out);
  out.push_back('}');
}

std::string to_json(const entry& e) {
  std::string out;
  out.reserve(e.data.size() + 512);
  append_json(e, out);
  return out;
}

namespace {

bool read_string(const rapidjson::Value& object, const char* name, std::string& out,
                 std::string& error) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd()) {
    error = std::string("missing field \"") + name + "\"";
    return false;
  }
  if (!it->value.IsString()) {
    error = std::string("field \"") + name + "\" must be a string";
    return false;
  }
  out.assign(it->value.GetString(), it->value.GetStringLength());
  if (!valid_utf8(out)) {
    out.clear();  // it ends up in the error message of whoever reports the entry
    error = std::string("field \"") + name + "\" is not valid Unicode text";
    return false;
  }
  return true;
}

}  // namespace

bool from_json(const rapidjson::Value& value, entry& out, std::string& error) {
  if (!value.IsObject()) {
    error = "an entry must be a JSON object";
    return false;
  }
  static constexpr const char* known[] = {"id", "timestamp", "data", "previous_hash",
                                          "hash", "creator_node_id", "signatures"};
  bool seen[std::size(known)] = {};
  for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
    std::string_view name(it->name.GetString(), it->name.GetStringLength());
    const auto at = std::find(std::begin(known), std::end(known), name);
    if (at == std::end(known)) {
      error = valid_utf8(name) ? "unexpected field \"" + std::string(name) + "\""
                               : std::string("a field name is not valid Unicode text");
      return false;
    }
    if (std::exchange(seen[at - std::begin(known)], true)) {
      error = "field \"" + std::string(name) + "\" appears twice";
      return false;
    }
  }
  entry e;
  if (!read_string(value, "id", e.id, error) || !read_string(value, "timestamp", e.timestamp, error) ||
      !read_string(value, "previous_hash", e.previous_hash, error) ||
      !read_string(value, "hash", e.hash, error) ||
      !read_string(value, "creator_node_id", e.creator_node_id, error))
    return false;
  auto data = value.FindMember("data");
  if (data == value.MemberEnd()) {
    error = "missing field \"data\"";
    return false;
  }
  try {
    e.data = canonicalize(data->value);
  } catch (const std::invalid_argument& bad) {
    error = std::string("field \"data\": ") + bad.what();
    return false;
  }
  auto signatures = value.FindMember("signatures");
  if (signatures == value.MemberEnd() || !signatures->value.IsObject()) {
    error = "field \"signatures\" must be an object of node id to signature";
    return false;
  }
  for (auto it = signatures->value.MemberBegin(); it != signatures->value.MemberEnd(); ++it) {
    if (!it->value.IsString()) {
      error = "every signature must be a string";
      return false;
    }
    if (!valid_utf8({it->name.GetString(), it->name.GetStringLength()}) ||
        !valid_utf8({it->value.GetString(), it->value.GetStringLength()})) {
      error = "a signature is not valid Unicode text";
      return false;
    }
    e.signatures.emplace_back(std::string(it->name.GetString(), it->name.GetStringLength()),
                              std::string(it->value.GetString(), it->value.GetStringLength()));
  }
  std::sort(e.signatures.begin(), e.signatures.end());
  for (std::size_t i = 1; i < e.signatures.size(); ++i)
    if (e.signatures[i].first == e.signatures[i - 1].first) {
      error = "two signatures by the same node";
      return false;
    }
  out = std::move(e);
  return true;
}

bool from_json_text(std::string_view json, entry& out, std::string& error) {
  // Canonicalizing the data recurses once per level; validation refuses data deeper than its
  // own limit later, with a reason.
  if (util::json_nested_deeper_than(json, util::max_message_nesting)) {
    error = "nested more than " + std::to_string(util::max_message_nesting) +
            " levels of arrays and objects deep";
    return false;
  }
  if (const char* refusal = util::exact_json_refusal(json)) {
    error = std::string("invalid JSON: ") + refusal;
    return false;
  }
  rapidjson::Document doc;
  if (const auto parsed = util::parse_exact(doc, json); parsed.IsError()) {
    error = "invalid JSON at offset " + std::to_string(parsed.Offset());
    return false;
  }
  return from_json(doc, out, error);
}

}  // namespace gsio::ledger
