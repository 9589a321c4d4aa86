// The relay's side of the relay tier (DESIGN §11): what goes to the other relays through NATS
// (net/nats_bridge), and what comes back from them. Routing itself stays in relay_server.cpp;
// this file owns the bridge, the checks on NATS input and the NATS part of /stats and /metrics.
#include <string>
#include <utility>

#include "net/detail/relay_connection.hpp"
#include "net/detail/relay_core.hpp"
#include "net/ws_frame.hpp"
#include "util/json_object.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"
#include "util/prometheus.hpp"

namespace gsio::net {

using namespace relay_detail;

namespace {
// Bad messages from NATS are logged this many times, then only counted: a stranger publishing on
// the subjects must not flood the log.
constexpr std::uint64_t logged_nats_drops = 10;

// The envelope inside a frame the relay encoded (ws::append_header: final, unmasked, text).
std::string_view envelope_of(const std::string& frame) {
  const auto length_code = static_cast<unsigned char>(frame[1]) & 0x7f;
  const std::size_t header = length_code < 126 ? 2 : length_code == 126 ? 4 : 10;
  return std::string_view{frame}.substr(header);
}
}  // namespace

void relay_server::impl::start_nats() {
  auto settings = *options.nats;
  // A NATS message is a frame a node sent to another relay: the same limit applies to it here.
  settings.max_payload_bytes = options.max_frame_bytes;
  nats_callbacks callbacks;
  // These run on libnats's delivery thread; the bridge is destroyed (and waits for them) before
  // anything they touch.
  callbacks.on_broadcast = [this](std::string envelope) { from_nats(std::move(envelope), nullptr); };
  callbacks.on_directed = [this](std::string node_id, std::string envelope) {
    from_nats(std::move(envelope), &node_id);
  };
  callbacks.on_state = [](bool up, std::string url) {
    if (up)
      log::info(log_component, "NATS connected to ", url);
    else
      log::warn(log_component, "NATS connection lost; reconnecting (publications are held up to "
                               "the reconnect buffer meanwhile)");
  };
  std::string servers;
  for (const auto& server : settings.servers)
    servers += (servers.empty() ? "" : ",") + server;
  log::info(log_component, "joining the other relays through NATS at ", servers, " (subjects ",
            settings.subject_prefix, ".*)");
  nats = std::make_unique<nats_bridge>(std::move(settings), std::move(callbacks));
}

void relay_server::impl::from_nats(std::string envelope, const std::string* directed_to) {
  std::string error;
  auto message = decode_p2p(envelope, error, /*with_payload=*/false);
  // Another publisher on the subject (or a relay of another version) must not get past the
  // checks a node's frame gets: a valid envelope, addressed as its subject says.
  // (Never addressed to its own sender: a node's frame like that is dropped as self_addressed.)
  const bool addressed_right =
    message && (directed_to ? message->recipient_id == *directed_to && message->sender_id != *directed_to
                            : message->recipient_id.empty());
  if (!addressed_right) {
    const auto dropped = nats_malformed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (dropped <= logged_nats_drops)
      log::warn(log_component, "dropped a message from NATS: ",
                message ? "its recipient does not match the subject" : error);
    return;
  }
  auto frame = std::make_shared<const std::string>(ws::encode_frame(ws::opcode::text, envelope));
  if (!directed_to) {
    // Never back to the sender, should it be connected here too (a node with two relay links).
    deliver_to_all(frame, message->network_id, message->sender_id, nullptr);
    return;
  }
  std::shared_ptr<relay_connection> target;
  {
    std::lock_guard lock{mutex};
    if (stopping)
      return;
    if (auto it = nodes.find(*directed_to); it != nodes.end() && it->second.network == message->network_id)
      target = it->second.handle.lock();
  }
  if (!target) {
    nats_unknown_node.fetch_add(1, std::memory_order_relaxed);  // it left between the two
    return;
  }
  target->deliver(frame);
}

bool relay_server::impl::broadcast_on_nats(const frame_ptr& frame) {
  if (!nats)
    return false;
  nats->publish_broadcast(envelope_of(*frame));
  return true;
}

bool relay_server::impl::send_on_nats(const std::string& recipient_id, const frame_ptr& frame) {
  return nats && nats->publish_to(recipient_id, envelope_of(*frame));
}

void relay_server::impl::watch_on_nats(const std::string& node_id) {
  if (!nats || nats->watch(node_id))
    return;
  log::warn(log_component, "node ", util::printable_prefix(node_id),
            " cannot be reached from the other relays: ",
            nats_bridge::valid_subject_token(node_id) ? "NATS refused the subscription"
                                                      : "its id is not a NATS subject token");
}

void relay_server::impl::unwatch_on_nats(const std::string& node_id) {
  if (nats)
    nats->unwatch(node_id);
}

std::string relay_server::impl::nats_stats_json() const {
  if (!nats)
    return "null";
  const auto s = nats->stats();
  util::json_object o;
  o.flag("connected", s.connected)
    .text_or_null("server", s.server)
    .count("published", s.published)
    .count("received", s.received)
    .count("reconnects", s.reconnects)
    .count("publish_dropped", s.publish_dropped)
    .count("receive_dropped", s.receive_dropped)
    .count("malformed", nats_malformed.load(std::memory_order_relaxed))
    .count("unknown_node", nats_unknown_node.load(std::memory_order_relaxed))
    .count("watched_nodes", s.watched_nodes);
  return o.finish();
}

void relay_server::impl::write_nats_metrics(util::prometheus::text_writer& w) const {
  using util::prometheus::metric_type;
  if (!nats)
    return;
  const auto s = nats->stats();
  w.gauge("gsio_relay_nats_connected", "1 while the relay is connected to a NATS server, else 0.",
          s.connected ? 1.0 : 0.0);
  w.family("gsio_relay_nats_messages_total", metric_type::counter,
           "P2P messages to the other relays (out, published) and from them (in).");
  w.sample({{"direction", "out"}}, s.published);
  w.sample({{"direction", "in"}}, s.received);
  w.family("gsio_relay_nats_dropped_total", metric_type::counter,
           "NATS messages dropped: publish_buffer (no room while NATS was unreachable), "
           "slow_or_oversized (a subscription fell behind, or above max_frame_bytes), malformed "
           "(not a valid envelope for its subject), unknown_node (directed to a node gone from here).");
  w.sample({{"reason", "publish_buffer"}}, s.publish_dropped);
  w.sample({{"reason", "slow_or_oversized"}}, s.receive_dropped);
  w.sample({{"reason", "malformed"}}, nats_malformed.load(std::memory_order_relaxed));
  w.sample({{"reason", "unknown_node"}}, nats_unknown_node.load(std::memory_order_relaxed));
  w.counter("gsio_relay_nats_reconnects_total", "Reconnections to a NATS server.", s.reconnects);
  w.gauge("gsio_relay_nats_watched_nodes",
          "Node subjects this relay subscribes to (its nodes, reachable from the other relays).",
          static_cast<double>(s.watched_nodes));
}

}  // namespace gsio::net
