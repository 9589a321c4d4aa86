#include "cli/console_client.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/node_client.hpp"

namespace gsio::cli {

namespace {

constexpr std::size_t max_header_bytes = 64;
constexpr std::size_t max_reply_bytes = 64 * 1024 * 1024;

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits until `fd` is ready for `events`; false on timeout.
bool wait_for(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0)
      return true;
    if (n == 0)
      return false;
    if (errno != EINTR)
      return false;
  }
}

}  // namespace

bool parse_host_port(const std::string& text, std::string& host, std::uint16_t& port) {
  host = "127.0.0.1";
  std::string port_text = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const auto value = std::stoul(port_text);
  if (value == 0 || value > 65535)
    return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

console_client::console_client(std::string host, std::uint16_t port,
                               std::chrono::milliseconds connect_timeout,
                               std::chrono::milliseconds reply_timeout)
  : reply_timeout_(reply_timeout) {
  address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
             std::to_string(port);
  const auto deadline = std::chrono::steady_clock::now() + connect_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    throw cli_error(exit_unreachable,
                    "cannot resolve " + host + ": " + std::string{::gai_strerror(rc)});
  std::string last_error = "no address";
  for (addrinfo* a = found; a && fd_ < 0; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0)
      continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        last_error = "timed out";
        ::close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0)
    throw cli_error(exit_unreachable,
                    "cannot reach the debug console at " + address_ + ": " + last_error +
                      " (is the node running, and is its --admin address this one?)");
  auto hello = read_reply(connect_timeout);
  if (!hello.ok)
    throw cli_error(exit_unreachable, "the console at " + address_ + " refused: " + hello.text);
  greeting_ = std::move(hello.text);
}

console_client::~console_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

console_client::reply console_client::run(const std::string& line) {
  if (line.find('\n') != std::string::npos)
    throw cli_error(exit_usage, "a console command is one line");
  std::string out = line + "\n";
  const auto deadline = std::chrono::steady_clock::now() + reply_timeout_;
  std::size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd_, POLLOUT, deadline))
      continue;
    throw cli_error(exit_unreachable, "lost the connection to the console at " + address_);
  }
  return read_reply(reply_timeout_);
}

void console_client::fill(std::chrono::steady_clock::time_point deadline) {
  char chunk[16384];
  for (;;) {
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return;
    }
    if (n == 0)
      throw cli_error(exit_unreachable, "the console at " + address_ + " closed the connection");
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      throw cli_error(exit_unreachable, "lost the connection to the console at " + address_ +
                                          ": " + std::strerror(errno));
    if (!wait_for(fd_, POLLIN, deadline))
      throw cli_error(exit_unreachable, "no answer from the console at " + address_ + " in time");
  }
}

std::string console_client::read_until_newline(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      auto line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > max_header_bytes)
      throw cli_error(exit_malformed, "the console at " + address_ + " sent a malformed reply");
    fill(deadline);
  }
}

console_client::reply console_client::read_reply(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto header = read_until_newline(deadline);
  reply r;
  std::string length_text;
  if (header.rfind("ok ", 0) == 0) {
    r.ok = true;
    length_text = header.substr(3);
  } else if (header.rfind("error ", 0) == 0) {
    length_text = header.substr(6);
  } else {
    throw cli_error(exit_malformed, "the console at " + address_ + " sent a malformed reply: '" +
                                      header.substr(0, 40) + "'");
  }
  if (length_text.empty() || length_text.size() > 9 ||
      length_text.find_first_not_of("0123456789") != std::string::npos)
    throw cli_error(exit_malformed, "the console at " + address_ + " sent a bad reply length");
  const auto length = std::stoul(length_text);
  if (length > max_reply_bytes)
    throw cli_error(exit_malformed, "the console at " + address_ + " sent a reply of " +
                                      length_text + " bytes, more than this client accepts");
  while (buffer_.size() < length)
    fill(deadline);
  r.text = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return r;
}

}  // namespace gsio::cli
