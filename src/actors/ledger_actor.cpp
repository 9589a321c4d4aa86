// The ledger actor's behavior (see ledger_actor.hpp for the pipeline it runs).
//
// Over 900 lines, knowingly: local adds, merges, re-appends, the store writer's answers and the
// background check's verdicts are one ordering protocol over one state (the pending queues, the
// batches being committed, the drain waiters, stopping). The functions that move work from one
// queue to the next are kept in one file so that the order in which they run can be read in one
// place. What is not part of that protocol lives beside it: loading (ledger_resources.cpp), the
// read-only answers (ledger_queries.cpp) and the membership answers (ledger_membership.cpp).
#include "actors/ledger_actor.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

#include <caf/all.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "ledger/entry.hpp"
#include "ledger/membership.hpp"
#include "ledger/sync.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace gsio::actors {

checked_page to_checked_page(std::vector<ledger::checked_entry>&& checked) {
  checked_page page;
  page.valid.reserve(checked.size());
  for (auto& c : checked) {
    if (c.why)
      page.refused.push_back(std::move(c.why->reason));
    else
      page.valid.push_back(std::move(c.e));
  }
  return page;
}

namespace {

tip_info make_tip_info(const ledger_resources& res) {
  tip_info info;
  info.node_id = res.self.node_id();
  info.height = res.tree.height();
  info.tip_hash = std::string{res.tree.tip_hash()};
  info.entries = res.tree.size();
  info.forks = res.tree.fork_count();
  info.held = res.tree.held_count();
  return info;
}

// An empty text would read as success in on_committed.
std::string failure_text(const std::exception& ex) {
  std::string text = ex.what();
  return text.empty() ? "the store failed" : text;
}

bool drained(const ledger_state& st) {
  return st.committing.empty() && !st.merges_waiting && st.reappends_waiting.empty()
         && (st.pending.empty() || st.throttling);
}

void answer_drains(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  if (st.drains_waiting.empty() || !drained(st))
    return;
  const auto tip = make_tip_info(*st.res);
  for (auto& promise : std::exchange(st.drains_waiting, {}))
    promise.deliver(tip);
}

void schedule_flush(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  if (st.flush_scheduled || st.pending.empty())
    return;
  // Goes behind every add already in the mailbox: they are made together.
  st.flush_scheduled = true;
  self->send(self, flush_atom::value);
}

void on_committed(instrumented<ledger_actor, ledger_state> self, std::uint64_t batches,
                  std::uint64_t entries, const std::string& error);
void flush_merges(instrumented<ledger_actor, ledger_state> self);

// Makes and signs every pending add whose id fits the clock (see max_id_lead_us) and that arrived
// before any pending merge, each linked to the one before (the newest entry still being
// committed, else the chain's tip), and queues them for the disk as one batch. on_committed
// attaches, publishes and answers them.
void flush(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty() || !st.reappends_waiting.empty())
    return;  // a re-append waits for the pipeline to drain and goes first; it schedules the next flush
  // Adds and merges take effect in the order they arrived, so that an add builds on the chain every
  // merge before it chose: this flush may run before the flush of a merge that came after some of
  // its adds, or before one that came ahead of all of them.
  std::size_t limit = st.pending.size();
  if (!st.pending_merges.empty()) {
    limit = std::min(limit, st.pending_merges.front().adds_before);
    if (limit == 0) {
      if (!st.merges_waiting)
        flush_merges(self);  // now, or once the pipeline drains (merges_waiting)
      if (st.storage_failed || st.merges_waiting)
        return;  // after_drain applies the merges and schedules the next flush
      limit = st.pending.size();
    }
  }
  const bool cut_by_merge = limit < st.pending.size();
  std::vector<ledger_state::pending_add> batch;
  batch.reserve(limit);
  batch.assign(std::make_move_iterator(st.pending.begin()),
               std::make_move_iterator(st.pending.begin() + static_cast<std::ptrdiff_t>(limit)));
  st.pending.erase(st.pending.begin(), st.pending.begin() + static_cast<std::ptrdiff_t>(limit));

