// BulkImporter: loads fully formed runs straight into an SQLite run store file, for
// benchmarks and migrations from other systems. Each run is written as the live server would
// have left it: the run row (any state, with its times), its tag rows, its tasks and exactly
// the history events the server writes on the way (run: QUEUED, INITIALIZING, RUNNING, then
// the final state, as far as the run got; each task: TaskCreated, INITIALIZING, RUNNING, then
// its final state, as far as the task got), plus the stats roll-up of a terminal run. The
// maintained counts are kept by the schema's triggers. The outbox is NOT filled (an import is
// history, not news): the history->outbox triggers are suspended while loading.
//
// It writes in large transactions with prepared statements and synchronous=OFF, so a crash
// while loading leaves a database to throw away; Finish() commits, restores the triggers and
// checkpoints the WAL. Nothing else may write to the file meanwhile.
//
// Thread-safety: none; one thread drives an importer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/run_store.h"

namespace sluice::store::sqlite {

class Connection;

struct ImportTask {
  std::string id;  // unique within the run
  std::string name;
  std::vector<std::string> cmd;
  std::string launch_spec;  // "" for none
  State state = State::kComplete;
  std::string executor = "local";
  std::string executor_job_id;  // "" if never submitted
  std::optional<int> exit_code;
  Micros created_at = 0;
  std::optional<Micros> start_time;  // when it started RUNNING
  std::optional<Micros> end_time;    // when it reached its final state
};

struct ImportRun {
  NewRun run;  // id, request, submitted_at, user, idempotency_key
  State state = State::kComplete;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  Micros updated_at = 0;  // 0: the latest time of the run
  std::string outputs;    // JSON object text, "" for {}
  std::vector<ImportTask> tasks;
  // Added to the stats roll-ups if the run is terminal (absent: it consumed nothing).
  std::optional<RunUsage> usage;
};

class BulkImporter {
 public:
  // Opens (creating if needed) the database at `db_path` and applies the migrations.
  static Result<std::unique_ptr<BulkImporter>> Open(const std::string& db_path);
  // Rolls back what was not finished.
  ~BulkImporter();
  BulkImporter(const BulkImporter&) = delete;
  BulkImporter& operator=(const BulkImporter&) = delete;

  // Writes one run. kInvalidArgument for an empty id; kInternal if the id exists already.
  Status Add(const ImportRun& run);
  // Commits, restores the triggers and checkpoints (TRUNCATE). The importer is done after.
  Status Finish();

  int64_t runs_added() const { return runs_added_; }

 private:
  explicit BulkImporter(std::unique_ptr<Connection> db);
  Status Begin();
  Status Commit();

  std::unique_ptr<Connection> db_;
  std::vector<std::string> suspended_triggers_;  // their CREATE TRIGGER text
  bool in_transaction_ = false;
  bool finished_ = false;
  int64_t runs_added_ = 0;
  int64_t runs_in_transaction_ = 0;
};

}  // namespace sluice::store::sqlite
