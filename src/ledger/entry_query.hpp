#pragma once
// Which entries a history search (the client API's find_entries, docs/PROTOCOL.md §2) matches.
// Pure: the ledger actor walks the canonical chain and asks matches() of each entry.
#include <cstdint>
#include <string>

#include "ledger/entry.hpp"

namespace gsio::ledger {

// Every field set must match; an empty query matches every entry. Text comparisons ignore ASCII
// case only (no Unicode case folding: a node and a browser would fold differently).
struct entry_query {
  std::string author;         // the creator's node id, exactly; "" for anyone
  std::string nickname;       // a substring of the data's string field "nickname"
  std::string text;           // a substring of the entry's text (see text_of)
  std::int64_t from_us = -1;  // bounds on the id's microsecond, inclusive; -1 for none
  std::int64_t to_us = -1;

  bool needs_data() const { return !nickname.empty() || !text.empty(); }
};

// The text a search looks in: the data itself when it is a string; else its first string field
// of "text", "note" and "message"; else the data's canonical JSON.
std::string text_of(const entry& e);

bool matches(const entry& e, const entry_query& query);

// ASCII-case-insensitive substring test (an empty needle is found everywhere).
bool contains_ignoring_ascii_case(std::string_view haystack, std::string_view needle);

}  // namespace gsio::ledger
