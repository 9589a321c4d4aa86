// End-to-end tests of ws_client and sio_client on 127.0.0.1: against the project's own
// Socket.IO server (net::server), and against a tiny scripted WebSocket server for the
// misbehaving-peer cases the real server never produces (silence, garbage packets).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "net/sio_client.hpp"
#include "net/sio_server.hpp"
#include "net/ws_client.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace net = gsio::net;
using namespace std::chrono_literals;
using tcp = asio::ip::tcp;

constexpr auto wait_limit = 5s;

// An io_context run by two threads, so that strand mistakes show up (and under TSan).
struct io_runner {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::vector<std::thread> threads;

  io_runner() {
    for (int i = 0; i < 2; ++i)
      threads.emplace_back([this] { io.run(); });
  }
  ~io_runner() { shutdown(); }
  // Lets background closes finish, but does not hang the test binary on a stuck one.
  void shutdown() {
    if (threads.empty())
      return;
    guard.reset();
    for (int i = 0; i < 100 && !io.stopped(); ++i)
      std::this_thread::sleep_for(20ms);
    io.stop();
    for (auto& t : threads)
      t.join();
    threads.clear();
  }
};

// Something a test waits on: state changed under a mutex, waited for with a time limit.
class monitor {
public:
  // Notifies under the lock: a waiter that then destroys the monitor (or the client whose
  // callback is updating it) cannot do so while notify_all is still running.
  template <class F>
  void update(F&& f) {
    std::lock_guard<std::mutex> lock{mutex_};
    f();
    cv_.notify_all();
  }
  template <class Pred>
  bool wait(Pred&& pred, std::chrono::milliseconds limit = wait_limit) {
    std::unique_lock<std::mutex> lock{mutex_};
    return cv_.wait_for(lock, limit, pred);
  }
  template <class F>
  auto read(F&& f) {
    std::lock_guard<std::mutex> lock{mutex_};
    return f();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
};

// --- the real server -----------------------------------------------------------------------------

struct server_event {
  net::socket_id id;
  std::string name;
  net::sio_args args;
};

// Records what the server sees. "echo" is answered with an "echo-back" event carrying the same
// arguments, "echo-ack" with an acknowledgement carrying them.
class recording_handler final : public net::handler {
public:
  monitor m;
  net::server* srv = nullptr;
  std::vector<net::socket_info> connects;
  std::vector<server_event> events;
  std::vector<net::disconnect_reason> disconnects;

  void on_connect(const net::socket_info& info) override {
    m.update([&] { connects.push_back(info); });
  }
  void on_event(net::socket_id id, std::string event, net::sio_args args,
                std::optional<std::uint64_t> ack_id) override {
    if (event == "echo")
      srv->emit(id, "echo-back", args);
    if (event == "echo-ack" && ack_id)
      srv->ack(id, *ack_id, args);
    m.update([&] { events.push_back({id, std::move(event), std::move(args)}); });
  }
  void on_disconnect(net::socket_id, net::disconnect_reason reason) override {
    m.update([&] { disconnects.push_back(reason); });
  }
  net::http_response on_http(const net::http_request&) override {
    return {404, "text/plain; charset=utf-8", "not found\n", {}};
  }
};

// The server's sessions may still report to the handler while they wind down after stop(), so
// the io threads are stopped before the handler goes away. Clients must be declared after the
// server (destroyed first).
struct test_server {
  io_runner& runner;
  recording_handler handler;
  std::unique_ptr<net::server> srv;

  explicit test_server(io_runner& r) : runner(r) {
    auto& io = runner.io;
    net::server_options options;
    options.port = 0;
    options.namespaces = {"/", "/p2p"};
    // A short heartbeat, so that tests that stay connected a while also prove we answer pings.
    options.ping_interval = 200ms;
    options.ping_timeout = 300ms;
    srv = std::make_unique<net::server>(io, options, handler);
    handler.srv = srv.get();
    srv->start();
  }
  ~test_server() {
    srv->stop();
    runner.shutdown();
  }

  std::string http_url() const { return "http://127.0.0.1:" + std::to_string(srv->port()); }
  std::string engineio_ws_url() const {
    return "ws://127.0.0.1:" + std::to_string(srv->port()) +
           "/socket.io/?EIO=4&transport=websocket";
  }
};

// --- what a client saw ------------------------------------------------------------------------

struct sio_log {
  monitor m;
  bool connected = false;
  std::vector<std::pair<std::string, net::sio_args>> events;
  std::optional<std::string> closed;
  int close_count = 0;

