#include "store/postgres/pg_migrations.h"

#include <string>

namespace sluice::store::postgres {
namespace {

// Any constant: names the lock replicas take while migrating.
constexpr char kLock[] = "SELECT pg_advisory_lock(7315000001)";
constexpr char kUnlock[] = "SELECT pg_advisory_unlock(7315000001)";

Status ApplyAll(PgConn& db, std::span<const Migration> migrations) {
  RETURN_IF_ERROR(db.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
      " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"));
  ASSIGN_OR_RETURN(PgResult cur,
                   db.ExecDynamic("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  int64_t current = cur.Int(0, 0);
  int64_t newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    return FailedPrecondition("database schema version " + std::to_string(current) +
                              " is newer than this binary's (" + std::to_string(newest) + ")");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    std::string what = "migration " + std::string(m.name);
    RETURN_IF_ERROR(db.ExecScript("BEGIN").WithPrefix(what));
    Status st = db.ExecScript(std::string(m.sql));
    if (st.ok()) {
      Result<PgResult> rec =
          db.ExecDynamic("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                         {PgParam::Int(m.version), PgParam::Text(m.name)});
      st = rec.ok() ? Status::Ok() : rec.status();
    }
    if (st.ok()) st = db.ExecScript("COMMIT");
    if (!st.ok()) {
      (void)db.ExecScript("ROLLBACK");  // the original error is the one worth reporting
      return st.WithPrefix(what);
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyMigrations(PgConn& db, std::span<const Migration> migrations) {
  RETURN_IF_ERROR(db.ExecDynamic(kLock).status());
  // The schema named by search_path; CREATE SCHEMA IF NOT EXISTS races with other replicas,
  // hence under the lock.
  Result<PgResult> schema = db.ExecDynamic("SELECT current_schemas(false)::text, "
                                           "(SELECT setting FROM pg_settings "
                                           "WHERE name = 'search_path')");
  Status st = schema.ok() ? Status::Ok() : schema.status();
  if (st.ok()) {
    std::string path = schema->Text(0, 1);
    // The first element of search_path, unquoted ("$user", public: nothing to create).
    std::string first = path.substr(0, path.find(','));
    if (first.size() >= 2 && first.front() == '"' && first.back() == '"') {
      first = first.substr(1, first.size() - 2);
    }
    if (!first.empty() && first != "$user" && first != "public") {
      Result<PgResult> made = db.ExecDynamic(
          "SELECT format('CREATE SCHEMA IF NOT EXISTS %I', $1::text)", {PgParam::Text(first)});
      st = made.ok() ? db.ExecScript(made->Text(0, 0)) : made.status();
    }
  }
  if (st.ok()) st = ApplyAll(db, migrations);
  (void)db.ExecDynamic(kUnlock);
  return st;
}

}  // namespace sluice::store::postgres
