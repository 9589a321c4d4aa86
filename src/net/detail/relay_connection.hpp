#pragma once
// One node's WebSocket on the relay: the relay's connection policy on top of ws_connection.
//
//   - Identity: the first NodeAnnounce names the connection's node id, proven (or not) by a
//     relay_proof of the challenge sent in the 101 answer (net/announce_proof.hpp); a message
//     whose sender_id is not the connection's own is dropped.
//   - Routing: a text frame is an envelope; it is encoded once as a frame and the same bytes are
//     queued on every recipient (relay_server::impl::route).
//   - Limits: inbound messages up to max_frame_bytes; outbound bytes queued per connection up to
//     max_queue_bytes, reserved before a frame is posted to the connection's strand, beyond which
//     the connection is cut ("slow_reader"); a connection that sends nothing for idle_timeout is
//     closed, after a ping at half of it.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>

#include "net/detail/relay_core.hpp"
#include "net/detail/ws_connection.hpp"

namespace gsio::net::relay_detail {

class relay_connection final : public detail::ws_connection {
public:
  // `stream` is on `strand`. `leftover`: bytes the client sent after its upgrade request, already
  // read with it.
  relay_connection(std::shared_ptr<relay_server::impl> core, beast::tcp_stream&& stream,
                   detail::strand_type strand, std::string remote, std::string leftover);
  ~relay_connection() override;

  // Outbound bytes accepted for this peer and not yet written (for /metrics).
  std::size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }

  // Runs on the strand (the HTTP connection's handler, which shares the socket's strand).
  void start(request_type request);

  // Queues a frame for this connection. Any thread. The byte count is reserved before the frame
  // is posted to the strand, so frames in transit count against the limit as well.
  void deliver(const frame_ptr& frame);

  // Any thread.
  void close_replaced();
  void close_for_shutdown();

  // Strand only (routing runs on the sender's strand).
  const std::string& node_id() const { return node_id_; }

private:
  enum class proof_check { absent, invalid, valid, closed };

  void decorate(response_type& response) override;
  bool on_open() override;
  void on_message(ws::parsed message) override;
  void on_end(const detail::ws_ending& ending) override;
  void on_activity() override { last_received_ = std::chrono::steady_clock::now(); }
  void on_write_done(std::size_t data_bytes, std::size_t data_frames, bool ok) override;
  void on_dropped(std::size_t data_bytes) override;
  void on_socket_closed() override { idle_timer_.cancel(); }

  void handle_frame(std::string_view text, frame_ptr frame);
  proof_check check_proof(std::string_view text, const std::string& node_id);
  void drop_unproven(const p2p_message& announce, std::string_view why,
                     drop_cause cause = drop_cause::unproven);
  // payload.membership of an announce (see relay_options::admit_member); "" when absent.
  static std::string membership_of(std::string_view text);
  bool proves_identity(std::string_view text, const std::string& node_id) const;
  void arm_idle_timer();
  void on_idle_tick(error_code ec);
  void on_overflow();
  // Records the cause (first one wins) and leaves the registry. Strand only.
  void end(disconnect_cause cause);
  // Sends a close frame and waits for the peer's, but no longer than handshake_timeout: a peer
  // whose socket is stuck (a pending write never completes) is then cut off.
  void close_gracefully(disconnect_cause cause, std::uint16_t code, std::string_view reason);
  void close_now(disconnect_cause cause);
  std::string describe_node() const;

  std::shared_ptr<relay_server::impl> core_;
  asio::steady_timer idle_timer_;
  const std::string remote_;
  const std::string challenge_;  // sent in the 101, signed in the NodeAnnounce

  // Strand-only state.
  std::string node_id_;  // empty until the first NodeAnnounce
  std::string network_id_;  // the network_id of that announce; every later message must match
  bool proven_ = false;  // node_id_ was proven (announce_proof.hpp)
  unsigned invalid_proofs_ = 0;
  unsigned unproven_announces_ = 0;
  std::chrono::steady_clock::time_point last_received_ = std::chrono::steady_clock::now();
  bool pinged_ = false;  // a keep-alive ping went out in the current silence
  std::uint64_t spoofed_ = 0;

  // Shared with deliver() on other threads.
  std::atomic<std::size_t> queued_bytes_{0};  // posted + queued + in flight
  std::atomic<bool> ended_{false};
  std::atomic<bool> overflowed_{false};
};

}  // namespace gsio::net::relay_detail
