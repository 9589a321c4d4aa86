#include "net/detail/relay_connection.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <rapidjson/document.h>

#include "net/announce_proof.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"

namespace gsio::net::relay_detail {

using util::printable_prefix;

relay_connection::relay_connection(std::shared_ptr<relay_server::impl> core,
                                   beast::tcp_stream&& stream, detail::strand_type strand,
                                   std::string remote, std::string leftover)
    : ws_connection(std::move(stream), std::move(strand), core->websocket_settings,
                    std::move(leftover)),
      core_(std::move(core)),
      idle_timer_(this->strand()),
      remote_(std::move(remote)),
      challenge_(new_challenge()) {}

relay_connection::~relay_connection() {
  // Only reached without end() when the io_context is destroyed with our handlers still queued.
  if (!ended_.exchange(true))
    core_->forget(this, node_id_);
}

void relay_connection::start(request_type request) {
  if (!core_->enlist(shared_as<relay_connection>())) {  // stop() ran after the slot was reserved
    close_now(disconnect_cause::shutdown);
    return;
  }
  accept(std::move(request));
}

void relay_connection::decorate(response_type& response) {
  response.set(http::field::server, server_name);
  response.set(beast::string_view{challenge_header.data(), challenge_header.size()}, challenge_);
  if (const auto& networks = core_->options.private_networks; !networks.empty()) {
    std::string list;
    for (const auto& id : networks)
      list += (list.empty() ? "" : ",") + id;
    response.set(beast::string_view{networks_header.data(), networks_header.size()}, list);
  }
}

bool relay_connection::on_open() {
  log::debug(log_component, remote_, ": connected");
  last_received_ = std::chrono::steady_clock::now();
  arm_idle_timer();
  return true;
}

void relay_connection::deliver(const frame_ptr& frame) {
  if (ended_.load(std::memory_order_acquire))
    return;
  const auto size = frame->size();
  const auto before = queued_bytes_.fetch_add(size, std::memory_order_acq_rel);
  // An empty queue always takes one frame, so a limit below max_frame_bytes cannot starve a
  // healthy peer; memory per connection stays below max_queue_bytes + max_frame_bytes.
  if (before != 0 && before + size > core_->options.max_queue_bytes) {
    queued_bytes_.fetch_sub(size, std::memory_order_acq_rel);
    if (!overflowed_.exchange(true))
      asio::post(strand(), [self = shared_as<relay_connection>()] { self->on_overflow(); });
    return;
  }
  asio::post(strand(), [self = shared_as<relay_connection>(), frame] {
    self->push({frame, detail::ws_outgoing::form::frame, true});
    self->flush();
  });
}

void relay_connection::close_replaced() {
  asio::post(strand(), [self = shared_as<relay_connection>()] {
    self->close_gracefully(disconnect_cause::replaced, ws::close_code::policy_violation,
                           "replaced by a newer connection for this node id");
  });
}

void relay_connection::close_for_shutdown() {
  asio::post(strand(), [self = shared_as<relay_connection>()] {
    self->close_gracefully(disconnect_cause::shutdown, ws::close_code::going_away,
                           "relay shutting down");
  });
}

// ---- what the nodes send --------------------------------------------------------------------

void relay_connection::on_message(ws::parsed message) {
  core_->messages_in.fetch_add(1, std::memory_order_relaxed);
  core_->bytes_in.fetch_add(message.payload.size(), std::memory_order_relaxed);
  if (message.op != ws::opcode::text) {
    log::info(log_component, remote_, ": binary frame; closing the connection");
    close_gracefully(disconnect_cause::protocol, ws::close_code::unsupported_data,
                     "only text frames carrying P2P messages are accepted");
    return;
  }
  // The frame every recipient gets: encoded once, shared by all of them.
  const auto header = ws::header_size(message.payload.size());
  auto frame = std::make_shared<std::string>();
  frame->reserve(header + message.payload.size());
  ws::append_header(*frame, ws::opcode::text, message.payload.size());
  frame->append(message.payload);
  const auto text = std::string_view{*frame}.substr(header);
  handle_frame(text, std::move(frame));
}

void relay_connection::handle_frame(std::string_view text, frame_ptr frame) {
  std::string error;
  auto message = decode_p2p(text, error, /*with_payload=*/false);
  if (!message) {
    core_->count(drop_cause::malformed);
    log::debug(log_component, remote_, describe_node(), ": dropped a malformed message: ", error);
    return;
  }
  if (node_id_.empty()) {
    if (message->type != p2p_type::node_announce) {
      core_->count(drop_cause::unannounced);
      log::debug(log_component, remote_, ": dropped ", to_string(message->type),
                 " sent before NodeAnnounce");
      return;
    }
    // An announce that cannot take the id is dropped, not fatal: a node's heartbeat can reach a
    // new connection before the hello that carries its proof.
    const auto proof = check_proof(text, message->sender_id);
    if (proof == proof_check::closed)
      return;
    const bool proven = proof == proof_check::valid;
    if (!proven && core_->options.require_proof) {
      drop_unproven(*message, "this relay requires relay_proof");
      return;
    }
    if (const auto& admit = core_->options.admit_member) {
      // Checked only with the key proven: an admission says nothing of who presents it.
      const auto why = proven ? admit(message->network_id, message->sender_id, membership_of(text))
                              : std::string("a private network's relay requires relay_proof");
      if (!why.empty()) {
        drop_unproven(*message, why, drop_cause::not_member);
        return;
      }
    }
    if (!core_->announce(shared_as<relay_connection>(), message->sender_id, proven, message->network_id)) {
      drop_unproven(*message, "node id held by a connection that proved it");
      return;
    }
    node_id_ = message->sender_id;
    network_id_ = message->network_id;
    proven_ = proven;
    log::info(log_component, "node ", printable_prefix(node_id_), proven ? " (proven)" : "",
              " announced from ", remote_);
  } else if (message->sender_id != node_id_) {
    core_->count(drop_cause::spoofed);
    ++spoofed_;
    if (spoofed_ <= logged_spoofs_per_connection)
      log::warn(log_component, remote_, " (node ", printable_prefix(node_id_), ") sent ",
                to_string(message->type), " as sender_id ", printable_prefix(message->sender_id),
                "; dropped");
    if (spoofed_ == logged_spoofs_per_connection)
      log::warn(log_component, remote_, ": further spoofed messages are dropped silently");
    return;
  } else if (message->network_id != network_id_) {
    core_->count(drop_cause::other_network);
    log::debug(log_component, remote_, describe_node(), ": dropped ", to_string(message->type),
               " of another network than its announce's");
    return;
  } else if (!proven_ && message->type == p2p_type::node_announce) {
    const auto proof = check_proof(text, node_id_);
    if (proof == proof_check::closed)
      return;
    if (proof == proof_check::valid && core_->mark_proven(*this, node_id_)) {
      proven_ = true;
      log::info(log_component, "node ", printable_prefix(node_id_), " proved its id");
    }
  }
  core_->route(*this, *message, frame);
}

// Whether the announce `text` carries a valid relay_proof of `node_id` for this connection's
// challenge; `closed` once the connection has sent too many invalid ones.
relay_connection::proof_check relay_connection::check_proof(std::string_view text,
                                                            const std::string& node_id) {
  if (text.find(relay_proof_member) == std::string_view::npos)
    return proof_check::absent;
  if (invalid_proofs_ > max_invalid_proofs)
    return proof_check::closed;  // closing already: no more verifications, no more log lines
  if (proves_identity(text, node_id))
    return proof_check::valid;
  if (++invalid_proofs_ <= max_invalid_proofs)
    return proof_check::invalid;
  log::warn(log_component, remote_, ": sent ", invalid_proofs_,
            " NodeAnnounces with an invalid relay_proof; closing");
  close_gracefully(disconnect_cause::unproven, ws::close_code::policy_violation,
                   "too many invalid relay_proofs");
  return proof_check::closed;
}

void relay_connection::drop_unproven(const p2p_message& announce, std::string_view why, drop_cause cause) {
  core_->count(cause);
  ++unproven_announces_;
  if (unproven_announces_ < max_unproven_announces) {
    log::info(log_component, remote_, ": NodeAnnounce as ", printable_prefix(announce.sender_id),
              " dropped (", why, ")");
  } else if (unproven_announces_ == max_unproven_announces) {  // later ones: counted only
    log::warn(log_component, remote_, ": ", unproven_announces_, " NodeAnnounces as ",
              printable_prefix(announce.sender_id), " dropped (", why, "); closing");
    // A close reason has at most 123 bytes (RFC 6455 5.5).
    close_gracefully(disconnect_cause::unproven, ws::close_code::policy_violation, why.substr(0, 120));
  }
}

std::string relay_connection::membership_of(std::string_view text) {
  rapidjson::Document announce;
  announce.Parse(text.data(), text.size());
  if (announce.HasParseError() || !announce.IsObject())
    return {};
  const auto payload = announce.FindMember("payload");
  if (payload == announce.MemberEnd() || !payload->value.IsObject())
    return {};
  const auto membership = payload->value.FindMember("membership");
  if (membership == payload->value.MemberEnd() || !membership->value.IsString())
    return {};
  return {membership->value.GetString(), membership->value.GetStringLength()};
}

// Reads payload.relay_proof of an envelope decode_p2p has already checked (its payload is an
// object): a second parse, at most a few times per connection.
bool relay_connection::proves_identity(std::string_view text, const std::string& node_id) const {
  rapidjson::Document announce;
  announce.Parse(text.data(), text.size());
  if (announce.HasParseError() || !announce.IsObject())
    return false;
  const auto payload = announce.FindMember("payload");
  if (payload == announce.MemberEnd() || !payload->value.IsObject())
    return false;
  const auto proof = payload->value.FindMember(relay_proof_member.data());
  if (proof == payload->value.MemberEnd() || !proof->value.IsString())
    return false;
  return verify_announce_proof(challenge_, node_id,
                               {proof->value.GetString(), proof->value.GetStringLength()});
}

// ---- the transport --------------------------------------------------------------------------

void relay_connection::on_end(const detail::ws_ending& ending) {
  using kind = detail::ws_ending::kind;
  switch (ending.what) {
  case kind::handshake_failed:
    log::debug(log_component, remote_, ": WebSocket handshake failed: ", ending.ec.message());
    end(disconnect_cause::handshake_failed);
    return;
  case kind::read_failed:
    end(disconnect_cause::connection_lost);
    return;
  case kind::write_failed:
    log::debug(log_component, remote_, describe_node(), ": write failed: ", ending.ec.message());
    end(disconnect_cause::connection_lost);
    return;
  case kind::peer_closed:
    end(disconnect_cause::peer_closed);
    return;
  case kind::protocol_violation:
    // Nothing after a violation is parsed (the frame boundary may be lost, and a peer that keeps
    // breaking the protocol must not fill the log); its EOF ends the close.
    log::info(log_component, remote_, describe_node(), ": closing: ", ending.reason);
    end(ending.code == ws::close_code::message_too_big ? disconnect_cause::oversized
                                                       : disconnect_cause::protocol);
    return;
  }
}

void relay_connection::on_write_done(std::size_t data_bytes, std::size_t data_frames, bool ok) {
  queued_bytes_.fetch_sub(data_bytes, std::memory_order_acq_rel);
  if (!ok)
    return;
  core_->messages_out.fetch_add(data_frames, std::memory_order_relaxed);
  core_->bytes_out.fetch_add(data_bytes, std::memory_order_relaxed);
}

void relay_connection::on_dropped(std::size_t data_bytes) {
  queued_bytes_.fetch_sub(data_bytes, std::memory_order_acq_rel);
}

// Ping after half the idle timeout without traffic; close after all of it. Checked every
// quarter of it, so a connection is closed within 1.25 idle timeouts of its last byte.
void relay_connection::arm_idle_timer() {
  idle_timer_.expires_after(core_->options.idle_timeout / 4);
  idle_timer_.async_wait(asio::bind_executor(
      strand(), beast::bind_front_handler(&relay_connection::on_idle_tick,
                                          shared_as<relay_connection>())));
}

void relay_connection::on_idle_tick(error_code ec) {
  if (ec || socket_closed() || close_sent())
    return;
  const auto silent = std::chrono::steady_clock::now() - last_received_;
  if (silent < core_->options.idle_timeout / 2) {
    pinged_ = false;
  } else if (silent < core_->options.idle_timeout) {
    if (!pinged_) {
      push({std::make_shared<const std::string>(ws::encode_frame(ws::opcode::ping, {})),
            detail::ws_outgoing::form::frame, false});
      flush();
    }
    pinged_ = true;
  } else {
    log::info(log_component, remote_, describe_node(), ": nothing received for ",
              core_->options.idle_timeout.count(), " ms; closing");
    close_now(disconnect_cause::timeout);
    return;
  }
  arm_idle_timer();
}

void relay_connection::on_overflow() {
  if (ended_.load(std::memory_order_relaxed))
    return;
  log::info(log_component, remote_, describe_node(), ": not reading; outbound queue passed ",
            core_->options.max_queue_bytes, " bytes; disconnecting");
  // A peer that does not read would not read a close frame either: cut the TCP connection.
  close_now(disconnect_cause::slow_reader);
}

void relay_connection::end(disconnect_cause cause) {
  if (ended_.exchange(true, std::memory_order_acq_rel))
    return;
  core_->count(cause);
  core_->forget(this, node_id_);
  log::debug(log_component, remote_, describe_node(), ": disconnected (",
             disconnect_cause_names[index(cause)], ")");
}

void relay_connection::close_gracefully(disconnect_cause cause, std::uint16_t code,
                                        std::string_view reason) {
  end(cause);
  close(code, reason);  // the queued frames are dropped; before the handshake is done, a cut
}

void relay_connection::close_now(disconnect_cause cause) {
  end(cause);
  cut();
}

std::string relay_connection::describe_node() const {
  return node_id_.empty() ? std::string{} : " (node " + printable_prefix(node_id_) + ")";
}

}  // namespace gsio::net::relay_detail
