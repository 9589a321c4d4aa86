// The console actor: its admin port, the command table and the commands.
//
// Over 600 lines on purpose: it holds thirteen commands, each a short function that asks one or
// more actors and formats the answer; they share reply_to, the target list and ask_all, and the
// table at the bottom is the help text. A new command is one function and one table row here;
// split per command, each would need those helpers in a header of its own.
#include "actors/console.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <rapidjson/document.h>

#include "ledger/json_print.hpp"
#include "ledger/sync.hpp"
#include "net/admin_server.hpp"
#include "net/io_thread.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/text_table.hpp"

namespace gsio::actors {

// The admin server and the io thread it runs on. Commands reach the actor through a weak address,
// so the io thread never keeps the actor alive.
struct console_frontend : net::admin_handler {
  console_frontend(caf::actor_addr owner, net::admin_options options)
    : owner(std::move(owner)), server(thread.context(), std::move(options), *this) {}

  ~console_frontend() override { stop(); }

  void start() {
    server.start();
    thread.start();
  }

  void stop() {
    server.stop();
    thread.stop();
  }

  void on_command(net::admin_connection_id id, std::string line) override {
    if (auto hdl = caf::actor_cast<console_actor>(owner))
      caf::anon_send(hdl, console_atom::value, std::uint64_t{id}, std::move(line));
    else
      server.reply(id, false, "the node is shutting down", true);
  }

  caf::actor_addr owner;
  net::io_thread thread;  // declared before the server, which it must outlive
  net::admin_server server;
};

namespace {

using self_ptr = instrumented<console_actor, console_state>;

constexpr std::size_t max_sessions_listed = 200;
constexpr std::uint64_t default_tail = 10;
constexpr std::uint64_t max_tail = 1000;
// Entry JSON the ledger puts in one `ledger tail` answer: a table of a terminal's worth of rows.
constexpr std::uint64_t max_tail_bytes = 16 * 1024 * 1024;
constexpr std::uint64_t default_orphans = 20;

// "850ms", "4.2s", "2m05s", "1h02m", "3d04h".
std::string human_duration(std::int64_t ms) {
  if (ms < 0)
    ms = 0;
  char buf[32];
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  else if (ms < 60'000)
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000);
  else if (ms < 3'600'000)
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  else if (ms < 86'400'000)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms / 3'600'000 % 24));
  return buf;
}

std::string ago(std::int64_t unix_ms) {
  return unix_ms <= 0 ? "-" : human_duration(util::now_unix_ms() - unix_ms) + " ago";
}

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in{line};
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(std::move(w));
  return words;
}

std::optional<std::uint64_t> parse_count(const std::string& text) {
  const auto is_digit = [](unsigned char c) { return c >= '0' && c <= '9'; };
  if (text.empty() || text.size() > 12 || !std::all_of(text.begin(), text.end(), is_digit))
    return std::nullopt;
  return std::stoull(text);
}

// Parsed inspect JSON; an empty optional when the text is not a JSON object.
std::optional<rapidjson::Document> parse_object(const std::string& json) {
  rapidjson::Document doc;
  std::string error;
  if (!ledger::parse_json(json, doc, error) || !doc.IsObject())
    return std::nullopt;
  return doc;
}

std::string string_of(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd())
    return {};
  if (it->value.IsString())
    return {it->value.GetString(), it->value.GetStringLength()};
  if (it->value.IsNull())
    return {};
  return ledger::to_json_text(it->value, false);
}

// One line of a table row for an entry: index, short id, author, short hash, data.
std::vector<std::string> entry_row(const std::string& index, const std::string& entry_json) {
  auto doc = parse_object(entry_json);
  if (!doc)
    return {index, "?", "?", "?", "(unreadable entry)"};
  std::string data = "null";
  if (auto it = doc->FindMember("data"); it != doc->MemberEnd())
    data = ledger::to_json_text(it->value, false);
  return {index, util::short_id(string_of(*doc, "id")),
          util::short_hex(string_of(*doc, "creator_node_id")), util::short_hex(string_of(*doc, "hash")),
          util::truncate_utf8(data, 60)};
}

// ---------------------------------------------------------------------------------------------
// Answering a command

class reply_to {
public:
  reply_to(self_ptr self, std::uint64_t connection) : self_(self), connection_(connection) {}

