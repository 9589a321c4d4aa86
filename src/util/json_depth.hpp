#pragma once
// How deeply arrays and objects nest in a JSON text, counted without parsing it.
//
// Parsers and every walk over a parsed document (serializing, canonicalizing) recurse once per
// level, so a message of a few hundred kilobytes of '[' would exhaust a thread's stack. Text from
// clients and peers is therefore checked against max_message_nesting before it is parsed, which
// bounds every later walk as well; entry data has a lower limit of its own (validation_limits).
#include <algorithm>
#include <cstddef>
#include <string_view>

namespace gsio::util {

// Deeper than any message of the protocols needs: entry data may nest 128 levels
// (ledger::validation_limits), and a P2P envelope adds five around it.
constexpr std::size_t max_message_nesting = 160;

// Calls visit(c) for each character of `json` outside its strings, the quote that opens a string
// included, until visit returns false. Characters inside strings (escaped quotes included) are
// skipped. For gates in front of a parser, which still rejects whatever is not JSON.
template <class Visit>
void for_each_outside_strings(std::string_view json, Visit visit) {
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (!visit(c))
      return;
    in_string = c == '"';
  }
}

// The deepest nesting of '[' and '{' outside strings, counting no further than `limit + 1`.
// Brackets inside strings (escaped quotes included) do not count. Meant as a gate in front of a
// parser, which still rejects whatever is not JSON.
inline std::size_t json_nesting_depth(std::string_view json, std::size_t limit = static_cast<std::size_t>(-2)) {
  std::size_t depth = 0, deepest = 0;
  for_each_outside_strings(json, [&](char c) {
    if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      return deepest <= limit;
    }
    if ((c == ']' || c == '}') && depth > 0)
      --depth;
    return true;
  });
  return deepest;
}

inline bool json_nested_deeper_than(std::string_view json, std::size_t limit) {
  return json_nesting_depth(json, limit) > limit;
}

}  // namespace gsio::util
