// What the Slurm client commands print, turned into data, and the batch script a task
// becomes. Pure functions (no I/O), unit-tested on output recorded from a real Slurm 22.05
// (testdata/).
//
// The commands the Slurm executor runs, all with SLURM_TIME_FORMAT=%s (times as epoch
// seconds, so no time zone is involved):
//   squeue -h -t all -j ID,ID,... -O <kSqueueFields>   every tracked job in slurmctld's
//       memory, pending, running or ended less than MinJobAge ago; exit_code is the raw wait
//       status (exit 3 is 768, signal 9 is 9)
//   sacct [-c] -n -P -j ID,... -o <kSacctFields>        ended jobs no longer in memory; ExitCode
//       is "CODE:SIGNAL"; State may read "CANCELLED by 0"
//   sbatch --parsable ...                               "JOBID" or "JOBID;CLUSTER"
//
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "exec/executor.h"

namespace sluice::exec::slurm {

// squeue -O fields; ':|' makes '|' the separator and disables padding and truncation.
// Name comes last: it is the only free-text field.
inline constexpr std::string_view kSqueueFields =
    "JobID:|,State:|,exit_code:|,StartTime:|,EndTime:|,NodeList:|,Reason:|,Name:|";
inline constexpr std::string_view kSacctFields = "JobID,State,ExitCode,Start,End,NodeList,JobName";

// One job as Slurm describes it.
struct SlurmJob {
  std::string job_id;
  std::string state;  // base state: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, ...
  int exit_code = 0;  // the job script's exit code, when it exited
  int signal = 0;     // the signal that killed it, 0 if none
  std::optional<Micros> start_time;  // only when known (not N/A, Unknown, None, 0)
  std::optional<Micros> end_time;
  std::string node;    // NodeList ("" while pending)
  std::string reason;  // squeue's Reason ("None", "Priority", "NonZeroExitCode", ...)
  std::string name;
};

// kInvalidArgument on a malformed line (the message quotes it).
Result<std::vector<SlurmJob>> ParseSqueue(std::string_view out);
// Job steps (JobID with a '.') and rows that do not parse are skipped (the jobcomp log of a
// job whose name holds a space is garbled by Slurm itself); when a job id appears more than
// once the last line wins (a Slurm whose state was reset reuses ids; its newest job is last).
Result<std::vector<SlurmJob>> ParseSacct(std::string_view out);
// "123\n" or "123;cluster\n" -> "123". kInvalidArgument otherwise.
Result<std::string> ParseSbatchJobId(std::string_view out);
// Slurm job ids are decimal numbers; anything else cannot be a Slurm job.
bool IsSlurmJobId(std::string_view job_id);

enum class JobPhase { kPending, kRunning, kEnded };
// Jobs still completing (processes being killed) count as running: a job is reported ended
// only once none of its processes is left.
JobPhase PhaseOf(std::string_view state);

// The event for `job` as seen by Slurm, for the task `ref`: RUNNING (with start time and
// node), or the final state: COMPLETED -> COMPLETE; FAILED -> EXECUTOR_ERROR with exit_code
// N and reason "exit code N", or exit_code 128+S and "killed by signal S"; CANCELLED ->
// CANCELED; TIMEOUT and OUT_OF_MEMORY -> EXECUTOR_ERROR (the task's limits); NODE_FAIL,
// BOOT_FAIL, PREEMPTED, DEADLINE, ... -> SYSTEM_ERROR. nullopt while the job is pending.
std::optional<ExecutorEvent> EventForJob(const JobRef& ref, const SlurmJob& job);

// 'text' quoted for a POSIX shell.
std::string ShellQuote(std::string_view text);

// The batch script for `spec`: `#SBATCH --job-name=<job_name>`, an `export` per spec.env
// entry and `exec` of argv (so the job's own exit status or signal is the task's).
// kInvalidArgument for an env name that is not a shell identifier.
Result<std::string> BatchScript(const TaskSpec& spec, std::string_view job_name);
// The Slurm job name of a task: "sluice-<task id, cut to 48 safe chars>-<16 hex digits of
// a hash of run and task id>". The same for every Submit of the task, so that a job
// submitted by a process that died before recording its id is found again by name.
std::string JobName(std::string_view run_id, std::string_view task_id);

// Slurm's --time value for a limit in seconds: whole minutes, rounded up (Slurm's unit).
std::string SlurmTimeLimit(int64_t seconds);

}  // namespace sluice::exec::slurm
