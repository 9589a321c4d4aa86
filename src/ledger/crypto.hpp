#pragma once
// SHA-256, hex helpers and Ed25519 node identity (Crypto++ stays inside crypto.cpp).
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace gsio::ledger {

using digest = std::array<std::uint8_t, 32>;

digest sha256(std::string_view bytes);
std::string to_hex(const std::uint8_t* bytes, std::size_t size);
inline std::string to_hex(const digest& d) { return to_hex(d.data(), d.size()); }
// Decodes lowercase or uppercase hex into exactly `size` bytes; false if malformed or wrong length.
bool from_hex(std::string_view hex, std::uint8_t* out, std::size_t size);
bool is_lower_hex(std::string_view text, std::size_t expected_length);

// Checks a hex Ed25519 signature (64 bytes) by `node_id_hex` (32-byte public key) over the 32 bytes
// that `hash_hex` encodes, by RFC 8032 with its encoding rules (docs/PROTOCOL.md §3). Any
// malformed input is simply "not valid".
bool verify_signature(std::string_view node_id_hex, std::string_view hash_hex,
                      std::string_view signature_hex);

// The node's Ed25519 key pair. Its node id is the lowercase hex of the public key.
class identity {
public:
  static identity from_seed(const std::array<std::uint8_t, 32>& seed);
  static identity generate();
  // Reads `<dir>/node.key` (hex seed), creating it with mode 0600 on first start. Throws
  // std::runtime_error with a clear message when the file is unreadable, malformed or too open.
  static identity load_or_create(const std::filesystem::path& dir);

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

}  // namespace gsio::ledger
