// Socket.IO v5 / Engine.IO v4 server on Boost.Beast: the server core (listener, registries,
// counters) and the public API. The layers under it are described in detail/sio_core.hpp.
#include "net/sio_server.hpp"

#include <algorithm>
#include <random>
#include <system_error>

#include <boost/asio/post.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/detail/sio_core.hpp"
#include "net/detail/sio_http_session.hpp"
#include "net/detail/socketio_session.hpp"

namespace gsio::net {

const char* to_string(disconnect_reason reason) {
  switch (reason) {
  case disconnect_reason::client_disconnect: return "client disconnect";
  case disconnect_reason::transport_close: return "transport close";
  case disconnect_reason::transport_error: return "transport error";
  case disconnect_reason::ping_timeout: return "ping timeout";
  case disconnect_reason::parse_error: return "parse error";
  case disconnect_reason::server_disconnect: return "server disconnect";
  case disconnect_reason::buffer_overflow: return "buffer overflow";
  case disconnect_reason::server_shutdown: return "server shutting down";
  }
  return "unknown";
}

// Named (not anonymous) so that server::impl may derive from server_core without

namespace detail {

using namespace std::chrono_literals;

std::vector<outgoing> encode_sio(const sio::packet& p,
                                 const std::vector<std::string>& attachments) {
  std::vector<outgoing> out;
  out.reserve(1 + attachments.size());
  out.push_back(text_packet(eio::packet_type::message, sio::encode(p)));
  for (const auto& a : attachments)
    out.push_back(binary_packet(a));
  return out;
}

engine_reply error_reply(engine_error e) {
  static constexpr const char* messages[] = {"Transport unknown", "Session ID unknown",
                                             "Bad handshake method", "Bad request", "Forbidden",
                                             "Unsupported protocol version"};
  auto code = static_cast<int>(e);
  return {400, "application/json",
          R"({"code":)" + std::to_string(code) + R"(,"message":")" + messages[code] + "\"}"};
}

// 120 random bits as 20 URL-safe characters.
std::string random_id() {
  static std::mutex mutex;
  static std::random_device device;
  std::string bytes(15, '\0');
  {
    std::lock_guard<std::mutex> lock{mutex};
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
      auto r = device();
      bytes[i] = static_cast<char>(r & 0xff);
      bytes[i + 1] = static_cast<char>((r >> 8) & 0xff);
      bytes[i + 2] = static_cast<char>((r >> 16) & 0xff);
    }
  }
  auto id = eio::base64_encode(bytes);
  std::replace(id.begin(), id.end(), '+', '-');
  std::replace(id.begin(), id.end(), '/', '_');
  return id;
}

std::string json_string(std::string_view s) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
  writer.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {buffer.GetString(), buffer.GetSize()};
}


// "/socket.io/" also answers "/socket.io" (clients built with a path without the slash).
bool path_matches(std::string_view path, std::string_view endpoint) {
  if (endpoint.empty())
    return false;
  if (path == endpoint)
    return true;
  return endpoint.back() == '/' && path == endpoint.substr(0, endpoint.size() - 1);
}


server_core::server_core(asio::io_context& context, server_options opts, handler& h,
                         engineio_handler* raw)
  : io(context),
    options(std::move(opts)),
    sio_handler(h),
    raw_handler(raw),
    request_timeout(std::max<std::chrono::milliseconds>(
        30s, options.ping_interval + options.ping_timeout + 5s)),
    websocket_settings{
        .max_message_bytes = options.max_payload,
        .handshake_timeout = 30s,
        // How long a graceful WebSocket close may wait for queued frames and the close handshake.
        .close_timeout = 5s,
        // A node holds thousands of sessions (the relay a few links): a smaller block bounds what
        // stalled readers hold together (10k of them: 160 MiB, not 640), for 2-5 % of ingest.
        .write_block_bytes = 16 * 1024,
        .read_mode = ws_settings::reading::when_readable,
    },
    listener_(std::make_shared<listener>(context)) {}

// ============================ server_core ====================================================

void server_core::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec)
    throw std::system_error(std::error_code(ec), "invalid listen address " + options.host);
  if (auto failed = listener_->open({address, options.port}))
    throw std::system_error(std::error_code(failed->ec),
                            "listen on " + options.host + ":" + std::to_string(options.port));
  bound_port = listener_->port();
  listener_->start([weak = weak_from_this()](tcp::socket socket) {
    if (auto self = weak.lock())
      self->on_accept(std::move(socket));
  });
}

void server_core::on_accept(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<http_session>(shared_from_this(), std::move(socket));
  switch (connections_.add(session, options.max_connections)) {
    case connection_set<http_session>::admission::stopping:
      return;  // stop() ran; the socket closes with the session
    case connection_set<http_session>::admission::full:
      ++connections_refused;  // the socket closes with the session, unread
      return;
    case connection_set<http_session>::admission::admitted:
      session->start();
      return;
  }
}

void server_core::stop() {
  if (stopping.exchange(true))
    return;
  listener_->stop();
  std::vector<std::shared_ptr<engine_session>> engines;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    for (auto& [sid, engine] : sessions_)
      engines.push_back(engine);
  }
  for (auto& engine : engines)
    asio::post(engine->strand(), [engine] { engine->close(disconnect_reason::server_shutdown); });
  // A connection accepted since `stopping` was set is either in this list or refused.
  for (auto& c : connections_.close())
    c->shutdown();
}

