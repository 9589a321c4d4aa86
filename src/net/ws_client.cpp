// Outbound WebSocket client on Boost.Beast.
//
// Over 600 lines on purpose: URL parsing and one connection's whole life (resolve, TCP, TLS,
// WebSocket handshake, read loop, write queue, close) in the order it happens, in one impl class
// whose strand discipline is stated once, below.
//
// Every member of ws_client::impl except the atomics and the callback block is touched only on
// the connection's strand; the public functions reach it by posting. User callbacks go through a
// callback_gate (detail/callback_gate.hpp), which is what lets the destructor promise that no
// callback runs after it returns.
#include "net/ws_client.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "net/detail/callback_gate.hpp"

namespace gsio::net {

// Named (not anonymous) so that ws_client::impl may use these types in its members without
// -Wsubobject-linkage complaining.
namespace ws_client_detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;

namespace ssl = asio::ssl;
using plain_stream = websocket::stream<beast::tcp_stream>;
using tls_stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

struct ws_url {
  bool tls = false;         // wss://
  std::string host;         // for the resolver: no brackets around IPv6 literals
  std::string port;         // decimal, the scheme's default (80, 443) when absent
  std::string host_header;  // as sent in Host: brackets kept, port only when not the default
  std::string target;       // path and query, at least "/"
};

bool is_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Parses ws:// or wss://host[:port][/path][?query]. On failure returns nullopt and says why in `error`.
std::optional<ws_url> parse_ws_url(std::string_view url, std::string& error) {
  // Control characters or spaces would corrupt the HTTP request line or the Host header.
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) {
      error = "URL contains a space or control character";
      return std::nullopt;
    }
  }
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    error = "expected ws:// or wss://host:port/path, got '" + std::string{url} + "'";
    return std::nullopt;
  }
  std::string scheme{url.substr(0, scheme_end)};
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "ws" && scheme != "wss") {
    error = "unsupported scheme '" + scheme + "' (only ws:// and wss:// are supported)";
    return std::nullopt;
  }
  auto rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    error = "WebSocket URLs cannot have a fragment";
    return std::nullopt;
  }
  auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    error = "credentials in the URL are not supported";
    return std::nullopt;
  }

  ws_url out;
  out.tls = scheme == "wss";
  const std::string default_port = out.tls ? "443" : "80";
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated IPv6 address";
      return std::nullopt;
    }
    out.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected characters after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
      if (port.empty()) {
        error = "empty port";
        return std::nullopt;
      }
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        error = "empty port";
        return std::nullopt;
      }
    }
  }
  if (out.host.empty()) {
    error = "missing host";
    return std::nullopt;
  }
  if (!port.empty()) {
    if (!is_digits(port) || port.size() > 5 || std::stoul(std::string{port}) == 0 ||
        std::stoul(std::string{port}) > 65535) {
      error = "invalid port '" + std::string{port} + "'";
      return std::nullopt;
    }
    out.port = std::to_string(std::stoul(std::string{port}));
  } else {
    out.port = default_port;
  }
  bool ipv6 = out.host.find(':') != std::string::npos;
  out.host_header = ipv6 ? "[" + out.host + "]" : out.host;
  if (out.port != default_port)
    out.host_header += ":" + out.port;
  out.target = target.empty() ? "/" : target.front() == '?' ? "/" + std::string{target}
                                                           : std::string{target};
  return out;
}

// An HTTP header name must be a token and a value must not contain line breaks (which would let
// it inject further headers) or other control characters except tab.
bool valid_header(const std::string& name, const std::string& value) {
  static constexpr std::string_view token_specials = "!#$%&'*+-.^_`|~";
  if (name.empty())
    return false;
  for (unsigned char c : name)
    if (std::isalnum(c) == 0 && token_specials.find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  for (unsigned char c : value)
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  return true;
}

struct frame {
  std::string data;
  bool binary = false;
};

}  // namespace ws_client_detail

using namespace ws_client_detail;

struct ws_client::impl : std::enable_shared_from_this<impl> {
  enum class phase { idle, connecting, open, closing, closed };

  impl(asio::io_context& io, ws_client_options opts, ws_client_callbacks cbs)
      : options(std::move(opts)),
        strand(asio::make_strand(io)),
        resolver(strand),
        timer(strand),
        gate(std::move(cbs)) {}

  const ws_client_options options;

