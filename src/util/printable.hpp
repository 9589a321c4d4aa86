#pragma once
// Text from outside (entry data, peer addresses, entry ids, error messages) made safe to show on
// a terminal or write to a log.
#include <string>
#include <string_view>

namespace gsio::util {

// Control characters (C0, DEL, C1), bidirectional overrides and isolates become \uXXXX, and bytes
// that are not UTF-8 become \xNN, so that the text cannot move the cursor, retitle the window,
// reorder what is shown or start a line of its own. With `keep_line_breaks`, newline and tab stay
// (multi-line output); without, they are escaped too (a log line, a table cell). Inside a JSON
// string the \uXXXX form means the same character, so JSON stays valid and equal.
std::string printable(std::string_view text, bool keep_line_breaks);

// printable(text, false) of at most the first `limit` bytes, with "..." when there were more: for
// a log line that quotes what a peer sent.
std::string printable_prefix(std::string_view text, std::size_t limit = 80);

// `text` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD: for text from
// a client that goes back out inside JSON (an error naming what was asked for), since a lone
// surrogate escape ("\udd2e") decodes to bytes that no WebSocket text frame may carry.
std::string valid_utf8_or_replaced(std::string_view text);

}  // namespace gsio::util
