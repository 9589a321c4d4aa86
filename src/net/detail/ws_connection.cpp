#include "net/detail/ws_connection.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>

namespace gsio::net::detail {

namespace websocket = beast::websocket;

namespace {

// A gathered write takes up to this many frames, and frames until this many bytes are reached.
constexpr std::size_t max_frames_per_write = 256;
constexpr std::size_t max_bytes_per_write = 256 * 1024;
// into_buffer: one read takes up to this much (at least min_read_bytes), and after a large
// message the buffer is given back, so one big message does not pin its capacity for the rest
// of the connection's life.
constexpr std::size_t read_chunk_bytes = 64 * 1024;
constexpr std::size_t min_read_bytes = 16 * 1024;
constexpr std::size_t kept_read_buffer_bytes = 64 * 1024;

}  // namespace

struct ws_connection::handshake {
  explicit handshake(beast::tcp_stream stream) : ws(std::move(stream)) {}
  websocket::stream<beast::tcp_stream> ws;
  request_type request;     // kept alive for the asynchronous handshake only
  response_type rejection;  // reject(): being written
};

ws_connection::ws_connection(beast::tcp_stream stream, strand_type strand,
                             const ws_settings& settings, std::string leftover)
  : strand_(std::move(strand)),
    settings_(settings),
    handshake_(std::make_unique<handshake>(std::move(stream))),
    socket_(strand_),
    close_timer_(strand_),
    parser_(settings.max_message_bytes),
    pending_input_(std::move(leftover)),
    batch_(settings.write_block_bytes) {
  if (settings_.read_mode == ws_settings::reading::into_buffer)
    read_buffer_ = std::make_unique<beast::flat_buffer>(settings_.max_message_bytes +
                                                        ws::max_header_bytes + read_chunk_bytes);
}

ws_connection::~ws_connection() = default;

void ws_connection::decorate(response_type&) {}
void ws_connection::on_write_done(std::size_t, std::size_t, bool) {}
void ws_connection::on_dropped(std::size_t) {}

// ---- handshake ------------------------------------------------------------------------------

void ws_connection::accept(request_type request) {
  auto& hs = *handshake_;
  hs.request = std::move(request);
  beast::get_lowest_layer(hs.ws).expires_after(settings_.handshake_timeout);
  // The stream is this connection's: the decorator runs while the connection is alive.
  hs.ws.set_option(websocket::stream_base::decorator(
      [this](websocket::response_type& response) { decorate(response); }));
  hs.ws.async_accept(hs.request,
                     asio::bind_executor(strand_, beast::bind_front_handler(
                                                      &ws_connection::on_accept,
                                                      shared_from_this())));
}

void ws_connection::accept_and_close(request_type request) {
  refuse_when_open_ = true;
  accept(std::move(request));
}

void ws_connection::reject(response_type response) {
  ended_ = true;
  auto& hs = *handshake_;
  hs.rejection = std::move(response);
  auto& stream = beast::get_lowest_layer(hs.ws);
  stream.expires_after(settings_.handshake_timeout);
  http::async_write(stream, hs.rejection,
                    asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code,
                                                                             std::size_t) {
                      self->hard_close();
                    }));
}

void ws_connection::on_accept(beast::error_code ec) {
  handshake_->request = {};  // its headers need not live as long as the connection
  if (ended_)
    return;  // closed during the handshake: the socket is closed already
  if (ec) {
    end_by_transport({ws_ending::kind::handshake_failed, ec});
    hard_close();
    return;
  }
  auto& stream = beast::get_lowest_layer(handshake_->ws);
  stream.expires_never();
  socket_ = stream.release_socket();
  handshake_.reset();
  beast::error_code ignored;
  socket_.non_blocking(true, ignored);
  if (refuse_when_open_) {
    ended_ = true;
    arm_close_timer();
    queue_close(ws::close_code::no_status, {});
    start_reading();  // for the client's close frame, which ends the connection
    return;
  }
  if (!on_open())
    return;
  if (!pending_input_.empty()) {
    bool activity = false;  // the opening was the sign of life
    if (read_buffer_) {
      auto room = read_buffer_->prepare(pending_input_.size());
      asio::buffer_copy(room, asio::buffer(pending_input_));
      read_buffer_->commit(pending_input_.size());
      std::string{}.swap(pending_input_);
      const auto data = read_buffer_->data();
      read_buffer_->consume(
          take_frames({static_cast<const char*>(data.data()), data.size()}, activity));
    } else {
      const auto used = take_frames(pending_input_, activity);
      pending_input_.erase(0, used);
    }
  }
  start_reading();
}

// ---- reading --------------------------------------------------------------------------------

void ws_connection::start_reading() {
  if (read_buffer_)
    read_next();
  else
    wait_readable();
}

