// gsio-bench limits: what the hardware allows, measured in-process: SHA-256 throughput, Ed25519
// sign / verify rates and the latency of a durable 4 KiB append. bench/run.sh scales the
// ingest target by the sign rate measured here.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/common.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "util/hex.hpp"
#include "util/options.hpp"

namespace gsio::bench {

namespace {

// Calls `op` in rounds until `budget` has passed; returns operations per second.
template <class Op>
double rate_of(std::chrono::milliseconds budget, std::uint64_t per_round, Op op) {
  std::uint64_t done = 0;
  const auto start = steady::now();
  auto now = start;
  do {
    for (std::uint64_t k = 0; k < per_round; ++k)
      op();
    done += per_round;
    now = steady::now();
  } while (now - start < budget);
  return static_cast<double>(done) / seconds_between(start, now);
}

struct fsync_result {
  double median_us = 0, p99_us = 0, max_us = 0;
  std::size_t samples = 0;
};

// Appends 4 KiB and fdatasyncs it, `rounds` times, in a fresh temporary file in `dir`: the cost
// of one durable commit, which bounds how often a node can acknowledge a batch.
fsync_result measure_fsync(const std::filesystem::path& dir, int rounds) {
  std::string name = (dir / "gsio-bench-fsync-XXXXXX").string();
  const int fd = mkstemp(name.data());
  if (fd < 0)
    throw std::runtime_error("cannot create a temporary file in " + dir.string() + ": " +
                             std::strerror(errno));
  struct cleanup {
    int fd;
    std::string name;
    ~cleanup() {
      ::close(fd);
      ::unlink(name.c_str());
    }
  } guard{fd, name};
  std::array<char, 4096> block;
  block.fill('x');
  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(rounds));
  for (int i = 0; i < rounds; ++i) {
    const auto start = steady::now();
    std::size_t written = 0;
    while (written < block.size()) {
      const auto n = ::write(fd, block.data() + written, block.size() - written);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        throw std::runtime_error("write to " + name + " failed: " + std::strerror(errno));
      written += static_cast<std::size_t>(n);
    }
    if (::fdatasync(fd) != 0)
      throw std::runtime_error("fdatasync of " + name + " failed: " + std::strerror(errno));
    samples.push_back(std::chrono::duration<double, std::micro>(steady::now() - start).count());
  }
  std::sort(samples.begin(), samples.end());
  return {percentile(samples, 50), percentile(samples, 99), samples.back(), samples.size()};
}

}  // namespace