std::shared_ptr<engine_session> server_core::create_session(strand_type strand, bool raw,
                                                            transport_kind transport,
                                                            std::string remote) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping || sessions_.size() >= options.max_connections)
    return nullptr;
  std::string sid;
  do
    sid = random_id();
  while (sessions_.count(sid) != 0);
  std::shared_ptr<engine_session> engine;
  if (raw)
    engine = std::make_shared<raw_session>(shared_from_this(), std::move(strand), sid, raw,
                                           transport, std::move(remote));
  else
    engine = std::make_shared<socketio_session>(shared_from_this(), std::move(strand), sid, raw,
                                                transport, std::move(remote));
  sessions_.emplace(std::move(sid), engine);
  if (transport == transport_kind::polling)
    ++polling_sessions;
  else
    ++websocket_sessions;
  return engine;
}

std::shared_ptr<engine_session> server_core::find_session(const std::string& sid, bool raw) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = sessions_.find(sid);
  if (it == sessions_.end() || it->second->raw() != raw)
    return nullptr;
  return it->second;
}

void server_core::unregister_session(const std::string& sid, transport_kind transport) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (sessions_.erase(sid) == 0)
    return;
  if (transport == transport_kind::polling)
    --polling_sessions;
  else
    --websocket_sessions;
}

socket_id server_core::register_socket(const std::shared_ptr<socketio_session>& session,
                                       const std::string& nsp) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto id = next_socket_id_++;
  sockets_.emplace(id, socket_entry{session, nsp, !options.broadcasts_need_opt_in});
  return id;
}

void server_core::unregister_socket(socket_id id) {
  std::lock_guard<std::mutex> lock{mutex_};
  sockets_.erase(id);
}

void server_core::receive_broadcasts(socket_id id, bool receive) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (auto it = sockets_.find(id); it != sockets_.end())
    it->second.receives_broadcasts = receive;
}

std::shared_ptr<socketio_session> server_core::find_socket(socket_id id) {
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second.session.lock();
}

std::vector<std::pair<socket_id, std::shared_ptr<socketio_session>>> server_core::sockets_of(
    const std::string& nsp) {
  std::vector<std::pair<socket_id, std::shared_ptr<socketio_session>>> out;
  std::lock_guard<std::mutex> lock{mutex_};
  for (auto& [id, entry] : sockets_)
    if (entry.nsp == nsp && entry.receives_broadcasts)
      if (auto session = entry.session.lock())
        out.emplace_back(id, std::move(session));
  return out;
}

}  // namespace detail

// ============================ public API =====================================================

struct server::impl : detail::server_core {
  using detail::server_core::server_core;
};

server::server(boost::asio::io_context& io, server_options options, handler& h,
               engineio_handler* raw)
  : impl_(std::make_shared<impl>(io, std::move(options), h, raw)) {}

server::~server() { stop(); }

void server::start() { impl_->start(); }

void server::stop() { impl_->stop(); }

std::uint16_t server::port() const { return impl_->bound_port; }

void server::emit(socket_id id, std::string event, sio_args args,
                  std::function<void(sio_args)> on_ack) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id, event = std::move(event), args = std::move(args),
                                       on_ack = std::move(on_ack)]() mutable {
    engine->emit(id, std::move(event), std::move(args), std::move(on_ack));
  });
}

void server::broadcast(const std::string& nsp, std::string event, sio_args args) {
  broadcast_each(nsp, event, std::vector<sio_args>{std::move(args)});
}

void server::broadcast_each(const std::string& nsp, const std::string& event,
                            const std::vector<sio_args>& messages) {
  if (messages.empty())
    return;
  auto receivers = impl_->sockets_of(nsp);
  if (receivers.empty())
    return;
  std::vector<detail::outgoing> encoded;
  for (const auto& args : messages) {
    sio::packet p;
    p.type = args.attachments.empty() ? sio::packet_type::event : sio::packet_type::binary_event;
    p.attachments = args.attachments.size();
    p.nsp = nsp;
    p.data = sio::make_event_payload(event, args.json);
    for (auto& packet : detail::encode_sio(p, args.attachments))
      encoded.push_back(std::move(packet));
  }
  auto packets = std::make_shared<const std::vector<detail::outgoing>>(std::move(encoded));
  for (auto& [id, engine] : receivers)
    boost::asio::post(engine->strand(), [engine = engine, id = id, packets] {
      engine->send_shared(id, packets);
    });
}

void server::receive_broadcasts(socket_id id, bool receive) { impl_->receive_broadcasts(id, receive); }

void server::ack(socket_id id, std::uint64_t ack_id, sio_args args) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id, ack_id, args = std::move(args)]() mutable {
    engine->ack(id, ack_id, std::move(args));
  });
}

void server::disconnect(socket_id id) {
  auto engine = impl_->find_socket(id);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, id] { engine->disconnect_socket(id); });
}

void server::send_engineio(const std::string& sid, std::string data, bool binary) {
  auto engine = impl_->find_session(sid, true);
  if (!engine)
    return;
  boost::asio::post(engine->strand(), [engine, data = std::move(data), binary]() mutable {
    engine->send_message(std::move(data), binary);
  });
}

server_stats server::stats() const {
  server_stats s;
  s.engine_sessions = impl_->session_count();
  s.polling_sessions = impl_->polling_sessions;
  s.websocket_sessions = impl_->websocket_sessions;
  s.sockets = impl_->socket_count();
  s.packets_in = impl_->packets_in;
  s.packets_out = impl_->packets_out;
  s.protocol_errors = impl_->protocol_errors;
  s.http_connections = impl_->connection_count();
  s.connections_refused = impl_->connections_refused;
  return s;
}

}  // namespace gsio::net
