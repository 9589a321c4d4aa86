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
