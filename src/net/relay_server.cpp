// gsio-relay's WebSocket relay on Boost.Beast: the listener, the HTTP side (status endpoints and
// upgrade requests), the registry of connections and node ids, and routing. The objects and their
// executors are described in detail/relay_core.hpp; a node's WebSocket is
// detail/relay_connection.
#include "net/relay_server.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "net/detail/http_connection.hpp"
#include "net/detail/relay_connection.hpp"
#include "util/log.hpp"
#include "util/printable.hpp"
#include "util/prometheus.hpp"
#include "util/secret.hpp"
#include "util/url.hpp"

namespace gsio::net {

using namespace relay_detail;
namespace websocket = beast::websocket;

namespace relay_detail {

namespace {

// HTTP requests here are small GETs and upgrade requests; anything larger is not a client of ours.
constexpr std::size_t max_request_header_bytes = 16 * 1024;
constexpr std::size_t max_request_body_bytes = 4 * 1024;


std::string describe(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const auto text = address.to_string();
  return (address.is_v6() ? "[" + text + "]" : text) + ":" + std::to_string(endpoint.port());
}

using util::printable_prefix;

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

std::string error_body(std::string_view error, std::string_view message) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartObject();
  writer.Key("error");
  writer.String(error.data(), static_cast<rapidjson::SizeType>(error.size()));
  writer.Key("message");
  writer.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  writer.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

http::response<http::string_body> json_response(http::status status, std::string body,
                                                 unsigned version, bool keep_alive) {
  http::response<http::string_body> response{status, version};
  response.set(http::field::server, server_name);
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

}  // namespace

// A TCP connection speaking HTTP until it upgrades to WebSocket (or closes).
class http_session final : public detail::http_connection {
public:
  http_session(std::shared_ptr<relay_server::impl> core, tcp::socket&& socket, std::string remote)
      : http_connection(std::move(socket), max_request_header_bytes + max_request_body_bytes),
        core_(std::move(core)),
        remote_(std::move(remote)) {}

  ~http_session() override {
    // Only reached without finish() when the io_context is destroyed with our handlers queued.
    if (!closed())
      core_->forget_http(this);
  }

  // Any thread: the first read is started on the socket's strand.
  void start() {
    asio::post(executor(), [self = shared_as<http_session>()] { self->read(); });
  }

  // Any thread.
  void abort() {
    asio::post(executor(), [self = shared_as<http_session>()] { self->finish(); });
  }

private:
  void read() {
    read_request(static_cast<std::uint32_t>(max_request_header_bytes), max_request_body_bytes,
                 core_->options.handshake_timeout);
  }

  void on_read_failed(error_code ec, detail::http_read_error what) override {
    if (what != detail::http_read_error::closed) {
      // Unparseable or too large: say so once, then close.
      respond(json_response(http::status::bad_request, error_body("bad_request", ec.message()),
                            11, false));
      return;
    }
    finish();  // EOF, timeout, reset
  }

  void on_request(request_type request) override {
    if (websocket::is_upgrade(request)) {
      upgrade(std::move(request));
      return;
    }
    // Sockets kept alive between monitoring requests sit in the pool that nodes' upgrades must
    // get through: a client sending a request every few seconds could hold a place there for
    // good. Once the pool is half full, each such request gets its own connection.
    auto response = core_->answer(request);
    if (!core_->http_pool_has_room())
      response.keep_alive(false);
    respond(std::move(response));
  }

