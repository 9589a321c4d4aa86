#pragma once
// What the actor tests share: an actor system configured as gsio-node configures its own.
#include <cstddef>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/messages.hpp"

namespace gsio::test {

// Two scheduler threads (as on the 2-core machines the node runs on) and the node's message types.
struct test_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  test_system() {
    cfg.set("scheduler.max-threads", std::size_t{2});
    actors::register_message_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

}  // namespace gsio::test
