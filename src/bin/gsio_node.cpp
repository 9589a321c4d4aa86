// gsio-node: one node of a gsio-net network (ledger, durable store, Socket.IO server).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/node.hpp"
#include "ledger/membership.hpp"
#include "ledger/store.hpp"
#include "net/host_check.hpp"
#include "util/log.hpp"
#include "util/options.hpp"

namespace {

struct node_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::string data_dir = "./data";
  std::string network;  // path of network.json; empty: open network
  std::string join;     // a node invite (string or link) to redeem at start
  std::string verify_on_start = "background";
  std::string web_dir;
  std::string advertise;
  std::string log_level = "info";
  std::uint32_t io_threads = 1;
  std::uint32_t workers = 2;
  std::uint64_t ping_interval_ms = 25000;
  std::uint64_t ping_timeout_ms = 20000;
  std::uint64_t connect_timeout_ms = 45000;
  std::uint64_t max_payload = 1'000'000;
  std::uint64_t max_buffered_bytes = 4 * 1024 * 1024;
  std::uint64_t max_connections = 10'000;
  std::uint64_t max_data_bytes = 64 * 1024;
  std::uint32_t max_adds_in_flight = 256;
  std::uint64_t max_page_bytes = 2 * 1024 * 1024;
  std::string cors_origin;
  std::string allowed_hosts;
  std::string relay;
  std::uint32_t relay_links = 1;
  std::string token;
  std::string peers;
  std::uint64_t announce_interval_ms = 2000;
  std::uint64_t peer_expiry_ms = 30000;
  std::uint64_t sync_page_limit = 500;
  std::string admin;
  std::string tls_ca;
};

// The numeric options outside the range the node can work with, as one message (empty: none).
// Zero intervals would spin a core, and huge ones wrap around inside std::chrono.
std::string out_of_range(const node_options& o) {
  struct bound {
    const char* name;
    std::uint64_t value, min, max;
  };
  constexpr std::uint64_t hour_ms = 3'600'000;
  const bound bounds[] = {
    {"io-threads", o.io_threads, 1, 64},
    {"workers", o.workers, 1, 256},
    {"ping-interval-ms", o.ping_interval_ms, 100, hour_ms},
    {"ping-timeout-ms", o.ping_timeout_ms, 100, hour_ms},
    {"connect-timeout-ms", o.connect_timeout_ms, 100, hour_ms},
    {"max-payload", o.max_payload, 1024, std::uint64_t{1} << 30},
    {"max-buffered-bytes", o.max_buffered_bytes, 4096, std::uint64_t{1} << 34},
    {"max-connections", o.max_connections, 1, 1'000'000},
    {"max-data-bytes", o.max_data_bytes, 16, std::uint64_t{1} << 26},
    {"max-adds-in-flight", o.max_adds_in_flight, 1, 65'536},
    {"max-page-bytes", o.max_page_bytes, 65'536, std::uint64_t{1} << 34},
    {"announce-interval-ms", o.announce_interval_ms, 50, hour_ms},
    {"peer-expiry-ms", o.peer_expiry_ms, 1000, 24 * hour_ms},
    {"sync-page-limit", o.sync_page_limit, 1, 1000},
  };
  std::string out;
  for (const auto& b : bounds)
    if (b.value < b.min || b.value > b.max)
      out += (out.empty() ? "--" : "; --") + std::string{b.name} + " must be " +
             std::to_string(b.min) + " to " + std::to_string(b.max) + " (got " +
             std::to_string(b.value) + ")";
  if (out.empty() && o.peer_expiry_ms < 2 * o.announce_interval_ms)
    out = "--peer-expiry-ms (" + std::to_string(o.peer_expiry_ms) +
          ") must be at least twice --announce-interval-ms (" +
          std::to_string(o.announce_interval_ms) + "), or peers expire between their announces";
  return out;
}

// The host name of an http(s):// URL such as --advertise ("" when there is none).
std::string url_host(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos)
    return {};
  auto authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string::npos)
    authority = authority.substr(at + 1);
  return gsio::net::host_of(authority);
}

