// Socket.IO v5 client over Engine.IO v4 on the WebSocket transport, built on ws_client.
//
// Where state lives:
//   - The protocol state machine (phase, heartbeat, attachment reassembly) runs on the client's
//     own strand. ws_client's callbacks run on the ws_client's strand and only post into ours;
//     posts from one strand keep their order, so packets are handled in arrival order.
//   - What emit() needs from any thread (joined/closed flags, the pre-join buffer, pending acks,
//     the ws_client pointer) is guarded by send_mutex. Frames are handed to ws_client while the
//     mutex is held so that a BINARY_EVENT header and its attachments are never interleaved with
//     another thread's packet.
//   - User callbacks go through a callback_gate (detail/callback_gate.hpp), as in ws_client, so
//     the destructor can guarantee that none runs after it returns.
#include "net/sio_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <rapidjson/document.h>

#include "net/detail/callback_gate.hpp"
#include "net/engineio_codec.hpp"
#include "net/socketio_codec.hpp"
#include "net/ws_client.hpp"

namespace gsio::net {

// Named (not anonymous) so that sio_client::impl may use these types without
// -Wsubobject-linkage complaining.
namespace sio_client_detail {

namespace asio = boost::asio;
using strand_type = asio::strand<asio::io_context::executor_type>;
using error_code = boost::system::error_code;

struct out_frame {
  std::string data;
  bool binary = false;
};

// Turns the options into the Engine.IO WebSocket URL, or explains in `error` why it cannot.
std::optional<std::string> engineio_ws_url(const sio_client_options& options, std::string& error) {
  std::string_view url = options.url;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    error = "expected http://host:port, got '" + options.url + "'";
    return std::nullopt;
  }
  std::string scheme{url.substr(0, scheme_end)};
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme != "http" && scheme != "ws" && scheme != "https" && scheme != "wss") {
    error = "unsupported scheme '" + scheme + "' (http://, https://, ws:// or wss://)";
    return std::nullopt;
  }
  const bool tls = scheme == "https" || scheme == "wss";
  auto rest = url.substr(scheme_end + 3);
  auto authority_end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, authority_end);
  auto tail = authority_end == std::string_view::npos ? std::string_view{}
                                                      : rest.substr(authority_end);
  if (authority.empty()) {
    error = "missing host in '" + options.url + "'";
    return std::nullopt;
  }
  // A JavaScript client would read a path here as the namespace; say so instead of guessing.
  if (!tail.empty() && tail != "/") {
    error = "the URL must not have a path or query ('" + std::string{tail} +
            "'); set the path and nsp options instead";
    return std::nullopt;
  }
  std::string path = options.path.empty() ? "/" : options.path;
  if (path.front() != '/' || path.find_first_of("?#") != std::string::npos) {
    error = "invalid Engine.IO path '" + options.path + "'";
    return std::nullopt;
  }
  if (path.back() != '/')
    path += '/';  // as the JavaScript client does
  // ws_client validates the host and port and rejects control characters.
  return (tls ? "wss://" : "ws://") + std::string{authority} + path + "?EIO=4&transport=websocket";
}

// A namespace name ends at the first ',' on the wire, so it must not contain one.
bool valid_namespace(const std::string& nsp) {
  if (nsp.empty() || nsp.front() != '/')
    return false;
  return std::none_of(nsp.begin(), nsp.end(), [](unsigned char c) {
    return c == ',' || c < 0x20 || c == 0x7f;
  });
}

bool is_json_object(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                      text.size());
  return !doc.HasParseError() && doc.IsObject();
}

struct heartbeat {
  std::chrono::milliseconds interval;
  std::chrono::milliseconds timeout;
};