void ws_connection::wait_readable() {
  if (socket_closed_)
    return;
  socket_.async_wait(tcp::socket::wait_read,
                     asio::bind_executor(strand_, beast::bind_front_handler(
                                                      &ws_connection::on_readable,
                                                      shared_from_this())));
}

// Reads what the socket holds into the thread's scratch buffer and parses it there; only the
// start of an incomplete frame is kept by the connection.
void ws_connection::on_readable(beast::error_code ec) {
  thread_local std::vector<char> scratch(64 * 1024);
  std::size_t bytes = 0;
  if (!ec)
    bytes = socket_.read_some(asio::buffer(scratch), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    wait_readable();
    return;
  }
  if (ec) {
    read_failed(ec);
    return;
  }
  bool activity = false;
  if (pending_input_.empty()) {
    const auto used = take_frames({scratch.data(), bytes}, activity);
    pending_input_.assign(scratch.data() + used, bytes - used);
  } else {
    pending_input_.append(scratch.data(), bytes);
    const auto used = take_frames(pending_input_, activity);
    pending_input_.erase(0, used);
  }
  if (pending_input_.empty() && pending_input_.capacity() > 0)
    std::string{}.swap(pending_input_);  // an idle connection keeps no input buffer
  if (activity)
    on_activity();
  wait_readable();  // also after a close: the close handshake completes through the read
}

void ws_connection::read_next() {
  if (socket_closed_)
    return;
  auto& buffer = *read_buffer_;
  // Read into the room the buffer already has (at least min_read_bytes), within its limit.
  const auto room = std::max(min_read_bytes, buffer.capacity() - buffer.size());
  const auto allowed = buffer.max_size() - buffer.size();
  socket_.async_read_some(buffer.prepare(std::min(room, allowed)),
                          asio::bind_executor(strand_, beast::bind_front_handler(
                                                           &ws_connection::on_read,
                                                           shared_from_this())));
}

void ws_connection::on_read(beast::error_code ec, std::size_t bytes) {
  if (ec) {
    read_failed(ec);
    return;
  }
  auto& buffer = *read_buffer_;
  buffer.commit(bytes);
  bool activity = false;
  const auto data = buffer.data();
  buffer.consume(take_frames({static_cast<const char*>(data.data()), data.size()}, activity));
  if (activity)
    on_activity();
  if (buffer.size() == 0 && buffer.capacity() > kept_read_buffer_bytes)
    buffer.shrink_to_fit();
  read_next();  // also after a close: the close handshake completes through the read
}

void ws_connection::read_failed(beast::error_code ec) {
  if (!ended_)
    end_by_transport({ws_ending::kind::read_failed, ec});
  hard_close();
}

std::size_t ws_connection::take_frames(std::string_view input, bool& activity) {
  std::size_t used = 0;
  while (!socket_closed_) {
    if (discard_input_)
      return input.size();
    auto frame = parser_.parse(input.substr(used));
    if (frame.what == ws::parsed::kind::need_more)
      break;
    // Only whole messages count as signs of life: a peer that trickles one byte of a frame at a
    // time, or sends the first fragment of a message and then only pings, shows none.
    if (frame.what != ws::parsed::kind::fragment && !parser_.inside_message())
      activity = true;
    used += frame.consumed;
    switch (frame.what) {
    case ws::parsed::kind::message:
      if (!ended_)
        on_message(std::move(frame));
      break;
    case ws::parsed::kind::ping:
      if (!close_sent_)
        queue_pong(ws::encode_frame(ws::opcode::pong, frame.payload));
      break;
    case ws::parsed::kind::close:
      on_peer_close(frame.code);
      return input.size();
    case ws::parsed::kind::failure:
      on_violation(frame);
      return input.size();
    default:
      break;
    }
  }
  return used;
}

// The peer's close frame: answer it (unless we began the close) and close the socket once the
// answer is out, as the server side of RFC 6455 §7.1.1 does.
void ws_connection::on_peer_close(std::uint16_t code) {
  peer_closed_ = true;
  discard_input_ = true;  // nothing may follow a close frame
  if (!ended_)
    end_by_transport({ws_ending::kind::peer_closed, {}, code});
  if (close_sent_) {
    hard_close();
    return;
  }
  arm_close_timer();
  queue_close(code == ws::close_code::no_status ? ws::close_code::normal : code, {});
}

void ws_connection::on_violation(const ws::parsed& failure) {
  discard_input_ = true;  // where a frame was malformed, nothing after it can be parsed
  if (!ended_)
    end_by_transport({ws_ending::kind::protocol_violation, {}, failure.code, failure.payload});
  if (close_sent_ || socket_closed_)
    return;
  arm_close_timer();
  queue_close(failure.code, failure.payload);
}

void ws_connection::end_by_transport(const ws_ending& ending) {
  ended_ = true;  // first: the owner's close must not cut the connection
  drop_queue();
  on_end(ending);
}

// ---- writing --------------------------------------------------------------------------------

