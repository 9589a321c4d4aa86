#include "actors/client_session.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <caf/all.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/demo_events.hpp"
#include "crypto/random.hpp"
#include "crypto/signature.hpp"
#include "ledger/canonical_json.hpp"
#include "ledger/membership.hpp"
#include "net/p2p_message.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"
#include "util/json_object.hpp"
#include "util/json_parse.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"

namespace gsio::actors {
namespace {

using self_ptr = instrumented<client_session_actor, client_session_state>;

std::string join_array(const std::vector<std::string>& items) {
  std::size_t size = 2;
  for (auto& item : items)
    size += item.size() + 1;
  std::string out;
  out.reserve(size);
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0)
      out += ',';
    out += items[i];
  }
  out += ']';
  return out;
}

// The arguments of an event, parsed; nullptr after reporting the problem to the client.
std::unique_ptr<rapidjson::Document> parse_args(self_ptr self, const client_event& ev) {
  if (const char* refusal = util::exact_json_refusal(ev.args_json)) {
    fail(self, ev, ev.name + ": arguments hold " + refusal);
    return nullptr;
  }
  auto doc = std::make_unique<rapidjson::Document>();
  // Exact numbers: a number must reach the ledger as the double the client meant (ECMAScript
  // parses exactly), not one unit in the last place off.
  if (util::parse_exact(*doc, ev.args_json).IsError() || !doc->IsArray()) {
    fail(self, ev, ev.name + ": arguments are not valid JSON");
    return nullptr;
  }
  return doc;
}

// Takes one of the session's slots for a request other than an add; false after telling the
// client it has too many waiting. Every answer to a request that took a slot gives it back.
bool take_request_slot(self_ptr self, const client_event& ev) {
  auto& st = self->state;
  if (st.requests_in_flight >= st.limits.max_requests_in_flight) {
    fail(self, ev, ev.name + ": too many requests in flight (limit "
                     + std::to_string(st.limits.max_requests_in_flight) + "); wait for answers");
    return false;
  }
  ++st.requests_in_flight;
  return true;
}

void give_back_request_slot(self_ptr self) { --self->state.requests_in_flight; }

bool has_binary_placeholder(const rapidjson::Value& v) {
  if (v.IsObject()) {
    auto it = v.FindMember("_placeholder");
    if (it != v.MemberEnd() && it->value.IsBool() && it->value.GetBool())
      return true;
    for (auto& m : v.GetObject())
      if (has_binary_placeholder(m.value))
        return true;
  } else if (v.IsArray()) {
    for (auto& item : v.GetArray())
      if (has_binary_placeholder(item))
        return true;
  }
  return false;
}

// ---- access on a private network (DESIGN §10, docs/PROTOCOL.md §8, Clients) ----

// Each failed proof costs an Ed25519 verification or a ledger query: a connection gets this many.
constexpr std::uint32_t max_failed_proofs = 8;

bool serves_private_network(const client_session_state& st) { return !st.access.network_id.empty(); }

std::string short_key(std::string_view key) { return std::string(key.substr(0, 16)); }

// Refuses `ev` for want of access: an error to the client, and a count by reason at the ledger
// (gsio_ledger_refusals_total).
void refuse_access(self_ptr self, const client_event& ev, const std::string& reason, const std::string& why) {
  self->send(self->state.ledger, refused_atom::value, reason);
  fail(self, ev, ev.name + ": " + why);
}

// Reads of a members-only network need a proved key.
bool may_read(self_ptr self, const client_event& ev) {
  auto& st = self->state;
  if (!serves_private_network(st) || !st.access.members_only_reads || !st.key.empty())
    return true;
  refuse_access(self, ev, "unauthenticated",
                "network " + short_key(st.access.network_id) +
                  " is for its members: answer the challenge with authenticate {key, sig} first");
  return false;
}

// On a private network a client writes an author's signed post as that author, or a membership
// object that carries its own signature (an admin's statement, a redemption: joining needs no
// membership yet). The ledger checks the signatures and the membership either way.
bool may_write(self_ptr self, const client_event& ev, const rapidjson::Value& data) {
  auto& st = self->state;
  if (!serves_private_network(st))
    return true;
  if (data.IsObject() && data.HasMember("gsio"))
    return true;
  const rapidjson::Value* key = nullptr;
  if (data.IsObject() && data.HasMember("author") && data["author"].IsObject())
    if (auto it = data["author"].FindMember("key"); it != data["author"].MemberEnd() && it->value.IsString())
      key = &it->value;
  if (st.key.empty()) {
    refuse_access(self, ev, "unauthenticated", "a private network takes posts from its authors only: "
                  "answer the challenge with authenticate {key, sig} first");
    return false;
  }
  if (st.role != "author") {
    refuse_access(self, ev, "not_author", "key " + short_key(st.key) + " is a " + st.role +
                  ", and only authors write");
    return false;
  }
  if (!key || std::string_view(key->GetString(), key->GetStringLength()) != st.key) {
    refuse_access(self, ev, "not_author", "a post must carry an author block signed by the key this "
                  "connection proved (" + short_key(st.key) + ")");
    return false;
  }
  return true;
}