// Reads pingInterval/pingTimeout from an Engine.IO open packet: {"sid":...,"pingInterval":...}.
std::optional<heartbeat> parse_open_packet(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(json.data(),
                                                                                      json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::nullopt;
  auto sid = doc.FindMember("sid");
  auto interval = doc.FindMember("pingInterval");
  auto timeout = doc.FindMember("pingTimeout");
  // 32-bit milliseconds keep the sum far from overflowing a chrono duration.
  if (sid == doc.MemberEnd() || !sid->value.IsString() || sid->value.GetStringLength() == 0 ||
      interval == doc.MemberEnd() || !interval->value.IsUint() || timeout == doc.MemberEnd() ||
      !timeout->value.IsUint())
    return std::nullopt;
  return heartbeat{std::chrono::milliseconds{interval->value.GetUint()},
                   std::chrono::milliseconds{timeout->value.GetUint()}};
}

// The human-readable part of a CONNECT_ERROR payload: {"message":"..."} or a bare string.
std::string connect_error_message(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (!doc.HasParseError()) {
    if (doc.IsString())
      return {doc.GetString(), doc.GetStringLength()};
    if (doc.IsObject()) {
      auto message = doc.FindMember("message");
      if (message != doc.MemberEnd() && message->value.IsString())
        return {message->value.GetString(), message->value.GetStringLength()};
    }
  }
  return json;
}

std::string engine_message(const sio::packet& p) {
  return static_cast<char>(eio::packet_type::message) + sio::encode(p);
}

}  // namespace sio_client_detail

using namespace sio_client_detail;

struct sio_client::impl : std::enable_shared_from_this<impl> {
  // opening: waiting for the WebSocket and the Engine.IO open packet; joining: CONNECT sent.
  enum class phase { idle, opening, joining, connected, closed };

  impl(asio::io_context& io_context, sio_client_options opts, sio_client_callbacks cbs)
      : io(io_context),
        options(std::move(opts)),
        strand(asio::make_strand(io_context)),
        connect_timer(strand),
        heartbeat_timer(strand),
        gate(std::move(cbs)) {}

  asio::io_context& io;
  const sio_client_options options;

  // --- strand-only state ---
  strand_type strand;
  asio::steady_timer connect_timer;
  asio::steady_timer heartbeat_timer;  // expires when no ping came for pingInterval + pingTimeout
  std::chrono::milliseconds heartbeat_deadline{0};
  phase state = phase::idle;
  sio::binary_reassembler reassembler;
  std::size_t reassembly_bytes = 0;

  // --- guarded by send_mutex ---
  std::mutex send_mutex;
  std::unique_ptr<ws_client> ws;  // set once in begin(); released with the impl
  bool joined = false;            // emits go straight to ws once the namespace is joined
  bool closed = false;            // no more emits
  std::vector<out_frame> pending; // emits made before the namespace was joined
  std::size_t pending_bytes = 0;
  std::unordered_map<std::uint64_t, std::function<void(sio_args)>> acks;
  std::uint64_t next_ack_id = 0;

  // User callbacks: none runs once detach() returned (detail/callback_gate.hpp).
  detail::callback_gate<sio_client_callbacks> gate;

  template <class Call>
  void notify(Call&& call) {
    gate.notify(std::forward<Call>(call));
  }

