#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace sluice::store::postgres {

PgParam PgParam::Double(double v) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.17g", v);
  return PgParam{std::string(buf), false};
}

PgResult::PgResult(pg_result* r) : r_(r) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (r_ != nullptr) PQclear(r_);
    r_ = other.r_;
    other.r_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}

int PgResult::rows() const { return r_ == nullptr ? 0 : PQntuples(r_); }
bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::string PgResult::Text(int row, int col) const {
  if (IsNull(row, col)) return "";
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10);
}

std::optional<int64_t> PgResult::OptInt(int row, int col) const {
  if (IsNull(row, col)) return std::nullopt;
  return Int(row, col);
}

double PgResult::Double(int row, int col) const {
  if (IsNull(row, col)) return 0;
  return std::strtod(PQgetvalue(r_, row, col), nullptr);
}

bool PgResult::Bool(int row, int col) const {
  return !IsNull(row, col) && PQgetvalue(r_, row, col)[0] == 't';
}

std::string PgResult::Bytes(int row, int col) const {
  if (IsNull(row, col)) return "";
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
  if (raw == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

int64_t PgResult::Affected() const {
  const char* n = r_ == nullptr ? "" : PQcmdTuples(r_);
  return n[0] == '\0' ? 0 : std::strtoll(n, nullptr, 10);
}

namespace {

std::string QuoteIdent(pg_conn* conn, const std::string& name) {
  char* q = PQescapeIdentifier(conn, name.data(), name.size());
  if (q == nullptr) return "\"\"";
  std::string out(q);
  PQfreemem(q);
  return out;
}

}  // namespace

Result<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url, const std::string& schema) {
  // Defaults first: a parameter in the URL (expanded from "dbname") overrides them.
  // Keepalives notice a server or network that died under an open connection within about
  // 10 s instead of the kernel's 2 hours; idle_in_transaction_session_timeout makes the server
  // end a transaction whose client vanished between statements, so that the row locks it
  // held (a claim's FOR UPDATE) do not hide those runs from the other replicas' claims.
  const char* keys[] = {"application_name", "keepalives",     "keepalives_idle",
                        "keepalives_interval", "keepalives_count", "options",
                        "dbname",           nullptr};
  const char* values[] = {"sluice", "1", "5", "2", "3",
                          "-c idle_in_transaction_session_timeout=2000", url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return Unavailable("postgres: out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Unavailable("postgres: cannot connect: " + msg);
  }
  // Notices ("relation ... already exists, skipping") are not errors: not printed.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  auto out = std::unique_ptr<PgConn>(new PgConn(conn));
  if (!schema.empty()) {
    out->search_path_sql_ = "SET search_path TO " + QuoteIdent(conn, schema);
    RETURN_IF_ERROR(out->ExecScript(out->search_path_sql_));
  }
  return out;
}

PgConn::~PgConn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConn::Healthy() const { return PQstatus(conn_) == CONNECTION_OK; }

bool PgConn::CheckIdle() {
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  // An idle connection has nothing to read unless the server closed it (a shutdown sends a
  // FATAL message first) or sent a notice: read it, and libpq notices the end of the stream.
  pollfd fd = {PQsocket(conn_), POLLIN, 0};
  if (poll(&fd, 1, 0) > 0) {
    if (PQconsumeInput(conn_) == 0) return false;
    while (PGnotify* note = PQnotifies(conn_)) PQfreemem(note);
  }
  return PQstatus(conn_) == CONNECTION_OK;
}
int PgConn::BackendPid() const { return PQbackendPID(conn_); }
int PgConn::Socket() const { return PQsocket(conn_); }

Status PgConn::Reset() {
  prepared_.clear();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable(std::string("postgres: cannot reconnect: ") + PQerrorMessage(conn_));
  }
  if (!search_path_sql_.empty()) return ExecScript(search_path_sql_);
  return Status::Ok();
}

Result<PgResult> PgConn::Check(pg_result* r, std::string_view what) {
  PgResult result(r);
  ExecStatusType st = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    last_sqlstate_.clear();
    return result;
  }
  const char* state = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  last_sqlstate_ = state == nullptr ? "" : state;
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  std::string where(what.substr(0, 80));
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("postgres: connection lost (" + msg + ") in: " + where);
  }
  return IoError("postgres: " + msg + " [" + last_sqlstate_ + "] in: " + where);
}

namespace {

struct ParamArrays {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  explicit ParamArrays(const std::vector<PgParam>& params) {
    for (const PgParam& p : params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
  }
};

}  // namespace

Result<PgResult> PgConn::Exec(const char* sql, const std::vector<PgParam>& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    pg_result* r = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    ASSIGN_OR_RETURN(PgResult prepared, Check(r, sql));
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  ParamArrays a(params);
  pg_result* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()),
                                a.values.data(), a.lengths.data(), a.formats.data(), 0);
  return Check(r, sql);
}

Result<PgResult> PgConn::ExecDynamic(const std::string& sql, const std::vector<PgParam>& params) {
  ParamArrays a(params);
  pg_result* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                              a.values.data(), a.lengths.data(), a.formats.data(), 0);
  return Check(r, sql);
}

Status PgConn::ExecScript(const std::string& sql) {
  pg_result* r = PQexec(conn_, sql.c_str());
  Result<PgResult> res = Check(r, sql);
  return res.ok() ? Status::Ok() : res.status();
}

bool IsRetryableSqlState(std::string_view sqlstate) {
  return sqlstate == "40001" || sqlstate == "40P01";
}

Result<std::unique_ptr<PgPool>> PgPool::Open(const std::string& url, const std::string& schema,
                                             int size) {
  auto pool = std::unique_ptr<PgPool>(new PgPool());
  MutexLock lock(pool->mu_);
  for (int i = 0; i < std::max(size, 1); ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, schema));
    pool->free_.push_back(std::move(conn));
  }
  return pool;
}

PgPool::Lease PgPool::Acquire() {
  std::unique_ptr<PgConn> conn;
  {
    MutexLock lock(mu_);
    lock.Wait(cv_, [this]() NO_THREAD_SAFETY_ANALYSIS { return !free_.empty(); });
    conn = std::move(free_.back());
    free_.pop_back();
  }
  // A connection broken since its last use (server restart) is reconnected here; if that
  // fails the caller's statement fails with kUnavailable and the next Acquire tries again.
  if (!conn->CheckIdle()) (void)conn->Reset();
  return Lease(this, std::move(conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  {
    MutexLock lock(mu_);
    free_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

PgPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(std::move(conn_));
}

}  // namespace sluice::store::postgres
