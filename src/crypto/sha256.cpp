#include "crypto/sha256.hpp"

#include <cryptopp/sha.h>

#include "util/hex.hpp"

namespace gsio::crypto {

digest sha256(std::string_view bytes) {
  digest out;
  CryptoPP::SHA256().CalculateDigest(out.data(), reinterpret_cast<const CryptoPP::byte*>(bytes.data()),
                                     bytes.size());
  return out;
}

std::string sha256_hex(std::string_view bytes) { return util::to_hex(sha256(bytes)); }

}  // namespace gsio::crypto
