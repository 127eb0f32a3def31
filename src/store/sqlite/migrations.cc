#include "store/sqlite/migrations.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "store/sqlite/history_ops.h"
#include "store/sqlite/task_state_ops.h"

namespace sluice::store::sqlite {
namespace {

Result<int64_t> CurrentVersion(Connection& db) {
  ASSIGN_OR_RETURN(Stmt stmt,
                   db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt(0) : 0;
}

// What a migration needs beyond its SQL (data SQL cannot re-encode), run after the SQL in the
// same transaction.
using CodeStep = Status (*)(Connection&);
CodeStep CodeStepOf(int version) {
  switch (version) {
    case 9:
      return PackHistoryMigration;  // history rows into packed rows
    case 10:
      return PackTaskStateMigration;  // task state columns into task_states chunks
    default:
      return nullptr;
  }
}

Status ApplyOne(Connection& db, const Migration& m) {
  std::string what = "migration " + std::string(m.name);
  // IMMEDIATE: a second process opening the same file waits here instead of applying the
  // same migration twice.
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE").WithPrefix(what));
  auto rollback = [&db](Status st) {
    (void)db.Exec("ROLLBACK");  // the original error is the one worth reporting
    return st;
  };
  Result<int64_t> version = CurrentVersion(db);
  if (!version.ok()) return rollback(version.status().WithPrefix(what));
  if (*version >= m.version) return rollback(Status::Ok());
  if (Status st = db.Exec(m.sql); !st.ok()) return rollback(st.WithPrefix(what));
  if (CodeStep step = CodeStepOf(m.version); step != nullptr) {
    if (Status st = step(db); !st.ok()) return rollback(st.WithPrefix(what));
  }
  Result<Stmt> insert = db.Prepare(
      "INSERT INTO schema_migrations (version, name, applied_at) "
      "VALUES (?1, ?2, CAST(strftime('%s', 'now') AS INTEGER) * 1000000)");
  if (!insert.ok()) return rollback(insert.status().WithPrefix(what));
  Status st = insert->BindInt(1, m.version);
  if (st.ok()) st = insert->BindText(2, m.name);
  if (st.ok()) st = insert->Run();
  if (!st.ok()) return rollback(st.WithPrefix(what));
  return db.Exec("COMMIT").WithPrefix(what);
}

}  // namespace

Status ApplyMigrations(Connection& db, std::span<const Migration> migrations) {
  RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
              " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  ASSIGN_OR_RETURN(int64_t current, CurrentVersion(db));
  int64_t newest = migrations.empty() ? 0 : migrations.back().version;
  if (current > newest) {
    return FailedPrecondition("database schema version " + std::to_string(current) +
                              " is newer than this binary's (" + std::to_string(newest) + ")");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    // Upgrading a store with data can take a while (0008 rebuilds an index of every run:
    // ~12 s for 1,000,000 runs); say so, or the server seems to hang before it listens.
    const bool upgrade = current > 0;
    if (upgrade) spdlog::info("run store: applying migration {}", m.name);
    const auto start = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(ApplyOne(db, m));
    if (upgrade) {
      spdlog::info("run store: migration {} applied in {} ms", m.name,
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count());
    }
  }
  return Status::Ok();
}

}  // namespace sluice::store::sqlite
