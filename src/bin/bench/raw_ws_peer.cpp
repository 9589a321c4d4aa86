#include "bench/raw_ws_peer.hpp"

#include <cstring>
#include <random>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "net/ws_frame.hpp"

namespace gsio::bench {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::size_t max_message_bytes = 8 * 1024 * 1024;
constexpr std::size_t read_chunk_bytes = 256 * 1024;

std::string base64(const unsigned char* data, std::size_t size) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t n = (std::uint32_t{data[i]} << 16) |
                            (i + 1 < size ? std::uint32_t{data[i + 1]} << 8 : 0) |
                            (i + 2 < size ? std::uint32_t{data[i + 2]} : 0);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += i + 1 < size ? alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < size ? alphabet[n & 63] : '=';
  }
  return out;
}

}  // namespace

struct raw_ws_peer::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& io, std::string url, std::string token, raw_ws_peer_callbacks cb)
      : resolver(io), socket(io), token(std::move(token)), callbacks(std::move(cb)),
        parser(max_message_bytes, net::ws::role::client), rng(std::random_device{}()) {
    // ws://host:port/path
    auto rest = url.substr(url.find("://") + 3);
    const auto slash = rest.find('/');
    path = slash == std::string::npos ? "/" : rest.substr(slash);
    rest = rest.substr(0, slash);
    const auto colon = rest.rfind(':');
    host = rest.substr(0, colon);
    port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  }

  void start() {
    resolver.async_resolve(host, port, [self = shared_from_this()](error_code ec,
                                                                   tcp::resolver::results_type r) {
      if (ec)
        return self->finish("resolve: " + ec.message());
      asio::async_connect(self->socket, r, [self](error_code ec2, const tcp::endpoint&) {
        if (ec2)
          return self->finish("connect: " + ec2.message());
        self->socket.set_option(tcp::no_delay(true));
        self->send_upgrade();
      });
    });
  }

  void send_upgrade() {
    unsigned char key[16];
    for (auto& b : key)
      b = static_cast<unsigned char>(rng());
    request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + port +
              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Key: " + base64(key, sizeof key) + "\r\n";
    if (!token.empty())
      request += "Authorization: Bearer " + token + "\r\n";
    request += "\r\n";
    asio::async_write(socket, asio::buffer(request), [self = shared_from_this()](error_code ec,
                                                                                 std::size_t) {
      if (ec)
        return self->finish("upgrade request: " + ec.message());
      asio::async_read_until(self->socket, self->response, "\r\n\r\n",
                             [self](error_code ec2, std::size_t header_bytes) {
                               self->on_upgrade_response(ec2, header_bytes);
                             });
    });
  }

  void on_upgrade_response(error_code ec, std::size_t header_bytes) {
    if (ec)
      return finish("upgrade response: " + ec.message());
    std::string all{asio::buffers_begin(response.data()), asio::buffers_end(response.data())};
    if (all.rfind("HTTP/1.1 101", 0) != 0)
      return finish("upgrade refused: " + all.substr(0, all.find("\r\n")));
    // Frames that came with the response belong to the read buffer.
    input.assign(all, header_bytes);
    used = input.size();
    open = true;
    if (callbacks.on_open)
      callbacks.on_open();
    parse_input();
    read_more();
  }

  void read_more() {
    if (closed)
      return;
    if (input.size() < used + read_chunk_bytes)
      input.resize(used + read_chunk_bytes);
    socket.async_read_some(asio::buffer(input.data() + used, input.size() - used),
                           [self = shared_from_this()](error_code ec, std::size_t n) {
                             self->used += n;
                             if (ec)
                               return self->finish(ec == asio::error::eof && self->closing
                                                     ? "closed"
                                                     : "read: " + ec.message());
                             self->parse_input();
                             self->read_more();
                           });
  }

  void parse_input() {
    std::string_view rest{input.data(), used};
    while (!closed) {
      auto p = parser.parse(rest);
      if (p.what == net::ws::parsed::kind::need_more)
        break;
      rest.remove_prefix(p.consumed);
      switch (p.what) {
        case net::ws::parsed::kind::message:
          if (callbacks.on_message)
            callbacks.on_message(p.payload);
          break;
        case net::ws::parsed::kind::ping:
          queue_frame(net::ws::opcode::pong, p.payload);
          break;
        case net::ws::parsed::kind::close:
          if (!closing) {
            closing = true;
            queue_frame(net::ws::opcode::close, {});
          }
          break;
        case net::ws::parsed::kind::failure:
          return finish("protocol: " + p.payload);
        default:
          break;
      }
    }
    if (rest.size() != used) {
      std::memmove(input.data(), rest.data(), rest.size());
      used = rest.size();
    }
  }

  bool send(std::string_view text) {
    if (!open || closing || closed)
      return false;
    queue_frame(net::ws::opcode::text, text);
    return true;
  }

  void queue_frame(net::ws::opcode op, std::string_view payload) {
    net::ws::append_masked_frame(pending, op, payload, static_cast<std::uint32_t>(rng()));
    if (!writing)
      write_pending();
  }

  void write_pending() {
    if (pending.empty() || closed)
      return;
    writing = true;
    in_flight.swap(pending);
    pending.clear();
    asio::async_write(socket, asio::buffer(in_flight),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        self->writing = false;
                        self->in_flight.clear();
                        if (ec)
                          return self->finish("write: " + ec.message());
                        self->write_pending();
                      });
  }

  void close() {
    if (closed)
      return;
    if (!open)
      return finish("closed");
    if (!closing) {
      closing = true;
      queue_frame(net::ws::opcode::close, {});  // the relay answers and closes the socket
    }
  }

  void finish(std::string reason) {
    if (closed)
      return;
    closed = true;
    error_code ignored;
    socket.close(ignored);
    resolver.cancel();
    if (callbacks.on_close)
      callbacks.on_close(std::move(reason));
  }

  tcp::resolver resolver;
  tcp::socket socket;
  std::string host, port, path, token;
  raw_ws_peer_callbacks callbacks;
  net::ws::frame_parser parser;
  std::mt19937 rng;
  std::string request;
  asio::streambuf response;
  std::string input;  // bytes read; the first `used` are valid
  std::size_t used = 0;
  std::string pending, in_flight;  // one buffer of frames each: gathered by appending
  bool open = false, closing = false, closed = false, writing = false;
};

raw_ws_peer::raw_ws_peer(asio::io_context& io, std::string url, std::string bearer_token,
                         raw_ws_peer_callbacks callbacks)
    : impl_(std::make_shared<impl>(io, std::move(url), std::move(bearer_token),
                                   std::move(callbacks))) {}

raw_ws_peer::~raw_ws_peer() {
  impl_->callbacks = {};
  impl_->finish("destroyed");
}

void raw_ws_peer::start() { impl_->start(); }
bool raw_ws_peer::send(std::string_view text) { return impl_->send(text); }
void raw_ws_peer::close() { impl_->close(); }

}  // namespace gsio::bench