  auto& res = *st.res;
  // A merge may have brought back an entry of this node's that the store had lost: new ids must
  // still be above every id of ours the tree knows, or the tree would refuse the made entry after
  // it is on disk.
  st.last_unix_us = std::max(st.last_unix_us, res.tree.last_unix_us_of(res.self.node_id()));
  // Adds whose id would lead the clock too far wait for a later flush (see max_id_lead_us).
  const auto now = util::now_unix_us();
  const auto id_limit = now + res.max_id_lead_us;
  std::size_t fits = batch.size();
  std::int64_t wait_us = 0;
  std::int64_t last = st.last_unix_us;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (ledger::data_over_limits(batch[i].data, res.limits))
      continue;  // refused below; takes no id
    const auto unix_us = std::max(now, last + 1);
    if (unix_us > id_limit) {
      fits = i;
      wait_us = unix_us - id_limit;  // how far the clock must move before this id fits
      break;
    }
    last = unix_us;
  }
  if (fits < batch.size()) {
    st.pending.insert(st.pending.begin(),
                      std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(fits)),
                      std::make_move_iterator(batch.end()));
    batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(fits), batch.end());
    ++st.throttled_flushes;
    if (!st.throttling)
      log::warn("ledger", "local adds outpace the entry id clock (over 1,000,000/s for a while): "
                "holding them so that ids stay within ", res.max_id_lead_us / 1000, " ms of the clock");
    st.throttling = true;
    st.flush_scheduled = true;
    self->delayed_send(self,
                       std::chrono::milliseconds{std::clamp<std::int64_t>(wait_us / 1000, 1, 1000)},
                       flush_atom::value);
  } else if (st.throttling && !cut_by_merge) {  // a batch cut short by a merge says nothing
    st.throttling = false;
    log::info("ledger", "local adds no longer held back by the entry id clock");
  }
  for (auto& merge : st.pending_merges)  // the adds taken here were ahead of them
    merge.adds_before -= std::min(merge.adds_before, batch.size());

  ledger_state::made_batch made;
  made.entries = std::make_shared<std::vector<ledger::entry>>();
  made.entries->reserve(batch.size());
  made.adds.reserve(batch.size());
  std::string link = st.committing.empty() ? std::string{res.tree.tip_hash()} : st.made_tip;
  const bool private_network = !res.tree.network_id().empty();
  ledger::membership_ptr members;
  if (private_network)
    members = st.committing.empty() ? res.tree.members_at_tip() : st.made_members;
  for (auto& add : batch) {
    if (auto why = ledger::data_over_limits(add.data, res.limits)) {
      add.promise.deliver(add_result{{}, std::move(*why)});
      ++st.rejected;
      ++st.refused_by_reason[std::string(ledger::to_string(ledger::reject_code::too_large))];
      continue;
    }
    // Ids must increase strictly per creator, even when the clock stands still or steps back.
    const auto unix_us = std::max(now, st.last_unix_us + 1);
    st.last_unix_us = unix_us;
    auto e = ledger::make_entry(res.self, std::move(add.data), link, unix_us);
    if (private_network) {
      // Refused here, before it is stored: the tree would refuse it once it is on disk.
      auto admitted = ledger::admit(members, e, res.tree.network_id());
      std::string author;
      if (!admitted.why && admitted.author) {
        author = admitted.author->key + "-" + std::to_string(admitted.author->time_us);
        if (st.authors_in_flight.count(author) || res.tree.author_block_on_path(*admitted.author, res.tree.tip_hash()))
          admitted.why = ledger::rejection{ledger::reject_code::bad_author,
                                           "this author block is already on the chain (a replay)"};
      }
      if (admitted.why) {
        ++st.rejected;
        ++st.refused_by_reason[std::string(ledger::to_string(admitted.why->code))];
        if (!members->has_role(res.self.node_id(), ledger::role::node))
          admitted.why->reason = "this node is not a member node of network \"" + members->name +
                                 "\": an admin must admit its key " + res.self.node_id();
        add.promise.deliver(add_result{{}, std::move(admitted.why->reason)});
        continue;
      }
      if (!author.empty()) {
        st.authors_in_flight.insert(author);
        made.authors.push_back(std::move(author));
      }
      auto at_parent = std::exchange(members, admitted.after);
      made.admissions.push_back({std::move(at_parent), std::move(admitted)});
    }
    made.entries->push_back(std::move(e));
    link = made.entries->back().hash;
    made.adds.push_back(std::move(add));
  }
  st.made_members = std::move(members);
  if (made.entries->empty()) {
    answer_drains(self);
    return;
  }
  if (res.commit_inline_when_idle && st.committing.empty() && self->messages_waiting() == 0) {
    // Nothing to do meanwhile: committing here saves the hand-off to the writer's thread and back
    // (tens of microseconds each way), which is most of the latency at low rates.
    std::vector<const ledger::entry*> rows;
    rows.reserve(made.entries->size());
    for (const auto& e : *made.entries)
      rows.push_back(&e);
    st.committing.push_back(std::move(made));
    std::string error;
    try {
      st.writer->append_now(rows);
    } catch (const std::exception& ex) {
      error = failure_text(ex);
    }
    on_committed(self, 1, rows.size(), error);
    return;
  }
  st.made_tip = std::move(link);
  st.writer->enqueue(made.entries);
  st.committing.push_back(std::move(made));
}

