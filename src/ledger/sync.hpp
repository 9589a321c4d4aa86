#pragma once
// The ledger side of node-to-node sync, free of sockets and actors so that the node's actors and
// the deterministic network simulation (tests/unit/simulation_test.cpp) run the same decisions.
//
//   answer_sync     what a node sends for a LedgerSyncRequest
//   sync_planner    when to ask which peer for what (tip comparison, paging, timeouts, stuck peers)
//   reappend_orphans the entries a node must re-append after its own were left off the chain
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/chain_tree.hpp"

namespace gsio::crypto {
class identity;
}

namespace gsio::ledger {

// A LedgerSyncRequest. Without a cursor, the responder finds the common ancestor from the locator
// and answers with everything it attached after it; with a cursor it continues a previous page.
struct sync_request {
  std::vector<std::string> locator;
  std::optional<std::uint64_t> cursor;
  std::size_t limit = 500;
};

struct sync_page {
  std::vector<const entry*> entries;  // in the responder's attach order: parents first
  std::uint64_t next_cursor = 0;      // pass back to continue
  bool more = false;
  std::uint64_t height = 0;           // the responder's tip when it answered
  std::string tip_hash;
};

// Answers with at most `limit` (capped by `max_limit`) entries and about `max_bytes` of data.
// Entries attached after the common ancestor include every branch the responder learned of since,
// so the requester also gets side branches that weigh in fork choice.
sync_page answer_sync(const chain_tree& tree, const sync_request& request,
                      std::size_t max_limit = 1000, std::size_t max_bytes = 512 * 1024);

// For every entry by `self` that fork choice left off the canonical chain (and whose id is not on
// it), a copy with the same id, timestamp and data linked onto the canonical tip, one after the
// other, oldest first. The caller inserts them in order. On a private network an orphan that the
// membership at its new place refuses (its creator or author was removed meanwhile, its invite
// redeemed on the chain that won) is left out, and its reason added to `refused` if given: the
// documented exception to P2 (DESIGN §10).
std::vector<entry> reappend_orphans(const chain_tree& tree, const crypto::identity& self,
                                    std::vector<rejection>* refused = nullptr);

// Decides which peer to pull from. One pull is in flight at a time, so a node that several peers
// announce to fetches what it lacks once, not once per peer.
class sync_planner {
public:
  struct options {
    std::int64_t request_timeout_ms = 10'000;  // a pull without an answer is abandoned
    std::int64_t stuck_after_ms = 6'000;       // tips known to each other yet different this long...
    std::int64_t full_pull_interval_ms = 30'000;  // ...trigger a full pull, at most this often per peer
    std::int64_t peer_expiry_ms = 60'000;      // forget peers silent this long
    // A pull ends after this long even while its pages make progress: a peer that sends one
    // junk entry per page could otherwise hold the one pull a node runs for ever. An honest
    // peer loses nothing: its next announce starts a pull from where this one got.
    std::int64_t max_pull_ms = 60'000;
  };

  struct pull {
    std::string peer;
    std::optional<std::uint64_t> cursor;  // nullopt: send our locator; 0 with `full`: everything
    bool full = false;
  };

  sync_planner();
  explicit sync_planner(options o);

  // Where a peer's announced tip is in our tree.
  enum class tip_relation {
    unknown,   // not in our tree: the peer has entries we lack
    same,      // our tip
    behind,    // on our canonical chain: the peer lags and will pull from us
    diverged,  // in our tree but off our canonical chain: we weigh the branches differently
  };
  static tip_relation relate(const chain_tree& tree, const std::string& tip_hash);

  std::optional<pull> on_announce(const std::string& peer, std::uint64_t height,
                                  const std::string& tip_hash, tip_relation relation,
                                  std::int64_t now);
  // A peer sent an entry whose parent we lack: pull from it (if nothing else is in flight).
  std::optional<pull> on_unknown_parent(const std::string& peer, std::int64_t now);
  // A page of `entries` entries of the pull in flight arrived. Returns the continuation when
  // there is more. A page that says there is more must hold entries and move the cursor past
  // the one asked for, within max_pull_ms of the pull's start; otherwise the pull ends there
  // (counted in pulls_cut), so that a peer cannot hold the one pull this node runs at a time
  // (and the re-appends that wait for it).
  std::optional<pull> on_page(const std::string& peer, bool more, std::uint64_t next_cursor,
                              std::size_t entries, std::int64_t now);
  // Expires a pull that went unanswered and peers that went silent.
  void tick(std::int64_t now);
  // The pull in flight went nowhere (e.g. the link dropped).
  void abandon(const std::string& peer);

  bool busy() const { return in_flight_.has_value(); }
  const std::optional<std::string>& pulling_from() const { return in_flight_peer_; }
  std::uint64_t pulls_started() const { return pulls_started_; }
  std::uint64_t full_pulls() const { return full_pulls_; }
  std::uint64_t pulls_cut() const { return pulls_cut_; }

  // The pull in flight, for operators.
  struct pull_status {
    std::string peer;
    std::int64_t started_ms = 0;       // when the pull's first request went out
    std::int64_t request_sent_ms = 0;  // when the request now awaiting an answer went out
    std::uint64_t pages = 0;           // pages received so far
    bool full = false;
  };
  std::optional<pull_status> in_flight() const;

private:
  struct peer_state {
    std::uint64_t height = 0;
    std::string tip_hash;
    std::int64_t last_seen = 0;
    std::int64_t disagree_since = -1;
    std::int64_t last_full_pull = -1;
  };
  std::optional<pull> start(pull p, std::int64_t now);

  options options_;
  std::map<std::string, peer_state> peers_;
  std::optional<std::int64_t> in_flight_;  // when the current request was sent
  std::optional<std::string> in_flight_peer_;
  std::int64_t pull_started_ = 0;
  std::uint64_t pull_pages_ = 0;
  bool pull_full_ = false;
  std::uint64_t pulls_started_ = 0;
  std::uint64_t full_pulls_ = 0;
  std::uint64_t pulls_cut_ = 0;
  std::optional<std::uint64_t> pull_cursor_;  // of the request in flight (none: by locator)
};

}  // namespace gsio::ledger
