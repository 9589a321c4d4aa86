#pragma once
// Persists batches of entries on a thread of its own, so that the ledger can make and sign the
// next batch while the disk syncs the one before. Every batch queued while a transaction runs
// goes into the next one (group commit across batches); batches become durable in queue order.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ledger/entry.hpp"

namespace gsio::ledger {

class store_writer {
public:
  using batch = std::vector<entry>;
  // Writes the entries in one transaction and returns once they are on disk; throws on failure.
  using append_fn = std::function<void(const std::vector<const entry*>&)>;
  // Called on the writer's thread after each transaction with the number of batches (the oldest
  // queued) and entries it made durable, or with the error that stopped it. After an error every
  // batch, those of that transaction and any queued later, is reported failed with the same error
  // and never written: later batches may link to entries that are not on disk. The writer holds
  // no reference to a reported batch any more.
  using commit_fn =
    std::function<void(std::size_t batches, std::size_t entries, const std::string& error)>;

  store_writer(append_fn append, commit_fn on_commit);
  // Writes every batch still queued, then stops the thread.
  ~store_writer();
  store_writer(const store_writer&) = delete;
  store_writer& operator=(const store_writer&) = delete;

  // Queues a non-empty batch; the entries must stay unchanged until it is reported.
  void enqueue(std::shared_ptr<const batch> entries);

  // Writes on the calling thread, one transaction at a time with the writer's own. Only for
  // entries that depend on no queued batch; throws what `append` throws, or the writer's error
  // once it has stopped. A failure here stops the writer as a failed transaction of its own does.
  void append_now(const std::vector<const entry*>& entries);

private:
  void run();

  append_fn append_;
  commit_fn on_commit_;
  std::mutex store_mutex_;  // the store's connection serves one transaction at a time
  std::string failure_;     // guarded by store_mutex_

  std::mutex queue_mutex_;
  std::condition_variable queued_;
  std::deque<std::shared_ptr<const batch>> queue_;
  bool stopping_ = false;

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace gsio::ledger
