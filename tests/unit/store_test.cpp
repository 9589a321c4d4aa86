// The SQLite store: durable appends, verification on load, tamper detection.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include "crypto/identity.hpp"
#include "crypto/sha256.hpp"
#include "crypto/signature.hpp"
#include "ledger/store.hpp"
#include "chains.hpp"
#include "test_util.hpp"
#include "util/hex.hpp"

using namespace gsio::ledger;
using gsio::crypto::identity;
using gsio::crypto::sha256;
using gsio::util::from_hex;
using gsio::util::is_lower_hex;
using gsio::util::to_hex;
using gsio::test::make_chain;

namespace {

std::vector<const entry*> pointers(const std::vector<entry>& entries) {
  std::vector<const entry*> out;
  for (const entry& e : entries)
    out.push_back(&e);
  return out;
}

void run_sql(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::int64_t query_int(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  auto value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST_CASE("appended entries survive reopening and verify") {
  gsio::test::temp_dir dir;
  auto creator = identity::generate();
  auto chain = make_chain(creator, 50);
  {
    store s(dir.path);
    s.append(pointers(chain));
    CHECK(s.count() == 50);
  }
  store reopened(dir.path);
  CHECK(reopened.path() == dir.path / "ledger.db");
  auto loaded = reopened.load_verified();
  CHECK(loaded == chain);
}

TEST_CASE("appends touch no index: the table is the only b-tree") {
  gsio::test::temp_dir dir;
  { store s(dir.path); }
  const auto db = dir.path / "ledger.db";
  CHECK(query_int(db, "PRAGMA user_version") == 3);
  CHECK(query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'") == 0);
}

TEST_CASE("a store of protocol 1 (schemas 0 and 1: millisecond ids) is refused and left as it was") {
  // Rows as protocol 1 wrote them; the store does not look inside them to refuse them.
  auto row = [](char hash) {
    return "INSERT INTO entries (hash, id, json) VALUES ('" + std::string(64, hash) + "', '" +
           std::string(64, 'b') + "-1767323045679', '{}');";
  };
  const std::string schema0 = "CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL "
                              "UNIQUE, id TEXT NOT NULL, json TEXT NOT NULL);";
  const std::string schema1 = "CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, "
                              "id TEXT NOT NULL, json TEXT NOT NULL); PRAGMA user_version = 1;";
  for (const auto& [version, create] : {std::pair{0, schema0}, std::pair{1, schema1}}) {
    CAPTURE(version);
    gsio::test::temp_dir dir;
    const auto db = dir.path / "ledger.db";
    run_sql(db, create + row('a') + row('c'));
    const auto before = gsio::test::read_file(db);
    try {
      store s(dir.path);
      FAIL("a protocol 1 store was opened");
    } catch (const store_from_protocol_1& refused) {
      CHECK(refused.entries == 2);
      const std::string message = refused.what();
      CHECK(message.find(db.string() + " holds 2 entries of protocol 1") == 0);
      CHECK(message.find("millisecond ids, store schema " + std::to_string(version)) != std::string::npos);
      CHECK(message.find("Start the node on a new data directory (--data-dir DIR)") != std::string::npos);
    }
    CHECK(query_int(db, "PRAGMA user_version") == version);
    CHECK(query_int(db, "SELECT COUNT(*) FROM entries") == 2);
    CHECK(gsio::test::read_file(db) == before);  // not one byte rewritten
  }
}

TEST_CASE("an empty store of protocol 1 becomes a protocol 2 store") {
  gsio::test::temp_dir dir;
  const auto db = dir.path / "ledger.db";
  run_sql(db, "CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, "
              "id TEXT NOT NULL, json TEXT NOT NULL)");
  auto chain = make_chain(identity::generate(), 3);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  CHECK(query_int(db, "PRAGMA user_version") == store::schema_version);
  CHECK(query_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'") == 0);
  CHECK(store(dir.path).load_verified() == chain);
}

TEST_CASE("a store of a newer schema is refused, not rewritten") {
  gsio::test::temp_dir dir;
  std::filesystem::create_directories(dir.path);
  run_sql(dir.path / "ledger.db", "PRAGMA user_version = 7");
  CHECK_THROWS_WITH_AS(store{dir.path}, doctest::Contains("schema version 7"), store_error);
  CHECK(query_int(dir.path / "ledger.db", "PRAGMA user_version") == 7);
}

TEST_CASE("a changed entry makes loading fail, naming the first bad entry") {
  gsio::test::temp_dir dir;
  auto chain = make_chain(identity::generate(), 10);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  run_sql(dir.path / "ledger.db",
          "UPDATE entries SET data = replace(data, '\"n\":4', '\"n\":44') WHERE seq = 5");
  store s(dir.path);
  try {
    s.load_verified();
    FAIL("tampered store loaded");
  } catch (const store_corrupt& corrupt) {
    CHECK(corrupt.entry_id == chain[4].id);
    CHECK(corrupt.reason.find("SHA-256") != std::string::npos);
    CHECK(std::string(corrupt.what()).find(chain[4].id) != std::string::npos);
  }
}

TEST_CASE("a large store is verified in parallel and still names the first bad entry") {
  gsio::test::temp_dir dir;
  // More than one chunk of rows, and enough per chunk that several threads share the work.
  auto chain = make_chain(identity::generate(), 5000);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  {
    store s(dir.path);
    CHECK(s.load_verified() == chain);
  }
  // Two bad entries in different threads' ranges, and one in the second chunk: the first wins.
  for (int bad : {4500, 2600, 4200})
    run_sql(dir.path / "ledger.db",
            "UPDATE entries SET data = replace(data, '\"n\":" + std::to_string(bad) + "', '\"n\":-1') "
            "WHERE seq = " + std::to_string(bad + 1));
  store s(dir.path);
  try {
    s.load_verified();
    FAIL("tampered store loaded");
  } catch (const store_corrupt& corrupt) {
    CHECK(corrupt.entry_id == chain[2600].id);
  }
}

TEST_CASE("a removed entry breaks the link of the next one") {
  gsio::test::temp_dir dir;
  auto chain = make_chain(identity::generate(), 5);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  run_sql(dir.path / "ledger.db", "DELETE FROM entries WHERE seq = 3");
  store s(dir.path);
  CHECK_THROWS_WITH_AS(s.load_verified(), doctest::Contains(chain[3].id.c_str()), store_corrupt);
}

TEST_CASE("garbage in a row is reported, not crashed on") {
  gsio::test::temp_dir dir;
  auto chain = make_chain(identity::generate(), 3);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  const auto db = dir.path / "ledger.db";
  run_sql(db, "UPDATE entries SET hash = x'0102' WHERE seq = 2");
  CHECK_THROWS_WITH_AS(store(dir.path).load_verified(), doctest::Contains(chain[1].id.c_str()), store_corrupt);
  run_sql(db, "UPDATE entries SET creator = 'not a key' WHERE seq = 2");
  CHECK_THROWS_WITH_AS(store(dir.path).load_verified(), doctest::Contains("at row 2"), store_corrupt);
  run_sql(db, "UPDATE entries SET creator = x'' WHERE seq = 2");
  CHECK_THROWS_WITH_AS(store(dir.path).load_verified(), doctest::Contains("at row 2"), store_corrupt);
}

TEST_CASE("an unwritable data directory is a clear error") {
  CHECK_THROWS_AS(store("/proc/gsio-cannot-exist"), store_error);
}

TEST_CASE("a data directory is used by one store at a time") {
  gsio::test::temp_dir dir;
  {
    store first(dir.path);
    try {
      store second(dir.path);
      FAIL("a second store opened a directory in use");
    } catch (const store_error& ex) {
      CHECK(std::string(ex.what()).find("is in use by another process") != std::string::npos);
    }
  }
  store again(dir.path);  // free once the first is closed
}

TEST_CASE("loading except signatures still refuses a bad hash or link, and leaves a forged signature "
          "to the background check") {
  gsio::test::temp_dir dir;
  auto chain = make_chain(identity::generate(), 6);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  // A signature by another key, spelled correctly: only verifying it shows it is wrong.
  const auto forged = make_entry(identity::generate(), chain[4].data, chain[4].previous_hash, 5000);
  const std::string forged_signature = forged.signatures.front().second;
  auto tampered = chain[4];
  tampered.signatures.front().second = forged_signature;
  run_sql(dir.path / "ledger.db", "UPDATE entries SET signatures = x'" + tampered.signatures.front().first +
                                     forged_signature + "' WHERE seq = 5");
  {
    store s(dir.path);
    CHECK_THROWS_WITH_AS(s.load(store::check::full), doctest::Contains(chain[4].id.c_str()), store_corrupt);
    const auto loaded = s.load(store::check::except_signatures);
    REQUIRE(loaded.size() == chain.size());
    CHECK(loaded[4] == tampered);
  }
  run_sql(dir.path / "ledger.db",
          "UPDATE entries SET data = replace(data, '\"n\":2', '\"n\":7') WHERE seq = 3");
  store s(dir.path);
  CHECK_THROWS_WITH_AS(s.load(store::check::except_signatures), doctest::Contains(chain[2].id.c_str()),
                       store_corrupt);
}

namespace {

// A store as the protocol 2 node of schema 2 wrote it: each entry as its JSON text.
void write_schema_2(const std::filesystem::path& dir, const std::vector<entry>& chain) {
  std::filesystem::create_directories(dir);
  std::string sql = "CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, id TEXT NOT NULL, "
                    "json TEXT NOT NULL); PRAGMA user_version = 2; BEGIN;";
  for (const auto& e : chain)
    sql += "INSERT INTO entries (hash, id, json) VALUES ('" + e.hash + "', '" + e.id + "', '" + to_json(e) + "');";
  run_sql(dir / "ledger.db", sql + "COMMIT;");
}

}  // namespace

TEST_CASE("a store of schema 2 is converted once, keeps every entry exactly, and shrinks") {
  gsio::test::temp_dir dir;
  const auto chain = make_chain(identity::generate(), 3000);
  write_schema_2(dir.path, chain);
  const auto db = dir.path / "ledger.db";
  const auto bytes_before = query_int(db, "PRAGMA page_count") * query_int(db, "PRAGMA page_size");
  std::optional<std::size_t> announced;
  {
    store s(dir.path, [&](std::size_t entries) { announced = entries; });
    CHECK(announced == chain.size());
    CHECK(s.converted_from() == 2);
    CHECK(s.load_verified() == chain);
  }
  CHECK(query_int(db, "PRAGMA user_version") == 3);
  const auto bytes_after = query_int(db, "PRAGMA page_count") * query_int(db, "PRAGMA page_size");
  MESSAGE("schema 2: " << bytes_before / 3000 << " bytes per entry, schema 3: " << bytes_after / 3000);
  CHECK(bytes_after * 2 < bytes_before);
  store again(dir.path);
  CHECK_FALSE(again.converted_from());
  CHECK(again.load_verified() == chain);
}

TEST_CASE("a schema 2 store with a bad row is not converted: the row is named and the store left as it was") {
  gsio::test::temp_dir dir;
  const auto chain = make_chain(identity::generate(), 20);
  write_schema_2(dir.path, chain);
  const auto db = dir.path / "ledger.db";
  run_sql(db, "UPDATE entries SET json = replace(json, '\"n\":7', '\"n\":77') WHERE seq = 8");
  CHECK_THROWS_WITH_AS(store{dir.path}, doctest::Contains(chain[7].id.c_str()), store_corrupt);
  CHECK(query_int(db, "PRAGMA user_version") == 2);
  CHECK(query_int(db, "SELECT COUNT(*) FROM entries WHERE json LIKE '%\"n\":77%'") == 1);
  CHECK(query_int(db, "SELECT COUNT(*) FROM entries") == 20);
}
