#include "actors/entry_verifier.hpp"

#include <caf/all.hpp>

#include "util/clock.hpp"

namespace gsio::actors {

entry_verifier_actor::behavior_type
entry_verifier(instrumented<entry_verifier_actor, entry_verifier_state> self,
               ledger::validation_limits limits) {
  self->state.limits = limits;
  return {
    [=](check_atom, const std::vector<std::string>& entries) {
      std::vector<const std::string*> json;
      json.reserve(entries.size());
      for (const auto& text : entries)
        json.push_back(&text);
      return to_checked_page(
        ledger::check_entries(json, self->state.limits, util::since_unix_epoch()));
    },
  };
}

}  // namespace gsio::actors
