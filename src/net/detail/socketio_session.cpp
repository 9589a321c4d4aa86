#include "net/detail/socketio_session.hpp"

#include <algorithm>
#include <string_view>

namespace gsio::net::detail {

namespace {

// Acks carry a JSON array; a caller passing a single value gets it wrapped.
std::string as_json_array(std::string_view json) {
  auto first = json.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return "[]";
  if (json[first] == '[')
    return std::string{json};
  return "[" + std::string{json} + "]";
}

}  // namespace

void socketio_session::on_open() {
  connect_timer_.expires_after(core_->options.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), this](boost::system::error_code ec) {
    if (!ec && !closed() && !ever_connected_)
      close(disconnect_reason::transport_close);
  });
}

void socketio_session::on_message(std::string data, bool binary) {
  if (binary)
    on_attachment(std::move(data));
  else
    on_text(std::move(data));
}

void socketio_session::on_closed(disconnect_reason reason) {
  connect_timer_.cancel();
  auto sockets = std::move(sockets_);
  sockets_.clear();
  for (auto& [nsp, s] : sockets) {
    core_->unregister_socket(s.id);
    core_->sio_handler.on_disconnect(s.id, reason);
  }
  reassembler_.reset();
}

void socketio_session::on_text(std::string text) {
  if (reassembler_.active()) {
    protocol_error();  // a text packet while attachments are still expected
    return;
  }
  auto decoded = sio::decode(text);
  if (!decoded) {
    protocol_error();
    return;
  }
  auto& p = *decoded.value;
  bool binary = p.type == sio::packet_type::binary_event || p.type == sio::packet_type::binary_ack;
  if (binary && p.attachments > 0) {
    reassembly_bytes_ = text.size();
    reassembler_.start(std::move(p));
    return;
  }
  dispatch(std::move(p), {});
}

void socketio_session::on_attachment(std::string bytes) {
  if (!reassembler_.active()) {
    protocol_error();
    return;
  }
  // One Socket.IO packet with its attachments is held to max_payload, as it is over polling.
  reassembly_bytes_ += bytes.size();
  if (reassembly_bytes_ > core_->options.max_payload) {
    protocol_error();
    return;
  }
  if (reassembler_.add(std::move(bytes))) {
    auto complete = reassembler_.take();
    reassembly_bytes_ = 0;
    dispatch(std::move(complete.header), std::move(complete.attachments));
  }
}

socketio_session::sio_socket* socketio_session::socket_by_id(socket_id id) {
  if (closed())
    return nullptr;
  for (auto& [nsp, s] : sockets_)
    if (s.id == id)
      return &s;
  return nullptr;
}

void socketio_session::dispatch(sio::packet p, std::vector<std::string> attachments) {
  switch (p.type) {
  case sio::packet_type::connect:
    on_connect(std::move(p));
    return;
  case sio::packet_type::disconnect: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end())
      return;
    auto id = it->second.id;
    sockets_.erase(it);
    core_->unregister_socket(id);
    core_->sio_handler.on_disconnect(id, disconnect_reason::client_disconnect);
    return;
  }
  case sio::packet_type::event:
  case sio::packet_type::binary_event: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end())
      return;  // not connected to that namespace: ignored, as Socket.IO does
    auto parts = sio::split_event_payload(p.data);
    if (!parts) {
      protocol_error();
      return;
    }
    core_->sio_handler.on_event(it->second.id, std::move(parts->name),
                                sio_args{std::move(parts->args_json), std::move(attachments)},
                                p.id);
    return;
  }
  case sio::packet_type::ack:
  case sio::packet_type::binary_ack: {
    auto it = sockets_.find(p.nsp);
    if (it == sockets_.end() || !p.id)
      return;
    auto callback = it->second.acks.find(*p.id);
    if (callback == it->second.acks.end())
      return;  // unknown or already answered
    auto fn = std::move(callback->second);
    it->second.acks.erase(callback);
    if (fn)
      fn(sio_args{std::move(p.data), std::move(attachments)});
    return;
  }
  case sio::packet_type::connect_error:
    protocol_error();  // only servers send CONNECT_ERROR
    return;
  }
}

