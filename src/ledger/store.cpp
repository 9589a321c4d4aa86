#include "ledger/store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "ledger/parallel.hpp"
#include "util/hex.hpp"
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

std::string column_blob(sqlite3_stmt* stmt, int column) {
  auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  return bytes ? std::string(bytes, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
               : std::string();
}

// Schema 3 keeps each field of an entry once, and binary where the entry spells it in hex:
// the id and timestamp are not stored, since validate() requires them to be exactly
// "<creator>-<unix_us>" and format_timestamp(unix_us). (Schema 2 stored the entry's JSON text,
// which spells the creator's key four times, plus its id and hash again: bench/FINDINGS.md.)
constexpr const char* schema_3_table =
  "(seq INTEGER PRIMARY KEY, unix_us INTEGER NOT NULL, creator BLOB NOT NULL, previous BLOB NOT NULL, "
  "hash BLOB NOT NULL, data TEXT NOT NULL, signatures BLOB NOT NULL)";
constexpr std::size_t key_bytes = 32, hash_bytes = 32, signature_bytes = 64;

// An entry's columns as schema 3 stores them.
struct stored_row {
  std::int64_t seq = 0;
  std::int64_t unix_us = -1;
  std::string creator, previous, hash;  // 32 bytes each
  std::string data;
  std::string signatures;  // (32-byte key, 64-byte signature) pairs, in the entry's order
};

std::string bytes_of_hex(std::string_view hex, std::size_t size, const entry& e, const char* field) {
  std::string out(size, '\0');
  if (!util::from_hex(hex, reinterpret_cast<std::uint8_t*>(out.data()), size))
    throw store_error("entry " + e.id + " cannot be stored: its " + field + " is not " +
                      std::to_string(2 * size) + " hex digits");
  return out;
}

stored_row row_of(const entry& e) {
  stored_row row;
  row.unix_us = e.unix_us();
  row.creator = bytes_of_hex(e.creator_node_id, key_bytes, e, "creator_node_id");
  row.previous = bytes_of_hex(e.previous_hash, hash_bytes, e, "previous_hash");
  row.hash = bytes_of_hex(e.hash, hash_bytes, e, "hash");
  row.data = e.data;
  for (const auto& [signer, signature] : e.signatures) {
    row.signatures += bytes_of_hex(signer, key_bytes, e, "signer");
    row.signatures += bytes_of_hex(signature, signature_bytes, e, "signature");
  }
  return row;
}

std::string hex_of(std::string_view bytes) {
  return util::to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

// The entry a row holds, or why it holds none ("" when it does).
std::string entry_of(const stored_row& row, entry& e) {
  e = entry{};
  if (row.creator.size() != key_bytes || row.unix_us < 0)
    return "the stored row is malformed (its creator or time)";
  e.creator_node_id = hex_of(row.creator);
  e.id = e.creator_node_id + "-" + std::to_string(row.unix_us);
  if (row.previous.size() != hash_bytes || row.hash.size() != hash_bytes ||
      row.signatures.size() % (key_bytes + signature_bytes) != 0)
    return "the stored row is malformed (a hash or signature has the wrong length)";
  try {
    e.timestamp = format_timestamp(row.unix_us);
  } catch (const std::exception&) {
    return "the stored row is malformed (its time is past the year 9999)";
  }
  e.previous_hash = hex_of(row.previous);
  e.hash = hex_of(row.hash);
  e.data = row.data;
  const std::string_view signatures = row.signatures;
  for (std::size_t at = 0; at < signatures.size(); at += key_bytes + signature_bytes)
    e.signatures.emplace_back(hex_of(signatures.substr(at, key_bytes)),
                              hex_of(signatures.substr(at + key_bytes, signature_bytes)));
  return {};
}

// Binds a row to "INSERT ... (seq, unix_us, creator, previous, hash, data, signatures)"; the row
// must outlive the statement's next step.
void bind_row(sqlite3_stmt* insert, const stored_row& row, bool with_seq) {
  if (with_seq)
    sqlite3_bind_int64(insert, 1, row.seq);
  else
    sqlite3_bind_null(insert, 1);
  sqlite3_bind_int64(insert, 2, row.unix_us);
  auto blob = [insert](int column, const std::string& bytes) {
    sqlite3_bind_blob(insert, column, bytes.data(), static_cast<int>(bytes.size()), SQLITE_STATIC);
  };
  blob(3, row.creator);
  blob(4, row.previous);
  blob(5, row.hash);
  sqlite3_bind_text(insert, 6, row.data.data(), static_cast<int>(row.data.size()), SQLITE_STATIC);
  blob(7, row.signatures);
}

// The INSERT that bind_row binds, into `table` (entries, or the table a conversion fills).
std::string insert_row_sql(std::string_view table) {
  return "INSERT INTO " + std::string(table) +
         " (seq, unix_us, creator, previous, hash, data, signatures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
}

}  // namespace

store::store(const std::filesystem::path& dir,
             const std::function<void(std::size_t entries)>& on_conversion)
  : path_(dir / "ledger.db") {
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
    if (version == 2 && count() > 0)
      convert_from_schema_2(on_conversion);
    else if (version != schema_version)
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

// Schemas 2 and 3 hold protocol 2 entries (microsecond ids): 2 as JSON text, 3 field by field
// (schema_3_table), and a store of schema 2 is converted. Neither table has an index but the rowid:
// rows are only ever appended, so a commit writes the table's last pages and nothing else (schema 0
// had a UNIQUE index on the hash, whose random keys made every commit of n entries rewrite about n
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
  if (version == schema_version || version == 2)
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
    exec(db_, (std::string("CREATE TABLE entries ") + schema_3_table).c_str());
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
  std::vector<stored_row> rows;
  rows.reserve(entries.size());
  for (const entry* e : entries)
    rows.push_back(row_of(*e));
  exec(db_, "BEGIN IMMEDIATE");
  try {
    statement insert(db_, insert_row_sql("entries").c_str());
    for (const auto& row : rows) {
      bind_row(insert.get(), row, /*with_seq=*/false);
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

namespace {

// Reads `select`'s rows a chunk at a time (so that the raw rows never all sit in memory) and
// hands each chunk to `process`; `read` turns the statement's current row into a T.
template <class T, class Read, class Process>
void for_each_chunk(sqlite3_stmt* select, const std::filesystem::path& path, Read read, Process process) {
  constexpr std::size_t chunk_rows = 4096;
  std::vector<T> rows;
  for (bool done = false; !done;) {
    rows.clear();
    while (rows.size() < chunk_rows) {
      const int rc = sqlite3_step(select);
      if (rc == SQLITE_DONE) {
        done = true;
        break;
      }
      if (rc != SQLITE_ROW)
        throw store_error("cannot read " + path.string() + ": " + sqlite3_errmsg(sqlite3_db_handle(select)));
      rows.push_back(read(select));
    }
    process(rows);
  }
}

// What a row of an entry that could not be read is called in an error.
std::string name_of(const entry& e, std::int64_t seq) {
  return e.id.empty() ? "at row " + std::to_string(seq) : e.id;
}

}  // namespace

std::vector<entry> store::load(check what) const {
  // Checking each entry on its own (hash, signatures) is most of the work: it is spread over the
  // cores. Whatever goes wrong is reported for the first bad entry in store order.
  statement select(db_, "SELECT seq, unix_us, creator, previous, hash, data, signatures FROM entries ORDER BY seq");
  std::vector<entry> out;
  std::unordered_set<std::string> known;
  std::vector<std::string> problems;
  const signature_check left_for_later = [](std::string_view, std::string_view, std::string_view) {
    return true;
  };
  for_each_chunk<stored_row>(
    select.get(), path_,
    [](sqlite3_stmt* row) {
      return stored_row{sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1), column_blob(row, 2),
                        column_blob(row, 3),          column_blob(row, 4),          column_text(row, 5),
                        column_blob(row, 6)};
    },
    [&](const std::vector<stored_row>& rows) {
      const std::size_t first = out.size();
      out.resize(first + rows.size());
      problems.assign(rows.size(), {});
      const auto check_row = [&](std::size_t i, const signature_check& check) {
        entry& e = out[first + i];
        problems[i] = entry_of(rows[i], e);
        if (problems[i].empty())
          if (auto failure = validate_integrity(e, check))
            problems[i] = failure->reason;
      };
      if (what == check::full)
        validate_batched(rows.size(), check_row);
      else
        parallel_for(rows.size(), [&](std::size_t i) { check_row(i, left_for_later); });
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const entry& e = out[first + i];
        if (!problems[i].empty())
          throw store_corrupt(name_of(e, rows[i].seq), problems[i]);
        if (e.previous_hash != genesis_hash && !known.count(e.previous_hash))
          throw store_corrupt(e.id, "its previous_hash " + e.previous_hash + " links to no earlier entry");
        known.insert(e.hash);
      }
    });
  return out;
}

void store::convert_from_schema_2(const std::function<void(std::size_t entries)>& on_conversion) {
  if (on_conversion)
    on_conversion(count());
  struct json_row {
    std::int64_t seq;
    std::string hash, id, json;
  };
  exec(db_, "BEGIN IMMEDIATE");
  try {
    exec(db_, (std::string("CREATE TABLE entries_3 ") + schema_3_table).c_str());
    {
      statement select(db_, "SELECT seq, hash, id, json FROM entries ORDER BY seq");
      statement insert(db_, insert_row_sql("entries_3").c_str());
      std::vector<entry> parsed;
      std::vector<std::string> problems;
      const signature_check left_for_later = [](std::string_view, std::string_view, std::string_view) {
        return true;
      };
      for_each_chunk<json_row>(
        select.get(), path_,
        [](sqlite3_stmt* row) {
          return json_row{sqlite3_column_int64(row, 0), column_text(row, 1), column_text(row, 2),
                          column_text(row, 3)};
        },
        [&](const std::vector<json_row>& rows) {
          parsed.assign(rows.size(), {});
          problems.assign(rows.size(), {});
          // Only what schema 3 can hold exactly is carried over: a row that load() would refuse
          // is refused here, naming the entry, and nothing is converted.
          parallel_for(rows.size(), [&](std::size_t i) {
            std::string error;
            if (!from_json_text(rows[i].json, parsed[i], error))
              problems[i] = error;
            else if (parsed[i].id != rows[i].id || parsed[i].hash != rows[i].hash)
              problems[i] = "the stored row and its entry disagree on id or hash";
            else if (auto failure = validate_integrity(parsed[i], left_for_later))
              problems[i] = failure->reason;
          });
          for (std::size_t i = 0; i < rows.size(); ++i) {
            if (!problems[i].empty())
              throw store_corrupt(rows[i].id, problems[i]);
            auto row = row_of(parsed[i]);
            row.seq = rows[i].seq;
            bind_row(insert.get(), row, /*with_seq=*/true);
            if (sqlite3_step(insert.get()) != SQLITE_DONE)
              throw store_error(std::string("sqlite insert failed: ") + sqlite3_errmsg(db_));
            sqlite3_reset(insert.get());
            sqlite3_clear_bindings(insert.get());
          }
        });
    }
    exec(db_, "DROP TABLE entries");
    exec(db_, "ALTER TABLE entries_3 RENAME TO entries");
    exec(db_, ("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    exec(db_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  // The old table's pages are free now, but still in the file: give them back.
  exec(db_, "VACUUM");
  converted_from_ = 2;
}

std::size_t store::count() const {
  statement select(db_, "SELECT COUNT(*) FROM entries");
  if (sqlite3_step(select.get()) != SQLITE_ROW)
    throw store_error(std::string("sqlite count failed: ") + sqlite3_errmsg(db_));
  return static_cast<std::size_t>(sqlite3_column_int64(select.get(), 0));
}

}  // namespace gsio::ledger
