#pragma once
// Who may write to a private network (DESIGN §10, docs/PROTOCOL.md §8): the charter, admin
// statements, invites and their redemptions, author blocks, and the membership state they fold
// into. Written once: the node's fork tree, the CLI, the tests and the simulation all call this.
//
// Validity is path-relative: an entry is checked against the membership state at its parent (the
// fold of the statements among its ancestors), so it stays a deterministic function of the set of
// entries and fork choice is unchanged.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/entry.hpp"
#include "ledger/validation.hpp"

namespace gsio::crypto {
class identity;
}

namespace gsio::ledger {

enum class role { admin, node, author, reader };
std::string_view to_string(role r);
std::optional<role> role_from_string(std::string_view text);

enum class read_policy { members, anyone };
std::string_view to_string(read_policy p);

// Domain strings: a signature made for one kind of object never verifies as another.
inline constexpr std::string_view charter_domain = "gsio-charter-v1";
inline constexpr std::string_view statement_domain = "gsio-member-v1";
inline constexpr std::string_view invite_domain = "gsio-invite-v1";
inline constexpr std::string_view redeem_domain = "gsio-redeem-v1";
inline constexpr std::string_view author_domain = "gsio-author-v1";
inline constexpr std::string_view client_domain = "gsio-client-v1";

// What every signature inside entry data signs: the 64-hex SHA-256 of
//   domain "\n" network_id "\n" canonical JSON of the object without its "sig" member
// (network_id is empty for the charter, which defines it).
std::string signed_digest(std::string_view domain, std::string_view network_id,
                          std::string_view canonical_without_sig);

// What a Socket.IO client signs to prove `key` to node `node_id` on one connection, whose
// challenge (fresh random hex) the node sent: signed_digest(client_domain, network_id,
// {"challenge","key","node"}). Bound to the node and the connection, it is no use anywhere else.
std::string client_proof_digest(std::string_view network_id, std::string_view node_id,
                                std::string_view challenge, std::string_view key);

// An author's time may precede its entry's by this much (a client signs, a node then creates
// the entry) and follow it by the future-skew limit.
inline constexpr std::int64_t author_time_before_entry_us = 60LL * 60 * 1'000'000;
inline constexpr std::int64_t author_time_after_entry_us = 5LL * 60 * 1'000'000;

struct member {
  role r = role::reader;
  std::string nick;       // chosen at admission; may be empty
  std::int64_t since_us = 0;  // time of the entry that admitted the key
  std::string admitted_by;    // admin key that signed the statement or invite
};

// The membership state at one entry. Immutable once built; entries that change nothing share
// their parent's state, so a tree holds one state per membership change, not per entry.
struct membership_state {
  std::string network_id;  // the charter entry's hash
  std::string name;
  read_policy read = read_policy::members;
  std::map<std::string, member, std::less<>> members;        // key hex -> role and origin
  std::map<std::string, std::int64_t, std::less<>> last_statement_at;  // key hex -> newest "at"
  std::set<std::string, std::less<>> used_nonces;            // invites redeemed on this path

