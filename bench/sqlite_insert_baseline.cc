// sqlite_insert_baseline: the yardstick for durable submission. One thread inserts a run
// row and its first history row per transaction, committed durably (WAL, synchronous=FULL),
// the way a server without group commit would. Prints {"inserts_per_second": N}.
//
//   sqlite_insert_baseline --db /path/on/the/same/disk/baseline.db --duration 10
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {
bool Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return false;
  }
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"one-row-per-commit durable SQLite inserts"};
  std::string path;
  double duration = 10;
  app.add_option("--db", path)->required();
  app.add_option("--duration", duration);
  CLI11_PARSE(app, argc, argv);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  if (!Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") ||
      !Exec(db,
            "CREATE TABLE runs(seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, state INT, "
            "request TEXT, submitted_at INT);"
            "CREATE TABLE history(seq INTEGER PRIMARY KEY, run_id TEXT, type TEXT, to_state INT, "
            "at INT, reason TEXT);")) {
    return 1;
  }
  sqlite3_stmt* run = nullptr;
  sqlite3_stmt* hist = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO runs(id, state, request, submitted_at) VALUES(?,1,?,?)",
                     -1, &run, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO history(run_id, type, to_state, at, reason) "
                     "VALUES(?,'RunStateChanged',1,?,'submitted')",
                     -1, &hist, nullptr);
  const std::string request =
      R"({"workflow_type":"MOCK","workflow_type_version":"1.0","workflow_url":"mock://bench",)"
      R"("workflow_params":{"tasks":1,"task_seconds":0}})";
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(duration);
  long n = 0;
  while (std::chrono::steady_clock::now() < end) {
    std::string id = "run-" + std::to_string(n);
    long long now = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    Exec(db, "BEGIN");
    sqlite3_bind_text(run, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(run, 2, request.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(run, 3, now);
    sqlite3_step(run);
    sqlite3_reset(run);
    sqlite3_bind_text(hist, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(hist, 2, now);
    sqlite3_step(hist);
    sqlite3_reset(hist);
    if (!Exec(db, "COMMIT")) return 1;
    ++n;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"inserts\": %ld, \"seconds\": %.3f, \"inserts_per_second\": %.1f}\n", n, secs,
              static_cast<double>(n) / secs);
  sqlite3_finalize(run);
  sqlite3_finalize(hist);
  sqlite3_close(db);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return 0;
}
