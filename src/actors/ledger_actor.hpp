#pragma once
// The ledger actor owns the chain (fork tree), the durable store and the node identity. It signs
// and appends local entries with group commit, answers queries and publishes changes.
//
// Local adds are pipelined: the actor makes and signs a batch and hands it to a store_writer
// thread, then makes the next batch while that one is synced. A batch joins the tree, is
// published and is acknowledged only once it is on disk, so every query answers from durable
// entries. Merges and re-appends change the tree before they persist, so they wait until no
// local batch is being committed. Adds and merges take effect in the order they arrived (an add
// builds on the chain every earlier merge chose), except that adds held back by the id clock
// (max_id_lead_us) do not hold up merges that came after them.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "crypto/identity.hpp"
#include "ledger/background_verifier.hpp"
#include "ledger/chain_tree.hpp"
#include "ledger/store.hpp"
#include "ledger/store_writer.hpp"
#include "ledger/validation.hpp"
#include "util/prometheus.hpp"

namespace gsio::actors {

// Everything the ledger owns, loaded and verified before the actor starts.
struct ledger_resources {
  // Logs when the store has to be converted to the current schema first (see ledger::store).
  ledger_resources(crypto::identity id, const std::string& data_dir, ledger::validation_limits l);
  crypto::identity self;
  ledger::store store;
  ledger::chain_tree tree;
  ledger::validation_limits limits;
  // Entry ids carry a microsecond that must increase per creator, so above 1,000,000 local adds/s
  // the ids would run ahead of the clock; peers refuse entries more than
  // limits.max_future_skew_ms ahead. Adds wait (unacknowledged) while the next id would lead the
  // clock by more than this. No node signs that fast (about 80k/s per core here), so in practice
  // it only guards against a clock that steps back.
  std::int64_t max_id_lead_us = 60'000'000;
  // When nothing is being committed and nothing else waits in the mailbox, the ledger commits a
  // batch on its own thread, saving two thread hand-offs (latency at low rates). Tests turn it
  // off to put every batch through the store writer.
  bool commit_inline_when_idle = true;
  // Runs before each store transaction, on the thread that writes it (it may throw, which fails
  // the transaction). Unset in a node; tests use it to hold a commit open or to fail the disk.
  std::function<void()> before_commit;

  // What open_ledger left to the background check (store::check::except_signatures): every
  // loaded entry, the canonical chain first, then the other branches. The ledger actor takes it
  // over when it starts.
  ledger::store::check loaded_with = ledger::store::check::full;
  std::vector<const ledger::entry*> unverified;
  std::size_t unverified_canonical = 0;  // the canonical chain's share of `unverified`

  // A stored entry that the background check found bad: the ledger stops, and gsio-node then
  // exits as it does for a store that fails the check at start. Set once, from the ledger actor;
  // read by whoever holds the resources.
  struct corruption {
    std::string entry_id;
    std::string reason;
  };
  void set_corrupt(corruption found);
  std::optional<corruption> corrupt() const;

private:
  mutable std::mutex corrupt_mutex_;
  std::optional<corruption> corrupt_;
};

// Opens the store in `data_dir`, checks every stored entry as `check` says and rebuilds the fork
// tree; with except_signatures, the entries go to `unverified` for the ledger's background check.
// With a `charter` the node serves that private network (DESIGN §10): an empty store starts
// with the charter, and a store holding another chain is refused. Throws ledger::store_corrupt
// (naming the first bad entry) or std::runtime_error.
std::shared_ptr<ledger_resources> open_ledger(const std::string& data_dir,
                                              const ledger::validation_limits& limits,
                                              const std::optional<ledger::entry>& charter = {},
                                              ledger::store::check check = ledger::store::check::full);

// gsio-node --join: redeems a node invite (its JSON) with this node's own key, as the node's
// next entry on its tip, before the actors start. Returns "" or why the invite cannot be used
// (another network, not a node invite, expired, already redeemed on this chain, already a member).
std::string redeem_node_invite(ledger_resources& res, const std::string& invite_json);

// A private network's members at the tip and every change of them along the canonical chain
// (empty on an open network).
members_view members_of(const ledger::chain_tree& tree);

// The data of the canonical entry that admitted `key` as a node ("" when the charter did, or when
// it is no node member): what a relay holding only the charter can check (docs/PROTOCOL.md §8).
// When an admin added after the charter signed it, an array: the statements that made that admin
// one, back to an admin of the charter, oldest first, then the admission.
std::string admission_proof(const ledger::chain_tree& tree, const std::string& key);

// Reads of the canonical chain (ledger_queries.cpp). A page of entries from index `from`: at most
// `limit`, and at most `max_bytes` of JSON unless that would leave the page empty.
entries_page read_page(const ledger::chain_tree& tree, std::uint64_t from, std::uint64_t limit,
                       std::uint64_t max_bytes);
// A history search: walks down from `query.before`, looking at most `query.max_scan` entries.
history_page find_history(const ledger::chain_tree& tree, const history_query& query);

struct ledger_state {
  static inline const char* name = "ledger";