// Runs what waited for the pipeline to drain (merges, then re-appends), then lets local adds
// continue.
void after_drain(instrumented<ledger_actor, ledger_state> self);

// Stops the ledger for good, telling everyone waiting `told` rather than leaving them to time out.
void stop_ledger(instrumented<ledger_actor, ledger_state> self, const std::string& told,
                 const std::string& error) {
  auto& st = self->state;
  st.storage_failed = true;
  const add_result failed{{}, told + ": the node is shutting down"};
  for (auto& made : std::exchange(st.committing, {}))
    for (auto& add : made.adds)
      add.promise.deliver(failed);
  for (auto& add : std::exchange(st.pending, {}))
    add.promise.deliver(failed);
  const auto stopped = caf::make_error(caf::sec::runtime_error, told);
  for (auto& merge : std::exchange(st.pending_merges, {}))
    merge.promise.deliver(stopped);
  for (auto& promise : std::exchange(st.reappends_waiting, {}))
    promise.deliver(stopped);
  for (auto& promise : std::exchange(st.drains_waiting, {}))
    promise.deliver(stopped);
  if (st.verifying) {
    for (auto& promise : st.verifying->waiting)
      promise.deliver(stopped);
    st.verifying.reset();
  }
  self->quit(caf::make_error(caf::sec::runtime_error, error));
}

// The store refused a write. Memory may now be ahead of the disk, and whatever was made after the
// failed batch links to entries that are not stored, so the ledger stops instead of acknowledging
// anything more.
void stop_for_storage_failure(instrumented<ledger_actor, ledger_state> self,
                              const std::string& error) {
  if (self->state.storage_failed)
    return;
  log::error("ledger", "cannot persist entries, shutting down: ", error);
  stop_ledger(self, "storage failure", error);
}

// The background check (ledger_state::start_check) reports a chunk verified, or the first stored
// entry that fails. A bad entry stops the ledger as a bad entry at start would have kept it from
// starting: what it served so far is in doubt, and gsio-node exits naming the entry.
void on_start_check(instrumented<ledger_actor, ledger_state> self, std::uint64_t verified,
                    const std::string& bad_entry, const std::string& reason) {
  auto& st = self->state;
  auto& check = st.start_check;
  if (!check.verifier || st.storage_failed)
    return;
  if (!bad_entry.empty()) {
    log::error("ledger", "the background check found a bad stored entry, shutting down: entry ",
               bad_entry, ": ", reason);
    st.res->set_corrupt({bad_entry, reason});
    check.verifier.reset();
    check.failed = bad_entry;
    stop_ledger(self, "the stored ledger is corrupt", "corrupt stored entry " + bad_entry);
    return;
  }
  check.verified = verified;
  if (verified < check.verifier->size())
    return;
  check.verifier.reset();  // its thread has ended: this joins it and frees the list
  check.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - check.started).count();
  log::info("ledger", "background check done: all ", verified, " stored entries verified (hashes, links and "
            "signatures) in ", check.seconds, " s");
}

// The store writer made the oldest `batches` made batches durable (or failed): attaches them to
// the tree, publishes them and answers their adds.
void on_committed(instrumented<ledger_actor, ledger_state> self, std::uint64_t batches,
                  std::uint64_t entries, const std::string& error) {
  auto& st = self->state;
  auto& res = *st.res;
  if (!error.empty()) {
    stop_for_storage_failure(self, error);
    return;
  }
  ++st.commits;
  st.appended_local += entries;
  st.largest_batch = std::max<std::uint64_t>(st.largest_batch, entries);
  st.commit_batch.observe(static_cast<double>(entries));
  // What is acknowledged below is durable, so this is the latency a client sees minus the hops
  // back to it.
  const auto durable = std::chrono::steady_clock::now();

  std::vector<std::string> added_json;
  std::vector<std::pair<caf::typed_response_promise<add_result>, add_result>> replies;
  std::vector<const ledger::entry*> released;  // held entries a made entry was the parent of
  for (std::uint64_t b = 0; b < batches && !st.committing.empty(); ++b) {
    auto made = std::move(st.committing.front());
    st.committing.pop_front();
    for (const auto& author : made.authors)
      st.authors_in_flight.erase(author);
    for (std::size_t i = 0; i < made.entries->size(); ++i) {
      auto& add = made.adds[i];
      auto& e = (*made.entries)[i];
      auto result = made.admissions.empty() ? res.tree.insert(std::move(e))
                                            : res.tree.insert(std::move(e), std::move(made.admissions[i]));
      if (result.outcome != ledger::chain_tree::status::appended) {
        // Made on the tip with a fresh id, so this is a broken invariant, and the entry is
        // already stored: say so loudly rather than acknowledge it.
        auto why = result.why ? result.why->reason : "entry could not be attached";
        log::error("ledger", "a stored local entry was refused by the chain: ", why);
        replies.emplace_back(add.promise, add_result{{}, std::move(why)});
        ++st.rejected;
        continue;
      }
      released.insert(released.end(), result.attached.begin() + 1, result.attached.end());
      const auto first_added = added_json.size();
      for (auto* added : result.added)
        added_json.push_back(ledger::to_json(*added));
      const auto* own = result.attached.front();
      auto reply = !result.added.empty() && result.added.front() == own
                     ? added_json[first_added]
                     : ledger::to_json(*own);
      st.append_latency.observe(std::chrono::duration<double>(durable - add.arrived).count());
      replies.emplace_back(add.promise, add_result{std::move(reply), {}});
    }
  }
  if (!released.empty()) {
    try {
      st.writer->append_now(released);
    } catch (const std::exception& ex) {
      for (auto& [promise, reply] : replies)
        promise.deliver(std::move(reply));  // their own entries are on disk
      on_committed(self, 0, 0, failure_text(ex));
      return;
    }
  }
  if (!added_json.empty()) {
    auto tip = make_tip_info(res);
    for (auto& listener : st.listeners)
      self->send(listener, appended_atom::value, added_json, tip);
  }
  for (auto& [promise, reply] : replies)
    promise.deliver(std::move(reply));
  if (st.committing.empty())
    after_drain(self);
  answer_drains(self);
}

