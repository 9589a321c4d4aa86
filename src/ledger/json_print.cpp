#include "ledger/json_print.hpp"

#include <cmath>

#include "ledger/canonical_json.hpp"
#include "util/json_depth.hpp"
#include "util/json_parse.hpp"

namespace gsio::ledger {

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
      append_canonical_string({v.GetString(), v.GetStringLength()}, out);
      return;
    case rapidjson::kNumberType:
      if (v.IsInt64())
        out += std::to_string(v.GetInt64());
      else if (v.IsUint64())
        out += std::to_string(v.GetUint64());
      else if (std::isfinite(v.GetDouble()))
        append_canonical_number(v.GetDouble(), out);
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
        append_canonical_string({m.name.GetString(), m.name.GetStringLength()}, out);
        out += pretty ? ": " : ":";
        write_json(m.value, pretty, depth + 1, out);
      }
      newline(depth);
      out.push_back('}');
      return;
    }
  }
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

}  // namespace gsio::ledger
