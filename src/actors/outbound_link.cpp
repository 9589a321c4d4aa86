#include "actors/outbound_link.hpp"

#include <random>
#include <stdexcept>

#include <caf/all.hpp>

#include "net/p2p_message.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace gsio::actors {

namespace {

template <class... Ts>
void tell(const caf::actor_addr& addr, Ts&&... xs) {
  if (auto hdl = caf::actor_cast<caf::actor>(addr))
    caf::anon_send(hdl, std::forward<Ts>(xs)...);
}

// The dialer's callbacks run on its io thread: they reach the actor through a weak address, so
// they never keep it alive, and carry the generation of the dial they belong to.
template <class Self>
void dial(Self self) {
  auto& st = self->state;
  const auto generation = ++st.generation;
  const auto addr = self->address();
  net::p2p_dial_callbacks cb;
  cb.on_open = [addr, generation](std::string proof) {
    tell(addr, link_up_atom::value, generation, std::move(proof));
  };
  cb.on_envelope = [addr, generation](std::string text) {
    tell(addr, p2p_atom::value, generation, std::move(text));
  };
  cb.on_close = [addr, generation](std::string reason) {
    tell(addr, link_down_atom::value, generation, std::move(reason));
  };
  st.dialer->dial(st.options.urls[st.current], std::move(cb));
}

// After a failed or lost connection: the next url of the list, if there is more than one.
void fail_over(outbound_link_state& st) {
  if (st.options.urls.size() < 2)
    return;
  st.current = (st.current + 1) % st.options.urls.size();
  ++st.failovers;
}

const std::string& current_url(const outbound_link_state& st) { return st.options.urls[st.current]; }

std::chrono::milliseconds backoff(const outbound_link_state& st) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto delay = st.options.backoff_initial;
  for (unsigned i = 1; i < st.failures && delay < st.options.backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, st.options.backoff_max);
  // Full jitter over the upper half keeps restarted nodes from reconnecting in lockstep.
  std::uniform_int_distribution<long long> jitter(delay.count() / 2, delay.count());
  return std::chrono::milliseconds{jitter(rng)};
}

outbound_link_stats stats_of(const outbound_link_state& st) {
  outbound_link_stats s;
  s.kind = st.dialer->kind();
  s.url = current_url(st);
  s.urls = st.options.urls;
  s.failovers = st.failovers;
  s.state = st.suspended ? "suspended" : st.connected ? "connected" : "connecting";
  s.connected_since_ms = st.connected ? st.connected_since_ms : 0;
  s.connects = st.connects;
  s.failed_attempts = st.failures;
  s.last_error = st.last_error;
  s.frames_in = st.frames_in;
  s.frames_out = st.frames_out;
  s.duplicates = st.duplicates;
  s.malformed = st.malformed;
  s.dropped_offline = st.dropped_offline;
  s.queued_bytes = st.dialer->queued_bytes();
  return s;
}

