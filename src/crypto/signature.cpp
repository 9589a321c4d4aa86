#include "crypto/signature.hpp"

#include <cryptopp/xed25519.h>

#include "crypto/ed25519.hpp"
#include "util/hex.hpp"

namespace gsio::crypto {

namespace {

// The rule for inputs the fast path could not confirm. Crypto++ computes the cofactorless
// equation and compares by encoding, but checks neither S < L nor the key: those come first.
bool verify_exactly(const std::uint8_t* public_key, const std::uint8_t* message,
                    std::size_t message_size, const std::uint8_t* signature) {
  if (!ed25519::canonical_s(signature) || !ed25519::usable_key(public_key))
    return false;
  try {
    CryptoPP::ed25519::Verifier verifier(public_key);
    return verifier.VerifyMessage(message, message_size, signature, signature_bytes);
  } catch (const CryptoPP::Exception&) {
    return false;
  }
}

}  // namespace

bool verify(const std::uint8_t* public_key, const std::uint8_t* message, std::size_t message_size,
            const std::uint8_t* signature) {
  // The fast path answers only "valid", and only for the rule's own inputs (ed25519.hpp).
  return ed25519::verify_if_fast(public_key, message, message_size, signature) ||
         verify_exactly(public_key, message, message_size, signature);
}

bool verify_hex(std::string_view public_key_hex, std::string_view message_hex,
                std::string_view signature_hex) {
  std::uint8_t public_key[public_key_bytes];
  std::uint8_t message[32];
  std::uint8_t signature[signature_bytes];
  if (!util::is_lower_hex(public_key_hex, 2 * sizeof public_key) ||
      !util::is_lower_hex(message_hex, 2 * sizeof message) ||
      !util::is_lower_hex(signature_hex, 2 * sizeof signature) ||
      !util::from_hex(public_key_hex, public_key, sizeof public_key) ||
      !util::from_hex(message_hex, message, sizeof message) ||
      !util::from_hex(signature_hex, signature, sizeof signature))
    return false;
  return verify(public_key, message, sizeof message, signature);
}

void verify_batch(const signature_job* jobs, std::size_t count, bool* valid) {
  ed25519::verify_batch_if_fast(jobs, count, valid);
  for (std::size_t i = 0; i < count; ++i)
    if (!valid[i])
      valid[i] = verify_exactly(jobs[i].public_key, jobs[i].message, sizeof jobs[i].message,
                                jobs[i].signature);
}

}  // namespace gsio::crypto
