#include "actors/relay_link.hpp"

#include <random>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/string.hpp>
#include <caf/all.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/announce_proof.hpp"
#include "net/p2p_message.hpp"
#include "net/p2p_socketio.hpp"
#include "net/sio_client.hpp"
#include "net/ws_client.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace gsio::actors {

// The link's io_context thread and the client of the current attempt. Owned by the actor's state;
// callbacks reach the actor through a weak address, so they never keep it alive.
struct link_connection {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  std::unique_ptr<net::ws_client> ws;
  std::unique_ptr<net::sio_client> sio;

  ~link_connection() {
    // Destroy clients first: their destructors guarantee no callback runs afterwards.
    ws.reset();
    sio.reset();
    work.reset();
    io.stop();
    if (thread.joinable()) {
      if (thread.get_id() == std::this_thread::get_id())
        thread.detach();
      else
        thread.join();
    }
  }
};

namespace {

using self_ptr = instrumented<relay_link_actor, relay_link_state>;

const char* kind_name(link_transport t) { return t == link_transport::relay ? "relay" : "direct"; }

template <class... Ts>
void tell(const caf::actor_addr& addr, Ts&&... xs) {
  if (auto hdl = caf::actor_cast<caf::actor>(addr))
    caf::anon_send(hdl, std::forward<Ts>(xs)...);
}

void dial(self_ptr self) {
  auto& st = self->state;
  auto& conn = *st.connection;
  const auto generation = ++st.generation;
  const auto addr = self->address();
  conn.ws.reset();
  conn.sio.reset();
  if (st.options.transport == link_transport::relay) {
    net::ws_client_options o;
    o.url = st.options.url;
    o.tls_ca_file = st.options.tls_ca_file;
    if (!st.options.token.empty())
      o.headers.emplace_back("Authorization", "Bearer " + st.options.token);
    o.max_frame_bytes = st.options.max_frame_bytes;
    o.max_queue_bytes = st.options.max_queue_bytes;
    net::ws_client_callbacks cb;
    // Both run on the connection's strand, the response first.
    auto proof = std::make_shared<std::string>();
    cb.on_upgrade_response = [proof, prove = st.options.prove_identity](const auto& headers) {
      for (const auto& [name, value] : headers)
        if (prove && boost::beast::iequals(name, net::challenge_header))
          *proof = prove(value);
    };
    cb.on_open = [addr, generation, proof] {
      tell(addr, link_up_atom::value, generation, std::move(*proof));
    };
    cb.on_message = [addr, generation](std::string text) {
      tell(addr, p2p_atom::value, generation, std::move(text));
    };
    cb.on_close = [addr, generation](std::string reason) {
      tell(addr, link_down_atom::value, generation, std::move(reason));
    };
    conn.ws = std::make_unique<net::ws_client>(conn.io, std::move(o), std::move(cb));
    conn.ws->start();
  } else {
    net::sio_client_options o;
    o.url = st.options.url;
    o.tls_ca_file = st.options.tls_ca_file;
    o.nsp = net::p2p_socketio::nsp;
    o.max_payload = st.options.max_frame_bytes;
    o.auth_json = net::p2p_socketio::auth_payload(st.options.token);
    net::sio_client_callbacks cb;
    cb.on_connect = [addr, generation] { tell(addr, link_up_atom::value, generation, std::string{}); };
    cb.on_event = [addr, generation](std::string event, net::sio_args args) {
      if (event != net::p2p_socketio::event)
        return;
      // Dropped like text that does not parse when it holds no envelope object.
      if (auto envelope = net::p2p_socketio::envelope_of(args.json))
        tell(addr, p2p_atom::value, generation, std::move(*envelope));
    };
    cb.on_close = [addr, generation](std::string reason) {
      tell(addr, link_down_atom::value, generation, std::move(reason));
    };
    conn.sio = std::make_unique<net::sio_client>(conn.io, std::move(o), std::move(cb));
    conn.sio->start();
  }
}

std::chrono::milliseconds backoff(const relay_link_state& st) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto delay = st.options.backoff_initial;
  for (unsigned i = 1; i < st.failures && delay < st.options.backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, st.options.backoff_max);
  // Full jitter over the upper half keeps restarted nodes from reconnecting in lockstep.
  std::uniform_int_distribution<long long> jitter(delay.count() / 2, delay.count());
  return std::chrono::milliseconds{jitter(rng)};
}