  net::sio_client_callbacks callbacks() {
    net::sio_client_callbacks cb;
    cb.on_connect = [this] { m.update([&] { connected = true; }); };
    cb.on_event = [this](std::string event, net::sio_args args) {
      m.update([&] { events.emplace_back(std::move(event), std::move(args)); });
    };
    cb.on_close = [this](std::string reason) {
      m.update([&] {
        closed = std::move(reason);
        ++close_count;
      });
    };
    return cb;
  }
  bool wait_connected() { return m.wait([&] { return connected; }); }
  bool wait_closed(std::chrono::milliseconds limit = wait_limit) {
    return m.wait([&] { return closed.has_value(); }, limit);
  }
  bool wait_events(std::size_t n) { return m.wait([&] { return events.size() >= n; }); }
  std::string close_reason() {
    return m.read([&] { return closed.value_or("<still open>"); });
  }
};

struct ws_log {
  monitor m;
  bool opened = false;
  std::vector<std::string> messages;
  std::optional<std::string> closed;
  int close_count = 0;

  net::ws_client_callbacks callbacks() {
    net::ws_client_callbacks cb;
    cb.on_open = [this] { m.update([&] { opened = true; }); };
    cb.on_message = [this](std::string text) {
      m.update([&] { messages.push_back(std::move(text)); });
    };
    cb.on_close = [this](std::string reason) {
      m.update([&] {
        closed = std::move(reason);
        ++close_count;
      });
    };
    return cb;
  }
  bool wait_closed(std::chrono::milliseconds limit = wait_limit) {
    return m.wait([&] { return closed.has_value(); }, limit);
  }
  std::string close_reason() {
    return m.read([&] { return closed.value_or("<still open>"); });
  }
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A port on which nothing listens: bound once to get a free number, then released.
std::uint16_t closed_port() {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  return acceptor.local_endpoint().port();
}

net::sio_client_options p2p_options(const test_server& server) {
  net::sio_client_options options;
  options.url = server.http_url();
  options.nsp = "/p2p";
  options.auth_json = R"({"node_id":"n1","token":"secret"})";
  return options;
}

// Connects a client to /p2p and returns the server's socket id for it.
net::socket_id connect_p2p(test_server& server, net::sio_client& client, sio_log& log) {
  client.start();
  REQUIRE(log.wait_connected());
  REQUIRE(server.handler.m.wait([&] { return !server.handler.connects.empty(); }));
  return server.handler.m.read([&] { return server.handler.connects.back().id; });
}

// --- a scripted WebSocket server for misbehaving peers ----------------------------------------

// Accepts one WebSocket connection, sends `script` as text frames, then records what the client
// sends until it goes away. Runs on its own thread with blocking Beast calls; the destructor wakes
// a blocked accept or read by shutting the socket down at the system-call level.
class scripted_server {
public:
  explicit scripted_server(std::vector<std::string> script)
      : acceptor_{io_, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}},
        thread_{[this, script = std::move(script)] { run(script); }} {}
  ~scripted_server() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (int fd = connection_fd_.load(); fd >= 0)
      ::shutdown(fd, SHUT_RDWR);
    thread_.join();
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  std::vector<std::string> received() {
    return m_.read([&] { return received_; });
  }
  bool wait_received(std::size_t n) {
    return m_.wait([&] { return received_.size() >= n; });
  }

private:
  void run(const std::vector<std::string>& script) {
    beast::error_code ec;
    tcp::socket socket{io_};
    acceptor_.accept(socket, ec);
    if (ec)
      return;
    connection_fd_ = socket.native_handle();
    if (stopping_)  // the destructor may have missed the descriptor
      return;
    beast::websocket::stream<tcp::socket> ws{std::move(socket)};
    ws.accept(ec);
    if (ec)
      return;
    for (const auto& text : script) {
      ws.text(true);
      ws.write(asio::buffer(text), ec);
      if (ec)
        return;
    }
    for (;;) {
      beast::flat_buffer buffer;
      ws.read(buffer, ec);
      if (ec)
        return;
      m_.update([&] { received_.push_back(beast::buffers_to_string(buffer.data())); });
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connection_fd_{-1};
  monitor m_;
  std::vector<std::string> received_;
  std::thread thread_;
};

const std::string open_packet =
    R"(0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})";

}  // namespace

// ================================ sio_client against net::server ================================

TEST_CASE("sio_client: joins /p2p with auth and receives server events") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  auto id = connect_p2p(server, client, log);

