#include "cli/node_client.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "ledger/canonical_json.hpp"
#include "ledger/json_print.hpp"
#include "net/sio_client.hpp"

namespace gsio::cli {

namespace asio = boost::asio;

// Shared with the client's callbacks, which may still be queued on the I/O thread after a
// request gave up waiting; shared ownership keeps them from touching freed memory.
struct node_client::shared_state {
  std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  bool closed = false;
  std::string close_reason;
  event_handler on_event;
  bool auth_seen = false;        // the node's `auth` event, sent after any challenge
  std::string challenge_json;    // its `challenge` event's args, if one came
};

struct node_client::io_runner {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  std::unique_ptr<net::sio_client> client;
  std::thread thread;
};

namespace {

// The sio_client's close reasons say which side is at fault: bad input of ours, a peer that
// does not speak the protocol, or a network that is not there.
exit_code classify_close(const std::string& reason) {
  if (reason.rfind("invalid URL", 0) == 0)
    return exit_usage;
  if (reason.rfind("parse error", 0) == 0)
    return exit_malformed;
  return exit_unreachable;
}

}  // namespace

node_client::node_client(std::string url, std::chrono::milliseconds timeout, event_handler on_event)
  : url_(std::move(url)), timeout_(timeout), state_(std::make_shared<shared_state>()),
    io_(std::make_unique<io_runner>()) {
  state_->on_event = std::move(on_event);
}

node_client::~node_client() {
  if (io_->client) {
    // Leave the namespace politely, but never wait long for a node that is gone.
    io_->client->close();
    std::string ignored;
    wait_closed(std::chrono::milliseconds{500}, ignored);
    // Destroyed without our mutex held: the destructor waits for running callbacks, which lock it.
    io_->client.reset();
  }
  io_->work.reset();
  io_->io.stop();
  if (io_->thread.joinable())
    io_->thread.join();
}

void node_client::throw_closed(const std::string& reason, const std::string& doing) const {
  const exit_code code = classify_close(reason);
  if (code == exit_usage)
    throw cli_error(code, "bad node URL '" + url_ + "': " + reason);
  if (code == exit_malformed)
    throw cli_error(code, "malformed answer from the node at " + url_ + " while " + doing + ": " +
                            reason);
  throw cli_error(code, "node at " + url_ + " unreachable while " + doing + ": " + reason);
}

void node_client::connect() {
  net::sio_client_options options;
  options.url = url_;
  options.connect_timeout = timeout_;
  net::sio_client_callbacks callbacks;
  std::weak_ptr<shared_state> weak = state_;
  callbacks.on_connect = [weak] {
    if (auto st = weak.lock()) {
      std::lock_guard lock{st->mutex};
      st->connected = true;
      st->changed.notify_all();
    }
  };
  callbacks.on_close = [weak](std::string reason) {
    if (auto st = weak.lock()) {
      std::lock_guard lock{st->mutex};
      st->closed = true;
      st->close_reason = std::move(reason);
      st->changed.notify_all();
    }
  };
  callbacks.on_event = [weak](std::string event, net::sio_args args) {
    auto st = weak.lock();
    if (st && (event == "challenge" || event == "auth")) {
      std::lock_guard lock{st->mutex};
      if (event == "challenge")
        st->challenge_json = args.json;
      else
        st->auth_seen = true;
      st->changed.notify_all();
    }
    // on_event is set before connect() and never changed, so reading it unlocked is safe; the
    // handler may print, and printing under our mutex would only delay waiters.
    if (st && st->on_event)
      st->on_event(event, args.json);
  };
  io_->client = std::make_unique<net::sio_client>(io_->io, std::move(options), std::move(callbacks));
  io_->thread = std::thread([runner = io_.get()] { runner->io.run(); });
  io_->client->start();

  std::unique_lock lock{state_->mutex};
  // The sio_client bounds the handshake by connect_timeout itself; the extra second only guards
  // against that timer never reporting.
  const bool settled = state_->changed.wait_for(lock, timeout_ + std::chrono::seconds{1}, [&] {
    return state_->connected || state_->closed;
  });
  if (state_->connected)
    return;
  const std::string reason = settled ? state_->close_reason : "no answer in time";
  lock.unlock();
  throw_closed(reason, "connecting");
}

std::string node_client::challenge() {
  std::unique_lock lock{state_->mutex};
  if (!state_->changed.wait_for(lock, timeout_, [&] { return state_->auth_seen || state_->closed; }))
    throw cli_error(exit_malformed, "the node at " + url_ + " sent no auth event after connecting");
  return state_->challenge_json;
}

std::string node_client::request(const std::string& event, const std::string& args_json) {
  struct reply {
    bool done = false;
    std::string json;
  };
  auto answer = std::make_shared<reply>();
  std::weak_ptr<shared_state> weak = state_;
  const bool sent = io_->client && io_->client->emit(event, net::sio_args{args_json, {}},
                                                     [weak, answer](net::sio_args args) {
                                                       auto st = weak.lock();
                                                       if (!st)
                                                         return;
                                                       std::lock_guard lock{st->mutex};
                                                       answer->done = true;
                                                       answer->json = std::move(args.json);
                                                       st->changed.notify_all();
                                                     });
  std::unique_lock lock{state_->mutex};
  if (!sent) {
    if (state_->closed) {
      const std::string reason = state_->close_reason;
      lock.unlock();
      throw_closed(reason, event);
    }
    // Our own arguments are built from validated JSON, so a refusal means the client is closing.
    throw cli_error(exit_unreachable, "node at " + url_ + ": could not send " + event);
  }
  state_->changed.wait_for(lock, timeout_, [&] { return answer->done || state_->closed; });
  if (answer->done)
    return std::move(answer->json);
  if (state_->closed) {
    const std::string reason = state_->close_reason;
    lock.unlock();
    throw_closed(reason, event);
  }
  throw cli_error(exit_unreachable, "node at " + url_ + " did not answer " + event + " within " +
                                      std::to_string(timeout_.count()) + " ms");
}

bool node_client::wait_closed(std::chrono::milliseconds wait, std::string& reason) {
  std::unique_lock lock{state_->mutex};
  if (!state_->changed.wait_for(lock, wait, [&] { return state_->closed; }))
    return false;
  reason = state_->close_reason;
  return true;
}

[[noreturn]] void malformed(const std::string& url, const std::string& what) {
  throw cli_error(exit_malformed, "malformed answer from the node at " + url + ": " + what);
}

// Parses an ack's argument array into `doc` and returns its first argument.
const rapidjson::Value& first_argument(const node_client& client, const std::string& event,
                                       const std::string& ack_json, rapidjson::Document& doc) {
  std::string error;
  if (!ledger::parse_json(ack_json, doc, error))
    malformed(client.url(), event + " ack: " + error);
  if (!doc.IsArray() || doc.Empty())
    malformed(client.url(), event + " ack carries no value");
  return doc[0];
}

// The node answers a refused request with {error: "..."}; that is exit code 1.
void throw_if_refused(const rapidjson::Value& answer, const std::string& event) {
  if (!answer.IsObject())
    return;
  auto it = answer.FindMember("error");
  if (it == answer.MemberEnd())
    return;
  const std::string reason =
    it->value.IsString() ? std::string{it->value.GetString(), it->value.GetStringLength()}
                         : ledger::to_json_text(it->value, false);
  throw cli_error(exit_refused, "the node refused " + event + ": " + reason);
}

}  // namespace gsio::cli
