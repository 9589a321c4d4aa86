#pragma once
// The gsio commands that work offline, on files (DESIGN §10): author and admin keys, and private
// networks. They never talk to a node.
#include <string>
#include <vector>

namespace gsio::cli {

// gsio key create FILE | gsio key show FILE
int run_key_command(const std::vector<std::string>& args);

// gsio network create NAME --dir DIR [--read members|anyone] [--members KEY:ROLE[:NICK],...]
// gsio network show FILE
int run_network_command(const std::vector<std::string>& args);

}  // namespace gsio::cli
