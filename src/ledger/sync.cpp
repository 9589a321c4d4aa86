#include "ledger/sync.hpp"

#include <algorithm>

#include "crypto/identity.hpp"

namespace gsio::ledger {

sync_page answer_sync(const chain_tree& tree, const sync_request& request, std::size_t max_limit,
                      std::size_t max_bytes) {
  sync_page page;
  page.height = tree.height();
  page.tip_hash = std::string(tree.tip_hash());
  std::size_t start = 0;
  if (request.cursor) {
    start = static_cast<std::size_t>(std::min<std::uint64_t>(*request.cursor, tree.size()));
  } else if (const entry* ancestor = tree.common_ancestor(request.locator)) {
    start = *tree.attach_seq(ancestor->hash) + 1;
  }
  const std::size_t limit = std::clamp<std::size_t>(request.limit, 1, max_limit);
  std::size_t bytes = 0;
  std::size_t seq = start;
  // Always send at least one entry, so a page can never stall on one large entry.
  for (; seq < tree.size() && page.entries.size() < limit; ++seq) {
    const entry* e = tree.attached_at(seq);
    bytes += e->data.size() + 512;
    if (!page.entries.empty() && bytes > max_bytes)
      break;
    page.entries.push_back(e);
  }
  page.next_cursor = seq;
  page.more = seq < tree.size();
  return page;
}

std::vector<entry> reappend_orphans(const chain_tree& tree, const crypto::identity& self,
                                    std::vector<rejection>* refused) {
  std::vector<entry> out;
  std::string parent(tree.tip_hash());
  membership_ptr members = tree.members_at_tip();
  const bool private_network = !tree.network_id().empty();
  for (const entry* orphan : tree.orphaned_entries_of(self.node_id())) {
    entry moved = relink(*orphan, self, parent);
    if (private_network) {
      admission admitted = admit(members, moved, tree.network_id());
      // A replayed author block is what the tree also refuses; the re-append itself never
      // repeats one, since its original left the chain.
      if (!admitted.why && admitted.author && tree.author_block_on_path(*admitted.author, parent))
        admitted.why = rejection{reject_code::bad_author, "entry " + moved.id + ": its author block is already on the chain"};
      if (admitted.why) {
        if (refused)
          refused->push_back(std::move(*admitted.why));
        continue;
      }
      members = std::move(admitted.after);
    }
    out.push_back(std::move(moved));
    parent = out.back().hash;
  }
  return out;
}

sync_planner::sync_planner() : sync_planner(options{}) {}

sync_planner::sync_planner(options o) : options_(o) {}

std::optional<sync_planner::pull> sync_planner::start(pull p, std::int64_t now) {
  in_flight_ = now;
  in_flight_peer_ = p.peer;
  pull_started_ = now;
  pull_pages_ = 0;
  pull_full_ = p.full;
  pull_cursor_ = p.cursor;
  ++pulls_started_;
  if (p.full)
    ++full_pulls_;
  return p;
}

std::optional<sync_planner::pull_status> sync_planner::in_flight() const {
  if (!in_flight_ || !in_flight_peer_)
    return std::nullopt;
  return pull_status{*in_flight_peer_, pull_started_, *in_flight_, pull_pages_, pull_full_};
}

sync_planner::tip_relation sync_planner::relate(const chain_tree& tree,
                                                const std::string& tip_hash) {
  if (tip_hash == tree.tip_hash())
    return tip_relation::same;
  if (tip_hash == genesis_hash || tree.canonical_index(tip_hash))
    return tip_relation::behind;
  return tree.find(tip_hash) ? tip_relation::diverged : tip_relation::unknown;
}

std::optional<sync_planner::pull> sync_planner::on_announce(const std::string& peer,
                                                            std::uint64_t height,
                                                            const std::string& tip_hash,
                                                            tip_relation relation,
                                                            std::int64_t now) {
  auto& state = peers_[peer];
  state.height = height;
  state.tip_hash = tip_hash;
  state.last_seen = now;
  if (relation != tip_relation::diverged)
    state.disagree_since = -1;
  else if (state.disagree_since < 0)
    state.disagree_since = now;
  if (busy())
    return std::nullopt;
  if (relation == tip_relation::unknown)
    return start({peer, std::nullopt, false}, now);
  if (relation != tip_relation::diverged)
    return std::nullopt;
  // We hold the peer's tip yet choose another branch: one of us lacks side branches that weigh
  // in fork choice. New entries or the peer's own pull usually settle it; if the disagreement
  // lasts, fetch everything the peer has.
  const bool stuck = now - state.disagree_since >= options_.stuck_after_ms;
  const bool allowed = state.last_full_pull < 0 ||
                       now - state.last_full_pull >= options_.full_pull_interval_ms;
  if (stuck && allowed) {
    state.last_full_pull = now;
    return start({peer, std::uint64_t{0}, true}, now);
  }
  return std::nullopt;
}

std::optional<sync_planner::pull> sync_planner::on_unknown_parent(const std::string& peer,
                                                                  std::int64_t now) {
  if (busy())
    return std::nullopt;
  peers_[peer].last_seen = now;
  return start({peer, std::nullopt, false}, now);
}

std::optional<sync_planner::pull> sync_planner::on_page(const std::string& peer, bool more,
                                                        std::uint64_t next_cursor,
                                                        std::size_t entries, std::int64_t now) {
  if (!in_flight_peer_ || *in_flight_peer_ != peer)
    return std::nullopt;  // a late answer to an abandoned pull: its entries still count
  ++pull_pages_;
  const bool progress = entries > 0 && (!pull_cursor_ || next_cursor > *pull_cursor_) &&
                        now - pull_started_ < options_.max_pull_ms;
  if (more && !progress)
    ++pulls_cut_;
  else if (more) {
    in_flight_ = now;
    pull_cursor_ = next_cursor;
    return pull{peer, next_cursor, false};
  }
  in_flight_.reset();
  in_flight_peer_.reset();
  return std::nullopt;
}

void sync_planner::tick(std::int64_t now) {
  if (in_flight_ && now - *in_flight_ >= options_.request_timeout_ms) {
    in_flight_.reset();
    in_flight_peer_.reset();
  }
  std::erase_if(peers_, [&](const auto& item) {
    return now - item.second.last_seen >= options_.peer_expiry_ms;
  });
}

void sync_planner::abandon(const std::string& peer) {
  if (in_flight_peer_ && *in_flight_peer_ == peer) {
    in_flight_.reset();
    in_flight_peer_.reset();
  }
}

}  // namespace gsio::ledger
