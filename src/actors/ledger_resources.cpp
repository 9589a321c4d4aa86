// Loading the ledger before its actor exists: opening the store, checking what it holds and
// rebuilding the fork tree (see open_ledger in ledger_actor.hpp). Apart from ledger_actor.cpp
// because none of it takes part in the actor's add/merge ordering.
#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "actors/ledger_actor.hpp"
#include "util/log.hpp"

namespace gsio::actors {

ledger_resources::ledger_resources(crypto::identity id, const std::string& data_dir,
                                   ledger::validation_limits l)
  : self(std::move(id)),
    store(data_dir,
          [&data_dir](std::size_t entries) {
            log::info("ledger", "converting the store in ", data_dir, " (", entries,
                      " entries) from schema 2 to schema ", ledger::store::schema_version,
                      ", which keeps each field once (once; a large store takes a while)");
          }),
    limits(l) {}

void ledger_resources::set_corrupt(corruption found) {
  std::lock_guard<std::mutex> guard{corrupt_mutex_};
  if (!corrupt_)
    corrupt_ = std::move(found);
}

std::optional<ledger_resources::corruption> ledger_resources::corrupt() const {
  std::lock_guard<std::mutex> guard{corrupt_mutex_};
  return corrupt_;
}

std::shared_ptr<ledger_resources> open_ledger(const std::string& data_dir,
                                              const ledger::validation_limits& limits,
                                              const std::optional<ledger::entry>& charter,
                                              ledger::store::check check) {
  const auto opening = std::chrono::steady_clock::now();
  auto res = std::make_shared<ledger_resources>(crypto::identity::load_or_create(data_dir),
                                                data_dir, limits);
  if (auto from = res->store.converted_from()) {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - opening);
    log::info("ledger", "converted the store from schema ", *from, " in ", took.count(), " ms");
  }
  auto entries = res->store.load(check);
  auto& tree = res->tree;
  if (charter) {
    tree = ledger::chain_tree({}, charter->hash);
    if (entries.empty()) {
      auto result = tree.insert(*charter);
      if (result.outcome != ledger::chain_tree::status::appended)
        throw std::runtime_error("the network's charter is not valid: " +
                                 (result.why ? result.why->reason : std::string("refused")));
      res->store.append(result.attached);
    } else if (std::none_of(entries.begin(), entries.end(),
                            [&](const ledger::entry& e) { return e.hash == charter->hash; })) {
      throw std::runtime_error("the ledger in " + data_dir + " is not a chain of network " + charter->hash +
                               " (its charter is not in it): use another data directory");
    }
  }
  for (auto& e : entries) {
    auto id = e.id;
    auto result = tree.insert(std::move(e));
    if (result.outcome == ledger::chain_tree::status::rejected)
      throw ledger::store_corrupt(id, result.why ? result.why->reason : "rejected by the chain");
  }
  if (tree.held_count() != 0)
    throw ledger::store_corrupt(tree.missing_parents().front(), "stored entries miss a parent");
  res->loaded_with = check;
  if (check == ledger::store::check::except_signatures) {
    res->unverified.reserve(tree.size());
    for (std::size_t i = 0; i < tree.height(); ++i)
      res->unverified.push_back(tree.at(i));
    res->unverified_canonical = tree.height();
    for (const auto* e : tree.off_chain_entries())
      res->unverified.push_back(e);
  }
  return res;
}

}  // namespace gsio::actors
