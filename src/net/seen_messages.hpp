#pragma once
// Duplicate suppression for P2P envelopes (docs/PROTOCOL.md §7, Envelope).
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace gsio::net {

// Remembers recently seen messages (bounded), so a message that reaches this node over several
// links, or twice over one, is handled once. A message is known by its sender and id together:
// by id alone, a peer that sent another node's next ids first would have that node's messages
// dropped as duplicates everywhere.
class seen_messages {
public:
  explicit seen_messages(std::size_t capacity = 16384) : capacity_(capacity) {}
  // True the first time (`sender_id`, `message_id`) is offered.
  bool first_time(std::string_view sender_id, std::string_view message_id);

private:
  std::size_t capacity_;
  std::unordered_set<std::string> ids_;
  std::deque<std::string> order_;
};

}  // namespace gsio::net
