#pragma once
// Text output of the gsio tool: JSON printing, aligned tables and shortened ids and hashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace gsio::cli {

// Parses JSON strictly (UTF-8 validated, full-precision numbers). False with `error` on failure.
bool parse_json(std::string_view text, rapidjson::Document& doc, std::string& error);

// JSON text of `value`: indented by two spaces when `pretty`, else on one line. Member order is
// kept; numbers are written as RFC 8785 / ECMAScript does (the form the ledger hashes), so what
// is printed is exactly what was stored.
std::string to_json_text(const rapidjson::Value& value, bool pretty);

// `text` made safe to write to a terminal: control characters other than newline and tab (C0,
// DEL, C1), bidirectional overrides and isolates become \uXXXX, and bytes that are not UTF-8
// become \xNN, so that text from a node or a peer (entry data, addresses, error messages)
// cannot move the cursor, retitle the window or reorder what is shown. Inside a JSON string the
// \uXXXX form means the same character, so JSON output stays valid and equal.
std::string terminal_safe(std::string_view text);

// At most `max_chars` code points of UTF-8 `text`, "..." marking a cut; never splits a character.
std::string truncate_utf8(std::string_view text, std::size_t max_chars);

// "8a88e3dd-1767323045679" for "<64 hex creator>-<unix_ms>"; other ids are truncated.
std::string short_id(std::string_view id);
// The first 12 hex digits of a hash or node id.
std::string short_hex(std::string_view hex);

// Rows of cells printed with columns padded to their widest cell (in code points).
class table {
public:
  explicit table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  std::string render() const;

private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace gsio::cli
