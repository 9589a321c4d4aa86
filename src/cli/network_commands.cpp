#include "cli/network_commands.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "cli/node_client.hpp"
#include "crypto/identity.hpp"
#include "ledger/membership.hpp"
#include "util/clock.hpp"
#include "util/hex.hpp"
#include "util/options.hpp"

namespace gsio::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* key_usage = R"(usage: gsio key create FILE | gsio key show FILE

  create   makes an Ed25519 key (an author's or an admin's) in FILE, mode 0600, and prints its
           public key; an existing FILE is never overwritten
  show     prints the public key of the key in FILE
)";

constexpr const char* network_usage = R"(usage: gsio network create NAME --dir DIR [options] | gsio network show FILE

  create   makes a private network: DIR/admin.key (the admin's key, mode 0600: keep it off the
           nodes) and DIR/network.json (the charter, the first entry of the network's chain,
           which every node of the network is started with: gsio-node --network DIR/network.json)
    --dir DIR              where to write the two files (created, mode 0700; must not hold them)
    --read members|anyone  who may read the chain (default: members)
    --members LIST         members admitted by the charter itself, comma-separated KEY:ROLE[:NICK]
                           with ROLE node, author or reader (KEY: 64 hex, `gsio key show`); a
                           node's key is DATA_DIR/node.key, shown with `gsio key show`
  show     prints what a network.json says: its id, name, policy, admins and first members
)";

[[noreturn]] void usage_error(const std::string& what, const char* usage) {
  std::fputs(usage, stderr);
  throw cli_error(exit_usage, what);
}

bool is_help(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--help" || a == "-h")
      return true;
  return false;
}

crypto::identity load_key(const std::string& file) {
  try {
    return crypto::identity::load_file(file);
  } catch (const std::exception& ex) {
    throw cli_error(exit_usage, ex.what());
  }
}

// Writes `text` to a new file `file` (never an existing one) with `mode`, synced.
void write_new_file(const fs::path& file, const std::string& text, mode_t mode) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    throw cli_error(exit_usage, "cannot create " + file.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok)
    throw cli_error(exit_usage, "cannot write " + file.string() + ": " + std::strerror(saved));
}

std::vector<ledger::charter_fields::initial_member> parse_members(const std::string& list) {
  std::vector<ledger::charter_fields::initial_member> out;
  for (const auto& item : util::split_list(list)) {
    const auto first = item.find(':');
    const auto second = first == std::string::npos ? std::string::npos : item.find(':', first + 1);
    ledger::charter_fields::initial_member m;
    m.key = item.substr(0, first);
    const auto role_text = first == std::string::npos ? std::string{} : item.substr(first + 1, second - first - 1);
    const auto r = ledger::role_from_string(role_text);
    if (second != std::string::npos)
      m.nick = item.substr(second + 1);
    if (!util::is_lower_hex(m.key, 64) || !r || *r == ledger::role::admin)
      throw cli_error(exit_usage, "--members: '" + item + "' is not KEY:ROLE[:NICK] with a 64-hex key and "
                                  "role node, author or reader");
    m.r = *r;
    out.push_back(std::move(m));
  }
  return out;
}