  auto info = server.handler.m.read([&] { return server.handler.connects.back(); });
  CHECK(info.nsp == "/p2p");
  CHECK(info.auth_json == R"({"node_id":"n1","token":"secret"})");
  CHECK(info.transport == net::transport_kind::websocket);

  server.srv->emit(id, "p2p_message", net::sio_args{R"([{"message_type":"NodeAnnounce"},7])", {}});
  server.srv->emit(id, "second", net::sio_args{"[]", {}});
  REQUIRE(log.wait_events(2));
  log.m.read([&] {
    CHECK(log.events[0].first == "p2p_message");
    CHECK(log.events[0].second.json == R"([{"message_type":"NodeAnnounce"},7])");
    CHECK(log.events[0].second.attachments.empty());
    CHECK(log.events[1].first == "second");
    CHECK(log.events[1].second.json == "[]");
    return 0;
  });

  // Several heartbeats (200 ms + 300 ms) pass: the client must be answering pings.
  std::this_thread::sleep_for(1200ms);
  CHECK_FALSE(log.m.read([&] { return log.closed.has_value(); }));
  server.srv->emit(id, "still-there", net::sio_args{"[true]", {}});
  CHECK(log.wait_events(3));
}

TEST_CASE("sio_client: events reach the server with their arguments") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  auto id = connect_p2p(server, client, log);

  const std::string message = R"([{"sender_id":"n1","payload":[1,2.5,"x"]}])";
  CHECK(client.emit("p2p_message", net::sio_args{message, {}}));
  CHECK(client.emit("no-args", net::sio_args{"[]", {}}));
  REQUIRE(server.handler.m.wait([&] { return server.handler.events.size() >= 2; }));
  server.handler.m.read([&] {
    const auto& events = server.handler.events;
    CHECK(events[0].id == id);
    CHECK(events[0].name == "p2p_message");
    CHECK(events[0].args.json == message);
    CHECK(events[1].name == "no-args");
    CHECK(events[1].args.json == "[]");
    return 0;
  });
}

TEST_CASE("sio_client: emits made before the namespace is joined are sent after it") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  CHECK(client.emit("early", net::sio_args{"[1]", {}}));
  client.start();
  CHECK(client.emit("early", net::sio_args{"[2]", {}}));
  REQUIRE(server.handler.m.wait([&] { return server.handler.events.size() >= 2; }));
  server.handler.m.read([&] {
    CHECK(server.handler.events[0].args.json == "[1]");
    CHECK(server.handler.events[1].args.json == "[2]");
    return 0;
  });
}

TEST_CASE("sio_client: emit with ack gets the server's acknowledgement") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  monitor m;  // used by the ack callbacks, so it must outlive the client
  std::vector<net::sio_args> acks;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  connect_p2p(server, client, log);

  for (int i = 0; i < 3; ++i) {
    CHECK(client.emit("echo-ack", net::sio_args{"[" + std::to_string(i) + ",\"x\"]", {}},
                      [&](net::sio_args args) { m.update([&] { acks.push_back(args); }); }));
  }
  REQUIRE(m.wait([&] { return acks.size() == 3; }));
  // Each ack carries the arguments of its own emit (matched by ack id, not by order of arrival).
  std::vector<std::string> got;
  for (auto& a : acks)
    got.push_back(a.json);
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{R"([0,"x"])", R"([1,"x"])", R"([2,"x"])"});
}

