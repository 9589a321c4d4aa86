#pragma once
// The Socket.IO v5 layer of an Engine.IO session: its sockets (one per namespace joined, each
// registered with the server so that emit(), ack() and broadcasts find it), the admission of a
// CONNECT, event and ack packets with their binary attachments, and the acks it waits for.
// Everything runs on the session's strand.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/detail/engineio_session.hpp"

namespace gsio::net::detail {

class socketio_session final : public engine_session {
public:
  using engine_session::engine_session;

  // Strand only.
  void emit(socket_id id, std::string event, sio_args args, std::function<void(sio_args)> on_ack);
  // Sends packets encoded once for many sockets (a broadcast) to the socket `id`.
  void send_shared(socket_id id, const std::shared_ptr<const std::vector<outgoing>>& packets);
  void ack(socket_id id, std::uint64_t ack_id, sio_args args);
  void disconnect_socket(socket_id id);

private:
  struct sio_socket {
    socket_id id = 0;
    std::string nsp;
    std::string sio_sid;
    std::uint64_t next_ack_id = 1;
    std::unordered_map<std::uint64_t, std::function<void(sio_args)>> acks;
  };

  void on_open() override;
  void on_message(std::string data, bool binary) override;
  void on_closed(disconnect_reason reason) override;

  void on_text(std::string text);
  void on_attachment(std::string bytes);
  void dispatch(sio::packet p, std::vector<std::string> attachments);
  void on_connect(sio::packet p);
  // The socket `id` joined, or null when it left or this session has closed.
  sio_socket* socket_by_id(socket_id id);

  std::map<std::string, sio_socket> sockets_;  // by namespace
  bool ever_connected_ = false;
  // Socket.IO's connectTimeout: an Engine.IO connection that never joins a namespace is dropped.
  asio::steady_timer connect_timer_{strand()};
  sio::binary_reassembler reassembler_;
  std::size_t reassembly_bytes_ = 0;
};

}  // namespace gsio::net::detail
