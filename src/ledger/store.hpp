#pragma once
// Durable entry store on SQLite (WAL, synchronous=FULL). Every attached entry is stored, on any
// branch, in attach order, so parents always come before children.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ledger/entry.hpp"

struct sqlite3;

namespace gsio::ledger {

class store_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The stored chain failed verification; `entry_id` names the first bad entry.
class store_corrupt : public store_error {
public:
  store_corrupt(std::string entry_id, std::string reason);
  std::string entry_id;
  std::string reason;
};

class store {
public:
  // PRAGMA user_version of the stores this code writes (see create_or_migrate_schema).
  static constexpr int schema_version = 1;

  // Opens or creates `<dir>/ledger.db`, refusing (store_error) a directory another process has a
  // store open in. A store of an older schema is converted first, once;
  // `on_conversion` (if given) is called with the old version just before, since that can take a
  // while on a large store.
  explicit store(const std::filesystem::path& dir,
                 const std::function<void(int from_version)>& on_conversion = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Writes all entries in one transaction; returns only once they are on disk (fsync). Each
  // entry is to be appended once: the store keeps no index to find it again (see
  // create_or_migrate_schema). Throws store_error on failure.
  void append(const std::vector<const entry*>& entries);

  // Reads every stored entry in attach order and verifies each (shape, hash, creator signature,
  // link to an earlier entry or genesis). Throws store_corrupt naming the first bad entry.
  std::vector<entry> load_verified() const;

  std::size_t count() const;
  const std::filesystem::path& path() const { return path_; }
  // The schema version the store was converted from when it was opened, if it was.
  std::optional<int> converted_from() const { return converted_from_; }

private:
  void create_or_migrate_schema(const std::function<void(int from_version)>& on_conversion);

  std::filesystem::path path_;
  // An exclusive flock on <dir>/ledger.lock, held while the store is open: two processes on one
  // data directory would sign different entries under one key and one id each.
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::optional<int> converted_from_;
};

}  // namespace gsio::ledger
