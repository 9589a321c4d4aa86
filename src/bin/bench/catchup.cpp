// Scenario (d), catch-up sync, in two commands:
//
//   mkstore  writes a node's data directory (node.key + ledger.db) holding N signed, chained
//            entries, built and stored with src/ledger exactly as a node stores its own appends
//            (ledger::make_entry, ledger::store::append) but in large transactions. Preloading
//            through the client API would take ~35 s per 100k entries; this takes a few seconds
//            and produces the same bytes. gsio-node started on the directory verifies it in full.
//   catchup  watches a fresh node that was just started peered with the source: polls its
//            GET /health until its tip is the source's tip, and reports entries per second.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "bench/common.hpp"
#include "crypto/identity.hpp"
#include "ledger/entry.hpp"
#include "ledger/store.hpp"
#include "util/clock.hpp"

namespace gsio::bench {

namespace {

// ---------------------------------------------------------------------------------------------
// catchup

struct catchup_options {
  std::string url;
  std::uint64_t height = 0;
  std::string tip;
  std::uint64_t poll_ms = 20;
  std::uint64_t timeout_s = 120;
};

// GET <path> over HTTP/1.0 on a fresh TCP connection, blocking; returns the body, or nullopt with
// `error` set. /health is polled this way rather than through a Socket.IO session on purpose: a
// connected client receives ledger_entry_added for every synced entry (and one ledger_reorg with
// all of them), so watching through the client API would add 100k pushes to the work measured.
std::optional<std::string> http_get(const std::string& host, const std::string& port,
                                    const std::string& path, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return std::nullopt;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses{found, &::freeaddrinfo};
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } guard{fd};
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0) {
    error = "connect to " + host + ":" + port + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    error = std::string("send: ") + std::strerror(errno);
    return std::nullopt;
  }
  std::string response;
  char buffer[4096];
  for (;;) {
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      error = std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0)
      break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  const auto body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    error = "not an HTTP response: " + response.substr(0, 100);
    return std::nullopt;
  }
  return response.substr(body + 4);
}

int catchup(const catchup_options& o) {
  // http://host:port
  const std::string_view url{o.url};
  const auto rest = url.substr(url.find("://") + 3);
  const auto colon = rest.rfind(':');
  if (url.rfind("http://", 0) != 0 || colon == std::string_view::npos) {
    std::fprintf(stderr, "gsio-bench catchup: --url must be http://host:port\n");
    return 2;
  }
  const std::string host{rest.substr(0, colon)};
  const std::string port{rest.substr(colon + 1, rest.find('/', colon) - colon - 1)};

  const auto started = steady::now();
  const auto deadline = started + std::chrono::seconds(o.timeout_s);
  steady::time_point first_entry_at{}, done_at{};
  std::uint64_t height = 0;
  std::vector<std::pair<double, std::uint64_t>> samples;
  std::string problem;
  for (;;) {
    const auto asked = steady::now();
    std::string error;
    auto body = http_get(host, port, "/health", error);
    // The answer describes the node somewhere between ask and reply: take the midpoint.
    const auto at = asked + (steady::now() - asked) / 2;
    if (!body) {
      problem = "GET /health: " + error;
      break;
    }
    rapidjson::Document doc;
    doc.Parse(body->data(), body->size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("height") ||
        !doc["height"].IsUint64()) {
      problem = "unexpected /health body: " + body->substr(0, 200);
      break;
    }
    const auto now_height = doc["height"].GetUint64();
    const std::string tip = doc.HasMember("tip_hash") && doc["tip_hash"].IsString()
                              ? doc["tip_hash"].GetString() : "";
    if (now_height > 0 && first_entry_at == steady::time_point{})
      first_entry_at = at;
    if (now_height != height || samples.empty())
      samples.push_back({seconds_between(started, at), now_height});
    height = now_height;
    if (height >= o.height && (o.tip.empty() || tip == o.tip)) {
      done_at = at;
      break;
    }
    if (steady::now() > deadline) {
      problem = "timed out after " + std::to_string(o.timeout_s) + " s at height " +
                std::to_string(height) + " of " + std::to_string(o.height);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(o.poll_ms));
  }

  const bool done = done_at != steady::time_point{};
  const double total = done ? seconds_between(started, done_at) : 0.0;
  const double after_first = done && first_entry_at != steady::time_point{}
                               ? seconds_between(first_entry_at, done_at) : 0.0;
  print_json([&](json_writer& w) {
    w.StartObject();
    w.Key("scenario"); w.String("catchup");
    w.Key("url"); w.String(o.url.c_str());
    w.Key("entries"); w.Uint64(o.height);
    w.Key("reached_height"); w.Uint64(height);
    // From the first poll (right after the fresh node reported ready) until its tip matched.
    w.Key("seconds"); w.Double(round_to(total, 3));
    w.Key("entries_per_s"); w.Double(total > 0 ? round_to(o.height / total, 1) : 0.0);
    // From the first entry seen on the fresh node: excludes link setup and the first announce.
    w.Key("seconds_after_first_entry"); w.Double(round_to(after_first, 3));
    w.Key("entries_per_s_after_first");
    w.Double(after_first > 0 ? round_to(o.height / after_first, 1) : 0.0);
    w.Key("first_entry_after_s");
    w.Double(first_entry_at != steady::time_point{}
               ? round_to(seconds_between(started, first_entry_at), 3) : 0.0);
    // Height over time, thinned to at most ~40 points, to show whether the rate is steady.
    w.Key("progress");
    w.StartArray();
    const std::size_t step = samples.size() / 40 + 1;
    for (std::size_t i = 0; i < samples.size(); i += step) {
      w.StartArray();
      w.Double(round_to(samples[i].first, 3));
      w.Uint64(samples[i].second);
      w.EndArray();
    }
    w.EndArray();
    write_error(w, problem);
    w.EndObject();
  });
  return exit_status("catchup", problem);
}

}  // namespace

