// gsio: the command-line client of a gsio-node. Adds entries, lists and verifies the ledger,
// watches it grow, and shows the node's peers and state, over the node's own Socket.IO API
// (docs/PROTOCOL.md §2). Verification trusts nothing the node says (§3).
//
// Over 600 lines on purpose: one function per subcommand (add, ledger, nodes, info, verify, watch,
// console) with its options and help text next to it; they share the global options, the
// connection helper and the table printing.
#include <algorithm>
#include <initializer_list>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <editline/readline.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "cli/chain_check.hpp"
#include "cli/command_line.hpp"
#include "cli/console_client.hpp"
#include "cli/member_commands.hpp"
#include "cli/network_commands.hpp"
#include "cli/node_client.hpp"
#include "cli/output.hpp"
#include "ledger/canonical_json.hpp"
#include "ledger/entry.hpp"
#include "ledger/json_print.hpp"
#include "util/options.hpp"
#include "util/text_table.hpp"

namespace {

using namespace gsio;
using cli::cli_error;

constexpr const char* usage_text =
  R"(usage: gsio [--node URL] [--timeout-ms N] <command> [options]

The command-line client of a gsio-net node.

commands:
  add [JSON]    store an entry; the data is the argument, or stdin when absent
  ledger        list the canonical chain (--from N, --limit N, --json)
  find          search the whole chain, newest first: --author ID, --nickname S, --text S
                (substrings, ASCII case ignored), --limit N (default 50, 0: all), --json
  watch         print entries and reorgs as they happen, until SIGINT/SIGTERM
  nodes         list the nodes this node knows (--json)
  verify        download the whole chain and check every hash, signature and link
                (--from-file PATH verifies a chain exported with `gsio ledger --json`)
  info          the node's state: id, height, tip, forks (--json)
  console       the node's debug console: [HOST:PORT] interactively, or -c "CMD" once

private networks (through the node; docs/DEPLOY.md):
  members       the members at the tip and who admitted or removed whom (--json)
  admit KEY --role ROLE --admin-key FILE [--nick N]    an admin statement adding KEY
  remove KEY --admin-key FILE                          an admin statement removing KEY
  invite --role ROLE --admin-key FILE [--expires 7d]   a single-use invite link
  join INVITE [--nick N]     with --key FILE: redeem an invite for that author key
  add --key FILE [JSON]      store data signed by that author

offline (files only, no node):
  key create FILE | key show FILE
                an author's or admin's Ed25519 key (mode 0600) and its public key
  network create NAME --dir DIR [--read members|anyone] [--members KEY:ROLE[:NICK],...]
                a private network: DIR/admin.key and DIR/network.json (its charter), for
                gsio-node --network; `network show FILE` prints what a charter says

global options (also accepted after the command):
  --node URL        the node, http://host:port (default: $GSIO_NODE, else http://127.0.0.1:3000)
  --timeout-ms N    how long to wait to connect and for each answer (default: 10000)
  --key FILE        an author key file, for add and join
  --help            this help; `gsio <command> --help` lists a command's options

exit codes:
  0  success
  1  the node refused the request (its reason is printed); for console, a command failed
  2  bad usage: unknown command or option, invalid JSON or argument
  3  the node is unreachable, the connection dropped, or no answer came in time
  4  verify found a bad entry (it names the entry and the failed rule)
  5  the node's answer was malformed
)";

using cli::command_options;
using cli::connect;
using cli::global_options;
using cli::parse_command;
using cli::split_positional;

// ---------------------------------------------------------------------------------------------
// Reading the node's answers

std::string_view json_kind(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "a boolean";
    case rapidjson::kObjectType: return "an object";
    case rapidjson::kArrayType: return "an array";
    case rapidjson::kStringType: return "a string";
    case rapidjson::kNumberType: return "a number";
  }
  return "something else";
}

using cli::first_argument;
using cli::malformed;
using cli::throw_if_refused;

