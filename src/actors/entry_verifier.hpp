#pragma once
// The entry verifier checks pages of entries from peers (parsing, hashes, Ed25519 signatures) off
// the ledger actor, so that during a catch-up the ledger attaches and persists one page while the
// next is being verified: verification is pure work that needs no chain, and it is most of a
// page's cost. A page holds the worker that runs it, and one helper thread per further core, for
// its verification (tens of milliseconds); the node's other worker keeps the ledger going. It is
// not spawned detached: CAF 0.17 can hang at shutdown waiting for a detached actor's thread
// (actor-framework issue 1196, fixed in 0.18), and a node that must stop on SIGTERM cannot risk it.
#include <cstdint>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"
#include "ledger/validation.hpp"

namespace gsio::actors {


// Keeps the entries of `checked` that passed, in order, and the reasons for the others.
checked_page to_checked_page(std::vector<ledger::checked_entry>&& checked);

struct entry_verifier_state {
  static inline const char* name = "entry-verifier";
  ledger::validation_limits limits;
};

entry_verifier_actor::behavior_type
entry_verifier(instrumented<entry_verifier_actor, entry_verifier_state> self,
               ledger::validation_limits limits);

}  // namespace gsio::actors
