#pragma once
// Small helpers shared by the unit tests.
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

}  // namespace gsio::test