  void ok(std::string text) const { send(true, std::move(text), false); }
  void error(std::string text) const {
    ++self_->state.errors;
    send(false, std::move(text), false);
  }
  void close(std::string text) const { send(true, std::move(text), true); }
  // The error handler of a request: the actor did not answer (or answered with an error).
  auto on_failure(std::string who) const {
    return [r = *this, who = std::move(who)](caf::error& err) {
      r.error(who + " did not answer: " + caf::to_string(err));
    };
  }

private:
  void send(bool ok, std::string text, bool close_after) const {
    if (auto& fe = self_->state.frontend)
      fe->server.reply(connection_, ok, std::move(text), close_after);
  }
  self_ptr self_;
  std::uint64_t connection_;
};

// An actor the console can inspect.
struct target {
  std::string kind;  // the name it is known by before it answers
  caf::actor handle;
};

// The node's actors: the fixed ones, then one client session per connected socket (at most
// `max_sessions`; `total_sessions` says how many there are).
void list_targets(self_ptr self, std::size_t max_sessions,
                  std::function<void(std::vector<target>, std::size_t total_sessions)> done,
                  reply_to reply) {
  auto& t = self->state.targets;
  std::vector<target> out{
    {"ledger", caf::actor_cast<caf::actor>(t.ledger)},
    {"peer-registry", caf::actor_cast<caf::actor>(t.registry)},
    {"sync-coordinator", caf::actor_cast<caf::actor>(t.coordinator)},
    {"gateway", caf::actor_cast<caf::actor>(t.gateway)},
  };
  for (auto& link : t.relay_links)
    out.push_back({"relay-link", caf::actor_cast<caf::actor>(link)});
  for (auto& link : t.peer_links)
    out.push_back({"peer-link", caf::actor_cast<caf::actor>(link)});
  out.push_back({"console", caf::actor_cast<caf::actor>(self)});
  self->request(t.gateway, self->state.options.request_timeout, sessions_atom::value)
    .then(
      [out = std::move(out), max_sessions, done](std::vector<socket_session_actor>& sessions) mutable {
        std::sort(sessions.begin(), sessions.end(),
                  [](const auto& a, const auto& b) { return a.id() < b.id(); });
        for (std::size_t i = 0; i < sessions.size() && i < max_sessions; ++i)
          out.push_back({"client-session", caf::actor_cast<caf::actor>(sessions[i])});
        done(std::move(out), sessions.size());
      },
      reply.on_failure("the gateway"));
}

// Asks every target `atom`; `done` gets one answer of type T per target (nullopt for an actor
// that did not answer in time or has gone).
template <class T, class Atom>
void ask_all(self_ptr self, const std::vector<target>& targets, Atom atom,
             std::function<void(std::vector<std::optional<T>>)> done) {
  struct batch {
    std::vector<std::optional<T>> answers;
    std::size_t pending;
    std::function<void(std::vector<std::optional<T>>)> done;
  };
  auto b = std::make_shared<batch>(batch{std::vector<std::optional<T>>(targets.size()),
                                         targets.size(), std::move(done)});
  if (targets.empty()) {
    b->done({});
    return;
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    auto finish = [b] {
      if (--b->pending == 0)
        b->done(std::move(b->answers));
    };
    self->request(targets[i].handle, self->state.options.request_timeout, atom)
      .then(
        [b, i, finish](T& answer) {
          b->answers[i] = std::move(answer);
          finish();
        },
        [finish](caf::error&) { finish(); });
  }
}

// Inspect JSON of the first target of `kind` (the fixed actors are always there).
void inspect_one(self_ptr self, const caf::actor& handle, const std::string& who, reply_to reply,
                 std::function<void(const rapidjson::Document&)> use) {
  self->request(handle, self->state.options.request_timeout, inspect_atom::value)
    .then(
      [reply, who, use](std::string& json) {
        auto doc = parse_object(json);
        if (!doc) {
          reply.error(who + " answered with something that is not a JSON object");
          return;
        }
        use(*doc);
      },
      reply.on_failure(who));
}

// ---------------------------------------------------------------------------------------------
// The commands

struct command {
  const char* name;
  const char* usage;
  const char* help;
  void (*run)(self_ptr, const std::vector<std::string>& args, reply_to);
  std::size_t min_args;
  std::size_t max_args;
};

extern const std::vector<command> commands;