int network_create(const std::vector<std::string>& args) {
  std::string name, dir, read = "members", members;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* option) -> std::string {
      if (i + 1 >= args.size())
        usage_error(std::string("network create: ") + option + " needs a value", network_usage);
      return args[++i];
    };
    if (a == "--dir")
      dir = value("--dir");
    else if (a == "--read")
      read = value("--read");
    else if (a == "--members")
      members = value("--members");
    else if (a.starts_with("--"))
      usage_error("network create: unknown option " + a, network_usage);
    else if (name.empty())
      name = a;
    else
      usage_error("network create: one NAME only (got '" + name + "' and '" + a + "')", network_usage);
  }
  if (name.empty() || dir.empty())
    usage_error("network create: NAME and --dir DIR are required", network_usage);
  if (name.size() > 128)
    throw cli_error(exit_usage, "network create: a NAME has at most 128 bytes");
  if (read != "members" && read != "anyone")
    throw cli_error(exit_usage, "network create: --read must be members or anyone, not '" + read + "'");
  ledger::charter_fields fields;
  fields.name = name;
  fields.read = read == "anyone" ? ledger::read_policy::anyone : ledger::read_policy::members;
  fields.members = parse_members(members);

  const fs::path base(dir);
  const fs::path key_file = base / "admin.key", network_file = base / "network.json";
  std::error_code ec;
  if (fs::exists(key_file) || fs::exists(network_file))
    throw cli_error(exit_usage, "network create: " + dir + " already holds a network (admin.key or "
                                "network.json); pick an empty directory");
  if (fs::create_directories(base, ec))
    fs::permissions(base, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec)
    throw cli_error(exit_usage, "cannot create " + dir + ": " + ec.message());
  crypto::identity admin = [&] {
    try {
      return crypto::identity::create_file(key_file);
    } catch (const std::exception& ex) {
      throw cli_error(exit_usage, ex.what());
    }
  }();
  const auto charter = ledger::make_charter(admin, fields, util::now_unix_us());
  // The charter must pass the rules every node applies before anyone is told to use it.
  std::string error;
  if (!ledger::read_network_file(ledger::to_json(charter), error))
    throw cli_error(exit_usage, "network create: the charter does not hold: " + error);
  write_new_file(network_file, ledger::to_json(charter) + "\n", 0644);
  std::printf("network \"%s\" created\n  id:      %s\n  charter: %s\n  admin:   %s (key %s; keep it "
              "off the nodes)\n  members: %zu admitted by the charter\n"
              "start a node of it with: gsio-node --network %s --data-dir DIR\n",
              name.c_str(), charter.hash.c_str(), network_file.c_str(), key_file.c_str(),
              admin.node_id().c_str(), fields.members.size(), network_file.c_str());
  return exit_ok;
}

int network_show(const std::vector<std::string>& args) {
  if (args.size() != 1)
    usage_error("network show: give one FILE", network_usage);
  std::ifstream in(args[0], std::ios::binary);
  if (!in)
    throw cli_error(exit_usage, "cannot read " + args[0] + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string error;
  auto network = ledger::read_network_file(text.str(), error);
  if (!network)
    throw cli_error(exit_usage, args[0] + " is not a valid network file: " + error);
  const auto& state = *network->founded;
  std::printf("network \"%s\"\n  id:    %s\n  read:  %s\n  write: members\n", state.name.c_str(),
              state.network_id.c_str(), std::string(ledger::to_string(state.read)).c_str());
  for (const auto& [key, m] : state.members)
    std::printf("  %-6s %s%s%s\n", std::string(ledger::to_string(m.r)).c_str(), key.c_str(),
                m.nick.empty() ? "" : "  ", m.nick.c_str());
  return exit_ok;
}

}  // namespace

int run_key_command(const std::vector<std::string>& args) {
  if (is_help(args)) {
    std::fputs(key_usage, stdout);
    return exit_ok;
  }
  if (args.size() != 2 || (args[0] != "create" && args[0] != "show"))
    usage_error("key: give create FILE or show FILE", key_usage);
  if (args[0] == "create") {
    try {
      std::printf("%s\n", crypto::identity::create_file(args[1]).node_id().c_str());
    } catch (const std::exception& ex) {
      throw cli_error(exit_usage, ex.what());
    }
    return exit_ok;
  }
  std::printf("%s\n", load_key(args[1]).node_id().c_str());
  return exit_ok;
}

int run_network_command(const std::vector<std::string>& args) {
  if (is_help(args)) {
    std::fputs(network_usage, stdout);
    return exit_ok;
  }
  if (!args.empty() && args[0] == "create")
    return network_create({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "show")
    return network_show({args.begin() + 1, args.end()});
  usage_error("network: give create or show", network_usage);
}

}  // namespace gsio::cli