// Tells every listener how the canonical chain changed with a batch of inserts, as one event:
// clients see the net change (e.g. one branch switch), not every intermediate step of a page.
void publish(instrumented<ledger_actor, ledger_state> self,
             const std::vector<ledger::chain_tree::insert_result>& results) {
  // Fold the per-insert diffs into one diff against the chain before the batch. Each insert's
  // `removed` is a suffix of the chain as it was then: first it cancels entries this batch added,
  // then it removes entries that predate the batch (which come before those already removed).
  std::vector<const ledger::entry*> removed;
  std::vector<const ledger::entry*> added;
  for (const auto& result : results) {
    std::size_t cancel = std::min(result.removed.size(), added.size());
    added.resize(added.size() - cancel);
    removed.insert(removed.begin(), result.removed.begin(),
                   result.removed.end() - static_cast<std::ptrdiff_t>(cancel));
    added.insert(added.end(), result.added.begin(), result.added.end());
  }
  if (added.empty() && removed.empty())
    return;
  auto& st = self->state;
  auto tip = make_tip_info(*st.res);
  std::vector<std::string> added_json;
  added_json.reserve(added.size());
  for (auto* e : added)
    added_json.push_back(ledger::to_json(*e));
  if (removed.empty()) {
    for (auto& listener : st.listeners)
      self->send(listener, appended_atom::value, added_json, tip);
    return;
  }
  ++st.reorgs;
  reorg_event ev;
  ev.fork_height = tip.height - added.size();
  for (auto* e : removed)
    ev.removed_ids.push_back(e->id);
  ev.added = std::move(added_json);
  ev.tip_hash = tip.tip_hash;
  ev.height = tip.height;
  log::info("ledger", "reorg at height ", ev.fork_height, ": ", ev.removed_ids.size(),
            " entries left the chain, ", ev.added.size(), " joined");
  for (auto& listener : st.listeners)
    self->send(listener, reorg_atom::value, ev);
}

// Persists entries just attached (nothing is being committed: see ledger_actor.hpp); on failure
// the ledger stops (stop_for_storage_failure).
bool persist(instrumented<ledger_actor, ledger_state> self,
             const std::vector<const ledger::entry*>& attached) {
  if (attached.empty())
    return true;
  try {
    self->state.writer->append_now(attached);
    ++self->state.commits;
    return true;
  } catch (const std::exception& ex) {
    stop_for_storage_failure(self, failure_text(ex));
    return false;
  }
}