// The behavior of both kinds of link; only the dialer differs.
template <class State>
outbound_link_actor::behavior_type link_behavior(instrumented<outbound_link_actor, State> self,
                                                 outbound_link_options options,
                                                 sync_coordinator_actor coordinator,
                                                 std::shared_ptr<net::p2p_dialer> dialer) {
  auto& st = self->state;
  st.options = std::move(options);
  st.coordinator = std::move(coordinator);
  st.dialer = std::move(dialer);
  if (st.options.urls.empty())
    throw std::invalid_argument("an outbound link needs at least one url");
  self->attach_functor([dialer = st.dialer, coordinator = st.coordinator,
                        link = caf::actor_cast<p2p_link_actor>(self)](const caf::error&) mutable {
    caf::anon_send(coordinator, link_down_atom::value, link);
    dialer.reset();
  });
  const std::string kind{st.dialer->kind()};
  log::info("link", "dialing ", kind, " ", current_url(st));
  dial(self);
  return {
    [=](send_atom, std::string& frame) {
      auto& st = self->state;
      if (!st.connected) {
        ++st.dropped_offline;
        return;
      }
      ++st.frames_out;
      st.dialer->send(std::move(frame));
    },
    [=](link_up_atom, std::uint64_t generation, std::string& relay_proof) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      st.connected = true;
      st.connected_since_ms = util::now_unix_ms();
      ++st.connects;
      log::info("link", kind, " link to ", current_url(st), " is up");
      self->send(st.coordinator, link_up_atom::value, caf::actor_cast<p2p_link_actor>(self), kind,
                 current_url(st), std::move(relay_proof));
    },
    [=](p2p_atom, std::uint64_t generation, std::string& frame) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      ++st.frames_in;
      std::string error;
      auto message = net::decode_p2p(frame, error);
      if (!message) {
        ++st.malformed;
        log::debug("link", "dropped a malformed P2P message: ", error);
        return;
      }
      if (!st.seen.first_time(message->sender_id, message->message_id)) {
        ++st.duplicates;
        return;
      }
      self->send(st.coordinator, p2p_atom::value,
                 p2p_envelope{static_cast<std::uint8_t>(message->type),
                              std::move(message->message_id), std::move(message->sender_id),
                              std::move(message->recipient_id), std::move(message->payload_json),
                              std::move(message->network_id)},
                 caf::actor_cast<p2p_link_actor>(self));
    },
    [=](link_down_atom, std::uint64_t generation, std::string& reason) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      if (st.connected) {
        log::warn("link", kind, " link to ", current_url(st), " lost: ", reason);
        self->send(st.coordinator, link_down_atom::value, caf::actor_cast<p2p_link_actor>(self));
        if (util::now_unix_ms() - st.connected_since_ms >= st.options.stable_after.count())
          st.failures = 0;
      } else if (st.failures == 0 || reason != st.last_error) {
        log::warn("link", "cannot reach ", current_url(st), ": ", reason);
      }
      st.connected = false;
      st.last_error = std::move(reason);
      ++st.failures;
      fail_over(st);
      self->delayed_send(self, backoff(st), tick_atom::value, generation);
    },
    [=](tick_atom, std::uint64_t generation) {
      auto& st = self->state;
      if (generation == st.generation && !st.connected && !st.suspended)
        dial(self);
    },
    [=](suspend_atom) {
      auto& st = self->state;
      if (st.suspended)
        return;
      st.suspended = true;
      ++st.generation;  // callbacks of the dropped connection are now stale
      st.dialer->hang_up();
      if (st.connected) {
        st.connected = false;
        self->send(st.coordinator, link_down_atom::value, caf::actor_cast<p2p_link_actor>(self));
      }
      log::warn("link", kind, " link to ", current_url(st), " suspended by the operator");
    },
    [=](resume_atom) {
      auto& st = self->state;
      if (!st.suspended)
        return;
      st.suspended = false;
      st.failures = 0;
      log::info("link", "resuming the ", kind, " link to ", current_url(st));
      dial(self);
    },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, to_json(stats_of(self->state))); },
    [=](stats_atom) { return stats_of(self->state); },
  };
}

}  // namespace

outbound_link_actor::behavior_type relay_link(instrumented<outbound_link_actor, relay_link_state> self,
                                              outbound_link_options options,
                                              sync_coordinator_actor coordinator) {
  std::shared_ptr<net::p2p_dialer> dialer = net::relay_dialer(options.dial);
  return link_behavior(self, std::move(options), std::move(coordinator), std::move(dialer));
}

outbound_link_actor::behavior_type peer_link(instrumented<outbound_link_actor, peer_link_state> self,
                                             outbound_link_options options,
                                             sync_coordinator_actor coordinator) {
  std::shared_ptr<net::p2p_dialer> dialer = net::peer_dialer(options.dial);
  return link_behavior(self, std::move(options), std::move(coordinator), std::move(dialer));
}

}  // namespace gsio::actors
