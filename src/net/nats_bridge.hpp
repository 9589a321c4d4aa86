#pragma once
// The relay's link to NATS (DESIGN §11): several relays, each with its own WebSocket-connected
// nodes, join one NATS cluster and forward P2P messages to each other through it. NATS runs
// behind this class on the official C client's own threads (libnats); nothing else in the
// project speaks the NATS protocol.
//
// Subjects, under a prefix (`--nats-subject-prefix`, "gsio" by default: one prefix per network,
// so that networks sharing a NATS cluster never see each other's messages):
//   <prefix>.broadcast       every broadcast, published once per relay that has the sender;
//   <prefix>.node.<node id>  directed messages, subscribed to by every relay that has that node
//                            connected while it is. Only ids that are a single subject token
//                            (letters, digits, '-' and '_') are bridged: an id with '.', '*' or
//                            '>' in it would name other subjects.
// Payloads are the P2P envelope text as a node sent it, already checked at the relay that
// published it; a receiving relay checks it again (another publisher may share the subject).
// The connection never hears its own publications (no echo), so a broadcast reaches every
// relay but the one it came in through.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gsio::net {

struct nats_options {
  std::vector<std::string> servers;  // nats:// or tls:// URLs; the client fails over between them
  std::string subject_prefix = "gsio";
  std::string name = "gsio-relay";   // shown by the NATS server's monitoring
  // Authentication, as NATS offers it: a credentials file (JWT + nkey seed), or an nkey seed file
  // with its public key.
  std::string credentials_file;
  std::string nkey_public;
  std::string nkey_seed_file;
  // TLS: the CA to trust for the server's certificate, and a client certificate if the server
  // asks for one. Any of them makes the connection require TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Publications held while no server is reachable; past this they are dropped and counted.
  std::size_t reconnect_buffer_bytes = 8 * 1024 * 1024;
  // Largest payload taken from NATS: larger ones are dropped (the relay's frame limit).
  std::size_t max_payload_bytes = 4 * 1024 * 1024;
};

// What arrives from NATS, on a libnats thread: hand it to the relay's own threads before touching
// anything of the relay's.
struct nats_callbacks {
  std::function<void(std::string envelope)> on_broadcast;
  std::function<void(std::string node_id, std::string envelope)> on_directed;
  // The connection to NATS came up (on the server at `url`) or went down.
  std::function<void(bool up, std::string url)> on_state;
};

struct nats_stats {
  bool connected = false;
  std::string server;  // the URL of the server it is on, "" when none
  std::uint64_t published = 0;
  std::uint64_t received = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t publish_dropped = 0;  // publications refused (no room to hold them while away)
  std::uint64_t receive_dropped = 0;  // messages NATS dropped for a slow subscription, or too large
  std::uint64_t watched_nodes = 0;    // node subjects subscribed to
};

class nats_bridge {
public:
  // Starts connecting (in the background: a relay starts even while NATS is down, and the client
  // keeps retrying). Throws std::runtime_error for options libnats refuses (a bad URL, an
  // unreadable credentials file) and names them.
  nats_bridge(nats_options options, nats_callbacks callbacks);
  ~nats_bridge();  // closes the connection; no callback runs afterwards
  // Closes the connection now (idempotent): no callback starts afterwards, publications and
  // watches are refused. For a relay that stops; the destructor still waits for libnats.
  void close();
  nats_bridge(const nats_bridge&) = delete;
  nats_bridge& operator=(const nats_bridge&) = delete;

  // Thread-safe.
  void publish_broadcast(std::string_view envelope);
  // False (nothing sent) for an id that is not a subject token.
  bool publish_to(std::string_view node_id, std::string_view envelope);
  // Subscribes to a node's subject while at least one watch of it is held; false (and nothing
  // held) for an id that is not a subject token, or if libnats refused the subscription.
  bool watch(const std::string& node_id);
  void unwatch(const std::string& node_id);

  nats_stats stats() const;

  // True for a valid prefix: dot-separated tokens of letters, digits, '-' and '_'.
  static bool valid_subject_prefix(std::string_view prefix);
  static bool valid_subject_token(std::string_view token);

private:
  struct impl;
  static void start(impl& m, nats_options options, nats_callbacks callbacks);
  std::shared_ptr<impl> impl_;
};

}  // namespace gsio::net