void run_help(self_ptr, const std::vector<std::string>&, reply_to reply) {
  util::text_table t{{"COMMAND", "WHAT IT SHOWS"}};
  for (const auto& c : commands)
    t.add_row({c.usage, c.help});
  reply.ok(t.render() + "Arguments in <> are required, in [] optional.\n");
}

void run_actors(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  list_targets(
    self, 50,
    [self, reply](std::vector<target> targets, std::size_t total_sessions) {
      ask_all<actor_vitals>(self, targets, vitals_atom::value, [reply, targets, total_sessions](auto answers) {
        util::text_table t{{"NAME", "ID", "MAILBOX", "UPTIME", "HANDLED"}};
        for (std::size_t i = 0; i < targets.size(); ++i) {
          if (!answers[i]) {
            t.add_row({targets[i].kind, std::to_string(targets[i].handle.id()), "-", "-",
                       "(no answer)"});
            continue;
          }
          const auto& v = *answers[i];
          t.add_row({v.name, std::to_string(v.id), std::to_string(v.mailbox),
                     human_duration(v.uptime_ms), std::to_string(v.handled)});
        }
        auto text = t.render();
        const auto listed_sessions = static_cast<std::size_t>(
          std::count_if(targets.begin(), targets.end(),
                        [](const target& x) { return x.kind == "client-session"; }));
        if (total_sessions > listed_sessions)
          text += "... and " + std::to_string(total_sessions - listed_sessions) +
                  " more client sessions (see `sessions`)\n";
        reply.ok(std::move(text));
      });
    },
    reply);
}

void run_inspect(self_ptr self, const std::vector<std::string>& args, reply_to reply) {
  const std::string wanted = args[0];
  list_targets(
    self, std::numeric_limits<std::size_t>::max(),
    [self, reply, wanted](std::vector<target> targets, std::size_t) {
      std::vector<target> matches;
      for (auto& t : targets)
        if (t.kind == wanted || std::to_string(t.handle.id()) == wanted)
          matches.push_back(t);
      if (matches.empty()) {
        reply.error("no actor named or numbered '" + wanted +
                    "' (see `actors`; names: ledger, peer-registry, sync-coordinator, gateway, "
                    "relay-link, peer-link, console, client-session)");
        return;
      }
      if (matches.size() > 1) {
        std::string ids;
        for (std::size_t i = 0; i < matches.size() && i < 20; ++i)
          ids += (i ? ", " : "") + std::to_string(matches[i].handle.id());
        reply.error("'" + wanted + "' names " + std::to_string(matches.size()) +
                    " actors; inspect one by its id: " + ids + (matches.size() > 20 ? ", ..." : ""));
        return;
      }
      inspect_one(self, matches[0].handle, matches[0].kind, reply,
                  [reply](const rapidjson::Document& doc) {
                    reply.ok(ledger::to_json_text(doc, true) + "\n");
                  });
    },
    reply);
}