  void detach() {
    std::unordered_map<std::uint64_t, std::function<void(sio_args)>> dropped_acks;
    {
      std::lock_guard<std::mutex> lock{send_mutex};
      closed = true;
      dropped_acks = std::move(acks);
      acks.clear();
    }
    auto dropped = gate.detach();  // destroyed after the locks are released
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
      return;  // closed before start()
    std::string error;
    auto url = engineio_ws_url(options, error);
    if (!url) {
      finish("invalid URL: " + error);
      return;
    }
    if (!valid_namespace(options.nsp)) {
      finish("invalid namespace name '" + options.nsp + "'");
      return;
    }
    if (!options.auth_json.empty() && !is_json_object(options.auth_json)) {
      finish("invalid auth_json: the CONNECT payload must be a JSON object");
      return;
    }
    state = phase::opening;
    connect_timer.expires_after(options.connect_timeout);
    connect_timer.async_wait(
        asio::bind_executor(strand, [self = shared_from_this()](error_code ec) {
          if (!ec && self->state != phase::connected)
            self->finish("connect timeout: namespace not joined after " +
                         std::to_string(self->options.connect_timeout.count()) + " ms");
        }));

    ws_client_options ws_options;
    ws_options.url = std::move(*url);
    ws_options.tls_ca_file = options.tls_ca_file;
    ws_options.max_frame_bytes = options.max_payload;
    // Room for a full pre-join buffer plus a maximal packet.
    ws_options.max_queue_bytes = std::max<std::size_t>(ws_options.max_queue_bytes,
                                                       2 * options.max_payload);
    ws_options.connect_timeout = options.connect_timeout;
    // Liveness is Engine.IO's heartbeat, which the server drives.
    ws_options.idle_timeout = std::chrono::milliseconds{0};

    // The callbacks hold the impl weakly: the impl owns the ws_client.
    std::weak_ptr<impl> weak = shared_from_this();
    ws_client_callbacks ws_callbacks;
    ws_callbacks.on_message = [weak](std::string text) {
      if (auto self = weak.lock())
        self->post([text = std::move(text)](impl& s) mutable { s.on_text(std::move(text)); });
    };
    ws_callbacks.on_binary = [weak](std::string bytes) {
      if (auto self = weak.lock())
        self->post([bytes = std::move(bytes)](impl& s) mutable { s.on_binary(std::move(bytes)); });
    };
    ws_callbacks.on_close = [weak](std::string reason) {
      if (auto self = weak.lock())
        self->post([reason = std::move(reason)](impl& s) mutable {
          s.on_transport_close(std::move(reason));
        });
    };
    std::lock_guard<std::mutex> lock{send_mutex};
    ws = std::make_unique<ws_client>(io, std::move(ws_options), std::move(ws_callbacks));
    ws->start();
  }

  // --- Engine.IO layer ---

  void on_text(std::string text) {
    if (state == phase::closed)
      return;
    auto p = eio::decode_text(text);
    if (!p || p->binary) {
      protocol_error("invalid Engine.IO packet");
      return;
    }
    switch (p->type) {
    case eio::packet_type::open: {
      if (state != phase::opening) {
        protocol_error("unexpected Engine.IO open packet");
        return;
      }
      auto beat = parse_open_packet(p->data);
      if (!beat) {
        protocol_error("invalid Engine.IO open packet");
        return;
      }
      heartbeat_deadline = beat->interval + beat->timeout;
      arm_heartbeat();
      state = phase::joining;
      sio::packet connect;
      connect.type = sio::packet_type::connect;
      connect.nsp = options.nsp;
      connect.data = options.auth_json;
      send_now({out_frame{engine_message(connect), false}});
      return;
    }
    case eio::packet_type::close:
      finish("transport close: the server closed the session");
      return;
    case eio::packet_type::ping:
      if (state == phase::opening) {
        protocol_error("ping before the open packet");
        return;
      }
      arm_heartbeat();
      send_now({out_frame{static_cast<char>(eio::packet_type::pong) + p->data, false}});
      return;
    case eio::packet_type::pong:
    case eio::packet_type::noop:
      return;  // harmless: v4 servers do not send them over WebSocket, older tools might
    case eio::packet_type::upgrade:
      protocol_error("unexpected upgrade packet");
      return;
    case eio::packet_type::message:
      if (state == phase::opening) {
        protocol_error("message before the open packet");
        return;
      }
      on_sio_text(std::move(p->data));
      return;
    }
  }

  // Binary WebSocket messages carry the attachments of a BINARY_EVENT / BINARY_ACK.
  void on_binary(std::string bytes) {
    if (state == phase::closed)
      return;
    if (!reassembler.active()) {
      protocol_error("binary message without a binary packet header");
      return;
    }
    reassembly_bytes += bytes.size();
    if (reassembly_bytes > options.max_payload) {
      protocol_error("binary packet larger than max_payload");
      return;
    }
    if (reassembler.add(std::move(bytes))) {
      auto complete = reassembler.take();
      reassembly_bytes = 0;
      dispatch(std::move(complete.header), std::move(complete.attachments));
    }
  }

