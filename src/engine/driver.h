// WorkflowDriver: decides, for one run, which tasks to start and when the run is over.
//
// A driver is deterministic: given the run (its request) and the tasks recorded so far, it
// always makes the same decision. That is what lets a restarted server pick up a run where
// it was: it reloads the run and its tasks and asks again. Drivers do no I/O.
//
// Thread-safety: drivers are immutable after construction and safe to share.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

struct Decision {
  // Tasks to create and start, in order. The scheduler may start only a prefix of them (the
  // server-wide task limit) and asks again later; so drivers propose, they do not assume.
  std::vector<TaskPlan> start;
  // Set when the run is over: COMPLETE, EXECUTOR_ERROR or SYSTEM_ERROR.
  std::optional<State> finish;
  std::string reason;        // why the run finished (history, system_logs)
  std::string outputs = "{}";  // JSON object text, recorded with the final state
};

class WorkflowDriver {
 public:
  virtual ~WorkflowDriver() = default;
  // The workflow_type_version values this driver accepts.
  virtual std::vector<std::string> Versions() const = 0;
  // Checks a request at submission. kInvalidArgument with the field and the reason
  // ("workflow_params.tasks: must be an integer from 1 to 10000, got -1").
  virtual Status Validate(const store::RunRequest& request) const = 0;
  // What to do next for `run` given all its tasks (in creation order). Only called for
  // runs that are INITIALIZING or RUNNING.
  virtual Result<Decision> Decide(const store::RunRecord& run,
                                  const std::vector<store::TaskRecord>& tasks) const = 0;
};

// Maps workflow_type ("MOCK", "ASL", ...) to its driver. Thread-safety: read-only after the
// composition root has registered the drivers.
class DriverRegistry {
 public:
  void Register(std::string workflow_type, std::unique_ptr<WorkflowDriver> driver);
  // nullptr if the type is not supported.
  const WorkflowDriver* Find(const std::string& workflow_type) const;
  // workflow_type -> supported versions (for service-info).
  std::map<std::string, std::vector<std::string>> Types() const;
  // Validates type, version and then the driver's own checks.
  Status Validate(const store::RunRequest& request) const;

 private:
  std::map<std::string, std::unique_ptr<WorkflowDriver>> drivers_;
};

}  // namespace sluice::engine
