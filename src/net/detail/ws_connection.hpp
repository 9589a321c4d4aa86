#pragma once
// One server-side WebSocket connection: the Socket.IO server's WebSocket transport
// (detail/engineio_session) and the relay's node connections (detail/relay_connection) are both
// built on it.
//
// Beast answers the opening handshake (accept, or accept_and_close, or reject with an HTTP
// answer); after it the connection frames by itself with net/ws_frame, for two reasons measured
// in bench/FINDINGS.md: every frame queued so far goes out in one gathered write (write_batch),
// where Beast's stream writes one message per operation, and a frame may be bytes shared by many
// connections (the relay encodes a forwarded message once for all its recipients).
//
// The connection answers pings, runs the close handshake (bounded by a timer) and reassembles
// fragmented messages; what differs between its users is theirs, through the virtual functions
// below and ws_settings: what a message means, what is done when the peer does not read (the
// Socket.IO server judges its backlog over time, the relay refuses frames beyond a bound), idle
// pings, how the buffer for reading is kept.
//
// Threading: everything runs on strand(), which is also the executor of the socket.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "net/detail/write_batch.hpp"
#include "net/ws_frame.hpp"

namespace gsio::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;

// A frame waiting to be written.
struct ws_outgoing {
  enum class form : std::uint8_t {
    text,    // `bytes` is a text message; its header is written in front of it
    binary,  // `bytes` is a binary message; likewise
    frame,   // `bytes` is a whole frame, header and all (one encoding shared by many connections)
  };
  std::shared_ptr<const std::string> bytes;
  form what = form::text;
  // Counted in backlog_bytes() and reported when written or dropped; a ping is not.
  bool data = true;
};

// A FIFO of frames that allocates nothing until the first frame and gives its memory back after
// a burst: std::deque allocates a 512-byte block per connection up front, which is most of what
// an idle WebSocket client costs.
class ws_frame_queue {
public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  const ws_outgoing& front() const { return items_[head_]; }
  void push_back(const ws_outgoing& frame) { items_.push_back(frame); }
  ws_outgoing take_front() {
    ws_outgoing frame = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      head_ = 0;
      if (items_.capacity() > 64)
        std::vector<ws_outgoing>{}.swap(items_);
      else
        items_.clear();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return frame;
  }
  void clear() {
    std::vector<ws_outgoing>{}.swap(items_);
    head_ = 0;
  }

private:
  std::vector<ws_outgoing> items_;
  std::size_t head_ = 0;
};

