#include "ledger/validation.hpp"

#include <memory>

#include "crypto/signature.hpp"
#include "ledger/entry.hpp"
#include "ledger/parallel.hpp"
#include "util/hex.hpp"
#include "util/json_depth.hpp"

namespace gsio::ledger {

using util::is_lower_hex;

std::string_view to_string(reject_code code) {
  switch (code) {
    case reject_code::malformed: return "malformed";
    case reject_code::bad_hash: return "bad_hash";
    case reject_code::bad_signature: return "bad_signature";
    case reject_code::future_timestamp: return "future_timestamp";
    case reject_code::too_large: return "too_large";
    case reject_code::duplicate_id: return "duplicate_id";
    case reject_code::wrong_network: return "wrong_network";
    case reject_code::not_member: return "not_member";
    case reject_code::bad_statement: return "bad_statement";
    case reject_code::bad_author: return "bad_author";
    case reject_code::invite_used: return "invite_used";
    case reject_code::invite_expired: return "invite_expired";
  }
  return "unknown";
}

namespace {

rejection reject(reject_code code, const entry& e, std::string rule) {
  std::string name = e.id.empty() ? std::string("entry without id") : "entry " + e.id;
  return {code, name + ": " + std::move(rule)};
}

// Whether `e` has the shape of a protocol 1 entry: its id counts milliseconds and its timestamp
// names that instant with three fractional digits.
bool made_by_protocol_1(const entry& e) {
  const std::int64_t ms = e.unix_us();
  if (ms < 0 || ms > 253'402'300'799'999 || e.timestamp.size() != 24)
    return false;
  const std::string as_protocol_2 = format_timestamp(ms * 1000);  // "...05.678000Z"
  return e.timestamp.compare(0, 23, as_protocol_2, 0, 23) == 0 && e.timestamp[23] == 'Z';
}

bool verify_each(std::string_view signer, std::string_view hash_hex,
                 std::string_view signature_hex) {
  return crypto::verify_hex(signer, hash_hex, signature_hex);
}

}  // namespace

std::optional<rejection> validate_integrity(const entry& e) {
  return validate_integrity(e, verify_each);
}

std::optional<rejection> validate_signatures(const entry& e) {
  return validate_signatures(e, verify_each);
}

std::optional<rejection> validate_integrity(const entry& e, const signature_check& check) {
  using enum reject_code;
  if (!is_lower_hex(e.creator_node_id, 64))
    return reject(malformed, e, "creator_node_id must be 64 lowercase hex digits");
  if (e.id.size() <= 65 || e.id.compare(0, 64, e.creator_node_id) != 0 || e.id[64] != '-')
    return reject(malformed, e, "id must be \"<creator_node_id>-<unix_us>\"");
  const std::int64_t us = e.unix_us();
  if (us < 0)
    return reject(malformed, e, "id must end in unix microseconds");
  std::string expected_timestamp;
  try {
    expected_timestamp = format_timestamp(us);
  } catch (const std::exception&) {
    return reject(malformed, e, "id time is out of range");
  }
  if (e.timestamp != expected_timestamp) {
    if (made_by_protocol_1(e))
      return reject(malformed, e,
                    "made by protocol 1 (a millisecond id and timestamp); protocol 2 counts "
                    "microseconds (docs/PROTOCOL.md §3)");
    return reject(malformed, e, "timestamp must be " + expected_timestamp + ", the instant of the id");
  }
  if (!is_lower_hex(e.previous_hash, 64))
    return reject(malformed, e, "previous_hash must be 64 lowercase hex digits");
  if (!is_lower_hex(e.hash, 64))
    return reject(malformed, e, "hash must be 64 lowercase hex digits");
  if (e.data.empty())
    return reject(malformed, e, "data is missing");
  if (compute_hash(e) != e.hash)
    return reject(bad_hash, e, "hash is not SHA-256 of the canonical hash input");
  return validate_signatures(e, check);
}

std::optional<rejection> validate_signatures(const entry& e, const signature_check& check) {
  using enum reject_code;
  const std::string* own = e.signature_of(e.creator_node_id);
  if (!own)
    return reject(bad_signature, e, "the creator's signature is missing");
  for (const auto& [signer, signature] : e.signatures) {
    if (!is_lower_hex(signer, 64))
      return reject(bad_signature, e, "signature key \"" + signer + "\" is not a node id");
    // One spelling per signature: an upper-case copy verifies as well, and would make a
    // byte-different copy of the same entry.
    if (!is_lower_hex(signature, 128))
      return reject(bad_signature, e, "a signature must be 128 lowercase hex digits");
    if (!check(signer, e.hash, signature))
      return reject(bad_signature, e,
                    signer == e.creator_node_id ? std::string("the creator's signature is invalid")
                                                : "the attestation by " + signer + " is invalid");
  }
  return std::nullopt;
}

std::optional<rejection> validate(const entry& e, const validation_limits& limits,
                                  std::chrono::microseconds now) {
  return validate(e, limits, now, verify_each);
}

std::optional<std::string> data_over_limits(std::string_view data, const validation_limits& limits) {
  if (data.size() > limits.max_data_bytes)
    return "data is " + std::to_string(data.size()) + " bytes, the limit is " +
           std::to_string(limits.max_data_bytes);
  const auto depth = util::json_nesting_depth(data, limits.max_data_depth);
  if (depth > limits.max_data_depth)
    return "data nests arrays and objects more than " + std::to_string(limits.max_data_depth) +
           " levels deep";
  return std::nullopt;
}

std::optional<rejection> validate(const entry& e, const validation_limits& limits,
                                  std::chrono::microseconds now, const signature_check& check) {
  if (auto why = data_over_limits(e.data, limits))
    return reject(reject_code::too_large, e, std::move(*why));
  if (auto failure = validate_integrity(e, check))
    return failure;
  const std::int64_t now_us = now.count();
  if (e.unix_us() > now_us + limits.max_future_skew_ms * 1000)
    return reject(reject_code::future_timestamp, e,
                  "timestamp is " + std::to_string((e.unix_us() - now_us) / 1000) +
                    " ms ahead of this node's clock (limit " +
                    std::to_string(limits.max_future_skew_ms) + " ms)");
  return std::nullopt;
}

void validate_batched(std::size_t n,
                      const std::function<void(std::size_t i, const signature_check& check)>& validate_one) {
  // Long enough that the shared inversion is a small part of each verification, short enough
  // to spread a page over the cores.
  constexpr std::size_t run = 32;
  const signature_check final_say = verify_each;
  parallel_for(
    (n + run - 1) / run,
    [&](std::size_t r) {
      const std::size_t begin = r * run, end = std::min(n, begin + run);
      std::vector<crypto::signature_job> jobs;
      std::vector<std::size_t> owners;
      for (std::size_t i = begin; i < end; ++i) {
        const signature_check record = [&](std::string_view signer, std::string_view hash_hex,
                                           std::string_view signature_hex) {
          crypto::signature_job job;
          if (!util::from_hex(signer, job.public_key, sizeof job.public_key) ||
              !util::from_hex(hash_hex, job.message, sizeof job.message) ||
              !util::from_hex(signature_hex, job.signature, sizeof job.signature))
            return false;  // as crypto::verify_hex answers
          jobs.push_back(job);
          owners.push_back(i);
          return true;
        };
        validate_one(i, record);
      }
      const auto valid = std::make_unique<bool[]>(jobs.size());
      crypto::verify_batch(jobs.data(), jobs.size(), valid.get());
      std::size_t redone = n;
      for (std::size_t k = 0; k < jobs.size(); ++k)
        if (!valid[k] && owners[k] != redone) {
          redone = owners[k];
          validate_one(redone, final_say);
        }
    },
    /*min_per_thread=*/2);
}

std::vector<checked_entry> check_entries(const std::vector<const std::string*>& json,
                                         const validation_limits& limits, std::chrono::microseconds now,
                                         const std::function<bool(const entry&)>& known) {
  std::vector<checked_entry> out(json.size());
  validate_batched(json.size(), [&](std::size_t i, const signature_check& check) {
    auto& checked = out[i];
    checked = checked_entry{};
    std::string error;
    if (!from_json_text(*json[i], checked.e, error))
      checked.why = rejection{reject_code::malformed, "entry from a peer: " + error};
    else if (!known || !known(checked.e))
      checked.why = validate(checked.e, limits, now, check);
  });
  return out;
}

}  // namespace gsio::ledger
