#include "net/admin_server.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "net/detail/listener.hpp"

namespace gsio::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string frame(bool ok, const std::string& text) {
  std::string out = ok ? "ok " : "error ";
  out += std::to_string(text.size());
  out += '\n';
  out += text;
  return out;
}

}  // namespace

class admin_connection;

struct admin_server::impl : std::enable_shared_from_this<admin_server::impl> {
  impl(asio::io_context& io_context, admin_options opts, admin_handler& h)
    : io(io_context), options(std::move(opts)), handler(h),
      listener(std::make_shared<detail::listener>(io)) {}

  asio::io_context& io;
  admin_options options;
  admin_handler& handler;
  const std::shared_ptr<detail::listener> listener;
  std::uint16_t bound_port = 0;

  mutable std::mutex mtx;  // guards the members below
  bool stopped = false;
  admin_connection_id next_id = 1;
  // Owns the connections: while a command is with the handler, no I/O operation holds one.
  std::unordered_map<admin_connection_id, std::shared_ptr<admin_connection>> connections;

  void on_accept(tcp::socket socket);
  void forget(admin_connection_id id) {
    std::lock_guard<std::mutex> guard{mtx};
    connections.erase(id);
  }
};

// One console client. Everything runs on the connection's strand; a reply from another thread is
// posted onto it.
class admin_connection : public std::enable_shared_from_this<admin_connection> {
public:
  admin_connection(tcp::socket socket, std::shared_ptr<admin_server::impl> server,
                   admin_connection_id id)
    : socket_(std::move(socket)), server_(std::move(server)), id_(id),
      deadline_(socket_.get_executor()) {}

  void start() {
    asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
      self->write(frame(true, self->server_->options.greeting), false, true);
    });
  }

  void reply(bool ok, std::string text, bool close_after) {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), ok, text = std::move(text), close_after] {
                 if (!self->awaiting_reply_)
                   return;  // not ours to answer (a duplicate or late reply)
                 self->awaiting_reply_ = false;
                 self->write(frame(ok, text), close_after, !close_after);
               });
  }

  void close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->shutdown(); });
  }

private:
  // Closes the connection unless the operation that follows ends within `limit`.
  void expire_after(std::chrono::milliseconds limit) {
    deadline_.expires_after(limit);
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec)
        self->shutdown();
    });
  }

  void read_line() {
    expire_after(server_->options.idle_timeout);
    auto& limit = server_->options.max_line_bytes;
    asio::async_read_until(
      socket_, asio::dynamic_buffer(input_, limit + 2), '\n',
      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->on_line(ec, n);
      });
  }

  void on_line(boost::system::error_code ec, std::size_t n) {
    deadline_.cancel();  // the handler's reply is not the client's to hurry
    if (ec == asio::error::not_found) {
      write(frame(false, "line too long (the limit is " +
                           std::to_string(server_->options.max_line_bytes) + " bytes)"),
            true, false);
      return;
    }
    if (ec) {
      shutdown();
      return;
    }
    std::string line = input_.substr(0, n - 1);
    input_.erase(0, n);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.size() > server_->options.max_line_bytes) {
      write(frame(false, "line too long (the limit is " +
                           std::to_string(server_->options.max_line_bytes) + " bytes)"),
            true, false);
      return;
    }
    // A web page can make a browser send a request here (fetch with mode no-cors): its header
    // lines would only be refused, but a body line could be a command. An HTTP request line
    // first ends the connection before anything else is read.
    if (std::exchange(first_line_, false) && looks_like_http_request(line)) {
      write(frame(false, "this is the gsio-node debug console, not an HTTP server"), true, false);
      return;
    }
    awaiting_reply_ = true;
    server_->handler.on_command(id_, std::move(line));
  }

  // "GET / HTTP/1.1", "POST /x HTTP/1.0", ...: a method, a target, and an HTTP version.
  static bool looks_like_http_request(std::string_view line) {
    const auto first_space = line.find(' ');
    const auto last_space = line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == 0 || last_space == first_space)
      return false;
    const auto method = line.substr(0, first_space);
    return std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }) &&
           line.substr(last_space + 1).starts_with("HTTP/");
  }

  void write(std::string bytes, bool close_after, bool read_next) {
    output_ = std::move(bytes);
    expire_after(server_->options.write_timeout);
    asio::async_write(socket_, asio::buffer(output_),
                      [self = shared_from_this(), close_after, read_next](
                        boost::system::error_code ec, std::size_t) {
                        self->deadline_.cancel();
                        if (ec || close_after) {
                          self->shutdown();
                          return;
                        }
                        if (read_next)
                          self->read_line();
                      });
  }

  void shutdown() {
    if (closed_)
      return;
    closed_ = true;
    deadline_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->forget(id_);
  }

  tcp::socket socket_;
  std::shared_ptr<admin_server::impl> server_;
  admin_connection_id id_;
  std::string input_;
  std::string output_;
  bool awaiting_reply_ = false;
  bool first_line_ = true;
  bool closed_ = false;
  asio::steady_timer deadline_;
};

