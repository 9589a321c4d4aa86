#pragma once
// The /p2p contract: how two nodes exchange P2P envelopes over Socket.IO when one dials the
// other directly (`gsio-node --peer`) instead of through a relay (docs/PROTOCOL.md §7, Direct
// peering). Written once here for the dialing side (the node's peer link) and the answering
// side (the node's Socket.IO server and its P2P sessions).
#include <optional>
#include <string>
#include <string_view>

namespace gsio::net::p2p_socketio {

// The Socket.IO namespace of node-to-node traffic.
inline constexpr std::string_view nsp = "/p2p";
// The event carrying one envelope, in both directions; its one argument is the envelope object.
inline constexpr std::string_view event = "p2p_message";

// Sent by the answering node right after CONNECT, with one argument {"challenge": 64 hex}: fresh
// for this socket. The dialer proves its node id by signing it (announce_proof.hpp) in the
// relay_proof of its first NodeAnnounce, as it does for a relay's challenge; until then the
// answering node takes nothing from the socket.
inline constexpr std::string_view challenge_event = "p2p_challenge";

// The argument array of a challenge event, and the challenge in one (nullopt: not 64 lowercase hex).
std::string challenge_args(std::string_view challenge);
std::optional<std::string> challenge_of(std::string_view args_json);

// The CONNECT auth payload a dialing node sends: {"token": T} for a network token, or none.
std::string auth_payload(std::string_view token);

// Whether a CONNECT's auth payload (JSON text) carries `token` as its "token" member; compared
// in time that does not depend on how much of it matched.
bool auth_matches(std::string_view auth_json, std::string_view token);

// The argument array of a `p2p_message` event ("[{...}]", as Socket.IO hands it over) as the
// envelope's JSON text; nullopt when the first argument is not an object or the text is not
// JSON a node reads (util/json_parse.hpp).
std::optional<std::string> envelope_of(std::string_view args_json);

// The argument array of a `p2p_message` event carrying `envelope_json`.
std::string args_of(std::string_view envelope_json);

}  // namespace gsio::net::p2p_socketio
