#include "net/detail/engineio_session.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>

#include "net/detail/sio_http_session.hpp"

namespace gsio::net::detail {

// ============================ ws_session =====================================================

void ws_session::start_accept(http::request<http::string_body> request) {
  request_ = std::move(request);
  beast::get_lowest_layer(*handshake_).expires_after(std::chrono::seconds(30));
  handshake_->set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "gsio-net"); }));
  handshake_->async_accept(request_, asio::bind_executor(strand_, beast::bind_front_handler(
                                                                      &ws_session::on_accept,
                                                                      shared_from_this())));
}

void ws_session::reject(engine_reply reply, http::request<http::string_body> request) {
  closing_ = true;
  rejection_ = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(reply.status), request.version());
  rejection_->set(http::field::content_type, reply.content_type);
  if (!core_->options.cors_origin.empty())
    rejection_->set(http::field::access_control_allow_origin, core_->options.cors_origin);
  rejection_->keep_alive(false);
  rejection_->body() = std::move(reply.body);
  rejection_->prepare_payload();
  beast::get_lowest_layer(*handshake_).expires_after(http_write_timeout);
  http::async_write(beast::get_lowest_layer(*handshake_), *rejection_,
                    asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code,
                                                                             std::size_t) {
                      self->hard_close();
                    }));
}

void ws_session::accept_and_close(http::request<http::string_body> request) {
  refuse_when_open_ = true;
  start_accept(std::move(request));
}

void ws_session::on_accept(beast::error_code ec) {
  request_ = {};  // the handshake is done: its headers need not live as long as the connection
  if (closing_)
    return;
  if (ec) {
    transport_failed_ = true;
    report_closed(disconnect_reason::transport_error);
    hard_close();
    return;
  }
  beast::get_lowest_layer(*handshake_).expires_never();
  socket_ = beast::get_lowest_layer(*handshake_).release_socket();
  handshake_.reset();
  beast::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (refuse_when_open_) {
    closing_ = true;
    arm_close_timer();
    start_close_handshake(ws::close_code::no_status, {});
    wait_readable();  // for the client's close frame, which ends the connection
    return;
  }
  if (!engine_) {
    // A WebSocket-only session: it shares this WebSocket's strand.
    std::string remote;
    auto endpoint = socket_.remote_endpoint(ignored);
    if (!ignored)
      remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    auto engine =
        core_->create_session(strand_, raw_, transport_kind::websocket, std::move(remote));
    if (!engine) {
      close(true);
      return;
    }
    engine->attach_websocket(shared_from_this());
  }
  if (!pending_input_.empty()) {
    const auto used = take_frames(pending_input_);
    pending_input_.erase(0, used);
  }
  wait_readable();
}

void ws_session::wait_readable() {
  if (transport_failed_ || !socket_.is_open())
    return;
  socket_.async_wait(tcp::socket::wait_read,
                     asio::bind_executor(strand_, beast::bind_front_handler(
                                                      &ws_session::on_readable,
                                                      shared_from_this())));
}

// Reads what the socket holds into the thread's scratch buffer and parses it there; only the
// start of an incomplete frame is kept by the session.
void ws_session::on_readable(beast::error_code ec) {
  thread_local std::vector<char> scratch(64 * 1024);
  std::size_t bytes = 0;
  if (!ec)
    bytes = socket_.read_some(asio::buffer(scratch), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    wait_readable();
    return;
  }
  if (ec) {
    transport_failed_ = true;
    const bool clean = ec == asio::error::eof || ec == asio::error::operation_aborted ||
                       ec == asio::error::connection_reset;
    report_closed(clean ? disconnect_reason::transport_close : disconnect_reason::transport_error);
    hard_close();
    return;
  }
  if (pending_input_.empty()) {
    const auto used = take_frames({scratch.data(), bytes});
    pending_input_.assign(scratch.data() + used, bytes - used);
  } else {
    pending_input_.append(scratch.data(), bytes);
    const auto used = take_frames(pending_input_);
    pending_input_.erase(0, used);
  }
  if (pending_input_.empty() && pending_input_.capacity() > 0)
    std::string{}.swap(pending_input_);  // an idle connection keeps no input buffer
  wait_readable();  // also after close(): the close handshake completes through the read
}