std::string string_member(const rapidjson::Value& object, const char* name,
                          const std::string& fallback = "-") {
  if (!object.IsObject())
    return fallback;
  auto it = object.FindMember(name);
  if (it == object.MemberEnd())
    return fallback;
  if (it->value.IsString())
    return {it->value.GetString(), it->value.GetStringLength()};
  return ledger::to_json_text(it->value, false);
}

// Pages through get_ledger from `from`, at most `limit` entries (0: to the end of the chain),
// handing each page (a JSON array) and the chain index of its first entry to `on_page`.
void fetch_ledger(cli::node_client& client, std::uint64_t from, std::uint64_t limit,
                  const std::function<void(const rapidjson::Value&, std::uint64_t)>& on_page) {
  // The protocol's largest page, lowered for good when the node says fewer fit in one answer
  // (large entries; {error, fits}).
  std::uint64_t page_max = 1000;
  std::uint64_t next = from;
  for (;;) {
    const std::uint64_t fetched = next - from;
    const std::uint64_t want = limit == 0 ? page_max : std::min(page_max, limit - fetched);
    if (want == 0)
      return;
    const std::string args =
      "[{\"from\":" + std::to_string(next) + ",\"limit\":" + std::to_string(want) + "}]";
    rapidjson::Document doc;
    const auto& page = first_argument(client, "get_ledger", client.request("get_ledger", args), doc);
    if (page.IsObject()) {
      auto fits = page.FindMember("fits");
      if (fits != page.MemberEnd() && fits->value.IsUint64() && fits->value.GetUint64() >= 1 &&
          fits->value.GetUint64() < want) {
        page_max = fits->value.GetUint64();
        continue;
      }
    }
    throw_if_refused(page, "get_ledger");
    if (!page.IsArray())
      malformed(client.url(), "get_ledger answered with " + std::string{json_kind(page)} +
                                ", not an array of entries");
    if (page.Size() > want)
      malformed(client.url(), "get_ledger answered " + std::to_string(page.Size()) +
                                " entries for a page of " + std::to_string(want));
    on_page(page, next);
    next += page.Size();
    if (page.Size() < want)  // a short page is the last (docs/PROTOCOL.md §2)
      return;
  }
}

