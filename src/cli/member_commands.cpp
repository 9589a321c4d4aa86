#include "cli/member_commands.hpp"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cli/command_line.hpp"
#include "cli/node_client.hpp"
#include "cli/output.hpp"
#include "crypto/identity.hpp"
#include "crypto/random.hpp"
#include "ledger/json_print.hpp"
#include "ledger/membership.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"
#include "util/text_table.hpp"

namespace gsio::cli {

namespace {

struct network_info {
  std::string id;
  std::string name;
};

std::string text_of(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsString()
           ? std::string(it->value.GetString(), it->value.GetStringLength())
           : std::string{};
}

// The node's challenge on this connection: which network it serves. An open node sends none,
// and these commands need a network.
struct challenge_info {
  std::string network_id, network_name, node_id, challenge;
};

challenge_info challenge_of(node_client& client) {
  const auto json = client.challenge();
  if (json.empty())
    throw cli_error(exit_refused, "the node at " + client.url() +
                                  " serves an open network: it has no members (start it with --network)");
  rapidjson::Document doc;
  const auto& c = first_argument(client, "challenge", json, doc);
  if (!c.IsObject())
    malformed(client.url(), "the challenge is not an object");
  challenge_info out{text_of(c, "network_id"), text_of(c, "network_name"), text_of(c, "node_id"),
                     text_of(c, "challenge")};
  if (!util::is_lower_hex(out.network_id, 64) || !util::is_lower_hex(out.node_id, 64) || out.challenge.empty())
    malformed(client.url(), "the challenge lacks network_id, node_id or challenge");
  return out;
}

network_info network_of(node_client& client, rapidjson::Document&) {
  auto c = challenge_of(client);
  return {std::move(c.network_id), std::move(c.network_name)};
}

crypto::identity load_key(const std::string& file, const char* what) {
  try {
    return crypto::identity::load_file(file);
  } catch (const std::exception& ex) {
    throw cli_error(exit_usage, std::string(what) + ": " + ex.what());
  }
}

// Stores `data` through the node; prints the entry and returns exit_ok.
int submit(node_client& client, const std::string& data, const std::string& what) {
  rapidjson::Document doc;
  const auto& answer =
    first_argument(client, "add_ledger_entry", client.request("add_ledger_entry", "[" + data + "]"), doc);
  if (answer.IsObject() && answer.HasMember("error")) {
    const auto reason = text_of(answer, "error");
    throw cli_error(exit_refused, "the node refused the " + what + ": " + reason);
  }
  if (!answer.IsObject() || !answer.HasMember("hash"))
    malformed(client.url(), "add_ledger_entry answered without an entry");
  std::printf("%s\n", terminal_safe(ledger::to_json_text(answer, true)).c_str());
  return exit_ok;
}

}  // namespace

std::string authenticate(node_client& client, const crypto::identity& key) {
  const auto c = challenge_of(client);
  const auto sig = key.sign_hash(ledger::client_proof_digest(c.network_id, c.node_id, c.challenge, key.node_id()));
  rapidjson::Document doc;
  const auto& answer = first_argument(
    client, "authenticate",
    client.request("authenticate", "[{\"key\":\"" + key.node_id() + "\",\"sig\":\"" + sig + "\"}]"), doc);
  throw_if_refused(answer, "authenticate");
  const auto role = answer.IsObject() ? text_of(answer, "role") : std::string{};
  if (role.empty())
    malformed(client.url(), "authenticate answered without a role");
  return role;
}

std::int64_t parse_duration_us(const std::string& text) {
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  std::int64_t unit = 0;
  if (ec == std::errc{} && ptr + 1 == end && n > 0) {
    switch (*ptr) {
      case 's': unit = 1'000'000; break;
      case 'm': unit = 60'000'000; break;
      case 'h': unit = 3'600'000'000LL; break;
      case 'd': unit = 86'400'000'000LL; break;
      default: break;
    }
  }
  if (unit == 0 || n > 3660 * 86'400'000'000LL / unit)
    throw cli_error(exit_usage, "'" + text + "' is not a duration such as 90s, 30m, 12h or 7d (at most 10 years)");
  return n * unit;
}

int members_command(node_client& client, bool json) {
  rapidjson::Document doc;
  const auto& answer = first_argument(client, "get_members", client.request("get_members", "[]"), doc);
  throw_if_refused(answer, "get_members");
  if (!answer.IsObject() || !answer.HasMember("members") || !answer["members"].IsArray() ||
      !answer.HasMember("changes") || !answer["changes"].IsArray())
    malformed(client.url(), "get_members answered without members and changes arrays");
  if (json) {
    std::printf("%s\n", terminal_safe(ledger::to_json_text(answer, true)).c_str());
    return exit_ok;
  }
  const auto& network = answer["network"];
  if (!network.IsObject()) {
    std::printf("open network: no members (anyone who reaches the node can write)\n");
    return exit_ok;
  }
  std::printf("%s", terminal_safe("network \"" + text_of(network, "name") + "\" " + text_of(network, "id") +
                                  ", reads by " + text_of(network, "read") + "\n").c_str());
  util::text_table members{{"KEY", "ROLE", "NICK", "ADMITTED BY"}};
  for (const auto& m : answer["members"].GetArray())
    if (m.IsObject())
      members.add_row({text_of(m, "key"), text_of(m, "role"), text_of(m, "nick"), text_of(m, "admitted_by").substr(0, 16)});
  std::printf("%s", terminal_safe(members.render()).c_str());
  util::text_table changes{{"#", "CHANGE", "KEY", "ROLE", "BY"}};
  for (const auto& c : answer["changes"].GetArray())
    if (c.IsObject() && c.HasMember("index") && c["index"].IsUint64())
      changes.add_row({std::to_string(c["index"].GetUint64()), text_of(c, "op"), text_of(c, "key").substr(0, 16),
                       text_of(c, "role"), text_of(c, "by").substr(0, 16)});
  std::printf("changes on the chain:\n%s", terminal_safe(changes.render()).c_str());
  return exit_ok;
}

int statement_command(node_client& client, const std::string& admin_key_file, bool add,
                      const std::string& key, const std::string& role, const std::string& nick) {
  const auto admin = load_key(admin_key_file, "--admin-key");
  authenticate(client, admin);
  const auto r = ledger::role_from_string(role);
  if (add && !r)
    throw cli_error(exit_usage, "--role must be admin, node, author or reader");
  if (!util::is_lower_hex(key, 64))
    throw cli_error(exit_usage, "KEY must be 64 lowercase hex digits (`gsio key show FILE`)");
  rapidjson::Document doc;
  const auto network = network_of(client, doc);
  const auto data = ledger::make_statement(admin, network.id, add, key, r.value_or(ledger::role::reader), nick,
                                           util::now_unix_us());
  return submit(client, data, add ? "admission" : "removal");
}

int invite_command(node_client& client, const std::string& admin_key_file, const std::string& role,
                   const std::string& expires) {
  const auto admin = load_key(admin_key_file, "--admin-key");
  authenticate(client, admin);
  const auto r = ledger::role_from_string(role);
  if (!r || *r == ledger::role::admin)
    throw cli_error(exit_usage, "--role must be node, author or reader");
  const auto lifetime = parse_duration_us(expires);
  rapidjson::Document doc;
  const auto network = network_of(client, doc);
  const auto invite = ledger::make_invite(admin, network.id, *r, util::now_unix_us() + lifetime,
                                          crypto::random_hex(16));
  const auto text = ledger::invite_string(invite);
  std::string base = client.url();
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  std::printf("invite to network \"%s\" as %s, valid for %s, once:\n%s/#invite=%s\n%s\n",
              terminal_safe(network.name).c_str(), role.c_str(), expires.c_str(), base.c_str(), text.c_str(),
              text.c_str());
  return exit_ok;
}

int join_command(node_client& client, const std::string& key_file, const std::string& invite_text,
                 const std::string& nick) {
  if (key_file.empty())
    throw cli_error(exit_usage, "join needs --key FILE: the author key to admit (made if FILE does not exist)");
  std::string error;
  const auto invite = ledger::invite_from_text(invite_text, error);
  if (!invite)
    throw cli_error(exit_usage, "join: " + error);
  const auto view = ledger::read_invite(*invite, error);
  if (!view)
    throw cli_error(exit_usage, "join: the invite is not valid: " + error);
  if (view->expires_us < util::now_unix_us())
    throw cli_error(exit_refused, "join: the invite has expired");
  rapidjson::Document doc;
  const auto network = network_of(client, doc);
  if (network.id != view->network_id)
    throw cli_error(exit_usage, "join: the invite is for network " + view->network_id + ", the node serves " +
                                network.id);
  std::optional<crypto::identity> key;
  try {
    key = std::filesystem::exists(key_file) ? crypto::identity::load_file(key_file)
                                            : crypto::identity::create_file(key_file);
  } catch (const std::exception& ex) {
    throw cli_error(exit_usage, std::string("--key: ") + ex.what());
  }
  std::fprintf(stderr, "joining network \"%s\" as %s with key %s\n", terminal_safe(network.name).c_str(),
               std::string(ledger::to_string(view->r)).c_str(), key->node_id().c_str());
  return submit(client, ledger::make_redemption(*key, *invite, nick), "redemption");
}

std::string author_signed(node_client& client, const std::string& key_file,
                          const std::string& canonical_data) {
  const auto author = load_key(key_file, "--key");
  rapidjson::Document doc;
  const auto network = network_of(client, doc);
  try {
    return ledger::add_author_block(author, network.id, canonical_data, util::now_unix_us());
  } catch (const std::invalid_argument& ex) {
    throw cli_error(exit_usage, std::string("add --key: ") + ex.what());
  }
}

// ---- the commands' command lines ----

int cmd_members(global_options& global, const std::vector<std::string>& args) {
  bool json = false;
  auto options = command_options("members", "Lists a private network's members at the tip and "
                                 "who admitted or removed whom on the chain.", global);
  options.add("json", "print the node's answer as JSON", json);
  if (int code = parse_command(options, "gsio members", args); code >= 0)
    return code;
  auto client = connect(global);
  return members_command(*client, json);
}

int cmd_statement(global_options& global, const std::vector<std::string>& args, bool add) {
  std::string admin_key, role, nick;
  std::vector<std::string> positional;
  const auto option_args = split_positional(args, positional);
  const std::string name = add ? "admit" : "remove";
  auto options = command_options(
    name, add ? "gsio admit KEY --role ROLE --admin-key FILE [--nick N]: an admin statement adding "
                "KEY with ROLE (admin, node, author, reader), stored through the node."
              : "gsio remove KEY --admin-key FILE: an admin statement removing KEY; its later "
                "writes are refused on every node.",
    global);
  options.add("admin-key", "the admin's key file (from gsio network create)", admin_key);
  if (add)
    options.add("role", "admin, node, author or reader", role).add("nick", "a name shown with the key", nick);
  if (int code = parse_command(options, "gsio " + name, option_args); code >= 0)
    return code;
  if (positional.size() != 1 || admin_key.empty() || (add && role.empty()))
    throw cli_error(exit_usage, name + ": give one KEY and --admin-key FILE" + (add ? " and --role ROLE" : ""));
  auto client = connect(global);
  return statement_command(*client, admin_key, add, positional.front(), role, nick);
}

int cmd_invite(global_options& global, const std::vector<std::string>& args) {
  std::string admin_key, role, expires = "7d";
  auto options = command_options(
    "invite", "Makes a single-use invite to the node's network: prints the link to open (or to "
    "give gsio join / gsio-node --join) and, on its last line, the bare invite string.", global);
  options.add("admin-key", "the admin's key file (from gsio network create)", admin_key)
    .add("role", "node, author or reader", role)
    .add("expires", "how long the invite stays valid: 90s, 30m, 12h, 7d", expires);
  if (int code = parse_command(options, "gsio invite", args); code >= 0)
    return code;
  if (admin_key.empty() || role.empty())
    throw cli_error(exit_usage, "invite: give --admin-key FILE and --role ROLE");
  auto client = connect(global);
  return invite_command(*client, admin_key, role, expires);
}

int cmd_join(global_options& global, const std::vector<std::string>& args) {
  std::string nick;
  std::vector<std::string> positional;
  const auto option_args = split_positional(args, positional);
  auto options = command_options(
    "join", "gsio --key FILE join INVITE [--nick N]: redeems an invite (link or string) for the "
    "author key in FILE, made first if FILE does not exist.", global);
  options.add("nick", "the name shown with your key", nick);
  if (int code = parse_command(options, "gsio join", option_args); code >= 0)
    return code;
  if (positional.size() != 1)
    throw cli_error(exit_usage, "join: give one INVITE (the link or the string)");
  // Not authenticated: the key is not a member yet, and a redemption carries its own signature.
  auto unproved = global;
  unproved.key.clear();
  auto client = connect(unproved);
  return join_command(*client, global.key, positional.front(), nick);
}

}  // namespace gsio::cli
