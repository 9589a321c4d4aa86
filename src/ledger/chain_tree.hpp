#pragma once
// The fork tree of every valid entry a node knows, and the canonical chain chosen from it.
//
// Fork choice (docs/PROTOCOL.md): starting at the genesis link, at every fork take the child whose
// subtree holds more entries; on a tie take the child with the smaller hash. The result depends only
// on the set of entries, never on the order they arrived in.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/entry.hpp"
#include "ledger/membership.hpp"
#include "ledger/validation.hpp"

namespace gsio::ledger {

class chain_tree {
public:
  enum class status {
    appended,   // attached to the tree (it may or may not be on the canonical chain)
    duplicate,  // an entry with this hash is already known (attached or held)
    held,       // parent unknown: held until the parent arrives
    rejected,   // breaks a rule that needs the tree (duplicate id on its path)
  };

  struct insert_result {
    status outcome = status::rejected;
    std::optional<rejection> why;  // set when rejected
    // Canonical chain changes caused by this insert (including held descendants it released).
    // `removed`: entries that left the canonical chain, in chain order.
    // `added`: entries that joined it, in chain order. Pointers stay valid while the tree lives.
    std::vector<const entry*> removed;
    std::vector<const entry*> added;
    // Every entry attached to the tree by this insert (the entry itself and released held
    // descendants), parents before children: this is what a store must persist.
    std::vector<const entry*> attached;
    bool reorg() const { return !removed.empty(); }
  };

  // Held entries are kept up to these bounds; beyond them the longest held are dropped (a peer
  // can send entries whose parents never come, and they would otherwise stay forever). A dropped
  // entry comes back like any other when a peer sends it again.
  struct held_limits {
    std::size_t max_entries = 100'000;
    std::size_t max_bytes = 128 * 1024 * 1024;  // of entry data and fields
  };

  chain_tree();
  explicit chain_tree(held_limits limits);
  // A tree for the private network whose charter entry has hash `network_id`: every entry must
  // descend from that charter and pass ledger/membership.hpp's admit() at its parent's state.
  // An empty `network_id` is an open network (no membership rules).
  chain_tree(held_limits limits, std::string network_id);
  ~chain_tree();
  chain_tree(chain_tree&&) noexcept;
  chain_tree& operator=(chain_tree&&) noexcept;

  // `e` must already have passed validate(). Amortized O(1) when it extends the canonical tip.
  insert_result insert(entry e);

  // What admit() said of an entry at a given parent state: a node that checked its own entry
  // before storing it (the ledger's local adds) hands it over, so the signatures inside the data
  // (an author's block) are not verified a second time. Used only when the entry's parent in the
  // tree has exactly that state (the same pointer); otherwise the tree checks the entry itself.
  struct checked_admission {
    membership_ptr at_parent;
    admission result;  // without `why`: only admitted entries are handed over
  };
  insert_result insert(entry e, checked_admission checked);

  // Canonical chain.
  std::size_t height() const;                       // number of canonical entries
  const entry* tip() const;                         // nullptr when empty
  std::string_view tip_hash() const;                // genesis_hash when empty
  const entry* at(std::size_t index) const;         // 0 = first entry; nullptr out of range
  std::optional<std::size_t> canonical_index(std::string_view hash) const;
  const entry* find_canonical_by_id(std::string_view id) const;

  // Every attached entry.
  const entry* find(std::string_view hash) const;
  std::size_t size() const;                         // attached entries (all branches)
  std::size_t fork_count() const;                   // entries with more than one child
  std::vector<const entry*> tips() const;           // leaves of the tree

  // A branch that left the canonical chain: the entries from its fork point to one leaf.
  struct side_branch {
    const entry* tip = nullptr;
    std::size_t fork_height = 0;  // canonical entries it shares with the chain
    std::size_t length = 0;       // its entries off the canonical chain
  };
  // Every leaf that is not the canonical tip, longest branch first.
  std::vector<side_branch> side_branches() const;
  // Attached entries that are not on the canonical chain, in attach order.
  std::vector<const entry*> off_chain_entries() const;

  // Attach order: every attached entry has a sequence number (0, 1, 2, ... in the order it was
  // attached; parents always before children). Sync pages walk it.
  std::optional<std::size_t> attach_seq(std::string_view hash) const;
  const entry* attached_at(std::size_t seq) const;  // nullptr out of range

  // Hashes of canonical entries at exponentially growing distances from the tip (tip, tip-1,
  // tip-2, tip-4, ...), ending with the first entry: lets a peer find the common ancestor in one
  // round trip whatever the divergence.
  std::vector<std::string> locator() const;
  // The first hash of `locator` that is on this node's canonical chain.
  const entry* common_ancestor(const std::vector<std::string>& locator) const;

  // An order-independent fingerprint of the set of attached entries (XOR of their hashes): two
  // trees with the same digest and size hold the same entries (up to negligible collisions).
  std::string digest() const;

  // Held entries whose parent is unknown.
  std::size_t held_count() const;
  std::size_t held_bytes() const;
  // Held entries dropped so far: by the limits above, or because the entry they waited for was
  // rejected (they can never attach).
  std::uint64_t held_dropped() const;
  std::vector<std::string> missing_parents() const;
  std::vector<const entry*> held_entries() const;   // by parent hash, then arrival

  // Entries created by `node_id` that are attached but not on the canonical chain, oldest first,
  // excluding those whose id is already on the canonical chain: what the creator must re-append.
  std::vector<const entry*> orphaned_entries_of(std::string_view node_id) const;

  // Largest unix_us of any known entry by `node_id` (-1 if none): new ids must exceed it.
  std::int64_t last_unix_us_of(std::string_view node_id) const;

  // Membership (private networks only; empty / nullptr on an open one).
  const std::string& network_id() const;
  // The membership state after the attached entry `hash`, or nullptr.
  membership_ptr members_after(std::string_view hash) const;
  // The state a new entry on the canonical tip is checked against.
  membership_ptr members_at_tip() const;
  // Canonical indexes, ascending, whose entry changed the membership state (the charter's first):
  // between two of them every entry has the state of the first. Kept as the chain changes.
  const std::vector<std::size_t>& membership_changes() const;
  // Whether an author block with this key and time is already on the path ending at `parent`
  // (a replayed block: the author signed one post, not two).
  bool author_block_on_path(const author_ref& author, std::string_view parent_hash) const;

private:
  insert_result insert_checked(entry e, checked_admission* checked);
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace gsio::ledger
