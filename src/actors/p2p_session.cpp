#include "actors/p2p_session.hpp"

#include <caf/all.hpp>

#include "net/announce_proof.hpp"
#include "net/p2p_message.hpp"
#include "net/p2p_payloads.hpp"
#include "net/p2p_socketio.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace gsio::actors {
namespace {

using self_ptr = instrumented<p2p_session_actor, p2p_session_state>;

// Messages dropped before a valid proof: a node's first message is its proving NodeAnnounce, so
// a few are an honest race at most; past them the socket is closed, with the reason logged.
constexpr std::uint32_t max_unproven = 4;

// Whether `message` may reach the coordinator: the socket proved a node id, or this is the
// NodeAnnounce that proves one (its relay_proof signs this socket's challenge). Which sender ids
// a proven socket may then use is the coordinator's rule for every direct link (the first heard).
bool proves_its_sender(self_ptr self, const net::p2p_message& message) {
  auto& st = self->state;
  if (!st.proven_id.empty())
    return true;
  if (message.type == net::p2p_type::node_announce) {
    std::string error;
    auto payload = net::p2p::decode(message.type, message.payload_json, error, {});
    const auto* hello = payload ? std::get_if<net::p2p::node_announce>(&*payload) : nullptr;
    if (hello && net::verify_announce_proof(st.challenge, message.sender_id, hello->relay_proof)) {
      st.proven_id = message.sender_id;
      log::info("session", "p2p socket ", st.info.id, " from ", st.info.remote_address, " proved node ",
                st.proven_id.substr(0, 12));
      return true;
    }
  }
  return false;
}

// One envelope per event; well-formed ones go to the sync coordinator, which answers through
// send_atom. The ack only says the envelope was accepted for processing.
void on_p2p_message(self_ptr self, const client_event& ev) {
  auto envelope = net::p2p_socketio::envelope_of(ev.args_json);
  if (!envelope)
    return fail(self, ev, "p2p_message: the argument must be a message object");
  std::string error;
  auto message = net::decode_p2p(*envelope, error);
  if (!message)
    return fail(self, ev, "p2p_message: " + error);
  if (!proves_its_sender(self, *message)) {
    auto& st = self->state;
    fail(self, ev, "p2p_message: this socket has not proven a node id: its first NodeAnnounce must "
                   "carry relay_proof, the sender's signature of the p2p_challenge (docs/PROTOCOL.md §7)");
    if (++st.unproven >= max_unproven) {
      log::warn("session", "p2p socket ", st.info.id, " from ", st.info.remote_address, ": ", st.unproven,
                " messages without a proof of their node id; disconnecting");
      st.server->disconnect(st.info.id);
    }
    return;
  }
  log::debug("session", "p2p ", net::to_string(message->type), " from ", message->sender_id);
  self->send(self->state.coordinator, p2p_atom::value,
             p2p_envelope{static_cast<std::uint8_t>(message->type), std::move(message->message_id),
                          std::move(message->sender_id), std::move(message->recipient_id),
                          std::move(message->payload_json), std::move(message->network_id)},
             caf::actor_cast<p2p_link_actor>(self));
  if (ev.wants_ack)
    ack(self, ev, "[{\"accepted\":true}]");
}

}  // namespace

p2p_session_actor::behavior_type
p2p_session(instrumented<p2p_session_actor, p2p_session_state> self, net::socket_info info,
            std::shared_ptr<net::server> server, sync_coordinator_actor coordinator) {
  auto& st = self->state;
  st.info = std::move(info);
  st.server = std::move(server);
  st.coordinator = std::move(coordinator);
  st.connected_since_ms = util::now_unix_ms();
  st.challenge = net::new_challenge();
  emit(self, std::string{net::p2p_socketio::challenge_event}, net::p2p_socketio::challenge_args(st.challenge));
  auto link = caf::actor_cast<p2p_link_actor>(self);
  self->send(st.coordinator, link_up_atom::value, link, std::string{"inbound"},
             st.info.remote_address, std::string{});
  self->attach_functor([coordinator = st.coordinator, link](const caf::error&) {
    caf::anon_send(coordinator, link_down_atom::value, link);
  });
  return {
    [=](event_atom, client_event& ev) {
      ++self->state.events_in;
      if (ev.name == net::p2p_socketio::event)
        return on_p2p_message(self, ev);
      fail(self, ev, "unknown event '" + ev.name + "' on /p2p (expected p2p_message)");
    },
    [=](send_atom, std::string& frame) {
      auto& st = self->state;
      ++st.messages_out;
      st.server->emit(st.info.id, std::string{net::p2p_socketio::event},
                      net::sio_args{net::p2p_socketio::args_of(frame), {}});
    },
    [=](vitals_atom) { return vitals_of(self); },
    [=](inspect_atom) { return inspect_with_vitals(self, to_json(socket_stats(self->state))); },
    [=](stats_atom) { return socket_stats(self->state); },
  };
}

}  // namespace gsio::actors
