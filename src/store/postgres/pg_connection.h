// A thin C++ layer over libpq for the PostgreSQL run store: one connection (PgConn) with
// cached prepared statements and text-format parameters, its results (PgResult), and a
// fixed-size pool of connections (PgPool). SQL errors become a Status (kIo, kUnavailable
// when the server cannot be reached) and leave their SQLSTATE in PgConn::last_sqlstate()
// so callers can retry deadlocks and serialization failures.
//
// Thread-safety: a PgConn is used by one thread at a time (the pool hands it out); PgPool is
// thread-safe; PgResult is a value owned by one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"

struct pg_conn;
struct pg_result;

namespace sluice::store::postgres {

// One statement parameter: NULL, text, or bytes (sent in binary format, for bytea).
struct PgParam {
  std::optional<std::string> value;
  bool binary = false;

  static PgParam Null() { return PgParam{}; }
  static PgParam Int(int64_t v) { return PgParam{std::to_string(v), false}; }
  static PgParam Double(double v);
  static PgParam Text(std::string_view v) { return PgParam{std::string(v), false}; }
  static PgParam Bool(bool v) { return PgParam{v ? "t" : "f", false}; }
  // "" is NULL.
  static PgParam TextOrNull(std::string_view v) {
    return v.empty() ? Null() : PgParam{std::string(v), false};
  }
  static PgParam OptInt(std::optional<int64_t> v) { return v ? Int(*v) : Null(); }
  // "" is NULL.
  static PgParam BytesOrNull(std::string_view v) {
    return v.empty() ? Null() : PgParam{std::string(v), true};
  }
};

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);
  PgResult(PgResult&& other) noexcept : r_(other.r_) { other.r_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  bool IsNull(int row, int col) const;
  // "" for NULL.
  std::string Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // 0 for NULL
  std::optional<int64_t> OptInt(int row, int col) const;
  double Double(int row, int col) const;
  bool Bool(int row, int col) const;
  // A bytea column (text format) decoded; "" for NULL.
  std::string Bytes(int row, int col) const;
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t Affected() const;

 private:
  pg_result* r_ = nullptr;
};

class PgConn {
 public:
  // Connects to `url` (postgres://... or a conninfo string) with search_path set to
  // `schema` ("" keeps the server default). kUnavailable if the server cannot be reached.
  static Result<std::unique_ptr<PgConn>> Connect(const std::string& url,
                                                 const std::string& schema);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs a statement whose text lives for the program's lifetime (a constant): it is
  // prepared once per connection, keyed by the text's address.
  Result<PgResult> Exec(const char* sql, const std::vector<PgParam>& params = {});
  // Runs a statement built at run time (not prepared).
  Result<PgResult> ExecDynamic(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs one or more statements without parameters (simple query protocol).
  Status ExecScript(const std::string& sql);

  // The SQLSTATE of the last failed call ("" after a success or a connection failure).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  // Whether the connection is usable; Reset() reconnects (dropping prepared statements).
  bool Healthy() const;
  // Healthy(), after reading whatever an idle connection received: false if the server has
  // closed it meanwhile (a restart), so it can be reset before a statement is sent on it.
  bool CheckIdle();
  Status Reset();
  int BackendPid() const;
  int Socket() const;
  pg_conn* raw() { return conn_; }

 private:
  explicit PgConn(pg_conn* conn) : conn_(conn) {}
  Result<PgResult> Check(pg_result* r, std::string_view what);

  pg_conn* conn_;
  std::string search_path_sql_;
  std::unordered_map<const char*, std::string> prepared_;
  std::string last_sqlstate_;
};

// Whether a failure with this SQLSTATE is worth retrying the whole transaction for
// (serialization failure, deadlock).
bool IsRetryableSqlState(std::string_view sqlstate);
inline constexpr char kUniqueViolation[] = "23505";

class PgPool {
 public:
  // Opens `size` connections. Errors as PgConn::Connect.
  static Result<std::unique_ptr<PgPool>> Open(const std::string& url, const std::string& schema,
                                              int size);

  // A connection held until the lease is destroyed; a broken one is reconnected on return.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConn* operator->() { return conn_.get(); }
    PgConn& operator*() { return *conn_; }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConn> conn_;
  };
  // Blocks until a connection is free.
  Lease Acquire();

 private:
  PgPool() = default;
  void Release(std::unique_ptr<PgConn> conn);

  Mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<PgConn>> free_ GUARDED_BY(mu_);
};

}  // namespace sluice::store::postgres