void run_ledger(self_ptr self, const std::vector<std::string>& args, reply_to reply) {
  const auto& sub = args[0];
  auto& ledger = self->state.targets.ledger;
  const auto timeout = self->state.options.request_timeout;
  if (sub == "tail") {
    if (args.size() > 2) {
      reply.error("usage: ledger tail [N]");
      return;
    }
    auto n = args.size() == 2 ? parse_count(args[1]) : std::optional<std::uint64_t>{default_tail};
    if (!n || *n == 0 || *n > max_tail) {
      reply.error("ledger tail: N must be a number from 1 to " + std::to_string(max_tail));
      return;
    }
    self->request(ledger, timeout, tip_atom::value)
      .then(
        [self, reply, n = *n, ledger, timeout](const tip_info& tip) {
          const auto from = tip.height > n ? tip.height - n : 0;
          self->request(ledger, timeout, get_atom::value, from, n, max_tail_bytes)
            .then(
              [reply](const entries_page& page) {
                if (page.entries.empty()) {
                  reply.ok("the ledger is empty\n");
                  return;
                }
                util::text_table t{{"#", "ID", "AUTHOR", "HASH", "DATA"}};
                for (std::size_t i = 0; i < page.entries.size(); ++i)
                  t.add_row(entry_row(std::to_string(page.from + i), page.entries[i]));
                std::string note;
                if (!page.complete)
                  note = "only the first " + std::to_string(page.entries.size()) +
                         " entries: they fill the " + std::to_string(max_tail_bytes >> 20) +
                         " MiB of one answer\n";
                reply.ok(t.render() + note + "height " + std::to_string(page.height) + "\n");
              },
              reply.on_failure("the ledger"));
        },
        reply.on_failure("the ledger"));
    return;
  }
  if (sub == "show") {
    if (args.size() != 2) {
      reply.error("usage: ledger show <entry id or hash>");
      return;
    }
    const auto key = args[1];
    auto print = [reply](const std::string& json, const char* where) {
      auto doc = parse_object(json);
      if (!doc) {
        reply.error("the ledger returned an unreadable entry");
        return;
      }
      reply.ok(ledger::to_json_text(*doc, true) + "\n(" + where + ")\n");
    };
    self->request(ledger, timeout, get_atom::value, entry_atom::value, key)
      .then(
        [self, reply, key, ledger, timeout, print](const std::string& json) {
          if (!json.empty()) {
            print(json, "on the canonical chain");
            return;
          }
          // Not a canonical id: maybe a hash, of any branch.
          self->request(ledger, timeout, get_atom::value, hashes_atom::value,
                        std::vector<std::string>{key})
            .then(
              [self, reply, key, ledger, timeout, print](const std::vector<std::string>& found) {
                if (found.empty()) {
                  reply.error("no entry with id or hash '" + key + "'");
                  return;
                }
                self->request(ledger, timeout, relate_atom::value, key)
                  .then(
                    [reply, print, json = found.front()](std::uint8_t relation) {
                      using rel = ledger::sync_planner::tip_relation;
                      const auto r = static_cast<rel>(relation);
                      print(json, r == rel::same || r == rel::behind
                                    ? "on the canonical chain"
                                    : "off the canonical chain, on a side branch");
                    },
                    reply.on_failure("the ledger"));
              },
              reply.on_failure("the ledger"));
        },
        reply.on_failure("the ledger"));
    return;
  }
  if (sub == "verify") {
    if (args.size() != 1) {
      reply.error("usage: ledger verify");
      return;
    }
    self->request(ledger, std::chrono::seconds{120}, verify_atom::value)
      .then(
        [self, reply, ledger, timeout](const std::string& problem) {
          if (!problem.empty()) {
            reply.error("FAILED: " + problem);
            return;
          }
          self->request(ledger, timeout, tip_atom::value)
            .then(
              [reply](const tip_info& tip) {
                reply.ok("ok: all " + std::to_string(tip.height) +
                         " entries of the canonical chain verify (hash, link and signature "
                         "of each)\n");
              },
              reply.on_failure("the ledger"));
        },
        reply.on_failure("the ledger"));
    return;
  }
  reply.error("unknown ledger command '" + sub + "' (ledger tail [N] | show <id> | verify)");
}

void run_forks(self_ptr self, const std::vector<std::string>& args, reply_to reply) {
  auto limit = args.empty() ? std::optional<std::uint64_t>{default_orphans} : parse_count(args[0]);
  if (!limit || *limit == 0 || *limit > max_tail) {
    reply.error("forks: N must be a number from 1 to " + std::to_string(max_tail));
    return;
  }
  auto& ledger = self->state.targets.ledger;
  const auto timeout = self->state.options.request_timeout;
  self->request(ledger, timeout, get_atom::value, forks_atom::value, *limit)
    .then(
      [self, reply, ledger, timeout](const std::vector<branch_info>& branches, std::uint64_t total) {
        self->request(ledger, timeout, tip_atom::value)
          .then(
            [reply, branches, total](const tip_info& tip) {
              std::string text = "canonical chain: height " + std::to_string(tip.height) +
                                 ", tip " + util::short_hex(tip.tip_hash) + "; " +
                                 std::to_string(tip.forks) + " fork point(s)\n";
              if (branches.empty()) {
                reply.ok(text + "no side branches: every entry is on the canonical chain\n");
                return;
              }
              util::text_table t{{"TIP", "TIP ID", "FORKS AFTER", "LENGTH"}};
              for (const auto& b : branches)
                t.add_row({util::short_hex(b.tip_hash), util::short_id(b.tip_id),
                           b.fork_height == 0 ? "genesis" : "#" + std::to_string(b.fork_height - 1),
                           std::to_string(b.length)});
              if (total > branches.size())
                text += "the " + std::to_string(branches.size()) + " longest of " +
                        std::to_string(total) + " side branches (forks N shows more)\n";
              reply.ok(text + t.render());
            },
            reply.on_failure("the ledger"));
      },
      reply.on_failure("the ledger"));
}