// Validates and attaches the entries of every pending merge request, persists all of them in one
// transaction, publishes the net change once and answers each request.
void flush_merges(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  st.merge_flush_scheduled = false;
  if (!st.committing.empty()) {
    st.merges_waiting = true;  // after_drain runs it
    return;
  }
  auto batch = std::move(st.pending_merges);
  st.pending_merges.clear();
  if (batch.empty())
    return;
  auto& res = *st.res;

  // Entries that arrived unchecked are checked for the whole batch at once, over the cores, before
  // any tree write. Exact copies of entries the tree already has skip the checks (they count as
  // duplicates below); an altered copy is checked and refused.
  std::vector<const std::string*> unchecked;
  for (auto& request : batch)
    for (auto& json : request.unchecked)
      unchecked.push_back(&json);
  if (!unchecked.empty()) {
    auto is_known = [&](const ledger::entry& e) {
      const auto* known = res.tree.find(e.hash);
      return known && *known == e;
    };
    auto checked = ledger::check_entries(unchecked, res.limits, util::since_unix_epoch(), is_known);
    auto next = checked.begin();
    for (auto& request : batch) {
      if (request.unchecked.empty())
        continue;  // checked by the entry verifier
      const auto count = static_cast<std::ptrdiff_t>(request.unchecked.size());
      request.checked = to_checked_page(
        {std::make_move_iterator(next), std::make_move_iterator(next + count)});
      next += count;
    }
  }

  std::vector<merge_result> outcomes(batch.size());
  std::vector<ledger::chain_tree::insert_result> results;
  std::vector<const ledger::entry*> attached;
  auto refuse = [&](merge_result& out, const std::string& reason) {
    ++out.rejected;
    ++st.merge_rejected;
    log::warn("ledger", "rejected an entry from a peer: ", reason);
    if (out.rejections.size() < 8)
      out.rejections.push_back(reason);
  };
  for (std::size_t r = 0; r < batch.size(); ++r) {
    auto& out = outcomes[r];
    auto& page = batch[r].checked;
    for (const auto& reason : page.refused)
      refuse(out, reason);
    for (auto& e : page.valid) {
      auto result = res.tree.insert(std::move(e));
      switch (result.outcome) {
        case ledger::chain_tree::status::appended:
          out.appended += result.attached.size();
          attached.insert(attached.end(), result.attached.begin(), result.attached.end());
          out.reorg |= result.reorg();
          results.push_back(std::move(result));
          break;
        case ledger::chain_tree::status::duplicate: ++out.duplicates; break;
        case ledger::chain_tree::status::held: ++out.held; break;
        case ledger::chain_tree::status::rejected:
          if (result.why)
            ++st.refused_by_reason[std::string(ledger::to_string(result.why->code))];
          refuse(out, result.why ? result.why->reason : "rejected");
          break;
      }
    }
  }
  if (!persist(self, attached)) {
    for (auto& request : batch)
      request.promise.deliver(caf::make_error(caf::sec::runtime_error, "storage failure"));
    return;
  }
  st.merged += attached.size();
  publish(self, results);
  const auto tip = make_tip_info(res);
  for (std::size_t r = 0; r < batch.size(); ++r) {
    outcomes[r].tip = tip;
    batch[r].promise.deliver(std::move(outcomes[r]));
  }
}

caf::typed_response_promise<merge_result> queue_merge(instrumented<ledger_actor, ledger_state> self,
                                                       std::vector<std::string> unchecked,
                                                       checked_page checked) {
  auto& st = self->state;
  auto promise = self->make_response_promise<merge_result>();
  st.pending_merges.push_back({std::move(unchecked), std::move(checked), promise, st.pending.size()});
  if (!st.merge_flush_scheduled) {
    // Goes behind every merge already in the mailbox: they all share one commit.
    st.merge_flush_scheduled = true;
    self->send(self, merge_flush_atom::value);
  }
  return promise;
}

std::vector<std::string> reappend(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  auto& res = *st.res;
  std::vector<std::string> out;
  std::vector<ledger::rejection> refused;
  auto fresh = ledger::reappend_orphans(res.tree, res.self, &refused);
  // An orphan the membership refuses stays an orphan and is refused again at every re-append:
  // said once.
  for (auto& why : refused)
    if (st.orphans_refused.insert(why.reason).second) {
      ++st.refused_by_reason[std::string(ledger::to_string(why.code))];
      log::warn("ledger", "an orphaned entry of this node cannot be re-appended (DESIGN §10): ", why.reason);
    }
  if (fresh.empty())
    return out;
  std::vector<ledger::chain_tree::insert_result> results;
  std::vector<const ledger::entry*> attached;
  for (auto& e : fresh) {
    auto result = res.tree.insert(std::move(e));
    if (result.outcome != ledger::chain_tree::status::appended)
      continue;
    attached.insert(attached.end(), result.attached.begin(), result.attached.end());
    out.push_back(ledger::to_json(*result.attached.front()));
    results.push_back(std::move(result));
  }
  if (!persist(self, attached))
    return {};
  st.reappended += out.size();
  log::info("ledger", "re-appended ", out.size(), " of this node's orphaned entries on the tip");
  publish(self, results);
  return out;
}

