// Executor: runs tasks somewhere (local processes, later Slurm, AWS Batch) and reports their
// state changes as ExecutorEvents.
//
// Contract:
//  - Submit is idempotent per (run_id, task_id): submitting a task that this executor already
//    started (even before a restart of the server) returns the same job id and starts
//    nothing. This is what makes "no task is submitted twice" hold across a crash between
//    submitting and recording the job id.
//  - Tasks outlive the server. Attach re-connects to a job by id after a restart; if the job
//    ended meanwhile the executor reports its real result.
//  - Events are delivered to the EventSink given at construction, from executor threads, at
//    least once and possibly out of order; consumers (state sync) make them idempotent.
//  - Cancel asks the job to stop (SIGTERM, then SIGKILL after a grace period for local);
//    the end of the job is reported as an event with state CANCELED.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"

namespace sluice::exec {

struct Resources {
  double cpus = 1;
  int64_t memory_mb = 0;        // 0: no limit requested
  int64_t time_limit_seconds = 0;  // 0: no limit
};

struct TaskSpec {
  std::string run_id;
  std::string task_id;
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  std::map<std::string, std::string> env;  // added to the server's environment
  Resources resources;
  // Absolute directory for this task: the working directory and where `stdout`/`stderr`
  // (and executor bookkeeping files) are written. Created by the executor if missing.
  std::string work_dir;
  // True when a Submit of this task may already have happened in a process that died before
  // the job id was recorded (the scheduler's recovery of a task stored without a job id):
  // the executor must look for that job before starting one. False on a task's first
  // Submit, which an executor may then start without looking.
  bool may_exist = false;
};

// Identifies a submitted job.
struct JobRef {
  std::string run_id;
  std::string task_id;
  std::string job_id;
  std::string work_dir;
};

struct ExecutorEvent {
  std::string run_id;
  std::string task_id;
  std::string job_id;
  State state = State::kUnknown;  // RUNNING, COMPLETE, EXECUTOR_ERROR, SYSTEM_ERROR, CANCELED
  std::optional<int> exit_code;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::string reason;  // "exit code 1", "killed by signal 9", ...
  std::string node;    // where the job runs or ran, when the executor knows (Slurm)
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  // Called from executor threads; must not block for long.
  virtual void OnExecutorEvent(const ExecutorEvent& event) = 0;
};

class Executor {
 public:
  virtual ~Executor() = default;

  virtual std::string Name() const = 0;

  // Starts the task (or finds it already started) and returns its job id. kResourceExhausted
  // or kIo if it could not be started.
  virtual Result<std::string> Submit(const TaskSpec& spec) = 0;

  // Resumes watching a job after a restart. Reports the job's current state as an event
  // (including a final state reached while nobody watched). kNotFound if the executor has
  // no trace of the job (the caller then treats the task as lost: SYSTEM_ERROR).
  virtual Status Attach(const JobRef& job) = 0;

  // The current state of each job, as events (RUNNING, or the final state with its result),
  // in as few round trips as the executor allows (Slurm: one squeue/sacct for all): what the
  // reconciler uses to repair missed events. Events are returned, not sent to the EventSink.
  // A job the executor has no trace of comes back as SYSTEM_ERROR ("job lost: ...").
  virtual Result<std::vector<ExecutorEvent>> Poll(const std::vector<JobRef>& jobs) = 0;

  // Requests cancellation. OK if the job already ended.
  virtual Status Cancel(const JobRef& job) = 0;

  // Stops watching (on server shutdown). Jobs keep running; they are re-attached later.
  virtual void Shutdown() = 0;
};

}  // namespace sluice::exec
