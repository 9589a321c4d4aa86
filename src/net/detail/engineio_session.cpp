#include "net/detail/engineio_session.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "net/detail/sio_http_session.hpp"

namespace gsio::net::detail {

// ============================ ws_transport ===================================================

ws_transport::ws_transport(std::shared_ptr<server_core> core, bool raw, beast::tcp_stream stream,
                           strand_type strand, std::string leftover)
  : ws_connection(std::move(stream), std::move(strand), core->websocket_settings,
                  std::move(leftover)),
    core_(std::move(core)),
    raw_(raw) {}

void ws_transport::decorate(response_type& response) {
  response.set(http::field::server, "gsio-net");
}

void ws_transport::reject(engine_reply reply, request_type request) {
  response_type rejection{static_cast<http::status>(reply.status), request.version()};
  rejection.set(http::field::content_type, reply.content_type);
  if (!core_->options.cors_origin.empty())
    rejection.set(http::field::access_control_allow_origin, core_->options.cors_origin);
  rejection.keep_alive(false);
  rejection.body() = std::move(reply.body);
  rejection.prepare_payload();
  ws_connection::reject(std::move(rejection));
}

bool ws_transport::on_open() {
  if (!engine_) {
    // A WebSocket-only session: it shares this WebSocket's strand.
    std::string remote;
    beast::error_code ec;
    auto endpoint = socket().remote_endpoint(ec);
    if (!ec)
      remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    auto engine =
        core_->create_session(strand(), raw_, transport_kind::websocket, std::move(remote));
    if (!engine) {
      end(true);
      return false;
    }
    engine->attach_websocket(shared_as<ws_transport>());
  }
  return true;
}

void ws_transport::on_message(ws::parsed message) {
  if (engine_) {
    auto engine = engine_;  // the engine may close us (and drop engine_) while handling it
    engine->on_ws_frame(this, std::move(message.payload), message.op == ws::opcode::text);
  }
}

void ws_transport::on_end(const ws_ending& ending) {
  auto reason = disconnect_reason::transport_error;
  if (ending.what == ws_ending::kind::peer_closed ||
      (ending.what == ws_ending::kind::read_failed &&
       (ending.ec == asio::error::eof || ending.ec == asio::error::operation_aborted ||
        ending.ec == asio::error::connection_reset)))
    reason = disconnect_reason::transport_close;
  if (auto engine = std::move(engine_))
    engine->on_ws_closed(this, reason);
}

bool ws_transport::send(const outgoing* frames, std::size_t count) {
  if (ended())
    return true;
  for (std::size_t i = 0; i < count; ++i)
    push({frames[i].bytes, frames[i].binary ? ws_outgoing::form::binary : ws_outgoing::form::text,
          true});
  const auto limit = core_->options.max_buffered_bytes;
  if (backlog_.too_slow(backlog_bytes(), limit))
    return false;
  if (backlog_bytes() > limit)
    arm_slow_timer();
  flush();
  return true;
}

void ws_transport::on_write_done(std::size_t, std::size_t, bool) {
  backlog_.drained(backlog_bytes(), core_->options.max_buffered_bytes);
}

void ws_transport::arm_slow_timer() {
  if (slow_timer_armed_)
    return;
  slow_timer_armed_ = true;
  if (!slow_timer_)
    slow_timer_.emplace(strand());
  // When the current stretch above the limit ends its grace (it may have begun after a dip
  // below the limit while an earlier timer ran).
  slow_timer_->expires_after(backlog_.grace_left() + std::chrono::milliseconds{100});
  slow_timer_->async_wait(
      asio::bind_executor(strand(), [self = shared_as<ws_transport>()](beast::error_code ec) {
        self->slow_timer_armed_ = false;
        if (ec || self->ended())
          return;
        const auto limit = self->core_->options.max_buffered_bytes;
        if (self->backlog_.too_slow(self->backlog_bytes(), limit)) {
          if (auto engine = self->engine_)
            engine->close(disconnect_reason::buffer_overflow);
        } else if (self->backlog_bytes() > limit) {
          self->arm_slow_timer();  // it fell behind again after a catch-up: a new grace
        }
      }));
}

void ws_transport::on_socket_closed() {
  if (slow_timer_)
    slow_timer_->cancel();
}

void ws_transport::end(bool graceful, std::uint16_t code) {
  if (ended())
    return;
  engine_.reset();
  if (graceful)
    close_after_flush(code);
  else
    cut();
}

// ============================ engine_session =================================================

std::string engine_session::open_packet_json() const {
  bool can_upgrade = transport_ == transport_kind::polling && core_->options.allow_upgrades;
  std::string json = R"({"sid":)" + json_string(sid_);
  json += R"(,"upgrades":)";
  json += can_upgrade ? R"(["websocket"])" : "[]";
  json += R"(,"pingInterval":)" + std::to_string(core_->options.ping_interval.count());
  json += R"(,"pingTimeout":)" + std::to_string(core_->options.ping_timeout.count());
  json += R"(,"maxPayload":)" + std::to_string(core_->options.max_payload);
  json += '}';
  return json;
}

void engine_session::start() {
  if (closed_)
    return;
  schedule_ping();
  on_open();
}

void engine_session::attach_websocket(std::shared_ptr<ws_transport> ws) {
  ws_ = std::move(ws);
  ws_->set_engine(shared_from_this());
  ws_->send(text_packet(eio::packet_type::open, open_packet_json()));
  start();
}

void engine_session::schedule_ping() {
  awaiting_pong_ = false;
  ping_timer_.expires_after(core_->options.ping_interval);
  ping_timer_.async_wait(
      beast::bind_front_handler(&engine_session::on_ping_timer, shared_from_this()));
}

void engine_session::on_ping_timer(beast::error_code ec) {
  if (ec || closed_)
    return;
  if (awaiting_pong_) {
    close(disconnect_reason::ping_timeout);
    return;
  }
  awaiting_pong_ = true;
  send({text_packet(eio::packet_type::ping)});
  if (closed_)
    return;
  ping_timer_.expires_after(core_->options.ping_timeout);
  ping_timer_.async_wait(
      beast::bind_front_handler(&engine_session::on_ping_timer, shared_from_this()));
}

void engine_session::reply(const std::shared_ptr<http_session>& http, engine_reply r) {
  asio::post(http->executor(), [http, r = std::move(r)]() mutable { http->deliver(std::move(r)); });
}

bool engine_session::accept_polling_request(const std::shared_ptr<http_session>& http) {
  if (closed_) {
    reply(http, error_reply(engine_error::session_id_unknown));
    return false;
  }
  if (transport_ != transport_kind::polling) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    return false;
  }
  return true;
}

