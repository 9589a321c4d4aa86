#include "net/nats_bridge.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include <unistd.h>

#include <nats/nats.h>

#include "util/log.hpp"

namespace gsio::net {

namespace {

void check(natsStatus status, const std::string& what) {
  if (status != NATS_OK)
    throw std::runtime_error(what + ": " + natsStatus_GetText(status) + " (" +
                             nats_GetLastError(nullptr) + ")");
}

// libnats reads some of these files only when it connects, in the background: a wrong path would
// show only as a relay that never joins. Checked up front instead, with the reason.
void require_readable(const std::string& path, const std::string& what) {
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0)
    throw std::runtime_error("cannot use the NATS " + what + " " + path + ": " + std::strerror(errno));
}

// Messages and bytes NATS holds for a subscription whose callbacks fall behind; beyond them it
// drops (and counts) rather than grow. The broadcast subject carries the whole network's traffic;
// a node's subject only what is addressed to that node, and a relay holds one per node.
constexpr int broadcast_pending_messages = 65'536;
constexpr int broadcast_pending_bytes = 64 * 1024 * 1024;
constexpr int node_pending_messages = 4'096;
constexpr int node_pending_bytes = 8 * 1024 * 1024;
// A socket write to a NATS server that stops reading fails after this (libnats blocks without
// it), so a publish on an io thread never waits longer; a server that answers no ping for
// ping_interval x max_pings_out is given up for the next one.
constexpr int64_t write_deadline_ms = 2'000;
constexpr int64_t ping_interval_ms = 5'000;
constexpr int max_pings_out = 3;

}  // namespace

struct nats_bridge::impl {
  nats_options options;
  nats_callbacks callbacks;
  std::string broadcast_subject;
  std::string node_subject_prefix;

  natsOptions* opts = nullptr;
  natsConnection* connection = nullptr;
  natsSubscription* broadcast = nullptr;

  // Set first thing on the way out: a callback already running finishes, none does anything new.
  std::atomic<bool> closing{false};
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> published{0}, received{0}, reconnects{0}, publish_dropped{0},
    oversized{0};
  // Messages NATS dropped for node subscriptions since destroyed: a counter must not go down.
  std::atomic<std::uint64_t> dropped_by_gone{0};

  mutable std::mutex mutex;  // guards the members below
  struct watched {
    unsigned holders = 0;
    natsSubscription* subscription = nullptr;
  };
  std::unordered_map<std::string, watched> nodes;
  std::string server;

  // Closes the connection: no callback starts afterwards (one already running finishes and sees
  // `closing`), publications are refused. The connection object stays valid, so a publish racing
  // with this on another thread is safe.
  void close() {
    if (closing.exchange(true))
      return;
    if (connection)
      natsConnection_Close(connection);
  }

