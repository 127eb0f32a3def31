// RunService: the use cases behind the WES API and the CLI (submit, look up, list, cancel,
// tasks and their logs). It validates input, writes through the RunStore and wakes the
// Scheduler. It knows nothing of HTTP.
//
// Thread-safety: thread-safe. Methods that write (Submit, Cancel) block until the write is
// durable; call them off HTTP I/O threads. SubmitAsync does not wait for the write (it does
// only validation and, with a store that batches, a queue push). Reads are short indexed
// lookups.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/ids.h"
#include "common/status.h"
#include "store/run_store.h"

namespace sluice::engine {
class DriverRegistry;
}

namespace sluice::service {

// Implemented by the Scheduler: told when there is new work.
class RunWaker {
 public:
  virtual ~RunWaker() = default;
  virtual void WakeQueued() = 0;                         // a run was submitted
  virtual void WakeRun(const std::string& run_id) = 0;   // a run needs another look
};

struct Attachment {
  std::string filename;  // relative path from Content-Disposition; checked for '..'
  std::string content;
};

struct SubmitRequest {
  store::RunRequest request;  // attachments field is filled in by Submit
  std::vector<Attachment> attachments;
  std::string idempotency_key;  // optional
};

struct RunListRequest {
  int64_t page_size = 0;        // 0: the default
  std::string page_token;       // "" for the first page; only valid with the same filter/sort
  store::RunFilter filter;
  store::RunSort sort = store::RunSort::kSubmittedDesc;
  bool total = false;           // also count the matching runs (RunStore::CountRuns)
};

struct RunListPage {
  std::vector<store::RunRecord> runs;
  std::string next_page_token;  // "" on the last page
  std::optional<store::RunCount> total;  // when asked for
};

// Prices for the estimated cost in stats (0: no cost shown).
struct Prices {
  double per_cpu_hour = 0;
  double per_gb_hour = 0;
};

struct StatsGroupReport {
  store::StatsGroup group;
  double success_rate = 0;  // COMPLETE / runs (0 when no runs)
  double cpu_hours = 0;
  double gb_hours = 0;
  double estimated_cost = 0;  // cpu_hours * per_cpu_hour + gb_hours * per_gb_hour
};

struct TaskListPage {
  std::vector<store::TaskRecord> tasks;
  std::string next_page_token;
};

struct RunEventListPage {
  std::vector<store::RunEvent> events;
  std::string next_page_token;
};

struct AuditPage {
  std::vector<store::HistoryEvent> changes;
  std::string next_page_token;
};

struct Limits {
  int default_page_size = 20;       // runs
  int default_task_page_size = 100;
  int max_page_size = 1000;
  int64_t max_attachment_bytes = 64 << 20;  // all attachments of one run together
  int max_attachments = 1000;
};

struct RunServiceOptions {
  std::string data_dir;  // runs/<run_id>/attachments/... go under it
  Limits limits;
  Prices prices;
};

class RunService {
 public:
  RunService(store::RunStore& store, const engine::DriverRegistry& drivers, IdGenerator& ids,
             const Clock& clock, RunWaker& waker, RunServiceOptions options);

  // Validates, stores attachments, commits the run (QUEUED) and wakes the scheduler.
  // kInvalidArgument naming the field; kConflict for an idempotency key reused with another
  // request. Returns only once the run is durable.
  Result<store::CreateRunResult> Submit(SubmitRequest req);

  // Submit for a request without attachments, without waiting for the commit: the same
  // validation, then RunStore::CreateRunAsync. `done` is called exactly once, with what Submit
  // would have returned, after the run is durable and the scheduler woken; possibly on a store
  // thread or before this returns, so it must not block. A request with attachments gets
  // kFailedPrecondition (their files need blocking writes: use Submit).
  void SubmitAsync(SubmitRequest req, std::function<void(Result<store::CreateRunResult>)> done);