void engine_session::handle_poll(std::shared_ptr<http_session> http) {
  if (!accept_polling_request(http))
    return;
  if (pending_poll_) {
    // Two concurrent polls: the client is confused or hostile; Engine.IO ends the session.
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    close(disconnect_reason::transport_error);
    return;
  }
  pending_poll_ = std::move(http);
  flush_polling();
}

void engine_session::poll_aborted(const std::shared_ptr<http_session>& http) {
  if (closed_ || pending_poll_ != http)
    return;  // already answered
  pending_poll_.reset();
  close(disconnect_reason::transport_close);
}

void engine_session::handle_post(std::shared_ptr<http_session> http, std::string body) {
  if (!accept_polling_request(http))
    return;
  auto packets = eio::decode_payload(body);
  if (!packets) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    close(disconnect_reason::parse_error);
    return;
  }
  for (auto& p : *packets) {
    if (closed_)
      break;
    handle_packet(std::move(p));
  }
  reply(http, engine_reply{200, "text/html", "ok"});
}

void engine_session::flush_polling() {
  if (!pending_poll_ || closed_)
    return;
  std::string body;
  if (outbox_.empty()) {
    if (!probed_)
      return;  // keep holding the poll
    body = "6";  // lets the client finish this poll and pause polling for the upgrade
  } else {
    body.reserve(outbox_bytes_ + outbox_.size());
    for (std::size_t i = 0; i < outbox_.size(); ++i) {
      if (i != 0)
        body += eio::record_separator;
      if (outbox_[i].binary) {
        body += 'b';
        body += eio::base64_encode(*outbox_[i].bytes);
      } else {
        body += *outbox_[i].bytes;
      }
    }
    outbox_.clear();
    outbox_bytes_ = 0;
    poll_backlog_.drained(0, core_->options.max_buffered_bytes);
  }
  reply(pending_poll_, text_reply(std::move(body)));
  pending_poll_.reset();
}

void engine_session::send(std::vector<outgoing> packets) {
  if (closed_)
    return;
  core_->packets_out += packets.size();
  if (transport_ == transport_kind::websocket && ws_) {
    if (!ws_->send(packets))
      close(disconnect_reason::buffer_overflow);
    return;
  }
  for (auto& p : packets) {
    outbox_bytes_ += polling_size(p) + 1;
    outbox_.push_back(std::move(p));
  }
  if (poll_backlog_.too_slow(outbox_bytes_, core_->options.max_buffered_bytes)) {
    close(disconnect_reason::buffer_overflow);
    return;
  }
  flush_polling();
}

void engine_session::protocol_error() {
  ++core_->protocol_errors;
  close(disconnect_reason::parse_error);
}

void engine_session::handle_packet(eio::packet p) {
  ++core_->packets_in;
  switch (p.type) {
  case eio::packet_type::pong:
    if (awaiting_pong_)
      schedule_ping();
    return;
  case eio::packet_type::ping:
    // v4 clients never ping, but answering is harmless and helps v3-style tools.
    send({text_packet(eio::packet_type::pong, p.data)});
    return;
  case eio::packet_type::message:
    on_message(std::move(p.data), p.binary);
    return;
  case eio::packet_type::close:
    close(disconnect_reason::client_disconnect);
    return;
  case eio::packet_type::noop:
    return;
  case eio::packet_type::open:
  case eio::packet_type::upgrade:
    protocol_error();  // only valid from the server, or on a probe WebSocket
    return;
  }
}

