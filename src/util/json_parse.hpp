#pragma once
// How text that may carry ledger entries is parsed.
//
// A node passes entries on as JSON it re-serializes (P2P payloads, the --peer link's events). An
// entry's hash covers the canonical form of its data, so every number must come out of the parse
// as exactly the double its text denotes: rapidjson's default parse rounds some long decimals
// twice (9.899999999999999 becomes 9.9), and the entry would reach the next node with data that
// no longer matches its hash. rapidjson's own exact mode (kParseFullPrecisionFlag) is no way out:
// it reads outside a table for "0." and 350 zeros, and shifts by negative amounts for numbers
// such as 1111...119E305 (both found by tests/fuzz), so parse_exact takes each number's text from
// rapidjson and converts it with std::from_chars, which rounds correctly. The writer prints a
// double in a form that reads back as the same double, so a rewrite is exact.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include "util/json_depth.hpp"

namespace gsio::util {

// rapidjson takes a NUL byte for the end of the text, so "[1]\0junk" would parse as [1]: one
// message, two readings, and bytes a relay forwards that a node never looked at. JSON text never
// holds a raw NUL (a string must escape it as \u0000), so text that does is refused unparsed.
inline bool holds_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// The longest number literal that is parsed. No encoder writes a double in more than 25
// characters; 100 leave room for integers written in full (Python writes 10**99 as 100 digits),
// and keep hundreds of digits, which nobody means, away from the number conversion.
inline constexpr std::size_t max_number_chars = 100;

// Whether a number literal outside the strings of `json` is longer than max_number_chars.
inline bool json_has_long_number(std::string_view json) {
  std::size_t run = 0;  // characters that can belong to a number, in a row
  bool long_number = false;
  for_each_outside_strings(json, [&](char c) {
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')
      long_number = ++run > max_number_chars;
    else
      run = 0;
    return !long_number;
  });
  return long_number;
}

// Why `json` must not reach parse_exact, or nullptr when it may.
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

namespace detail {

// Forwards a reader's events to `out`, converting each number from its text (rapidjson's
// kParseNumbersAsStringsFlag): integers that fit 64 bits stay integers, as rapidjson keeps them,
// anything else becomes the correctly rounded double. A number beyond the double range stops
// the parse.
template <class Handler>
struct exact_numbers {
  Handler& out;
  bool too_big = false;

  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    const char* end = text + length;
    if (std::none_of(text, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; })) {
      if (*text == '-') {
        std::int64_t value;
        if (auto r = std::from_chars(text, end, value); r.ec == std::errc{} && r.ptr == end)
          return out.Int64(value);
      } else {
        std::uint64_t value;
        if (auto r = std::from_chars(text, end, value); r.ec == std::errc{} && r.ptr == end)
          return out.Uint64(value);
      }
    }
    double value = 0;
    const auto r = std::from_chars(text, end, value);
    if (r.ec == std::errc::result_out_of_range) {
      // Above the largest double, or below the smallest: strtod says which, and gives the
      // nearest subnormal or zero for the latter, as the number's text denotes.
      value = std::strtod(std::string(text, length).c_str(), nullptr);
    } else if (r.ec != std::errc{} || r.ptr != end) {
      return false;  // cannot happen for text the reader took as a JSON number
    }
    if (!std::isfinite(value)) {
      too_big = true;
      return false;
    }
    return out.Double(value);
  }
  bool Null() { return out.Null(); }
  bool Bool(bool b) { return out.Bool(b); }
  bool Int(int i) { return out.Int(i); }
  bool Uint(unsigned u) { return out.Uint(u); }
  bool Int64(std::int64_t i) { return out.Int64(i); }
  bool Uint64(std::uint64_t u) { return out.Uint64(u); }
  bool Double(double d) { return out.Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return out.String(s, n, copy); }
  bool StartObject() { return out.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return out.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType members) { return out.EndObject(members); }
  bool StartArray() { return out.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return out.EndArray(elements); }
};

}  // namespace detail

// Parses `json` into `doc` (strict RFC 8259, UTF-8 checked, iterative) with exact numbers (see
// the top of this file). Returns rapidjson's result: kParseErrorNumberTooBig for a number beyond
// the double range. Callers gate the text with exact_json_refusal first.
inline rapidjson::ParseResult parse_exact(rapidjson::Document& doc, std::string_view json) {
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& handler) {
    detail::exact_numbers<rapidjson::Document> numbers{handler};
    // Straight from memory: rapidjson's EncodedInputStream skips the bytes of a byte order mark
    // one by one, so "\xEF[1]" would pass as [1].
    rapidjson::MemoryStream input(json.data(), json.size());
    rapidjson::Reader reader;
    constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                               rapidjson::kParseNumbersAsStringsFlag;
    result = reader.Parse<flags>(input, numbers);
    if (numbers.too_big)
      result.Set(rapidjson::kParseErrorNumberTooBig, result.Offset());
    return !result.IsError();
  };
  doc.SetNull();
  doc.Populate(generate);
  return result;
}

}  // namespace gsio::util
