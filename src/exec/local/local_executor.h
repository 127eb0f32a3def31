// LocalExecutor: runs each task as a process on this machine, under a task wrapper
// (`<wrapper_exe> __task-wrapper --lock-fd 3 WORK_DIR -- ARGV...`, see task_wrapper.h) that
// leads the task's process group, waits for the task and records its exit status in the
// work dir. The server never waits for tasks itself, so tasks outlive it; everything the
// executor knows is in the work dir files (task_files.h), which is how a restarted server
// re-attaches.
//
// One monitor thread per executor watches every wrapper (a pidfd each, or a periodic flock
// probe where pidfd_open is unavailable), runs the SIGTERM -> SIGKILL cancel timers and
// delivers all events, in order per task. When it reports a task's end, no process of the
// task's process group is left (leftover background children are killed).
//
// Thread-safety: thread-safe. Events are delivered on the monitor thread with no executor
// lock held, so the sink may call Submit/Attach/Cancel, but not Shutdown or the destructor.
#pragma once

#include <sys/types.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "exec/executor.h"
#include "exec/local/posix_util.h"
#include "exec/local/task_files.h"

namespace sluice::exec::local {

struct LocalExecutorOptions {
  // Absolute path of a binary whose main() hands argv[1] == "__task-wrapper" to
  // TaskWrapperMain (the `sluice` binary itself in production).
  std::string wrapper_exe;
  // Between Cancel's SIGTERM and the SIGKILL of the task's processes.
  Micros cancel_grace = 10 * kMicrosPerSecond;
  // Watch wrappers through pidfd_open(2). When false, or when the kernel lacks it, each
  // task's lock is probed every `lock_poll_interval` instead.
  bool use_pidfd = true;
  Micros lock_poll_interval = 150'000;
  // How long Submit/Attach wait for a wrapper that holds the lock to write its pid file.
  Micros pid_file_wait = 2 * kMicrosPerSecond;
};

class LocalExecutor final : public Executor {
 public:
  // kInvalidArgument if wrapper_exe is not an absolute path to an executable file or
  // cancel_grace is negative; kResourceExhausted/kIo if the monitor cannot be started.
  static Result<std::unique_ptr<LocalExecutor>> Create(EventSink& sink, const Clock& clock,
                                                       LocalExecutorOptions options);
  // Shuts down (tasks keep running).
  ~LocalExecutor() override;

  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;

  std::string Name() const override { return "local"; }

  // Starts the task unless its work dir shows it was started already (then returns that
  // job's id and reports its state, like Attach). Emits RUNNING. kInvalidArgument for an
  // empty argv or a relative work_dir; kResourceExhausted/kIo if the wrapper cannot be
  // started; kUnavailable after Shutdown or while another process is starting the task.
  Result<std::string> Submit(const TaskSpec& spec) override;
  // Reports RUNNING and watches the job, or reports its final state if it ended.
  // kNotFound if the work dir has no trace of the job or belongs to another job.
  Status Attach(const JobRef& job) override;
  // Durably records the request, SIGTERMs the task's process group and SIGKILLs the task's
  // processes after cancel_grace (NextKillRound). OK if the job already ended; kNotFound if
  // there is no trace of it.
  Status Cancel(const JobRef& job) override;
  Result<std::vector<ExecutorEvent>> Poll(const std::vector<JobRef>& jobs) override;
  // Stops the monitor thread after delivering queued events. Tasks keep running.
  void Shutdown() override;

  // "local:<pid>" for a wrapper pid, and back (nullopt if `job_id` is not of that form).
  static std::string JobIdForPid(pid_t pid);
  static std::optional<pid_t> PidFromJobId(std::string_view job_id);

 private:
  struct Job {
    JobRef ref;
    pid_t pid = 0;           // the wrapper's pid, which is also the task's process group id
    UniqueFd pidfd;          // invalid: watched by probing the lock instead
    bool our_child = false;  // spawned by this executor, so it must be reaped here
    bool cancel_requested = false;
    std::optional<Micros> start_time;
    std::optional<Micros> kill_at;  // Monotonic deadline of the next SIGKILL round
    int kill_rounds = 0;            // SIGKILLs sent so far
  };

  LocalExecutor(EventSink& sink, const Clock& clock, LocalExecutorOptions options, bool use_pidfd,
                UniqueFd wake_fd);

  // A SIGKILL due (Job::kill_at): the wrapper's pid (= the task's process group), and
  // whether to spare the wrapper.
  struct Kill {
    pid_t pgid = 0;
    bool spare_wrapper = true;
  };
  // The grace period is over: the next SIGKILL round of `job`, again every kKillRetry while
  // the wrapper lives on. The first rounds spare the wrapper, so that it records how the task
  // ended; the last one (kKillRoundsSparingWrapper + 1) kills the whole group.
  static Kill NextKillRound(Job& job, Micros now);
  // Sends the SIGKILLs, with one listing of /proc for all that spare their wrapper (the whole
  // group if /proc cannot be read). Called without the mutex: the listing takes a while on a
  // machine with many processes.
  static void SendKills(const std::vector<Kill>& kills);

  // Spawns the wrapper; `lock_fd` holds the task's lock and is handed to the wrapper.
  Result<std::string> StartWrapper(const TaskSpec& spec, UniqueFd lock_fd);
  // Starts watching (kRunning) or reports the final state (kEnded, kVanished) of `obs`.
  Status Track(const JobRef& ref, TaskObservation obs, bool emit_running) EXCLUDES(mu_);
  void SendTerm(Job& job) REQUIRES(mu_);
  void Enqueue(ExecutorEvent event) REQUIRES(mu_);
  ExecutorEvent RunningEvent(const Job& job) const;
  ExecutorEvent FinalEvent(const JobRef& ref, const TaskObservation& obs,
                           std::string_view vanished_reason) const;
  void Wake();
  void Deliver(const ExecutorEvent& event);
  void MonitorLoop();
  // Reports the end of a job whose wrapper exited and cleans up after it (monitor thread).
  void FinishJob(Job job);

  EventSink& sink_;
  const Clock& clock_;
  const LocalExecutorOptions options_;
  const bool use_pidfd_;
  const UniqueFd wake_fd_;  // eventfd: new jobs, new events, timers, shutdown
  std::thread monitor_;
  Mutex join_mu_;  // serialises joining the monitor in concurrent Shutdown calls

  Mutex mu_;
  bool shut_down_ GUARDED_BY(mu_) = false;
  std::map<std::string, Job> jobs_ GUARDED_BY(mu_);  // by work_dir
  std::deque<ExecutorEvent> pending_ GUARDED_BY(mu_);
};

}  // namespace sluice::exec::local