void answer_reappend(instrumented<ledger_actor, ledger_state> self,
                     caf::typed_response_promise<std::vector<std::string>>& promise) {
  auto out = reappend(self);
  if (self->state.storage_failed)
    promise.deliver(caf::make_error(caf::sec::runtime_error, "storage failure"));
  else
    promise.deliver(std::move(out));
}

caf::typed_response_promise<std::vector<std::string>>
queue_reappend(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  auto promise = self->make_response_promise<std::vector<std::string>>();
  if (st.committing.empty())
    answer_reappend(self, promise);
  else
    st.reappends_waiting.push_back(promise);  // after_drain answers it
  return promise;
}

void after_drain(instrumented<ledger_actor, ledger_state> self) {
  auto& st = self->state;
  if (st.merges_waiting) {
    st.merges_waiting = false;
    flush_merges(self);
  }
  for (auto& promise : std::exchange(st.reappends_waiting, {})) {
    if (st.storage_failed)
      promise.deliver(caf::make_error(caf::sec::runtime_error, "storage failure"));
    else
      answer_reappend(self, promise);
  }
  if (!st.storage_failed)
    schedule_flush(self);
}

histogram_counts counts_of(const util::prometheus::histogram& h) {
  return {h.upper_bounds(), h.bucket_counts(), h.sum()};
}

// How many entries from the start of the canonical chain are verified in full: all of them
// unless the background check runs, which verifies the chain as it was at start first. Entries
// that attached since were verified on arrival, but one above an unverified one is not counted.
std::size_t verified_height(const ledger_state& st) {
  const auto& tree = st.res->tree;
  const auto& check = st.start_check;
  if (!check.verifier)
    return check.failed.empty() ? tree.height() : 0;
  const auto& checked = check.verifier->entries();
  std::size_t k = std::min({check.verified, check.canonical, tree.height()});
  // A reorg since the start replaced the chain above its fork point.
  while (k > 0 && tree.at(k - 1) != checked[k - 1])
    --k;
  return k;
}

ledger_stats stats_of(const ledger_state& st) {
  const auto& res = *st.res;
  ledger_stats s;
  s.node_id = res.self.node_id();
  s.height = res.tree.height();
  s.tip_hash = std::string{res.tree.tip_hash()};
  s.entries = res.tree.size();
  s.forks = res.tree.fork_count();
  s.held = res.tree.held_count();
  s.held_bytes = res.tree.held_bytes();
  s.held_dropped = res.tree.held_dropped();
  s.store = res.store.path().string();
  s.pending_adds = st.pending.size();
  s.verified_height = verified_height(st);
  s.start_check = res.loaded_with == ledger::store::check::full ? "full" : "background";
  s.start_check_running = st.start_check.verifier != nullptr;
  s.start_check_verified = st.start_check.verified;
  s.start_check_total = st.start_check.total;
  s.start_check_seconds = st.start_check.seconds;
  if (st.verifying) {
    s.verifying = true;
    s.verified = st.verifying->next;
    s.verify_waiting = st.verifying->waiting.size();
  }
  for (const auto& made : st.committing)
    s.committing_entries += made.entries->size();
  s.appended_local = st.appended_local;
  s.commits = st.commits;
  s.largest_batch = st.largest_batch;
  s.rejected = st.rejected;
  s.merged = st.merged;
  s.merge_rejected = st.merge_rejected;
  s.refused_by_reason = st.refused_by_reason;
  if (auto members = st.res->tree.members_at_tip()) {
    s.network_id = members->network_id;
    s.network_name = members->name;
    s.members = members->members.size();
    if (const auto* self_member = members->find(st.res->self.node_id()))
      s.self_role = std::string(ledger::to_string(self_member->r));
  }
  s.reappended = st.reappended;
  s.reorgs = st.reorgs;
  s.id_lead_us = st.last_unix_us - util::now_unix_us();
  s.throttled_flushes = st.throttled_flushes;
  s.listeners = st.listeners.size();
  s.max_data_bytes = res.limits.max_data_bytes;
  s.append_latency_seconds = counts_of(st.append_latency);
  s.commit_batch_entries = counts_of(st.commit_batch);
  return s;
}