void admin_server::impl::on_accept(tcp::socket socket) {
  std::shared_ptr<admin_connection> connection;
  bool over_limit = false;
  {
    std::lock_guard<std::mutex> guard{mtx};
    if (stopped)
      return;
    if (connections.size() >= options.max_connections) {
      over_limit = true;
    } else {
      auto id = next_id++;
      connection = std::make_shared<admin_connection>(std::move(socket), shared_from_this(), id);
      connections.emplace(id, connection);
    }
  }
  if (over_limit) {
    // Say why before closing, so the operator does not see a bare disconnect.
    auto refusal = std::make_shared<std::string>(
      frame(false, "too many console connections (the limit is " +
                     std::to_string(options.max_connections) + ")"));
    auto sock = std::make_shared<tcp::socket>(std::move(socket));
    asio::async_write(*sock, asio::buffer(*refusal),
                      [sock, refusal](boost::system::error_code, std::size_t) {
                        boost::system::error_code ignored;
                        sock->close(ignored);
                      });
  } else {
    connection->start();
  }
}

admin_server::admin_server(asio::io_context& io, admin_options options, admin_handler& handler)
  : impl_(std::make_shared<impl>(io, std::move(options), handler)) {}

admin_server::~admin_server() { stop(); }

void admin_server::start() {
  auto& im = *impl_;
  const auto where = im.options.host + ":" + std::to_string(im.options.port);
  try {
    tcp::resolver resolver{im.io};
    auto endpoints = resolver.resolve(im.options.host, std::to_string(im.options.port),
                                      tcp::resolver::passive | tcp::resolver::numeric_service);
    if (auto failed = im.listener->open(*endpoints.begin()))
      throw boost::system::system_error(failed->ec);
    im.bound_port = im.listener->port();
  } catch (const boost::system::system_error& ex) {
    throw std::runtime_error("cannot listen on " + where + ": " + ex.code().message());
  }
  im.listener->start([weak = std::weak_ptr<impl>(impl_)](tcp::socket socket) {
    if (auto self = weak.lock())
      self->on_accept(std::move(socket));
  });
}

std::uint16_t admin_server::port() const { return impl_->bound_port; }

void admin_server::stop() {
  std::vector<std::shared_ptr<admin_connection>> open;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->stopped)
      return;
    impl_->stopped = true;
    for (auto& [id, connection] : impl_->connections)
      open.push_back(connection);
    impl_->connections.clear();
  }
  impl_->listener->stop();
  for (auto& c : open)
    c->close();
}

void admin_server::reply(admin_connection_id id, bool ok, std::string text, bool close_after) {
  std::shared_ptr<admin_connection> connection;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    auto it = impl_->connections.find(id);
    if (it == impl_->connections.end())
      return;
    connection = it->second;
  }
  connection->reply(ok, std::move(text), close_after);
}

std::size_t admin_server::connections() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->connections.size();
}

}  // namespace gsio::net
