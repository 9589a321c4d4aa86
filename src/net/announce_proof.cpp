#include "net/announce_proof.hpp"

#include "net/p2p_message.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <memory>
#include <optional>

namespace gsio::net {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;  // upper case is not the canonical spelling of an id or a signature
}

template <std::size_t N>
std::optional<std::array<unsigned char, N>> from_hex(std::string_view text) {
  if (text.size() != 2 * N)
    return std::nullopt;
  std::array<unsigned char, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const int high = hex_value(text[2 * i]);
    const int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0)
      return std::nullopt;
    out[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return out;
}

std::array<unsigned char, SHA256_DIGEST_LENGTH> digest_bytes(std::string_view challenge,
                                                             std::string_view node_id) {
  std::string text = "gsio-relay-announce\n";
  text.append(challenge).append("\n").append(node_id);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> out{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), out.data());
  return out;
}

}  // namespace

std::string new_challenge() { return random_hex(32); }

std::string announce_proof_digest(std::string_view challenge, std::string_view node_id) {
  const auto digest = digest_bytes(challenge, node_id);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out.push_back(hex[byte >> 4]);
    out.push_back(hex[byte & 0x0f]);
  }
  return out;
}

bool verify_announce_proof(std::string_view challenge, std::string_view node_id,
                           std::string_view signature_hex) {
  const auto key = from_hex<32>(node_id);
  const auto signature = from_hex<64>(signature_hex);
  if (!key || !signature)
    return false;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{
    EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key->data(), key->size()),
    &EVP_PKEY_free};
  if (!pkey)
    return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), &EVP_MD_CTX_free};
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
    return false;
  const auto digest = digest_bytes(challenge, node_id);
  return EVP_DigestVerify(ctx.get(), signature->data(), signature->size(), digest.data(),
                          digest.size()) == 1;
}

}  // namespace gsio::net