// One step of a verification (ledger_state::verify_run): a few thousand entries, checked on all
// cores, so that a long chain does not hold up adds and merges for seconds.
void verify_step(instrumented<ledger_actor, ledger_state> self) {
  constexpr std::size_t entries_per_step = 4096;
  constexpr int max_restarts = 8;
  auto& st = self->state;
  if (!st.verifying)
    return;
  auto& run = *st.verifying;
  const auto& tree = st.res->tree;
  auto finish = [&](const std::string& verdict) {
    for (auto& promise : run.waiting)
      promise.deliver(verdict);
    st.verifying.reset();
  };
  if (run.next > tree.height() || (run.next > 0 && tree.at(run.next - 1)->hash != run.previous)) {
    // A reorg replaced entries already verified: start again on the chain as it is now.
    if (++run.restarts > max_restarts)
      return finish("the chain changed too often while it was being verified; ask again");
    run.next = 0;
    run.previous = ledger::genesis_hash;
  }
  const auto begin = run.next;
  const auto end = std::min<std::size_t>(tree.height(), begin + entries_per_step);
  std::vector<std::optional<ledger::rejection>> problems(end - begin);
  ledger::validate_batched(end - begin, [&](std::size_t i, const ledger::signature_check& check) {
    problems[i] = ledger::validate_integrity(*tree.at(begin + i), check);
  });
  for (auto i = begin; i < end; ++i) {
    const auto* e = tree.at(i);
    if (e->previous_hash != run.previous)
      return finish("entry " + e->id + " does not link to the entry before it");
    if (problems[i - begin])
      return finish(problems[i - begin]->reason);
    run.previous = e->hash;
  }
  run.next = end;
  if (end == tree.height())
    return finish({});
  self->send(self, verify_step_atom::value);  // behind what arrived meanwhile
}

}  // namespace