void ws_connection::push(const ws_outgoing& frame) {
  if (ended_ || socket_closed_) {
    if (frame.data)
      on_dropped(frame.bytes->size());
    return;
  }
  if (frame.data)
    backlog_bytes_ += frame.bytes->size();
  queue_.push_back(frame);
}

// Only the latest ping not yet answered gets a pong (RFC 6455 §5.5.3 allows it): a peer that
// sends pings and reads nothing cannot make pongs pile up. Before our close frame is queued,
// control_pending_ holds at most that pong.
void ws_connection::queue_pong(std::string frame) {
  control_pending_ = std::move(frame);
  if (!writing_)
    do_write();
}

// Queues our close frame; queued data frames are dropped (a close after a flush has flushed them).
void ws_connection::queue_close(std::uint16_t code, std::string_view reason) {
  close_after_flush_ = false;
  if (close_sent_ || socket_closed_)
    return;
  close_sent_ = true;
  drop_queue();
  control_pending_ += ws::encode_close(code, reason);
  close_queued_ = true;
  if (!writing_)
    do_write();
}

void ws_connection::drop_queue() {
  std::size_t dropped = 0;
  while (!queue_.empty()) {
    const auto frame = queue_.take_front();
    if (frame.data)
      dropped += frame.bytes->size();
  }
  queue_.clear();
  if (dropped != 0) {
    backlog_bytes_ -= dropped;
    on_dropped(dropped);
  }
}

// One gathered write: pending control frames first, then queued frames up to a bound, each
// behind its header unless it is a whole frame. The frames move to in_flight_ so that dropping
// the queue cannot free bytes the write still references.
void ws_connection::do_write() {
  if (socket_closed_ || handshake_ || (queue_.empty() && control_pending_.empty()))
    return;
  writing_ = true;
  close_in_flight_ = close_queued_;
  close_queued_ = false;
  batch_.copy(control_pending_);
  control_pending_.clear();
  std::size_t bytes = 0;
  std::string header;
  while (!queue_.empty() && in_flight_.size() < max_frames_per_write &&
         bytes < max_bytes_per_write && !batch_.full()) {
    auto frame = queue_.take_front();
    if (frame.what != ws_outgoing::form::frame) {
      header.clear();
      ws::append_header(header,
                        frame.what == ws_outgoing::form::binary ? ws::opcode::binary
                                                                : ws::opcode::text,
                        frame.bytes->size());
      batch_.copy(header);
    }
    batch_.add(*frame.bytes);
    bytes += frame.bytes->size();
    in_flight_.push_back(std::move(frame));
  }
  asio::async_write(socket_, batch_.buffers(),
                    asio::bind_executor(strand_, beast::bind_front_handler(
                                                     &ws_connection::on_write,
                                                     shared_from_this())));
}

void ws_connection::on_write(beast::error_code ec, std::size_t) {
  writing_ = false;
  std::size_t data_bytes = 0;
  std::size_t data_frames = 0;
  for (const auto& frame : in_flight_)
    if (frame.data) {
      data_bytes += frame.bytes->size();
      ++data_frames;
    }
  in_flight_.clear();
  batch_.clear();
  backlog_bytes_ -= data_bytes;
  on_write_done(data_bytes, data_frames, !ec);
  const bool wrote_close = std::exchange(close_in_flight_, false);
  if (ec) {
    if (!ended_)
      end_by_transport({ws_ending::kind::write_failed, ec});
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
    queue_close(close_code_, {});
}

// ---- closing --------------------------------------------------------------------------------

bool ws_connection::begin_close() {
  if (ended_)
    return false;
  ended_ = true;
  if (handshake_ || socket_closed_) {
    // No WebSocket to send a close frame on.
    drop_queue();
    hard_close();
    return false;
  }
  return true;
}

void ws_connection::close_after_flush(std::uint16_t code) {
  if (!begin_close())
    return;
  close_code_ = code;
  close_after_flush_ = true;
  arm_close_timer();
  if (!writing_ && queue_.empty())
    queue_close(close_code_, {});
}

void ws_connection::close(std::uint16_t code, std::string_view reason) {
  if (!begin_close())
    return;
  arm_close_timer();
  queue_close(code, reason);
}

void ws_connection::cut() {
  if (ended_)
    return;
  ended_ = true;
  drop_queue();
  hard_close();
}

// Bounds every close: a peer that stops reading cannot keep the connection open.
void ws_connection::arm_close_timer() {
  close_timer_.expires_after(settings_.close_timeout);
  close_timer_.async_wait(
      asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec) {
        if (!ec)
          self->hard_close();
      }));
}

void ws_connection::hard_close() {
  close_timer_.cancel();
  on_socket_closed();
  if (socket_closed_)
    return;
  socket_closed_ = true;
  beast::error_code ignored;
  if (handshake_) {
    auto& stream = beast::get_lowest_layer(handshake_->ws);
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  } else {
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
}

}  // namespace gsio::net::detail
