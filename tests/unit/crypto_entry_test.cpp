// Hashes, signatures and the entry format against vectors made outside the project.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <thread>
#include <vector>

#include <sys/stat.h>

#include <rapidjson/document.h>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/canonical_json.hpp"
#include "ledger/entry.hpp"
#include "ledger/validation.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;

namespace {

std::array<std::uint8_t, 32> seed_of(std::string_view hex) {
  std::array<std::uint8_t, 32> seed{};
  REQUIRE(from_hex(hex, seed.data(), seed.size()));
  return seed;
}

}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-2 examples") {
  CHECK(to_hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("hex helpers are strict") {
  std::uint8_t out[2];
  CHECK(from_hex("0aFf", out, 2));
  CHECK(out[0] == 0x0a);
  CHECK(out[1] == 0xff);
  CHECK_FALSE(from_hex("0a", out, 2));
  CHECK_FALSE(from_hex("0g00", out, 2));
  CHECK(is_lower_hex("00ff", 4));
  CHECK_FALSE(is_lower_hex("00FF", 4));
  CHECK_FALSE(is_lower_hex("00ff", 6));
}

TEST_CASE("signed entry vectors are reproduced byte for byte") {
  rapidjson::Document doc;
  doc.Parse(gsio::test::read_file(gsio::test::vectors_dir() / "entries.json").c_str());
  REQUIRE(doc.IsArray());
  REQUIRE(doc.Size() == 5);
  for (const auto& vector : doc.GetArray()) {
    const auto& expected_json = vector["entry"];
    entry parsed;
    std::string error;
    REQUIRE_MESSAGE(from_json(expected_json, parsed, error), error);
    CAPTURE(parsed.id);

    auto creator = identity::from_seed(seed_of(vector["creator_seed"].GetString()));
    CHECK(creator.node_id() == parsed.creator_node_id);
    CHECK(hash_input(parsed) == vector["hash_input"].GetString());
    CHECK(compute_hash(parsed) == parsed.hash);
    CHECK(creator.sign_hash(parsed.hash) == *parsed.signature_of(creator.node_id()));
    CHECK_FALSE(validate_integrity(parsed).has_value());

    // Building the entry from scratch gives the same object, byte for byte.
    entry built = make_entry(creator, parsed.data, parsed.previous_hash, parsed.unix_us());
    CHECK(built == parsed);
    CHECK(to_json(built) == canonicalize(expected_json));

    std::string round_trip_error;
    entry again;
    REQUIRE(from_json_text(to_json(built), again, round_trip_error));
    CHECK(again == built);
  }
}

TEST_CASE("signatures verify only for the right key, hash and signature") {
  auto alice = identity::from_seed(seed_of(std::string(64, '1')));
  auto bob = identity::from_seed(seed_of(std::string(64, '2')));
  const std::string hash = to_hex(sha256("payload"));
  const std::string signature = alice.sign_hash(hash);
  CHECK(signature.size() == 128);
  CHECK(signature == alice.sign_hash(hash));  // deterministic
  CHECK(gsio::crypto::verify_hex(alice.node_id(), hash, signature));
  CHECK_FALSE(gsio::crypto::verify_hex(bob.node_id(), hash, signature));
  CHECK_FALSE(gsio::crypto::verify_hex(alice.node_id(), to_hex(sha256("other")), signature));
  std::string flipped = signature;
  flipped[10] = flipped[10] == '0' ? '1' : '0';
  CHECK_FALSE(gsio::crypto::verify_hex(alice.node_id(), hash, flipped));
  CHECK_FALSE(gsio::crypto::verify_hex("zz", hash, signature));
  CHECK_FALSE(gsio::crypto::verify_hex(alice.node_id(), hash, "00"));
}

TEST_CASE("timestamps are RFC 3339 UTC with exactly six fractional digits") {
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_timestamp(1767323045678902) == "2026-01-02T03:04:05.678902Z");
  CHECK(format_timestamp(951782400000001) == "2000-02-29T00:00:00.000001Z");
  CHECK(format_timestamp(253402300799999999) == "9999-12-31T23:59:59.999999Z");
  CHECK_THROWS(format_timestamp(253402300800000000));  // the year 10000
  CHECK_THROWS(format_timestamp(-1));
}

