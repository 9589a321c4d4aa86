#pragma once
// The gsio commands of a private network that go through a node (DESIGN §10): listing members,
// admitting and removing them, making and redeeming invites, and signing data as an author.
// Signing happens here, with keys from files; the node only sees signed statements.
#include <cstdint>
#include <string>
#include <vector>

namespace gsio::crypto {
class identity;
}

namespace gsio::cli {

class node_client;
struct global_options;

// The commands as `gsio` runs them: their options parsed from `args`, then one of those below.
int cmd_members(global_options& global, const std::vector<std::string>& args);
int cmd_statement(global_options& global, const std::vector<std::string>& args, bool add);
int cmd_invite(global_options& global, const std::vector<std::string>& args);
int cmd_join(global_options& global, const std::vector<std::string>& args);

// Answers the node's challenge (a private network's) with `key`; returns the key's role there.
// cli_error when the node serves an open network or refuses the proof.
std::string authenticate(node_client& client, const crypto::identity& key);

// gsio members [--json]
int members_command(node_client& client, bool json);

// gsio admit KEY --role ROLE [--nick N] / gsio remove KEY, signed with the admin key file.
int statement_command(node_client& client, const std::string& admin_key_file, bool add,
                      const std::string& key, const std::string& role, const std::string& nick);

// gsio invite --role ROLE [--expires DURATION]: prints the link (the node's URL with
// #invite=...) and, on its last line, the bare invite string.
int invite_command(node_client& client, const std::string& admin_key_file, const std::string& role,
                   const std::string& expires);

// gsio --key FILE join INVITE [--nick N]: redeems the invite for the key in FILE (made first if
// FILE does not exist).
int join_command(node_client& client, const std::string& key_file, const std::string& invite,
                 const std::string& nick);

// `canonical_data` with an author block signed by the key in `key_file`, for the node's network.
std::string author_signed(node_client& client, const std::string& key_file,
                          const std::string& canonical_data);

// "7d", "12h", "30m", "90s" as microseconds; cli_error (usage) otherwise.
std::int64_t parse_duration_us(const std::string& text);

}  // namespace gsio::cli