void run_orphans(self_ptr self, const std::vector<std::string>& args, reply_to reply) {
  auto limit = args.empty() ? std::optional<std::uint64_t>{default_orphans} : parse_count(args[0]);
  if (!limit || *limit == 0 || *limit > max_tail) {
    reply.error("orphans: N must be a number from 1 to " + std::to_string(max_tail));
    return;
  }
  self
    ->request(self->state.targets.ledger, self->state.options.request_timeout, get_atom::value,
              orphans_atom::value, *limit)
    .then(
      [reply](const orphan_report& report) {
        std::string text = std::to_string(report.off_chain_total) +
                           " entries off the canonical chain (on side branches)";
        // ":" and a table of `shown` (the newest of `total`), or just the end of the line.
        auto listing = [](const std::vector<std::string>& shown, std::uint64_t total) {
          if (shown.empty())
            return std::string{"\n"};
          std::string out = shown.size() < total
                              ? ", the newest " + std::to_string(shown.size()) + ":\n"
                              : ":\n";
          util::text_table t{{"", "ID", "AUTHOR", "HASH", "DATA"}};
          for (const auto& e : shown)
            t.add_row(entry_row("-", e));
          return out + t.render();
        };
        text += listing(report.off_chain, report.off_chain_total);
        text += std::to_string(report.held_total) + " entries held, waiting for an unknown parent";
        text += listing(report.held, report.held_total);
        if (!report.held.empty()) {
          text += "missing parents:";
          for (const auto& p : report.missing_parents)
            text += " " + util::short_hex(p);
          text += "\n";
        }
        reply.ok(std::move(text));
      },
      reply.on_failure("the ledger"));
}

void run_peers(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  self->request(self->state.targets.registry, self->state.options.request_timeout, peers_atom::value)
    .then(
      [reply](const std::vector<node_record>& nodes) {
        util::text_table t{{"NODE", "LINK", "ADDRESS", "HEIGHT", "TIP", "LAST SEEN"}};
        for (const auto& n : nodes)
          t.add_row({util::short_hex(n.node_id) + (n.is_self ? " (this node)" : ""), n.link,
                     n.address.empty() ? "-" : n.address, std::to_string(n.height),
                     util::short_hex(n.tip_hash), n.is_self ? "now" : ago(n.last_seen_ms)});
        reply.ok(t.render() + std::to_string(nodes.size() - 1) + " other node(s) known\n");
      },
      reply.on_failure("the peer registry"));
}

void run_members(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  self->request(self->state.targets.ledger, self->state.options.request_timeout, get_atom::value,
                members_atom::value)
    .then(
      [reply](const members_view& v) {
        if (v.network_id.empty()) {
          reply.ok("open network: no members (anyone who reaches a node can write)\n");
          return;
        }
        std::string text = "network \"" + v.name + "\" " + util::short_hex(v.network_id) + ", reads by " +
                           v.read + "\n";
        util::text_table t{{"KEY", "ROLE", "NICK", "ADMITTED BY"}};
        for (const auto& m : v.members)
          t.add_row({util::short_hex(m.key), m.role, m.nick.empty() ? "-" : m.nick,
                     util::short_hex(m.admitted_by)});
        text += t.render() + std::to_string(v.members.size()) + " member(s) at the tip; " +
                std::to_string(v.changes.size()) + " change(s) on the chain\n";
        reply.ok(std::move(text));
      },
      reply.on_failure("the ledger"));
}

void run_sessions(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  list_targets(
    self, max_sessions_listed,
    [self, reply](std::vector<target> targets, std::size_t total) {
      std::erase_if(targets, [](const target& t) { return t.kind != "client-session"; });
      ask_all<session_stats>(self, targets, stats_atom::value, [reply, total, shown = targets.size()](auto answers) {
        if (total == 0) {
          reply.ok("no clients connected\n");
          return;
        }
        util::text_table t{{"SOCKET", "TRANSPORT", "NAMESPACE", "REMOTE", "CONNECTED", "IN", "OUT"}};
        for (auto& answer : answers) {
          if (!answer)
            continue;  // disconnected while we asked
          const auto& a = *answer;
          t.add_row({std::to_string(a.socket_id), a.transport, a.nsp, a.remote_address,
                     ago(a.connected_since_ms), std::to_string(a.events_in),
                     std::to_string(a.messages_out)});
        }
        auto text = t.render() + std::to_string(total) + " client(s)";
        if (total > shown)
          text += ", the first " + std::to_string(shown) + " shown";
        reply.ok(text + "\n");
      });
    },
    reply);
}

