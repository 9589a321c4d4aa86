#pragma once
// The listening side of a TCP server: the Socket.IO server, the relay and the admin console each
// hold one.
//
// listener binds, accepts each connection onto a strand of its own (a strand_type, so that a
// WebSocket built on the connection can use it as its strand) and hands it to the server, which
// admits or refuses it. After an accept error (usually: out of file descriptors) it pauses
// before accepting again instead of spinning, and recovers on its own.
//
// connection_set holds the connections a server has not yet handed on (its HTTP connections):
// bounded, so that idle sockets cannot pile up, and closed as a whole when the server stops.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/error_code.hpp>

namespace gsio::net::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;

class listener : public std::enable_shared_from_this<listener> {
public:
  // Called on the listener's strand with each accepted socket, whose executor is a strand_type of
  // its own. Hold the server weakly: the listener holds this function.
  using accept_handler = std::function<void(tcp::socket socket)>;
  // Called on an accept error, before the pause. May be empty.
  using error_handler = std::function<void(const boost::system::error_code& ec)>;

  explicit listener(asio::io_context& io);
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  struct failure {
    const char* step;  // "open", "SO_REUSEADDR", "bind" or "listen"
    boost::system::error_code ec;
  };
  // Opens the socket, binds it to `endpoint` (with SO_REUSEADDR) and listens; on failure, the
  // step that failed.
  std::optional<failure> open(const tcp::endpoint& endpoint);
  // The bound port (the chosen one when the endpoint's was 0); 0 before open().
  std::uint16_t port() const { return port_; }

  // Starts accepting. Call once, after open().
  void start(accept_handler on_accept, error_handler on_error = {});
  // Stops accepting and closes the socket. Idempotent; any thread.
  void stop();

private:
  void accept_next();
  void on_accept(boost::system::error_code ec, tcp::socket socket);

  asio::io_context& io_;
  tcp::acceptor acceptor_;  // on a strand of its own
  asio::steady_timer retry_;
  std::atomic<bool> stopped_{false};
  std::uint16_t port_ = 0;
  accept_handler on_accept_;
  error_handler on_error_;
};

template <class T>
class connection_set {
public:
  enum class admission { admitted, stopping, full };

  // Admits `connection` unless close() has run or `limit` connections are held.
  admission add(const std::shared_ptr<T>& connection, std::size_t limit) {
    std::lock_guard<std::mutex> lock{mutex_};
    if (closed_)
      return admission::stopping;
    if (members_.size() >= limit)
      return admission::full;
    members_.emplace(connection.get(), connection);
    return admission::admitted;
  }
  void remove(const T* connection) {
    std::lock_guard<std::mutex> lock{mutex_};
    members_.erase(connection);
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return members_.size();
  }
  // Admits no more and returns the connections still alive: a connection is either among them or
  // refused with `stopping`, so none outlives the stop.
  std::vector<std::shared_ptr<T>> close() {
    std::vector<std::shared_ptr<T>> open;
    std::lock_guard<std::mutex> lock{mutex_};
    closed_ = true;
    for (const auto& [key, weak] : members_)
      if (auto connection = weak.lock())
        open.push_back(std::move(connection));
    return open;
  }

private:
  mutable std::mutex mutex_;
  bool closed_ = false;
  // Held weakly: a connection lives as long as its pending operations, and removes itself.
  std::unordered_map<const T*, std::weak_ptr<T>> members_;
};

}  // namespace gsio::net::detail
