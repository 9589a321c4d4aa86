#include "net/seen_messages.hpp"

namespace gsio::net {

bool seen_messages::first_time(std::string_view sender_id, std::string_view message_id) {
  // The sender's length first, so that no other pair of strings makes the same key.
  std::string id = std::to_string(sender_id.size());
  id.append(1, ':').append(sender_id).append(message_id);
  if (!ids_.insert(id).second)
    return false;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

}  // namespace gsio::net