int run_mkstore(int argc, char** argv) {
  std::string dir;
  std::uint64_t entries = 100000;
  std::uint32_t batch = 1000;
  std::uint32_t data_bytes = 100;
  util::option_set options{
    "gsio-bench mkstore",
    "Writes a node data directory (node.key, ledger.db) holding N chained entries signed by that\n"
    "node's key, ids one millisecond apart and ending about a second ago, so that any node accepts\n"
    "them. Prints {entries, seconds, tip_hash, height, db_bytes}."};
  options.add("dir", "the data directory to create (must not hold a ledger yet) (required)", dir)
    .add("entries", "how many entries", entries)
    .add("batch", "entries per SQLite transaction", batch)
    .add("data-bytes", "approximate size of each entry's data", data_bytes);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  namespace fs = std::filesystem;
  if (dir.empty() || entries == 0 || batch == 0) {
    std::fprintf(stderr, "gsio-bench mkstore: --dir is required; --entries and --batch must be positive\n");
    return 2;
  }
  if (fs::exists(fs::path{dir} / "ledger.db")) {
    std::fprintf(stderr, "gsio-bench mkstore: %s already holds a ledger\n", dir.c_str());
    return 2;
  }
  const auto started = steady::now();
  const auto self = crypto::identity::load_or_create(dir);
  ledger::store db{dir};
  const std::string filler(data_bytes > 60 ? data_bytes - 60 : 1, 'x');
  // Every id must be in the past (peers refuse entries more than 5 minutes ahead) and strictly
  // increasing: one microsecond apart, the newest a second ago.
  const std::int64_t first_us = util::now_unix_us() - static_cast<std::int64_t>(entries) - 1'000'000;
  std::string previous{ledger::genesis_hash};
  std::vector<ledger::entry> chunk;
  std::vector<const ledger::entry*> pointers;
  chunk.reserve(batch);
  for (std::uint64_t i = 0; i < entries;) {
    chunk.clear();
    for (std::uint32_t k = 0; k < batch && i < entries; ++k, ++i) {
      // Canonical JSON (sorted keys) by construction.
      std::string data = "{\"filler\":\"" + filler + "\",\"gsio_bench\":\"catchup\",\"n\":" +
                         std::to_string(i) + "}";
      chunk.push_back(ledger::make_entry(self, std::move(data), previous,
                                         first_us + static_cast<std::int64_t>(i)));
      previous = chunk.back().hash;
    }
    pointers.clear();
    for (const auto& e : chunk)
      pointers.push_back(&e);
    db.append(pointers);
  }
  const double seconds = seconds_between(started, steady::now());
  std::error_code ec;
  const auto db_bytes = fs::file_size(fs::path{dir} / "ledger.db", ec);
  print_json([&](json_writer& w) {
    w.StartObject();
    w.Key("scenario"); w.String("mkstore");
    w.Key("entries"); w.Uint64(entries);
    w.Key("height"); w.Uint64(entries);
    w.Key("tip_hash"); w.String(previous.c_str());
    w.Key("node_id"); w.String(self.node_id().c_str());
    w.Key("seconds"); w.Double(round_to(seconds, 3));
    w.Key("db_bytes"); w.Uint64(ec ? 0 : db_bytes);
    w.EndObject();
  });
  return 0;
}

int run_catchup(int argc, char** argv) {
  catchup_options o;
  util::option_set options{
    "gsio-bench catchup",
    "Scenario (d): polls a freshly started node's GET /health until its height reaches\n"
    "--height (and its tip is --tip, when given). Start it right after the fresh node reports\n"
    "ready. Prints {seconds, entries_per_s, entries_per_s_after_first, progress, ...}."};
  options.add("url", "the fresh node, http://host:port (required)", o.url)
    .add("height", "the source's height (required)", o.height)
    .add("tip", "the source's tip hash", o.tip)
    .add("poll-ms", "pause between /health queries", o.poll_ms)
    .add("timeout-s", "give up after this long", o.timeout_s);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  if (o.url.empty() || o.height == 0) {
    std::fprintf(stderr, "gsio-bench catchup: --url and --height are required\n");
    return 2;
  }
  return catchup(o);
}

}  // namespace gsio::bench
