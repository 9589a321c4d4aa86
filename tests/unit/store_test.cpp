// The SQLite store: durable appends, verification on load, tamper detection.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include "ledger/crypto.hpp"
#include "ledger/store.hpp"
#include "test_util.hpp"

using namespace gsio::ledger;

namespace {

std::vector<entry> make_chain(const identity& creator, int n) {
  std::vector<entry> chain;
  std::string parent(genesis_hash);
  for (int i = 0; i < n; ++i) {
    chain.push_back(make_entry(creator, "{\"n\":" + std::to_string(i) + "}", parent, 1000 + i));
    parent = chain.back().hash;
  }
  return chain;
}

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

}  // namespace

TEST_CASE("appended entries survive reopening and verify") {
  gsio::test::temp_dir dir;
  auto creator = identity::generate();
  auto chain = make_chain(creator, 50);
  {
    store s(dir.path);
    s.append(pointers(chain));
    s.append(pointers(chain));  // already stored: ignored
    CHECK(s.count() == 50);
  }
  store reopened(dir.path);
  CHECK(reopened.path() == dir.path / "ledger.db");
  auto loaded = reopened.load_verified();
  CHECK(loaded == chain);
}

TEST_CASE("a changed entry makes loading fail, naming the first bad entry") {
  gsio::test::temp_dir dir;
  auto chain = make_chain(identity::generate(), 10);
  {
    store s(dir.path);
    s.append(pointers(chain));
  }
  run_sql(dir.path / "ledger.db",
          "UPDATE entries SET json = replace(json, '\"n\":4', '\"n\":44') WHERE id = '" +
            chain[4].id + "'");
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
            "UPDATE entries SET json = replace(json, '\"n\":" + std::to_string(bad) + "', '\"n\":-1') "
            "WHERE id = '" + chain[static_cast<std::size_t>(bad)].id + "'");
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
  run_sql(dir.path / "ledger.db", "DELETE FROM entries WHERE id = '" + chain[2].id + "'");
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
  run_sql(dir.path / "ledger.db", "UPDATE entries SET json = '{not json' WHERE seq = 2");
  store s(dir.path);
  CHECK_THROWS_WITH_AS(s.load_verified(), doctest::Contains(chain[1].id.c_str()), store_corrupt);
}

TEST_CASE("an unwritable data directory is a clear error") {
  CHECK_THROWS_AS(store("/proc/gsio-cannot-exist"), store_error);
}