  // Frees what libnats gave out; after close(), once no call into this object can be running.
  void destroy() {
    close();
    std::lock_guard lock{mutex};
    for (auto& [id, w] : nodes)
      natsSubscription_Destroy(w.subscription);
    nodes.clear();
    natsSubscription_Destroy(broadcast);
    broadcast = nullptr;
    natsConnection_Destroy(connection);
    connection = nullptr;
    natsOptions_Destroy(opts);
    opts = nullptr;
  }

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<impl*>(closure);
    if (!self->closing.load()) {
      const std::string_view subject = natsMsg_GetSubject(msg);
      const auto size = static_cast<std::size_t>(natsMsg_GetDataLength(msg));
      if (size > self->options.max_payload_bytes) {
        self->oversized.fetch_add(1, std::memory_order_relaxed);
      } else {
        self->received.fetch_add(1, std::memory_order_relaxed);
        std::string envelope{natsMsg_GetData(msg), size};
        if (subject == self->broadcast_subject) {
          if (self->callbacks.on_broadcast)
            self->callbacks.on_broadcast(std::move(envelope));
        } else if (subject.starts_with(self->node_subject_prefix) && self->callbacks.on_directed) {
          self->callbacks.on_directed(std::string{subject.substr(self->node_subject_prefix.size())},
                                      std::move(envelope));
        }
      }
    }
    natsMsg_Destroy(msg);
  }

  void state_changed(natsConnection* nc, bool up) {
    if (closing.load())
      return;
    std::string url;
    if (up) {
      char buffer[512] = {};
      if (natsConnection_GetConnectedUrl(nc, buffer, sizeof buffer) == NATS_OK)
        url = buffer;
    }
    connected = up;
    {
      std::lock_guard lock{mutex};
      server = url;
    }
    if (callbacks.on_state)
      callbacks.on_state(up, std::move(url));
  }

  static void on_connected(natsConnection* nc, void* closure) {
    static_cast<impl*>(closure)->state_changed(nc, true);
  }
  static void on_reconnected(natsConnection* nc, void* closure) {
    auto* self = static_cast<impl*>(closure);
    self->reconnects.fetch_add(1, std::memory_order_relaxed);
    self->state_changed(nc, true);
  }
  static void on_disconnected(natsConnection* nc, void* closure) {
    static_cast<impl*>(closure)->state_changed(nc, false);
  }

  void publish(const std::string& subject, std::string_view payload) {
    if (closing.load() || !connection)
      return;
    // While no server is reachable libnats holds publications up to the reconnect buffer, then
    // refuses them: that is the bounded outbound queue.
    const auto status = natsConnection_Publish(connection, subject.c_str(), payload.data(),
                                               static_cast<int>(payload.size()));
    if (status == NATS_OK)
      published.fetch_add(1, std::memory_order_relaxed);
    else
      publish_dropped.fetch_add(1, std::memory_order_relaxed);
  }

  static std::uint64_t dropped_by(natsSubscription* sub) {
    int64_t dropped = 0;
    if (sub && natsSubscription_GetDropped(sub, &dropped) == NATS_OK && dropped > 0)
      return static_cast<std::uint64_t>(dropped);
    return 0;
  }
};

nats_bridge::nats_bridge(nats_options options, nats_callbacks callbacks) : impl_(std::make_shared<impl>()) {
  auto& m = *impl_;
  try {
    start(m, std::move(options), std::move(callbacks));
  } catch (...) {
    m.destroy();
    nats_CloseAndWait(5000);
    throw;
  }
}