// What differs between the users of ws_connection but is a number or a choice. Owned by the
// server; it must outlive its connections.
struct ws_settings {
  std::size_t max_message_bytes = 1'000'000;  // larger messages close with 1009
  std::chrono::milliseconds handshake_timeout{30'000};  // also for writing a rejection
  std::chrono::milliseconds close_timeout{5'000};  // a close (handshake, flush) ends by then
  std::size_t write_block_bytes = 64 * 1024;      // write_batch's block limit
  enum class reading {
    // Waits until the socket is readable and reads into a scratch buffer of the thread: only
    // the start of an incomplete frame is kept, so an idle connection holds no buffer (the
    // Socket.IO server has thousands of mostly idle clients).
    when_readable,
    // Reads into a buffer of the connection (up to a message and 64 KiB), without waiting for
    // readiness first when data is already there (the relay has a few busy links).
    into_buffer,
  };
  reading read_mode = reading::when_readable;
};

// How the connection ended when it was not its owner's doing (close, close_after_flush, cut).
struct ws_ending {
  enum class kind {
    handshake_failed,    // ec
    read_failed,         // ec: EOF, reset, ...
    write_failed,        // ec
    peer_closed,         // the peer's close frame, with `code` (1005 when it carried none)
    protocol_violation,  // the peer broke RFC 6455: closing with `code`, `reason` says why
  };
  kind what;
  beast::error_code ec = {};
  std::uint16_t code = 0;
  std::string_view reason = {};
};

class ws_connection : public std::enable_shared_from_this<ws_connection> {
public:
  using request_type = http::request<http::string_body>;
  using response_type = http::response<http::string_body>;

  // `stream` is on `strand`. `leftover`: bytes that arrived after the upgrade request.
  ws_connection(beast::tcp_stream stream, strand_type strand, const ws_settings& settings,
                std::string leftover);
  virtual ~ws_connection();
  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;

  const strand_type& strand() const { return strand_; }

  // Everything below runs on strand().

  // Answers the upgrade request; on success on_open() is called and reading begins.
  void accept(request_type request);
  // Completes the handshake, then closes at once with a close frame without a status.
  void accept_and_close(request_type request);
  // Answers the upgrade request with `response` (an HTTP error) and closes.
  void reject(response_type response);

  // Queues a frame; flush() starts writing what is queued. Frames queued once the connection has
  // ended are dropped (data frames reported to on_dropped).
  void push(const ws_outgoing& frame);
  void flush() {
    if (!writing_)
      do_write();
  }

  // Ends the connection; each does nothing once it has ended. close_after_flush writes what is
  // queued, then runs the close handshake with `code`; close drops what is queued and runs the
  // close handshake; cut drops the TCP connection. Before the opening handshake is done, all of
  // them cut.
  void close_after_flush(std::uint16_t code);
  void close(std::uint16_t code, std::string_view reason);
  void cut();

  // The connection has ended: its owner closed it, or the transport did (on_end).
  bool ended() const { return ended_; }
  bool close_sent() const { return close_sent_; }
  bool socket_closed() const { return socket_closed_; }
  // Bytes of data frames queued or being written.
  std::size_t backlog_bytes() const { return backlog_bytes_; }

protected:
  // Adds headers to the handshake's 101 answer.
  virtual void decorate(response_type& response);
  // The handshake is done; false when the connection was closed instead (nothing is read then).
  virtual bool on_open() = 0;
  // A whole text or binary message (not called once ended).
  virtual void on_message(ws::parsed message) = 0;
  // The transport ended the connection: called at most once, and not after the owner closed.
  virtual void on_end(const ws_ending& ending) = 0;
  // A read brought a whole message, or a control frame outside a fragmented message.
  virtual void on_activity() {}
  // A write of `data_bytes` in `data_frames` data frames completed (`ok`) or failed.
  virtual void on_write_done(std::size_t data_bytes, std::size_t data_frames, bool ok);
  // Queued data frames of `data_bytes` were dropped, or a frame pushed after the end.
  virtual void on_dropped(std::size_t data_bytes);
  // The TCP connection is being closed (called at least once).
  virtual void on_socket_closed() {}

  // The connected socket (after the handshake).
  const tcp::socket& socket() const { return socket_; }
  template <class Derived>
  std::shared_ptr<Derived> shared_as() {
    return std::static_pointer_cast<Derived>(shared_from_this());
  }

private:
  struct handshake;  // Beast's stream and the request or rejection, until the handshake is done

  void on_accept(beast::error_code ec);
  void start_reading();
  void wait_readable();
  void on_readable(beast::error_code ec);
  void read_next();
  void on_read(beast::error_code ec, std::size_t bytes);
  void read_failed(beast::error_code ec);
  // Handles every complete frame at the start of `input`; returns the bytes used (all of them
  // once the rest is to be ignored).
  std::size_t take_frames(std::string_view input, bool& activity);
  void on_peer_close(std::uint16_t code);
  void on_violation(const ws::parsed& failure);
  void end_by_transport(const ws_ending& ending);
  void queue_pong(std::string frame);
  void queue_close(std::uint16_t code, std::string_view reason);
  void drop_queue();
  // Marks the connection ended; true when a close frame is to be sent (the WebSocket is open),
  // false when it has ended already or was cut here for want of a WebSocket.
  bool begin_close();
  void do_write();
  void on_write(beast::error_code ec, std::size_t bytes);
  void arm_close_timer();
  void hard_close();

  strand_type strand_;
  const ws_settings& settings_;
  std::unique_ptr<handshake> handshake_;  // until the handshake is done
  tcp::socket socket_;                    // after it
  asio::steady_timer close_timer_;
  ws::frame_parser parser_;
  // when_readable: the start of a frame whose rest has not arrived (at first, the leftover).
  std::string pending_input_;
  std::unique_ptr<beast::flat_buffer> read_buffer_;  // into_buffer only
  ws_frame_queue queue_;
  std::size_t backlog_bytes_ = 0;
  // The write in progress: its frames (which its buffers may point into) and its bytes.
  std::vector<ws_outgoing> in_flight_;
  write_batch batch_;
  std::string control_pending_;    // pong or close frames waiting for the write in progress
  std::uint16_t close_code_ = ws::close_code::normal;  // of the close frame sent after the flush
  bool writing_ = false;
  bool ended_ = false;
  bool refuse_when_open_ = false;  // accept_and_close: close as soon as the handshake is done
  bool close_after_flush_ = false;
  bool close_sent_ = false;        // our close frame is queued or written
  bool close_queued_ = false;      // it is in control_pending_
  bool close_in_flight_ = false;   // it is in the write in progress
  bool peer_closed_ = false;       // the peer's close frame has arrived
  bool discard_input_ = false;     // after the peer's close frame or a malformed frame
  bool socket_closed_ = false;
};

}  // namespace gsio::net::detail