// --allowed-hosts, or when it is empty: the host of --advertise and this machine's host name
// (IP addresses and localhost always pass). Whatever address the node listens on, a web page could
// reach it through DNS rebinding, so names are never all allowed unless the operator says "*".
std::optional<gsio::net::host_policy> allowed_hosts(const node_options& o, std::string& error) {
  try {
    if (!o.allowed_hosts.empty())
      return gsio::net::parse_host_policy(o.allowed_hosts);
    return gsio::net::default_host_policy({url_host(o.advertise)});
  } catch (const std::invalid_argument& ex) {
    error = std::string{"--allowed-hosts: "} + ex.what();
    return std::nullopt;
  }
}

// --admin: "" (127.0.0.1 on the client port + 1000, or a free port when that is 0), "off",
// "PORT" or "HOST:PORT". False with `error` when the text is none of these.
bool parse_admin(const std::string& text, std::uint16_t client_port, bool& enabled,
                 std::string& host, std::uint16_t& port, std::string& error) {
  enabled = text != "off";
  host = "127.0.0.1";
  if (text.empty()) {
    port = client_port == 0 || client_port > 65535 - 1000 ? 0 : client_port + 1000;
    return true;
  }
  if (!enabled)
    return true;
  auto port_text = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
      host = host.substr(1, host.size() - 2);
  }
  unsigned long value = 0;
  try {
    std::size_t used = 0;
    value = std::stoul(port_text, &used);
    if (used != port_text.size() || value > 65535 || host.empty())
      throw std::invalid_argument{"bad"};
  } catch (const std::exception&) {
    error = "--admin must be off, PORT or HOST:PORT, not '" + text + "'";
    return false;
  }
  port = static_cast<std::uint16_t>(value);
  return true;
}

// The web UI to serve: --web-dir when given ("off": none), else the installed UI next to the
// binary (PREFIX/share/gsio/web), else web/dist of the source tree this binary was built from.
// Returns nullopt with `error` when an explicit directory has no index.html.
std::optional<std::string> resolve_web_dir(const std::string& option, std::string& error) {
  namespace fs = std::filesystem;
  auto usable = [](const fs::path& dir) {
    std::error_code ec;
    return fs::is_regular_file(dir / "index.html", ec);
  };
  if (option == "off")
    return std::string{};
  if (!option.empty()) {
    if (usable(option))
      return option;
    error = "--web-dir " + option + " has no index.html (build the UI with scripts/build-web.sh, "
            "or pass --web-dir off)";
    return std::nullopt;
  }
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec)
    candidates.push_back(exe.parent_path().parent_path() / "share" / "gsio" / "web");
  candidates.push_back(fs::path{GSIO_SOURCE_ROOT} / "web" / "dist");
  for (const auto& dir : candidates)
    if (usable(dir))
      return dir.string();
  return std::string{};
}


using namespace gsio;

}  // namespace

