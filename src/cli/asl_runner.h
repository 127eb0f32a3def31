// The in-process driver of `sluice asl run`: feeds an asl::Execution its events and carries
// out its commands until it ends, in one thread around poll().
//
// A StartTask is answered, in this order of preference, by
//   1. the mock config's test case, if it names the state (AWS Step Functions Local format);
//   2. the command bound to the task's resource (--bind / --bindings), run with /bin/sh -c;
//   3. for arn:aws:states:::batch:submitJob(.sync), ContainerOverrides.Command run locally
//      as a process (Environment added to ours, AWS_BATCH_JOB_ID/JQ_NAME/JOB_ATTEMPT set,
//      RetryStrategy.Attempts and Timeout.AttemptDurationSeconds honoured), answered with a
//      Batch job description (.sync) or at once with {JobArn, JobName, JobId};
//   4. otherwise the task fails with Sluice.ResourceNotBound.
// Tasks run concurrently (Map items, Parallel branches). CancelTask sends SIGTERM to the
// task's process group, then SIGKILL after 5 s. Timers run on the monotonic clock.
// SIGINT/SIGTERM stop the execution (ABORTED); a second one kills what is still running.
//
// Thread-safety: not thread-safe; Run() blocks SIGINT, SIGTERM and SIGCHLD in the calling
// thread while it runs (and restores the mask), so the process must not use them elsewhere.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "asl/binding.h"
#include "asl/interpreter.h"
#include "asl/mock_config.h"
#include "common/clock.h"
#include "common/status.h"

namespace sluice::cli {

struct AslRunnerOptions {
  asl::Bindings bindings;
  std::optional<asl::MockTestCase> mocks;
  std::string execution_name;                // SLUICE_EXECUTION_NAME
  std::string execution_id;                  // Batch job ids derive from it
  bool quiet = false;                        // do not echo task output on stderr
  Micros kill_grace = 5 * kMicrosPerSecond;  // SIGTERM -> SIGKILL
};

class AslRunner {
 public:
  AslRunner(const Clock& clock, AslRunnerOptions options);
  ~AslRunner();
  AslRunner(const AslRunner&) = delete;
  AslRunner& operator=(const AslRunner&) = delete;

  // Runs `execution` from its start with `input` until it has a result and no process is
  // left (submitted non-.sync Batch jobs are waited for, unless the run was interrupted).
  // kInternal/kIo only if the driver itself cannot work (no signalfd, poll failing).
  Result<asl::ExecutionResult> Run(asl::Execution& execution, asl::Value input);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::cli
