// AslDriver: runs `ASL` workflows (Amazon States Language state machines) in the server.
//
// The definition comes as `workflow_url` (the name of a workflow_attachment, a `file://`
// URL or an absolute path) and the execution input as `workflow_params`. Each Task state
// invocation becomes a task record of the run ("task-<n>", named "<scope>/<state>"):
//   - a resource bound in the options runs its shell command with the task's input on stdin;
//   - `arn:aws:states:::batch:submitJob.sync` runs ContainerOverrides.Command (Environment,
//     Vcpus/Memory/ResourceRequirements as the task's resources) and returns a Batch-style
//     job description;
//   - anything else fails the task with Sluice.ResourceNotBound.
//
// Durability: the asl::Execution is deterministic, so the driver records every event it
// feeds it (the run's engine log, replay entries) together with the history the execution
// produced, before it acts on the result. After a restart the first Decide replays the
// recorded events into a fresh Execution and is back where it was: tasks already started
// are not started again (their records exist), finished ones are not re-run, timers keep
// their deadlines and retry counters their values.
//
// Thread-safety: safe to share. Executions of active runs are cached behind a mutex; the
// scheduler never decides for one run from two threads at once.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/thread_annotations.h"
#include "engine/driver.h"

namespace sluice::engine {

struct AslDriverOptions {
  // Task resource -> shell command run through /bin/sh -c (config: asl.bindings).
  std::map<std::string, std::string> bindings;
  // Inline Map iterations at once when MaxConcurrency is 0 or absent (AWS runs about 40).
  int default_max_concurrency = 40;
  // Largest definition accepted.
  size_t max_definition_bytes = 1 << 20;
};

class AslDriver final : public WorkflowDriver {
 public:
  explicit AslDriver(AslDriverOptions options);
  ~AslDriver() override;

  std::vector<std::string> Versions() const override { return {"1.0"}; }
  // Reads and validates the definition; every problem is listed with its JSON location.
  Status Validate(const store::RunRequest& request,
                  const std::vector<SubmittedFile>& files) const override;
  Result<Decision> Decide(const store::RunRecord& run, const std::vector<store::TaskRecord>& tasks,
                          DriverContext& context) const override;
  // Feeds the execution a stop (ExecutionAborted in its history) unless it has ended or
  // never started.
  Status Stop(const store::RunRecord& run, DriverContext& context) const override;
  void Forget(const std::string& run_id) const override;

 private:
  struct RunState;
  Result<std::shared_ptr<RunState>> Load(const store::RunRecord& run,
                                         DriverContext& context) const;

  const AslDriverOptions options_;
  mutable Mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<RunState>> runs_ GUARDED_BY(mu_);
};

}  // namespace sluice::engine
