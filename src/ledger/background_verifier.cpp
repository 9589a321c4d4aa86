#include "ledger/background_verifier.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

#include "ledger/validation.hpp"

namespace gsio::ledger {

background_verifier::background_verifier(std::vector<const entry*> entries, progress_fn progress,
                                         done_fn done, std::size_t chunk)
  : entries_(std::move(entries)), progress_(std::move(progress)), done_(std::move(done)),
    chunk_(std::max<std::size_t>(1, chunk)), thread_([this] { run(); }) {}

background_verifier::~background_verifier() {
  stopping_ = true;
  thread_.join();
}

void background_verifier::run() {
  // Linux gives each thread its own nice value, and threads inherit it: the helpers that
  // validate_batched starts from here run at this priority too. If lowering it fails the check
  // still runs, only at normal priority.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
  std::vector<std::optional<rejection>> problems;
  for (std::size_t begin = 0; begin < entries_.size(); begin += chunk_) {
    if (stopping_)
      return;
    const std::size_t end = std::min(entries_.size(), begin + chunk_);
    problems.assign(end - begin, std::nullopt);
    // At nice 19 on a busy machine a chunk can take seconds of wall time: a verifier being
    // destroyed (the node stopping) skips the rest of it rather than hold up the shutdown.
    validate_batched(end - begin, [&](std::size_t i, const signature_check& check) {
      if (!stopping_.load(std::memory_order_relaxed))
        problems[i] = validate_integrity(*entries_[begin + i], check);
    });
    if (stopping_)
      return;
    for (std::size_t i = 0; i < problems.size(); ++i)
      if (problems[i]) {
        done_(failure{entries_[begin + i]->id, problems[i]->reason});
        return;
      }
    progress_(end);
  }
  done_(std::nullopt);
}

}  // namespace gsio::ledger
