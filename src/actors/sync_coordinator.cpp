#include "actors/sync_coordinator.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <span>

#include <caf/all.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/announce_proof.hpp"
#include "net/p2p_message.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"
#include "util/json_parse.hpp"
#include "util/log.hpp"

namespace gsio::actors {

bool seen_messages::first_time(std::string_view sender_id, std::string_view message_id) {
  // The sender's length first, so that no other pair of strings makes the same key.
  std::string id = std::to_string(sender_id.size());
  id.append(1, ':').append(sender_id).append(message_id);
  if (!ids_.insert(id).second)
    return false;
  order_.push_back(id);
  if (order_.size() > capacity_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

namespace {

using self_ptr = instrumented<sync_coordinator_actor, sync_coordinator_state>;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
using net::p2p_type;

constexpr std::size_t max_hashes_per_request = 256;
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

// Entries are canonical JSON, which puts creator_node_id first: checking the prefix is exact.
bool created_by(const std::string& entry_json, const std::string& node_id) {
  static constexpr std::string_view prefix = "{\"creator_node_id\":\"";
  return entry_json.size() > prefix.size() + node_id.size() &&
         entry_json.compare(0, prefix.size(), prefix) == 0 &&
         entry_json.compare(prefix.size(), node_id.size(), node_id) == 0;
}

void write_entries(json_writer& w, std::span<const std::string> entries) {
  w.StartArray();
  for (const auto& e : entries)
    w.RawValue(e.data(), e.size(), rapidjson::kObjectType);
  w.EndArray();
}

// Entries of a payload array, re-serialized one by one (the ledger parses and checks them);
// nullopt for more than `max`. Nothing this node asks for holds more, and a message of a few
// megabytes of tiny objects would otherwise become a page of a million entries to check.
std::optional<std::vector<std::string>> read_entries(const rapidjson::Value& array, std::size_t max) {
  std::vector<std::string> out;
  if (!array.IsArray())
    return out;
  if (array.Size() > max)
    return std::nullopt;
  out.reserve(array.Size());
  for (const auto& item : array.GetArray()) {
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    item.Accept(w);
    out.emplace_back(buf.GetString(), buf.GetSize());
  }
  return out;
}

std::string string_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString()
           ? std::string(it->value.GetString(), it->value.GetStringLength())
           : std::string();
}

// What a peer says of a node, kept only when well-formed: an address is at most
// max_address_bytes (an http:// URL), a tip hash 64 lowercase hex digits. Anything else would be
// kept in the registry and repeated to every client that asks for the known nodes.
constexpr std::size_t max_address_bytes = 512;

std::string address_member(const rapidjson::Value& object) {
  auto address = string_member(object, "address");
  return address.size() <= max_address_bytes ? address : std::string();
}

std::string tip_hash_member(const rapidjson::Value& object) {
  auto hash = string_member(object, "tip_hash");
  return util::is_lower_hex(hash, 64) ? hash : std::string();
}

std::uint64_t uint_member(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

std::string kind_of(const sync_coordinator_state& st, const p2p_link_actor& link) {
  for (const auto& l : st.links)
    if (l.handle == link)
      return l.kind;
  return "unknown";
}

// Sends one message: directed messages go over the link the recipient was last heard on (every
// link if unknown), broadcasts over every link.
void send_message(self_ptr self, p2p_type type, const std::string& recipient, std::string payload) {
  auto& st = self->state;
  net::p2p_message message;
  message.type = type;
  message.message_id = net::new_message_id();
  message.sender_id = st.options.node_id;
  message.recipient_id = recipient;
  message.payload_json = std::move(payload);
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
    self->send(link.handle, send_atom::value, frame);
}

std::string announce_payload(const sync_coordinator_state& st, const std::string& relay_proof = {}) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key(net::protocol_member.data(), static_cast<rapidjson::SizeType>(net::protocol_member.size()));
  w.Uint64(net::protocol_version);
  w.Key("node_id");
  w.String(st.options.node_id);
  w.Key("address");
  w.String(st.options.address);
  w.Key("height");
  w.Uint64(st.tip.height);
  w.Key("tip_hash");
  w.String(st.tip.tip_hash);
  w.Key("entries");
  w.Uint64(st.tip.entries);
  if (!relay_proof.empty()) {
    w.Key(net::relay_proof_member.data(),
          static_cast<rapidjson::SizeType>(net::relay_proof_member.size()));
    w.String(relay_proof);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void announce(self_ptr self, const std::string& recipient = {}) {
  send_message(self, p2p_type::node_announce, recipient, announce_payload(self->state));
}

void announce_entries(self_ptr self, const std::vector<std::string>& entries) {
  auto& st = self->state;
  if (st.links.empty())
    return;  // a node without links (yet) catches up through sync when one comes up
  for (const auto& e : entries) {
    if (!created_by(e, st.options.node_id))
      continue;  // others announce their own entries; relaying them would multiply traffic
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    w.Key("entry");
    w.RawValue(e.data(), e.size(), rapidjson::kObjectType);
    w.Key("height");
    w.Uint64(st.tip.height);
    w.Key("tip_hash");
    w.String(st.tip.tip_hash);
    w.EndObject();
    send_message(self, p2p_type::entry_announce, {}, {buf.GetString(), buf.GetSize()});
  }
}

void send_pull(self_ptr self, const ledger::sync_planner::pull& pull) {
  auto limit = self->state.options.page_limit;
  auto send_request = [self, peer = pull.peer, limit](const std::vector<std::string>& locator,
                                                      bool has_cursor, std::uint64_t cursor) {
    rapidjson::StringBuffer buf;
    json_writer w{buf};
    w.StartObject();
    w.Key("locator");
    w.StartArray();
    for (const auto& hash : locator)
      w.String(hash);
    w.EndArray();
    w.Key("cursor");
    if (has_cursor)
      w.Uint64(cursor);
    else
      w.Null();
    w.Key("limit");
    w.Uint64(limit);
    w.EndObject();
    send_message(self, p2p_type::ledger_sync_request, peer, {buf.GetString(), buf.GetSize()});
  };
  if (pull.full)
    log::info("sync", "pulling everything from ", pull.peer.substr(0, 12),
              ": our tips disagree although each knows the other's");
  if (pull.cursor) {
    send_request({}, true, *pull.cursor);
    return;
  }
  self->request(self->state.ledger, std::chrono::seconds{10}, get_atom::value, sync_atom::value)
    .then([send_request](const std::vector<std::string>& locator) { send_request(locator, false, 0); },
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
        if (hashes.size() > max_hashes_per_request)
          hashes.resize(max_hashes_per_request);
        rapidjson::StringBuffer buf;
        json_writer w{buf};
        w.StartObject();
        w.Key("hashes");
        w.StartArray();
        for (const auto& h : hashes)
          w.String(h);
        w.EndArray();
        w.EndObject();
        send_message(self, p2p_type::entry_request, {}, {buf.GetString(), buf.GetSize()});
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

void on_announce(self_ptr self, const std::string& sender, const rapidjson::Value& payload,
                 const std::string& link_kind) {
  auto& st = self->state;
  node_record record;
  record.node_id = sender;
  record.link = link_kind;
  record.address = address_member(payload);
  record.last_seen_ms = util::now_unix_ms();
  record.height = uint_member(payload, "height");
  record.tip_hash = tip_hash_member(payload);
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

// The members of `array` that are entry hashes (64 lowercase hex digits), at most `limit`.
std::vector<std::string> hashes_in(const rapidjson::Value& array, std::size_t limit) {
  std::vector<std::string> hashes;
  for (const auto& hash : array.GetArray()) {
    if (hashes.size() == limit)
      break;
    if (hash.IsString() && util::is_lower_hex({hash.GetString(), hash.GetStringLength()}, 64))
      hashes.emplace_back(hash.GetString(), hash.GetStringLength());
  }
  return hashes;
}

void on_sync_request(self_ptr self, const std::string& sender, const rapidjson::Value& payload) {
  sync_query query;
  if (auto it = payload.FindMember("locator"); it != payload.MemberEnd() && it->value.IsArray())
    query.locator = hashes_in(it->value, 128);
  if (auto it = payload.FindMember("cursor"); it != payload.MemberEnd() && it->value.IsUint64()) {
    query.has_cursor = true;
    query.cursor = it->value.GetUint64();
  }
  query.limit = std::clamp<std::uint64_t>(uint_member(payload, "limit"), 1, 1000);
  if (!take_request_slot(self, sender))
    return;
  self->request(self->state.ledger, std::chrono::seconds{30}, sync_atom::value, query)
    .then(
      [self, sender](const sync_answer& answer) {
        give_back_request_slot(self, sender);
        rapidjson::StringBuffer buf;
        json_writer w{buf};
        w.StartObject();
        w.Key("entries");
        write_entries(w, answer.entries);
        w.Key("next_cursor");
        w.Uint64(answer.next_cursor);
        w.Key("more");
        w.Bool(answer.more);
        w.Key("height");
        w.Uint64(answer.height);
        w.Key("tip_hash");
        w.String(answer.tip_hash);
        w.EndObject();
        self->state.entries_sent_sync += answer.entries.size();
        send_message(self, p2p_type::ledger_sync_response, sender, {buf.GetString(), buf.GetSize()});
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
void on_sync_response(self_ptr self, const std::string& sender, const rapidjson::Value& payload) {
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
  auto entries_it = payload.FindMember("entries");
  auto read = entries_it != payload.MemberEnd() ? read_entries(entries_it->value, st.options.page_limit)
                                                : std::vector<std::string>{};
  if (!read) {
    ++st.malformed;
    log::warn("sync", "dropped a sync page from ", sender.substr(0, 12), " with more than the ",
              st.options.page_limit, " entries asked for");
    return;
  }
  auto entries = std::move(*read);
  st.entries_received_sync += entries.size();
  const bool more = payload.HasMember("more") && payload["more"].IsBool() && payload["more"].GetBool();
  const auto next_cursor = uint_member(payload, "next_cursor");
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

void on_entry_announce(self_ptr self, const std::string& sender, const rapidjson::Value& payload) {
  auto it = payload.FindMember("entry");
  if (it == payload.MemberEnd() || !it->value.IsObject()) {
    ++self->state.malformed;
    return;
  }
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  it->value.Accept(w);
  ++self->state.entries_received_announce;
  merge_entries(self, {std::string(buf.GetString(), buf.GetSize())},
                [self, sender](const merge_result& result) {
                  if (result.held == 0)
                    return;
                  if (auto pull = self->state.planner.on_unknown_parent(sender, util::steady_ms()))
                    send_pull(self, *pull);
                  else
                    request_missing_parents(self);
                });
}

void on_entry_request(self_ptr self, const std::string& sender, const rapidjson::Value& payload) {
  std::vector<std::string> hashes;
  if (auto it = payload.FindMember("hashes"); it != payload.MemberEnd() && it->value.IsArray())
    hashes = hashes_in(it->value, max_hashes_per_request);
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
          rapidjson::StringBuffer buf;
          json_writer w{buf};
          w.StartObject();
          w.Key("entries");
          write_entries(w, std::span{found}.subspan(begin, end - begin));
          w.EndObject();
          send_message(self, p2p_type::entry_response, sender, {buf.GetString(), buf.GetSize()});
          begin = end;
        }
      },
      [self, sender](const caf::error&) { give_back_request_slot(self, sender); });
}

void on_node_list_request(self_ptr self, const std::string& sender) {
  self->request(self->state.registry, std::chrono::seconds{10}, peers_atom::value)
    .then(
      [self, sender](const std::vector<node_record>& nodes) {
        rapidjson::StringBuffer buf;
        json_writer w{buf};
        w.StartObject();
        w.Key("nodes");  // the ids, as the original protocol has them; the details in "peers"
        w.StartArray();
        for (const auto& n : nodes)
          w.String(n.node_id);
        w.EndArray();
        w.Key("peers");
        w.StartArray();
        for (const auto& n : nodes) {
          w.StartObject();
          w.Key("node_id");
          w.String(n.node_id);
          w.Key("address");
          w.String(n.address);
          w.Key("height");
          w.Uint64(n.height);
          w.Key("tip_hash");
          w.String(n.tip_hash);
          w.EndObject();
        }
        w.EndArray();
        w.EndObject();
        send_message(self, p2p_type::node_list_response, sender, {buf.GetString(), buf.GetSize()});
      },
      [](const caf::error&) {});
}

void on_node_list_response(self_ptr self, const std::string& sender, const rapidjson::Value& payload) {
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
  std::set<std::string> detailed;
  if (auto peers = payload.FindMember("peers"); peers != payload.MemberEnd() && peers->value.IsArray()) {
    for (const auto& n : peers->value.GetArray()) {
      if (!n.IsObject())
        continue;
      node_record record;
      record.node_id = string_member(n, "node_id");
      record.address = address_member(n);
      record.height = uint_member(n, "height");
      record.tip_hash = tip_hash_member(n);
      detailed.insert(record.node_id);
      heard_of(std::move(record));
    }
  }
  if (auto nodes = payload.FindMember("nodes"); nodes != payload.MemberEnd() && nodes->value.IsArray()) {
    for (const auto& id : nodes->value.GetArray()) {
      if (!id.IsString() || detailed.contains(id.GetString()))
        continue;
      node_record record;
      record.node_id.assign(id.GetString(), id.GetStringLength());
      heard_of(std::move(record));
    }
  }
}

// Whether `sender` speaks this node's protocol, as far as its last NodeAnnounce says (a node not
// announced yet is taken to). Messages of a node of another protocol are dropped and counted:
// its entries would not validate here, and it could not read ours. Logged once per node and
// protocol, again if it comes back speaking ours.
bool speaks_our_protocol(self_ptr self, const std::string& sender, p2p_type type,
                         const rapidjson::Value& payload) {
  auto& st = self->state;
  auto known = st.other_protocol.find(sender);
  if (type != p2p_type::node_announce) {
    if (known == st.other_protocol.end())
      return true;
    ++st.other_protocol_dropped;
    return false;
  }
  std::uint64_t version = 1;  // protocol 1 announces carried no version
  if (auto it = payload.FindMember(net::protocol_member.data()); it != payload.MemberEnd())
    version = it->value.IsUint64() ? it->value.GetUint64() : 0;  // 0: not a version at all
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
  rapidjson::Document payload;
  if (util::parse_exact(payload, env.payload_json).IsError() || !payload.IsObject()) {
    ++st.malformed;
    return;
  }
  if (!speaks_our_protocol(self, env.sender_id, type, payload))
    return;
  switch (type) {
    case p2p_type::node_announce: return on_announce(self, env.sender_id, payload, kind_of(st, link));
    case p2p_type::node_list_request: return on_node_list_request(self, env.sender_id);
    case p2p_type::node_list_response: return on_node_list_response(self, env.sender_id, payload);
    case p2p_type::entry_announce: return on_entry_announce(self, env.sender_id, payload);
    case p2p_type::entry_request: return on_entry_request(self, env.sender_id, payload);
    case p2p_type::entry_response: {
      auto it = payload.FindMember("entries");
      auto entries = it != payload.MemberEnd() ? read_entries(it->value, max_hashes_per_request)
                                               : std::vector<std::string>{};
      if (!entries) {  // more than an EntryRequest can ask for
        ++st.malformed;
        return;
      }
      st.entries_received_announce += entries->size();
      return merge_entries(self, std::move(*entries), [](const merge_result&) {});
    }
    case p2p_type::ledger_sync_request:
      // A pull is directed: one broadcast would have every node build a page for the sender.
      if (env.recipient_id.empty()) {
        ++st.not_for_us;
        return;
      }
      return on_sync_request(self, env.sender_id, payload);
    case p2p_type::ledger_sync_response: return on_sync_response(self, env.sender_id, payload);
  }
}

std::string inspect_json(const sync_coordinator_state& st) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("links");
  w.StartArray();
  for (const auto& l : st.links)
    w.String(l.kind);
  w.EndArray();
  w.Key("pulling_from");
  if (st.planner.pulling_from())
    w.String(*st.planner.pulling_from());
  else
    w.Null();
  w.Key("in_flight");
  if (auto pull = st.planner.in_flight()) {
    w.StartObject();
    w.Key("peer");
    w.String(pull->peer);
    // The planner's times come from a steady clock: only differences mean anything outside it.
    const auto now = util::steady_ms();
    w.Key("running_ms");
    w.Int64(now - pull->started_ms);
    w.Key("waiting_ms");
    w.Int64(now - pull->request_sent_ms);
    w.Key("pages");
    w.Uint64(pull->pages);
    w.Key("full");
    w.Bool(pull->full);
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("peers_known");
  w.Uint64(st.route.size());
  w.Key("pulls");
  w.Uint64(st.planner.pulls_started());
  w.Key("full_pulls");
  w.Uint64(st.planner.full_pulls());
  w.Key("pulls_cut");  // ended because a page said "more" without moving the cursor
  w.Uint64(st.planner.pulls_cut());
  auto counter = [&](const char* name, std::uint64_t value) {
    w.Key(name);
    w.Uint64(value);
  };
  counter("messages_in", st.messages_in);
  counter("messages_out", st.messages_out);
  counter("duplicates_dropped", st.duplicates_dropped);
  counter("not_for_us", st.not_for_us);
  counter("requests_dropped", st.requests_dropped);
  counter("malformed", st.malformed);
  counter("spoofed", st.spoofed);
  counter("other_protocol_dropped", st.other_protocol_dropped);
  w.Key("other_protocol");  // nodes heard announcing another protocol, with the version
  w.StartObject();
  for (const auto& [node, version] : st.other_protocol) {
    w.Key(node.data(), static_cast<rapidjson::SizeType>(node.size()));
    w.Uint64(version);
  }
  w.EndObject();
  counter("entries_received_sync", st.entries_received_sync);
  counter("entries_received_announce", st.entries_received_announce);
  counter("entries_sent_sync", st.entries_sent_sync);
  counter("pages_in_process", st.pages_in_process);
  counter("pages_deferred", st.pages_deferred);
  counter("pages_dropped", st.pages_dropped);
  counter("entries_rejected", st.entries_rejected);
  counter("merges_in_flight", st.merges_in_flight);
  counter("merges_dropped", st.merges_dropped);
  for (const auto* table : {&st.in_by_type, &st.out_by_type}) {
    w.Key(table == &st.in_by_type ? "in_by_type" : "out_by_type");
    w.StartObject();
    for (const auto& [type, count] : *table) {
      w.Key(type.data(), static_cast<rapidjson::SizeType>(type.size()));
      w.Uint64(count);
    }
    w.EndObject();
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
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
        const std::string& relay_proof) {
      self->state.links.push_back({link, kind, {}});
      log::info("sync", kind, " link up (", self->state.links.size(), " links)");
      // Tell the other side who we are right away; the relay learns our id from this.
      net::p2p_message hello;
      hello.type = p2p_type::node_announce;
      hello.message_id = net::new_message_id();
      hello.sender_id = self->state.options.node_id;
      hello.payload_json = announce_payload(self->state, relay_proof);
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
    [=](inspect_atom) { return inspect_with_vitals(self, inspect_json(self->state)); },
  };
}

}  // namespace gsio::actors