void run_relay(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  const auto& t = self->state.targets;
  std::vector<target> targets;
  for (auto& l : t.relay_links)
    targets.push_back({"relay-link", caf::actor_cast<caf::actor>(l)});
  for (auto& l : t.peer_links)
    targets.push_back({"peer-link", caf::actor_cast<caf::actor>(l)});
  if (targets.empty()) {
    reply.ok("no relay or peer links: start gsio-node with --relay ws://HOST:PORT or --peer "
             "http://HOST:PORT\n");
    return;
  }
  ask_all<outbound_link_stats>(self, targets, stats_atom::value, [reply](auto answers) {
    std::string text;
    for (auto& answer : answers) {
      if (!answer) {
        text += "(a link did not answer)\n";
        continue;
      }
      const auto& d = *answer;
      const bool connected = d.state == "connected";
      text += d.kind + " " + d.url + "\n";
      util::text_table t{{"", ""}};
      t.add_row({"  state", d.state + (connected ? " since " + ago(d.connected_since_ms) : "")});
      t.add_row({"  reconnects", std::to_string(d.connects > 0 ? d.connects - 1 : 0)});
      if (d.urls.size() > 1) {
        std::string list;
        for (const auto& url : d.urls)
          list += (list.empty() ? "" : ", ") + url;
        t.add_row({"  failover list", list});
        t.add_row({"  failovers", std::to_string(d.failovers)});
      }
      t.add_row({"  failed attempts", std::to_string(d.failed_attempts)});
      t.add_row({"  last error", d.last_error.empty() ? "-" : d.last_error});
      t.add_row({"  queue", std::to_string(d.queued_bytes) + " bytes"});
      t.add_row({"  frames in / out", std::to_string(d.frames_in) + " / " + std::to_string(d.frames_out)});
      t.add_row({"  duplicates dropped", std::to_string(d.duplicates)});
      auto rendered = t.render();
      rendered.erase(0, rendered.find('\n') + 1);  // the empty header row
      text += rendered;
    }
    reply.ok(std::move(text));
  });
}

void run_sync(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  self->request(self->state.targets.coordinator, self->state.options.request_timeout, stats_atom::value)
    .then(
      [reply](const sync_stats& s) {
        std::string text;
        if (s.waiting) {
          const auto& p = s.in_flight;
          util::text_table t{{"PEER", "KIND", "PAGES", "RUNNING", "WAITING"}};
          t.add_row({util::short_hex(p.peer), p.full ? "full pull" : "pull", std::to_string(p.pages),
                     human_duration(p.running_ms), human_duration(p.waiting_ms)});
          text += "1 request in flight:\n" + t.render();
        } else {
          text += "no requests in flight\n";
        }
        text += "pulls started " + std::to_string(s.pulls) + " (full " + std::to_string(s.full_pulls) +
                "); entries received by sync " + std::to_string(s.entries_received_sync) +
                ", by announce " + std::to_string(s.entries_received_announce) + "; sent by sync " +
                std::to_string(s.entries_sent_sync) + "\nP2P messages in " +
                std::to_string(s.messages_in) + ", out " + std::to_string(s.messages_out) +
                ", duplicates dropped " + std::to_string(s.duplicates_dropped) + ", malformed " +
                std::to_string(s.malformed) + "\n";
        if (!s.other_protocol.empty())
          text += "nodes of another protocol (not synced with): " +
                  std::to_string(s.other_protocol.size()) + ", their messages dropped " +
                  std::to_string(s.other_protocol_dropped) + "\n";
        reply.ok(std::move(text));
      },
      reply.on_failure("the sync coordinator"));
}

// What `stats` shows, gathered from four actors; a part stays empty when its actor did not answer.
struct stats_view {
  std::optional<ledger_stats> ledger;
  std::optional<gateway_stats> gateway;
  std::optional<sync_stats> sync;
  std::optional<std::size_t> peers;  // other nodes known
};

