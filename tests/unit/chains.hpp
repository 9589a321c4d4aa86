#pragma once
// Chains of signed entries for the unit tests of the store and the background verifier.
#include <string>
#include <vector>

#include "crypto/identity.hpp"
#include "ledger/entry.hpp"

namespace gsio::test {

// `n` entries by `creator`, each linked to the one before, with data {"n": i} and ids one
// microsecond apart.
inline std::vector<ledger::entry> make_chain(const crypto::identity& creator, int n) {
  std::vector<ledger::entry> chain;
  std::string parent(ledger::genesis_hash);
  for (int i = 0; i < n; ++i) {
    chain.push_back(ledger::make_entry(creator, "{\"n\":" + std::to_string(i) + "}", parent, 1000 + i));
    parent = chain.back().hash;
  }
  return chain;
}

}  // namespace gsio::test
