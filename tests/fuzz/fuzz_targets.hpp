#pragma once
// Fuzz targets for the parsers that take bytes from the network or the disk, shared by the
// libFuzzer binaries (fuzz_main.cpp, built with -Dfuzz=true) and by the replay test that runs in
// every build (replay_test.cpp). Each target feeds its input to the code under test and checks
// properties that must hold for every input: no crash, no sanitizer report, and the invariants
// it names (a decoded packet encodes back to the same packet, a parse does not depend on how the
// bytes were split, ...). A broken invariant throws invariant_broken, which libFuzzer reports as
// a crash and the replay test as a failure.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace gsio::fuzz {

struct invariant_broken : std::logic_error {
  using std::logic_error::logic_error;
};

inline void require(bool holds, const std::string& what) {
  if (!holds)
    throw invariant_broken(what);
}

using target_fn = void (*)(const std::uint8_t* data, std::size_t size);

struct target {
  const char* name;  // also the name of its corpus folder under tests/fuzz/corpus
  target_fn run;
};

// WebSocket frames, Engine.IO and Socket.IO packets, P2P envelopes (fuzz_net.cpp).
void ws_frames(const std::uint8_t* data, std::size_t size);
void engineio_packets(const std::uint8_t* data, std::size_t size);
void socketio_packets(const std::uint8_t* data, std::size_t size);
void p2p_envelopes(const std::uint8_t* data, std::size_t size);

// Canonical JSON, numbers, entries and Ed25519 verification (fuzz_ledger.cpp).
void canonical_json(const std::uint8_t* data, std::size_t size);
void canonical_numbers(const std::uint8_t* data, std::size_t size);
void entries(const std::uint8_t* data, std::size_t size);
void ed25519_verify(const std::uint8_t* data, std::size_t size);

inline constexpr target all_targets[] = {
  {"ws_frames", ws_frames},
  {"engineio_packets", engineio_packets},
  {"socketio_packets", socketio_packets},
  {"p2p_envelopes", p2p_envelopes},
  {"canonical_json", canonical_json},
  {"canonical_numbers", canonical_numbers},
  {"entries", entries},
  {"ed25519_verify", ed25519_verify},
};

}  // namespace gsio::fuzz