// authenticate [{key, sig}]: sig is the key's signature over client_proof_digest of this
// connection's challenge; the key's role at the tip becomes the session's.
void on_authenticate(self_ptr self, const client_event& ev) {
  auto& st = self->state;
  if (!serves_private_network(st))
    return fail(self, ev, "authenticate: this node serves an open network; there is nothing to prove");
  if (!st.key.empty())
    return fail(self, ev, "authenticate: this connection is already authenticated as " + short_key(st.key));
  if (st.authenticating)
    return fail(self, ev, "authenticate: a proof is being checked; wait for its answer");
  auto doc = parse_args(self, ev);
  if (!doc)
    return;
  const rapidjson::Value* arg = doc->Empty() ? nullptr : &(*doc)[0];
  auto text = [arg](const char* name) -> std::string {
    if (!arg || !arg->IsObject())
      return {};
    auto it = arg->FindMember(name);
    return it != arg->MemberEnd() && it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                                           : std::string{};
  };
  const std::string key = text("key"), sig = text("sig");
  auto failed = [self, ev](const std::string& reason, const std::string& why) {
    auto& st = self->state;
    refuse_access(self, ev, reason, why);
    if (++st.failed_proofs >= max_failed_proofs) {
      log::info("session", "socket ", st.info.id, " from ", st.info.remote_address, ": ", st.failed_proofs,
                " failed proofs; disconnecting");
      st.server->disconnect(st.info.id);
    }
  };
  const auto digest = ledger::client_proof_digest(st.access.network_id, st.access.node_id, st.challenge, key);
  if (!crypto::verify_hex(key, digest, sig))
    return failed("bad_client_proof", "the signature does not prove key " + short_key(key) +
                                        " for this connection's challenge");
  st.authenticating = true;
  self->request(st.ledger, std::chrono::seconds{10}, get_atom::value, role_atom::value, key)
    .then(
      [=](const std::string& role) {
        auto& st = self->state;
        st.authenticating = false;
        if (role.empty())
          return failed("not_member", "key " + short_key(key) + " is not a member of network " +
                                        short_key(st.access.network_id));
        st.key = key;
        st.role = role;
        if (st.access.members_only_reads)
          st.server->receive_broadcasts(st.info.id, true);
        util::json_object answer;
        answer.text("key", key).text("role", role);
        ack(self, ev, args_of(answer.finish()));
      },
      [=](caf::error& err) {
        self->state.authenticating = false;
        fail(self, ev, "authenticate: the ledger is unavailable (" + to_string(err) + ")");
      });
}

void on_add(self_ptr self, const client_event& ev) {
  auto& st = self->state;
  auto doc = parse_args(self, ev);
  if (!doc)
    return;
  if (doc->Empty())
    return fail(self, ev, "add_ledger_entry needs the entry data as its first argument");
  auto& data = (*doc)[0];
  if (!ev.attachments.empty() || has_binary_placeholder(data))
    return fail(self, ev, "add_ledger_entry: binary data cannot be stored in an entry; send JSON");
  if (!may_write(self, ev, data))
    return;
  if (st.adds_in_flight >= st.limits.max_adds_in_flight)
    return fail(self, ev,
                "add_ledger_entry: too many requests in flight (limit "
                  + std::to_string(st.limits.max_adds_in_flight) + "); wait for acks");
  std::string canonical;
  try {
    canonical = ledger::canonicalize(data);
  } catch (const std::exception& ex) {
    return fail(self, ev, std::string{"add_ledger_entry: "} + ex.what());
  }
  ++st.adds_in_flight;
  self->request(st.ledger, caf::infinite, add_atom::value, std::move(canonical))
    .then(
      [=](add_result& result) {
        --self->state.adds_in_flight;
        if (!result.error.empty())
          return fail(self, ev, "add_ledger_entry: " + result.error);
        // Every client, this one included, receives ledger_entry_added from the gateway's
        // broadcast; the adder also gets the stored entry in its ack.
        ack(self, ev, args_of(std::move(result.entry_json)));
      },
      [=](caf::error& err) {
        --self->state.adds_in_flight;
        fail(self, ev, "add_ledger_entry: the ledger is unavailable (" + to_string(err) + ")");
      });
}