std::string read_stream(std::istream& in) {
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Everything printed passes through terminal_safe: it carries text from nodes and peers.
void print(const std::string& text) {
  const auto safe = cli::terminal_safe(text);
  std::fwrite(safe.data(), 1, safe.size(), stdout);
  std::fflush(stdout);
}

// One line of a human-readable entry listing.
std::vector<std::string> entry_cells(const ledger::entry& e) {
  return {util::short_id(e.id), e.timestamp, util::short_hex(e.hash), util::truncate_utf8(e.data, 48)};
}

// Reads an entry the node sent; a shape the protocol does not allow is a malformed answer.
ledger::entry read_entry(const cli::node_client& client, const rapidjson::Value& value,
                         const std::string& where) {
  ledger::entry e;
  std::string error;
  bool ok = false;
  try {
    ok = ledger::from_json(value, e, error);
  } catch (const std::exception& ex) {
    error = ex.what();
  }
  if (!ok)
    malformed(client.url(), where + " is not an entry: " + error);
  return e;
}

// ---------------------------------------------------------------------------------------------
// Commands

int cmd_add(global_options& global, std::vector<std::string> args) {
  // The data is the one argument that is neither an option nor an option's value.
  std::vector<std::string> positional;
  const auto option_args = split_positional(args, positional);
  if (positional.size() > 1) {
    std::fprintf(stderr, "gsio add: give the data as one argument (quote it), or on stdin\n");
    return cli::exit_usage;
  }
  std::optional<std::string> data_arg;
  if (!positional.empty())
    data_arg = positional.front();
  auto options = command_options(
    "add", "Stores an entry: gsio add [options] [JSON]. Without the JSON argument the data is read "
           "from stdin. With --key FILE the data is signed by that author key (a private network's "
           "author block). Prints the stored entry.", global);
  if (int code = parse_command(options, "gsio add", option_args); code >= 0)
    return code;

  if (!data_arg && isatty(STDIN_FILENO))
    std::fputs("gsio add: reading the entry's JSON data from stdin (end it with Ctrl-D)\n", stderr);
  const std::string text = data_arg ? *data_arg : read_stream(std::cin);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw cli_error(cli::exit_usage, "add: no data given (pass JSON as the argument or on stdin)");
  // Canonicalizing here catches invalid JSON before the network does, with the node's own rules.
  std::string canonical;
  std::string error;
  if (!ledger::canonicalize_text(text, canonical, error))
    throw cli_error(cli::exit_usage, "add: the data is not valid JSON: " + error);

  auto client = connect(global);
  if (!global.key.empty())
    canonical = cli::author_signed(*client, global.key, canonical);
  rapidjson::Document doc;
  const auto& answer = first_argument(
    *client, "add_ledger_entry", client->request("add_ledger_entry", "[" + canonical + "]"), doc);
  throw_if_refused(answer, "add_ledger_entry");
  read_entry(*client, answer, "the add_ledger_entry answer");
  print(ledger::to_json_text(answer, true) + "\n");
  return cli::exit_ok;
}

// Entries as `gsio ledger` and `gsio find` print them: a table with each entry's chain index, or
// (--json) the entries as the node sent them, in a JSON array.
class entry_listing {
public:
  explicit entry_listing(bool json) : json_(json) { all_.SetArray(); }

  void add(std::uint64_t index, const rapidjson::Value& value, const ledger::entry& e) {
    if (json_) {
      all_.PushBack(rapidjson::Value(value, all_.GetAllocator()), all_.GetAllocator());
      return;
    }
    auto cells = entry_cells(e);
    cells.insert(cells.begin(), std::to_string(index));
    rows_.add_row(std::move(cells));
  }

  void print_all() const { print(json_ ? ledger::to_json_text(all_, true) + "\n" : rows_.render()); }

private:
  bool json_;
  rapidjson::Document all_;
  util::text_table rows_{{"index", "id", "timestamp", "hash", "data"}};
};

int cmd_ledger(global_options& global, const std::vector<std::string>& args) {
  std::uint64_t from = 0;
  std::uint64_t limit = 0;
  bool json = false;
  auto options = command_options("ledger", "Lists the canonical chain, oldest first.", global);
  options.add("from", "index of the first entry", from)
    .add("limit", "at most this many entries (0: all, fetched in pages)", limit)
    .add("json", "print the entries as a JSON array", json);
  if (int code = parse_command(options, "gsio ledger", args); code >= 0)
    return code;

  auto client = connect(global);
  entry_listing listing{json};
  fetch_ledger(*client, from, limit, [&](const rapidjson::Value& page, std::uint64_t first) {
    for (rapidjson::SizeType i = 0; i < page.Size(); ++i) {
      const std::uint64_t index = first + i;
      listing.add(index, page[i], read_entry(*client, page[i], "ledger entry #" + std::to_string(index)));
    }
  });
  listing.print_all();
  return cli::exit_ok;
}

int cmd_find(global_options& global, const std::vector<std::string>& args) {
  std::string author;
  std::string nickname;
  std::string text;
  std::uint64_t limit = 50;
  bool json = false;
  auto options = command_options(
    "find", "Searches the whole canonical chain on the node (find_entries), newest first.", global);
  options.add("author", "the creator's node id", author)
    .add("nickname", "a substring of the data's nickname (ASCII case ignored)", nickname)
    .add("text", "a substring of the entry's text: a note's text, or its JSON (ASCII case ignored)", text)
    .add("limit", "at most this many matches (0: all)", limit)
    .add("json", "print the matches as a JSON array", json);
  if (int code = parse_command(options, "gsio find", args); code >= 0)
    return code;

  auto client = connect(global);
  entry_listing listing{json};
  std::uint64_t found = 0;
  std::optional<std::uint64_t> before;
  // The node looks at a bounded stretch of the chain per answer; ask again from where it stopped.
  for (;;) {
    rapidjson::StringBuffer query;
    rapidjson::Writer<rapidjson::StringBuffer> w{query};
    w.StartArray();
    w.StartObject();
    for (const auto& [name, value] : {std::pair{"author", &author}, {"nickname", &nickname}, {"text", &text}})
      if (!value->empty()) {
        w.Key(name);
        w.String(value->data(), static_cast<rapidjson::SizeType>(value->size()));
      }
    if (before) {
      w.Key("before");
      w.Uint64(*before);
    }
    w.Key("limit");
    w.Uint64(limit == 0 ? 200 : std::min<std::uint64_t>(200, limit - found));
    w.EndObject();
    w.EndArray();
    rapidjson::Document doc;
    const auto& answer =
      first_argument(*client, "find_entries", client->request("find_entries", query.GetString()), doc);
    throw_if_refused(answer, "find_entries");
    auto entries = answer.IsObject() ? answer.FindMember("entries") : rapidjson::Value::ConstMemberIterator{};
    auto heights = answer.IsObject() ? answer.FindMember("heights") : rapidjson::Value::ConstMemberIterator{};
    auto next = answer.IsObject() ? answer.FindMember("next") : rapidjson::Value::ConstMemberIterator{};
    if (!answer.IsObject() || entries == answer.MemberEnd() || !entries->value.IsArray() ||
        heights == answer.MemberEnd() || !heights->value.IsArray() ||
        heights->value.Size() != entries->value.Size() || next == answer.MemberEnd() ||
        !(next->value.IsNull() || next->value.IsUint64()))
      malformed(client->url(), "find_entries answered without entries, heights and next (an older node?)");
    for (rapidjson::SizeType i = 0; i < entries->value.Size(); ++i) {
      const auto& height = heights->value[i];
      if (!height.IsUint64())
        malformed(client->url(), "find_entries answered a height that is not a chain index");
      listing.add(height.GetUint64(), entries->value[i],
                  read_entry(*client, entries->value[i], "match at #" + std::to_string(height.GetUint64())));
    }
    found += entries->value.Size();
    if (next->value.IsNull() || (limit != 0 && found >= limit))
      break;
    if (before && next->value.GetUint64() >= *before)
      malformed(client->url(), "find_entries did not move down the chain");
    before = next->value.GetUint64();
  }
  listing.print_all();
  return cli::exit_ok;
}

// Seconds since a unix-ms instant, for "last seen".
std::string age(std::int64_t unix_ms) {
  if (unix_ms <= 0)
    return "-";
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  const double seconds = static_cast<double>(std::max<std::int64_t>(0, now - unix_ms)) / 1000.0;
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs ago", seconds);
  return text;
}

int cmd_nodes(global_options& global, const std::vector<std::string>& args) {
  bool json = false;
  auto options = command_options("nodes", "Lists the nodes this node knows, itself included.", global);
  options.add("json", "print the node's answer as JSON", json);
  if (int code = parse_command(options, "gsio nodes", args); code >= 0)
    return code;

  auto client = connect(global);
  rapidjson::Document doc;
  const auto& answer =
    first_argument(*client, "get_known_nodes", client->request("get_known_nodes", "[]"), doc);
  throw_if_refused(answer, "get_known_nodes");
  // `nodes` holds the ids (the original client API); `peers` the details of each (protocol 2).
  auto peers = answer.IsObject() ? answer.FindMember("peers") : rapidjson::Value::ConstMemberIterator{};
  if (!answer.IsObject() || peers == answer.MemberEnd() || !peers->value.IsArray())
    malformed(client->url(), "get_known_nodes answered without a peers array (a protocol 1 node?)");
  if (json) {
    print(ledger::to_json_text(answer, true) + "\n");
    return cli::exit_ok;
  }
  util::text_table rows{{"node", "self", "link", "address", "height", "tip", "last seen"}};
  for (const auto& n : peers->value.GetArray()) {
    if (!n.IsObject())
      malformed(client->url(), "a peer is " + std::string{json_kind(n)} + ", not an object");
    auto is_self = n.FindMember("is_self");
    auto last_seen = n.FindMember("last_seen");
    rows.add_row({util::short_hex(string_member(n, "node_id")),
                  is_self != n.MemberEnd() && is_self->value.IsBool() && is_self->value.GetBool()
                    ? "yes" : "",
                  string_member(n, "link"), string_member(n, "address"),
                  string_member(n, "height"), util::short_hex(string_member(n, "tip_hash")),
                  last_seen != n.MemberEnd() && last_seen->value.IsInt64()
                    ? age(last_seen->value.GetInt64()) : "-"});
  }
  print(rows.render());
  return cli::exit_ok;
}

int cmd_info(global_options& global, const std::vector<std::string>& args) {
  bool json = false;
  auto options = command_options("info", "Shows the node's id, height, tip and fork counts.", global);
  options.add("json", "print the node's answer as JSON", json);
  if (int code = parse_command(options, "gsio info", args); code >= 0)
    return code;

  auto client = connect(global);
  rapidjson::Document doc;
  const auto& answer = first_argument(*client, "node_info", client->request("node_info", "[]"), doc);
  throw_if_refused(answer, "node_info");
  if (!answer.IsObject())
    malformed(client->url(), "node_info answered with " + std::string{json_kind(answer)} +
                               ", not an object");
  if (json) {
    print(ledger::to_json_text(answer, true) + "\n");
    return cli::exit_ok;
  }
  std::string out;
  for (const auto& m : answer.GetObject()) {
    std::string name{m.name.GetString(), m.name.GetStringLength()};
    out += name + ":" + std::string(name.size() < 10 ? 10 - name.size() : 1, ' ');
    out += m.value.IsString() ? std::string{m.value.GetString(), m.value.GetStringLength()}
                              : ledger::to_json_text(m.value, false);
    out += "\n";
  }
  print(out);
  return cli::exit_ok;
}

int cmd_verify(global_options& global, const std::vector<std::string>& args) {
  std::string from_file;
  auto options = command_options(
    "verify",
    "Downloads the whole chain and checks it without trusting the node: every entry's shape, "
    "hash (recomputed from canonical JSON), signatures, id/timestamp agreement and the "
    "previous_hash links from genesis. Exit 0 when it holds, 4 naming the first bad entry.",
    global);
  options.add("from-file", "verify an exported chain (`gsio ledger --json > FILE`) instead of "
                           "the node's", from_file);
  if (int code = parse_command(options, "gsio verify", args); code >= 0)
    return code;

  cli::chain_verifier verifier;
  if (!from_file.empty()) {
    std::ifstream in{from_file, std::ios::binary};
    if (!in)
      throw cli_error(cli::exit_usage, "verify: cannot read " + from_file);
    rapidjson::Document doc;
    std::string error;
    if (!ledger::parse_json(read_stream(in), doc, error))
      throw cli_error(cli::exit_usage, "verify: " + from_file + ": " + error);
    if (!doc.IsArray())
      throw cli_error(cli::exit_usage, "verify: " + from_file + " must hold a JSON array of entries");
    for (const auto& e : doc.GetArray())
      if (!verifier.add(e))
        break;
  } else {
    auto client = connect(global);
    // A failure stops the paging: nothing after the first bad entry can be trusted anyway.
    struct stop_paging {};
    try {
      fetch_ledger(*client, 0, 0, [&](const rapidjson::Value& page, std::uint64_t) {
        for (const auto& e : page.GetArray())
          if (!verifier.add(e))
            throw stop_paging{};
      });
    } catch (const stop_paging&) {
    }
  }
  if (const auto& failure = verifier.failure()) {
    print("chain verification FAILED at " + cli::describe(*failure) + "\n");
    return cli::exit_verify_failed;
  }
  print("chain verified: " + std::to_string(verifier.entries()) + " entries, tip " +
        verifier.tip_hash() + "\n");
  return cli::exit_ok;
}

// Prints pushed ledger events; runs on the client's I/O thread, one event at a time.
class watch_printer {
public:
  explicit watch_printer(bool json) : json_(json) {}

  void on_event(const std::string& event, const std::string& args_json) {
    if (event != "ledger_entry_added" && event != "ledger_reorg")
      return;  // auth, known_nodes and other pushes are not ledger changes
    rapidjson::Document doc;
    std::string error;
    if (!ledger::parse_json(args_json, doc, error) || !doc.IsArray() || doc.Empty() ||
        !doc[0].IsObject())
      return fail(event + " carries no object");
    const auto& payload = doc[0];
    if (json_) {
      print("{\"event\":\"" + event + "\",\"data\":" + ledger::to_json_text(payload, false) + "}\n");
      return;
    }
    if (event == "ledger_entry_added") {
      ledger::entry e;
      if (!read(payload, e))
        return fail("ledger_entry_added is not an entry: " + error_);
      print(line("added", e));
      return;
    }
    auto removed = payload.FindMember("removed");
    auto added = payload.FindMember("added");
    if (removed == payload.MemberEnd() || !removed->value.IsArray() ||
        added == payload.MemberEnd() || !added->value.IsArray())
      return fail("ledger_reorg lacks the removed and added arrays");
    std::string out = "reorg  at height " + string_member(payload, "fork_height") + ": removed " +
                      std::to_string(removed->value.Size()) + ", added " +
                      std::to_string(added->value.Size()) + "; now height " +
                      string_member(payload, "height") + ", tip " +
                      util::short_hex(string_member(payload, "tip_hash")) + "\n";
    for (const auto& id : removed->value.GetArray())
      out += "  removed " + util::short_id(id.IsString() ? id.GetString() : "?") + "\n";
    for (const auto& value : added->value.GetArray()) {
      ledger::entry e;
      if (!read(value, e))
        return fail("an entry of ledger_reorg is malformed: " + error_);
      out += "  " + line("added", e);
    }
    print(out);
  }

  // The first malformed push, if any; read by the main thread.
  std::optional<std::string> failure() {
    std::lock_guard lock{mutex_};
    return failure_;
  }

private:
  bool read(const rapidjson::Value& v, ledger::entry& e) {
    try {
      return ledger::from_json(v, e, error_);
    } catch (const std::exception& ex) {
      error_ = ex.what();
      return false;
    }
  }
  static std::string line(const char* what, const ledger::entry& e) {
    std::string out = what;
    for (auto& cell : entry_cells(e))
      out += "  " + cell;
    return out + "\n";
  }
  void fail(std::string what) {
    std::lock_guard lock{mutex_};
    if (!failure_)
      failure_ = std::move(what);
  }

  bool json_;
  std::string error_;
  std::mutex mutex_;
  std::optional<std::string> failure_;
};

int cmd_watch(global_options& global, const std::vector<std::string>& args) {
  bool json = false;
  auto options = command_options(
    "watch", "Prints every ledger_entry_added and ledger_reorg until SIGINT or SIGTERM (exit 0) "
             "or until the node goes away (exit 3).", global);
  options.add("json", "print each event as one JSON line {\"event\", \"data\"}", json);
  if (int code = parse_command(options, "gsio watch", args); code >= 0)
    return code;

  // Blocked before the I/O thread starts, so it inherits the mask and only sigtimedwait below
  // takes these signals: a clean exit 0 instead of death by signal.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  watch_printer printer{json};
  auto client = connect(global, [&printer](const std::string& event, const std::string& args_json) {
    printer.on_event(event, args_json);
  });
  std::fprintf(stderr, "gsio: watching %s (SIGINT or SIGTERM stops)\n", global.node.c_str());
  std::fflush(stderr);
  for (;;) {
    timespec tick{0, 100 * 1000 * 1000};  // also notice a dropped connection promptly
    if (sigtimedwait(&stop_signals, nullptr, &tick) > 0)
      return cli::exit_ok;
    if (auto failure = printer.failure())
      malformed(client->url(), *failure);
    std::string reason;
    if (client->wait_closed(std::chrono::milliseconds{0}, reason))
      throw cli_error(cli::exit_unreachable,
                      "lost the connection to the node at " + client->url() + ": " + reason);
  }
}

constexpr const char* console_usage =
  R"(usage: gsio console [HOST:PORT] [-c COMMAND]... [--timeout-ms N]

Opens the debug console of a running gsio-node (its --admin address). Interactive with line
editing and history (~/.gsio_console_history) on a terminal; with -c, runs each COMMAND in order
and exits; with stdin not a terminal, runs one command per input line. Type `help` in the
console for its commands.

  HOST:PORT       the console address (default: $GSIO_CONSOLE, else the --node host with the
                  node's port + 1000, i.e. 127.0.0.1:4000 for a node on port 3000)
  -c, --command   a command to run; may be repeated
  --timeout-ms N  how long to wait to connect (default: 10000); a reply may take up to 150 s

exit codes: 0 every command succeeded, 1 a command failed (its error is printed), 2 bad usage,
3 console unreachable or connection lost, 5 malformed reply.
)";

// The default console address: the --node host, the node's port + 1000 (gsio-node's default).
std::string default_console_address(const global_options& global) {
  if (const char* env = std::getenv("GSIO_CONSOLE"); env && *env)
    return env;
  std::string rest = global.node;
  if (auto scheme = rest.find("://"); scheme != std::string::npos)
    rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  std::string host;
  std::uint16_t port = 0;
  if (!cli::parse_host_port(rest, host, port))
    return "127.0.0.1:4000";
  if (rest.find(':') == std::string::npos)
    port = 80;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port <= 65535 - 1000 ? port + 1000 : port);
}