  struct pending_add {
    std::string data;
    caf::typed_response_promise<add_result> promise;
    std::chrono::steady_clock::time_point arrived;  // for the append latency histogram
  };

  // Entries from peers wait here like local adds do, so that every merge request that arrived
  // together shares one transaction (an announce carries one entry).
  struct pending_merge {
    std::vector<std::string> unchecked;  // as received, checked when the merge is flushed
    checked_page checked;
    caf::typed_response_promise<merge_result> promise;
    std::size_t adds_before = 0;  // adds in `pending` that arrived before it: they are made first
  };

  // Local entries made and queued for the disk, with the adds they answer (adds[i] made
  // entries[i]). They join the tree once the store writer reports them durable.
  struct made_batch {
    std::shared_ptr<std::vector<ledger::entry>> entries;
    std::vector<pending_add> adds;
    std::vector<std::string> authors;  // author blocks ("<key>-<time>") among the entries
    // A private network: what admit() said of each entry when it was made, for the tree.
    std::vector<ledger::chain_tree::checked_admission> admissions;
  };

  std::shared_ptr<ledger_resources> res;
  // The background check of what open_ledger loaded without signatures
  // (ledger_resources::unverified). Entries that arrive later are verified before they attach.
  struct start_check_run {
    std::unique_ptr<ledger::background_verifier> verifier;  // while it runs
    std::size_t total = 0;      // entries it checks: every one stored at start
    std::size_t canonical = 0;  // the canonical chain at start, which it checks first
    std::size_t verified = 0;   // of `total`, from the front
    std::string failed;         // the bad entry it found
    std::chrono::steady_clock::time_point started;
    double seconds = 0;         // how long it took, once done
  } start_check;
  std::vector<pending_add> pending;
  bool flush_scheduled = false;
  std::deque<made_batch> committing;  // oldest first, as the writer commits them
  std::string made_tip;               // hash of the newest made entry while committing
  // Private networks: the membership after made_tip, and the author blocks made but not yet in
  // the tree (a client sending one signed block twice gets the second refused before it is
  // stored, as the tree would refuse it after).
  ledger::membership_ptr made_members;
  std::set<std::string> authors_in_flight;
  std::set<std::string> orphans_refused;  // reasons already logged (one per orphan)
  std::vector<pending_merge> pending_merges;
  bool merge_flush_scheduled = false;
  // Work that changes the tree before it persists waits until `committing` is empty.
  bool merges_waiting = false;
  std::vector<caf::typed_response_promise<std::vector<std::string>>> reappends_waiting;
  std::vector<caf::typed_response_promise<tip_info>> drains_waiting;
  std::vector<ledger_listener_actor> listeners;
  // A verification of the canonical chain in progress: entries [0, next) are verified, and
  // `previous` is the hash of entry next - 1 (or genesis), which tells whether a reorg moved the
  // chain under it since the last step.
  struct verify_run {
    std::size_t next = 0;
    std::string previous;
    int restarts = 0;
    std::vector<caf::typed_response_promise<std::string>> waiting;
  };
  std::optional<verify_run> verifying;
  std::int64_t last_unix_us = 0;
  // A write failed, or the background check found a bad entry: the ledger is stopping (nothing
  // more is made).
  bool storage_failed = false;
  // Counters for inspect.
  std::uint64_t appended_local = 0;
  std::uint64_t commits = 0;
  std::uint64_t largest_batch = 0;
  std::uint64_t rejected = 0;
  std::uint64_t merged = 0;           // entries from peers attached
  std::uint64_t merge_rejected = 0;   // entries from peers refused
  std::map<std::string, std::uint64_t> refused_by_reason;  // local and peer, by reject code
  std::uint64_t reappended = 0;
  std::uint64_t reorgs = 0;
  std::uint64_t throttled_flushes = 0;  // flushes cut short by max_id_lead_us
  bool throttling = false;              // for logging the start and end of a throttled spell
  // Seconds from an add's arrival to its durable acknowledgement (accepted adds only).
  util::prometheus::histogram append_latency{{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5, 1}};
  // Entries per group commit of local adds: how well the commit cost is shared.
  util::prometheus::histogram commit_batch{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};
  // Last, so that it is destroyed first: it writes what is still queued before the rest goes.
  std::unique_ptr<ledger::store_writer> writer;
};

ledger_actor::behavior_type ledger(instrumented<ledger_actor, ledger_state> self,
                                   std::shared_ptr<ledger_resources> res);

}  // namespace gsio::actors