// Reads {from, limit}; returns false after reporting a bad argument.
bool read_paging(self_ptr self, const client_event& ev, const rapidjson::Value& arg,
                 std::uint64_t& from, std::uint64_t& limit) {
  if (arg.IsNull())
    return true;
  if (!arg.IsObject()) {
    fail(self, ev, "get_ledger: the argument must be an object {from, limit}");
    return false;
  }
  for (auto& m : arg.GetObject()) {
    std::string_view key{m.name.GetString(), m.name.GetStringLength()};
    if (key != "from" && key != "limit") {
      fail(self, ev, "get_ledger: unknown option '" + std::string{key} + "' (use from, limit)");
      return false;
    }
    if (!m.value.IsUint64()) {
      fail(self, ev, "get_ledger: '" + std::string{key} + "' must be a non-negative integer");
      return false;
    }
    if (key == "from")
      from = m.value.GetUint64();
    else
      limit = std::min(m.value.GetUint64(), self->state.limits.max_page_entries);
  }
  return true;
}

void on_get_ledger(self_ptr self, const client_event& ev) {
  auto doc = parse_args(self, ev);
  if (!doc)
    return;
  std::uint64_t from = 0;
  std::uint64_t limit = self->state.limits.max_unpaged_entries;
  if (!doc->Empty()) {
    if ((*doc)[0].IsObject() && !(*doc)[0].HasMember("limit"))
      limit = self->state.limits.max_page_entries;
    if (!read_paging(self, ev, (*doc)[0], from, limit))
      return;
  }
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.ledger, caf::infinite, get_atom::value, from, limit,
                self->state.limits.max_page_bytes)
    .then(
      [=](const entries_page& page) {
        give_back_request_slot(self);
        if (!page.complete) {
          // `fits` tells a client how many to ask for instead (clients/ts getFullLedger, gsio).
          const auto asked = std::min(limit, page.height - page.from);  // incomplete: from < height
          const auto message = "get_ledger: " + std::to_string(asked) + " entries from " +
                               std::to_string(page.from) + " on exceed the " +
                               std::to_string(self->state.limits.max_page_bytes) +
                               " bytes of one answer; ask for at most " +
                               std::to_string(page.entries.size()) + " (the error's \"fits\")";
          ++self->state.errors;
          auto body = error_object(message);
          body.pop_back();
          body += ",\"fits\":" + std::to_string(page.entries.size()) + "}";
          emit(self, "error", args_of(body));
          ack(self, ev, args_of(body));
          return;
        }
        auto body = args_of(join_array(page.entries));
        if (ev.wants_ack)
          ack(self, ev, std::move(body));
        else
          emit(self, "ledger_entries", std::move(body));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "get_ledger: " + to_string(err));
      });
}

void on_get_entry(self_ptr self, const client_event& ev) {
  auto doc = parse_args(self, ev);
  if (!doc)
    return;
  if (doc->Empty() || !(*doc)[0].IsString())
    return fail(self, ev, "get_entry: the argument must be an entry id (string)");
  std::string id{(*doc)[0].GetString(), (*doc)[0].GetStringLength()};
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.ledger, caf::infinite, get_atom::value, entry_atom::value, id)
    .then(
      [=](const std::string& entry_json) {
        give_back_request_slot(self);
        if (entry_json.empty())
          return fail(self, ev, "get_entry: no entry with id '" + id + "' on the chain");
        if (ev.wants_ack)
          ack(self, ev, args_of(entry_json));
        else
          emit(self, "ledger_entry", args_of(entry_json));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "get_entry: " + to_string(err));
      });
}

// Reads find_entries' {author, nickname, text, from_us, to_us, before, limit}; "" or what is wrong.
std::string read_history_query(const rapidjson::Value& arg, const session_limits& limits,
                               history_query& out) {
  if (!arg.IsObject())
    return "the argument must be an object {author, nickname, text, from_us, to_us, before, limit}";
  for (auto& m : arg.GetObject()) {
    const std::string key{m.name.GetString(), m.name.GetStringLength()};
    if (key == "author" || key == "nickname" || key == "text") {
      if (!m.value.IsString())
        return "'" + key + "' must be a string";
      std::string value{m.value.GetString(), m.value.GetStringLength()};
      if (key == "author") {
        if (!util::is_lower_hex(value, 64))
          return "'author' must be a node id (64 lowercase hex digits)";
        out.query.author = std::move(value);
      } else if (value.size() > limits.max_search_text) {
        return "'" + key + "' is longer than " + std::to_string(limits.max_search_text) + " bytes";
      } else {
        (key == "nickname" ? out.query.nickname : out.query.text) = std::move(value);
      }
    } else if (key == "from_us" || key == "to_us" || key == "before" || key == "limit") {
      if (!m.value.IsUint64())
        return "'" + key + "' must be a non-negative integer";
      const auto value = m.value.GetUint64();
      if (key == "before")
        out.before = value;
      else if (key == "limit")
        out.limit = std::min(value, limits.max_search_results);
      else if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return "'" + key + "' is out of range";
      else
        (key == "from_us" ? out.query.from_us : out.query.to_us) = static_cast<std::int64_t>(value);
    } else {
      return "unknown option '" + key + "' (use author, nickname, text, from_us, to_us, before, limit)";
    }
  }
  if (out.limit == 0)
    return "'limit' must be at least 1";
  return {};
}

