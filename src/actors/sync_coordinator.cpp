// The sync coordinator's behavior: one handler per P2P message type, the routing of replies and
// the bookkeeping of pulls and merges. Wire formats are net/p2p_payloads; what to fetch is decided
// by ledger::sync_planner.
//
// Over 600 lines on purpose: on_message dispatches with std::visit over every payload type (the
// compiler refuses a type without a handler), so the handlers sit beside it in this file.
#include "actors/sync_coordinator.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <type_traits>
#include <variant>

#include <caf/all.hpp>

#include "actors/entry_verifier.hpp"
#include "net/announce_proof.hpp"
#include "net/p2p_message.hpp"
#include "net/p2p_payloads.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"

namespace gsio::actors {

namespace {

using self_ptr = instrumented<sync_coordinator_actor, sync_coordinator_state>;
using net::p2p_type;
namespace p2p = net::p2p;

// Node ids with the link they were last heard on (sync_coordinator_state::route).
constexpr std::size_t max_routes = 4096;
// Requests of one peer answered at once. A request of a few bytes costs the ledger a page of up
// to 512 KiB (or 256 entries): without a bound, any relay member could make every node build
// pages faster than its links can carry them. An honest peer has one pull and one parent
// request out at a time.
constexpr unsigned max_requests_per_peer = 4;
// Entry JSON per EntryResponse, as sync pages (ledger::answer_sync) are bounded.
constexpr std::size_t max_response_bytes = 512 * 1024;
// Pages of a pull being checked or merged at once (on_sync_response).
constexpr std::size_t max_pages_in_process = 3;
// Announce and EntryResponse merges waiting for the ledger. The ledger answers them in group
// commits, so a handful is the norm; a peer sending faster than the ledger can check (each entry
// costs it a signature verification) must not grow its mailbox without bound. What is dropped is
// not lost: the entries' creators hold them, and tips that differ start a pull.
constexpr std::size_t max_merges_in_flight = 256;

// How long the ledger's verdict on a node reading a private chain stands: a removal stops its
// pulls within this time (its entries are refused at once), and an honest node costs one check
// per period. Requests of a node wait for its first verdict, a few at most.
constexpr std::int64_t reader_verdict_ms = 10'000;
constexpr std::size_t max_waiting_per_reader = 4;

bool serves_private_network(const sync_coordinator_state& st) { return !st.options.network_id.empty(); }

// Whether `l` may carry this node's broadcasts: on a private network, a direct or inbound link
// only once its node is known to be allowed to read (the relay admits only members of the
// networks it serves).
bool may_hear(const sync_coordinator_state& st, const sync_coordinator_state::link& l) {
  if (!serves_private_network(st) || l.kind == "relay")
    return true;
  auto it = st.readers.find(l.peer_id);
  return it != st.readers.end() && it->second.admitted;
}

// Entries are canonical JSON, which puts creator_node_id first: checking the prefix is exact.
bool created_by(const std::string& entry_json, const std::string& node_id) {
  static constexpr std::string_view prefix = "{\"creator_node_id\":\"";
  return entry_json.size() > prefix.size() + node_id.size() &&
         entry_json.compare(0, prefix.size(), prefix) == 0 &&
         entry_json.compare(prefix.size(), node_id.size(), node_id) == 0;
}

std::string kind_of(const sync_coordinator_state& st, const p2p_link_actor& link) {
  for (const auto& l : st.links)
    if (l.handle == link)
      return l.kind;
  return "unknown";
}

// Sends one message: directed messages go over the link the recipient was last heard on (every
// link if unknown), broadcasts over every link.
void send_message(self_ptr self, const std::string& recipient, const p2p::payload& payload) {
  auto& st = self->state;
  const auto type = p2p::type_of(payload);
  net::p2p_message message;
  message.type = type;
  message.message_id = net::new_message_id();
  message.sender_id = st.options.node_id;
  message.recipient_id = recipient;
  message.network_id = st.options.network_id;
  message.payload_json = p2p::encode(payload);
  std::string frame = net::encode(message);
  ++st.messages_out;
  ++st.out_by_type[std::string(net::to_string(type))];
  if (!recipient.empty()) {
    if (auto it = st.route.find(recipient); it != st.route.end()) {
      self->send(it->second, send_atom::value, std::move(frame));
      return;
    }
  }
  for (const auto& link : st.links)
    if (may_hear(st, link))
      self->send(link.handle, send_atom::value, frame);
}

p2p::node_announce announce_payload(const sync_coordinator_state& st, std::string relay_proof = {}) {
  p2p::node_announce a;
  a.node_id = st.options.node_id;
  a.address = st.options.address;
  a.height = st.tip.height;
  a.tip_hash = st.tip.tip_hash;
  a.entries = st.tip.entries;
  a.membership = st.options.membership_proof;  // "" on an open network
  a.relay_proof = std::move(relay_proof);
  return a;
}

void announce(self_ptr self, const std::string& recipient = {}) {
  send_message(self, recipient, announce_payload(self->state));
}

void announce_entries(self_ptr self, const std::vector<std::string>& entries) {
  auto& st = self->state;
  if (st.links.empty())
    return;  // a node without links (yet) catches up through sync when one comes up
  for (const auto& e : entries) {
    if (!created_by(e, st.options.node_id))
      continue;  // others announce their own entries; relaying them would multiply traffic
    send_message(self, {}, p2p::entry_announce{e, st.tip.height, st.tip.tip_hash});
  }
}

void send_pull(self_ptr self, const ledger::sync_planner::pull& pull) {
  auto limit = self->state.options.page_limit;
  auto send_request = [self, peer = pull.peer, limit](std::vector<std::string> locator,
                                                      std::optional<std::uint64_t> cursor) {
    send_message(self, peer, p2p::ledger_sync_request{std::move(locator), cursor, limit});
  };
  if (pull.full)
    log::info("sync", "pulling everything from ", pull.peer.substr(0, 12),
              ": our tips disagree although each knows the other's");
  if (pull.cursor) {
    send_request({}, *pull.cursor);
    return;
  }
  self->request(self->state.ledger, std::chrono::seconds{10}, get_atom::value, sync_atom::value)
    .then([send_request](std::vector<std::string>& locator) { send_request(std::move(locator), std::nullopt); },
          [self, peer = pull.peer](const caf::error&) { self->state.planner.abandon(peer); });
}

// Asks everyone for the parents that held entries wait for, at most twice a second.
void request_missing_parents(self_ptr self) {
  auto& st = self->state;
  const auto now = util::steady_ms();
  if (now - st.last_parent_request_ms < 500)
    return;
  st.last_parent_request_ms = now;
  self->request(st.ledger, std::chrono::seconds{10}, get_atom::value, missing_atom::value)
    .then(
      [self](std::vector<std::string>& hashes) {
        if (hashes.empty())
          return;
        if (hashes.size() > p2p::max_hashes)
          hashes.resize(p2p::max_hashes);
        send_message(self, {}, p2p::entry_request{std::move(hashes)});
      },
      [](const caf::error&) {});
}

void note_merge(sync_coordinator_state& st, const merge_result& result) {
  st.entries_rejected += result.rejected;
  if (result.reorg)
    st.reappend_wanted = true;
}

// Hands entries from a peer to the ledger; `then` runs with the result.
template <class Then>
void merge_entries(self_ptr self, std::vector<std::string> entries, Then then) {
  if (entries.empty()) {
    then(merge_result{});
    return;
  }
  auto& st = self->state;
  if (st.merges_in_flight >= max_merges_in_flight) {
    if (st.merges_dropped++ % 1000 == 0)
      log::warn("sync", "entries from peers arrive faster than the ledger takes them: dropped ",
                st.merges_dropped, " messages so far (a pull brings their entries)");
    return;
  }
  ++st.merges_in_flight;
  self->request(st.ledger, std::chrono::seconds{60}, merge_atom::value, std::move(entries))
    .then(
      [self, then](merge_result& result) mutable {
        --self->state.merges_in_flight;
        note_merge(self->state, result);
        then(result);
      },
      [self](const caf::error& err) {
        --self->state.merges_in_flight;
        log::warn("sync", "the ledger did not take entries from a peer: ", caf::to_string(err));
      });
}

void maybe_reappend(self_ptr self) {
  auto& st = self->state;
  if (!st.reappend_wanted || st.planner.busy())
    return;
  st.reappend_wanted = false;
  // The ledger publishes re-appended entries as appended; announce_entries sends them on.
  self->request(st.ledger, std::chrono::seconds{30}, reappend_atom::value)
    .then([](const std::vector<std::string>&) {}, [](const caf::error&) {});
}

void settle_reader(self_ptr self, const std::string& node, const std::string& why) {
  auto& st = self->state;
  auto it = st.readers.find(node);
  if (it == st.readers.end())
    return;
  auto& r = it->second;
  const bool was_admitted = r.admitted, first = r.checked_ms == 0;
  r.checking = false;
  r.admitted = why.empty();
  r.checked_ms = util::steady_ms();
  if (!r.admitted && (was_admitted || first))
    log::warn("sync", "not letting node ", node.substr(0, 12), " read the chain: ", why);
  for (auto& answer : std::exchange(r.waiting, {}))
    answer();
}

// Asks the ledger whether `node` may read the chain, unless a question is out already.
void check_reader(self_ptr self, const std::string& node) {
  auto& st = self->state;
  auto& r = st.readers[node];
  if (r.checking)
    return;
  r.checking = true;
  self->request(st.ledger, std::chrono::seconds{10}, check_atom::value, members_atom::value, node, r.admission)
    .then([self, node](std::string& why) { settle_reader(self, node, why); },
          [self, node](const caf::error& err) { settle_reader(self, node, "the ledger did not answer: " + caf::to_string(err)); });
}

// The entry for `node` in readers, making room for it among at most max_routes.
sync_coordinator_state::reader& reader_of(sync_coordinator_state& st, const std::string& node) {
  if (st.readers.size() >= max_routes && !st.readers.contains(node)) {
    auto victim = std::find_if(st.readers.begin(), st.readers.end(),
                               [](const auto& r) { return !r.second.checking; });
    st.readers.erase(victim != st.readers.end() ? victim : st.readers.begin());
  }
  return st.readers[node];
}

// Runs `answer` (a reply to `node`'s request) when `node` may read the chain; on an open network
// at once, on a private one once the ledger's verdict is known. Dropped, and counted, otherwise.
void when_reader(self_ptr self, const std::string& node, std::function<void()> answer) {
  auto& st = self->state;
  if (!serves_private_network(st))
    return answer();
  auto& r = reader_of(st, node);
  if (r.checked_ms != 0 && util::steady_ms() - r.checked_ms < reader_verdict_ms) {
    if (r.admitted)
      answer();
    else
      ++st.not_member_dropped;
    return;
  }
  if (r.waiting.size() >= max_waiting_per_reader) {
    ++st.requests_dropped;
    return;
  }
  r.waiting.push_back([self, node, answer = std::move(answer)] {
    auto& st = self->state;
    if (auto it = st.readers.find(node); it != st.readers.end() && it->second.admitted)
      answer();
    else
      ++st.not_member_dropped;
  });
  check_reader(self, node);
}

void on_announce(self_ptr self, const std::string& sender, const p2p::node_announce& announce,
                 const std::string& link_kind) {
  auto& st = self->state;
  if (serves_private_network(st)) {
    // The heartbeat keeps the verdict fresh, so broadcasts reach an admitted peer link and stop
    // for a removed one without waiting for a request.
    auto& r = reader_of(st, sender);
    if (r.admission != announce.membership) {
      r.admission = announce.membership;
      r.checked_ms = 0;
    }
    if (r.checked_ms == 0 || util::steady_ms() - r.checked_ms >= reader_verdict_ms)
      check_reader(self, sender);
  }
  node_record record;
  record.node_id = sender;
  record.link = link_kind;
  record.address = announce.address;
  record.last_seen_ms = util::now_unix_ms();
  record.height = announce.height;
  record.tip_hash = announce.tip_hash;
  self->send(st.registry, seen_atom::value, record);
  if (record.tip_hash.empty())
    return;
  self->request(st.ledger, std::chrono::seconds{10}, relate_atom::value, record.tip_hash)
    .then(
      [self, sender, height = record.height, tip = record.tip_hash](std::uint8_t relation) {
        auto pull = self->state.planner.on_announce(
          sender, height, tip, static_cast<ledger::sync_planner::tip_relation>(relation), util::steady_ms());
        if (pull)
          send_pull(self, *pull);
      },
      [](const caf::error&) {});
}

// Takes one of `sender`'s request slots; false (and counted) when it has none left.
bool take_request_slot(self_ptr self, const std::string& sender) {
  auto& st = self->state;
  auto& answering = st.answering[sender];
  if (answering >= max_requests_per_peer) {
    ++st.requests_dropped;
    return false;
  }
  ++answering;
  return true;
}

void give_back_request_slot(self_ptr self, const std::string& sender) {
  auto& answering = self->state.answering;
  if (auto it = answering.find(sender); it != answering.end() && --it->second == 0)
    answering.erase(it);
}

void on_sync_request(self_ptr self, const std::string& sender, p2p::ledger_sync_request& request) {
  sync_query query;
  query.locator = std::move(request.locator);
  query.has_cursor = request.cursor.has_value();
  query.cursor = request.cursor.value_or(0);
  query.limit = request.limit;
  if (!take_request_slot(self, sender))
    return;
  self->request(self->state.ledger, std::chrono::seconds{30}, sync_atom::value, query)
    .then(
      [self, sender](sync_answer& answer) {
        give_back_request_slot(self, sender);
        self->state.entries_sent_sync += answer.entries.size();
        send_message(self, sender,
                     p2p::ledger_sync_response{std::move(answer.entries), answer.next_cursor,
                                               answer.more, answer.height, std::move(answer.tip_hash)});
      },
      [self, sender](const caf::error&) { give_back_request_slot(self, sender); });
}

// Asks for the page after a merged one when its request had to wait (see on_sync_response).
void page_merged(self_ptr self) {
  auto& st = self->state;
  --st.pages_in_process;
  if (!st.deferred || st.pages_in_process >= max_pages_in_process)
    return;
  auto page = std::move(*st.deferred);
  st.deferred.reset();
  if (auto pull = st.planner.on_page(page.peer, true, page.cursor, page.entries, util::steady_ms()))
    send_pull(self, *pull);
}

// Pages are checked by the entry verifier and then merged by the ledger, each in the order they
// arrived, so a page's signatures are verified while the ledger persists the one before. While
// fewer than max_pages_in_process pages are being checked or merged, the next page is asked for
// as soon as one arrives, so that the transfer overlaps both too; beyond that the request waits
// for a merge, which bounds what a catch-up holds in memory.
void on_sync_response(self_ptr self, const std::string& sender, p2p::ledger_sync_response& page) {
  auto& st = self->state;
  // A page is asked for only while at most max_pages_in_process are in process, so one beyond
  // that was not asked for (or answers a pull given up long ago): dropping it bounds what a peer
  // that floods responses can make this node hold. A pull it belonged to starts over later.
  if (st.pages_in_process > max_pages_in_process) {
    if (st.pages_dropped++ % 100 == 0)
      log::warn("sync", "dropped a sync page from ", sender.substr(0, 12),
                " that was not asked for (", st.pages_dropped, " so far)");
    return;
  }
  auto entries = std::move(page.entries);
  st.entries_received_sync += entries.size();
  const bool more = page.more;
  const auto next_cursor = page.next_cursor;
  ++st.pages_in_process;
  // A late answer to an abandoned pull still gets merged, but asks for nothing more.
  const bool current = st.planner.pulling_from() == sender;
  if (more && current) {
    if (st.pages_in_process <= max_pages_in_process) {
      if (auto pull = st.planner.on_page(sender, true, next_cursor, entries.size(), util::steady_ms()))
        send_pull(self, *pull);
    } else {
      ++st.pages_deferred;
      st.deferred = sync_coordinator_state::deferred_page{sender, next_cursor, entries.size()};
    }
  }
  auto merged = [self, sender, more](const merge_result&) {
    page_merged(self);
    if (more)
      return;
    // The last page: the pull ends once everything before it is merged too.
    if (auto pull = self->state.planner.on_page(sender, false, 0, 0, util::steady_ms()))
      send_pull(self, *pull);
    else
      request_missing_parents(self);
  };
  if (entries.empty()) {
    merged(merge_result{});
    return;
  }
  self->request(st.verifier, std::chrono::seconds{60}, check_atom::value, std::move(entries))
    .then(
      [self, merged](checked_page& page) {
        auto& ledger = self->state.ledger;
        self->request(ledger, std::chrono::seconds{60}, merge_atom::value, std::move(page))
          .then(
            [self, merged](merge_result& result) {
              note_merge(self->state, result);
              merged(result);
            },
            [merged](const caf::error& err) {
              log::warn("sync", "the ledger did not take a page from a peer: ",
                        caf::to_string(err));
              merged(merge_result{});
            });
      },
      [merged](const caf::error& err) {
        log::warn("sync", "a page from a peer was not checked: ", caf::to_string(err));
        merged(merge_result{});
      });
}

void on_entry_announce(self_ptr self, const std::string& sender, p2p::entry_announce& announce) {
  ++self->state.entries_received_announce;
  merge_entries(self, {std::move(announce.entry)},
                [self, sender](const merge_result& result) {
                  if (result.held == 0)
                    return;
                  if (auto pull = self->state.planner.on_unknown_parent(sender, util::steady_ms()))
                    send_pull(self, *pull);
                  else
                    request_missing_parents(self);
                });
}

void on_entry_request(self_ptr self, const std::string& sender, p2p::entry_request& request) {
  auto& hashes = request.hashes;
  if (hashes.empty() || !take_request_slot(self, sender))
    return;
  self->request(self->state.ledger, std::chrono::seconds{10}, get_atom::value, hashes_atom::value,
                std::move(hashes))
    .then(
      [self, sender](const std::vector<std::string>& found) {
        give_back_request_slot(self, sender);
        // Several responses rather than one of up to 256 entries of 64 KiB: a message must stay
        // well below the relay's frame limit and a /p2p socket's payload limit, or the link that
        // carries it is closed (and the request comes again).
        for (std::size_t begin = 0; begin < found.size();) {
          std::size_t end = begin, bytes = 0;
          while (end < found.size() && (end == begin || bytes + found[end].size() <= max_response_bytes))
            bytes += found[end++].size();
          send_message(self, sender,
                       p2p::entry_response{{found.begin() + static_cast<std::ptrdiff_t>(begin),
                                            found.begin() + static_cast<std::ptrdiff_t>(end)}});
          begin = end;
        }
      },
      [self, sender](const caf::error&) { give_back_request_slot(self, sender); });
}

void on_node_list_request(self_ptr self, const std::string& sender) {
  self->request(self->state.registry, std::chrono::seconds{10}, peers_atom::value)
    .then(
      [self, sender](const std::vector<node_record>& nodes) {
        p2p::node_list_response list;
        for (const auto& n : nodes) {
          list.nodes.push_back(n.node_id);
          list.peers.push_back({n.node_id, n.address, n.height, n.tip_hash});
        }
        send_message(self, sender, list);
      },
      [](const caf::error&) {});
}

void on_node_list_response(self_ptr self, const std::string& sender, const p2p::node_list_response& list) {
  auto heard_of = [&](node_record record) {
    if (!util::is_lower_hex(record.node_id, 64) || record.node_id == self->state.options.node_id)
      return;
    record.link = "via " + sender.substr(0, 12);
    // Heard of, not heard from: the registry keeps a fresher direct record if it has one.
    record.last_seen_ms = 0;
    self->send(self->state.registry, seen_atom::value, std::move(record));
  };
  // The details of each node in "peers"; "nodes" names them all, so an id without details is
  // still worth knowing.
  std::set<std::string_view> detailed;
  for (const auto& peer : list.peers) {
    node_record record;
    record.node_id = peer.node_id;
    record.address = peer.address;
    record.height = peer.height;
    record.tip_hash = peer.tip_hash;
    detailed.insert(peer.node_id);
    heard_of(std::move(record));
  }
  for (const auto& id : list.nodes)
    if (!detailed.contains(id)) {
      node_record record;
      record.node_id = id;
      heard_of(std::move(record));
    }
}

// Whether `sender` speaks this node's protocol, as far as its last NodeAnnounce says (a node not
// announced yet is taken to). Messages of a node of another protocol are dropped and counted:
// its entries would not validate here, and it could not read ours. Logged once per node and
// protocol, again if it comes back speaking ours.
bool speaks_our_protocol(self_ptr self, const std::string& sender, const p2p::payload& payload) {
  auto& st = self->state;
  auto known = st.other_protocol.find(sender);
  const auto* announce = std::get_if<p2p::node_announce>(&payload);
  if (!announce) {
    if (known == st.other_protocol.end())
      return true;
    ++st.other_protocol_dropped;
    return false;
  }
  const std::uint64_t version = announce->protocol;  // 1 when absent, 0 when not a number
  if (version == net::protocol_version) {
    if (known != st.other_protocol.end()) {
      log::info("sync", "node ", sender.substr(0, 12), " now speaks protocol ", version);
      st.other_protocol.erase(known);
    }
    return true;
  }
  ++st.other_protocol_dropped;
  if (known == st.other_protocol.end() || known->second != version) {
    if (known == st.other_protocol.end() && st.other_protocol.size() >= max_routes)
      st.other_protocol.erase(st.other_protocol.begin());
    st.other_protocol.insert_or_assign(sender, version);
    log::warn("sync", "node ", sender.substr(0, 12), " announces protocol ",
              version == 0 ? std::string("(not a number)") : std::to_string(version),
              "; this node speaks protocol ", net::protocol_version,
              ": not syncing with it until it does");
  }
  return false;
}

void on_message(self_ptr self, p2p_envelope& env, const p2p_link_actor& link) {
  auto& st = self->state;
  if (env.sender_id == st.options.node_id)
    return;  // our own message coming back over another link
  if (!env.recipient_id.empty() && env.recipient_id != st.options.node_id) {
    ++st.not_for_us;
    return;
  }
  if (!util::is_lower_hex(env.sender_id, 64)) {
    ++st.malformed;
    return;
  }
  if (env.network_id != st.options.network_id) {
    // A relay shared by several networks keeps them apart; this is the node's own check.
    if (++st.other_network_dropped <= 10)
      log::warn("sync", "dropped a message of ",
                env.network_id.empty() ? std::string("an open network") : "network " + env.network_id.substr(0, 12),
                " from ", env.sender_id.substr(0, 12));
    return;
  }
  for (auto& l : st.links) {
    if (l.handle != link || l.kind == "relay")
      continue;
    if (l.peer_id.empty()) {
      l.peer_id = env.sender_id;
    } else if (l.peer_id != env.sender_id) {
      if (++st.spoofed <= 10)
        log::warn("sync", "dropped a message claiming to be from ", env.sender_id.substr(0, 12),
                  " on the ", l.kind, " link of ", l.peer_id.substr(0, 12));
      return;
    }
  }
  // Only a message that passed the checks above counts as seen: a peer on a direct link that
  // forwarded another node's message first would otherwise have the genuine copy dropped as a
  // duplicate when it arrives over the relay.
  if (!st.seen.first_time(env.sender_id, env.message_id)) {
    ++st.duplicates_dropped;
    return;
  }
  ++st.messages_in;
  const auto type = static_cast<p2p_type>(env.type);
  ++st.in_by_type[std::string(net::to_string(type))];
  // Every sender heard over the relay gets a route while the relay link is up, so the map is
  // bounded; a recipient without a route gets its messages on every link, so forgetting one
  // costs traffic, not delivery.
  if (st.route.size() >= max_routes && !st.route.contains(env.sender_id))
    st.route.erase(st.route.begin());
  st.route.insert_or_assign(env.sender_id, link);
  std::string error;
  auto payload = p2p::decode(type, env.payload_json, error, {st.options.page_limit});
  if (!payload) {
    ++st.malformed;
    if (type == p2p_type::ledger_sync_response)
      log::warn("sync", "dropped a sync page from ", env.sender_id.substr(0, 12), ": ", error);
    return;
  }
  if (!speaks_our_protocol(self, env.sender_id, *payload))
    return;
  const auto& sender = env.sender_id;
  std::visit(
    [&](auto& p) {
      using T = std::decay_t<decltype(p)>;
      if constexpr (std::is_same_v<T, p2p::node_announce>) {
        on_announce(self, sender, p, kind_of(st, link));
      } else if constexpr (std::is_same_v<T, p2p::node_list_request>) {
        when_reader(self, sender, [self, sender] { on_node_list_request(self, sender); });
      } else if constexpr (std::is_same_v<T, p2p::node_list_response>) {
        on_node_list_response(self, sender, p);
      } else if constexpr (std::is_same_v<T, p2p::entry_announce>) {
        on_entry_announce(self, sender, p);
      } else if constexpr (std::is_same_v<T, p2p::entry_request>) {
        when_reader(self, sender, [self, sender, p = std::move(p)]() mutable { on_entry_request(self, sender, p); });
      } else if constexpr (std::is_same_v<T, p2p::entry_response>) {
        st.entries_received_announce += p.entries.size();
        merge_entries(self, std::move(p.entries), [](const merge_result&) {});
      } else if constexpr (std::is_same_v<T, p2p::ledger_sync_request>) {
        // A pull is directed: one broadcast would have every node build a page for the sender.
        if (env.recipient_id.empty())
          ++st.not_for_us;
        else
          when_reader(self, sender, [self, sender, p = std::move(p)]() mutable { on_sync_request(self, sender, p); });
      } else {
        static_assert(std::is_same_v<T, p2p::ledger_sync_response>);
        on_sync_response(self, sender, p);
      }
    },
    *payload);
}

sync_stats stats_of(const sync_coordinator_state& st) {
  sync_stats s;
  for (const auto& l : st.links)
    s.links.push_back({l.kind, l.where});
  if (st.planner.pulling_from())
    s.pulling_from = *st.planner.pulling_from();
  if (auto pull = st.planner.in_flight()) {
    // The planner's times come from a steady clock: only differences mean anything outside it.
    const auto now = util::steady_ms();
    s.waiting = true;
    s.in_flight = pull_stats{pull->peer, now - pull->started_ms, now - pull->request_sent_ms,
                             pull->pages, pull->full};
  }
  s.peers_known = st.route.size();
  s.pulls = st.planner.pulls_started();
  s.full_pulls = st.planner.full_pulls();
  s.pulls_cut = st.planner.pulls_cut();
  s.messages_in = st.messages_in;
  s.messages_out = st.messages_out;
  s.duplicates_dropped = st.duplicates_dropped;
  s.not_for_us = st.not_for_us;
  s.requests_dropped = st.requests_dropped;
  s.malformed = st.malformed;
  s.spoofed = st.spoofed;
  s.other_protocol_dropped = st.other_protocol_dropped;
  s.other_network_dropped = st.other_network_dropped;
  s.not_member_dropped = st.not_member_dropped;
  s.other_protocol = {st.other_protocol.begin(), st.other_protocol.end()};
  s.entries_received_sync = st.entries_received_sync;
  s.entries_received_announce = st.entries_received_announce;
  s.entries_sent_sync = st.entries_sent_sync;
  s.pages_in_process = st.pages_in_process;
  s.pages_deferred = st.pages_deferred;
  s.pages_dropped = st.pages_dropped;
  s.entries_rejected = st.entries_rejected;
  s.merges_in_flight = st.merges_in_flight;
  s.merges_dropped = st.merges_dropped;
  s.in_by_type = {st.in_by_type.begin(), st.in_by_type.end()};
  s.out_by_type = {st.out_by_type.begin(), st.out_by_type.end()};
  return s;
}

}  // namespace

sync_coordinator_actor::behavior_type
sync_coordinator(instrumented<sync_coordinator_actor, sync_coordinator_state> self,
                 sync_options options, ledger_actor ledger, peer_registry_actor registry) {
  auto& st = self->state;
  st.planner = ledger::sync_planner(options.planner);
  st.options = std::move(options);
  st.ledger = std::move(ledger);
  st.registry = std::move(registry);
  st.verifier = self->spawn<caf::linked>(entry_verifier, st.options.limits);
  self->send(st.ledger, subscribe_atom::value, caf::actor_cast<ledger_listener_actor>(self));
  self->request(st.ledger, std::chrono::seconds{10}, tip_atom::value)
    .then([self](tip_info& tip) { self->state.tip = std::move(tip); }, [](const caf::error&) {});
  self->send(self, tick_atom::value);
  return {
    [=](appended_atom, const std::vector<std::string>& entries, tip_info& tip) {
      self->state.tip = std::move(tip);
      announce_entries(self, entries);
    },
    [=](reorg_atom, const reorg_event& ev) {
      auto& st = self->state;
      st.tip.height = ev.height;
      st.tip.tip_hash = ev.tip_hash;
      st.reappend_wanted = true;
      announce_entries(self, ev.added);
    },
    [=](p2p_atom, p2p_envelope& env, const p2p_link_actor& link) { on_message(self, env, link); },
    [=](link_up_atom, const p2p_link_actor& link, const std::string& kind,
        const std::string& where, const std::string& relay_proof) {
      self->state.links.push_back({link, kind, where, {}});
      log::info("sync", kind, " link up (", self->state.links.size(), " links)");
      // Tell the other side who we are right away; the relay learns our id from this.
      net::p2p_message hello;
      hello.type = p2p_type::node_announce;
      hello.message_id = net::new_message_id();
      hello.sender_id = self->state.options.node_id;
      hello.network_id = self->state.options.network_id;
      hello.payload_json = p2p::encode(announce_payload(self->state, relay_proof));
      ++self->state.messages_out;
      ++self->state.out_by_type[std::string(net::to_string(p2p_type::node_announce))];
      self->send(link, send_atom::value, net::encode(hello));
    },
    [=](link_down_atom, const p2p_link_actor& link) {
      auto& st = self->state;
      std::erase_if(st.links, [&](const auto& l) { return l.handle == link; });
      for (auto it = st.route.begin(); it != st.route.end();) {
        if (it->second == link) {
          st.planner.abandon(it->first);
          it = st.route.erase(it);
        } else {
          ++it;
        }
      }
      log::info("sync", "link down (", st.links.size(), " links left)");
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.planner.tick(util::steady_ms());
      self->request(st.ledger, std::chrono::seconds{10}, tip_atom::value)
        .then(
          [self](tip_info& tip) {
            auto& st = self->state;
            st.tip = std::move(tip);
            if (!st.links.empty())
              announce(self);
            if (st.tip.held > 0)
              request_missing_parents(self);
            maybe_reappend(self);
          },
          [](const caf::error&) {});
      self->delayed_send(self, st.options.announce_interval, tick_atom::value);
    },
    [=](advertise_atom, std::string& address) { self->state.options.address = std::move(address); },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, to_json(stats_of(self->state))); },
    [=](stats_atom) { return stats_of(self->state); },
  };
}

}  // namespace gsio::actors