TEST_CASE("sio_client: binary attachments round-trip in events and acks") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  monitor m;  // used by the ack callback, so it must outlive the client
  std::optional<net::sio_args> ack;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  connect_p2p(server, client, log);

  // Embedded NUL bytes: built from a length-checked literal, not strlen.
  constexpr char raw0[] = "\x00\x01\x02\xff\xfe binary";
  const std::string blob0{raw0, sizeof raw0 - 1};
  const std::string blob1(70000, '\x7f');
  const std::string json =
      R"(["label",{"_placeholder":true,"num":0},{"nested":{"_placeholder":true,"num":1}}])";
  CHECK(client.emit("echo", net::sio_args{json, {blob0, blob1}}));
  REQUIRE(log.wait_events(1));
  log.m.read([&] {
    CHECK(log.events[0].first == "echo-back");
    CHECK(log.events[0].second.json == json);
    REQUIRE(log.events[0].second.attachments.size() == 2);
    CHECK(log.events[0].second.attachments[0] == blob0);
    CHECK(log.events[0].second.attachments[1] == blob1);
    return 0;
  });
  server.handler.m.read([&] {
    REQUIRE(server.handler.events.size() == 1);
    CHECK(server.handler.events[0].args.attachments == std::vector<std::string>{blob0, blob1});
    return 0;
  });

  CHECK(client.emit("echo-ack", net::sio_args{R"([{"_placeholder":true,"num":0}])", {blob0}},
                    [&](net::sio_args args) { m.update([&] { ack = std::move(args); }); }));
  REQUIRE(m.wait([&] { return ack.has_value(); }));
  CHECK(ack->json == R"([{"_placeholder":true,"num":0}])");
  CHECK(ack->attachments == std::vector<std::string>{blob0});
}

TEST_CASE("sio_client: invalid emits are refused locally") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  connect_p2p(server, client, log);

  CHECK_FALSE(client.emit("connect", net::sio_args{"[]", {}}));             // reserved name
  CHECK_FALSE(client.emit("x", net::sio_args{"[1,", {}}));                  // not JSON
  CHECK_FALSE(client.emit("x", net::sio_args{R"([{"_placeholder":true,"num":0}])", {}}));
  CHECK(client.emit("fine", net::sio_args{"[1]", {}}));
  REQUIRE(server.handler.m.wait([&] { return !server.handler.events.empty(); }));
  CHECK(server.handler.m.read([&] { return server.handler.events[0].name; }) == "fine");
  CHECK_FALSE(log.m.read([&] { return log.closed.has_value(); }));
}

TEST_CASE("sio_client: an unknown namespace closes with the server's message") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  auto options = p2p_options(server);
  options.nsp = "/nope";
  net::sio_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(contains(log.close_reason(), "Invalid namespace"));
  CHECK_FALSE(log.m.read([&] { return log.connected; }));
  CHECK_FALSE(client.emit("x", net::sio_args{"[]", {}}));
}

TEST_CASE("sio_client: server stop closes the client") {
  io_runner runner;
  sio_log log;
  auto server = std::make_unique<test_server>(runner);
  net::sio_client client{runner.io, p2p_options(*server), log.callbacks()};
  connect_p2p(*server, client, log);
  server->srv->stop();
  REQUIRE(log.wait_closed());
  CHECK(starts_with(log.close_reason(), "transport close"));
  std::this_thread::sleep_for(100ms);
  CHECK(log.m.read([&] { return log.close_count; }) == 1);
}

TEST_CASE("sio_client: close() sends DISCONNECT and reports once") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  net::sio_client client{runner.io, p2p_options(server), log.callbacks()};
  connect_p2p(server, client, log);
  client.close();
  client.close();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "io client disconnect");
  CHECK_FALSE(client.emit("late", net::sio_args{"[]", {}}));
  REQUIRE(server.handler.m.wait([&] { return !server.handler.disconnects.empty(); }));
  CHECK(server.handler.m.read([&] { return server.handler.disconnects[0]; }) ==
        net::disconnect_reason::client_disconnect);
  std::this_thread::sleep_for(100ms);
  CHECK(log.m.read([&] { return log.close_count; }) == 1);
}

TEST_CASE("sio_client: connect failures and bad options are reported through on_close") {
  io_runner runner;
  auto closed_with = [&](net::sio_client_options options) {
    sio_log log;
    net::sio_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed());
    return log.close_reason();
  };
  net::sio_client_options options;
  options.url = "http://127.0.0.1:" + std::to_string(closed_port());
  CHECK(starts_with(closed_with(options), "connect failed: "));
  options.url = "https://127.0.0.1:" + std::to_string(closed_port());
  CHECK(starts_with(closed_with(options), "connect failed: "));
  options.url = "ftp://127.0.0.1:1";
  CHECK(starts_with(closed_with(options), "invalid URL: unsupported scheme 'ftp'"));
  options.url = "http://127.0.0.1:1/p2p";
  CHECK(starts_with(closed_with(options), "invalid URL: the URL must not have a path"));
  options.url = "http://127.0.0.1:1";
  options.auth_json = "[1]";
  CHECK(starts_with(closed_with(options), "invalid auth_json"));
  options.auth_json.clear();
  options.nsp = "/a,b";
  CHECK(starts_with(closed_with(options), "invalid namespace name"));
}