  void upgrade(request_type request) {
    const auto version = request.version();
    // Browsers send Origin with every WebSocket handshake and apply no same-origin rule to
    // WebSockets, so without this any page a member opened could join a relay it can reach (one
    // on 127.0.0.1 or a private network) and pull the ledger. Nodes send no Origin.
    if (request.find(http::field::origin) != request.end()) {
      core_->count(reject_cause::browser);
      log::info(log_component, remote_, ": upgrade refused: sent by a web page (Origin ",
                printable_prefix(to_std(request[http::field::origin])), ")");
      respond(json_response(http::status::forbidden,
                            error_body("browser",
                                       "the relay is for nodes; web pages (requests with an "
                                       "Origin header) may not join"),
                            version, false));
      return;
    }
    if (!core_->authorized(request)) {
      core_->count(reject_cause::unauthorized);
      log::info(log_component, remote_, ": upgrade refused: missing or wrong network token");
      respond(json_response(http::status::unauthorized,
                            error_body("unauthorized",
                                       "this relay requires the network token (query ?token= or "
                                       "header Authorization: Bearer)"),
                            version, false),
              {{http::field::www_authenticate, "Bearer"}});
      return;
    }
    if (auto refused = core_->reserve_connection_slot()) {
      core_->count(*refused);
      const bool full = *refused == reject_cause::over_capacity;
      log::info(log_component, remote_, ": upgrade refused: ",
                full ? "max connections reached" : "shutting down");
      respond(json_response(http::status::service_unavailable,
                            error_body(reject_cause_names[index(*refused)],
                                       full ? "the relay has reached its connection limit"
                                            : "the relay is shutting down"),
                            version, false),
              {{http::field::retry_after, "5"}});
      return;
    }
    // Bytes after the request (a client may send its first frame without waiting for the 101)
    // belong to the WebSocket.
    auto leftover = take_leftover();
    // The listener accepts every socket onto a strand of its own, of this type.
    const auto strand = *executor().target<detail::strand_type>();
    auto connection = std::make_shared<relay_connection>(core_, take_stream(), strand, remote_,
                                                         std::move(leftover));
    core_->forget_http(this);
    connection->start(std::move(request));
  }

  void respond(response_type response,
               std::initializer_list<std::pair<http::field, std::string_view>> extra = {}) {
    for (const auto& [field, value] : extra)
      response.set(field, beast::string_view{value.data(), value.size()});
    write(std::move(response), core_->options.handshake_timeout);
  }

  void on_written(error_code ec, bool keep_alive) override {
    if (ec || !keep_alive) {
      finish();
      return;
    }
    read();
  }

  void finish() {
    if (closed())
      return;
    close_stream();
    core_->forget_http(this);
  }