  const member* find(std::string_view key) const;
  bool has_role(std::string_view key, role r) const;
  std::size_t admin_count() const;
};

using membership_ptr = std::shared_ptr<const membership_state>;

// The outcome of checking one entry: rejected with a reason, or admitted with the state after it
// (the parent's own pointer when the entry changes nothing).
struct author_ref {
  std::string key;
  std::int64_t time_us = 0;
};

struct admission {
  std::optional<rejection> why;
  membership_ptr after;
  std::optional<author_ref> author;  // the entry's verified author block, if it has one
};

// Checks `e` against `at_parent` (nullptr for a first entry, which must be the charter whose hash
// is `network_id`) and folds it in. Verifies the signatures inside the data (charter, statement,
// invite, redemption, author block); the entry's own hash and signature are validate()'s.
admission admit(const membership_ptr& at_parent, const entry& e, std::string_view network_id);

// What entry `e` changed, going from `before` (nullptr for the charter) to `after`: keys
// admitted (or given another role) and removed, each with the admin key that signed for it.
struct membership_change {
  bool admitted = true;  // false: removed
  std::string key;
  role r = role::reader;  // the new role when admitted, the old one when removed
  std::string nick;
  std::string by;
};
std::vector<membership_change> membership_diff(const membership_state* before,
                                               const membership_state& after, const entry& e);

// What a relay that holds a network's charter but not its chain can check of a node (DESIGN
// §10): `proof_json`, the data of the entry that admitted `key` as a node (a statement or a
// redemption; empty when the charter itself admitted it), shows that an admin of the charter
// admitted it. nullopt when it does, else why not. Removals and admins added later are the
// nodes' to enforce: they judge every entry against the whole chain.
//
// An admin added after the charter signs for nodes too: then `proof_json` is an array, the
// statements that made that admin one (each an `add` of role admin signed by an admin of the
// charter or by one added before it in the array, oldest first) followed by the admission.
std::optional<std::string> check_node_admission(const membership_state& founded, std::string_view key,
                                                std::string_view proof_json);
inline constexpr std::size_t max_admin_chain = 16;

// The admission itself of a proof as above (the last element of an array; "" if malformed).
std::string last_admission(std::string_view proof_json);

// The admin who signed an admission (a statement's `by`, a redemption's invite's `by`), or "".
std::string admission_signer(std::string_view data_json);

// Whether node `key` may read the chain over P2P from a node whose tip state is `tip` (DESIGN
// §10): it is a node there, or it shows an admission (as above, against the admins at the tip)
// that the tip does not contradict: the key was not removed, and its redemption's invite was not
// spent by another key nor expired by `now_us` (a joining node reads the chain before its
// redemption is on it). nullopt when it may, else why not.
std::optional<std::string> check_node_reader(const membership_state& tip, std::string_view key,
                                             std::string_view proof_json, std::int64_t now_us);

// The author key and time of an entry whose data carries an author block, or nullopt.
std::optional<author_ref> author_of(const entry& e);

// ---- Building the objects (CLI, tests, simulation, the TS client mirrors these) ----

struct charter_fields {
  std::string name;
  read_policy read = read_policy::members;
  // Admitted with the charter, so that a network can start with its first nodes and authors.
  struct initial_member {
    std::string key;
    role r = role::node;
    std::string nick;
  };
  std::vector<initial_member> members;
};

// The charter entry: created and signed by `admin`, first in the chain. Its hash is the network id.
entry make_charter(const crypto::identity& admin, const charter_fields& fields, std::int64_t unix_us);

// Canonical JSON of an admin statement adding (`add` true) or removing `key`, signed by `admin`.
std::string make_statement(const crypto::identity& admin, std::string_view network_id, bool add,
                           std::string_view key, role r, std::string_view nick, std::int64_t at_us);

// Canonical JSON of an invite: `role` for whoever redeems it first on a path, until `expires_us`.
// `nonce_hex` is 32 lowercase hex digits (16 random bytes).
std::string make_invite(const crypto::identity& admin, std::string_view network_id, role r,
                        std::int64_t expires_us, std::string_view nonce_hex);

// Canonical JSON of a redemption of `invite_json` by `redeemer`, to be the data of an entry.
// Throws std::invalid_argument when `invite_json` is not an object.
std::string make_redemption(const crypto::identity& redeemer, std::string_view invite_json,
                            std::string_view nick);

// `data_json` (an object without "author") with an author block signed by `author` added.
// Throws std::invalid_argument when `data_json` is not such an object.
std::string add_author_block(const crypto::identity& author, std::string_view network_id,
                             std::string_view data_json, std::int64_t time_us);

// Checks an invite on its own (its shape, signature and network), without a chain: what a node
// or the CLI can say before redeeming it. nullopt when well-formed and signed by its "by" key.
struct invite_view {
  std::string network_id;
  role r = role::reader;
  std::int64_t expires_us = 0;
  std::string nonce;
  std::string by;
};
std::optional<invite_view> read_invite(std::string_view invite_json, std::string& error);

// An invite as it travels: the base64url (no padding) of its canonical JSON, alone (the invite
// string) or in a link, http(s)://node/#invite=<string>.
std::string invite_string(std::string_view invite_json);
// The invite JSON in an invite string or a link holding one (checked with read_invite after).
std::optional<std::string> invite_from_text(std::string_view text, std::string& error);

// A network file (network.json, written by `gsio network create`): the charter entry as JSON.
// Checks it as a first entry must be checked (shape, hash, signature, charter rules).
struct network_file {
  entry charter;
  membership_ptr founded;  // the membership the charter starts with
};
std::optional<network_file> read_network_file(std::string_view json, std::string& error);

// Whether entry data names itself a membership object ({"gsio": ...}).
bool is_membership_data(std::string_view canonical_data);

}  // namespace gsio::ledger
