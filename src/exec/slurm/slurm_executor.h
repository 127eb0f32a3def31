// SlurmExecutor: runs each task as a Slurm batch job, through the Slurm client commands
// (sbatch, squeue, sacct, scancel; see slurm_parse.h for what is run and parsed).
//
// Task -> job: the work dir gets `slurm_job.sh` (the task's env as exports, then `exec
// argv`), submitted with `sbatch --parsable --no-requeue --chdir=<work_dir>
// --output=<work_dir>/stdout --error=<work_dir>/stderr --cpus-per-task --mem --time
// [--partition] [--account] <sbatch_options...>`. The job inherits the server's environment
// (sbatch's default --export=ALL). --no-requeue: Slurm never runs a task a second time.
//
// State: one poller thread asks Slurm about ALL tracked jobs at once, every poll_interval:
// one `squeue -t all -j <ids>` (running jobs and jobs ended less than MinJobAge ago), and
// only when some tracked job is missing from it, one `sacct [-c] -j <missing ids>`. A job
// missing from both for lost_after_polls polls in a row is reported SYSTEM_ERROR ("job
// lost"). Events are sent when a job starts (RUNNING) and when it ends; a job still
// COMPLETING (processes being killed) has not ended.
//
// Restart safety (Submit is idempotent per task, also across a crash): Submit holds an
// exclusive flock on <work_dir>/slurm.lock, so concurrent Submits of one task (threads or
// processes) run one at a time, then:
//   1. <work_dir>/slurm_job_id exists: the task was submitted; that job is tracked.
//   2. TaskSpec::may_exist (the scheduler recovering a task stored without a job id: its
//      submitter may have died between sbatch and recording the id): squeue, then sacct,
//      are asked for a job with the task's name (JobName: the same for every Submit of the
//      task). If there is one, its id is recorded and tracked.
//   3. Otherwise the script is written and sbatch run, then the job id file written.
// No file needs to be durable: the task's stored record (no job id yet) is what tells the
// scheduler to pass may_exist, and the name follows from the task. A first Submit costs
// one sbatch and no lookup.
//
// Cancel is `scancel <id>`: Slurm sends SIGTERM to all of the job's processes and SIGKILL
// after the cluster's KillWait, which is therefore the cancel grace; the job ends CANCELLED.
//
// Thread-safety: thread-safe. Events are delivered on the poller thread with no executor
// lock held, so the sink may call Submit/Attach/Cancel/Poll, but not Shutdown or the
// destructor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "exec/executor.h"
#include "exec/slurm/command_runner.h"
#include "exec/slurm/slurm_parse.h"

namespace sluice::exec::slurm {

struct SlurmExecutorOptions {
  std::string partition;                    // --partition, when not empty
  std::string account;                      // --account, when not empty
  std::vector<std::string> sbatch_options;  // passed to sbatch verbatim, before the script
  // SLURM_CONF for every command; empty: the server's own environment decides.
  std::string slurm_conf;
  Micros poll_interval = kMicrosPerSecond;
  // Bound on any one Slurm command (a dead slurmctld makes them hang).
  Micros command_timeout = 60 * kMicrosPerSecond;
  // `sacct -c` reads the jobcomp/filetxt log (clusters without slurmdbd, like the test
  // one); false: plain `sacct` (accounting through slurmdbd).
  bool sacct_from_jobcomp = true;
  // Polls in a row a tracked job may be unknown to both squeue and sacct before it is
  // reported lost.
  int lost_after_polls = 3;
};

// How many Slurm commands the executor ran: what the benchmark checks batching with.
struct SlurmCallCounts {
  uint64_t sbatch = 0;
  uint64_t squeue = 0;
  uint64_t sacct = 0;
  uint64_t scancel = 0;
  uint64_t polls = 0;  // poller rounds that asked Slurm anything
};

class SlurmExecutor final : public Executor {
 public:
  // `runner` null: a SubprocessRunner. kInvalidArgument for a non-positive poll_interval,
  // command_timeout or lost_after_polls; kResourceExhausted if the poller cannot start.
  static Result<std::unique_ptr<SlurmExecutor>> Create(EventSink& sink, const Clock& clock,
                                                       std::unique_ptr<CommandRunner> runner,
                                                       SlurmExecutorOptions options);
  // Shuts down (jobs keep running).
  ~SlurmExecutor() override;

