#include "cli/chain_check.hpp"

#include <exception>

#include "ledger/entry.hpp"
#include "ledger/membership.hpp"
#include "ledger/validation.hpp"

namespace gsio::cli {

bool chain_verifier::fail(std::string id, std::string rule, std::string reason) {
  failure_ = chain_failure{count_, std::move(id), std::move(rule), std::move(reason)};
  return false;
}

bool chain_verifier::add(const rapidjson::Value& entry_json) {
  if (failure_)
    return false;
  ledger::entry e;
  std::string error;
  bool shaped = false;
  try {
    shaped = ledger::from_json(entry_json, e, error);
  } catch (const std::exception& ex) {  // canonicalizing data with duplicate member names
    error = ex.what();
  }
  if (!shaped) {
    // Name the entry by its id when that much is readable, so the message points somewhere.
    std::string id;
    if (entry_json.IsObject()) {
      auto it = entry_json.FindMember("id");
      if (it != entry_json.MemberEnd() && it->value.IsString())
        id.assign(it->value.GetString(), it->value.GetStringLength());
    }
    return fail(std::move(id), "malformed", error);
  }
  // Shape, id/timestamp agreement, hash and every signature (creator and attestations).
  if (auto rejected = ledger::validate_integrity(e)) {
    // The reason starts by naming the entry, which describe() does already.
    std::string reason = std::move(rejected->reason);
    const std::string prefix = "entry " + e.id + ": ";
    if (reason.rfind(prefix, 0) == 0)
      reason.erase(0, prefix.size());
    return fail(e.id, std::string{ledger::to_string(rejected->code)}, std::move(reason));
  }
  if (e.previous_hash != tip_hash_) {
    const std::string expected =
      count_ == 0 ? "the genesis hash (64 zeros)" : "the hash of entry #" + std::to_string(count_ - 1) +
                                                      " (" + tip_hash_ + ")";
    return fail(e.id, "broken_link",
                "previous_hash is " + e.previous_hash + ", expected " + expected);
  }
  if (!ids_.insert(e.id).second)
    return fail(e.id, "duplicate_id", "the id already appears earlier in the chain");
  if (count_ == 0 && ledger::is_membership_data(e.data) && e.data.find("\"gsio\":\"charter\"") != std::string::npos)
    network_id_ = e.hash;  // a charter: checked below as the first entry of its network
  if (!network_id_.empty()) {
    auto admitted = ledger::admit(members_, e, network_id_);
    if (admitted.why) {
      std::string reason = std::move(admitted.why->reason);
      if (const std::string prefix = "entry " + e.id + ": "; reason.rfind(prefix, 0) == 0)
        reason.erase(0, prefix.size());
      return fail(e.id, std::string{ledger::to_string(admitted.why->code)}, std::move(reason));
    }
    members_ = std::move(admitted.after);
  }
  tip_hash_ = e.hash;
  ++count_;
  return true;
}

std::string describe(const chain_failure& failure) {
  std::string out = "entry #" + std::to_string(failure.index);
  if (!failure.id.empty())
    out += " (" + failure.id + ")";
  out += ": " + failure.rule + ": " + failure.reason;
  return out;
}

}  // namespace gsio::cli
