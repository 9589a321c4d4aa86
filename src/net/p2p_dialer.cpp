#include "net/p2p_dialer.hpp"

#include <boost/beast/core/string.hpp>

#include "net/announce_proof.hpp"
#include "net/io_thread.hpp"
#include "net/p2p_socketio.hpp"
#include "net/sio_client.hpp"
#include "net/ws_client.hpp"

namespace gsio::net {

namespace {

class relay_dialer_impl final : public p2p_dialer {
public:
  explicit relay_dialer_impl(p2p_dial_options options) : options_(std::move(options)) { thread_.start(); }
  // Clients first: their destructors guarantee that no callback runs afterwards.
  ~relay_dialer_impl() override { client_.reset(); }

  std::string_view kind() const override { return "relay"; }

  void dial(const std::string& url, p2p_dial_callbacks callbacks) override {
    client_.reset();
    ws_client_options o;
    o.url = url;
    o.tls_ca_file = options_.tls_ca_file;
    if (!options_.token.empty())
      o.headers.emplace_back("Authorization", "Bearer " + options_.token);
    o.max_frame_bytes = options_.max_frame_bytes;
    o.max_queue_bytes = options_.max_queue_bytes;
    ws_client_callbacks cb;
    // All run on the connection's strand, the response first.
    auto proof = std::make_shared<std::string>();
    auto refusal = std::make_shared<std::string>();  // why this relay will not do, if it will not
    cb.on_upgrade_response = [proof, refusal, prove = options_.prove_identity,
                              network = options_.private_network](const auto& headers) {
      bool serves_network = network.empty();
      for (const auto& [name, value] : headers) {
        if (prove && boost::beast::iequals(name, challenge_header))
          *proof = prove(value);
        if (!network.empty() && boost::beast::iequals(name, networks_header))
          for (std::size_t at = 0; at <= value.size() && !serves_network;) {
            const auto comma = std::min(value.find(',', at), value.size());
            serves_network = value.compare(at, comma - at, network) == 0;
            at = comma + 1;
          }
      }
      if (!serves_network)
        *refusal = "the relay does not serve private network " + network.substr(0, 16) +
                   " (start it with --network and this network's charter): not using it";
    };
    // A refused relay's link is reported closed at once (the link dials again after its backoff,
    // which hangs this connection up); until then nothing is taken from it, and the link sends
    // nothing on a connection it never saw open.
    auto closed = std::make_shared<bool>(false);
    cb.on_open = [proof, refusal, closed, open = callbacks.on_open, close = callbacks.on_close] {
      if (refusal->empty())
        return open(std::move(*proof));
      *closed = true;
      close(*refusal);
    };
    cb.on_message = [refusal, on_envelope = std::move(callbacks.on_envelope)](std::string text) {
      if (refusal->empty())
        on_envelope(std::move(text));
    };
    cb.on_close = [closed, close = std::move(callbacks.on_close)](std::string reason) {
      if (!*closed)
        close(std::move(reason));
    };
    client_ = std::make_unique<ws_client>(thread_.context(), std::move(o), std::move(cb));
    client_->start();
  }

  void hang_up() override { client_.reset(); }

  void send(std::string envelope) override {
    if (client_)
      client_->send(std::move(envelope));
  }

  std::size_t queued_bytes() const override { return client_ ? client_->queued_bytes() : 0; }

private:
  p2p_dial_options options_;
  io_thread thread_;
  std::unique_ptr<ws_client> client_;
};

class peer_dialer_impl final : public p2p_dialer {
public:
  explicit peer_dialer_impl(p2p_dial_options options) : options_(std::move(options)) { thread_.start(); }
  ~peer_dialer_impl() override { client_.reset(); }

  std::string_view kind() const override { return "direct"; }

  void dial(const std::string& url, p2p_dial_callbacks callbacks) override {
    client_.reset();
    sio_client_options o;
    o.url = url;
    o.tls_ca_file = options_.tls_ca_file;
    o.nsp = p2p_socketio::nsp;
    o.max_payload = options_.max_frame_bytes;
    o.auth_json = p2p_socketio::auth_payload(options_.token);
    sio_client_callbacks cb;
    // The link is up once the peer's challenge came and the proof for it is ready (the first
    // NodeAnnounce carries it); envelopes before that are the peer's and pass as they come.
    cb.on_event = [on_envelope = callbacks.on_envelope, open = callbacks.on_open,
                   prove = options_.prove_identity, opened = false](std::string event, sio_args args) mutable {
      if (event == p2p_socketio::challenge_event && !opened) {
        auto challenge = p2p_socketio::challenge_of(args.json);
        if (!challenge)
          return;
        opened = true;
        open(prove ? prove(*challenge) : std::string{});
        return;
      }
      if (event != p2p_socketio::event)
        return;
      // Dropped like text that does not parse when it holds no envelope object.
      if (auto envelope = p2p_socketio::envelope_of(args.json))
        on_envelope(std::move(*envelope));
    };
    cb.on_close = std::move(callbacks.on_close);
    client_ = std::make_unique<sio_client>(thread_.context(), std::move(o), std::move(cb));
    client_->start();
  }

  void hang_up() override { client_.reset(); }

  void send(std::string envelope) override {
    if (client_)
      client_->emit(std::string{p2p_socketio::event}, sio_args{p2p_socketio::args_of(envelope), {}});
  }

  // The Socket.IO client keeps no count of what waits to be written.
  std::size_t queued_bytes() const override { return 0; }

private:
  p2p_dial_options options_;
  io_thread thread_;
  std::unique_ptr<sio_client> client_;
};

}  // namespace

std::unique_ptr<p2p_dialer> relay_dialer(p2p_dial_options options) {
  return std::make_unique<relay_dialer_impl>(std::move(options));
}

std::unique_ptr<p2p_dialer> peer_dialer(p2p_dial_options options) {
  return std::make_unique<peer_dialer_impl>(std::move(options));
}

}  // namespace gsio::net