int main(int argc, char** argv) {
  node_options opt;
  util::option_set cli{"gsio-node",
                       "Runs a gsio-net node: a hash-chained ledger of signed JSON entries served "
                       "to clients over Socket.IO. SIGINT/SIGTERM stop it cleanly; SIGUSR1 suspends and "
                       "SIGUSR2 resumes its relay and peer links."};
  cli.add("host", "address to listen on for clients", opt.host)
    .add("port", "port for Socket.IO clients and HTTP (0 picks a free one)", opt.port)
    .add("data-dir", "directory for the node key and the ledger store", opt.data_dir)
    .add("network",
         "network.json of the private network to serve (made by `gsio network create`); the "
         "node then keeps only that network's chain and takes writes only as its member. "
         "Empty: an open network, where anyone who reaches the port can write",
         opt.network)
    .add("join",
         "a node invite (the link or string from `gsio invite --role node`) this node redeems "
         "at start, with --network: its own key becomes a member node",
         opt.join)
    .add("verify-on-start",
         "how the stored ledger is checked at start: background (links and hashes before the "
         "node serves, every signature after it, on low-priority threads; /health says how far "
         "it got as verified_height, and a bad entry stops the node) or full (everything before "
         "it serves, which takes about 30 s per million entries on 2 cores)",
         opt.verify_on_start)
    .add("web-dir",
         "directory of the web UI served at / (default: the installed UI, or web/dist of the "
         "source tree this binary was built from; off: none)",
         opt.web_dir)
    .add("advertise", "address other nodes and clients should use for this node", opt.advertise)
    .add("log-level", "trace, debug, info, warn or error", opt.log_level)
    .add("io-threads", "threads running network I/O", opt.io_threads)
    .add("workers", "threads running actors", opt.workers)
    .add("ping-interval-ms", "Engine.IO heartbeat interval", opt.ping_interval_ms)
    .add("ping-timeout-ms", "Engine.IO heartbeat timeout", opt.ping_timeout_ms)
    .add("connect-timeout-ms", "time a client has to join a namespace", opt.connect_timeout_ms)
    .add("max-payload", "largest HTTP body or WebSocket message from a client, bytes", opt.max_payload)
    .add("max-buffered-bytes", "outbound bytes a client may leave unread for 5 s (4x at any time) before it is dropped as too slow",
         opt.max_buffered_bytes)
    .add("max-connections", "concurrent client connections", opt.max_connections)
    .add("max-data-bytes", "largest entry data (canonical JSON), bytes; the same on every node of a network", opt.max_data_bytes)
    .add("max-adds-in-flight", "unacknowledged add_ledger_entry requests per client",
         opt.max_adds_in_flight)
    .add("max-page-bytes", "entry JSON in one get_ledger answer (at most --max-buffered-bytes); "
         "asking for more gets an error saying how many fit", opt.max_page_bytes)
    .add("cors-origin", "the one other origin whose pages may use this node (\"*\": any; default: "
         "only pages the node serves itself)", opt.cors_origin)
    .add("allowed-hosts",
         "host names clients may reach this node by (the Host header), comma-separated; "
         ".example.org covers its subdomains, * any name. IP addresses and localhost always work. "
         "Default: the host of --advertise and this machine's host name (against DNS rebinding)",
         opt.allowed_hosts)
    .add("relay",
         "relays to join, ws[s]://host:port[,ws[s]://...] (empty: none); a link that loses its "
         "relay fails over to the next one of its share of the list",
         opt.relay)
    .add("relay-links",
         "links to relays kept open at once (1 to the number of --relay urls); link i takes urls "
         "i, i+N, i+2N, ..., so that two links never share a relay",
         opt.relay_links)
    .add("token",
         "shared network token: sent to the relay and to --peer nodes, and required of nodes "
         "joining this one's /p2p",
         opt.token)
    .add("peer", "nodes to peer with directly, http[s]://host:port[,http[s]://...]", opt.peers)
    .add("tls-ca",
         "PEM file of CA certificates to trust for wss:// and https:// links besides the "
         "system's (e.g. a private CA of the relay)",
         opt.tls_ca)
    .add("announce-interval-ms", "how often the node announces its tip to the network",
         opt.announce_interval_ms)
    .add("peer-expiry-ms", "forget nodes silent this long", opt.peer_expiry_ms)
    .add("sync-page-limit", "entries per sync page requested from peers", opt.sync_page_limit)
    .add("admin",
         "debug console address for `gsio console`: HOST:PORT, PORT or off (default: "
         "127.0.0.1, client port + 1000; keep it on loopback, it has no authentication)",
         opt.admin);
  if (auto exit_code = util::parse_command_line(cli, argc, argv, "gsio-node", opt.log_level))
    return *exit_code;
  if (auto problem = out_of_range(opt); !problem.empty()) {
    std::fprintf(stderr, "gsio-node: %s\n", problem.c_str());
    return 2;
  }

  if (opt.verify_on_start != "background" && opt.verify_on_start != "full") {
    std::fprintf(stderr, "gsio-node: --verify-on-start must be background or full (got \"%s\")\n",
                 opt.verify_on_start.c_str());
    return 2;
  }

  bool admin_enabled = true;
  std::string admin_host;
  std::uint16_t admin_port = 0;
  if (std::string error; !parse_admin(opt.admin, opt.port, admin_enabled, admin_host, admin_port, error)) {
    std::fprintf(stderr, "gsio-node: %s\n", error.c_str());
    return 2;
  }

  std::string hosts_error;
  const auto host_policy = allowed_hosts(opt, hosts_error);
  if (!host_policy) {
    std::fprintf(stderr, "gsio-node: %s\n", hosts_error.c_str());
    return 2;
  }

  std::string web_error;
  auto web_dir = resolve_web_dir(opt.web_dir, web_error);
  if (!web_dir) {
    std::fprintf(stderr, "gsio-node: %s\n", web_error.c_str());
    return 2;
  }

  if (const auto relays = util::split_list(opt.relay);
      opt.relay_links < 1 || opt.relay_links > std::max<std::size_t>(relays.size(), 1)) {
    std::fprintf(stderr, "gsio-node: --relay-links must be 1 to the number of --relay urls (%zu), got %u\n",
                 std::max<std::size_t>(relays.size(), 1), opt.relay_links);
    return 2;
  } else if (std::set<std::string>{relays.begin(), relays.end()}.size() != relays.size()) {
    // Two links to one relay would take the node id from each other at every announce.
    std::fprintf(stderr, "gsio-node: --relay names a relay twice\n");
    return 2;
  }

  if (!opt.tls_ca.empty() && ::access(opt.tls_ca.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "gsio-node: cannot read --tls-ca %s: %s\n", opt.tls_ca.c_str(),
                 std::strerror(errno));
    return 2;
  }

  // Signals are taken synchronously by this thread; every thread started from here inherits the mask.
  sigset_t control_signals;
  sigemptyset(&control_signals);
  sigaddset(&control_signals, SIGINT);
  sigaddset(&control_signals, SIGTERM);
  sigaddset(&control_signals, SIGUSR1);  // suspend the relay / peer links
  sigaddset(&control_signals, SIGUSR2);  // resume them
  pthread_sigmask(SIG_BLOCK, &control_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::optional<ledger::network_file> network;
  if (!opt.network.empty()) {
    std::ifstream in(opt.network, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    std::string error;
    if (!in)
      error = std::strerror(errno);
    else
      network = ledger::read_network_file(text.str(), error);
    if (!network) {
      std::fprintf(stderr, "gsio-node: --network %s: %s\n", opt.network.c_str(), error.c_str());
      return 2;
    }
  }

  ledger::validation_limits limits;
  limits.max_data_bytes = opt.max_data_bytes;
  std::shared_ptr<actors::ledger_resources> resources;
  try {
    resources = actors::open_ledger(opt.data_dir, limits,
                                    network ? std::optional{network->charter} : std::nullopt,
                                    opt.verify_on_start == "full" ? ledger::store::check::full
                                                                  : ledger::store::check::except_signatures);
  } catch (const ledger::store_corrupt& ex) {
    std::fprintf(stderr,
                 "gsio-node: refusing to start: the stored ledger in %s is corrupt at entry %s: %s\n",
                 opt.data_dir.c_str(), ex.entry_id.c_str(), ex.reason.c_str());
    return 3;
  } catch (const ledger::store_from_protocol_1& ex) {
    std::fprintf(stderr, "gsio-node: refusing to start: %s\n", ex.what());
    return 3;
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "gsio-node: cannot open the ledger in %s: %s\n", opt.data_dir.c_str(),
                 ex.what());
    return 1;
  }
  if (resources->unverified.empty())
    log::info("node", "node ", resources->self.node_id(), ": ledger verified, height ",
              resources->tree.height());
  else
    log::info("node", "node ", resources->self.node_id(), ": ledger loaded, height ",
              resources->tree.height(), " (links and hashes checked; the signatures of ",
              resources->unverified.size(), " stored entries are verified in the background)");
  if (!opt.join.empty()) {
    std::string error;
    auto invite = ledger::invite_from_text(opt.join, error);
    if (invite)
      error = actors::redeem_node_invite(*resources, *invite);
    if (!error.empty()) {
      std::fprintf(stderr, "gsio-node: --join: %s\n", error.c_str());
      return 2;
    }
    log::info("node", "redeemed the invite: this node is now a member node of the network");
  }
  if (auto members = resources->tree.members_at_tip()) {
    const auto* self_member = members->find(resources->self.node_id());
    log::info("node", "private network \"", members->name, "\" (id ", members->network_id, "): ",
              members->members.size(), " members, reads by ", ledger::to_string(members->read));
    if (!self_member || self_member->r != ledger::role::node)
      log::warn("node", "this node is not a member node of the network: it refuses writes until an "
                "admin admits key ", resources->self.node_id(), " as a node");
  } else {
    log::warn("node", "open network: anyone who can reach this node can add entries (--network "
              "runs a private one, docs/DEPLOY.md)");
  }

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(std::max(1u, opt.workers)));
  cfg.set("logger.verbosity", caf::atom("quiet"));
  // An idle CAF worker spins briefly, then by default polls with 50 µs sleeps for ~500 rounds
  // before it waits on a condition variable. A job handed over from an io thread (every client
  // event and P2P message) to a worker in those sleeps waits out the sleep and its timer slack,
  // because only a worker waiting on the condition variable is woken. Skipping the sleeping
  // rounds makes that hand-off a wake-up: 3 nodes at 1k entries/s went from p50 3.1-4.3 ms to
  // 1.6-1.9 ms (bench/FINDINGS.md), with ingest and catch-up unchanged and less idle CPU.
  cfg.set("work-stealing.moderate-poll-attempts", std::size_t{0});
  actors::register_message_types(cfg);
  caf::actor_system sys{cfg};

  actors::node_config nc;
  auto& gw = nc.gateway;
  gw.host = opt.host;
  gw.port = opt.port;
  gw.io_threads = opt.io_threads;
  gw.ping_interval = std::chrono::milliseconds{opt.ping_interval_ms};
  gw.ping_timeout = std::chrono::milliseconds{opt.ping_timeout_ms};
  gw.connect_timeout = std::chrono::milliseconds{opt.connect_timeout_ms};
  gw.max_payload = opt.max_payload;
  gw.max_buffered_bytes = opt.max_buffered_bytes;
  gw.max_connections = opt.max_connections;
  gw.cors_origin = opt.cors_origin;
  gw.allowed_hosts = *host_policy;
  log::info("node", "answering requests for ", net::describe(*host_policy),
            host_policy->any_name ? "" : " (other Host names get 403; see --allowed-hosts)");
  gw.p2p_token = opt.token;
  if (network) {
    nc.sync.network_id = network->charter.hash;
    nc.sync.membership_proof = actors::admission_proof(resources->tree, resources->self.node_id());
    gw.access.network_id = network->charter.hash;
    gw.access.node_id = resources->self.node_id();
    gw.access.network_name = network->founded->name;
    gw.access.members_only_reads = network->founded->read == ledger::read_policy::members;
    gw.network_name = network->founded->name;
  }
  gw.web_dir = *web_dir;
  if (web_dir->empty())
    log::info("node", "no web UI to serve at / (build it with scripts/build-web.sh, or --web-dir)");
  else
    log::info("node", "serving the web UI from ", *web_dir);
  gw.session.max_adds_in_flight = opt.max_adds_in_flight;
  // A page larger than a client may leave unread would cost it its session.
  gw.session.max_page_bytes = std::min(opt.max_page_bytes, opt.max_buffered_bytes);

  nc.advertise = opt.advertise;
  nc.peer_expiry = std::chrono::milliseconds{opt.peer_expiry_ms};
  auto& so = nc.sync;
  so.announce_interval = std::chrono::milliseconds{opt.announce_interval_ms};
  so.page_limit = opt.sync_page_limit;
  so.limits = limits;
  // A pull must survive a slow peer, and peers announce every interval: scale the planner with it.
  so.planner.request_timeout_ms = std::max<std::int64_t>(10'000, 5 * opt.announce_interval_ms);
  so.planner.stuck_after_ms = 3 * static_cast<std::int64_t>(opt.announce_interval_ms);
  so.planner.full_pull_interval_ms = 15 * static_cast<std::int64_t>(opt.announce_interval_ms);
  so.planner.peer_expiry_ms = static_cast<std::int64_t>(opt.peer_expiry_ms);
  so.planner.max_pull_ms = std::max<std::int64_t>(60'000, 6 * so.planner.request_timeout_ms);
  auto link_to = [&](std::vector<std::string> urls) {
    actors::outbound_link_options lo;
    lo.urls = std::move(urls);
    lo.dial.token = opt.token;
    lo.dial.tls_ca_file = opt.tls_ca;
    return lo;
  };
  const auto relays = util::split_list(opt.relay);
  for (std::size_t i = 0; i < opt.relay_links && i < relays.size(); ++i) {
    std::vector<std::string> share;
    for (std::size_t k = i; k < relays.size(); k += opt.relay_links)
      share.push_back(relays[k]);
    nc.relay_links.push_back(link_to(std::move(share)));
    nc.relay_links.back().dial.private_network = nc.sync.network_id;
  }
  for (auto& peer : util::split_list(opt.peers))
    nc.peer_links.push_back(link_to({peer}));
  if (admin_enabled) {
    actors::console_options co;
    co.host = admin_host;
    co.port = admin_port;
    nc.console = co;
  }

  // The ledger stops when its background check finds a bad stored entry; this says so as a
  // failed check at start would have.
  const auto loaded_ledger = resources;
  std::unique_ptr<actors::node> node;
  try {
    node = std::make_unique<actors::node>(sys, std::move(resources), std::move(nc));
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "gsio-node: cannot start: %s\n", ex.what());
    return 1;
  }
  int exit_code = 0;
  std::string error;
  if (auto port = node->wait_ready(error)) {
    log::info("node", "gsio-node ready on http://", opt.host, ":", *port, " (data in ",
              opt.data_dir, ")");
    timespec tick{0, 200'000'000};
    while (!node->core_actor_died()) {
      int sig = sigtimedwait(&control_signals, nullptr, &tick);
      if (sig == SIGINT || sig == SIGTERM) {
        log::info("node", "signal ", sig, ": shutting down");
        break;
      }
      if (sig == SIGUSR1 || sig == SIGUSR2) {
        log::info("node", sig == SIGUSR1 ? "SIGUSR1: suspending" : "SIGUSR2: resuming",
                  " the network links");
        if (sig == SIGUSR1)
          node->suspend_links();
        else
          node->resume_links();
      }
    }
    if (node->core_actor_died() && !loaded_ledger->corrupt()) {
      log::error("node", "a core actor stopped; shutting down");
      exit_code = 1;
    }
  } else if (!loaded_ledger->corrupt()) {
    log::error("node", error);
    exit_code = 1;
  }
  // Found before the node got ready or after: either way the node says which entry, and stops.
  if (auto bad = loaded_ledger->corrupt()) {
    std::fprintf(stderr,
                 "gsio-node: refusing to serve: the stored ledger in %s is corrupt at entry %s: %s\n",
                 opt.data_dir.c_str(), bad->entry_id.c_str(), bad->reason.c_str());
    exit_code = 3;
  }
  if (auto tip = node->stop())
    log::info("node", "stopped at height ", tip->height);
  return exit_code;
}
