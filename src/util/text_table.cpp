#include "util/text_table.hpp"

#include <algorithm>

#include "util/printable.hpp"

namespace gsio::util {

namespace {

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::size_t code_points(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return !is_continuation(static_cast<unsigned char>(c));
  }));
}

}  // namespace

std::string truncate_utf8(std::string_view text, std::size_t max_chars) {
  if (code_points(text) <= max_chars)
    return std::string{text};
  const std::size_t keep = max_chars > 3 ? max_chars - 3 : 0;
  std::size_t seen = 0;
  std::size_t end = 0;
  while (end < text.size()) {
    if (!is_continuation(static_cast<unsigned char>(text[end]))) {
      if (seen == keep)
        break;
      ++seen;
    }
    ++end;
  }
  return std::string{text.substr(0, end)} + "...";
}

std::string short_id(std::string_view id) {
  if (id.size() > 65 && id[64] == '-')
    return std::string{id.substr(0, 8)} + std::string{id.substr(64)};
  return truncate_utf8(id, 24);
}

std::string short_hex(std::string_view hex) { return std::string{hex.substr(0, 12)}; }

text_table::text_table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void text_table::add_row(std::vector<std::string> cells) {
  // One row per line: a line break inside a cell (a peer's address, say) would forge rows.
  for (auto& cell : cells)
    if (cell.find_first_of("\n\t") != std::string::npos)
      cell = printable(cell, false);
  rows_.push_back(std::move(cells));
}

std::string text_table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size())
      widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], code_points(row[i]));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line.append(widths[i] - code_points(row[i]) + 2, ' ');
    }
    out += line;
    out.push_back('\n');
  }
  return out;
}

}  // namespace gsio::util
