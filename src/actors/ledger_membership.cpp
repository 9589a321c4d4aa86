// The ledger's answers about a private network's membership (DESIGN §10): the membership view
// for clients and the console, a node's admission proof for relays, and redeeming a node invite at
// start. Apart from ledger_actor.cpp because none of it takes part in the add/merge ordering.
#include <algorithm>

#include "actors/ledger_actor.hpp"
#include "ledger/membership.hpp"
#include "util/clock.hpp"

namespace gsio::actors {

std::string redeem_node_invite(ledger_resources& res, const std::string& invite_json) {
  auto& tree = res.tree;
  const auto members = tree.members_at_tip();
  if (!members)
    return "--join needs --network: an open network has no invites";
  std::string error;
  const auto invite = ledger::read_invite(invite_json, error);
  if (!invite)
    return error;
  if (invite->network_id != members->network_id)
    return "the invite is for network " + invite->network_id + ", not " + members->network_id;
  if (invite->r != ledger::role::node)
    return "the invite admits a " + std::string(ledger::to_string(invite->r)) + ", not a node";
  if (const auto* m = members->find(res.self.node_id()))
    return "this node is already a member (" + std::string(ledger::to_string(m->r)) + ")";
  const auto now = std::max(util::now_unix_us(), tree.last_unix_us_of(res.self.node_id()) + 1);
  if (invite->expires_us < now)
    return "the invite has expired";
  auto e = ledger::make_entry(res.self, ledger::make_redemption(res.self, invite_json, ""),
                              std::string(tree.tip_hash()), now);
  auto result = tree.insert(std::move(e));
  if (result.outcome != ledger::chain_tree::status::appended)
    return result.why ? result.why->reason : "the redemption was not attached";
  res.store.append(result.attached);
  return {};
}

namespace {

// The data of the canonical entry after which `key` has role `r` and before which it had not, or
// "" when it has had it since the charter (or does not have it at the tip). Such an entry changed
// the membership state, so only the chain's membership changes are looked at, newest first.
std::string admitting_data(const ledger::chain_tree& tree, const std::string& key, ledger::role r) {
  const auto tip = tree.members_at_tip();
  if (!tip || !tip->has_role(key, r))
    return {};
  const auto& changes = tree.membership_changes();
  for (std::size_t c = changes.size(); c-- > 1;) {
    // The state before change c is the state the change before it made.
    const auto before = tree.members_after(tree.at(changes[c - 1])->hash);
    if (before && !before->has_role(key, r))
      return tree.at(changes[c])->data;
  }
  return {};
}

}  // namespace

std::string admission_proof(const ledger::chain_tree& tree, const std::string& key) {
  std::string admission = admitting_data(tree, key, ledger::role::node);
  if (admission.empty() || tree.height() == 0)
    return admission;
  // Relays know the charter's admins only: an admission signed by a later admin comes with the
  // statements that made its signer an admin, back to one of the charter's.
  const auto founded = tree.members_after(tree.at(0)->hash);
  std::vector<std::string> chain{admission};
  for (auto signer = ledger::admission_signer(admission);
       founded && !signer.empty() && !founded->has_role(signer, ledger::role::admin);) {
    auto link = admitting_data(tree, signer, ledger::role::admin);
    if (link.empty() || chain.size() > ledger::max_admin_chain)
      break;  // not an admin at the tip any more: the proof stays as it is, and a relay refuses it
    signer = ledger::admission_signer(link);
    chain.push_back(std::move(link));
  }
  if (chain.size() == 1)
    return admission;
  std::string array = "[";
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    array += (it == chain.rbegin() ? "" : ",") + *it;
  return array + "]";
}

// The changes come from the chain's record of where the membership state changed: a diff per
// change, whatever the chain's length.
members_view members_of(const ledger::chain_tree& tree) {
  members_view view;
  const auto tip = tree.members_at_tip();
  if (!tip)
    return view;
  view.network_id = tip->network_id;
  view.name = tip->name;
  view.read = std::string(ledger::to_string(tip->read));
  for (const auto& [key, m] : tip->members)
    view.members.push_back({key, std::string(ledger::to_string(m.r)), m.nick, m.since_us, m.admitted_by});
  ledger::membership_ptr before;
  for (const auto i : tree.membership_changes()) {
    const auto* e = tree.at(i);
    auto after = tree.members_after(e->hash);
    if (!after)
      continue;
    for (auto& change : ledger::membership_diff(before.get(), *after, *e))
      view.changes.push_back({i, e->id, e->unix_us(), change.admitted, std::move(change.key),
                              std::string(ledger::to_string(change.r)), std::move(change.nick),
                              std::move(change.by)});
    before = std::move(after);
  }
  return view;
}

}  // namespace gsio::actors