void socketio_session::on_connect(sio::packet p) {
  const auto& allowed = core_->options.namespaces;
  if (std::find(allowed.begin(), allowed.end(), p.nsp) == allowed.end()) {
    sio::packet error;
    error.type = sio::packet_type::connect_error;
    error.nsp = p.nsp;
    error.data = R"({"message":"Invalid namespace"})";
    send(encode_sio(error, {}));
    return;
  }
  if (sockets_.count(p.nsp) != 0) {
    protocol_error();  // a second CONNECT for a namespace this connection already joined
    return;
  }
  auto first = p.data.find_first_not_of(" \t\r\n");
  std::string auth_json = first == std::string::npos ? "{}" : std::move(p.data);
  if (core_->options.admit) {
    if (auto refusal = core_->options.admit(p.nsp, auth_json); !refusal.empty()) {
      sio::packet error;
      error.type = sio::packet_type::connect_error;
      error.nsp = p.nsp;
      error.data = R"({"message":)" + json_string(refusal) + "}";
      send(encode_sio(error, {}));
      return;
    }
  }
  sio_socket s;
  s.nsp = p.nsp;
  s.sio_sid = random_id();
  s.id = core_->register_socket(
      std::static_pointer_cast<socketio_session>(shared_from_this()), p.nsp);
  ever_connected_ = true;
  connect_timer_.cancel();

  socket_info info;
  info.id = s.id;
  info.nsp = p.nsp;
  info.auth_json = std::move(auth_json);
  info.remote_address = remote();
  info.transport = transport();
  info.engine_sid = sid();
  info.sio_sid = s.sio_sid;
  sockets_.emplace(p.nsp, std::move(s));

  sio::packet reply_packet;
  reply_packet.type = sio::packet_type::connect;
  reply_packet.nsp = info.nsp;
  reply_packet.data = R"({"sid":)" + json_string(info.sio_sid) + "}";
  send(encode_sio(reply_packet, {}));
  if (!closed())
    core_->sio_handler.on_connect(info);
}

void socketio_session::emit(socket_id id, std::string event, sio_args args,
                            std::function<void(sio_args)> on_ack) {
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = args.attachments.empty() ? sio::packet_type::event : sio::packet_type::binary_event;
  p.attachments = args.attachments.size();
  p.nsp = s->nsp;
  p.data = sio::make_event_payload(event, args.json);
  if (on_ack) {
    p.id = s->next_ack_id++;
    s->acks.emplace(*p.id, std::move(on_ack));
  }
  send(encode_sio(p, args.attachments));
}

void socketio_session::send_shared(socket_id id,
                                   const std::shared_ptr<const std::vector<outgoing>>& packets) {
  if (!socket_by_id(id))
    return;
  send(*packets);
}

void socketio_session::ack(socket_id id, std::uint64_t ack_id, sio_args args) {
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = args.attachments.empty() ? sio::packet_type::ack : sio::packet_type::binary_ack;
  p.attachments = args.attachments.size();
  p.nsp = s->nsp;
  p.id = ack_id;
  p.data = as_json_array(args.json);
  send(encode_sio(p, args.attachments));
}

void socketio_session::disconnect_socket(socket_id id) {
  auto* s = socket_by_id(id);
  if (!s)
    return;
  sio::packet p;
  p.type = sio::packet_type::disconnect;
  p.nsp = s->nsp;
  sockets_.erase(s->nsp);
  core_->unregister_socket(id);
  send(encode_sio(p, {}));
  core_->sio_handler.on_disconnect(id, disconnect_reason::server_disconnect);
}

}  // namespace gsio::net::detail
