#include "cli/command_line.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "cli/member_commands.hpp"
#include "crypto/identity.hpp"

namespace gsio::cli {

util::option_set command_options(const std::string& command, const std::string& summary,
                                 global_options& global) {
  util::option_set options{"gsio " + command, summary};
  options.add("node", "the node, http://host:port", global.node)
    .add("timeout-ms", "how long to wait to connect and for each answer, ms", global.timeout_ms)
    .add("key", "an author key file (`gsio key create`): add signs as that author, join admits it",
         global.key);
  return options;
}

int parse_command(util::option_set& options, const std::string& program,
                  const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string name = program;
  argv.push_back(name.data());
  std::vector<std::string> copies = args;  // option_set wants char**; keep the storage alive
  for (auto& a : copies)
    argv.push_back(a.data());
  switch (options.parse(static_cast<int>(argv.size()), argv.data())) {
    case util::option_set::outcome::exit_ok: return exit_ok;
    case util::option_set::outcome::exit_error: return exit_usage;
    case util::option_set::outcome::proceed: return -1;
  }
  return exit_usage;
}

std::vector<std::string> split_positional(const std::vector<std::string>& args,
                                          std::vector<std::string>& positional,
                                          std::initializer_list<std::string_view> flags) {
  std::vector<std::string> option_args;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 && a != "-h") {
      positional.push_back(a);
      continue;
    }
    option_args.push_back(a);
    const bool is_flag = a == "--help" || a == "-h" || a.find('=') != std::string::npos ||
                         std::find(flags.begin(), flags.end(), std::string_view(a).substr(2)) != flags.end();
    if (!is_flag && i + 1 < args.size())
      option_args.push_back(args[++i]);
  }
  return option_args;
}

std::unique_ptr<node_client> connect(const global_options& global, node_client::event_handler on_event) {
  if (global.timeout_ms == 0 || global.timeout_ms > 24ull * 3600 * 1000)
    throw cli_error(exit_usage, "--timeout-ms must be between 1 and 86400000");
  auto client = std::make_unique<node_client>(global.node, std::chrono::milliseconds{global.timeout_ms},
                                              std::move(on_event));
  client->connect();
  // With an author key (one that exists: `join` makes its key later), prove it first, so that a
  // members-only network lets this client read and write.
  if (!global.key.empty() && std::filesystem::exists(global.key)) {
    try {
      authenticate(*client, crypto::identity::load_file(global.key));
    } catch (const cli_error&) {
      throw;
    } catch (const std::exception& ex) {
      throw cli_error(exit_usage, std::string("--key: ") + ex.what());
    }
  }
  return client;
}

}  // namespace gsio::cli
