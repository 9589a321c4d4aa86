#include "ledger/entry_query.hpp"

#include <algorithm>
#include <optional>

#include <rapidjson/document.h>

namespace gsio::ledger {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Canonical JSON (RFC 8785) escapes only '"', '\' and control characters: a needle without them
// is written in the JSON text exactly as in the value, so its absence from the text proves its
// absence from every string in it, without parsing.
bool written_verbatim(std::string_view needle) {
  return std::none_of(needle.begin(), needle.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
}

std::optional<std::string> string_field(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString())
    return std::nullopt;
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

std::string text_of(const entry& e, const rapidjson::Document& data) {
  if (data.IsString())
    return {data.GetString(), data.GetStringLength()};
  if (data.IsObject())
    for (const char* name : {"text", "note", "message"})
      if (auto value = string_field(data, name))
        return std::move(*value);
  return e.data;
}

}  // namespace

bool contains_ignoring_ascii_case(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return lower(a) == lower(b); });
  return it != haystack.end() || needle.empty();
}

std::string text_of(const entry& e) {
  rapidjson::Document data;
  data.Parse(e.data.data(), e.data.size());
  return data.HasParseError() ? e.data : text_of(e, data);
}

bool matches(const entry& e, const entry_query& query) {
  if (!query.author.empty() && e.creator_node_id != query.author)
    return false;
  if (query.from_us >= 0 || query.to_us >= 0) {
    const auto us = e.unix_us();
    if ((query.from_us >= 0 && us < query.from_us) || (query.to_us >= 0 && us > query.to_us))
      return false;
  }
  if (!query.needs_data())
    return true;
  for (const auto* needle : {&query.nickname, &query.text})
    if (!needle->empty() && written_verbatim(*needle) && !contains_ignoring_ascii_case(e.data, *needle))
      return false;
  rapidjson::Document data;
  data.Parse(e.data.data(), e.data.size());
  if (data.HasParseError())
    return false;  // validated entries always parse
  if (!query.nickname.empty()) {
    auto nickname = data.IsObject() ? string_field(data, "nickname") : std::nullopt;
    if (!nickname || !contains_ignoring_ascii_case(*nickname, query.nickname))
      return false;
  }
  return query.text.empty() || contains_ignoring_ascii_case(text_of(e, data), query.text);
}

}  // namespace gsio::ledger