std::string history_path() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string{home} + "/.gsio_console_history" : std::string{};
}

// Prints a reply: its text on stdout, or the error (on stderr when `to_stderr`).
void show_reply(const cli::console_client::reply& r, bool to_stderr) {
  if (r.ok) {
    print(r.text);
    return;
  }
  auto text = "error: " + r.text + (r.text.empty() || r.text.back() != '\n' ? "\n" : "");
  if (to_stderr) {
    std::fflush(stdout);
    std::fputs(cli::terminal_safe(text).c_str(), stderr);
  } else {
    print(text);
  }
}

bool is_quit(const std::string& line) {
  std::istringstream in{line};
  std::string word;
  in >> word;
  return word == "quit" || word == "exit";
}

int cmd_console(global_options& global, const std::vector<std::string>& args) {
  std::vector<std::string> commands;
  std::string address;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&](const char* what) -> std::string {
      if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos)
        return a.substr(eq + 1);
      if (i + 1 >= args.size())
        throw cli_error(cli::exit_usage, std::string{"console: "} + what + " needs a value");
      return args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(console_usage, stdout);
      return cli::exit_ok;
    }
    if (a == "-c" || a == "--command" || a.rfind("--command=", 0) == 0) {
      commands.push_back(value("-c"));
    } else if (a == "--timeout-ms" || a.rfind("--timeout-ms=", 0) == 0) {
      auto text = value("--timeout-ms");
      if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
        throw cli_error(cli::exit_usage, "--timeout-ms must be a number of milliseconds");
      global.timeout_ms = std::stoull(text);
    } else if (a == "--node" || a.rfind("--node=", 0) == 0) {
      global.node = value("--node");
    } else if (!a.empty() && a[0] == '-') {
      throw cli_error(cli::exit_usage, "console: unknown option '" + a + "' (see gsio console --help)");
    } else if (address.empty()) {
      address = a;
    } else {
      throw cli_error(cli::exit_usage, "console: more than one address given ('" + address +
                                         "', '" + a + "')");
    }
  }
  if (global.timeout_ms == 0 || global.timeout_ms > 24ull * 3600 * 1000)
    throw cli_error(cli::exit_usage, "--timeout-ms must be between 1 and 86400000");
  if (address.empty())
    address = default_console_address(global);
  std::string host;
  std::uint16_t port = 0;
  if (!cli::parse_host_port(address, host, port))
    throw cli_error(cli::exit_usage, "console: '" + address + "' is not HOST:PORT");

  cli::console_client console{host, port, std::chrono::milliseconds{global.timeout_ms},
                              std::chrono::seconds{150}};
  int status = cli::exit_ok;
  auto run_one = [&](const std::string& line, bool errors_to_stderr) {
    auto r = console.run(line);
    show_reply(r, errors_to_stderr);
    if (!r.ok)
      status = cli::exit_refused;
  };

  if (!commands.empty()) {
    for (const auto& c : commands) {
      run_one(c, true);
      if (is_quit(c))
        break;
    }
    return status;
  }
  if (!::isatty(STDIN_FILENO)) {
    for (std::string line; std::getline(std::cin, line);) {
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      run_one(line, true);
      if (is_quit(line))
        break;
    }
    return status;
  }

  // Interactive: libedit's readline, with history kept across sessions.
  print(console.greeting());
  rl_readline_name = "gsio";
  using_history();
  const auto history = history_path();
  if (!history.empty())
    read_history(history.c_str());
  const std::string prompt = "gsio " + console.address() + "> ";
  for (;;) {
    char* raw = readline(prompt.c_str());
    if (!raw) {  // end of input (Ctrl-D)
      print("\n");
      break;
    }
    std::string line{raw};
    std::free(raw);
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    add_history(line.c_str());
    if (!history.empty()) {
      write_history(history.c_str());
      history_truncate_file(history.c_str(), 1000);
    }
    auto r = console.run(line);
    show_reply(r, false);
    if (is_quit(line))
      break;
  }
  return cli::exit_ok;
}