  // --- strand-only state ---
  strand_type strand;
  tcp::resolver resolver;
  // Exactly one of the two streams exists once begin() has parsed the URL.
  std::shared_ptr<ssl::context> tls_context;  // outlives the TLS stream that uses it
  std::optional<plain_stream> plain;
  std::optional<tls_stream> tls;
  asio::steady_timer timer;  // the connect deadline, later the close-handshake deadline
  beast::flat_buffer read_buffer;
  websocket::response_type upgrade_response;
  ws_url url;
  phase state = phase::idle;
  std::deque<frame> queue;  // the front element is being written while `writing`
  bool writing = false;
  bool close_frame_sent = false;
  std::string close_reason;  // reported when a close that we started completes

  // --- shared with other threads ---
  std::atomic<bool> started{false};
  std::atomic<bool> accepting{true};  // false once closing: send() fails without posting
  std::atomic<std::size_t> queued{0};

  // User callbacks: none runs once detach() returned (detail/callback_gate.hpp).
  detail::callback_gate<ws_client_callbacks> gate;

  template <class Call>
  void notify(Call&& call) {
    gate.notify(std::forward<Call>(call));
  }

  void detach() {
    auto dropped = gate.detach();  // released outside the lock: captures may run destructors
  }

  // Calls `fn` with the WebSocket stream, whichever kind it is.
  template <class Fn>
  decltype(auto) with_ws(Fn&& fn) {
    return tls ? fn(*tls) : fn(*plain);
  }
  template <class Fn>
  decltype(auto) with_ws(Fn&& fn) const {
    return tls ? fn(*tls) : fn(*plain);
  }
  beast::tcp_stream& tcp_layer() {
    return tls ? beast::get_lowest_layer(*tls) : beast::get_lowest_layer(*plain);
  }

  // Sets up the TLS stream for wss://: the system's CA certificates (plus options.tls_ca_file),
  // and the server's certificate must name the host. False (after finish()) on a bad CA file.
  bool make_tls_stream() {
    try {
      tls_context = std::make_shared<ssl::context>(ssl::context::tls_client);
      tls_context->set_default_verify_paths();
      if (!options.tls_ca_file.empty())
        tls_context->load_verify_file(options.tls_ca_file);
      tls_context->set_verify_mode(ssl::verify_peer);
    } catch (const boost::system::system_error& ex) {
      finish("invalid TLS settings: " + options.tls_ca_file + ": " + ex.code().message());
      return false;
    }
    tls.emplace(strand, *tls_context);
    auto& stream = tls->next_layer();
    beast::error_code ec;
    asio::ip::make_address(url.host, ec);
    // SNI carries host names only, never address literals (RFC 6066).
    if (ec && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      finish("connect failed: cannot set the TLS server name");
      return false;
    }
    stream.set_verify_callback(ssl::host_name_verification(url.host));
    return true;
  }

  template <class Fn>
  void post(Fn&& fn) {
    asio::post(strand, [self = shared_from_this(), fn = std::forward<Fn>(fn)]() mutable {
      fn(*self);
    });
  }

  // --- connecting ---

