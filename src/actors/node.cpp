#include "actors/node.hpp"

#include <array>
#include <stdexcept>
#include <utility>

#include <caf/all.hpp>

#include "crypto/identity.hpp"
#include "net/announce_proof.hpp"
#include "util/hex.hpp"
#include "util/log.hpp"
#include "util/secret.hpp"

namespace gsio::actors {

namespace {

// A second copy of the node key for the relay links' proofs, so that the ledger actor's stays
// with the ledger actor.
std::shared_ptr<const crypto::identity> copy_of(const crypto::identity& key) {
  std::array<std::uint8_t, 32> seed{};
  auto seed_hex = key.seed_hex();
  const bool read = util::from_hex(seed_hex, seed.data(), seed.size());
  util::wipe(seed_hex.data(), seed_hex.size());
  if (!read)
    throw std::runtime_error("the node key could not be read back");
  auto copy = std::make_shared<const crypto::identity>(crypto::identity::from_seed(seed));
  util::wipe(seed.data(), seed.size());
  return copy;
}

}  // namespace

node::node(caf::actor_system& sys, std::shared_ptr<ledger_resources> ledger, node_config config)
  : sys_(sys), config_(std::move(config)), node_id_(ledger->self.node_id()) {
  const tip_info initial_tip{node_id_,
                             ledger->tree.height(),
                             std::string{ledger->tree.tip_hash()},
                             ledger->tree.size(),
                             ledger->tree.fork_count(),
                             ledger->tree.held_count()};
  const auto link_key = copy_of(ledger->self);
  const auto advertised = config_.advertise.empty()
                            ? "http://" + config_.gateway.host + ":" + std::to_string(config_.gateway.port)
                            : config_.advertise;

  config_.gateway.unverified_at_start = ledger->unverified.size();
  ledger_ = sys_.spawn(actors::ledger, std::move(ledger));
  registry_ = sys_.spawn(peer_registry, ledger_, node_id_, advertised, config_.peer_expiry);
  auto sync = config_.sync;
  sync.node_id = node_id_;
  sync.address = advertised;
  coordinator_ = sys_.spawn(sync_coordinator, sync, ledger_, registry_);
  gateway_ = sys_.spawn(actors::gateway, config_.gateway, ledger_, registry_, coordinator_, initial_tip);
  console_targets targets{ledger_, registry_, coordinator_, gateway_, {}, {}};
  // Relays and peers alike hand each connection a challenge that the node key signs.
  const auto prove_identity = [link_key](const std::string& challenge) {
    return link_key->sign_hash(net::announce_proof_digest(challenge, link_key->node_id()));
  };
  for (auto link : config_.relay_links) {
    link.dial.prove_identity = prove_identity;
    targets.relay_links.push_back(sys_.spawn(relay_link, link, coordinator_));
  }
  for (auto link : config_.peer_links) {
    link.dial.prove_identity = prove_identity;
    targets.peer_links.push_back(sys_.spawn(peer_link, link, coordinator_));
  }
  links_ = targets.relay_links;
  links_.insert(links_.end(), targets.peer_links.begin(), targets.peer_links.end());
  if (config_.console)
    console_ = sys_.spawn(actors::console, *config_.console, std::move(targets), node_id_);

  for (const auto& core : {caf::actor_cast<caf::actor>(ledger_), caf::actor_cast<caf::actor>(gateway_)})
    core->attach_functor([died = died_](const caf::error&) { *died = true; });
}

node::~node() { stop(); }

std::optional<std::uint16_t> node::wait_ready(std::string& error) {
  caf::scoped_actor self{sys_};
  std::optional<std::uint16_t> port;
  self->request(gateway_, std::chrono::seconds{10}, get_atom::value)
    .receive([&](std::uint16_t p) { port = p; },
             [&](caf::error& err) { error = "the client port did not open: " + caf::to_string(err); });
  if (!port)
    return std::nullopt;
  if (console_) {
    bool console_up = false;
    self->request(console_, std::chrono::seconds{10}, get_atom::value)
      .receive([&](std::uint16_t) { console_up = true; },
               [&](caf::error&) {
                 error = "the debug console cannot start (use --admin to move it or --admin off)";
               });
    if (!console_up)
      return std::nullopt;
  }
  if (config_.advertise.empty() && config_.gateway.port == 0) {
    auto address = "http://" + config_.gateway.host + ":" + std::to_string(*port);
    self->send(coordinator_, advertise_atom::value, address);
    self->send(registry_, advertise_atom::value, address);
  }
  return port;
}

void node::suspend_links() {
  for (auto& link : links_)
    caf::anon_send(link, suspend_atom::value);
}

void node::resume_links() {
  for (auto& link : links_)
    caf::anon_send(link, resume_atom::value);
}

std::optional<tip_info> node::stop() {
  if (std::exchange(stopped_, true))
    return std::nullopt;
  caf::scoped_actor self{sys_};
  if (console_)
    self->send_exit(console_, caf::exit_reason::user_shutdown);
  // Stop taking requests, then let the ledger commit what it already has before it exits.
  for (auto& link : links_)
    self->send_exit(link, caf::exit_reason::user_shutdown);
  self->send_exit(gateway_, caf::exit_reason::user_shutdown);
  self->wait_for(gateway_);
  self->send_exit(coordinator_, caf::exit_reason::user_shutdown);
  std::optional<tip_info> final_tip;
  self->request(ledger_, std::chrono::seconds{30}, drain_atom::value)
    .receive([&](tip_info& tip) { final_tip = std::move(tip); }, [](caf::error&) {});
  self->send_exit(registry_, caf::exit_reason::user_shutdown);
  self->send_exit(ledger_, caf::exit_reason::user_shutdown);
  // Once stop returns the store is closed and its data directory free (a node booted on it again
  // would otherwise find it locked).
  self->wait_for(ledger_, registry_, coordinator_);
  return final_tip;
}

}  // namespace gsio::actors
