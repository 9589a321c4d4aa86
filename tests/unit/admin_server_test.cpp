// The debug console's line server (net::admin_server) on 127.0.0.1: framed replies in order, and
// idle clients closed after idle_timeout so that they cannot hold every slot.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include "net/admin_server.hpp"

namespace {

namespace asio = boost::asio;
namespace net = gsio::net;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

// Answers every command with its own text, upper-cased.
struct shouting_handler : net::admin_handler {
  net::admin_server* server = nullptr;
  void on_command(net::admin_connection_id id, std::string line) override {
    for (auto& c : line)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    server->reply(id, true, line);
  }
};

struct console_fixture {
  asio::io_context io;
  shouting_handler handler;
  net::admin_server server;
  std::thread thread;

  explicit console_fixture(net::admin_options options)
    : server(io, std::move(options), handler) {
    handler.server = &server;
    server.start();
    thread = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  ~console_fixture() {
    server.stop();
    io.stop();
    thread.join();
  }
};

// One framed reply ("ok <n>\n" + n bytes) from a blocking socket.
std::string read_frame(tcp::socket& socket, std::string& buffer) {
  const auto header_end = asio::read_until(socket, asio::dynamic_buffer(buffer), '\n');
  const auto header = buffer.substr(0, header_end - 1);
  buffer.erase(0, header_end);
  const auto size = std::stoul(header.substr(header.find(' ') + 1));
  if (buffer.size() < size)
    asio::read(socket, asio::dynamic_buffer(buffer), asio::transfer_exactly(size - buffer.size()));
  auto body = header.substr(0, header.find(' ')) + ":" + buffer.substr(0, size);
  buffer.erase(0, size);
  return body;
}

}  // namespace

TEST_CASE("admin server: replies in order, and closes a client idle for idle_timeout") {
  net::admin_options options;
  options.greeting = "hello";
  options.idle_timeout = 300ms;
  console_fixture console{options};

  asio::io_context client_io;
  tcp::socket socket{client_io};
  socket.connect({asio::ip::make_address("127.0.0.1"), console.server.port()});
  const timeval read_limit{5, 0};  // a server that never hangs up fails the test, not hangs it
  REQUIRE(::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &read_limit,
                       sizeof read_limit) == 0);
  std::string buffer;
  CHECK(read_frame(socket, buffer) == "ok:hello");
  asio::write(socket, asio::buffer(std::string{"status\nforks\n"}));
  CHECK(read_frame(socket, buffer) == "ok:STATUS");
  CHECK(read_frame(socket, buffer) == "ok:FORKS");
  CHECK(console.server.connections() == 1);

  // Say nothing more: the server hangs up.
  const auto silent_since = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  char byte;
  socket.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);
  CHECK(std::chrono::steady_clock::now() - silent_since >= 250ms);
  for (int i = 0; i < 100 && console.server.connections() != 0; ++i)
    std::this_thread::sleep_for(10ms);
  CHECK(console.server.connections() == 0);
}

TEST_CASE("admin server: an HTTP request (a browser sent here by a web page) runs no command") {
  net::admin_options options;
  options.greeting = "hello";
  console_fixture console{options};

  asio::io_context client_io;
  tcp::socket socket{client_io};
  socket.connect({asio::ip::make_address("127.0.0.1"), console.server.port()});
  const timeval read_limit{5, 0};
  REQUIRE(::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &read_limit,
                       sizeof read_limit) == 0);
  std::string buffer;
  CHECK(read_frame(socket, buffer) == "ok:hello");
  asio::write(socket, asio::buffer(std::string{
    "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 14\r\n\r\nlog-level off\n"}));
  CHECK(read_frame(socket, buffer) == "error:this is the gsio-node debug console, not an HTTP server");
  boost::system::error_code ec;
  char byte;
  socket.read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);  // closed before the body's line was read
}
