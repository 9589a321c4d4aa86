#pragma once
// The debug console: serves the admin port (net::admin_server, 127.0.0.1 by default) and answers
// each command line from what the node's actors report about themselves. Nothing here reads an
// actor's state directly: every actor answers `inspect` with its state as JSON (including its
// vitals, see instrumented.hpp) and the console asks the ledger, the registry and the gateway the
// same typed questions any other actor would. `help` lists the commands; `gsio console` is the
// client.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/instrumented.hpp"
#include "actors/interfaces.hpp"

namespace gsio::actors {

struct console_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port
  std::chrono::milliseconds request_timeout{5000};  // how long a command waits for an actor
  std::size_t max_connections = 16;
};

// The actors the console reports on.
struct console_targets {
  ledger_actor ledger;
  peer_registry_actor registry;
  sync_coordinator_actor coordinator;
  gateway_actor gateway;
  std::vector<outbound_link_actor> relay_links;
  std::vector<outbound_link_actor> peer_links;
};


struct console_frontend;  // io_context, thread and admin server (console.cpp)

struct console_state {
  static inline const char* name = "console";
  console_options options;
  console_targets targets;
  std::shared_ptr<console_frontend> frontend;
  std::string node_id;
  std::uint64_t commands = 0;
  std::uint64_t errors = 0;  // commands answered with an error
};

// Binds the admin port before returning its behavior; a bind failure terminates the actor with
// an error naming the address.
console_actor::behavior_type console(instrumented<console_actor, console_state> self,
                                     console_options options, console_targets targets,
                                     std::string node_id);

}  // namespace gsio::actors