  Result<store::RunRecord> GetRun(std::string_view run_id);
  Result<store::RunStatusRow> GetStatus(std::string_view run_id);
  // Listings: the rows carry the summary fields only (store::RunListQuery::summary).
  // page_size 0 means the default; kInvalidArgument for a bad size or token.
  Result<RunListPage> ListRuns(int64_t page_size, std::string_view page_token);
  // With filters, sort and an optional total. kInvalidArgument naming the field for a bad
  // size, a token from another filter/sort, or an inconsistent filter.
  Result<RunListPage> ListRuns(const RunListRequest& req);

  // Changes the run's tags (set/remove, see RunStore::UpdateTags). kInvalidArgument for an
  // empty key; kNotFound for an unknown run.
  Result<store::RunRecord> UpdateTags(std::string_view run_id, const store::StringMap& set,
                                      const std::vector<std::string>& remove);
  // Deletes an ended run: store rows, then its directory under the data dir.
  // kFailedPrecondition if the run has not ended; kNotFound.
  Status DeleteRun(std::string_view run_id);
  // kInvalidArgument for from >= to or a kTag query without a key.
  Result<std::vector<StatsGroupReport>> Stats(const store::StatsQuery& query);

  // QUEUED runs become CANCELED at once; INITIALIZING/RUNNING ones CANCELING, and the
  // scheduler stops their tasks. Canceling an ended run is kFailedPrecondition.
  Status Cancel(std::string_view run_id);

  Result<TaskListPage> ListTasks(std::string_view run_id, int64_t page_size,
                                 std::string_view page_token);
  Result<store::TaskRecord> GetTask(std::string_view run_id, std::string_view task_id);
  // The run's execution history as its workflow engine recorded it (for ASL: StateEntered,
  // TaskScheduled, ... like Step Functions' GetExecutionHistory), oldest first, paginated
  // like tasks. The engine's replay inputs are not part of it. kNotFound for an unknown run.
  Result<RunEventListPage> ListHistory(std::string_view run_id, int64_t page_size,
                                       std::string_view page_token);
  // The run's audit trail: every state change of the run and of its tasks, task creations
  // and tag changes, each with its time and reason, as the store recorded them in the
  // transaction of the change; oldest first, paginated like tasks. kNotFound for an unknown
  // run.
  Result<AuditPage> ListAudit(std::string_view run_id, int64_t page_size,
                              std::string_view page_token);
  // Path of a task's captured "stdout" or "stderr". kNotFound if the task or file is absent.
  Result<std::string> TaskLogPath(std::string_view run_id, std::string_view task_id,
                                  std::string_view stream);

  Result<std::map<State, int64_t>> StateCounts();
  const engine::DriverRegistry& drivers() const { return drivers_; }

  // The directory of a run / a task under the data dir (shared with the Scheduler).
  static std::string RunDir(const std::string& data_dir, std::string_view run_id);
  static std::string TaskDir(const std::string& data_dir, std::string_view run_id,
                             std::string_view task_id);

 private:
  // The checks shared by Submit and SubmitAsync. Normalises req.request (default
  // workflow_params, attachments cleared for StoreAttachments to fill in).
  Status ValidateSubmit(SubmitRequest& req) const;
  // A fresh id and submission time for `req` (request left for the caller to move in).
  store::NewRun NewRunFor(const SubmitRequest& req);
  Status StoreAttachments(const std::string& run_id, SubmitRequest& req);

  store::RunStore& store_;
  const engine::DriverRegistry& drivers_;
  IdGenerator& ids_;
  const Clock& clock_;
  RunWaker& waker_;
  RunServiceOptions options_;
};

// Opaque page tokens: "<seq>" sealed as URL-safe base64 with a version prefix. Decoding
// returns kInvalidArgument naming `field` for anything we did not issue.
std::string EncodePageToken(int64_t seq);
Result<int64_t> DecodePageToken(std::string_view token, std::string_view field);

}  // namespace sluice::service
