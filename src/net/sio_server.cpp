// Socket.IO v5 / Engine.IO v4 server on Boost.Beast: the server core (listener, registries,
// counters) and the public API. The layers under it are described in detail/sio_core.hpp.
#include "net/sio_server.hpp"

#include <algorithm>
#include <random>
#include <system_error>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
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

// Pause before accepting again after an accept error such as EMFILE, instead of spinning.
constexpr auto accept_retry_delay = 100ms;

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
    acceptor_(asio::make_strand(context)),
    accept_retry_(acceptor_.get_executor()) {}

// ============================ server_core ====================================================

void server_core::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec)
    throw std::system_error(std::error_code(ec), "invalid listen address " + options.host);
  tcp::endpoint endpoint{address, options.port};
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_.bind(endpoint, ec);
  if (!ec)
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::system_error(std::error_code(ec),
                            "listen on " + options.host + ":" + std::to_string(options.port));
  bound_port = acceptor_.local_endpoint().port();
  asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void server_core::do_accept() {
  acceptor_.async_accept(asio::make_strand(io),
                         beast::bind_front_handler(&server_core::on_accept, shared_from_this()));
}

void server_core::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping || !acceptor_.is_open())
    return;
  if (ec) {
    accept_retry_.expires_after(accept_retry_delay);
    accept_retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopping)
        self->do_accept();
    });
    return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto session = std::make_shared<http_session>(shared_from_this(), std::move(socket));
  switch (register_connection(session)) {
    case admission::stopping:
      return;  // stop() ran since the check above; the socket closes with the session
    case admission::full:
      ++connections_refused;  // the socket closes with the session, unread
      break;
    case admission::admitted:
      session->start();
      break;
  }
  do_accept();
}

void server_core::stop() {
  if (stopping.exchange(true))
    return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->accept_retry_.cancel();
    self->acceptor_.close(ignored);
  });
  std::vector<std::shared_ptr<engine_session>> engines;
  std::vector<std::shared_ptr<http_session>> connections;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    for (auto& [sid, engine] : sessions_)
      engines.push_back(engine);
    for (auto& [ptr, weak] : connections_)
      if (auto c = weak.lock())
        connections.push_back(std::move(c));
  }
  for (auto& engine : engines)
    asio::post(engine->strand(), [engine] { engine->close(disconnect_reason::server_shutdown); });
  for (auto& c : connections)
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
  sockets_.emplace(id, socket_entry{session, nsp});
  return id;
}

void server_core::unregister_socket(socket_id id) {
  std::lock_guard<std::mutex> lock{mutex_};
  sockets_.erase(id);
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
    if (entry.nsp == nsp)
      if (auto session = entry.session.lock())
        out.emplace_back(id, std::move(session));
  return out;
}

server_core::admission server_core::register_connection(const std::shared_ptr<http_session>& c) {
  // stop() sets `stopping` before it takes the lock to collect the connections: a connection
  // either is in its list or sees the flag here, so none outlives the stop.
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopping)
    return admission::stopping;
  if (connections_.size() >= options.max_connections)
    return admission::full;
  connections_.emplace(c.get(), c);
  return admission::admitted;
}

std::size_t server_core::connection_count() {
  std::lock_guard<std::mutex> lock{mutex_};
  return connections_.size();
}

void server_core::unregister_connection(const http_session* c) {
  std::lock_guard<std::mutex> lock{mutex_};
  connections_.erase(c);
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
