#pragma once
// An Ed25519 key pair that signs: a node's identity (Crypto++ stays inside identity.cpp).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace gsio::crypto {

// The node's Ed25519 key pair. Its node id is the lowercase hex of the public key.
class identity {
public:
  static identity from_seed(const std::array<std::uint8_t, 32>& seed);
  static identity generate();
  // Reads `<dir>/node.key` (hex seed), creating it with mode 0600 on first start. Throws
  // std::runtime_error with a clear message when the file is unreadable, malformed or too open.
  static identity load_or_create(const std::filesystem::path& dir);
  // A key file of its own (an author's, an admin's): the hex seed, mode 0600. create_file never
  // overwrites one; load_file refuses one that others can read. Both throw std::runtime_error.
  static identity create_file(const std::filesystem::path& file);
  static identity load_file(const std::filesystem::path& file);

  identity(identity&&) noexcept;
  identity& operator=(identity&&) noexcept;
  ~identity();

  const std::string& node_id() const { return node_id_; }
  // Hex Ed25519 signature over the 32 bytes encoded by `hash_hex`. Deterministic.
  std::string sign_hash(std::string_view hash_hex) const;
  std::string seed_hex() const;

private:
  struct impl;
  explicit identity(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
  std::string node_id_;
};

}  // namespace gsio::crypto