std::string history_json(const history_page& page) {
  std::string out = "{\"entries\":" + join_array(page.entries) + ",\"heights\":[";
  for (std::size_t i = 0; i < page.heights.size(); ++i)
    out += (i ? "," : "") + std::to_string(page.heights[i]);
  out += "],\"next\":" + (page.next == 0 ? std::string("null") : std::to_string(page.next));
  out += ",\"scanned\":" + std::to_string(page.scanned) + ",\"height\":" + std::to_string(page.height) + "}";
  return out;
}

void on_find_entries(self_ptr self, const client_event& ev) {
  auto doc = parse_args(self, ev);
  if (!doc)
    return;
  const auto& limits = self->state.limits;
  history_query query;
  query.before = std::numeric_limits<std::uint64_t>::max();
  query.max_scan = limits.max_search_scan;
  query.max_bytes = limits.max_page_bytes;
  if (!doc->Empty() && !(*doc)[0].IsNull())
    if (auto why = read_history_query((*doc)[0], limits, query); !why.empty())
      return fail(self, ev, "find_entries: " + why);
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.ledger, caf::infinite, find_atom::value, std::move(query))
    .then(
      [=](const history_page& page) {
        give_back_request_slot(self);
        auto body = args_of(history_json(page));
        if (ev.wants_ack)
          ack(self, ev, std::move(body));
        else
          emit(self, "found_entries", std::move(body));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "find_entries: " + to_string(err));
      });
}

// {nodes: [id, ...], peers: [{node_id, ...}, ...]}: `nodes` as the original client API has it,
// the ids alone; `peers` with what this node knows of each (docs/PROTOCOL.md §2).
std::string nodes_json(const std::vector<node_record>& nodes) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("nodes");
  w.StartArray();
  for (auto& n : nodes)
    w.String(n.node_id.c_str());
  w.EndArray();
  w.Key("peers");
  w.StartArray();
  for (auto& n : nodes) {
    const auto record = to_json(n);
    w.RawValue(record.data(), record.size(), rapidjson::kObjectType);
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void on_get_known_nodes(self_ptr self, const client_event& ev) {
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.registry, caf::infinite, peers_atom::value)
    .then(
      [=](const std::vector<node_record>& nodes) {
        give_back_request_slot(self);
        auto body = args_of(nodes_json(nodes));
        emit(self, "known_nodes", body);
        ack(self, ev, std::move(body));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "get_known_nodes: " + to_string(err));
      });
}

void reply_node_info(self_ptr self, const client_event& ev, const tip_info& tip,
                     const std::string& sync_json) {
  util::json_object info;
  info.text("node_id", tip.node_id)
    .count("protocol", net::protocol_version)
    .count("height", tip.height)
    .text("tip_hash", tip.tip_hash)
    .count("entries", tip.entries)
    .count("forks", tip.forks)
    .count("held", tip.held)
    .raw_or_null("sync", sync_json);
  auto body = args_of(info.finish());
  if (ev.wants_ack)
    ack(self, ev, std::move(body));
  else
    emit(self, "node_info", std::move(body));
}

// The tip from the ledger and the P2P counters from the sync coordinator (links, pulls, entries
// received by sync or announcement), so operators and tests can see what crossed the wire.
void on_node_info(self_ptr self, const client_event& ev) {
  if (!take_request_slot(self, ev))
    return;
  auto answer = [=](const tip_info& tip, const std::string& sync_json) {
    give_back_request_slot(self);
    reply_node_info(self, ev, tip, sync_json);
  };
  self->request(self->state.ledger, caf::infinite, tip_atom::value)
    .then(
      [=](const tip_info& tip) {
        if (!self->state.coordinator)
          return answer(tip, {});
        self->request(self->state.coordinator, std::chrono::seconds{10}, stats_atom::value)
          .then([=](const sync_stats& sync) { answer(tip, to_json(sync)); },
                [=](caf::error&) { answer(tip, {}); });
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "node_info: " + to_string(err));
      });
}

