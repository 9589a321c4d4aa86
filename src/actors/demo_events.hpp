#pragma once
// The original system's demo events on "/": echoes its clients and tests still use. Kept apart
// from the client API proper (client_session.cpp), which they share nothing with.
//
//   message, args...            -> `message-back` with the same arguments (binary included)
//   ping, args...               -> `pong` with the same arguments
//   message-with-ack, args, ack -> the ack with the same arguments
#include "actors/messages.hpp"
#include "actors/socket_session.hpp"

namespace gsio::actors {

// True when `ev` is one of the demo events, after answering it.
template <class Self>
bool answer_demo_event(Self self, client_event& ev) {
  if (ev.name == "message") {
    emit(self, "message-back", std::move(ev.args_json), std::move(ev.attachments));
    return true;
  }
  if (ev.name == "ping") {
    emit(self, "pong", std::move(ev.args_json), std::move(ev.attachments));
    return true;
  }
  if (ev.name == "message-with-ack") {
    if (!ev.wants_ack)
      fail(self, ev, "message-with-ack needs an acknowledgement callback");
    else
      ack(self, ev, std::move(ev.args_json), std::move(ev.attachments));
    return true;
  }
  return false;
}

}  // namespace gsio::actors
