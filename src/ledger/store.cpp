#include "ledger/store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "ledger/parallel.hpp"
#include "ledger/validation.hpp"

namespace gsio::ledger {

store_corrupt::store_corrupt(std::string id, std::string why)
  : store_error("entry " + id + ": " + why), entry_id(std::move(id)), reason(std::move(why)) {}

store_from_protocol_1::store_from_protocol_1(const std::filesystem::path& path, std::size_t count,
                                             int schema)
  : store_error(path.string() + " holds " + std::to_string(count) +
                " entries of protocol 1 (millisecond ids, store schema " + std::to_string(schema) +
                "), which this gsio-node (protocol 2, microsecond ids) cannot use and does not "
                "rewrite. Start the node on a new data directory (--data-dir DIR); this one is left "
                "as it was. To carry the entries' data over into the new chain, see \"From protocol "
                "1\" in docs/PROTOCOL.md."),
    entries(count) {}

namespace {

// Owns one prepared statement for the duration of a call.
class statement {
public:
  statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw store_error(std::string("sqlite prepare failed: ") + sqlite3_errmsg(db));
  }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }
  sqlite3* db() const { return db_; }

private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

void exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw store_error("sqlite: " + text + " (in: " + sql + ")");
  }
}

std::string column_text(sqlite3_stmt* stmt, int column) {
  auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
              : std::string();
}

}  // namespace

store::store(const std::filesystem::path& dir) : path_(dir / "ledger.db") {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw store_error("cannot create data directory " + dir.string() + ": " + ec.message());
  const auto lock_path = dir / "ledger.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0)
    throw store_error("cannot open " + lock_path.string() + ": " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd_);
    throw store_error(err == EWOULDBLOCK
                        ? "the data directory " + dir.string() + " is in use by another process (" +
                            lock_path.string() + " is locked)"
                        : "cannot lock " + lock_path.string() + ": " + std::strerror(err));
  }
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    ::close(lock_fd_);
    throw store_error("cannot open " + path_.string() + ": " + message);
  }
  try {
    sqlite3_busy_timeout(db_, 5000);
    // Before anything writes to the file: a store this node refuses is left byte for byte as it
    // was (switching to WAL rewrites the header).
    const int version = stored_schema_version();
    exec(db_, "PRAGMA journal_mode=WAL");
    // FULL: a commit returns only after the WAL is fsynced, so an acknowledged entry survives
    // power loss, not just a process crash.
    exec(db_, "PRAGMA synchronous=FULL");
    if (version != schema_version)
      create_schema();
  } catch (...) {
    sqlite3_close(db_);
    ::close(lock_fd_);
    throw;
  }
}

store::~store() {
  sqlite3_close(db_);
  ::close(lock_fd_);  // releases the lock, after the last write
}

