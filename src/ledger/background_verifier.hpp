#pragma once
// Finishes the check of a ledger loaded without its signatures (store::check::except_signatures,
// gsio-node --verify-on-start background): verifies every loaded entry again in full (shape,
// hash, every signature) on threads of the lowest CPU priority, so that a node serves within
// seconds whatever its history length while the check that used to hold up its start runs
// behind the work it does.
#include <atomic>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/entry.hpp"

namespace gsio::ledger {

class background_verifier {
public:
  struct failure {
    std::string entry_id;
    std::string reason;
  };
  // After each chunk, with how many of the entries (from the front) are verified so far.
  using progress_fn = std::function<void(std::size_t verified)>;
  // Once: nullopt when every entry verified, else the first bad one in the given order. Not
  // called when the verifier is destroyed before it ends.
  using done_fn = std::function<void(const std::optional<failure>&)>;

  // `entries` must stay alive and unchanged until the verifier is destroyed or `done` was called
  // (a chain_tree's attached entries do). Both callbacks run on the verifier's thread.
  background_verifier(std::vector<const entry*> entries, progress_fn progress, done_fn done,
                      std::size_t chunk = 4096);
  // Stops within an entry or two of each of its threads, without calling `done`.
  ~background_verifier();
  background_verifier(const background_verifier&) = delete;
  background_verifier& operator=(const background_verifier&) = delete;

  const std::vector<const entry*>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }

private:
  void run();

  std::vector<const entry*> entries_;
  progress_fn progress_;
  done_fn done_;
  std::size_t chunk_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace gsio::ledger