// "full", or the background check of the stored entries: "background: 81,920 of 200,000
// verified, running" / "background: 200,000 verified in 4.1 s".
std::string describe_start_check(const ledger_stats& l) {
  if (l.start_check != "background")
    return l.start_check + " (every stored entry verified before the node started)";
  if (l.start_check_running)
    return "background: " + std::to_string(l.start_check_verified) + " of " +
           std::to_string(l.start_check_total) + " stored entries verified, running";
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", l.start_check_seconds);
  return "background: all " + std::to_string(l.start_check_total) + " stored entries verified in " +
         seconds + " s";
}

std::string render_stats(const stats_view& v, const std::string& node_id) {
  util::text_table out{{"", ""}};
  auto row = [&](std::string key, std::string value) { out.add_row({std::move(key), std::move(value)}); };
  row("node", node_id);
  row("uptime", human_duration(util::process_uptime().count()));
  if (const auto& l = v.ledger) {
    row("height", std::to_string(l->height));
    row("tip", l->tip_hash);
    row("entries (all branches)", std::to_string(l->entries));
    row("verified height", std::to_string(l->verified_height));
    row("start check", describe_start_check(*l));
    row("forks", std::to_string(l->forks));
    row("held (unknown parent)", std::to_string(l->held));
    row("appended here", std::to_string(l->appended_local));
    row("merged from peers", std::to_string(l->merged));
    row("rejected (local / peers)", std::to_string(l->rejected) + " / " + std::to_string(l->merge_rejected));
    row("commits (largest batch)", std::to_string(l->commits) + " (" + std::to_string(l->largest_batch) + ")");
    row("reorgs", std::to_string(l->reorgs));
  } else {
    row("ledger", "(no answer)");
  }
  if (const auto& g = v.gateway) {
    row("sessions (polling / websocket)",
        std::to_string(g->polling_sessions) + " / " + std::to_string(g->websocket_sessions));
    row("broadcasts", std::to_string(g->broadcasts));
  } else {
    row("gateway", "(no answer)");
  }
  if (const auto& c = v.sync) {
    row("links", std::to_string(c->links.size()));
    row("P2P messages in / out", std::to_string(c->messages_in) + " / " + std::to_string(c->messages_out));
  } else {
    row("sync coordinator", "(no answer)");
  }
  if (v.peers)
    row("peers known", std::to_string(*v.peers));
  else
    row("peer registry", "(no answer)");
  auto text = out.render();
  text.erase(0, text.find('\n') + 1);  // the empty header row
  return text;
}

void run_stats(self_ptr self, const std::vector<std::string>&, reply_to reply) {
  auto& t = self->state.targets;
  const auto timeout = self->state.options.request_timeout;
  auto view = std::make_shared<stats_view>();
  auto pending = std::make_shared<int>(4);
  auto done = [view, pending, reply, node_id = self->state.node_id] {
    if (--*pending == 0)
      reply.ok(render_stats(*view, node_id));
  };
  auto skip = [done](const caf::error&) { done(); };
  self->request(t.ledger, timeout, stats_atom::value)
    .then([view, done](ledger_stats& s) { view->ledger = std::move(s); done(); }, skip);
  self->request(t.gateway, timeout, stats_atom::value)
    .then([view, done](gateway_stats& s) { view->gateway = std::move(s); done(); }, skip);
  self->request(t.coordinator, timeout, stats_atom::value)
    .then([view, done](sync_stats& s) { view->sync = std::move(s); done(); }, skip);
  self->request(t.registry, timeout, peers_atom::value)
    .then(
      [view, done](const std::vector<node_record>& nodes) {
        view->peers = static_cast<std::size_t>(
          std::count_if(nodes.begin(), nodes.end(), [](const node_record& n) { return !n.is_self; }));
        done();
      },
      skip);
}

void run_log_level(self_ptr, const std::vector<std::string>& args, reply_to reply) {
  const auto before = log::current();
  if (args.empty()) {
    reply.ok("log level: " + std::string{log::to_string(before)} + "\n");
    return;
  }
  auto wanted = log::parse_level(args[0]);
  if (!wanted) {
    reply.error("unknown log level '" + args[0] + "' (trace, debug, info, warn, error, off)");
    return;
  }
  log::set_level(*wanted);
  log::warn("console", "log level set to ", log::to_string(*wanted), " (was ",
            log::to_string(before), ")");
  reply.ok("log level: " + std::string{log::to_string(*wanted)} + " (was " +
           std::string{log::to_string(before)} + ")\n");
}

void run_quit(self_ptr, const std::vector<std::string>&, reply_to reply) { reply.close("bye\n"); }

