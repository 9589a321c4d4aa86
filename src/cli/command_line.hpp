#pragma once
// What every gsio command that talks to a node shares: the global options, option parsing that
// accepts them after the command too, and connecting to the node.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/node_client.hpp"
#include "util/options.hpp"

namespace gsio::cli {

struct global_options {
  std::string node = "http://127.0.0.1:3000";
  std::uint64_t timeout_ms = 10000;
  std::string key;  // an author key file: add signs as that author, join admits it
};

// A command's options: its own plus the global ones, so they may follow the command too.
util::option_set command_options(const std::string& command, const std::string& summary,
                                 global_options& global);

// Parses a command's arguments; returns an exit code to stop with, or -1 to go on.
int parse_command(util::option_set& options, const std::string& program,
                  const std::vector<std::string>& args);

// Splits a command's arguments into its options (with their values) and the positional ones.
// Every option takes a value except --help and the `flags` named (without their dashes).
std::vector<std::string> split_positional(const std::vector<std::string>& args,
                                          std::vector<std::string>& positional,
                                          std::initializer_list<std::string_view> flags = {});

// A connected client of the node named by the global options (cli_error when it cannot be).
std::unique_ptr<node_client> connect(const global_options& global,
                                     node_client::event_handler on_event = {});

}  // namespace gsio::cli
