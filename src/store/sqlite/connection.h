// Thin RAII layer over the SQLite C API: a Connection owns one sqlite3 handle and a cache of
// prepared statements; a Stmt is a borrowed, reset-on-destruction view of a cached statement.
// Every SQLite error comes back as a Status (kIo for storage trouble, kInternal otherwise)
// with the caller's context and SQLite's message.
//
// Thread-safety: none. A Connection (and its statements) is used by one thread at a time;
// the owner (writer thread, read pool) provides that exclusion.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::store::sqlite {

// Maps an SQLite result code to a Status: kIo for I/O, disk-full, locking, corruption and
// open failures, kInternal for everything else (SQL errors, misuse, constraint violations
// the caller did not expect).
Status SqliteError(int rc, std::string_view context, sqlite3* db);

// A prepared statement borrowed from a Connection's cache. Bind* use 1-based indexes like
// SQLite. The destructor resets the statement and clears its bindings so the next user
// starts clean. Column getters are valid after Step() returned true.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  ~Stmt();
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& operator=(Stmt&&) = delete;

  Status BindInt(int index, int64_t value);
  // Binds the text; it is copied by SQLite only if needed (SQLITE_TRANSIENT).
  Status BindText(int index, std::string_view value);
  Status BindNull(int index);
  // NULL when absent.
  Status BindOptionalInt(int index, std::optional<int64_t> value);
  // NULL when empty.
  Status BindTextOrNull(int index, std::string_view value);
  Status BindDouble(int index, double value);
  // A BLOB (copied if needed), or NULL when empty.
  Status BindBlobOrNull(int index, std::string_view bytes);

  // True if a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows (or whose rows are ignored).
  Status Run();
  // Makes the statement ready to be bound and run again (bindings are kept).
  void Reset();

  int64_t ColumnInt(int col) const;
  std::string ColumnText(int col) const;  // "" for NULL
  double ColumnDouble(int col) const;
  // The bytes of a BLOB (or text) column, valid until the next Step/Reset; "" for NULL.
  std::string_view ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;
  bool ColumnIsBlob(int col) const;
  int ColumnCount() const;
  std::optional<int64_t> ColumnOptionalInt(int col) const;

 private:
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

struct ConnectionOptions {
  bool read_only = false;
  // Upper bound of this connection's page cache, in KiB.
  int cache_size_kib = 2048;
  int busy_timeout_ms = 5000;
};

class Connection {
 public:
  // Opens (creating if allowed) the database file and applies the per-connection pragmas.
  // kIo if the file cannot be opened or is not a database.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more SQL statements that return no rows worth reading.
  Status Exec(std::string_view sql);
  // Returns the cached statement for `sql`, preparing it on first use. `sql` must be a
  // single statement.
  Result<Stmt> Prepare(std::string_view sql);
  // The same for SQL text with static storage (a literal or a sql:: constant), cached by its
  // address: the hot path, which needs no string copy or hash of the text.
  Result<Stmt> Prepare(const char* static_sql);

  // True if no transaction is open (SQLite rolls back by itself on some errors).
  bool InAutocommit() const;
  int64_t LastInsertRowid() const;
  sqlite3* raw() { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::unordered_map<const char*, sqlite3_stmt*> by_address_;  // into statements_
};

}  // namespace sluice::store::sqlite
