#pragma once
// Small helpers shared by the unit tests.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace gsio::test {

// A fresh directory under the system temp dir, removed with everything in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("gsio-unit-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The test vectors directory (tests/vectors, passed by Meson as GSIO_VECTORS).
inline std::filesystem::path vectors_dir() {
  const char* dir = std::getenv("GSIO_VECTORS");
  return dir ? std::filesystem::path(dir)
             : std::filesystem::path(__FILE__).parent_path().parent_path() / "vectors";
}

// One row of tests/vectors/ed25519-edge.tsv (../shared/vectors): a signature case and the
// decision the one signature rule (crypto/signature.hpp) must give it.
struct edge_case {
  std::string name;
  std::string public_key;  // hex, 32 bytes
  std::string message;     // hex, 32 bytes
  std::string signature;   // hex, 64 bytes
  bool valid = false;

  // R = identity and S = 0: [S]B - [k]A = -[k]A, which is R for every message when A has small
  // order. Such a "signature" is the same for any message, so it can be tried on entries and
  // relay proofs whose hash the test cannot choose.
  bool message_independent() const {
    return signature == "01" + std::string(126, '0');
  }
};

inline std::vector<edge_case> edge_cases() {
  std::istringstream lines(read_file(vectors_dir() / "ed25519-edge.tsv"));
  std::vector<edge_case> out;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream fields(line);
    edge_case c;
    std::string valid;
    std::getline(fields, c.name, '\t');
    std::getline(fields, c.public_key, '\t');
    std::getline(fields, c.message, '\t');
    std::getline(fields, c.signature, '\t');
    std::getline(fields, valid, '\t');
    if (valid != "0" && valid != "1")
      throw std::runtime_error("ed25519-edge.tsv: bad line: " + line);
    c.valid = valid == "1";
    out.push_back(std::move(c));
  }
  return out;
}

// s + L, the Ed25519 group order, as 32 little-endian bytes (for s < L the sum fits): the same
// signature scalar written another way, which RFC 8032 refuses.
inline std::array<std::uint8_t, 32> plus_group_order(const std::uint8_t* s) {
  static constexpr std::array<std::uint8_t, 32> order = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};
  std::array<std::uint8_t, 32> sum;
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    const unsigned t = s[i] + order[i] + carry;
    sum[i] = static_cast<std::uint8_t>(t);
    carry = t >> 8;
  }
  return sum;
}

}  // namespace gsio::test