ledger_actor::behavior_type ledger(instrumented<ledger_actor, ledger_state> self,
                                   std::shared_ptr<ledger_resources> res) {
  auto& st = self->state;
  st.res = std::move(res);
  st.last_unix_us = st.res->tree.last_unix_us_of(st.res->self.node_id());
  // The writer thread reports through the mailbox, and only while the actor is alive (the state
  // owns the writer: a strong handle would keep the actor from ever being destroyed).
  caf::weak_actor_ptr weak_self{self->ctrl()};
  st.writer = std::make_unique<ledger::store_writer>(
    [res = st.res](const std::vector<const ledger::entry*>& entries) {
      if (res->before_commit)
        res->before_commit();
      res->store.append(entries);
    },
    [weak_self](std::size_t batches, std::size_t entries, const std::string& error) {
      if (auto strong = weak_self.lock())
        caf::anon_send(caf::actor_cast<ledger_actor>(strong), committed_atom::value,
                       static_cast<std::uint64_t>(batches), static_cast<std::uint64_t>(entries),
                       error);
    });
  if (!st.res->unverified.empty()) {
    auto& check = st.start_check;
    check.total = st.res->unverified.size();
    check.canonical = st.res->unverified_canonical;
    check.started = std::chrono::steady_clock::now();
    auto report = [weak_self](std::uint64_t verified, const std::string& bad, const std::string& why) {
      if (auto strong = weak_self.lock())
        caf::anon_send(caf::actor_cast<ledger_actor>(strong), verified_atom::value, verified, bad, why);
    };
    check.verifier = std::make_unique<ledger::background_verifier>(
      std::exchange(st.res->unverified, {}),
      [report](std::size_t verified) { report(verified, {}, {}); },
      [report](const std::optional<ledger::background_verifier::failure>& bad) {
        if (bad)
          report(0, bad->entry_id, bad->reason);
      });
  }
  return {
    [=](add_atom, std::string& data) -> caf::typed_response_promise<add_result> {
      auto& st = self->state;
      auto promise = self->make_response_promise<add_result>();
      st.pending.push_back({std::move(data), promise, std::chrono::steady_clock::now()});
      schedule_flush(self);
      return promise;
    },
    [=](flush_atom) { flush(self); },
    [=](committed_atom, std::uint64_t batches, std::uint64_t entries, const std::string& error) {
      on_committed(self, batches, entries, error);
    },
    [=](verified_atom, std::uint64_t verified, const std::string& bad, const std::string& why) {
      on_start_check(self, verified, bad, why);
    },
    [=](drain_atom) -> caf::typed_response_promise<tip_info> {
      auto& st = self->state;
      auto promise = self->make_response_promise<tip_info>();
      st.drains_waiting.push_back(promise);
      if (!st.throttling)  // held adds stay pending; their delayed flush is already scheduled
        flush(self);
      answer_drains(self);  // or on_committed does, once what was made is on disk
      return promise;
    },
    [=](get_atom, members_atom) { return members_of(self->state.res->tree); },
    [=](get_atom, role_atom, const std::string& key) {
      const auto members = self->state.res->tree.members_at_tip();
      const auto* m = members ? members->find(key) : nullptr;
      return m ? std::string(ledger::to_string(m->r)) : std::string{};
    },
    [=](check_atom, members_atom, const std::string& key, const std::string& proof) {
      const auto members = self->state.res->tree.members_at_tip();
      if (!members)
        return std::string{};
      auto why = ledger::check_node_reader(*members, key, proof, util::now_unix_us());
      if (why)
        ++self->state.refused_by_reason["not_member"];
      return why.value_or(std::string{});
    },
    [=](refused_atom, const std::string& reason) { ++self->state.refused_by_reason[reason]; },
    [=](get_atom, std::uint64_t from, std::uint64_t limit, std::uint64_t max_bytes) {
      return read_page(self->state.res->tree, from, limit, max_bytes);
    },
    [=](get_atom, entry_atom, const std::string& id) -> std::string {
      auto* e = self->state.res->tree.find_canonical_by_id(id);
      return e ? ledger::to_json(*e) : std::string{};
    },
    [=](find_atom, const history_query& query) { return find_history(self->state.res->tree, query); },
    [=](tip_atom) { return make_tip_info(*self->state.res); },
    [=](verify_atom) -> caf::typed_response_promise<std::string> {
      auto& st = self->state;
      auto promise = self->make_response_promise<std::string>();
      if (st.verifying) {
        st.verifying->waiting.push_back(promise);  // shares the run in progress
        return promise;
      }
      st.verifying.emplace();
      st.verifying->previous = ledger::genesis_hash;
      st.verifying->waiting.push_back(promise);
      verify_step(self);
      return promise;
    },
    [=](verify_step_atom) { verify_step(self); },
    [=](subscribe_atom, ledger_listener_actor& listener) {
      self->state.listeners.push_back(std::move(listener));
    },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, to_json(stats_of(self->state))); },
    [=](stats_atom) { return stats_of(self->state); },
    [=](merge_atom, std::vector<std::string>& entries) {
      return queue_merge(self, std::move(entries), {});
    },
    [=](merge_atom, checked_page& page) { return queue_merge(self, {}, std::move(page)); },
    [=](merge_flush_atom) {
      flush_merges(self);
      // Adds that arrived after these merges may be waiting for them (flush made only the ones
      // before), and no other flush may be on its way.
      if (!self->state.storage_failed)
        schedule_flush(self);
    },
    [=](sync_atom, const sync_query& query) {
      auto& tree = self->state.res->tree;
      ledger::sync_request request;
      request.locator = query.locator;
      if (query.has_cursor)
        request.cursor = query.cursor;
      request.limit = static_cast<std::size_t>(std::min<std::uint64_t>(query.limit, 1000));
      auto page = ledger::answer_sync(tree, request);
      sync_answer answer;
      answer.entries.reserve(page.entries.size());
      for (auto* e : page.entries)
        answer.entries.push_back(ledger::to_json(*e));
      answer.next_cursor = page.next_cursor;
      answer.more = page.more;
      answer.height = page.height;
      answer.tip_hash = std::move(page.tip_hash);
      return answer;
    },
    [=](get_atom, sync_atom) { return self->state.res->tree.locator(); },
    [=](get_atom, missing_atom) { return self->state.res->tree.missing_parents(); },
    [=](get_atom, hashes_atom, const std::vector<std::string>& hashes) {
      std::vector<std::string> out;
      for (const auto& hash : hashes)
        if (auto* e = self->state.res->tree.find(hash))
          out.push_back(ledger::to_json(*e));
      return out;
    },
    [=](reappend_atom) { return queue_reappend(self); },
    [=](get_atom, forks_atom, std::uint64_t limit) {
      const auto branches = self->state.res->tree.side_branches();  // longest first
      std::vector<branch_info> out;
      for (std::size_t i = 0; i < branches.size() && i < limit; ++i)
        out.push_back({branches[i].tip->hash, branches[i].tip->id, branches[i].fork_height,
                       branches[i].length});
      return caf::make_result(std::move(out), std::uint64_t{branches.size()});
    },
    [=](get_atom, orphans_atom, std::uint64_t limit) {
      auto& tree = self->state.res->tree;
      // The newest `limit` of `entries`, as JSON.
      auto newest = [limit](const std::vector<const ledger::entry*>& entries) {
        std::vector<std::string> out;
        const auto skip = entries.size() > limit ? entries.size() - limit : 0;
        for (auto i = skip; i < entries.size(); ++i)
          out.push_back(ledger::to_json(*entries[i]));
        return out;
      };
      orphan_report report;
      const auto off_chain = tree.off_chain_entries();
      report.off_chain_total = off_chain.size();
      report.off_chain = newest(off_chain);
      const auto held = tree.held_entries();
      report.held_total = held.size();
      report.held = newest(held);
      report.missing_parents = tree.missing_parents();
      return report;
    },
    [=](relate_atom, const std::string& tip_hash) {
      return static_cast<std::uint8_t>(ledger::sync_planner::relate(self->state.res->tree, tip_hash));
    },
  };
}

}  // namespace gsio::actors
