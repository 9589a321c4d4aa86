// Read-only answers about the canonical chain, for client sessions: pages and history searches.
// Apart from ledger_actor.cpp because none of it takes part in the add/merge ordering.
#include <algorithm>

#include "actors/ledger_actor.hpp"
#include "ledger/entry_query.hpp"

namespace gsio::actors {

entries_page read_page(const ledger::chain_tree& tree, std::uint64_t from, std::uint64_t limit,
                       std::uint64_t max_bytes) {
  entries_page page;
  page.from = from;
  page.height = tree.height();
  // Written so that no client-chosen `from` or `limit` can overflow.
  const std::uint64_t end = from < page.height ? from + std::min(limit, page.height - from) : from;
  page.entries.reserve(end - from);
  std::size_t bytes = 0;
  for (auto i = from; i < end; ++i) {
    auto json = ledger::to_json(*tree.at(i));
    bytes += json.size();
    if (bytes > max_bytes && !page.entries.empty()) {  // a page holds at least one entry
      page.complete = false;
      break;
    }
    page.entries.push_back(std::move(json));
  }
  return page;
}

history_page find_history(const ledger::chain_tree& tree, const history_query& query) {
  history_page page;
  page.height = tree.height();
  std::uint64_t next = std::min<std::uint64_t>(query.before, page.height);
  std::size_t bytes = 0;
  while (next > 0 && page.scanned < query.max_scan && page.entries.size() < query.limit) {
    const auto* e = tree.at(next - 1);
    if (ledger::matches(*e, query.query)) {
      auto json = ledger::to_json(*e);
      if (bytes + json.size() > query.max_bytes && !page.entries.empty())
        break;  // `next` still points at it: the next search starts with it
      bytes += json.size();
      page.entries.push_back(std::move(json));
      page.heights.push_back(next - 1);
    }
    --next;
    ++page.scanned;
  }
  page.next = next;
  return page;
}

}  // namespace gsio::actors
