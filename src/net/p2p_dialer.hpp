#pragma once
// How a node reaches other nodes on its own initiative: a relay (a WebSocket, one text frame per
// P2P envelope, docs/PROTOCOL.md §7 Relay) or another node's "/p2p" namespace (Socket.IO, one
// `p2p_message` event per envelope, §7 Direct peering). A dialer owns the io thread of one
// outbound link and its current connection; whoever keeps the link up (the node's link actor)
// sees only envelopes, the relay's proof and the reason a connection closed.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gsio::net {

// Called on the dialer's io thread, for the connection of the latest dial() only.
struct p2p_dial_callbacks {
  // The connection is up; `relay_proof` is the proof of the node id for its first NodeAnnounce
  // ("" when the other side asked for none).
  std::function<void(std::string relay_proof)> on_open;
  // One P2P envelope, as JSON text (not checked yet).
  std::function<void(std::string envelope)> on_envelope;
  // The connection failed or closed (after on_open, or instead of it).
  std::function<void(std::string reason)> on_close;
};

struct p2p_dial_options {
  std::string tls_ca_file;  // extra CA certificates (PEM) to trust for wss:// and https://
  // The shared network token: to a relay as "Authorization: Bearer", to a peer as the /p2p auth
  // payload {"token": ...}.
  std::string token;
  std::size_t max_frame_bytes = 16 * 1024 * 1024;
  std::size_t max_queue_bytes = 16 * 1024 * 1024;
  // Signs the relay's or the peer's challenge (announce_proof.hpp) with the node key, giving the
  // hex signature of announce_proof_digest(challenge, node id). Unset: no proof is sent (a peer
  // then takes nothing from this node).
  std::function<std::string(const std::string& challenge)> prove_identity;
  // For a relay, on a private network: its id. The relay must list it in its upgrade response
  // (announce_proof.hpp, networks_header), else the connection is closed with the reason before
  // anything is sent: a relay that does not serve the network privately would pass this node's
  // broadcasts to anyone who connects.
  std::string private_network;
};

class p2p_dialer {
public:
  virtual ~p2p_dialer() = default;
  // "relay" or "direct".
  virtual std::string_view kind() const = 0;
  // Drops the current connection, if any (its callbacks no longer run), and dials `url`: ws:// or
  // wss:// for a relay, http:// or https:// for a peer.
  virtual void dial(const std::string& url, p2p_dial_callbacks callbacks) = 0;
  // Drops the current connection without dialing again.
  virtual void hang_up() = 0;
  // Queues an encoded envelope on the current connection; dropped when there is none.
  virtual void send(std::string envelope) = 0;
  virtual std::size_t queued_bytes() const = 0;
};

std::unique_ptr<p2p_dialer> relay_dialer(p2p_dial_options options);
std::unique_ptr<p2p_dialer> peer_dialer(p2p_dial_options options);

}  // namespace gsio::net
