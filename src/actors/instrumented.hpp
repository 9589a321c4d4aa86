#pragma once
// Every node actor is spawned as an instrumented_actor: a stateful actor that also counts the
// messages it handles and remembers when it started, so it can report its vitals (name, id,
// mailbox size, uptime, messages handled) in its inspect answer. Counting in consume() sees every
// message, whichever handler takes it, so no handler has to remember to count.
//
// The mailbox size is counted the same way (enqueued minus handled): asking CAF's mailbox for
// its size from inside a handler reorganizes the queue that is being consumed, which UBSan flags
// inside CAF and which is not safe.
//
// An actor function takes `instrumented<its_actor, its_state>` where a plain CAF actor function
// would take `its_actor::stateful_pointer<its_state>`; spawn() infers the class from it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include <caf/stateful_actor.hpp>

#include "actors/stats.hpp"

namespace gsio::actors {

template <class State, class Base>
class instrumented_actor : public caf::stateful_actor<State, Base> {
public:
  using super = caf::stateful_actor<State, Base>;

  explicit instrumented_actor(caf::actor_config& cfg) : super(cfg) {}

  using super::enqueue;
  // Any thread may send to the actor.
  void enqueue(caf::mailbox_element_ptr x, caf::execution_unit* eu) override {
    enqueued_.fetch_add(1, std::memory_order_relaxed);
    super::enqueue(std::move(x), eu);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    ++handled_;
    return super::consume(x);
  }

  std::uint64_t messages_handled() const noexcept { return handled_; }
  // Messages sent to the actor and not handled yet (the one being handled counts as handled).
  std::uint64_t messages_waiting() const noexcept {
    const auto enqueued = enqueued_.load(std::memory_order_relaxed);
    return enqueued > handled_ ? enqueued - handled_ : 0;
  }
  std::chrono::steady_clock::time_point started() const noexcept { return started_; }

private:
  std::atomic<std::uint64_t> enqueued_{0};
  std::uint64_t handled_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

template <class Handle, class State>
using instrumented = instrumented_actor<State, typename Handle::base>*;

// What every inspect answer carries under "actor" (actor_vitals, stats.hpp), and every actor
// answers to vitals_atom (interfaces.hpp).
template <class State, class Base>
actor_vitals vitals_of(instrumented_actor<State, Base>* self) {
  using namespace std::chrono;
  actor_vitals v;
  v.name = self->name();
  v.id = self->id();
  v.mailbox = self->messages_waiting();
  v.uptime_ms = duration_cast<milliseconds>(steady_clock::now() - self->started()).count();
  v.handled = self->messages_handled();
  return v;
}

// `state_json` (a JSON object) with {"actor": vitals} as its first member.
std::string with_vitals(const actor_vitals& vitals, const std::string& state_json);

template <class State, class Base>
std::string inspect_with_vitals(instrumented_actor<State, Base>* self, const std::string& state_json) {
  return with_vitals(vitals_of(self), state_json);
}

}  // namespace gsio::actors
