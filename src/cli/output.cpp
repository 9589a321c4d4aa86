#include "cli/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ledger/canonical_json.hpp"
#include "util/json_depth.hpp"
#include "util/json_parse.hpp"

namespace gsio::cli {

namespace {

void write_json(const rapidjson::Value& v, bool pretty, int depth, std::string& out) {
  auto newline = [&](int level) {
    if (!pretty)
      return;
    out.push_back('\n');
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  switch (v.GetType()) {
    case rapidjson::kNullType: out += "null"; return;
    case rapidjson::kFalseType: out += "false"; return;
    case rapidjson::kTrueType: out += "true"; return;
    case rapidjson::kStringType:
      ledger::append_canonical_string({v.GetString(), v.GetStringLength()}, out);
      return;
    case rapidjson::kNumberType:
      if (v.IsInt64())
        out += std::to_string(v.GetInt64());
      else if (v.IsUint64())
        out += std::to_string(v.GetUint64());
      else if (std::isfinite(v.GetDouble()))
        ledger::append_canonical_number(v.GetDouble(), out);
      else
        out += "null";  // unreachable for parsed JSON, but never throw while printing
      return;
    case rapidjson::kArrayType: {
      if (v.Empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      bool first = true;
      for (const auto& item : v.GetArray()) {
        if (!first)
          out.push_back(',');
        first = false;
        newline(depth + 1);
        write_json(item, pretty, depth + 1, out);
      }
      newline(depth);
      out.push_back(']');
      return;
    }
    case rapidjson::kObjectType: {
      if (v.MemberCount() == 0) {
        out += "{}";
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& m : v.GetObject()) {
        if (!first)
          out.push_back(',');
        first = false;
        newline(depth + 1);
        ledger::append_canonical_string({m.name.GetString(), m.name.GetStringLength()}, out);
        out += pretty ? ": " : ":";
        write_json(m.value, pretty, depth + 1, out);
      }
      newline(depth);
      out.push_back('}');
      return;
    }
  }
}

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return !is_continuation(static_cast<unsigned char>(c));
  }));
}

}  // namespace

bool parse_json(std::string_view text, rapidjson::Document& doc, std::string& error) {
  // What is parsed here is printed and canonicalized afterwards, both recursively: a file of
  // nested brackets must be refused, not overflow the stack.
  if (util::json_nested_deeper_than(text, util::max_message_nesting)) {
    error = "JSON nested deeper than " + std::to_string(util::max_message_nesting) + " levels";
    return false;
  }
  if (const char* refusal = util::exact_json_refusal(text)) {
    error = std::string("invalid JSON: ") + refusal;
    return false;
  }
  if (const auto parsed = util::parse_exact(doc, text); parsed.IsError()) {
    error = "invalid JSON at offset " + std::to_string(parsed.Offset());
    return false;
  }
  return true;
}

std::string to_json_text(const rapidjson::Value& value, bool pretty) {
  std::string out;
  write_json(value, pretty, 0, out);
  return out;
}

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  char escape[8];
  auto code_point_escape = [&](unsigned cp) {
    std::snprintf(escape, sizeof escape, "\\u%04x", cp);
    out += escape;
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if ((byte < 0x20 && byte != '\n' && byte != '\t') || byte == 0x7f)
        code_point_escape(byte);
      else
        out += static_cast<char>(byte);
      ++i;
      continue;
    }
    // The length of a well-formed UTF-8 sequence starting here, or 0.
    const std::size_t length = byte >= 0xc2 && byte <= 0xdf ? 2
                               : byte >= 0xe0 && byte <= 0xef ? 3
                               : byte >= 0xf0 && byte <= 0xf4 ? 4
                                                              : 0;
    unsigned cp = length == 2 ? byte & 0x1f : length == 3 ? byte & 0x0f : byte & 0x07;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      cp = cp << 6 | (next & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
    valid = valid && !(length == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
            !(length == 4 && (cp < 0x10000 || cp > 0x10ffff));
    if (!valid) {
      std::snprintf(escape, sizeof escape, "\\x%02x", byte);
      out += escape;
      ++i;
      continue;
    }
    const bool control = cp >= 0x80 && cp <= 0x9f;
    const bool bidi = (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
                      cp == 0x200e || cp == 0x200f || cp == 0x061c;
    if (control || bidi)
      code_point_escape(cp);
    else
      out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max_chars) {
  if (code_points(text) <= max_chars)
    return std::string{text};
  const std::size_t keep = max_chars > 3 ? max_chars - 3 : 0;
  std::size_t seen = 0;
  std::size_t end = 0;
  while (end < text.size()) {
    if (!is_continuation(static_cast<unsigned char>(text[end]))) {
      if (seen == keep)
        break;
      ++seen;
    }
    ++end;
  }
  return std::string{text.substr(0, end)} + "...";
}

std::string short_id(std::string_view id) {
  if (id.size() > 65 && id[64] == '-')
    return std::string{id.substr(0, 8)} + std::string{id.substr(64)};
  return truncate_utf8(id, 24);
}

std::string short_hex(std::string_view hex) { return std::string{hex.substr(0, 12)}; }

table::table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void table::add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

std::string table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size())
      widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], code_points(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line.append(widths[i] - code_points(row[i]) + 2, ' ');
    }
    out += line;
    out.push_back('\n');
  }
  return out;
}

}  // namespace gsio::cli