int run_limits(int argc, char** argv) {
  std::string dir = std::filesystem::temp_directory_path().string();
  std::uint32_t fsync_rounds = 200;
  std::uint64_t budget_ms = 1000;
  util::option_set options{
    "gsio-bench limits",
    "What this machine allows, measured in-process with src/ledger, as JSON: SHA-256 MB/s over\n"
    "1 MiB buffers, Ed25519 sign/s and verify/s on one core (verify: for a key with many\n"
    "entries, which has precomputed tables, one at a time and 32 at a time as pages are, and\n"
    "for a key seen for the first time), and the latency of a 4 KiB write + fdatasync\n"
    "(median / p99 / max, microseconds)."};
  options.add("dir", "directory for the fsync probe; use the file system the data lives on", dir)
    .add("fsync-rounds", "appends to time for the fsync probe", fsync_rounds)
    .add("budget-ms", "time spent on each of the CPU probes, ms", budget_ms);
  switch (options.parse(argc, argv)) {
    case util::option_set::outcome::exit_ok: return 0;
    case util::option_set::outcome::exit_error: return 2;
    case util::option_set::outcome::proceed: break;
  }
  if (fsync_rounds == 0 || budget_ms == 0) {
    std::fprintf(stderr, "gsio-bench limits: --fsync-rounds and --budget-ms must be positive\n");
    return 2;
  }
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "gsio-bench limits: --dir %s is not a directory\n", dir.c_str());
    return 2;
  }
  const std::chrono::milliseconds budget(budget_ms);

  // SHA-256: 1 MiB buffers, as an upper bound for hashing entries (which are much smaller).
  const std::string mib(1 << 20, 'a');
  // An atomic sink keeps the optimizer from dropping work whose result is otherwise unused.
  std::atomic<std::uint8_t> sink{0};
  const double sha_per_s = rate_of(budget, 8, [&] {
    sink.fetch_xor(crypto::sha256(mib)[0], std::memory_order_relaxed);
  });

  // Ed25519 over a 32-byte hash, through the same calls a node makes (hex in, hex out).
  const auto id = crypto::identity::generate();
  const std::string hash_hex = crypto::sha256_hex("gsio-bench");
  const std::string signature = id.sign_hash(hash_hex);
  const double sign_per_s = rate_of(budget, 64, [&] {
    sink.fetch_xor(static_cast<std::uint8_t>(id.sign_hash(hash_hex)[0]), std::memory_order_relaxed);
  });
  // A key that signs many entries (a node's own peers) is verified with precomputed tables; a
  // key seen for the first time by Crypto++'s general verifier (ledger/ed25519.hpp).
  bool all_valid = true;
  const double verify_per_s = rate_of(budget, 64, [&] {
    all_valid = crypto::verify_hex(id.node_id(), hash_hex, signature) && all_valid;
  });
  const double verify_new_key_per_s = rate_of(budget, 64, [&] {
    crypto::ed25519::forget_keys();
    all_valid = crypto::verify_hex(id.node_id(), hash_hex, signature) && all_valid;
  });
  // Pages from peers and a store being loaded are verified 32 entries at a time
  // (ledger::validate_batched), which shares the last step's field inversion.
  constexpr std::size_t batch = 32;
  std::vector<crypto::signature_job> jobs(batch);
  for (auto& job : jobs) {
    util::from_hex(id.node_id(), job.public_key, sizeof job.public_key);
    util::from_hex(hash_hex, job.message, sizeof job.message);
    util::from_hex(signature, job.signature, sizeof job.signature);
  }
  const auto batch_valid = std::make_unique<bool[]>(batch);
  const double verify_batch_per_s = batch * rate_of(budget, 2, [&] {
    crypto::ed25519::verify_batch_if_fast(jobs.data(), batch, batch_valid.get());
    all_valid = std::all_of(batch_valid.get(), batch_valid.get() + batch, [](bool v) { return v; }) &&
                all_valid;
  });
  if (!all_valid) {
    std::fprintf(stderr, "gsio-bench limits: a valid signature failed to verify\n");
    return 1;
  }

  fsync_result fs;
  try {
    fs = measure_fsync(dir, static_cast<int>(fsync_rounds));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gsio-bench limits: %s\n", e.what());
    return 1;
  }

  print_json([&](json_writer& w) {
    w.StartObject();
    w.Key("scenario"); w.String("limits");
    w.Key("sha256_mb_per_s"); w.Double(round_to(sha_per_s * (1 << 20) / 1e6, 1));
    w.Key("ed25519_sign_per_s"); w.Double(std::round(sign_per_s));
    w.Key("ed25519_verify_per_s"); w.Double(std::round(verify_per_s));
    w.Key("ed25519_verify_new_key_per_s"); w.Double(std::round(verify_new_key_per_s));
    w.Key("ed25519_verify_batched_per_s"); w.Double(std::round(verify_batch_per_s));
    w.Key("fsync_4k_append_us");
    w.StartObject();
    w.Key("median"); w.Double(round_to(fs.median_us, 1));
    w.Key("p99"); w.Double(round_to(fs.p99_us, 1));
    w.Key("max"); w.Double(round_to(fs.max_us, 1));
    w.Key("samples"); w.Uint64(fs.samples);
    w.EndObject();
    w.Key("fsync_dir"); w.String(dir.c_str());
    w.EndObject();
  });
  return 0;
}

}  // namespace gsio::bench
