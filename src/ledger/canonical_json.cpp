#include "ledger/canonical_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <rapidjson/error/en.h>

#include "util/json_depth.hpp"
#include "util/json_parse.hpp"

namespace gsio::ledger {

namespace {

// Splits a finite, non-zero, positive double into its shortest round-trip decimal digits and the
// ECMAScript exponent n, so that value = 0.d1d2...dk × 10^n.
void shortest_digits(double value, std::string& digits, int& n) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  if (ec != std::errc{})
    throw std::runtime_error("number formatting failed");
  // Form: d[.ddd]e(+|-)XX
  const char* p = buf;
  digits.clear();
  for (; p != end && *p != 'e'; ++p)
    if (*p != '.')
      digits.push_back(*p);
  int exponent = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), end, exponent);
  n = exponent + 1;
}

void append_unicode_escape(unsigned code, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out += "\\u00";
  out.push_back(hex[(code >> 4) & 0xF]);
  out.push_back(hex[code & 0xF]);
}

// UTF-16 code units of a valid UTF-8 string: RFC 8785 sorts member names by them.
std::u16string to_utf16(std::string_view utf8) {
  std::u16string units;
  units.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    auto byte = static_cast<unsigned char>(utf8[i]);
    std::uint32_t cp;
    int extra;
    if (byte < 0x80) { cp = byte; extra = 0; }
    else if ((byte & 0xE0) == 0xC0) { cp = byte & 0x1F; extra = 1; }
    else if ((byte & 0xF0) == 0xE0) { cp = byte & 0x0F; extra = 2; }
    else { cp = byte & 0x07; extra = 3; }
    ++i;
    for (int k = 0; k < extra && i < utf8.size(); ++k, ++i)
      cp = (cp << 6) | (static_cast<unsigned char>(utf8[i]) & 0x3F);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      units.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      units.push_back(static_cast<char16_t>(cp));
    }
  }
  return units;
}

// Whether `text` is UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates (U+D800 to
// U+DFFF), nothing above U+10FFFF. A parser that validates its input still lets "\udc00" through
// as the bytes ED B0 80: a lone surrogate escape decodes to no character at all.
bool utf8_ok(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t cp, min;
    if (byte >= 0xC2 && byte <= 0xDF) { length = 2; cp = byte & 0x1F; min = 0x80; }
    else if (byte >= 0xE0 && byte <= 0xEF) { length = 3; cp = byte & 0x0F; min = 0x800; }
    else if (byte >= 0xF0 && byte <= 0xF4) { length = 4; cp = byte & 0x07; min = 0x10000; }
    else return false;
    if (i + length > text.size())
      return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80)
        return false;
      cp = cp << 6 | (next & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

struct duplicate_member : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

void append_checked_string(std::string_view text, std::string& out) {
  if (!utf8_ok(text))
    throw std::invalid_argument("a string is not valid Unicode text (a lone surrogate such as "
                                "\\udc00, or bytes that are not UTF-8)");
  append_canonical_string(text, out);
}

void append_value(const rapidjson::Value& value, std::string& out, bool reject_duplicates) {
  switch (value.GetType()) {
    case rapidjson::kNullType: out += "null"; return;
    case rapidjson::kFalseType: out += "false"; return;
    case rapidjson::kTrueType: out += "true"; return;
    case rapidjson::kNumberType: append_canonical_number(value.GetDouble(), out); return;
    case rapidjson::kStringType:
      append_checked_string({value.GetString(), value.GetStringLength()}, out);
      return;
    case rapidjson::kArrayType: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.GetArray()) {
        if (!first)
          out.push_back(',');
        first = false;
        append_value(element, out, reject_duplicates);
      }
      out.push_back(']');
      return;
    }
    case rapidjson::kObjectType: {
      struct keyed {
        std::u16string key;
        rapidjson::Value::ConstMemberIterator member;
      };
      std::vector<keyed> members;
      members.reserve(value.MemberCount());
      for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it)
        members.push_back({to_utf16({it->name.GetString(), it->name.GetStringLength()}), it});
      // Stable, so that equal names (refused below, but not by append_canonical's callers of
      // old) could never come out in a different order from one run to the next.
      std::stable_sort(members.begin(), members.end(),
                       [](const keyed& a, const keyed& b) { return a.key < b.key; });
      out.push_back('{');
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) {
          if (reject_duplicates && members[i].key == members[i - 1].key)
            throw duplicate_member(std::string(members[i].member->name.GetString(),
                                               members[i].member->name.GetStringLength()));
          out.push_back(',');
        }
        const auto& name = members[i].member->name;
        append_checked_string({name.GetString(), name.GetStringLength()}, out);
        out.push_back(':');
        append_value(members[i].member->value, out, reject_duplicates);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

bool valid_utf8(std::string_view text) { return utf8_ok(text); }

void append_canonical_number(double value, std::string& out) {
  if (!std::isfinite(value))
    throw std::invalid_argument("JSON cannot represent NaN or Infinity");
  if (value == 0) {  // both +0 and -0
    out.push_back('0');
    return;
  }
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  std::string digits;
  int n = 0;
  shortest_digits(value, digits, n);
  const int k = static_cast<int>(digits.size());
  // ECMAScript Number::toString, steps 6-10.
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
}

void append_canonical_string(std::string_view utf8, std::string& out) {
  out.push_back('"');
  // Most strings (hex hashes, ids, timestamps) need no escape: copy runs, not characters.
  std::size_t run = 0;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    out.append(utf8.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: append_unicode_escape(c, out);
    }
  }
  out.append(utf8.data() + run, utf8.size() - run);
  out.push_back('"');
}

void append_canonical(const rapidjson::Value& value, std::string& out) {
  try {
    append_value(value, out, true);
  } catch (const duplicate_member& dup) {
    throw std::invalid_argument(std::string("duplicate member name \"") + dup.what() + "\"");
  }
}

std::string canonicalize(const rapidjson::Value& value) {
  std::string out;
  append_canonical(value, out);
  return out;
}

bool canonicalize_text(std::string_view json, std::string& out, std::string& error) {
  if (util::json_nested_deeper_than(json, util::max_message_nesting)) {
    error = "invalid JSON: nested more than " + std::to_string(util::max_message_nesting) +
            " levels of arrays and objects deep";
    return false;
  }
  if (const char* refusal = util::exact_json_refusal(json)) {
    error = std::string("invalid JSON: ") + refusal;
    return false;
  }
  rapidjson::Document doc;
  if (const auto parsed = util::parse_exact(doc, json); parsed.IsError()) {
    error = std::string("invalid JSON at offset ") + std::to_string(parsed.Offset()) + ": " +
            rapidjson::GetParseError_En(parsed.Code());
    return false;
  }
  std::string result;
  try {
    append_value(doc, result, true);
  } catch (const duplicate_member& dup) {
    error = std::string("invalid JSON: duplicate member name \"") + dup.what() + "\"";
    return false;
  } catch (const std::invalid_argument& bad) {
    error = std::string("invalid JSON: ") + bad.what();
    return false;
  }
  out = std::move(result);
  return true;
}

}  // namespace gsio::ledger