TEST_CASE("sio_client: a wrong Engine.IO path is refused by the server") {
  io_runner runner;
  test_server server{runner};
  sio_log log;
  auto options = p2p_options(server);
  options.path = "/elsewhere/";
  net::sio_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "upgrade refused: 404");
}

// ================================ sio_client against misbehaving peers ========================

TEST_CASE("sio_client: no ping within pingInterval + pingTimeout closes with ping timeout") {
  io_runner runner;
  scripted_server peer{{open_packet, "40/p2p,{\"sid\":\"s1\"}"}};
  sio_log log;
  net::sio_client_options options;
  options.url = peer.url();
  options.nsp = "/p2p";
  net::sio_client client{runner.io, options, log.callbacks()};
  auto started = std::chrono::steady_clock::now();
  client.start();
  REQUIRE(log.wait_connected());
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "ping timeout");
  CHECK(std::chrono::steady_clock::now() - started >= 450ms);  // 300 + 200 ms, minus slack
  // The client sent its CONNECT for /p2p, with no auth payload.
  REQUIRE(peer.wait_received(1));
  CHECK(peer.received()[0] == "40/p2p,");
}

TEST_CASE("sio_client: answers pings with pongs") {
  io_runner runner;
  scripted_server peer{{open_packet, "40{\"sid\":\"s1\"}", "2", "2"}};
  sio_log log;
  net::sio_client_options options;
  options.url = peer.url();
  options.auth_json = R"({"a":1})";
  net::sio_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_connected());
  REQUIRE(peer.wait_received(3));
  CHECK(peer.received() == std::vector<std::string>{R"(40{"a":1})", "3", "3"});
}

TEST_CASE("sio_client: invalid packets close the connection") {
  const std::vector<std::vector<std::string>> scripts{
      {"not an engine.io packet"},
      {"0{\"sid\":\"x\"}"},                               // open packet without heartbeat
      {open_packet, "4{broken"},                          // invalid Socket.IO packet
      // An attachment is announced but a text packet follows instead.
      {open_packet, "40{\"sid\":\"s\"}", R"(451-["e",{"_placeholder":true,"num":0}])", "42[\"e\"]"},
      {open_packet, "40{\"sid\":\"s\"}", "42[\"e\"]", open_packet},  // a second open
      {open_packet, "42[\"e\",1]"},                       // event before CONNECT
  };
  for (const auto& script : scripts) {
    CAPTURE(script.back());
    io_runner runner;
    scripted_server peer{script};
    sio_log log;
    net::sio_client_options options;
    options.url = peer.url();
    net::sio_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed());
    CHECK(starts_with(log.close_reason(), "parse error: "));
  }
}

TEST_CASE("sio_client: CONNECT_ERROR with a string payload and server DISCONNECT") {
  {
    io_runner runner;
    scripted_server peer{{open_packet, "44\"go away\""}};
    sio_log log;
    net::sio_client_options options;
    options.url = peer.url();
    net::sio_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed());
    CHECK(log.close_reason() == "connect error: go away");
  }
  {
    io_runner runner;
    scripted_server peer{{open_packet, "40{\"sid\":\"s\"}", "41"}};
    sio_log log;
    net::sio_client_options options;
    options.url = peer.url();
    net::sio_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed());
    CHECK(log.close_reason() == "io server disconnect");
    CHECK(log.m.read([&] { return log.connected; }));
  }
}

TEST_CASE("sio_client: a peer that never sends the open packet hits the connect timeout") {
  io_runner runner;
  scripted_server peer{std::vector<std::string>{}};
  sio_log log;
  net::sio_client_options options;
  options.url = peer.url();
  options.connect_timeout = 300ms;
  net::sio_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(starts_with(log.close_reason(), "connect timeout"));
}

// ================================ ws_client ======================================================

TEST_CASE("ws_client: sees the Engine.IO open packet of the server") {
  io_runner runner;
  test_server server{runner};
  ws_log log;
  net::ws_client_options options;
  options.url = server.engineio_ws_url();
  options.headers = {{"X-Test", "1"}};
  net::ws_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.m.wait([&] { return !log.messages.empty(); }));
  auto first = log.m.read([&] { return log.messages[0]; });
  CHECK(starts_with(first, "0{"));
  CHECK(contains(first, "\"sid\":"));
  CHECK(log.m.read([&] { return log.opened; }));

  // Speak a little Engine.IO by hand: join "/" and see the CONNECT reply.
  CHECK(client.send("40"));
  REQUIRE(log.m.wait([&] { return log.messages.size() >= 2; }));
  CHECK(starts_with(log.m.read([&] { return log.messages[1]; }), "40{\"sid\":"));

  client.close();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "closed");
  CHECK_FALSE(client.send("41"));
  CHECK(client.queued_bytes() == 0);
}