  void begin() {
    if (state != phase::idle)
      return;  // closed before start() was called
    std::string error;
    auto parsed = parse_ws_url(options.url, error);
    if (!parsed) {
      finish("invalid URL: " + error);
      return;
    }
    url = std::move(*parsed);
    if (url.tls) {
      if (!make_tls_stream())
        return;
    } else {
      plain.emplace(strand);
    }
    for (const auto& [name, value] : options.headers) {
      if (!valid_header(name, value)) {
        finish("invalid header '" + name + "'");
        return;
      }
    }
    state = phase::connecting;
    timer.expires_after(options.connect_timeout);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](beast::error_code ec) {
      if (!ec && self->state == phase::connecting)
        self->finish(self->connect_timeout_reason());
    }));
    resolver.async_resolve(
        url.host, url.port,
        asio::bind_executor(strand, [self = shared_from_this()](
                                        beast::error_code ec, tcp::resolver::results_type results) {
          self->on_resolve(ec, std::move(results));
        }));
  }

  std::string connect_timeout_reason() const {
    return "connect failed: timed out after " + std::to_string(options.connect_timeout.count()) +
           " ms";
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (state != phase::connecting)
      return;
    if (ec) {
      finish("connect failed: cannot resolve " + url.host + ": " + ec.message());
      return;
    }
    tcp_layer().async_connect(
        results, asio::bind_executor(strand, [self = shared_from_this()](
                                                 beast::error_code ec, tcp::endpoint) {
          self->on_tcp_connect(ec);
        }));
  }

  void on_tcp_connect(beast::error_code ec) {
    if (state != phase::connecting)
      return;
    if (ec) {
      finish("connect failed: " + ec.message());
      return;
    }
    beast::error_code ignored;
    tcp_layer().socket().set_option(tcp::no_delay(true), ignored);
    // From here on our connect timer and then the WebSocket stream's own timers apply.
    tcp_layer().expires_never();
    if (!tls) {
      websocket_handshake();
      return;
    }
    tls->next_layer().async_handshake(
        ssl::stream_base::client,
        asio::bind_executor(strand, [self = shared_from_this()](beast::error_code ec) {
          if (self->state != phase::connecting)
            return;
          if (ec) {
            self->finish("connect failed: TLS handshake: " + tls_error_text(ec));
            return;
          }
          self->websocket_handshake();
        }));
  }

  static std::string tls_error_text(beast::error_code ec) {
    // OpenSSL's text for a failed verification is "certificate verify failed"; say which rule.
    std::string text = ec.message();
    if (ec.category() == asio::error::get_ssl_category() &&
        ERR_GET_REASON(ec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      text += " (the server's certificate is not trusted or does not name this host; see the "
              "TLS CA option)";
    return text;
  }

  void websocket_handshake() {
    with_ws([&](auto& ws) { configure_and_handshake(ws); });
  }

  template <class Stream>
  void configure_and_handshake(Stream& ws) {
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = options.connect_timeout;  // also bounds the close handshake
    timeouts.idle_timeout = options.idle_timeout.count() > 0
                                ? websocket::stream_base::duration{options.idle_timeout}
                                : websocket::stream_base::none();
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator(
        [headers = options.headers](websocket::request_type& req) {
          req.set(http::field::user_agent, "gsio-net");
          for (const auto& [name, value] : headers)
            req.set(name, value);
        }));
    ws.read_message_max(options.max_frame_bytes);
    ws.async_handshake(upgrade_response, url.host_header, url.target,
                       asio::bind_executor(strand, [self = shared_from_this()](
                                                       beast::error_code ec) {
                         self->on_handshake(ec);
                       }));
  }

  void on_handshake(beast::error_code ec) {
    if (state != phase::connecting)
      return;
    if (ec == websocket::error::upgrade_declined) {
      finish("upgrade refused: " + std::to_string(upgrade_response.result_int()));
      return;
    }
    if (ec == beast::error::timeout) {
      finish(connect_timeout_reason());  // Beast's handshake deadline beat our own by a hair
      return;
    }
    if (ec) {
      finish("connect failed: handshake: " + ec.message());
      return;
    }
    timer.cancel();
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& field : upgrade_response)
      headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    upgrade_response = {};
    state = phase::open;
    notify([&headers](ws_client_callbacks& cb) {
      if (cb.on_upgrade_response)
        cb.on_upgrade_response(headers);
    });
    notify([](ws_client_callbacks& cb) {
      if (cb.on_open)
        cb.on_open();
    });
    if (state != phase::open && state != phase::closing)
      return;
    do_read();
    if (state == phase::open && !queue.empty() && !writing)
      do_write();
  }

  // --- reading ---

  void do_read() {
    with_ws([&](auto& ws) {
      ws.async_read(read_buffer,
                    asio::bind_executor(strand, [self = shared_from_this()](beast::error_code ec,
                                                                            std::size_t) {
                      self->on_read(ec);
                    }));
    });
  }

  std::string describe_read_error(beast::error_code ec) const {
    if (ec == websocket::error::closed) {
      const auto r = with_ws([](const auto& ws) { return ws.reason(); });
      std::string out = "closed by peer (code " + std::to_string(r.code);
      if (!r.reason.empty())
        out += ": " + std::string{r.reason.c_str()};
      return out + ")";
    }
    if (ec == websocket::error::message_too_big || ec == websocket::error::buffer_overflow)
      return "incoming message larger than " + std::to_string(options.max_frame_bytes) + " bytes";
    if (ec == beast::error::timeout)
      return "idle timeout: peer silent for " + std::to_string(options.idle_timeout.count()) +
             " ms";
    if (ec == asio::error::eof || ec == asio::error::connection_reset)
      return "connection lost: " + ec.message();
    return "read error: " + ec.message();
  }

  void on_read(beast::error_code ec) {
    if (state == phase::closed)
      return;
    if (ec) {
      finish(state == phase::closing ? close_reason : describe_read_error(ec));
      return;
    }
    std::string data = beast::buffers_to_string(read_buffer.data());
    read_buffer.consume(read_buffer.size());
    // After close() was asked for, incoming messages are dropped: the owner is done with them.
    if (state == phase::open) {
      bool binary = !with_ws([](auto& ws) { return ws.got_text(); });
      notify([&](ws_client_callbacks& cb) {
        if (binary && cb.on_binary)
          cb.on_binary(std::move(data));
        else if (cb.on_message)
          cb.on_message(std::move(data));
      });
    }
    // Keep reading while closing too: the peer's close frame arrives through the read.
    if (state == phase::open || state == phase::closing)
      do_read();
  }

  // --- writing ---

  void enqueue(frame f) {
    if (state == phase::closing || state == phase::closed) {
      queued -= f.data.size();  // raced with close(): dropped
      return;
    }
    queue.push_back(std::move(f));
    if (state == phase::open && !writing)
      do_write();
  }

  void do_write() {
    writing = true;
    with_ws([&](auto& ws) {
      ws.binary(queue.front().binary);
      ws.async_write(asio::buffer(queue.front().data),
                     asio::bind_executor(strand, [self = shared_from_this()](beast::error_code ec,
                                                                             std::size_t) {
                       self->on_write(ec);
                     }));
    });
  }

  void on_write(beast::error_code ec) {
    writing = false;
    queued -= queue.front().data.size();
    queue.pop_front();
    if (state == phase::closed)
      return;
    if (ec) {
      finish("write error: " + ec.message());
      return;
    }
    if (!queue.empty())
      do_write();
    else if (state == phase::closing && !close_frame_sent)
      send_close_frame();
  }

  // --- closing ---

  // A close asked for by the owner: flushes what is queued, then runs the close handshake.
  void begin_close(std::string reason) {
    accepting = false;
    switch (state) {
    case phase::idle:
    case phase::connecting:
      finish(std::move(reason));
      return;
    case phase::open:
      break;
    case phase::closing:
    case phase::closed:
      return;
    }
    state = phase::closing;
    close_reason = std::move(reason);
    timer.expires_after(options.connect_timeout);
    timer.async_wait(asio::bind_executor(strand, [self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->finish(self->close_reason);  // the peer did not complete the handshake in time
    }));
    if (!writing)
      send_close_frame();
  }

  void send_close_frame() {
    close_frame_sent = true;
    with_ws([&](auto& ws) {
      ws.async_close(websocket::close_code::normal,
                     asio::bind_executor(strand, [self = shared_from_this()](beast::error_code) {
                       self->finish(self->close_reason);
                     }));
    });
  }

  // Tears the connection down at once and reports `reason` (only the first call does anything).
  void finish(std::string reason) {
    if (state == phase::closed)
      return;
    state = phase::closed;
    accepting = false;
    timer.cancel();
    resolver.cancel();
    if (plain || tls) {
      beast::error_code ignored;
      tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
      tcp_layer().close();
    }
    // A pending write still refers to the front element; its completion handler drops it.
    while (queue.size() > (writing ? 1u : 0u)) {
      queued -= queue.back().data.size();
      queue.pop_back();
    }
    notify([&](ws_client_callbacks& cb) {
      if (cb.on_close)
        cb.on_close(std::move(reason));
    });
  }

  bool send(std::string data, bool binary) {
    if (!accepting)
      return false;
    std::size_t size = data.size();
    std::size_t total = queued.fetch_add(size) + size;
    if (total > options.max_queue_bytes) {
      queued -= size;
      accepting = false;
      // The peer is not keeping up: drop it instead of growing memory, without a graceful
      // flush (that is what would not drain).
      post([total, max = options.max_queue_bytes](impl& self) {
        self.finish("send queue limit exceeded (" + std::to_string(total) + " > " +
                    std::to_string(max) + " bytes)");
      });
      return false;
    }
    post([f = frame{std::move(data), binary}](impl& self) mutable { self.enqueue(std::move(f)); });
    return true;
  }
};

ws_client::ws_client(boost::asio::io_context& io, ws_client_options options,
                     ws_client_callbacks callbacks)
    : impl_(std::make_shared<impl>(io, std::move(options), std::move(callbacks))) {}

ws_client::~ws_client() {
  impl_->detach();
  impl_->post([](impl& self) { self.begin_close("closed"); });
}

void ws_client::start() {
  if (impl_->started.exchange(true))
    return;
  impl_->post([](impl& self) { self.begin(); });
}

bool ws_client::send(std::string text) { return impl_->send(std::move(text), false); }

bool ws_client::send_binary(std::string bytes) { return impl_->send(std::move(bytes), true); }

void ws_client::close() {
  impl_->accepting = false;
  impl_->post([](impl& self) { self.begin_close("closed"); });
}

std::size_t ws_client::queued_bytes() const { return impl_->queued.load(); }

}  // namespace gsio::net