std::size_t ws_session::take_frames(std::string_view input) {
  std::size_t used = 0;
  while (!transport_failed_) {
    if (discard_input_)
      return input.size();
    auto frame = parser_.parse(input.substr(used));
    if (frame.what == ws::parsed::kind::need_more)
      break;
    used += frame.consumed;
    switch (frame.what) {
    case ws::parsed::kind::message:
      if (engine_ && !closing_) {
        auto engine = engine_;  // the engine may close us (and drop engine_) while handling it
        engine->on_ws_frame(this, std::move(frame.payload), frame.op == ws::opcode::text);
      }
      break;
    case ws::parsed::kind::ping:
      if (!close_sent_)
        queue_pong(ws::encode_frame(ws::opcode::pong, frame.payload));
      break;
    case ws::parsed::kind::close:
      peer_closed_ = true;
      discard_input_ = true;  // nothing may follow a close frame
      closing_ = true;        // first: the engine's close() must not cut the connection
      report_closed(disconnect_reason::transport_close);
      if (close_sent_) {
        hard_close();
      } else {
        // Answer with the same code, then close the connection once the answer is out.
        close_after_flush_ = false;
        arm_close_timer();
        start_close_handshake(frame.code == 1005 ? ws::close_code::normal : frame.code, {});
      }
      return input.size();
    case ws::parsed::kind::failure:
      on_frame_failure(frame);
      return input.size();
    default:
      break;
    }
  }
  return used;
}

void ws_session::on_frame_failure(const ws::parsed& failure) {
  discard_input_ = true;  // where a frame was malformed, nothing after it can be parsed
  closing_ = true;        // first: the engine's close() must not cut the connection
  report_closed(disconnect_reason::transport_error);
  arm_close_timer();
  start_close_handshake(failure.code, failure.payload);
}

// Bounds every close: a peer that stops reading cannot keep the connection open.
void ws_session::arm_slow_timer() {
  if (slow_timer_armed_)
    return;
  slow_timer_armed_ = true;
  if (!slow_timer_)
    slow_timer_.emplace(strand_);
  // When the current stretch above the limit ends its grace (it may have begun after a dip
  // below the limit while an earlier timer ran).
  slow_timer_->expires_after(backlog_.grace_left() + std::chrono::milliseconds{100});
  slow_timer_->async_wait(asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
    self->slow_timer_armed_ = false;
    if (ec || self->closing_)
      return;
    const auto limit = self->core_->options.max_buffered_bytes;
    if (self->backlog_.too_slow(self->queued_bytes_, limit)) {
      if (auto engine = self->engine_)
        engine->close(disconnect_reason::buffer_overflow);
    } else if (self->queued_bytes_ > limit) {
      self->arm_slow_timer();  // it fell behind again after a catch-up: a new grace
    }
  }));
}

void ws_session::arm_close_timer() {
  close_timer_.expires_after(graceful_close_timeout);
  close_timer_.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->hard_close();
      }));
}

// Only the latest ping not yet answered gets a pong (RFC 6455 §5.5.3 allows it): a peer that
// sends pings and reads nothing cannot make pongs pile up. Before our close frame is queued,
// control_pending_ holds at most that pong.
void ws_session::queue_pong(std::string frame) {
  control_pending_ = std::move(frame);
  if (!writing_)
    do_write();
}

bool ws_session::send(const outgoing* frames, std::size_t count) {
  if (closing_)
    return true;
  for (std::size_t i = 0; i < count; ++i) {
    queued_bytes_ += frames[i].bytes->size();
    queue_.push_back(frames[i]);
  }
  if (backlog_.too_slow(queued_bytes_, core_->options.max_buffered_bytes))
    return false;
  if (queued_bytes_ > core_->options.max_buffered_bytes)
    arm_slow_timer();
  if (!writing_)
    do_write();
  return true;
}

