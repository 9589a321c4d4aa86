// Scenario (i), large ledgers: how long one get_ledger page takes at given heights of a node's
// chain (one client, one request at a time, the heights in turn so that they share whatever
// else the machine does). A node whose pages get slower deep in a long chain shows it here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <rapidjson/document.h>

#include "bench/common.hpp"
#include "bench/raw_sio_peer.hpp"
#include "util/options.hpp"

namespace gsio::bench {

namespace {

namespace asio = boost::asio;

struct pages_options {
  std::string url;
  std::string at;  // comma-separated heights
  std::uint32_t limit = 100;
  std::uint32_t requests = 200;  // per height
  std::uint64_t timeout_ms = 120000;
};

class pages_run {
public:
  pages_run(pages_options o, std::vector<std::uint64_t> heights)
      : o_(std::move(o)), heights_(std::move(heights)), samples_(heights_.size()), timer_(io_) {}

  int run() {
    raw_sio_callbacks cb;
    cb.on_connect = [this] { next(); };
    cb.on_event = [](std::string_view, std::string_view) {};
    cb.on_close = [this](std::string reason) {
      if (!done_)
        finish("the connection closed: " + reason);
    };
    peer_ = std::make_unique<raw_sio_peer>(io_, o_.url, std::move(cb));
    peer_->start();
    timer_.expires_after(std::chrono::milliseconds(o_.timeout_ms));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !done_)
        finish("timed out after " + std::to_string(o_.timeout_ms) + " ms");
    });
    io_.run();
    peer_.reset();
    print_json([&](json_writer& w) {
      w.StartObject();
      w.Key("scenario"); w.String("pages");
      w.Key("limit"); w.Uint(o_.limit);
      w.Key("pages");
      w.StartArray();
      for (std::size_t i = 0; i < heights_.size(); ++i) {
        w.StartObject();
        w.Key("from"); w.Uint64(heights_[i]);
        w.Key("latency_ms"); write_latency_ms(w, samples_[i]);
        w.EndObject();
      }
      w.EndArray();
      write_error(w, problem_);
      w.EndObject();
    });
    return exit_status("pages", problem_);
  }

private:
  void next() {
    if (sent_ == heights_.size() * o_.requests)
      return finish({});
    const std::size_t which = sent_ % heights_.size();
    ++sent_;
    const auto args = "{\"from\":" + std::to_string(heights_[which]) +
                      ",\"limit\":" + std::to_string(o_.limit) + "}";
    const auto started = steady::now();
    const bool sent = peer_->emit("get_ledger", args, [this, which, started](const std::string& ack) {
      const auto took = micros_since(started, steady::now());
      rapidjson::Document doc;
      doc.Parse(ack.data(), ack.size());
      if (doc.HasParseError() || !doc.IsArray() || doc.Empty() || !doc[0].IsArray() ||
          doc[0].Size() != o_.limit)
        return finish("get_ledger from " + std::to_string(heights_[which]) + " did not answer " +
                      std::to_string(o_.limit) + " entries: " + ack.substr(0, 200));
      samples_[which].push_back(took);
      next();
    });
    if (!sent)
      finish("not connected");
  }

  void finish(std::string problem) {
    if (done_)
      return;
    done_ = true;
    problem_ = std::move(problem);
    timer_.cancel();
    peer_->close();
    io_.stop();
  }

  pages_options o_;
  std::vector<std::uint64_t> heights_;
  std::vector<std::vector<std::uint32_t>> samples_;
  asio::io_context io_;
  asio::steady_timer timer_;
  std::unique_ptr<raw_sio_peer> peer_;
  std::size_t sent_ = 0;
  bool done_ = false;
  std::string problem_;
};

}  // namespace

int run_pages(int argc, char** argv) {
  pages_options o;
  util::option_set options{
    "gsio-bench pages",
    "Times get_ledger pages at the given heights of a node's chain, one request at a time, the\n"
    "heights in turn. Prints {pages: [{from, latency_ms: {p50, p90, p99, p999, max, samples}}]}."};
  options.add("url", "http://host:port of the node (required)", o.url)
    .add("at", "heights to ask a page from, comma-separated (required)", o.at)
    .add("limit", "entries per page", o.limit)
    .add("requests", "pages asked at each height", o.requests)
    .add("timeout-ms", "give up after this long", o.timeout_ms);
  if (auto code = parse_options(options, argc, argv))
    return *code;
  std::vector<std::uint64_t> heights;
  for (const auto& part : util::split_list(o.at)) {
    try {
      heights.push_back(std::stoull(part));
    } catch (const std::exception&) {
      heights.clear();
      break;
    }
  }
  if (o.url.empty() || heights.empty() || o.limit == 0 || o.limit > 1000 || o.requests == 0) {
    std::fprintf(stderr, "gsio-bench pages: --url and --at (heights) are required; --limit must be "
                         "1 to 1000 and --requests positive\n");
    return 2;
  }
  return pages_run(std::move(o), std::move(heights)).run();
}

}  // namespace gsio::bench
