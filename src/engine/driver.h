// WorkflowDriver: decides, for one run, which tasks to start and when the run is over.
//
// A driver is deterministic: given the run (its request), the tasks recorded so far and the
// engine log it keeps through its DriverContext, it always makes the same decision. That is
// what lets a restarted server pick up a run where it was: it reloads the run and its tasks
// and asks again. Drivers reach the outside world only through the DriverContext.
//
// Thread-safety: drivers are safe to share between threads. The scheduler never calls Decide
// for the same run from two threads at once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"
#include "exec/executor.h"
#include "store/run_store.h"

namespace sluice::engine {

struct TaskPlan {
  std::string task_id;  // unique within the run, deterministic
  std::string name;
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
  exec::Resources resources;
};

// A file sent with the submission (WES workflow_attachment), for validation.
struct SubmittedFile {
  std::string name;  // relative path, already checked
  std::string_view content;
};

// What a driver may use while deciding for one run. Implemented by the scheduler.
class DriverContext {
 public:
  virtual ~DriverContext() = default;
  virtual Micros Now() const = 0;
  // The run's directory (attachments live in RunDir()/attachments/<name>).
  virtual std::string RunDir() const = 0;
  // A task's working directory, where its stdout and stderr files are.
  virtual std::string TaskDir(const std::string& task_id) const = 0;
  // The run's engine log (store::RunEvent), replay entries only, in order.
  virtual Result<std::vector<store::RunEvent>> ReplayEvents() = 0;
  // Appends to the run's engine log in one transaction; durable when this returns.
  virtual Status AppendEvents(const std::vector<store::RunEvent>& events) = 0;
};

struct Decision {
  // Tasks to create and start, in order. The scheduler may start only a prefix of them (the
  // server-wide task limit) and asks again later; so drivers propose, they do not assume.
  std::vector<TaskPlan> start;
  // Set when the run is over: COMPLETE, EXECUTOR_ERROR or SYSTEM_ERROR.
  std::optional<State> finish;
  std::string reason;        // why the run finished (history, system_logs)
  std::string outputs = "{}";  // JSON object text, recorded with the final state
  // Tasks to stop (a timeout, a failed sibling); they end CANCELED.
  std::vector<std::string> cancel;
  // Ask again at this time even if no task changes (timers: Wait states, retry back-off).
  std::optional<Micros> wake_at;
};

class WorkflowDriver {
 public:
  virtual ~WorkflowDriver() = default;
  // The workflow_type_version values this driver accepts.
  virtual std::vector<std::string> Versions() const = 0;
  // Checks a request at submission, with the files sent along with it. kInvalidArgument
  // with the field and the reason ("workflow_params.tasks: must be an integer from 1 to
  // 10000, got -1").
  virtual Status Validate(const store::RunRequest& request,
                          const std::vector<SubmittedFile>& files) const = 0;
  // What to do next for `run` given all its tasks (in creation order). Only called for
  // runs that are INITIALIZING or RUNNING.
  virtual Result<Decision> Decide(const store::RunRecord& run,
                                  const std::vector<store::TaskRecord>& tasks,
                                  DriverContext& context) const = 0;
  // The user canceled the run and its tasks have stopped: record that in the driver's own
  // log before the run ends CANCELED (ASL: ExecutionAborted). Called again after a crash
  // before the run ended, so a second call must change nothing.
  virtual Status Stop(const store::RunRecord& run, DriverContext& context) const {
    (void)run;
    (void)context;
    return Status::Ok();
  }
  // The run is over (or no longer ours): drop whatever is cached for it.
  virtual void Forget(const std::string& run_id) const { (void)run_id; }
};

// Maps workflow_type ("MOCK", "ASL", ...) to its driver. Thread-safety: read-only after the
// composition root has registered the drivers.
class DriverRegistry {
 public:
  void Register(std::string workflow_type, std::unique_ptr<WorkflowDriver> driver);
  // nullptr if the type is not supported.
  const WorkflowDriver* Find(const std::string& workflow_type) const;
  // Tells every driver the run is over (Forget).
  void Forget(const std::string& run_id) const;
  // workflow_type -> supported versions (for service-info).
  std::map<std::string, std::vector<std::string>> Types() const;
  // Validates type, version and then the driver's own checks.
  Status Validate(const store::RunRequest& request,
                  const std::vector<SubmittedFile>& files = {}) const;

 private:
  std::map<std::string, std::unique_ptr<WorkflowDriver>> drivers_;
};

}  // namespace sluice::engine
