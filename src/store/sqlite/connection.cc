#include "store/sqlite/connection.h"

#include <sqlite3.h>

#include <utility>

namespace sluice::store::sqlite {

Status SqliteError(int rc, std::string_view context, sqlite3* db) {
  std::string message(context);
  message += ": ";
  // errmsg describes the most recent failure on `db`; without a handle only the code is known.
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (";
  message += sqlite3_errstr(rc);
  message += ")";
  switch (rc & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
      return IoError(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Status Stmt::BindInt(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, "bind", db_);
}

Status Stmt::BindText(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, "bind", db_);
}

Status Stmt::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, "bind", db_);
}

Status Stmt::BindOptionalInt(int index, std::optional<int64_t> value) {
  return value.has_value() ? BindInt(index, *value) : BindNull(index);
}

Status Stmt::BindTextOrNull(int index, std::string_view value) {
  return value.empty() ? BindNull(index) : BindText(index, value);
}

Status Stmt::BindDouble(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, "bind", db_);
}

Status Stmt::BindBlobOrNull(int index, std::string_view bytes) {
  if (bytes.empty()) return BindNull(index);
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : SqliteError(rc, "bind", db_);
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string context = "executing \"";
  const char* sql = sqlite3_sql(stmt_);
  context += std::string_view(sql).substr(0, 60);
  context += "\"";
  return SqliteError(rc, context, db_);
}

Status Stmt::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

void Stmt::Reset() { sqlite3_reset(stmt_); }

int64_t Stmt::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, col));
}

int Stmt::ColumnCount() const { return sqlite3_column_count(stmt_); }

double Stmt::ColumnDouble(int col) const { return sqlite3_column_double(stmt_, col); }

std::string_view Stmt::ColumnBlob(int col) const {
  const void* bytes = sqlite3_column_blob(stmt_, col);
  if (bytes == nullptr) return {};
  return std::string_view(static_cast<const char*>(bytes),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

bool Stmt::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

bool Stmt::ColumnIsBlob(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_BLOB; }

std::optional<int64_t> Stmt::ColumnOptionalInt(int col) const {
  if (ColumnIsNull(col)) return std::nullopt;
  return ColumnInt(col);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     const ConnectionOptions& options) {
  // NOMUTEX: each connection is used by one thread at a time, so SQLite's own per-connection
  // mutex would only cost time.
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  flags |= options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteError(rc, "opening database " + path, db);
    sqlite3_close_v2(db);  // a handle is returned even on failure
    return st;
  }
  std::unique_ptr<Connection> conn(new Connection(db));
  sqlite3_busy_timeout(db, options.busy_timeout_ms);
  std::string pragmas = "PRAGMA cache_size = -" + std::to_string(options.cache_size_kib) +
                        "; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 0;";
  if (options.read_only) pragmas += " PRAGMA query_only = ON;";
  RETURN_IF_ERROR(conn->Exec(pragmas).WithPrefix("configuring " + path));
  // Reading the schema proves the file is a database (open alone is lazy).
  RETURN_IF_ERROR(conn->Exec("SELECT count(*) FROM sqlite_schema").WithPrefix("opening " + path));
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc == SQLITE_OK) return Status::Ok();
  return SqliteError(rc, "executing \"" + text.substr(0, 60) + "\"", db_);
}

Result<Stmt> Connection::Prepare(std::string_view sql) {
  std::string key(sql);
  auto it = statements_.find(key);
  if (it != statements_.end()) return Stmt(it->second, db_);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, key.data(), static_cast<int>(key.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return SqliteError(rc, "preparing \"" + key.substr(0, 60) + "\"", db_);
  }
  statements_.emplace(std::move(key), stmt);
  return Stmt(stmt, db_);
}

Result<Stmt> Connection::Prepare(const char* static_sql) {
  auto it = by_address_.find(static_sql);
  if (it != by_address_.end()) return Stmt(it->second, db_);
  ASSIGN_OR_RETURN(Stmt stmt, Prepare(std::string_view(static_sql)));
  by_address_.emplace(static_sql, statements_.at(std::string(static_sql)));
  return stmt;
}

bool Connection::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

int64_t Connection::LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

}  // namespace sluice::store::sqlite
