// RunService: the use cases behind the WES API and the CLI (submit, look up, list, cancel,
// tasks and their logs). It validates input, writes through the RunStore and wakes the
// Scheduler. It knows nothing of HTTP.
//
// Thread-safety: thread-safe. Methods that write (Submit, Cancel) block until the write is
// durable; call them off HTTP I/O threads. Reads are short indexed lookups.
#pragma once

#include <cstdint>
#include <map>
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

struct RunListPage {
  std::vector<store::RunRecord> runs;
  std::string next_page_token;  // "" on the last page
};

struct TaskListPage {
  std::vector<store::TaskRecord> tasks;
  std::string next_page_token;
};

struct Limits {
  int default_page_size = 20;
  int max_page_size = 1000;
  int64_t max_attachment_bytes = 64 << 20;  // all attachments of one run together
  int max_attachments = 1000;
};

struct RunServiceOptions {
  std::string data_dir;  // runs/<run_id>/attachments/... go under it
  Limits limits;
};

class RunService {
 public:
  RunService(store::RunStore& store, const engine::DriverRegistry& drivers, IdGenerator& ids,
             const Clock& clock, RunWaker& waker, RunServiceOptions options);

  // Validates, stores attachments, commits the run (QUEUED) and wakes the scheduler.
  // kInvalidArgument naming the field; kConflict for an idempotency key reused with another
  // request. Returns only once the run is durable.
  Result<store::CreateRunResult> Submit(SubmitRequest req);

  Result<store::RunRecord> GetRun(std::string_view run_id);
  Result<store::RunStatusRow> GetStatus(std::string_view run_id);
  // page_size 0 means the default; kInvalidArgument for a bad size or token.
  Result<RunListPage> ListRuns(int64_t page_size, std::string_view page_token);

  // QUEUED runs become CANCELED at once; INITIALIZING/RUNNING ones CANCELING, and the
  // scheduler stops their tasks. Canceling an ended run is kFailedPrecondition.
  Status Cancel(std::string_view run_id);

  Result<TaskListPage> ListTasks(std::string_view run_id, int64_t page_size,
                                 std::string_view page_token);
  Result<store::TaskRecord> GetTask(std::string_view run_id, std::string_view task_id);
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