TEST_CASE("entry ids carry the creation time") {
  entry e;
  e.id = std::string(64, 'a') + "-1767323045678902";
  CHECK(e.unix_us() == 1767323045678902);
  e.id = std::string(64, 'a') + "-253402300799999999";  // 18 digits: the last microsecond of 9999
  CHECK(e.unix_us() == 253402300799999999);
  e.id = std::string(64, 'a') + "-1253402300799999999";
  CHECK(e.unix_us() == -1);
  e.id = std::string(64, 'a') + "-0123";
  CHECK(e.unix_us() == -1);
  e.id = std::string(64, 'a') + "-12x";
  CHECK(e.unix_us() == -1);
  e.id = "no-dash-number-";
  CHECK(e.unix_us() == -1);
  // One spelling per instant: nothing between the node id and the microseconds.
  e.id = std::string(64, 'a') + "--1767323045679";
  CHECK(e.unix_us() == -1);
  e.id = std::string(64, 'a') + "-anything-1767323045679";
  CHECK(e.unix_us() == -1);
}

TEST_CASE("relink keeps id, timestamp and data but re-links, re-hashes and re-signs") {
  auto creator = identity::from_seed(seed_of(std::string(64, '3')));
  entry original = make_entry(creator, R"({"n":1})", std::string(genesis_hash), 1000);
  entry moved = relink(original, creator, original.hash);
  CHECK(moved.id == original.id);
  CHECK(moved.timestamp == original.timestamp);
  CHECK(moved.data == original.data);
  CHECK(moved.previous_hash == original.hash);
  CHECK(moved.hash != original.hash);
  CHECK_FALSE(validate_integrity(moved).has_value());
  auto other = identity::from_seed(seed_of(std::string(64, '4')));
  CHECK_THROWS_AS(relink(original, other, original.hash), std::invalid_argument);
}

TEST_CASE("entry JSON shape errors are named") {
  entry e;
  std::string error;
  CHECK_FALSE(from_json_text("[]", e, error));
  CHECK(error == "an entry must be a JSON object");
  CHECK_FALSE(from_json_text(R"({"id":"x"})", e, error));
  CHECK(error.find("missing field") != std::string::npos);
  CHECK_FALSE(from_json_text(R"({"id":1,"timestamp":"","data":1,"previous_hash":"","hash":"",
      "creator_node_id":"","signatures":{}})", e, error));
  CHECK(error == "field \"id\" must be a string");
  CHECK_FALSE(from_json_text(R"({"id":"","timestamp":"","data":1,"previous_hash":"","hash":"",
      "creator_node_id":"","signatures":{},"extra":true})", e, error));
  CHECK(error == "unexpected field \"extra\"");
  CHECK_FALSE(from_json_text(R"({"id":"","timestamp":"","data":1,"previous_hash":"","hash":"",
      "creator_node_id":"","signatures":[]})", e, error));
  CHECK(error.find("signatures") != std::string::npos);
  CHECK_FALSE(from_json_text(R"({"id":"","timestamp":"","data":1,"data":2,"previous_hash":"",
      "hash":"","creator_node_id":"","signatures":{}})", e, error));
  CHECK(error == "field \"data\" appears twice");
  CHECK_FALSE(from_json_text(R"({"id":"","timestamp":"","data":{"x":"\udc00"},"previous_hash":"",
      "hash":"","creator_node_id":"","signatures":{}})", e, error));
  CHECK(error.find("field \"data\": a string is not valid Unicode text") == 0);
  CHECK_FALSE(from_json_text(R"({"id":"\udc00","timestamp":"","data":1,"previous_hash":"",
      "hash":"","creator_node_id":"","signatures":{}})", e, error));
  CHECK(error == "field \"id\" is not valid Unicode text");
}