// Schema 2 holds protocol 2 entries (microsecond ids). Its table has no index but the rowid: rows
// are only ever appended, so a commit writes the table's last pages and nothing else (schema 0 had
// a UNIQUE index on the hash, whose random keys made every commit of n entries rewrite about n
// index pages, several times the entries' own bytes: bench/FINDINGS.md). The ledger stores each
// entry once (its tree knows every stored hash), so an index would guard nothing it needs.
// Schemas 0 and 1 hold protocol 1 entries (millisecond ids), which no protocol 2 node accepts: such
// a store is refused and left as it is, unless it holds no entry at all.
int store::stored_schema_version() const {
  int version = 0;
  {
    statement pragma(db_, "PRAGMA user_version");
    if (sqlite3_step(pragma.get()) == SQLITE_ROW)
      version = sqlite3_column_int(pragma.get(), 0);
  }
  if (version == schema_version)
    return version;
  if (version > schema_version)
    throw store_error(path_.string() + " has schema version " + std::to_string(version) +
                      ", newer than this gsio-node understands (" +
                      std::to_string(schema_version) + ")");
  bool has_table = false;
  {
    statement table(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'");
    has_table = sqlite3_step(table.get()) == SQLITE_ROW;
  }
  if (has_table) {
    statement rows(db_, "SELECT COUNT(*) FROM entries");
    const auto entries = sqlite3_step(rows.get()) == SQLITE_ROW ? sqlite3_column_int64(rows.get(), 0) : 0;
    if (entries > 0)
      throw store_from_protocol_1(path_, static_cast<std::size_t>(entries), version);
  }
  return version;
}

void store::create_schema() {
  bool has_table = false;
  {
    statement table(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'");
    has_table = sqlite3_step(table.get()) == SQLITE_ROW;
  }
  exec(db_, "BEGIN IMMEDIATE");
  try {
    if (has_table)
      exec(db_, "DROP TABLE entries");
    exec(db_, "CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, id TEXT NOT NULL, "
              "json TEXT NOT NULL)");
    exec(db_, ("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    exec(db_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void store::append(const std::vector<const entry*>& entries) {
  if (entries.empty())
    return;
  exec(db_, "BEGIN IMMEDIATE");
  try {
    statement insert(db_, "INSERT INTO entries (hash, id, json) VALUES (?1, ?2, ?3)");
    std::string json;
    for (const entry* e : entries) {
      json.clear();
      append_json(*e, json);
      sqlite3_bind_text(insert.get(), 1, e->hash.data(), static_cast<int>(e->hash.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert.get(), 2, e->id.data(), static_cast<int>(e->id.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert.get(), 3, json.data(), static_cast<int>(json.size()), SQLITE_STATIC);
      if (sqlite3_step(insert.get()) != SQLITE_DONE)
        throw store_error(std::string("sqlite insert failed: ") + sqlite3_errmsg(db_));
      sqlite3_reset(insert.get());
      sqlite3_clear_bindings(insert.get());
    }
    exec(db_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<entry> store::load(check what) const {
  struct row {
    std::string hash;
    std::string id;
    std::string json;
  };
  // Parsing and checking each entry on its own (hash, signatures) is most of the work: it is
  // spread over the cores, a chunk of rows at a time so that the raw rows never all sit in
  // memory. Whatever goes wrong is reported for the first bad entry in store order.
  constexpr std::size_t chunk_rows = 4096;
  statement select(db_, "SELECT hash, id, json FROM entries ORDER BY seq");
  std::vector<entry> out;
  std::unordered_set<std::string> known;
  std::vector<row> rows;
  std::vector<std::string> problems;
  for (bool done = false; !done;) {
    rows.clear();
    while (rows.size() < chunk_rows) {
      int rc = sqlite3_step(select.get());
      if (rc == SQLITE_DONE) {
        done = true;
        break;
      }
      if (rc != SQLITE_ROW)
        throw store_error("cannot read " + path_.string() + ": " + sqlite3_errmsg(db_));
      rows.push_back({column_text(select.get(), 0), column_text(select.get(), 1),
                      column_text(select.get(), 2)});
    }
    const std::size_t first = out.size();
    out.resize(first + rows.size());
    problems.assign(rows.size(), {});
    const auto check_row = [&](std::size_t i, const signature_check& check) {
      entry& e = out[first + i];
      e = entry{};
      problems[i].clear();
      std::string error;
      if (!from_json_text(rows[i].json, e, error))
        problems[i] = error;
      else if (e.id != rows[i].id || e.hash != rows[i].hash)
        problems[i] = "the stored row and its entry disagree on id or hash";
      else if (auto failure = validate_integrity(e, check))
        problems[i] = failure->reason;
    };
    if (what == check::full) {
      validate_batched(rows.size(), check_row);
    } else {
      const signature_check left_for_later = [](std::string_view, std::string_view,
                                                std::string_view) { return true; };
      parallel_for(rows.size(), [&](std::size_t i) { check_row(i, left_for_later); });
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (!problems[i].empty())
        throw store_corrupt(rows[i].id, problems[i]);
      const entry& e = out[first + i];
      if (e.previous_hash != genesis_hash && !known.count(e.previous_hash))
        throw store_corrupt(e.id, "its previous_hash " + e.previous_hash +
                                    " links to no earlier entry");
      known.insert(e.hash);
    }
  }
  return out;
}

std::size_t store::count() const {
  statement select(db_, "SELECT COUNT(*) FROM entries");
  if (sqlite3_step(select.get()) != SQLITE_ROW)
    throw store_error(std::string("sqlite count failed: ") + sqlite3_errmsg(db_));
  return static_cast<std::size_t>(sqlite3_column_int64(select.get(), 0));
}

}  // namespace gsio::ledger
