// gsio-relay: the WebSocket relay gsio nodes dial out to (DESIGN.md §6). It forwards P2P envelopes
// between announced nodes and keeps no ledger state, so it may be restarted at any time.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

#include <boost/asio/io_context.hpp>

#include "ledger/membership.hpp"
#include "net/relay_server.hpp"
#include "util/log.hpp"
#include "util/options.hpp"

namespace {

using namespace gsio;

constexpr std::string_view component = "relay";
// After stop(), connections get handshake_timeout to finish their close handshakes; this margin
// on top is the last resort before the io_context is stopped outright.
constexpr auto shutdown_margin = std::chrono::seconds{5};
constexpr std::uint32_t max_io_threads = 64;
constexpr std::uint64_t min_frame_bytes = 1024;

struct relay_cli_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8787;
  std::string token;
  bool require_proof = false;
  std::string networks;  // network.json files of the private networks served, comma-separated
  std::string allowed_hosts;
  std::uint64_t max_frame_bytes = 4 * 1024 * 1024;
  std::uint64_t max_queue_bytes = 8 * 1024 * 1024;
  std::uint64_t max_connections = 10'000;
  std::uint64_t idle_timeout_ms = 20'000;
  std::string log_level = "info";
  std::uint32_t io_threads = 1;
  std::string nats;
  std::string nats_subject_prefix = "gsio";
  std::string nats_creds;
  std::string nats_nkey;
  std::string nats_nkey_seed;
  std::string nats_tls_ca;
  std::string nats_tls_cert;
  std::string nats_tls_key;
  std::uint64_t nats_buffer_bytes = 8 * 1024 * 1024;
};