TEST_CASE("ws_client: a refused connect reports connect failed within the timeout") {
  io_runner runner;
  ws_log log;
  net::ws_client_options options;
  options.url = "ws://127.0.0.1:" + std::to_string(closed_port()) + "/";
  options.connect_timeout = 2000ms;
  net::ws_client client{runner.io, options, log.callbacks()};
  auto started = std::chrono::steady_clock::now();
  client.start();
  REQUIRE(log.wait_closed(3000ms));
  CHECK(std::chrono::steady_clock::now() - started < 2500ms);
  CHECK(starts_with(log.close_reason(), "connect failed: "));
  CHECK_FALSE(log.m.read([&] { return log.opened; }));
}

TEST_CASE("ws_client: a peer that accepts TCP but never answers the upgrade times out") {
  io_runner runner;
  asio::io_context silent_io;
  tcp::acceptor silent{silent_io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
  ws_log log;
  net::ws_client_options options;
  options.url = "ws://127.0.0.1:" + std::to_string(silent.local_endpoint().port());
  options.connect_timeout = 300ms;
  net::ws_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "connect failed: timed out after 300 ms");
}

TEST_CASE("ws_client: invalid URLs are reported clearly") {
  io_runner runner;
  auto closed_with = [&](std::string url) {
    ws_log log;
    net::ws_client_options options;
    options.url = std::move(url);
    net::ws_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed());
    return log.close_reason();
  };
  CHECK(closed_with("ftp://example.com/") ==
        "invalid URL: unsupported scheme 'ftp' (only ws:// and wss:// are supported)");
  CHECK(starts_with(closed_with("http://127.0.0.1:1/"), "invalid URL: unsupported scheme 'http'"));
  CHECK(starts_with(closed_with("127.0.0.1:80"), "invalid URL: expected ws://"));
  CHECK(closed_with("ws:///path") == "invalid URL: missing host");
  CHECK(closed_with("ws://host:99999/") == "invalid URL: invalid port '99999'");
  CHECK(closed_with("ws://host:/") == "invalid URL: empty port");
  CHECK(closed_with("ws://host/a b") == "invalid URL: URL contains a space or control character");
  CHECK(closed_with("") == "invalid URL: expected ws:// or wss://host:port/path, got ''");
  CHECK(closed_with("ws://[::1/") == "invalid URL: unterminated IPv6 address");
}

TEST_CASE("ws_client: wss:// to a server that does not speak TLS, or with a bad CA file, fails clearly") {
  io_runner runner;
  test_server server{runner};
  auto closed_with = [&](std::string url, std::string ca_file = {}) {
    ws_log log;
    net::ws_client_options options;
    options.url = std::move(url);
    options.tls_ca_file = std::move(ca_file);
    options.connect_timeout = 2000ms;
    net::ws_client client{runner.io, options, log.callbacks()};
    client.start();
    REQUIRE(log.wait_closed(3000ms));
    CHECK_FALSE(log.m.read([&] { return log.opened; }));
    return log.close_reason();
  };
  const auto plain_port = std::to_string(server.srv->port());
  CHECK(starts_with(closed_with("wss://127.0.0.1:" + plain_port + "/"),
                    "connect failed: TLS handshake: "));
  CHECK(starts_with(closed_with("wss://127.0.0.1:" + plain_port + "/", "/nonexistent/ca.pem"),
                    "invalid TLS settings: /nonexistent/ca.pem: "));
  CHECK(starts_with(closed_with("wss://127.0.0.1:" + std::to_string(closed_port()) + "/"),
                    "connect failed: "));
}

TEST_CASE("ws_client: the server's HTTP refusal is reported with its status") {
  io_runner runner;
  test_server server{runner};
  ws_log log;
  net::ws_client_options options;
  options.url = "ws://127.0.0.1:" + std::to_string(server.srv->port()) +
                "/socket.io/?EIO=3&transport=websocket";
  net::ws_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "upgrade refused: 400");
}