void nats_bridge::start(impl& m, nats_options options, nats_callbacks callbacks) {
  m.options = std::move(options);
  m.callbacks = std::move(callbacks);
  m.broadcast_subject = m.options.subject_prefix + ".broadcast";
  m.node_subject_prefix = m.options.subject_prefix + ".node.";
  if (m.options.servers.empty())
    throw std::runtime_error("no NATS server given");
  if (!valid_subject_prefix(m.options.subject_prefix))
    throw std::runtime_error("bad NATS subject prefix '" + m.options.subject_prefix +
                             "': dot-separated tokens of letters, digits, '-' and '_'");

  require_readable(m.options.credentials_file, "credentials file");
  require_readable(m.options.nkey_seed_file, "nkey seed file");
  require_readable(m.options.tls_ca_file, "CA file");
  require_readable(m.options.tls_cert_file, "client certificate");
  require_readable(m.options.tls_key_file, "client key");

  // One delivery thread for every subscription, rather than one per watched node.
  check(nats_SetMessageDeliveryPoolSize(1), "cannot set up libnats");
  check(natsOptions_Create(&m.opts), "cannot set up libnats");
  std::vector<const char*> servers;
  for (const auto& s : m.options.servers)
    servers.push_back(s.c_str());
  check(natsOptions_SetServers(m.opts, servers.data(), static_cast<int>(servers.size())),
        "bad NATS server list");
  check(natsOptions_SetName(m.opts, m.options.name.c_str()), "bad NATS client name");
  // The servers in the order given (nearest first), not shuffled as NATS clients do by default.
  check(natsOptions_SetNoRandomize(m.opts, true), "cannot set up libnats");
  check(natsOptions_UseGlobalMessageDelivery(m.opts, true), "cannot set up libnats");
  // Never give up on NATS: a relay keeps serving its own nodes meanwhile.
  check(natsOptions_SetMaxReconnect(m.opts, -1), "cannot set up libnats");
  check(natsOptions_SetReconnectWait(m.opts, 250), "cannot set up libnats");
  check(natsOptions_SetReconnectJitter(m.opts, 100, 1000), "cannot set up libnats");
  check(natsOptions_SetReconnectBufSize(m.opts, static_cast<int>(m.options.reconnect_buffer_bytes)),
        "bad reconnect buffer size");
  check(natsOptions_SetWriteDeadline(m.opts, write_deadline_ms), "cannot set up libnats");
  check(natsOptions_SetPingInterval(m.opts, ping_interval_ms), "cannot set up libnats");
  check(natsOptions_SetMaxPingsOut(m.opts, max_pings_out), "cannot set up libnats");
  check(natsOptions_SetNoEcho(m.opts, true), "cannot set up libnats");
  check(natsOptions_SetDisconnectedCB(m.opts, &impl::on_disconnected, &m), "cannot set up libnats");
  check(natsOptions_SetReconnectedCB(m.opts, &impl::on_reconnected, &m), "cannot set up libnats");
  check(natsOptions_SetRetryOnFailedConnect(m.opts, true, &impl::on_connected, &m),
        "cannot set up libnats");
  if (!m.options.credentials_file.empty())
    check(natsOptions_SetUserCredentialsFromFiles(m.opts, m.options.credentials_file.c_str(), nullptr),
          "cannot use the NATS credentials file " + m.options.credentials_file);
  if (!m.options.nkey_seed_file.empty())
    check(natsOptions_SetNKeyFromSeed(m.opts, m.options.nkey_public.c_str(),
                                      m.options.nkey_seed_file.c_str()),
          "cannot use the NATS nkey seed file " + m.options.nkey_seed_file);
  // libnats takes TLS from the options, not from a tls:// URL: without this, a tls:// server that
  // does not insist on TLS would be spoken to in plain text.
  const bool tls_url = std::any_of(m.options.servers.begin(), m.options.servers.end(),
                                   [](const std::string& s) { return s.rfind("tls://", 0) == 0; });
  if (tls_url || !m.options.tls_ca_file.empty() || !m.options.tls_cert_file.empty()) {
    check(natsOptions_SetSecure(m.opts, true), "cannot use TLS with NATS");
    if (!m.options.tls_ca_file.empty())
      check(natsOptions_LoadCATrustedCertificates(m.opts, m.options.tls_ca_file.c_str()),
            "cannot read the NATS CA file " + m.options.tls_ca_file);
    if (!m.options.tls_cert_file.empty())
      check(natsOptions_LoadCertificatesChain(m.opts, m.options.tls_cert_file.c_str(),
                                              m.options.tls_key_file.c_str()),
            "cannot read the NATS client certificate " + m.options.tls_cert_file);
  }
  // With retry-on-failed-connect, NATS_NOT_YET_CONNECTED means "connecting in the background".
  const auto status = natsConnection_Connect(&m.connection, m.opts);
  if (status != NATS_OK && status != NATS_NOT_YET_CONNECTED)
    check(status, "cannot connect to NATS");
  if (status == NATS_OK) {
    m.state_changed(m.connection, true);
  } else {
    std::string servers;
    for (const auto& server : m.options.servers)
      servers += (servers.empty() ? "" : ",") + server;
    log::warn("nats", "no NATS server answers yet (", servers, ", ", natsStatus_GetText(status),
              "): connecting in the background; publications are held up to the reconnect buffer "
              "meanwhile");
  }
  // A server that refuses the relay (an nkey it does not allow, say) can make libnats close the
  // connection for good while it is still connecting in the background: then the relay serves its
  // own nodes alone, as it does while no server answers, instead of failing to start.
  natsSubscription* broadcast = nullptr;
  const auto subscribed = natsConnection_Subscribe(&broadcast, m.connection, m.broadcast_subject.c_str(),
                                                   &impl::on_message, &m);
  if (subscribed == NATS_CONNECTION_CLOSED) {
    log::error("nats", "the NATS connection was closed before the relay could subscribe (",
               nats_GetLastError(nullptr), "): this relay serves its own nodes alone");
    return;
  }
  check(subscribed, "cannot subscribe to " + m.broadcast_subject);
  natsSubscription_SetPendingLimits(broadcast, broadcast_pending_messages, broadcast_pending_bytes);
  m.broadcast = broadcast;
}

