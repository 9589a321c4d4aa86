#include "util/url.hpp"

#include "util/hex.hpp"

namespace gsio::util {

std::optional<std::string> percent_decode(std::string_view text, plus_sign plus) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus == plus_sign::space) {
      out.push_back(' ');
    } else if (c == '%') {
      const int high = i + 2 < text.size() ? hex_digit_value(text[i + 1]) : -1;
      const int low = high >= 0 ? hex_digit_value(text[i + 2]) : -1;
      if (low < 0)
        return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

namespace {

// Calls visit(name, value) for each raw "name=value" pair of the query in `target` until it
// returns true.
template <class Visit>
void for_each_pair(std::string_view target, Visit visit) {
  const auto question = target.find('?');
  std::string_view query = question == std::string_view::npos ? target : target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (visit(pair.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1)))
      return;
  }
}

}  // namespace

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  std::optional<std::string> found;
  for_each_pair(target, [&](std::string_view raw_name, std::string_view raw_value) {
    if (percent_decode(raw_name, plus_sign::space) != name)
      return false;
    found = percent_decode(raw_value, plus_sign::space);
    return true;
  });
  return found;
}

bool has_query_parameter(std::string_view target, std::string_view name) {
  bool found = false;
  for_each_pair(target, [&](std::string_view raw_name, std::string_view) {
    found = percent_decode(raw_name, plus_sign::space) == name;
    return found;
  });
  return found;
}

}  // namespace gsio::util
