#pragma once
// What a node's two kinds of Socket.IO session share: the client session on "/" and the P2P
// session on "/p2p" each hold one socket of the server, answer through it and count what they
// did. Templates over the session's state, which derives from socket_session_state.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/messages.hpp"
#include "actors/stats.hpp"
#include "net/sio_server.hpp"
#include "util/log.hpp"

namespace gsio::actors {

struct socket_session_state {
  net::socket_info info;
  std::shared_ptr<net::server> server;
  std::int64_t connected_since_ms = 0;
  std::uint64_t events_in = 0;
  std::uint64_t messages_out = 0;
  std::uint64_t errors = 0;  // events answered with an error
};

// {"error": message}, with text the client sent (an event name, an id) made valid UTF-8: a text
// frame carrying bytes that are not would be refused by the client.
std::string error_object(std::string_view message);

// "[" json "]": the argument array of an event with one argument.
std::string args_of(std::string single_json);

// What the console's `sessions` and a session's inspect show: the socket and the counters above.
session_stats socket_stats(const socket_session_state& st);

template <class Self>
void emit(Self self, std::string event, std::string args_json, std::vector<std::string> attachments = {}) {
  auto& st = self->state;
  ++st.messages_out;
  st.server->emit(st.info.id, std::move(event), net::sio_args{std::move(args_json), std::move(attachments)});
}

template <class Self>
void ack(Self self, const client_event& ev, std::string args_json, std::vector<std::string> attachments = {}) {
  if (!ev.wants_ack)
    return;
  auto& st = self->state;
  ++st.messages_out;
  st.server->ack(st.info.id, ev.ack_id, net::sio_args{std::move(args_json), std::move(attachments)});
}

// Tells the client what went wrong, as an `error` event and, when it asked for one, in the ack.
// The connection stays up.
template <class Self>
void fail(Self self, const client_event& ev, std::string_view message) {
  ++self->state.errors;
  log::debug("session", "socket ", self->state.info.id, " ", ev.name, ": ", message);
  auto body = args_of(error_object(message));
  emit(self, "error", body);
  ack(self, ev, std::move(body));
}

}  // namespace gsio::actors