void on_verify_ledger(self_ptr self, const client_event& ev) {
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.ledger, caf::infinite, verify_atom::value)
    .then(
      [=](const std::string& problem) {
        give_back_request_slot(self);
        std::string body = problem.empty() ? std::string{"[{\"valid\":true}]"}
                                           : args_of("{\"valid\":false,\"error\":"
                                                     + [&] {
                                                         std::string s;
                                                         ledger::append_canonical_string(problem, s);
                                                         return s;
                                                       }()
                                                     + "}");
        if (ev.wants_ack)
          ack(self, ev, std::move(body));
        else
          emit(self, "ledger_verified", std::move(body));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "verify_ledger: " + to_string(err));
      });
}

// The membership of a private network (DESIGN §10): who may write, and who admitted or removed
// whom on the canonical chain. An open network answers {network: null, members: [], changes: []}.
void on_get_members(self_ptr self, const client_event& ev) {
  if (!take_request_slot(self, ev))
    return;
  self->request(self->state.ledger, caf::infinite, get_atom::value, members_atom::value)
    .then(
      [=](const members_view& view) {
        give_back_request_slot(self);
        auto body = args_of(to_json(view));
        if (ev.wants_ack)
          ack(self, ev, std::move(body));
        else
          emit(self, "members", std::move(body));
      },
      [=](caf::error& err) {
        give_back_request_slot(self);
        fail(self, ev, "get_members: " + to_string(err));
      });
}

void dispatch(self_ptr self, client_event& ev) {
  auto& st = self->state;
  ++st.events_in;
  if (ev.name == "add_ledger_entry")
    return on_add(self, ev);
  if (ev.name == "authenticate")
    return on_authenticate(self, ev);
  const bool is_read = ev.name == "get_ledger" || ev.name == "get_known_nodes" || ev.name == "get_entry" ||
                       ev.name == "find_entries" ||
                       ev.name == "node_info" || ev.name == "verify_ledger" || ev.name == "get_members";
  if (is_read && !may_read(self, ev))
    return;
  if (ev.name == "get_ledger")
    return on_get_ledger(self, ev);
  if (ev.name == "get_known_nodes")
    return on_get_known_nodes(self, ev);
  if (ev.name == "get_entry")
    return on_get_entry(self, ev);
  if (ev.name == "find_entries")
    return on_find_entries(self, ev);
  if (ev.name == "node_info")
    return on_node_info(self, ev);
  if (ev.name == "verify_ledger")
    return on_verify_ledger(self, ev);
  if (ev.name == "get_members")
    return on_get_members(self, ev);
  if (answer_demo_event(self, ev))
    return;
  fail(self, ev, "unknown event '" + ev.name + "'");
}

session_stats stats_of(const client_session_state& st) {
  auto s = socket_stats(st);
  s.adds_in_flight = st.adds_in_flight;
  s.requests_in_flight = st.requests_in_flight;
  return s;
}

}  // namespace

client_session_actor::behavior_type
client_session(instrumented<client_session_actor, client_session_state> self,
               net::socket_info info, std::shared_ptr<net::server> server, ledger_actor ledger,
               peer_registry_actor registry, sync_coordinator_actor coordinator,
               session_limits limits, client_access access) {
  auto& st = self->state;
  st.coordinator = std::move(coordinator);
  st.info = std::move(info);
  st.server = std::move(server);
  st.ledger = std::move(ledger);
  st.registry = std::move(registry);
  st.limits = limits;
  st.access = std::move(access);
  st.connected_since_ms = util::now_unix_ms();
  if (serves_private_network(st)) {
    // Before `auth`, which every node sends: a client that has seen `auth` knows whether a
    // challenge came.
    st.challenge = crypto::random_hex(32);
    util::json_object challenge;
    challenge.text("network_id", st.access.network_id)
      .text("network_name", st.access.network_name)
      .text("node_id", st.access.node_id)
      .text("challenge", st.challenge)
      .text("read", st.access.members_only_reads ? "members" : "anyone");
    emit(self, "challenge", args_of(challenge.finish()));
  }
  emit(self, "auth", args_of(st.info.auth_json.empty() ? "{}" : st.info.auth_json));
  return {
    [=](event_atom, client_event& ev) { dispatch(self, ev); },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, to_json(stats_of(self->state))); },
    [=](stats_atom) { return stats_of(self->state); },
  };
}

}  // namespace gsio::actors
