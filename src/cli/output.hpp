#pragma once
// Text output of the gsio tool that the node has no use for.
#include <string>
#include <string_view>

namespace gsio::cli {

// `text` made safe to write to a terminal: control characters other than newline and tab (C0,
// DEL, C1), bidirectional overrides and isolates become \uXXXX, and bytes that are not UTF-8
// become \xNN, so that text from a node or a peer (entry data, addresses, error messages)
// cannot move the cursor, retitle the window or reorder what is shown. Inside a JSON string the
// \uXXXX form means the same character, so JSON output stays valid and equal.
std::string terminal_safe(std::string_view text);

}  // namespace gsio::cli
