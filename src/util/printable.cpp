#include "util/printable.hpp"

#include <cstdio>

namespace gsio::util {

std::string printable(std::string_view text, bool keep_line_breaks) {
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
      if ((byte < 0x20 && !(keep_line_breaks && (byte == '\n' || byte == '\t'))) || byte == 0x7f)
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

}  // namespace gsio::util