  std::shared_ptr<relay_server::impl> core_;
  const std::string remote_;
};

}  // namespace relay_detail

// ---- relay_server::impl: listening, admission, stop ------------------------------------------

relay_server::impl::impl(asio::io_context& context, relay_options opts)
    : io(context),
      options(std::move(opts)),
      websocket_settings{
          .max_message_bytes = options.max_frame_bytes,
          .handshake_timeout = options.handshake_timeout,
          .close_timeout = options.handshake_timeout,
          // A relay has a few links: 16-KiB blocks were 3-8 % slower here (bench/FINDINGS.md).
          .write_block_bytes = 64 * 1024,
          .read_mode = detail::ws_settings::reading::into_buffer,
      },
      listener(std::make_shared<detail::listener>(context)) {}

void relay_server::impl::start() {
  if (options.nats)
    start_nats();  // first: a relay that cannot use its NATS settings does not start at all
  tcp::resolver resolver{io};
  error_code ec;
  const auto where = options.host + ":" + std::to_string(options.port);
  auto results = resolver.resolve(options.host, std::to_string(options.port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error("cannot resolve " + where + ": " +
                             (ec ? ec.message() : std::string{"no addresses"}));
  if (auto failed = listener->open(results.begin()->endpoint()))
    throw std::runtime_error(std::string{"cannot listen on "} + where + " (" + failed->step +
                             "): " + failed->ec.message());
  bound_port = listener->port();
  listener->start(
      [weak = weak_from_this()](tcp::socket socket) {
        if (auto self = weak.lock())
          self->on_accept(std::move(socket));
      },
      [](const error_code& accept_ec) {
        log::warn(log_component, "accept failed: ", accept_ec.message(), "; retrying shortly");
      });
}

void relay_server::impl::on_accept(tcp::socket socket) {
  error_code ignored;
  // Without TCP_NODELAY a small frame waits behind the peer's delayed ACK (up to 40 ms) whenever
  // an earlier frame is unacknowledged; bursts go out as one gathered write (relay_connection).
  socket.set_option(tcp::no_delay(true), ignored);
  const auto peer = socket.remote_endpoint(ignored);
  auto connection = std::make_shared<http_session>(shared_from_this(), std::move(socket),
                                                   describe(peer));
  if (auto refused = admit_http(connection))
    count(*refused);  // the socket closes with `connection`, unread
  else
    connection->start();
}

void relay_server::impl::stop() {
  std::vector<std::shared_ptr<relay_connection>> ws_open;
  {
    std::lock_guard lock{mutex};
    if (stopping)
      return;
    stopping = true;
    for (const auto& [key, weak] : connections)
      if (auto c = weak.lock())
        ws_open.push_back(std::move(c));
  }
  listener->stop();
  if (nats)
    nats->close();  // nothing more from the other relays to the connections closing below
  for (const auto& c : http_connections.close())
    c->abort();
  for (const auto& c : ws_open)
    c->close_for_shutdown();
}

std::optional<reject_cause>
relay_server::impl::admit_http(const std::shared_ptr<http_session>& connection) {
  switch (http_connections.add(connection, options.max_connections)) {
  case detail::connection_set<http_session>::admission::stopping:
    return reject_cause::shutting_down;
  case detail::connection_set<http_session>::admission::full:
    return reject_cause::over_capacity;
  case detail::connection_set<http_session>::admission::admitted:
    break;
  }
  return std::nullopt;
}

bool relay_server::impl::http_pool_has_room() {
  return http_connections.size() < options.max_connections / 2;
}

void relay_server::impl::forget_http(const http_session* connection) {
  http_connections.remove(connection);
}

// ---- the registry and the router -------------------------------------------------------------

std::optional<reject_cause> relay_server::impl::reserve_connection_slot() {
  std::lock_guard lock{mutex};
  if (stopping)
    return reject_cause::shutting_down;
  if (live_connections >= options.max_connections)
    return reject_cause::over_capacity;
  ++live_connections;
  return std::nullopt;
}

bool relay_server::impl::enlist(const std::shared_ptr<relay_connection>& connection) {
  std::lock_guard lock{mutex};
  if (stopping)
    return false;
  connections.emplace(connection.get(), connection);
  return true;
}

void relay_server::impl::forget(const relay_connection* connection, const std::string& node_id) {
  std::lock_guard lock{mutex};
  connections.erase(connection);
  --live_connections;  // every relay_connection was created on a reserved slot
  if (!node_id.empty())
    if (auto it = nodes.find(node_id); it != nodes.end() && it->second.owner == connection) {
      nodes.erase(it);
      unwatch_on_nats(node_id);
    }
}

bool relay_server::impl::announce(const std::shared_ptr<relay_connection>& connection,
                                  const std::string& node_id, bool proven, const std::string& network) {
  std::shared_ptr<relay_connection> older;
  {
    std::lock_guard lock{mutex};
    auto& slot = nodes[node_id];
    if (slot.owner != nullptr && slot.owner != connection.get()) {
      older = slot.handle.lock();
      if (older && slot.proven && !proven)
        return false;
    }
    if (slot.owner == nullptr)
      watch_on_nats(node_id);  // under the lock, so that it pairs with forget()'s unwatch
    slot = node_slot{connection.get(), connection, proven, network};
  }
  // The newest connection wins: a node that reconnects must not wait for its dead link to time out.
  if (older) {
    log::info(log_component, "node ", printable_prefix(node_id),
              " connected again; closing its older connection");
    older->close_replaced();
  }
  return true;
}

bool relay_server::impl::mark_proven(const relay_connection& connection,
                                     const std::string& node_id) {
  std::lock_guard lock{mutex};
  auto it = nodes.find(node_id);
  if (it == nodes.end() || it->second.owner != &connection)
    return false;
  it->second.proven = true;
  return true;
}

void relay_server::impl::route(const relay_connection& sender, const p2p_message& message,
                               const frame_ptr& frame) {
  if (message.recipient_id.empty()) {
    deliver_to_all(frame, message.network_id, {}, &sender);
    broadcast_on_nats(frame);  // once per relay, whatever the number of nodes there
    return;
  }
  if (message.recipient_id == sender.node_id()) {
    count(drop_cause::self_addressed);
    return;
  }
  std::shared_ptr<relay_connection> target;
  {
    std::lock_guard lock{mutex};
    if (auto it = nodes.find(message.recipient_id);
        it != nodes.end() && it->second.network == message.network_id)
      target = it->second.handle.lock();
  }
  // Not here: another relay may have it (NATS drops what no relay subscribed to).
  if (!target && send_on_nats(message.recipient_id, frame))
    return;
  if (!target) {
    count(drop_cause::unknown_recipient);
    log::debug(log_component, "no connection for recipient ", printable_prefix(message.recipient_id),
               "; dropped ", to_string(message.type));
    return;
  }
  target->deliver(frame);
}

void relay_server::impl::deliver_to_all(const frame_ptr& frame, std::string_view network,
                                        std::string_view except_node_id,
                                        const relay_connection* except_connection) {
  std::vector<std::shared_ptr<relay_connection>> targets;
  {
    std::lock_guard lock{mutex};
    if (stopping)
      return;  // the connections are closing (and NATS input arrives on libnats's threads)
    targets.reserve(nodes.size());
    for (const auto& [id, slot] : nodes)
      if (slot.owner != except_connection && id != except_node_id && slot.network == network)
        if (auto target = slot.handle.lock())
          targets.push_back(std::move(target));
  }
  for (const auto& target : targets)
    target->deliver(frame);
}

// ---- upgrade checks and status endpoints ------------------------------------------------------

bool relay_server::impl::authorized(const http::request<http::string_body>& request) const {
  if (options.token.empty())
    return true;
  auto header = to_std(request[http::field::authorization]);
  constexpr std::string_view scheme = "bearer ";
  if (header.size() > scheme.size() && beast::iequals(header.substr(0, scheme.size()), scheme)) {
    auto given = header.substr(scheme.size());
    while (!given.empty() && given.front() == ' ')
      given.remove_prefix(1);
    while (!given.empty() && given.back() == ' ')
      given.remove_suffix(1);
    if (util::same_secret(given, options.token))
      return true;
  }
  auto query_token = util::query_parameter(to_std(request.target()), "token");
  return query_token && util::same_secret(*query_token, options.token);
}

http::response<http::string_body>
relay_server::impl::answer(const http::request<http::string_body>& request) const {
  const auto path = util::path_of(to_std(request.target()));
  const bool keep_alive = request.keep_alive();
  const bool known = path == "/health" || path == "/stats" || path == "/metrics";
  if (!known)
    return json_response(http::status::not_found,
                         error_body("not_found", "no such resource; WebSocket clients may "
                                                 "connect on any path"),
                         request.version(), keep_alive);
  if (path != "/health") {
    const auto host = request[http::field::host];
    if (!host_allowed({host.data(), host.size()}, options.allowed_hosts))
      return json_response(http::status::forbidden,
                           error_body("host_not_allowed",
                                      "/stats and /metrics answer only the relay's own host "
                                      "names (see --allowed-hosts)"),
                           request.version(), keep_alive);
  }
  if (request.method() != http::verb::get) {
    auto response = json_response(http::status::method_not_allowed,
                                  error_body("method_not_allowed", "use GET"), request.version(),
                                  keep_alive);
    response.set(http::field::allow, "GET");
    return response;
  }
  if (path == "/metrics") {
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, std::string{util::prometheus::text_writer::content_type});
    response.keep_alive(keep_alive);
    response.body() = metrics_text();
    response.prepare_payload();
    return response;
  }
  return json_response(http::status::ok, path == "/health" ? health_json() : stats_json(),
                       request.version(), keep_alive);
}

// ---- relay_server ----------------------------------------------------------------------------

relay_server::relay_server(asio::io_context& io, relay_options options)
    : impl_(std::make_shared<impl>(io, std::move(options))) {}

relay_server::~relay_server() { stop(); }

void relay_server::start() { impl_->start(); }

std::uint16_t relay_server::port() const { return impl_->bound_port.load(); }

void relay_server::stop() { impl_->stop(); }

std::string relay_server::health_json() const { return impl_->health_json(); }

std::string relay_server::stats_json() const { return impl_->stats_json(); }

}  // namespace gsio::net