int run(int argc, char** argv) {
  global_options global;
  if (const char* env = std::getenv("GSIO_NODE"); env && *env)
    global.node = env;

  // Global options come before the command; every one of them takes a value.
  std::vector<std::string> global_args;
  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a{argv[i]};
    if (a == "--help" || a == "-h" || a == "help") {
      std::fputs(usage_text, stdout);
      return cli::exit_ok;
    }
    if (a.rfind("--", 0) != 0)
      break;
    global_args.emplace_back(a);
    if (a.find('=') == std::string_view::npos && i + 1 < argc)
      global_args.emplace_back(argv[++i]);
  }
  util::option_set globals{"gsio", "global options"};
  globals.add("node", "the node", global.node).add("timeout-ms", "timeout", global.timeout_ms).add("key", "author key", global.key);
  if (int code = parse_command(globals, "gsio", global_args); code >= 0)
    return code == cli::exit_ok ? cli::exit_ok : cli::exit_usage;
  if (i >= argc) {
    std::fputs(usage_text, stderr);
    return cli::exit_usage;
  }
  const std::string command = argv[i];
  const std::vector<std::string> args(argv + i + 1, argv + argc);
  if (command == "add")
    return cmd_add(global, args);
  if (command == "ledger")
    return cmd_ledger(global, args);
  if (command == "find")
    return cmd_find(global, args);
  if (command == "watch")
    return cmd_watch(global, args);
  if (command == "nodes")
    return cmd_nodes(global, args);
  if (command == "verify")
    return cmd_verify(global, args);
  if (command == "info")
    return cmd_info(global, args);
  if (command == "console")
    return cmd_console(global, args);
  if (command == "members")
    return cli::cmd_members(global, args);
  if (command == "admit" || command == "remove")
    return cli::cmd_statement(global, args, command == "admit");
  if (command == "invite")
    return cli::cmd_invite(global, args);
  if (command == "join")
    return cli::cmd_join(global, args);
  if (command == "key")
    return cli::run_key_command(args);
  if (command == "network")
    return cli::run_network_command(args);
  std::fprintf(stderr, "gsio: unknown command '%s' (see gsio --help)\n", command.c_str());
  return cli::exit_usage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const cli_error& ex) {
    std::fprintf(stderr, "gsio: %s\n", cli::terminal_safe(ex.what()).c_str());
    return ex.code();
  } catch (const std::exception& ex) {
    // Anything else comes from processing an answer we did not foresee; never crash on it.
    std::fprintf(stderr, "gsio: unexpected error: %s\n", cli::terminal_safe(ex.what()).c_str());
    return cli::exit_malformed;
  }
}
