#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <cryptopp/xed25519.h>
#include <rapidjson/document.h>

#include "crypto/ed25519.hpp"
#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "fuzz/fuzz_targets.hpp"
#include "ledger/canonical_json.hpp"
#include "ledger/entry.hpp"
#include "ledger/validation.hpp"
#include "util/hex.hpp"

namespace gsio::fuzz {
namespace {

std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A fixed clock, so that a saved input always takes the same path (2027-01-15).
constexpr std::chrono::milliseconds fixed_now{1'800'000'000'000};

std::string describe(const std::optional<ledger::rejection>& why) {
  return why ? std::string(ledger::to_string(why->code)) + ": " + why->reason : "valid";
}

}  // namespace

// Canonicalization is idempotent, and what it writes is Unicode text that parses as JSON.
void canonical_json(const std::uint8_t* data, std::size_t size) {
  std::string canonical, error;
  if (!ledger::canonicalize_text(as_text(data, size), canonical, error)) {
    require(!error.empty(), "refused JSON without a reason");
    return;
  }
  require(ledger::valid_utf8(canonical), "canonical JSON that is not UTF-8");
  std::string again;
  require(ledger::canonicalize_text(canonical, again, error), "canonical JSON refused: " + error);
  require(again == canonical, "canonicalizing twice changed the text");
}

// A finite double's canonical form reads back as the same double (here with rapidjson at full
// precision, as nodes parse client data); NaN and infinities are refused.
void canonical_numbers(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof(double))
    return;
  double value;
  std::memcpy(&value, data, sizeof value);
  std::string text;
  if (!std::isfinite(value)) {
    bool refused = false;
    try {
      ledger::append_canonical_number(value, text);
    } catch (const std::invalid_argument&) {
      refused = true;
    }
    require(refused, "a non-finite number was written");
    return;
  }
  ledger::append_canonical_number(value, text);
  rapidjson::Document parsed;
  parsed.Parse<rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  require(!parsed.HasParseError() && parsed.IsNumber(), "canonical number is not JSON: " + text);
  const double back = parsed.GetDouble();
  require(back == value && (value != 0 || text == "0"), "canonical number reads back differently: " + text);
  require(std::strtod(text.c_str(), nullptr) == value, "strtod reads the canonical number differently: " + text);
}

// An entry from a peer or the disk: the batched check (pages, stores) gives exactly the verdict
// and reason of the single one, and an entry that parses survives to_json + from_json unchanged
// with the same verdict.
void entries(const std::uint8_t* data, std::size_t size) {
  const std::string text(as_text(data, size));
  const ledger::validation_limits limits;
  ledger::entry parsed;
  std::string error;
  const bool ok = ledger::from_json_text(text, parsed, error);
  std::optional<ledger::rejection> single;
  if (ok)
    single = ledger::validate(parsed, limits, fixed_now);
  else
    require(!error.empty(), "refused entry without a reason");

  const std::vector<const std::string*> page = {&text, &text};
  const auto checked = ledger::check_entries(page, limits, fixed_now);
  require(checked.size() == 2, "check_entries lost an entry");
  for (const auto& result : checked) {
    if (!ok) {
      require(result.why && result.why->code == ledger::reject_code::malformed,
              "batched check accepted what from_json refuses");
      continue;
    }
    require(describe(result.why) == describe(single),
            "batched verdict \"" + describe(result.why) + "\" differs from \"" + describe(single) + "\"");
  }
  if (!ok)
    return;
  if (!single)
    require(!ledger::validate_integrity(parsed), "valid entry fails the integrity check");
  ledger::entry again;
  require(ledger::from_json_text(ledger::to_json(parsed), again, error), "to_json wrote an unreadable entry: " + error);
  require(again == parsed, "entry changed through to_json + from_json");
}

// Starts from a valid signature by one of three keys, flips the bytes the input names in the
// signature, key or message, and checks the verifiers against Crypto++ and RFC 8032's encoding
// rules: the fast path (with or without the key's table, alone or in a batch) never accepts what
// they refuse, and crypto::verify_hex accepts exactly what they accept.
void ed25519_verify(const std::uint8_t* data, std::size_t size) {
  if (size < 1)
    return;
  static const crypto::identity keys[] = {
    crypto::identity::from_seed({1}), crypto::identity::from_seed({2, 7}), crypto::identity::from_seed({3, 1, 4}),
  };
  const auto& signer = keys[data[0] % std::size(keys)];
  std::uint8_t bytes[128] = {};  // signature (64), public key (32), message (32)
  for (std::size_t i = 0; i < 32 && 1 + i < size; ++i)
    bytes[96 + i] = data[1 + i];
  const std::string signature_hex = signer.sign_hash(util::to_hex(bytes + 96, 32));
  require(util::from_hex(signature_hex, bytes, 64) && util::from_hex(signer.node_id(), bytes + 64, 32),
          "bad hex from the signer");
  bool mutated = false;
  for (std::size_t i = 33; i + 1 < size; i += 2) {
    bytes[data[i] % 128] ^= data[i + 1];
    mutated = mutated || data[i + 1] != 0;
  }
  const std::uint8_t* signature = bytes;
  const std::uint8_t* key = bytes + 64;
  const std::uint8_t* message = bytes + 96;

  // What a verifier must answer: Crypto++'s verdict with RFC 8032's encoding rules.
  auto valid_by_rfc8032 = [](const std::uint8_t* key, const std::uint8_t* message, const std::uint8_t* signature) {
    bool crypto_pp = false;
    try {
      CryptoPP::ed25519::Verifier verifier(key);
      crypto_pp = verifier.VerifyMessage(message, 32, signature, 64);
    } catch (const CryptoPP::Exception&) {
    }
    return crypto_pp && crypto::ed25519::canonical_s(signature) && crypto::ed25519::usable_key(key);
  };
  const bool rfc8032 = valid_by_rfc8032(key, message, signature);
  if (!mutated)
    require(rfc8032, "a fresh signature is not valid");

  for (int sighting = 0; sighting < 3; ++sighting)  // the key's table is built on its second sighting
    require(!crypto::ed25519::verify_if_fast(key, message, 32, signature) || rfc8032,
            "the fast path accepted a signature that Crypto++ or RFC 8032 refuses");
  crypto::signature_job jobs[2];
  std::memcpy(jobs[0].public_key, key, 32);
  std::memcpy(jobs[0].message, message, 32);
  std::memcpy(jobs[0].signature, signature, 64);
  jobs[1] = jobs[0];
  jobs[1].message[0] ^= 1;  // a second signature in the same batch, over another message
  bool valid[2] = {};
  crypto::ed25519::verify_batch_if_fast(jobs, 2, valid);
  require(!valid[0] || rfc8032, "the batch accepted a signature that Crypto++ or RFC 8032 refuses");
  // (The input's flips may have changed the message, and this one can then be the signed one.)
  require(!valid[1] || valid_by_rfc8032(jobs[1].public_key, jobs[1].message, jobs[1].signature),
          "the batch accepted the second signature, which Crypto++ or RFC 8032 refuses");
  require(crypto::verify_hex(util::to_hex(key, 32), util::to_hex(message, 32), util::to_hex(signature, 64)) == rfc8032,
          "crypto::verify_hex disagrees with Crypto++ and RFC 8032");
}

}  // namespace gsio::fuzz
