// The server side of the official Engine.IO v4 and Socket.IO v5 protocol test suites, built from
// src/net alone:
//   /engine.io/  plain Engine.IO; every message (text or binary) is sent back unchanged.
//   /socket.io/  Socket.IO with namespaces "/" and "/custom":
//                connect            -> emits "auth" with the CONNECT payload
//                "message"          -> emits "message-back" with the same arguments
//                "message-with-ack" -> acknowledges with the same arguments
//                "emit-with-ack"    -> emits "emit-with-ack" back asking for an ack, then emits the
//                                      client's ack arguments as a plain "emit-with-ack"
//                disconnects are logged to stderr with their reason
// Usage: protocol-test-server [--port N] [--ping-interval MS] [--ping-timeout MS]
//   prints "listening on PORT" once ready; the heartbeat defaults to the official suites' 300/200 ms
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "net/sio_server.hpp"

namespace {

using namespace gsio::net;

class test_handler final : public handler, public engineio_handler {
public:
  void attach(server& s) { server_ = &s; }

  void on_connect(const socket_info& info) override {
    server_->emit(info.id, "auth", sio_args{"[" + info.auth_json + "]", {}});
  }

  void on_event(socket_id id, std::string event, sio_args args,
                std::optional<std::uint64_t> ack_id) override {
    if (event == "message") {
      server_->emit(id, "message-back", std::move(args));
    } else if (event == "message-with-ack") {
      if (ack_id)
        server_->ack(id, *ack_id, std::move(args));
    } else if (event == "emit-with-ack") {
      server_->emit(id, "emit-with-ack", std::move(args), [this, id](sio_args reply) {
        server_->emit(id, "emit-with-ack", std::move(reply));
      });
    }
  }

  // Logged so that tests can tell why the server dropped a connection.
  void on_disconnect(socket_id id, disconnect_reason reason) override {
    std::cerr << "disconnect " << id << ": " << to_string(reason) << std::endl;
  }

  http_response on_http(const http_request&) override {
    return {404, "text/plain; charset=utf-8", "not found\n", {}};
  }

  void on_open(const std::string&) override {}
  void on_message(const std::string& sid, std::string data, bool binary) override {
    server_->send_engineio(sid, std::move(data), binary);
  }
  void on_close(const std::string&) override {}

private:
  server* server_ = nullptr;
};

int usage(const char* self) {
  std::cerr << "usage: " << self << " [--port N] [--ping-interval MS] [--ping-timeout MS]\n";
  return 2;
}

// Reads argv[i + 1] as a whole number in [min, max]; false if it is missing or is not one.
bool number_argument(int argc, char** argv, int& i, long min, long max, long& out) {
  if (i + 1 >= argc)
    return false;
  char* end = nullptr;
  out = std::strtol(argv[++i], &end, 10);
  return *end == '\0' && out >= min && out <= max;
}

}  // namespace

int main(int argc, char** argv) {
  server_options options;
  options.port = 3000;
  options.ping_interval = std::chrono::milliseconds(300);
  options.ping_timeout = std::chrono::milliseconds(200);
  for (int i = 1; i < argc; ++i) {
    long value = 0;
    if (std::strcmp(argv[i], "--port") == 0 && number_argument(argc, argv, i, 0, 65535, value))
      options.port = static_cast<std::uint16_t>(value);
    else if (std::strcmp(argv[i], "--ping-interval") == 0 && number_argument(argc, argv, i, 1, 600000, value))
      options.ping_interval = std::chrono::milliseconds(value);
    else if (std::strcmp(argv[i], "--ping-timeout") == 0 && number_argument(argc, argv, i, 1, 600000, value))
      options.ping_timeout = std::chrono::milliseconds(value);
    else
      return usage(argv[0]);
  }
  options.path = "/socket.io/";
  options.engineio_path = "/engine.io/";
  options.namespaces = {"/", "/custom"};
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.max_payload = 1'000'000;

  boost::asio::io_context io;
  test_handler handler;
  server srv{io, options, handler, &handler};
  handler.attach(srv);
  try {
    srv.start();
  } catch (const std::exception& e) {
    std::cerr << "protocol-test-server: " << e.what() << "\n";
    return 1;
  }

  boost::asio::signal_set signals{io, SIGINT, SIGTERM};
  signals.async_wait([&](const boost::system::error_code&, int) { srv.stop(); });

  std::cout << "listening on " << srv.port() << std::endl;
  io.run();
  return 0;
}
