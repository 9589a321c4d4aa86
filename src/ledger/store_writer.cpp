#include "ledger/store_writer.hpp"

#include <exception>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace gsio::ledger {

store_writer::store_writer(append_fn append, commit_fn on_commit)
  : append_(std::move(append)), on_commit_(std::move(on_commit)), thread_([this] { run(); }) {}

store_writer::~store_writer() {
  {
    std::lock_guard lock{queue_mutex_};
    stopping_ = true;
  }
  queued_.notify_one();
  thread_.join();
}

void store_writer::enqueue(std::shared_ptr<const batch> entries) {
  {
    std::lock_guard lock{queue_mutex_};
    queue_.push_back(std::move(entries));
  }
  queued_.notify_one();
}

void store_writer::append_now(const std::vector<const entry*>& entries) {
  if (entries.empty())
    return;
  std::lock_guard lock{store_mutex_};
  if (!failure_.empty())
    throw std::runtime_error(failure_);
  try {
    append_(entries);
  } catch (const std::exception& ex) {
    // Batches queued after this one would link to entries that are not on disk: the writer
    // must not commit them either.
    failure_ = *ex.what() ? ex.what() : "the store failed";
    throw;
  }
}

void store_writer::run() {
  std::vector<std::shared_ptr<const batch>> taken;
  std::vector<const entry*> rows;
  for (;;) {
    {
      std::unique_lock lock{queue_mutex_};
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty())
        return;  // stopping, and everything queued is written
      taken.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
    }
    for (const auto& b : taken)
      for (const auto& e : *b)
        rows.push_back(&e);
    std::string error;
    {
      std::lock_guard lock{store_mutex_};
      error = failure_;
      if (error.empty()) {
        try {
          append_(rows);
        } catch (const std::exception& ex) {
          failure_ = error = ex.what();
          if (error.empty())
            failure_ = error = "the store failed";
        }
      }
    }
    const auto batches = taken.size();
    const auto entries = rows.size();
    rows.clear();
    taken.clear();  // the owner may take the entries back once told
    on_commit_(batches, entries, error);
  }
}

}  // namespace gsio::ledger