// --- upgrade -----------------------------------------------------------------------------------

void engine_session::begin_probe(std::shared_ptr<ws_transport> ws,
                                 http::request<http::string_body> req) {
  if (closed_) {
    ws->reject(error_reply(engine_error::session_id_unknown), std::move(req));
    return;
  }
  if (transport_ != transport_kind::polling || probe_) {
    // Already upgraded, or an upgrade is under way: the reference server (engine.io 6) completes
    // this WebSocket's handshake and closes it at once, leaving the session as it was.
    ++core_->protocol_errors;
    ws->accept_and_close(std::move(req));
    return;
  }
  if (!core_->options.allow_upgrades) {
    ++core_->protocol_errors;
    ws->reject(error_reply(engine_error::bad_request), std::move(req));
    return;
  }
  probe_ = ws;
  ws->set_engine(shared_from_this());
  ws->start_accept(std::move(req));
  upgrade_timer_.expires_after(upgrade_timeout);
  upgrade_timer_.async_wait([self = shared_from_this(),
                             probe = std::weak_ptr<ws_transport>(ws)](beast::error_code ec) {
    if (!ec && !self->closed_ && self->probe_ && self->probe_ == probe.lock())
      self->abort_probe();
  });
}

void engine_session::handle_probe_frame(std::string data, bool text) {
  auto p = text ? eio::decode_text(data) : std::nullopt;
  if (p && p->type == eio::packet_type::ping && p->data == "probe" && !probed_) {
    probed_ = true;
    probe_->send(text_packet(eio::packet_type::pong, "probe"));
    flush_polling();  // a held poll is answered with a noop
    return;
  }
  if (p && p->type == eio::packet_type::upgrade && probed_) {
    complete_upgrade();
    return;
  }
  abort_probe();  // anything else ends the upgrade attempt, not the session
}

void engine_session::complete_upgrade() {
  upgrade_timer_.cancel();
  ws_ = std::move(probe_);
  probed_ = false;
  transport_ = transport_kind::websocket;
  core_->transport_upgraded();
  if (pending_poll_) {
    reply(pending_poll_, text_reply("6"));
    pending_poll_.reset();
  }
  auto queued = std::move(outbox_);
  outbox_.clear();
  outbox_bytes_ = 0;
  if (!ws_->send(queued))
    close(disconnect_reason::buffer_overflow);
}

void engine_session::abort_probe() {
  upgrade_timer_.cancel();
  probed_ = false;
  if (auto probe = std::move(probe_))
    probe->end(false);
}

void engine_session::on_ws_frame(ws_transport* ws, std::string data, bool text) {
  if (closed_)
    return;
  if (probe_ && ws == probe_.get()) {
    handle_probe_frame(std::move(data), text);
    return;
  }
  if (!ws_ || ws != ws_.get())
    return;
  auto p = text ? eio::decode_text(data)
                : std::optional<eio::packet>{eio::decode_binary_frame(std::move(data))};
  if (!p) {
    protocol_error();
    return;
  }
  handle_packet(std::move(*p));
}

void engine_session::on_ws_closed(ws_transport* ws, disconnect_reason reason) {
  if (closed_)
    return;
  if (probe_ && ws == probe_.get()) {
    upgrade_timer_.cancel();
    probe_.reset();
    probed_ = false;
    return;
  }
  if (ws_ && ws == ws_.get())
    close(reason);
}

// --- close -------------------------------------------------------------------------------------

void engine_session::close(disconnect_reason reason) {
  if (closed_)
    return;
  closed_ = true;
  ping_timer_.cancel();
  upgrade_timer_.cancel();
  core_->unregister_session(sid_, transport_);
  on_closed(reason);
  outbox_.clear();
  outbox_bytes_ = 0;

  if (pending_poll_) {
    // A client that asked to close gets a noop; otherwise the close packet tells it why the poll
    // ended.
    reply(pending_poll_, text_reply(reason == disconnect_reason::client_disconnect ? "6" : "1"));
    pending_poll_.reset();
  }
  bool graceful = reason == disconnect_reason::client_disconnect ||
                  reason == disconnect_reason::parse_error ||
                  reason == disconnect_reason::server_disconnect ||
                  reason == disconnect_reason::server_shutdown;
  if (auto ws = std::move(ws_))
    ws->end(graceful, reason == disconnect_reason::server_shutdown ? ws::close_code::going_away
                                                                   : ws::close_code::normal);
  if (auto probe = std::move(probe_))
    probe->end(false);
}


// ============================ raw_session ====================================================

void raw_session::on_open() { core_->raw_handler->on_open(sid()); }

void raw_session::on_message(std::string data, bool binary) {
  core_->raw_handler->on_message(sid(), std::move(data), binary);
}

void raw_session::on_closed(disconnect_reason) { core_->raw_handler->on_close(sid()); }

void engine_session::send_message(std::string data, bool binary) {
  if (closed_)
    return;
  send({binary ? binary_packet(std::move(data)) : text_packet(eio::packet_type::message, data)});
}

}  // namespace gsio::net::detail
