#include "util/printable.hpp"

#include <cstdio>

namespace gsio::util {
namespace {

// The length of the well-formed UTF-8 sequence at text[i] (a byte >= 0x80), with its code point
// in `cp`; 0 when there is none: a stray byte, a cut sequence, an overlong form, a surrogate or a
// value past U+10FFFF.
std::size_t utf8_sequence(std::string_view text, std::size_t i, unsigned& cp) {
  const auto byte = static_cast<unsigned char>(text[i]);
  const std::size_t length = byte >= 0xc2 && byte <= 0xdf ? 2
                             : byte >= 0xe0 && byte <= 0xef ? 3
                             : byte >= 0xf0 && byte <= 0xf4 ? 4
                                                            : 0;
  cp = length == 2 ? byte & 0x1f : length == 3 ? byte & 0x0f : byte & 0x07;
  bool valid = length != 0 && i + length <= text.size();
  for (std::size_t k = 1; valid && k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    valid = (next & 0xc0) == 0x80;
    cp = cp << 6 | (next & 0x3f);
  }
  valid = valid && !(length == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
          !(length == 4 && (cp < 0x10000 || cp > 0x10ffff));
  return valid ? length : 0;
}

}  // namespace

std::string valid_utf8_or_replaced(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    unsigned cp;
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      out += text[i++];
    } else if (const auto length = utf8_sequence(text, i, cp)) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    }
  }
  return out;
}

std::string printable_prefix(std::string_view text, std::size_t limit) {
  std::string out = printable(text.substr(0, limit), false);
  if (text.size() > limit)
    out += "...";
  return out;
}

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
    unsigned cp;
    const std::size_t length = utf8_sequence(text, i, cp);
    if (length == 0) {
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