TEST_CASE("ws_client: an incoming message above max_frame_bytes closes the connection") {
  io_runner runner;
  test_server server{runner};
  ws_log log;
  net::ws_client_options options;
  options.url = server.engineio_ws_url();
  options.max_frame_bytes = 16;  // the open packet is larger
  net::ws_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.wait_closed());
  CHECK(log.close_reason() == "incoming message larger than 16 bytes");
  CHECK(log.m.read([&] { return log.messages.empty(); }));
}

TEST_CASE("ws_client: the outbound queue limit fails send() and closes") {
  io_runner runner;
  test_server server{runner};
  ws_log log;
  net::ws_client_options options;
  options.url = server.engineio_ws_url();
  options.max_queue_bytes = 100;
  net::ws_client client{runner.io, options, log.callbacks()};
  // Not started yet, so nothing drains: the queue fills up.
  CHECK(client.send(std::string(60, 'a')));
  CHECK(client.queued_bytes() == 60);
  CHECK_FALSE(client.send(std::string(60, 'b')));
  REQUIRE(log.wait_closed());
  CHECK(starts_with(log.close_reason(), "send queue limit exceeded"));
  CHECK_FALSE(client.send("x"));
  CHECK(client.queued_bytes() == 0);
}

TEST_CASE("ws_client: a remote close is reported with its code") {
  io_runner runner;
  test_server server{runner};
  ws_log log;
  net::ws_client_options options;
  options.url = server.engineio_ws_url();
  net::ws_client client{runner.io, options, log.callbacks()};
  client.start();
  REQUIRE(log.m.wait([&] { return !log.messages.empty(); }));
  CHECK(client.send("garbage"));  // not Engine.IO: the server closes the session
  REQUIRE(log.wait_closed());
  CHECK(starts_with(log.close_reason(), "closed by peer (code 1000"));
}

TEST_CASE("ws_client and sio_client: no callback runs after the destructor returns") {
  io_runner runner;
  test_server server{runner};
  std::atomic<bool> destroyed{false};
  std::atomic<int> late_callbacks{0};
  auto note = [&] {
    if (destroyed)
      ++late_callbacks;
  };
  for (int round = 0; round < 30; ++round) {
    destroyed = false;
    {
      net::ws_client_callbacks cb;
      cb.on_open = note;
      cb.on_message = [&](std::string) { note(); };
      cb.on_close = [&](std::string) { note(); };
      net::ws_client_options options;
      options.url = server.engineio_ws_url();
      net::sio_client_callbacks scb;
      scb.on_connect = note;
      scb.on_event = [&](std::string, net::sio_args) { note(); };
      scb.on_close = [&](std::string) { note(); };
      auto sio_options = p2p_options(server);

      net::ws_client ws{runner.io, options, cb};
      net::sio_client sio{runner.io, sio_options, scb};
      ws.start();
      sio.start();
      sio.emit("echo", net::sio_args{"[1]", {}}, [&](net::sio_args) { note(); });
      ws.send("40");
      // Destroy at different points of the handshake.
      std::this_thread::sleep_for(std::chrono::microseconds(round * 300));
    }
    destroyed = true;
  }
  std::this_thread::sleep_for(300ms);
  CHECK(late_callbacks == 0);
}

TEST_CASE("ws_client and sio_client: a client may be destroyed from its own callback") {
  io_runner runner;
  test_server server{runner};
  monitor m;
  bool ws_done = false;
  bool sio_done = false;

  std::unique_ptr<net::ws_client> ws;
  net::ws_client_callbacks cb;
  cb.on_message = [&](std::string) {
    m.update([&] {
      ws.reset();
      ws_done = true;
    });
  };
  net::ws_client_options options;
  options.url = server.engineio_ws_url();
  m.update([&] { ws = std::make_unique<net::ws_client>(runner.io, options, cb); });
  m.update([&] { ws->start(); });

  std::unique_ptr<net::sio_client> sio;
  net::sio_client_callbacks scb;
  scb.on_connect = [&] {
    m.update([&] {
      sio.reset();
      sio_done = true;
    });
  };
  m.update([&] {
    sio = std::make_unique<net::sio_client>(runner.io, p2p_options(server), scb);
    sio->start();
  });
  REQUIRE(m.wait([&] { return ws_done && sio_done; }));
  // The server sees the abandoned connections go away.
  CHECK(server.handler.m.wait([&] { return !server.handler.disconnects.empty(); }));
}