  void arm_heartbeat() {
    heartbeat_timer.expires_after(heartbeat_deadline);
    heartbeat_timer.async_wait(
        asio::bind_executor(strand, [self = shared_from_this()](error_code ec) {
          if (!ec)
            self->finish("ping timeout");
        }));
  }

  void on_transport_close(std::string reason) {
    if (state == phase::closed)
      return;
    // Before the Engine.IO handshake the WebSocket's reason ("connect failed: ...", "upgrade
    // refused: 400") says everything; afterwards the transport went away under a session.
    finish(state == phase::opening ? std::move(reason) : "transport close: " + reason);
  }

  // --- Socket.IO layer ---

  void on_sio_text(std::string text) {
    if (reassembler.active()) {
      protocol_error("text packet while attachments were expected");
      return;
    }
    auto decoded = sio::decode(text);
    if (!decoded) {
      protocol_error(decoded.error);
      return;
    }
    auto& p = *decoded.value;
    bool binary =
        p.type == sio::packet_type::binary_event || p.type == sio::packet_type::binary_ack;
    if (binary && p.attachments > 0) {
      reassembly_bytes = text.size();
      reassembler.start(std::move(p));
      return;
    }
    dispatch(std::move(p), {});
  }

  void dispatch(sio::packet p, std::vector<std::string> attachments) {
    if (p.nsp != options.nsp)
      return;  // a namespace we never joined: ignored, as Socket.IO clients do
    switch (p.type) {
    case sio::packet_type::connect:
      if (state != phase::joining) {
        protocol_error("unexpected CONNECT");
        return;
      }
      on_joined();
      return;
    case sio::packet_type::connect_error:
      finish("connect error: " + connect_error_message(p.data));
      return;
    case sio::packet_type::disconnect:
      finish("io server disconnect");
      return;
    case sio::packet_type::event:
    case sio::packet_type::binary_event: {
      if (state != phase::connected) {
        protocol_error("EVENT before the namespace was joined");
        return;
      }
      auto parts = sio::split_event_payload(p.data);
      if (!parts) {
        protocol_error("malformed EVENT payload");
        return;
      }
      notify([&](sio_client_callbacks& cb) {
        if (cb.on_event)
          cb.on_event(std::move(parts->name),
                      sio_args{std::move(parts->args_json), std::move(attachments)});
      });
      return;
    }
    case sio::packet_type::ack:
    case sio::packet_type::binary_ack: {
      std::function<void(sio_args)> on_ack;
      {
        std::lock_guard<std::mutex> lock{send_mutex};
        auto it = acks.find(*p.id);  // decode() guarantees an id on ACK packets
        if (it == acks.end())
          return;  // unknown or already answered
        on_ack = std::move(it->second);
        acks.erase(it);
      }
      notify([&](sio_client_callbacks&) {
        on_ack(sio_args{std::move(p.data), std::move(attachments)});
      });
      return;
    }
    }
  }

  void on_joined() {
    state = phase::connected;
    connect_timer.cancel();
    {
      // Flushing and setting `joined` under one lock keeps buffered emits ahead of new ones.
      std::lock_guard<std::mutex> lock{send_mutex};
      for (auto& f : pending)
        send_frame_locked(std::move(f));
      pending.clear();
      pending_bytes = 0;
      joined = true;
    }
    notify([](sio_client_callbacks& cb) {
      if (cb.on_connect)
        cb.on_connect();
    });
  }

  // --- sending ---

  // Caller holds send_mutex. A refusal means the ws_client closed (or is closing because its
  // queue overflowed); its on_close then ends this session too.
  bool send_frame_locked(out_frame f) {
    return f.binary ? ws->send_binary(std::move(f.data)) : ws->send(std::move(f.data));
  }

