#pragma once
// A blocking request/answer wrapper around net::sio_client for the gsio command-line tool.
//
// The Socket.IO client runs on a private io_context in one background thread; the calling
// thread blocks on a condition variable until the namespace is joined, an ack arrives, the
// connection closes or the timeout passes. Every way of failing becomes a cli_error carrying the
// process exit code, so the commands never hang on a dead node and never crash on a bad answer.
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <rapidjson/document.h>

namespace gsio::cli {

// The exit codes of `gsio`, documented in `gsio --help`.
enum exit_code : int {
  exit_ok = 0,
  exit_refused = 1,      // the node answered with {error}
  exit_usage = 2,        // bad command line or input
  exit_unreachable = 3,  // cannot connect, connection dropped, or no answer in time
  exit_verify_failed = 4,
  exit_malformed = 5,    // the node's answer is not what the protocol promises
};

class cli_error : public std::runtime_error {
public:
  cli_error(exit_code code, const std::string& message)
    : std::runtime_error(message), code_(code) {}
  exit_code code() const { return code_; }

private:
  exit_code code_;
};

class node_client {
public:
  // Called on the client's I/O thread, one event at a time: event name and its JSON args array.
  using event_handler = std::function<void(const std::string& event, const std::string& args_json)>;

  node_client(std::string url, std::chrono::milliseconds timeout, event_handler on_event = {});
  ~node_client();
  node_client(const node_client&) = delete;
  node_client& operator=(const node_client&) = delete;

  // Joins the node's "/" namespace. Throws cli_error (unreachable, usage for a bad URL,
  // malformed when the peer does not speak Socket.IO properly).
  void connect();

  // Emits `event` with `args_json` (a JSON array) and waits for the ack; returns the ack's
  // arguments as a JSON array text. Throws cli_error when the connection closes or times out.
  std::string request(const std::string& event, const std::string& args_json);

  // The `challenge` event of a private network's node (its JSON args array), or "" when the node
  // sent none (an open network): waits for the `auth` event every node sends after it.
  std::string challenge();

  // Waits up to `wait` for the connection to close; returns true (and the reason) if it has.
  bool wait_closed(std::chrono::milliseconds wait, std::string& reason);

  const std::string& url() const { return url_; }

private:
  struct shared_state;
  [[noreturn]] void throw_closed(const std::string& reason, const std::string& doing) const;

  std::string url_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<shared_state> state_;
  struct io_runner;
  std::unique_ptr<io_runner> io_;
};

// A node's answer that breaks the protocol: exit code 5, naming the node and what was wrong.
[[noreturn]] void malformed(const std::string& url, const std::string& what);

// Parses an ack's argument array (node_client::request's answer) into `doc` and returns its
// first argument; malformed() when there is none.
const rapidjson::Value& first_argument(const node_client& client, const std::string& event,
                                       const std::string& ack_json, rapidjson::Document& doc);

// The node answers a refused request with {error: "..."}: exit code 1 with its reason.
void throw_if_refused(const rapidjson::Value& answer, const std::string& event);

}  // namespace gsio::cli