// Counts running io threads so main can wait for them with a deadline (std::thread has no timed
// join).
class thread_tracker {
public:
  void started() {
    std::lock_guard lock{mutex_};
    ++running_;
  }
  void finished() {
    {
      std::lock_guard lock{mutex_};
      --running_;
    }
    changed_.notify_all();
  }
  bool wait_all(std::chrono::steady_clock::duration limit) {
    std::unique_lock lock{mutex_};
    return changed_.wait_for(lock, limit, [this] { return running_ == 0; });
  }
  bool any_finished_early(std::size_t expected) {
    std::lock_guard lock{mutex_};
    return running_ < expected;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t running_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  relay_cli_options opt;
  util::option_set cli{"gsio-relay",
                       "Relays P2P messages between gsio-net nodes that connect to it over "
                       "WebSocket (ws://HOST:PORT/). GET /health and /stats report its state. The "
                       "token may also come from the environment variable GSIO_RELAY_TOKEN or a "
                       "--config file, which keeps it out of the process list."};
  cli.add("host", "address to listen on", opt.host)
    .add("port", "port to listen on (0 picks a free one)", opt.port)
    .add("token", "network token nodes must present (?token= or Authorization: Bearer); "
                  "empty: none",
         opt.token)
    .add("require-proof",
         "accept only nodes whose NodeAnnounce proves their id (a signature of this "
         "connection's challenge; gsio-node sends one). Without it, unproven nodes are accepted, "
         "but never for an id a proven connection holds",
         opt.require_proof)
    .add("network",
         "network.json files (gsio network create) of the private networks this relay serves, "
         "comma-separated: a node then joins only with a proven key, one of these networks and "
         "proof that an admin of its charter admitted it as a node. Empty: any network, no check",
         opt.networks)
    .add("allowed-hosts",
         "host names /stats and /metrics answer to (they list node ids), comma-separated; "
         ".example.org covers its subdomains, * any name. IP addresses, localhost and this "
         "machine's host name always work (against DNS rebinding)",
         opt.allowed_hosts)
    .add("max-frame-bytes", "largest WebSocket message a node may send; larger ones close "
                            "the connection",
         opt.max_frame_bytes)
    .add("max-queue-bytes", "outbound bytes queued per connection before it is dropped as a "
                            "slow reader",
         opt.max_queue_bytes)
    .add("max-connections", "concurrent node connections; more are refused with HTTP 503",
         opt.max_connections)
    .add("idle-timeout-ms", "a connection silent for half of this is pinged; silent for all of "
                            "it, closed",
         opt.idle_timeout_ms)
    .add("log-level", "trace, debug, info, warn or error", opt.log_level)
    .add("io-threads", "threads running network I/O", opt.io_threads)
    .add("nats",
         "NATS servers to join the network's other relays through, nats://HOST:PORT[,...] (or "
         "tls://); the client moves to another when one fails. Empty: this relay is alone",
         opt.nats)
    .add("nats-subject-prefix",
         "subjects of this network on NATS: PREFIX.broadcast and PREFIX.node.<id>; give each "
         "network sharing a NATS cluster its own",
         opt.nats_subject_prefix)
    .add("nats-creds", "NATS credentials file (user JWT and nkey seed)", opt.nats_creds)
    .add("nats-nkey", "NATS nkey public key (with --nats-nkey-seed)", opt.nats_nkey)
    .add("nats-nkey-seed", "file holding the seed of --nats-nkey", opt.nats_nkey_seed)
    .add("nats-tls-ca", "CA certificates (PEM) to trust for the NATS servers; implies TLS",
         opt.nats_tls_ca)
    .add("nats-tls-cert", "client certificate (PEM) for NATS servers that ask for one",
         opt.nats_tls_cert)
    .add("nats-tls-key", "private key (PEM) of --nats-tls-cert", opt.nats_tls_key)
    .add("nats-buffer-bytes",
         "messages for the other relays held while no NATS server is reachable; beyond this "
         "they are dropped and counted",
         opt.nats_buffer_bytes);
  if (auto exit_code = util::parse_command_line(cli, argc, argv, "gsio-relay", opt.log_level))
    return *exit_code;
  if (opt.token.empty())
    if (const char* from_env = std::getenv("GSIO_RELAY_TOKEN"))
      opt.token = from_env;
  if (opt.token == "change-me-to-a-long-random-string") {
    // The placeholder of deploy/config/relay.conf.example: anyone who read the example knows it.
    std::fprintf(stderr, "gsio-relay: the token is still the example's placeholder; set a secret "
                         "one (e.g. openssl rand -hex 32)\n");
    return 2;
  }
  if (opt.io_threads < 1 || opt.io_threads > max_io_threads) {
    std::fprintf(stderr, "gsio-relay: --io-threads must be 1 to %u\n", max_io_threads);
    return 2;
  }
  if (opt.max_frame_bytes < min_frame_bytes || opt.max_queue_bytes < min_frame_bytes ||
      opt.max_connections < 1) {
    std::fprintf(stderr,
                 "gsio-relay: --max-frame-bytes and --max-queue-bytes must be at least %llu, "
                 "--max-connections at least 1\n",
                 static_cast<unsigned long long>(min_frame_bytes));
    return 2;
  }
  if (opt.idle_timeout_ms < 100 || opt.idle_timeout_ms > 3'600'000) {
    std::fprintf(stderr, "gsio-relay: --idle-timeout-ms must be 100 to 3600000\n");
    return 2;
  }
  if (opt.nats.empty() && (!opt.nats_creds.empty() || !opt.nats_nkey.empty() ||
                           !opt.nats_tls_ca.empty() || !opt.nats_tls_cert.empty())) {
    std::fprintf(stderr, "gsio-relay: the --nats-* options need --nats\n");
    return 2;
  }
  if (!opt.nats_creds.empty() && !opt.nats_nkey.empty()) {
    // libnats would use the nkey and silently drop the credentials file.
    std::fprintf(stderr, "gsio-relay: give either --nats-creds or --nats-nkey, not both\n");
    return 2;
  }
  if (opt.nats_nkey.empty() != opt.nats_nkey_seed.empty() ||
      opt.nats_tls_cert.empty() != opt.nats_tls_key.empty()) {
    std::fprintf(stderr, "gsio-relay: --nats-nkey goes with --nats-nkey-seed, and --nats-tls-cert "
                         "with --nats-tls-key\n");
    return 2;
  }
  if (!opt.nats.empty() && !net::nats_bridge::valid_subject_prefix(opt.nats_subject_prefix)) {
    std::fprintf(stderr, "gsio-relay: --nats-subject-prefix must be dot-separated tokens of "
                         "letters, digits, '-' and '_'\n");
    return 2;
  }
  if (opt.nats_buffer_bytes < min_frame_bytes || opt.nats_buffer_bytes > 1024ull * 1024 * 1024) {
    std::fprintf(stderr, "gsio-relay: --nats-buffer-bytes must be 1024 to 1073741824\n");
    return 2;
  }
  if (opt.max_queue_bytes < opt.max_frame_bytes)
    log::warn(component, "--max-queue-bytes (", opt.max_queue_bytes,
              ") is below --max-frame-bytes (", opt.max_frame_bytes,
              "): a connection with anything queued is dropped when a larger frame arrives");

  // Signals are taken synchronously by this thread; every thread started from here inherits the
  // mask, so no io thread is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  net::relay_options relay_opt;
  relay_opt.host = opt.host;
  relay_opt.port = opt.port;
  relay_opt.token = opt.token;
  relay_opt.require_proof = opt.require_proof;
  if (!opt.networks.empty()) {
    // What each network's charter founded: its admins and first members.
    std::map<std::string, ledger::membership_ptr> served;
    for (const auto& file : util::split_list(opt.networks)) {
      std::ifstream in(file, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      std::string error;
      auto network = in ? ledger::read_network_file(text.str(), error) : std::nullopt;
      if (!network) {
        std::fprintf(stderr, "gsio-relay: --network %s: %s\n", file.c_str(),
                     in ? error.c_str() : std::strerror(errno));
        return 2;
      }
      log::info(component, "serving private network \"", network->founded->name, "\" (id ",
                network->charter.hash, ")");
      relay_opt.private_networks.push_back(network->charter.hash);
      served.emplace(network->charter.hash, network->founded);
    }
    relay_opt.admit_member = [served = std::move(served)](const std::string& network_id, const std::string& node_id,
                                                          const std::string& membership) -> std::string {
      auto it = served.find(network_id);
      if (it == served.end())
        return network_id.empty() ? "this relay serves private networks only"
                                  : "this relay does not serve network " + network_id.substr(0, 16);
      return ledger::check_node_admission(*it->second, node_id, membership).value_or("");
    };
  }
  try {
    relay_opt.allowed_hosts = opt.allowed_hosts.empty()
                                ? gsio::net::default_host_policy({})
                                : gsio::net::parse_host_policy(opt.allowed_hosts);
  } catch (const std::invalid_argument& ex) {
    std::fprintf(stderr, "gsio-relay: --allowed-hosts: %s\n", ex.what());
    return 2;
  }
  relay_opt.max_frame_bytes = opt.max_frame_bytes;
  relay_opt.max_queue_bytes = opt.max_queue_bytes;
  relay_opt.max_connections = opt.max_connections;
  relay_opt.idle_timeout = std::chrono::milliseconds{opt.idle_timeout_ms};
  if (!opt.nats.empty()) {
    net::nats_options nats;
    nats.servers = util::split_list(opt.nats);
    nats.subject_prefix = opt.nats_subject_prefix;
    nats.credentials_file = opt.nats_creds;
    nats.nkey_public = opt.nats_nkey;
    nats.nkey_seed_file = opt.nats_nkey_seed;
    nats.tls_ca_file = opt.nats_tls_ca;
    nats.tls_cert_file = opt.nats_tls_cert;
    nats.tls_key_file = opt.nats_tls_key;
    nats.reconnect_buffer_bytes = opt.nats_buffer_bytes;
    relay_opt.nats = std::move(nats);
  }

  boost::asio::io_context io{static_cast<int>(opt.io_threads)};
  net::relay_server relay{io, relay_opt};
  try {
    relay.start();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "gsio-relay: %s\n", ex.what());
    return 1;
  }

  thread_tracker tracker;
  std::atomic<bool> io_failed{false};
  std::vector<std::thread> threads;
  for (std::uint32_t i = 0; i < opt.io_threads; ++i) {
    tracker.started();
    threads.emplace_back([&] {
      try {
        io.run();
      } catch (const std::exception& ex) {
        log::error(component, "I/O thread failed: ", ex.what());
        io_failed = true;
      }
      tracker.finished();
    });
  }

  log::info(component, "gsio-relay ready on ws://", opt.host, ":", relay.port(),
            opt.token.empty() ? "" : " (token required)");

  int exit_code = 0;
  const timespec tick{0, 200'000'000};
  for (;;) {
    const int sig = sigtimedwait(&stop_signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      log::info(component, "signal ", sig, ": shutting down");
      break;
    }
    // The acceptor keeps the io_context busy, so a thread that returned has failed.
    if (io_failed || tracker.any_finished_early(threads.size())) {
      log::error(component, "an I/O thread stopped; shutting down");
      exit_code = 1;
      break;
    }
  }

  relay.stop();
  if (!tracker.wait_all(relay_opt.handshake_timeout + shutdown_margin)) {
    log::warn(component, "connections did not close in time; stopping anyway");
    io.stop();
  }
  for (auto& thread : threads)
    thread.join();
  log::info(component, "gsio-relay stopped");
  return exit_code;
}