TEST_CASE("a signature has one spelling: lowercase hex") {
  auto creator = identity::from_seed(seed_of(std::string(64, '5')));
  entry e = make_entry(creator, R"({"n":1})", std::string(genesis_hash), 1000);
  CHECK_FALSE(validate_integrity(e).has_value());
  for (auto& [signer, signature] : e.signatures)
    std::transform(signature.begin(), signature.end(), signature.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  auto why = validate_integrity(e);
  REQUIRE(why.has_value());
  CHECK(why->code == reject_code::bad_signature);
  CHECK(why->reason.find("lowercase hex") != std::string::npos);
}

TEST_CASE("node identity is created once with mode 0600 and reloaded") {
  gsio::test::temp_dir dir;
  auto first = identity::load_or_create(dir.path / "node");
  struct stat st{};
  REQUIRE(::stat((dir.path / "node" / "node.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto second = identity::load_or_create(dir.path / "node");
  CHECK(first.node_id() == second.node_id());
  CHECK(is_lower_hex(first.node_id(), 64));

  ::chmod((dir.path / "node" / "node.key").c_str(), 0644);
  CHECK_THROWS_WITH_AS(identity::load_or_create(dir.path / "node"),
                       doctest::Contains("readable by other users"), std::runtime_error);
  ::chmod((dir.path / "node" / "node.key").c_str(), 0600);
  {
    std::ofstream(dir.path / "node" / "node.key") << "not-hex\n";
  }
  CHECK_THROWS_WITH_AS(identity::load_or_create(dir.path / "node"),
                       doctest::Contains("does not hold"), std::runtime_error);
}

TEST_CASE("node identity: a new data directory is the owner's only, and racing starts agree on one key") {
  gsio::test::temp_dir dir;
  std::vector<std::string> ids(8);
  {
    std::vector<std::thread> starts;
    for (std::size_t i = 0; i < ids.size(); ++i)
      starts.emplace_back([&, i] { ids[i] = identity::load_or_create(dir.path / "node").node_id(); });
    for (auto& t : starts)
      t.join();
  }
  for (const auto& id : ids)
    CHECK(id == ids[0]);  // one key on disk, and every start signs with it
  CHECK(identity::load_or_create(dir.path / "node").node_id() == ids[0]);
  struct stat st{};
  REQUIRE(::stat((dir.path / "node").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  std::size_t files = 0;  // no temporary file left behind
  for ([[maybe_unused]] const auto& f : std::filesystem::directory_iterator(dir.path / "node"))
    ++files;
  CHECK(files == 1);
}


TEST_CASE("docs/PROTOCOL.md publishes the entry vectors as they are") {
  // The table and the hash input in §3 are what other implementations copy: they must not drift
  // from tests/vectors/entries.json.
  const auto doc = gsio::test::read_file(gsio::test::vectors_dir() / ".." / ".." / "docs" / "PROTOCOL.md");
  rapidjson::Document vectors;
  vectors.Parse(gsio::test::read_file(gsio::test::vectors_dir() / "entries.json").c_str());
  REQUIRE(vectors.IsArray());
  for (rapidjson::SizeType i = 0; i < vectors.Size(); ++i) {
    const auto& e = vectors[i]["entry"];
    const std::string id = e["id"].GetString();
    const std::string hash = e["hash"].GetString();
    const std::string signature = e["signatures"].MemberBegin()->value.GetString();
    const std::string row = "| " + std::to_string(i + 1) + " | `" + id.substr(id.find('-') + 1) +
                            "` | `" + hash + "` | `" + signature + "` |";
    CAPTURE(row);
    CHECK(doc.find(row) != std::string::npos);
  }
  CHECK(doc.find(std::string(vectors[0]["hash_input"].GetString())) != std::string::npos);
}
