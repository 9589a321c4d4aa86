#include "cli/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "ledger/canonical_json.hpp"
#include "util/json_depth.hpp"
#include "util/json_parse.hpp"
#include "util/printable.hpp"

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

std::string terminal_safe(std::string_view text) { return util::printable(text, true); }

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

void table::add_row(std::vector<std::string> cells) {
  // One row per line: a line break inside a cell (a peer's address, say) would forge rows.
  for (auto& cell : cells)
    if (cell.find_first_of("\n\t") != std::string::npos)
      cell = util::printable(cell, false);
  rows_.push_back(std::move(cells));
}

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