  // Protocol frames of our own (CONNECT, pong, DISCONNECT), sent regardless of `joined`.
  void send_now(std::vector<out_frame> frames) {
    std::lock_guard<std::mutex> lock{send_mutex};
    if (!ws)
      return;
    for (auto& f : frames)
      send_frame_locked(std::move(f));
  }

  bool emit(std::string event, sio_args args, std::function<void(sio_args)> on_ack) {
    sio::packet p;
    p.attachments = args.attachments.size();
    p.nsp = options.nsp;
    p.data = sio::make_event_payload(event, args.json);
    // Checking with the same decoder the server uses means we never send a packet that would get
    // us disconnected (invalid JSON, reserved event names). It is checked as a binary packet even
    // without attachments so that placeholders always have to match them.
    p.type = sio::packet_type::binary_event;
    if (!sio::decode(sio::encode(p)))
      return false;
    if (args.attachments.empty())
      p.type = sio::packet_type::event;

    std::lock_guard<std::mutex> lock{send_mutex};
    if (closed)
      return false;
    if (on_ack)
      p.id = next_ack_id++;
    std::vector<out_frame> frames;
    frames.reserve(1 + args.attachments.size());
    frames.push_back({engine_message(p), false});
    std::size_t bytes = frames.front().data.size();
    for (auto& attachment : args.attachments) {
      bytes += attachment.size();
      frames.push_back({std::move(attachment), true});
    }
    if (!joined) {
      if (pending_bytes + bytes > options.max_payload)
        return false;
      pending_bytes += bytes;
      for (auto& f : frames)
        pending.push_back(std::move(f));
    } else {
      for (auto& f : frames)
        if (!send_frame_locked(std::move(f)))
          return false;
    }
    if (on_ack)
      acks.emplace(*p.id, std::move(on_ack));
    return true;
  }

  // --- closing ---

  void client_close() {
    if (state == phase::closed)
      return;
    if (state == phase::connected) {
      sio::packet bye;
      bye.type = sio::packet_type::disconnect;
      bye.nsp = options.nsp;
      send_now({out_frame{engine_message(bye), false}});
    }
    finish("io client disconnect");
  }

  void protocol_error(const std::string& what) { finish("parse error: " + what); }

  // Ends the session once: stops timers, refuses further emits, forgets pending acks, closes the
  // WebSocket (gracefully, after anything already queued such as DISCONNECT) and reports.
  void finish(std::string reason) {
    if (state == phase::closed)
      return;
    state = phase::closed;
    connect_timer.cancel();
    heartbeat_timer.cancel();
    reassembler.reset();
    std::unordered_map<std::uint64_t, std::function<void(sio_args)>> dropped_acks;
    {
      std::lock_guard<std::mutex> lock{send_mutex};
      closed = true;
      joined = false;
      pending.clear();
      pending_bytes = 0;
      dropped_acks = std::move(acks);
      acks.clear();
      if (ws)
        ws->close();
    }
    notify([&](sio_client_callbacks& cb) {
      if (cb.on_close)
        cb.on_close(std::move(reason));
    });
  }
};

sio_client::sio_client(boost::asio::io_context& io, sio_client_options options,
                       sio_client_callbacks callbacks)
    : impl_(std::make_shared<impl>(io, std::move(options), std::move(callbacks))) {}

sio_client::~sio_client() {
  impl_->detach();
  impl_->post([](impl& self) { self.client_close(); });
}

void sio_client::start() {
  impl_->post([](impl& self) { self.begin(); });
}

bool sio_client::emit(std::string event, sio_args args, std::function<void(sio_args)> on_ack) {
  return impl_->emit(std::move(event), std::move(args), std::move(on_ack));
}

void sio_client::close() {
  {
    std::lock_guard<std::mutex> lock{impl_->send_mutex};
    impl_->closed = true;  // emits after close() fail at once
  }
  impl_->post([](impl& self) { self.client_close(); });
}

}  // namespace gsio::net
