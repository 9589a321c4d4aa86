// gsio-bench: load generator and machine-limit probe for the benchmarks of DESIGN §9.
//
//   gsio-bench ingest --url http://127.0.0.1:3000 --clients 32 --duration-s 10 --window 8
//       Scenario (a): add_ledger_entry throughput and latency            (bench/ingest.cpp)
//   gsio-bench propagation --writer-url URL1 --reader-url URLK --rate 1000     (bench/propagation.cpp)
//       Scenario (b): latency from an add on node 1 to its ledger_entry_added push on node K.
//   gsio-bench fanout --url ws://relay --peers R                                (bench/fanout.cpp)
//       Scenario (c): broadcast deliveries per second through a relay, R raw WebSocket peers.
//   gsio-bench mkstore --dir DIR --entries N; gsio-bench catchup --url URL --height N  (bench/catchup.cpp)
//       Scenario (d): a source store written with src/ledger, then a fresh node's sync rate.
//   gsio-bench idle --url URL --pid PID --clients 10000                         (bench/idle.cpp)
//       Scenario (e): the server's RSS per idle Socket.IO WebSocket client.
//   gsio-bench limits [--dir DIR]                                                (bench/limits.cpp)
//       What the hardware allows, measured in-process with src/ledger: SHA-256 throughput,
//       Ed25519 sign / verify rates and the latency of a durable 4 KiB append.
//
// Each prints one JSON object on stdout; progress and errors go to stderr.
#include <cstdio>
#include <exception>
#include <string_view>

#include "bench/common.hpp"

namespace {

using namespace gsio::bench;

constexpr const char* usage_text =
  R"(usage: gsio-bench <command> [options]

Benchmarks for gsio-net (DESIGN §9). Each command prints one JSON object on stdout.

commands:
  ingest       durable add_ledger_entry throughput and latency against one server (scenario a)
  propagation  latency from an add on one node to its push on another node (scenario b)
  fanout       broadcast deliveries per second through a relay, raw WebSocket peers (scenario c)
  mkstore      write a node data directory holding N signed entries (for scenario d)
  catchup      time a fresh node's sync until its tip matches the source's (scenario d)
  idle         server RSS per idle Socket.IO WebSocket client (scenario e)
  pages        get_ledger page latency at given heights of a node's chain (scenario i)
  limits       what this machine allows: SHA-256 MB/s, Ed25519 sign/verify per second,
               latency of a 4 KiB write + fdatasync

`gsio-bench <command> --help` lists a command's options.

exit codes: 0 success, 1 the run failed (unreachable server, dropped connection, refused adds,
invalid entries, lost messages, timeout), 2 bad usage
)";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(usage_text, stderr);
    return 2;
  }
  const std::string_view command{argv[1]};
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usage_text, stdout);
    return 0;
  }
  try {
    // The command takes argv[0]'s place, so the option parser sees only its own options.
    if (command == "ingest")
      return run_ingest(argc - 1, argv + 1);
    if (command == "limits")
      return run_limits(argc - 1, argv + 1);
    if (command == "propagation")
      return run_propagation(argc - 1, argv + 1);
    if (command == "fanout")
      return run_fanout(argc - 1, argv + 1);
    if (command == "mkstore")
      return run_mkstore(argc - 1, argv + 1);
    if (command == "catchup")
      return run_catchup(argc - 1, argv + 1);
    if (command == "idle")
      return run_idle(argc - 1, argv + 1);
    if (command == "pages")
      return run_pages(argc - 1, argv + 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gsio-bench %s: %s\n", argv[1], e.what());
    return 1;
  }
  std::fprintf(stderr, "gsio-bench: unknown command '%s'\n\n%s", argv[1], usage_text);
  return 2;
}
