#pragma once
// Atoms and message structs exchanged between the node's actors. Entries cross actor boundaries as
// their canonical JSON text: that is what clients, peers and the store all want, and it keeps
// messages small, copyable and serializable.
#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

namespace caf { class actor_system_config; }

namespace gsio::actors {

using add_atom = caf::atom_constant<caf::atom("add")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using tip_atom = caf::atom_constant<caf::atom("tip")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using appended_atom = caf::atom_constant<caf::atom("appended")>;
using reorg_atom = caf::atom_constant<caf::atom("reorg")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using event_atom = caf::atom_constant<caf::atom("event")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using entry_atom = caf::atom_constant<caf::atom("entry")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;

// Outcome of an append request: exactly one of the two is non-empty.
struct add_result {
  std::string entry_json;
  std::string error;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, add_result& x) {
  return f(caf::meta::type_name("gsio::add_result"), x.entry_json, x.error);
}

struct tip_info {
  std::string node_id;
  std::uint64_t height = 0;
  std::string tip_hash;
  std::uint64_t entries = 0;  // attached entries on every branch
  std::uint64_t forks = 0;
  std::uint64_t held = 0;     // entries waiting for an unknown parent
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, tip_info& x) {
  return f(caf::meta::type_name("gsio::tip_info"), x.node_id, x.height, x.tip_hash, x.entries,
           x.forks, x.held);
}

// A page of the canonical chain.
struct entries_page {
  std::uint64_t from = 0;
  std::uint64_t height = 0;                 // chain height when the page was cut
  std::vector<std::string> entries;         // canonical JSON of each entry, chain order
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entries_page& x) {
  return f(caf::meta::type_name("gsio::entries_page"), x.from, x.height, x.entries);
}

// The canonical chain switched branches.
struct reorg_event {
  std::uint64_t fork_height = 0;            // entries below this index are unchanged
  std::vector<std::string> removed_ids;     // ids that left the canonical chain
  std::vector<std::string> added;           // entries (JSON) that joined it, chain order
  std::string tip_hash;
  std::uint64_t height = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reorg_event& x) {
  return f(caf::meta::type_name("gsio::reorg_event"), x.fork_height, x.removed_ids, x.added,
           x.tip_hash, x.height);
}

// One Socket.IO event from a client, as the gateway hands it to the client's session.
struct client_event {
  std::string name;
  std::string args_json;                    // JSON array of the arguments after the name
  std::vector<std::string> attachments;     // binary arguments, referenced by placeholders
  bool wants_ack = false;
  std::uint64_t ack_id = 0;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_event& x) {
  return f(caf::meta::type_name("gsio::client_event"), x.name, x.args_json, x.attachments,
           x.wants_ack, x.ack_id);
}

// What the node knows about one node of the network (itself included).
struct node_record {
  std::string node_id;
  bool is_self = false;
  std::string link;                         // "self", "relay" or "direct"
  std::string address;                      // where it can be reached, if known
  std::int64_t last_seen_ms = 0;
  std::uint64_t height = 0;
  std::string tip_hash;
};
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_record& x) {
  return f(caf::meta::type_name("gsio::node_record"), x.node_id, x.is_self, x.link, x.address,
           x.last_seen_ms, x.height, x.tip_hash);
}

// Registers every message type above with the actor system.
void register_message_types(caf::actor_system_config& cfg);

}  // namespace gsio::actors