const std::vector<command> commands{
  {"help", "help", "this list", run_help, 0, 0},
  {"actors", "actors", "every actor: name, id, mailbox size, uptime, messages handled", run_actors,
   0, 0},
  {"inspect", "inspect <actor>", "an actor's whole state as JSON (by name or id, see actors)",
   run_inspect, 1, 1},
  {"ledger", "ledger tail [N]", "the last N entries of the canonical chain (10)", run_ledger, 1, 2},
  {"ledger", "ledger show <id>", "one entry, by id or hash", nullptr, 0, 0},
  {"ledger", "ledger verify", "re-check every hash, link and signature of the chain", nullptr, 0,
   0},
  {"forks", "forks [N]", "the N longest side branches (20): where they leave the chain, their length",
   run_forks, 0, 1},
  {"orphans", "orphans [N]", "entries off the canonical chain and entries held for a parent",
   run_orphans, 0, 1},
  {"peers", "peers", "every known node: link, address, tip, last seen", run_peers, 0, 0},
  {"members", "members", "a private network's members at the tip: key, role, nick, admitted by",
   run_members, 0, 0},
  {"sessions", "sessions", "each client: transport, namespace, address, since, messages in/out",
   run_sessions, 0, 0},
  {"relay", "relay", "the relay and peer links: state, url, reconnects, last error, queue",
   run_relay, 0, 0},
  {"sync", "sync", "sync requests in flight and sync counters", run_sync, 0, 0},
  {"stats", "stats", "a summary of the node", run_stats, 0, 0},
  {"log-level", "log-level [level]", "show or set the log level (trace ... error, off)",
   run_log_level, 0, 1},
  {"quit", "quit", "end this console session", run_quit, 0, 0},
};

void run_command(self_ptr self, std::uint64_t connection, const std::string& line) {
  reply_to reply{self, connection};
  ++self->state.commands;
  auto words = split_words(line);
  if (words.empty()) {
    reply.ok("");
    return;
  }
  auto name = words.front();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "exit")
    name = "quit";
  words.erase(words.begin());
  auto it = std::find_if(commands.begin(), commands.end(),
                         [&](const command& c) { return name == c.name && c.run; });
  if (it == commands.end()) {
    reply.error("unknown command '" + name + "'; type help for the list");
    return;
  }
  if (words.size() < it->min_args || words.size() > it->max_args) {
    std::string usage;
    for (const auto& c : commands)
      if (c.name == name)
        usage += (usage.empty() ? "" : " | ") + std::string{c.usage};
    reply.error("usage: " + usage);
    return;
  }
  log::debug("console", "connection ", connection, ": ", line);
  it->run(self, words, reply);
}

std::string inspect_json(const console_state& st) {
  return "{\"admin_port\":" + std::to_string(st.frontend ? st.frontend->server.port() : 0) +
         ",\"connections\":" + std::to_string(st.frontend ? st.frontend->server.connections() : 0) +
         ",\"commands\":" + std::to_string(st.commands) + ",\"errors\":" + std::to_string(st.errors) +
         "}";
}

}  // namespace

console_actor::behavior_type console(instrumented<console_actor, console_state> self,
                                     console_options options, console_targets targets,
                                     std::string node_id) {
  auto& st = self->state;
  st.options = std::move(options);
  st.targets = std::move(targets);
  st.node_id = std::move(node_id);
  net::admin_options ao;
  ao.host = st.options.host;
  ao.port = st.options.port;
  ao.max_connections = st.options.max_connections;
  ao.greeting = "gsio-node " + st.node_id + " debug console; type help for the commands\n";
  auto frontend = std::make_shared<console_frontend>(self->address(), std::move(ao));
  try {
    frontend->start();
    st.frontend = frontend;
    log::info("console", "debug console on ", st.options.host, ":", frontend->server.port());
    self->attach_functor([frontend](const caf::error&) { frontend->stop(); });
  } catch (const std::exception& ex) {
    log::error("console", ex.what());
    self->quit(caf::make_error(caf::sec::cannot_open_port, ex.what()));
  }
  return {
    [=](get_atom) -> std::uint16_t {
      return self->state.frontend ? self->state.frontend->server.port() : 0;
    },
    [=](console_atom, std::uint64_t connection, const std::string& line) {
      run_command(self, connection, line);
    },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, inspect_json(self->state)); },
  };
}

}  // namespace gsio::actors
