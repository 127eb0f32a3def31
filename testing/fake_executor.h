// FakeExecutor: a hand-written Executor for tests of the layers above exec/. It runs
// nothing. It records every Submit/Attach/Cancel call, is idempotent per (run_id, task_id)
// like a real executor, and leaves the job's life to the test, which emits events to the
// sink by hand (Emit, Finish).
//
// Thread-safety: thread-safe. Emit and Finish call the sink on the caller's thread, with no
// lock held, so the sink may call back into the fake.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "exec/executor.h"

namespace sluice::exec {

class FakeExecutor final : public Executor {
 public:
  explicit FakeExecutor(EventSink& sink, std::string name = "fake");

  std::string Name() const override { return name_; }
  // Records the call. The first Submit of a task issues "fake-job-N"; later ones return the
  // same id and start nothing. kInvalidArgument for an empty argv; a status set with
  // FailNextSubmit is returned once instead.
  Result<std::string> Submit(const TaskSpec& spec) override;
  // Records the call. kNotFound unless job_id was issued; otherwise re-emits the job's last
  // event (if any) as a real executor reports the current state.
  Status Attach(const JobRef& job) override;
  // Records the call. kNotFound unless job_id was issued. The test emits CANCELED itself.
  Status Cancel(const JobRef& job) override;
  // Records the call. Each job's last event (Emit/Finish/SetStateSilently), RUNNING for a
  // job with none yet, SYSTEM_ERROR "job lost: ..." for a job id never issued.
  Result<std::vector<ExecutorEvent>> Poll(const std::vector<JobRef>& jobs) override;
  // Records the call; later Submit/Attach/Cancel return kUnavailable.
  void Shutdown() override;

  // --- Test controls ---
  // Delivers `event` to the sink now and remembers it as its job's last event.
  void Emit(const ExecutorEvent& event);
  // Emits `state` (with `exit_code`, `reason`) for a submitted task. kNotFound if the task
  // was never submitted.
  Status Finish(const std::string& run_id, const std::string& task_id, State state,
                std::optional<int> exit_code = std::nullopt, std::string reason = "");
  // Makes `event` its job's current state without telling the sink (a lost event): what
  // Poll and Attach report from then on.
  void SetStateSilently(const ExecutorEvent& event);
  // The next Submit returns `status` and records nothing as started.
  void FailNextSubmit(Status status);

  // --- Inspection ---
  std::vector<TaskSpec> submit_calls() const;  // every Submit, repeats included
  std::vector<TaskSpec> started() const;       // tasks that got a new job id, in order
  std::vector<JobRef> attach_calls() const;
  std::vector<JobRef> cancel_calls() const;
  std::vector<std::vector<JobRef>> poll_calls() const;
  bool shut_down() const;
  std::optional<std::string> JobIdFor(const std::string& run_id, const std::string& task_id) const;

 private:
  struct Job {
    TaskSpec spec;
    std::string job_id;
    std::optional<ExecutorEvent> last_event;
  };
  using TaskKey = std::pair<std::string, std::string>;  // (run_id, task_id)

  EventSink& sink_;
  const std::string name_;

  mutable Mutex mu_;
  int next_job_ GUARDED_BY(mu_) = 1;
  std::map<TaskKey, Job> jobs_ GUARDED_BY(mu_);
  std::map<std::string, TaskKey> by_job_id_ GUARDED_BY(mu_);
  std::vector<TaskSpec> submit_calls_ GUARDED_BY(mu_);
  std::vector<TaskSpec> started_ GUARDED_BY(mu_);
  std::vector<JobRef> attach_calls_ GUARDED_BY(mu_);
  std::vector<JobRef> cancel_calls_ GUARDED_BY(mu_);
  std::vector<std::vector<JobRef>> poll_calls_ GUARDED_BY(mu_);
  std::optional<Status> fail_next_submit_ GUARDED_BY(mu_);
  bool shut_down_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::exec