std::string inspect_json(const relay_link_state& st) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("kind");
  w.String(kind_name(st.options.transport));
  w.Key("url");
  w.String(st.options.url);
  w.Key("state");
  w.String(st.suspended ? "suspended" : st.connected ? "connected" : "connecting");
  w.Key("connected_since_ms");
  w.Int64(st.connected ? st.connected_since_ms : 0);
  w.Key("connects");
  w.Uint64(st.connects);
  w.Key("reconnects");
  w.Uint64(st.connects > 0 ? st.connects - 1 : 0);
  w.Key("failed_attempts");
  w.Uint64(st.failures);
  w.Key("last_error");
  w.String(st.last_error);
  w.Key("frames_in");
  w.Uint64(st.frames_in);
  w.Key("frames_out");
  w.Uint64(st.frames_out);
  w.Key("duplicates");
  w.Uint64(st.duplicates);
  w.Key("malformed");
  w.Uint64(st.malformed);
  w.Key("dropped_offline");
  w.Uint64(st.dropped_offline);
  w.Key("queued_bytes");
  w.Uint64(st.connection && st.connection->ws ? st.connection->ws->queued_bytes() : 0);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

relay_link_actor::behavior_type relay_link(instrumented<relay_link_actor, relay_link_state> self,
                                           relay_link_options options,
                                           sync_coordinator_actor coordinator) {
  auto& st = self->state;
  st.options = std::move(options);
  st.coordinator = std::move(coordinator);
  st.connection = std::make_shared<link_connection>();
  // The connection (and its thread) must go when the actor does, whatever the exit reason.
  self->attach_functor([connection = st.connection, coordinator = st.coordinator,
                        link = caf::actor_cast<p2p_link_actor>(self)](const caf::error&) mutable {
    caf::anon_send(coordinator, link_down_atom::value, link);
    connection.reset();
  });
  log::info("link", "dialing ", kind_name(st.options.transport), " ", st.options.url);
  dial(self);
  return {
    [=](send_atom, std::string& frame) {
      auto& st = self->state;
      if (!st.connected) {
        ++st.dropped_offline;
        return;
      }
      ++st.frames_out;
      auto& conn = *st.connection;
      if (conn.ws)
        conn.ws->send(std::move(frame));
      else if (conn.sio)
        conn.sio->emit(std::string{net::p2p_socketio::event},
                       net::sio_args{net::p2p_socketio::args_of(frame), {}});
    },
    [=](link_up_atom, std::uint64_t generation, std::string& relay_proof) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      st.connected = true;
      st.connected_since_ms = util::now_unix_ms();
      ++st.connects;
      log::info("link", kind_name(st.options.transport), " link to ", st.options.url, " is up");
      self->send(st.coordinator, link_up_atom::value, caf::actor_cast<p2p_link_actor>(self),
                 std::string{kind_name(st.options.transport)}, std::move(relay_proof));
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
                              std::move(message->recipient_id), std::move(message->payload_json)},
                 caf::actor_cast<p2p_link_actor>(self));
    },
    [=](link_down_atom, std::uint64_t generation, std::string& reason) {
      auto& st = self->state;
      if (generation != st.generation)
        return;
      if (st.connected) {
        log::warn("link", kind_name(st.options.transport), " link to ", st.options.url,
                  " lost: ", reason);
        self->send(st.coordinator, link_down_atom::value, caf::actor_cast<p2p_link_actor>(self));
        if (util::now_unix_ms() - st.connected_since_ms >= st.options.stable_after.count())
          st.failures = 0;
      } else if (st.failures == 0 || reason != st.last_error) {
        log::warn("link", "cannot reach ", st.options.url, ": ", reason);
      }
      st.connected = false;
      st.last_error = std::move(reason);
      ++st.failures;
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
      st.connection->ws.reset();
      st.connection->sio.reset();
      if (st.connected) {
        st.connected = false;
        self->send(st.coordinator, link_down_atom::value, caf::actor_cast<p2p_link_actor>(self));
      }
      log::warn("link", kind_name(st.options.transport), " link to ", st.options.url,
                " suspended by the operator");
    },
    [=](resume_atom) {
      auto& st = self->state;
      if (!st.suspended)
        return;
      st.suspended = false;
      st.failures = 0;
      log::info("link", "resuming the ", kind_name(st.options.transport), " link to ",
                st.options.url);
      dial(self);
    },
    [=](inspect_atom) { return inspect_with_vitals(self, inspect_json(self->state)); },
  };
}

}  // namespace gsio::actors
