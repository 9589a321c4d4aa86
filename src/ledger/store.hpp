#pragma once
// Durable entry store on SQLite (WAL, synchronous=FULL). Every attached entry is stored, on any
// branch, in attach order, so parents always come before children.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <memory>
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

// The store holds entries of protocol 1 (millisecond ids), which no protocol 2 node accepts.
class store_from_protocol_1 : public store_error {
public:
  store_from_protocol_1(const std::filesystem::path& path, std::size_t entries, int schema);
  std::size_t entries;
};

class store {
public:
  // PRAGMA user_version of the stores this code writes (see create_schema).
  static constexpr int schema_version = 3;

  // Opens or creates `<dir>/ledger.db`, refusing (store_error) a directory another process has a
  // store open in, a store of a newer schema, and (store_from_protocol_1) one of protocol 1. A
  // store of schema 2 is converted first, once, in one transaction; `on_conversion` (if given)
  // is called with its entry count just before, since that takes a while on a large store. A
  // schema 2 row that fails the check load(check::except_signatures) makes throws store_corrupt,
  // and the store is left as it was.
  explicit store(const std::filesystem::path& dir,
                 const std::function<void(std::size_t entries)>& on_conversion = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  // Writes all entries in one transaction; returns only once they are on disk (fsync). Each
  // entry is to be appended once: the store keeps no index to find it again (see
  // create_or_migrate_schema). Throws store_error on failure.
  void append(const std::vector<const entry*>& entries);

  // What load() checks of each stored entry besides its link to an earlier entry (or genesis).
  enum class check {
    full,              // shape, hash and every signature
    except_signatures, // shape and hash: the signatures (~30 µs each, most of a full check) are
                       // left to a background_verifier
  };
  // Reads every stored entry in attach order and checks each as `what` says. Throws
  // store_corrupt naming the first bad entry.
  std::vector<entry> load(check what) const;
  std::vector<entry> load_verified() const { return load(check::full); }

  std::size_t count() const;
  const std::filesystem::path& path() const { return path_; }
  // The schema the store was converted from when it was opened, if it was.
  std::optional<int> converted_from() const { return converted_from_; }

private:
  // PRAGMA user_version, once it is known to be one this store can open (or make its own).
  int stored_schema_version() const;
  // Makes an empty store, or one of protocol 1 without entries, a store of schema_version.
  void create_schema();
  // Rewrites the rows of a schema 2 store (the entry as JSON text) as schema 3 columns.
  void convert_from_schema_2(const std::function<void(std::size_t entries)>& on_conversion);

  std::filesystem::path path_;
  // An exclusive flock on <dir>/ledger.lock, held while the store is open: two processes on one
  // data directory would sign different entries under one key and one id each.
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  std::optional<int> converted_from_;
};

}  // namespace gsio::ledger