  SlurmExecutor(const SlurmExecutor&) = delete;
  SlurmExecutor& operator=(const SlurmExecutor&) = delete;

  std::string Name() const override { return "slurm"; }

  // sbatch's the task unless its work dir shows it was submitted (see above); the job is
  // then tracked and its state reported. kInvalidArgument for an empty argv, a relative
  // work_dir or an env name that is not a shell identifier; kIo if sbatch refused the job
  // (its message), kUnavailable if Slurm did not answer or after Shutdown.
  Result<std::string> Submit(const TaskSpec& spec) override;
  // Tracks the job; its state (RUNNING, or how it ended) follows from the poller. kNotFound
  // if the id is not a Slurm job id, the work dir names another job, or (no trace in the
  // work dir) Slurm does not know the job.
  Status Attach(const JobRef& job) override;
  // One squeue (+ one sacct for jobs squeue no longer knows) for all `jobs`. Pending jobs
  // are left out; jobs Slurm does not know come back SYSTEM_ERROR ("job lost: ...").
  Result<std::vector<ExecutorEvent>> Poll(const std::vector<JobRef>& jobs) override;
  // scancel; OK if the job already ended. The job is tracked, so its end is reported.
  // kNotFound if neither Slurm nor the work dir knows the job.
  Status Cancel(const JobRef& job) override;
  // Stops the poller. Jobs keep running.
  void Shutdown() override;

  SlurmCallCounts call_counts() const;

 private:
  struct Tracked {
    JobRef ref;
    bool running_reported = false;
    int misses = 0;  // polls in a row that found no trace of the job
  };

  SlurmExecutor(EventSink& sink, const Clock& clock, std::unique_ptr<CommandRunner> runner,
                SlurmExecutorOptions options);

  // Runs a Slurm command with SLURM_CONF and SLURM_TIME_FORMAT=%s set.
  Result<CommandResult> RunSlurm(const std::vector<std::string>& argv);
  // What Slurm knows about `ids` (numeric): one squeue, plus one sacct for those squeue
  // does not list. Jobs unknown to both are absent from the result.
  Result<std::map<std::string, SlurmJob>> Query(const std::vector<std::string>& ids);
  // The id of the job named `name`, if Slurm knows one (squeue, then sacct).
  Result<std::optional<std::string>> FindJobByName(const std::string& name);
  Result<std::string> SubmitLocked(const TaskSpec& spec);
  // Starts tracking `ref` (again); RUNNING is (re-)reported at the next poll. Nothing after
  // Shutdown.
  void Track(const JobRef& ref) EXCLUDES(mu_);
  void PollerLoop();
  void PollOnce();
  void Deliver(const ExecutorEvent& event);

  EventSink& sink_;
  const Clock& clock_;
  const std::unique_ptr<CommandRunner> runner_;
  const SlurmExecutorOptions options_;
  std::thread poller_;
  Mutex join_mu_;  // serialises joining the poller in concurrent Shutdown calls

  std::atomic<uint64_t> sbatch_calls_{0};
  std::atomic<uint64_t> squeue_calls_{0};
  std::atomic<uint64_t> sacct_calls_{0};
  std::atomic<uint64_t> scancel_calls_{0};
  std::atomic<uint64_t> polls_{0};

  Mutex mu_;
  std::condition_variable cv_;
  bool shut_down_ GUARDED_BY(mu_) = false;
  std::map<std::string, Tracked> jobs_ GUARDED_BY(mu_);  // by job id
};

}  // namespace sluice::exec::slurm
