#pragma once
// Text for people at a terminal: aligned tables, and ids and hashes cut to what a person compares.
// Shared by the gsio tool and the node's debug console.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace gsio::util {

// At most `max_chars` code points of UTF-8 `text`, "..." marking a cut; never splits a character.
std::string truncate_utf8(std::string_view text, std::size_t max_chars);

// "8a88e3dd-1767323045678902" for "<64 hex creator>-<unix_us>"; other ids are truncated.
std::string short_id(std::string_view id);
// The first 12 hex digits of a hash or node id.
std::string short_hex(std::string_view hex);

// Rows of cells printed with columns padded to their widest cell (in code points).
class text_table {
public:
  explicit text_table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  std::string render() const;

private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

}  // namespace gsio::util