void nats_bridge::close() { impl_->close(); }

nats_bridge::~nats_bridge() {
  impl_->destroy();
  // libnats delivers on its own threads: only once they are all done may the callbacks' closure
  // go. A relay holds one bridge for its lifetime, so closing the library here is safe.
  if (const auto status = nats_CloseAndWait(5000); status != NATS_OK)
    log::warn("nats", "libnats did not close cleanly: ", natsStatus_GetText(status));
  impl_.reset();
}

void nats_bridge::publish_broadcast(std::string_view envelope) {
  impl_->publish(impl_->broadcast_subject, envelope);
}

bool nats_bridge::publish_to(std::string_view node_id, std::string_view envelope) {
  if (!valid_subject_token(node_id))
    return false;
  impl_->publish(impl_->node_subject_prefix + std::string{node_id}, envelope);
  return true;
}

bool nats_bridge::watch(const std::string& node_id) {
  if (!valid_subject_token(node_id))
    return false;
  auto& m = *impl_;
  std::lock_guard lock{m.mutex};
  if (m.closing.load() || !m.connection)
    return false;
  auto& w = m.nodes[node_id];
  if (w.holders++ > 0)
    return true;
  natsSubscription* sub = nullptr;
  if (natsConnection_Subscribe(&sub, m.connection, (m.node_subject_prefix + node_id).c_str(),
                               &impl::on_message, &m) != NATS_OK) {
    m.nodes.erase(node_id);
    return false;
  }
  natsSubscription_SetPendingLimits(sub, node_pending_messages, node_pending_bytes);
  w.subscription = sub;
  return true;
}

void nats_bridge::unwatch(const std::string& node_id) {
  auto& m = *impl_;
  std::lock_guard lock{m.mutex};
  auto it = m.nodes.find(node_id);
  if (it == m.nodes.end() || --it->second.holders > 0)
    return;
  m.dropped_by_gone.fetch_add(impl::dropped_by(it->second.subscription), std::memory_order_relaxed);
  natsSubscription_Unsubscribe(it->second.subscription);
  natsSubscription_Destroy(it->second.subscription);
  m.nodes.erase(it);
}

bool nats_bridge::valid_subject_token(std::string_view token) {
  constexpr std::size_t max_token_bytes = 256;  // a node id's limit (p2p_message.hpp)
  return !token.empty() && token.size() <= max_token_bytes &&
         std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

bool nats_bridge::valid_subject_prefix(std::string_view prefix) {
  for (;;) {
    const auto dot = prefix.find('.');
    if (!valid_subject_token(prefix.substr(0, dot)))
      return false;
    if (dot == std::string_view::npos)
      return true;
    prefix.remove_prefix(dot + 1);
  }
}

nats_stats nats_bridge::stats() const {
  const auto& m = *impl_;
  nats_stats s;
  s.connected = m.connected.load();
  s.published = m.published.load();
  s.received = m.received.load();
  s.reconnects = m.reconnects.load();
  s.publish_dropped = m.publish_dropped.load();
  s.receive_dropped = m.oversized.load() + m.dropped_by_gone.load();
  std::lock_guard lock{m.mutex};
  s.server = m.server;
  s.watched_nodes = m.nodes.size();
  s.receive_dropped += impl::dropped_by(m.broadcast);
  for (const auto& [id, w] : m.nodes)
    s.receive_dropped += impl::dropped_by(w.subscription);
  return s;
}

}  // namespace gsio::net
