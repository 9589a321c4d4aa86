#pragma once
// How text that may carry ledger entries is parsed before it is written out again.
//
// A node passes entries on as JSON it re-serializes (P2P payloads, the --peer link's events). An
// entry's hash covers the canonical form of its data, so every number must come out of the parse
// as exactly the double its text denotes: rapidjson's default parse rounds some long decimals
// twice (9.899999999999999 becomes 9.9), and the entry would reach the next node with data that
// no longer matches its hash. Full precision makes the rewrite exact, since the writer prints a
// double in a form that reads back as the same double.
#include <cstddef>
#include <string_view>

#include <rapidjson/reader.h>

namespace gsio::util {

// Exact numbers, UTF-8 checked, and no recursion in the parser itself.
inline constexpr unsigned exact_json_parse_flags = rapidjson::kParseIterativeFlag |
                                                   rapidjson::kParseFullPrecisionFlag |
                                                   rapidjson::kParseValidateEncodingFlag;

// rapidjson takes a NUL byte for the end of the text, so "[1]\0junk" would parse as [1]: one
// message, two readings, and bytes a relay forwards that a node never looked at. JSON text never
// holds a raw NUL (a string must escape it as \u0000), so text that does is refused unparsed.
inline bool holds_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// The longest number literal that is parsed. rapidjson 1.1's exact parser reads outside one of
// its tables for a fraction of some 350 zero digits (0.000...0), and rounds beyond 780 digits.
// No encoder writes a double in more than 25 characters; 100 leave room for integers written in
// full (Python writes 10**99 as 100 digits).
inline constexpr std::size_t max_number_chars = 100;

// Whether a number literal outside the strings of `json` is longer than max_number_chars.
inline bool json_has_long_number(std::string_view json) {
  bool in_string = false;
  std::size_t run = 0;  // characters that can belong to a number, in a row
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E') {
      if (++run > max_number_chars)
        return true;
    } else {
      run = 0;
      in_string = c == '"';
    }
  }
  return false;
}

// Why `json` must not reach rapidjson with exact_json_parse_flags, or nullptr when it may.
inline const char* exact_json_refusal(std::string_view json) {
  if (holds_nul(json))
    return "a NUL byte (in a string it must be written \\u0000)";
  if (json_has_long_number(json))
    return "a number written with more than 100 characters";
  return nullptr;
}

// Whether a string in `json` escapes one half of a surrogate pair alone ("\udc00"). JSON's
// grammar allows it, but it names no character: it decodes to bytes that are not UTF-8, and a
// message written out again from it is invalid text, which the next WebSocket peer closes the
// connection for. Meant as a gate in front of a parser, like json_nested_deeper_than.
inline bool json_has_lone_surrogate(std::string_view json) {
  // The code unit escaped at `at` ("\uXXXX"), or -1 when there is no such escape there.
  auto unit_at = [json](std::size_t at) -> long {
    if (at + 6 > json.size() || json[at] != '\\' || json[at + 1] != 'u')
      return -1;
    long unit = 0;
    for (std::size_t k = at + 2; k < at + 6; ++k) {
      const char c = json[k];
      const int digit = c >= '0' && c <= '9' ? c - '0'
                        : c >= 'a' && c <= 'f' ? c - 'a' + 10
                        : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                               : -1;
      if (digit < 0)
        return -1;
      unit = unit * 16 + digit;
    }
    return unit;
  };
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      in_string = !in_string;
      continue;
    }
    if (!in_string || c != '\\')
      continue;
    const long unit = unit_at(i);
    if (unit < 0) {
      ++i;  // another escape: its character cannot end the string
      continue;
    }
    i += 5;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
      return true;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const long low = unit_at(i + 1);
      if (low < 0xDC00 || low > 0xDFFF)
        return true;
      i += 6;
    }
  }
  return false;
}

}  // namespace gsio::util
