#include "bench/raw_sio_peer.hpp"

#include <unordered_map>

#include "bench/raw_ws_peer.hpp"

namespace gsio::bench {

struct raw_sio_peer::impl {
  raw_sio_callbacks callbacks;
  std::unique_ptr<raw_ws_peer> socket;
  std::unordered_map<std::uint64_t, std::function<void(const std::string&)>> acks;
  std::uint64_t next_ack = 0;
  bool connected = false;
  std::string packet;  // reused for every emit

  void on_message(const std::string& text) {
    if (text.empty())
      return;
    switch (text[0]) {
      case '0':  // Engine.IO open: join the default namespace
        socket->send("40");
        return;
      case '2':  // ping
        socket->send("3");
        return;
      case '1':  // close
        socket->close();
        return;
      case '4':
        break;
      default:
        return;
    }
    if (text.size() < 2)
      return;
    switch (text[1]) {
      case '0':  // namespace joined
        if (!connected) {
          connected = true;
          if (callbacks.on_connect)
            callbacks.on_connect();
        }
        return;
      case '2': {  // event: 42["name",...]
        const auto start = text.find('"');
        const auto end = start == std::string::npos ? start : text.find('"', start + 1);
        if (end != std::string::npos && callbacks.on_event)
          callbacks.on_event(std::string_view{text}.substr(start + 1, end - start - 1),
                             std::string_view{text}.substr(start - 1));
        return;
      }
      case '3': {  // ack: 43<id>[...]
        std::size_t at = 2;
        std::uint64_t id = 0;
        while (at < text.size() && text[at] >= '0' && text[at] <= '9')
          id = id * 10 + static_cast<std::uint64_t>(text[at++] - '0');
        auto it = acks.find(id);
        if (it == acks.end())
          return;
        auto callback = std::move(it->second);
        acks.erase(it);
        callback(text.substr(at));
        return;
      }
      case '4':  // connect error
        socket->close();
        return;
      default:
        return;
    }
  }
};

raw_sio_peer::raw_sio_peer(boost::asio::io_context& io, const std::string& url,
                           raw_sio_callbacks callbacks)
    : impl_(std::make_shared<impl>()) {
  impl_->callbacks = std::move(callbacks);
  auto ws_url = url;
  if (ws_url.rfind("http://", 0) == 0)
    ws_url = "ws://" + ws_url.substr(7);
  while (!ws_url.empty() && ws_url.back() == '/')
    ws_url.pop_back();
  ws_url += "/socket.io/?EIO=4&transport=websocket";
  raw_ws_peer_callbacks cb;
  auto* self = impl_.get();  // the socket is owned by impl and cleared before impl goes
  cb.on_message = [self](const std::string& text) { self->on_message(text); };
  cb.on_close = [self](std::string reason) {
    self->connected = false;
    if (self->callbacks.on_close)
      self->callbacks.on_close(std::move(reason));
  };
  impl_->socket = std::make_unique<raw_ws_peer>(io, std::move(ws_url), "", std::move(cb));
}

raw_sio_peer::~raw_sio_peer() {
  impl_->callbacks = {};
  impl_->socket.reset();
}

void raw_sio_peer::start() { impl_->socket->start(); }

bool raw_sio_peer::emit(std::string_view event, std::string_view args_json,
                        std::function<void(const std::string&)> on_ack) {
  if (!impl_->connected)
    return false;
  const auto id = impl_->next_ack++;
  auto& p = impl_->packet;
  p.assign("42");
  p += std::to_string(id);
  p += "[\"";
  p += event;
  p += '"';
  if (!args_json.empty()) {
    p += ',';
    p += args_json;
  }
  p += ']';
  if (!impl_->socket->send(p))
    return false;
  impl_->acks.emplace(id, std::move(on_ack));
  return true;
}

void raw_sio_peer::close() { impl_->socket->close(); }

}  // namespace gsio::bench