// One gathered write: pending control frames first, then queued frames up to a bound, each
// behind its header. The frames move to in_flight_ so that dropping the queue cannot free bytes
// the write still references.
void ws_session::do_write() {
  if (transport_failed_ || (queue_.empty() && control_pending_.empty()))
    return;
  constexpr std::size_t max_frames_per_write = 256;
  constexpr std::size_t max_bytes_per_write = 256 * 1024;
  writing_ = true;
  close_in_flight_ = close_queued_;
  close_queued_ = false;
  batch_.copy(control_pending_);
  control_pending_.clear();
  std::size_t bytes = 0;
  std::string header;
  while (!queue_.empty() && in_flight_.size() < max_frames_per_write &&
         bytes < max_bytes_per_write && !batch_.full()) {
    const auto& frame = queue_.front();
    header.clear();
    ws::append_header(header, frame.binary ? ws::opcode::binary : ws::opcode::text,
                      frame.bytes->size());
    batch_.copy(header);
    batch_.add(*frame.bytes);
    bytes += frame.bytes->size();
    in_flight_.push_back(frame);
    queue_.pop_front();
  }
  asio::async_write(socket_, batch_.buffers(),
                    asio::bind_executor(strand_, beast::bind_front_handler(&ws_session::on_write,
                                                                           shared_from_this())));
}

void ws_session::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  for (const auto& frame : in_flight_)
    queued_bytes_ -= frame.bytes->size();
  backlog_.drained(queued_bytes_, core_->options.max_buffered_bytes);
  in_flight_.clear();
  batch_.clear();
  const bool wrote_close = std::exchange(close_in_flight_, false);
  if (ec) {
    transport_failed_ = true;
    report_closed(disconnect_reason::transport_error);
    hard_close();
    return;
  }
  if (wrote_close) {
    // Our close frame is out and nothing follows it. If the peer began the close, we are done;
    // otherwise its close frame or EOF arrives through the read loop, bounded by close_timer_.
    // (Closing now, with its bytes unread, would reset the connection and could destroy the
    // close frame on its way.)
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    if (peer_closed_)
      hard_close();
    return;
  }
  if (!queue_.empty() || !control_pending_.empty()) {
    do_write();
    return;
  }
  if (close_after_flush_)
    start_close_handshake(close_code_, {});
}

void ws_session::close(bool graceful, std::uint16_t code) {
  if (closing_)
    return;
  closing_ = true;
  close_code_ = code;
  engine_.reset();
  if (!graceful || transport_failed_ || handshake_) {
    hard_close();
    return;
  }
  close_after_flush_ = true;
  arm_close_timer();
  if (!writing_ && queue_.empty())
    start_close_handshake(close_code_, {});
}

// Queues our close frame; queued data frames are dropped (a graceful close has flushed them).
void ws_session::start_close_handshake(std::uint16_t code, std::string_view reason) {
  close_after_flush_ = false;
  if (close_sent_ || transport_failed_)
    return;
  close_sent_ = true;
  while (!queue_.empty()) {
    queued_bytes_ -= queue_.front().bytes->size();
    queue_.pop_front();
  }
  control_pending_ += ws::encode_close(code, reason);
  close_queued_ = true;
  if (!writing_)
    do_write();
}

void ws_session::hard_close() {
  close_timer_.cancel();
  if (slow_timer_)
    slow_timer_->cancel();
  auto& sock = socket();
  if (!sock.is_open())
    return;
  beast::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_both, ignored);
  sock.close(ignored);
}

void ws_session::report_closed(disconnect_reason reason) {
  if (auto engine = std::move(engine_))
    engine->on_ws_closed(this, reason);
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

void engine_session::attach_websocket(std::shared_ptr<ws_session> ws) {
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

void engine_session::handle_poll(std::shared_ptr<http_session> http) {
  if (closed_) {
    reply(http, error_reply(engine_error::session_id_unknown));
    return;
  }
  if (transport_ != transport_kind::polling) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    return;
  }
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
  if (closed_) {
    reply(http, error_reply(engine_error::session_id_unknown));
    return;
  }
  if (transport_ != transport_kind::polling) {
    ++core_->protocol_errors;
    reply(http, error_reply(engine_error::bad_request));
    return;
  }
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

void engine_session::begin_probe(std::shared_ptr<ws_session> ws,
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
  upgrade_timer_.async_wait([self = shared_from_this(), probe = std::weak_ptr<ws_session>(ws)](
                                beast::error_code ec) {
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
    probe->close(false);
}

void engine_session::on_ws_frame(ws_session* ws, std::string data, bool text) {
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

void engine_session::on_ws_closed(ws_session* ws, disconnect_reason reason) {
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
    ws->close(graceful, reason == disconnect_reason::server_shutdown ? ws::close_code::going_away
                                                                     : ws::close_code::normal);
  if (auto probe = std::move(probe_))
    probe->close(false);
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
