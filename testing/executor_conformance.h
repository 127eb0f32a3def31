// The Executor conformance suite: one set of GoogleTest cases every executor must pass (local
// processes, later Slurm; the fake runs the subset that needs no real task). It checks the
// contract in exec/executor.h with real tasks that are POSIX shell commands, and pins down
// what the contract leaves open:
//  - the final event carries the job id Submit returned, exit_code for a task that exited
//    (128+S when killed by signal S), reason "exit code N" / "killed by signal S", and
//    start_time <= end_time;
//  - a missing program ends EXECUTOR_ERROR with exit code 127 and a message on its stderr;
//  - the task's cwd is its work_dir, its env is the server's plus spec.env, and its output
//    lands in work_dir/stdout and work_dir/stderr;
//  - Submit of a task that was started (also by an executor instance that is gone) returns
//    the same job id, starts nothing, and the task's state is reported;
//  - Cancel sends SIGTERM first and a task that ignores it is stopped after the grace period;
//    either way the job ends CANCELED with no process of it left;
//  - destroying an executor stops its reports but not its tasks; a new instance's Attach (or
//    Cancel) finds them, running or ended, and reports the real result;
//  - a job whose executor machinery died without a result ends SYSTEM_ERROR.
//
// Use: in the executor's test file, inside namespace sluice::exec or one nested in it (the
// suite's name must be visible unqualified: GoogleTest pastes it into identifiers),
//   SLUICE_INSTANTIATE_EXECUTOR_CONFORMANCE(Local, ExecutorUnderTest{...});
//
// Thread-safety: test code. RecordingEventSink is thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "exec/executor.h"

namespace sluice::exec {

// An EventSink that keeps every event, for tests to wait on with a bounded deadline.
class RecordingEventSink final : public EventSink {
 public:
  void OnExecutorEvent(const ExecutorEvent& event) override;

  std::vector<ExecutorEvent> events() const;
  std::vector<ExecutorEvent> EventsFor(const std::string& task_id) const;
  // The first event for `task_id` in `state` (any terminal state when nullopt), waiting up
  // to `timeout` of real time for it; nullopt on timeout.
  std::optional<ExecutorEvent> WaitFor(const std::string& task_id, std::optional<State> state,
                                       std::chrono::milliseconds timeout);
  std::optional<ExecutorEvent> WaitForFinal(const std::string& task_id,
                                            std::chrono::milliseconds timeout) {
    return WaitFor(task_id, std::nullopt, timeout);
  }

 private:
  mutable Mutex mu_;
  std::condition_variable cv_;
  std::vector<ExecutorEvent> events_ GUARDED_BY(mu_);
};

struct ExecutorUnderTest {
  std::string name;  // test name suffix, e.g. "Local"
  // Makes an executor reporting to `sink`. Called again within a test to stand for a
  // restarted server: each instance must find the jobs of the ones before it.
  std::function<Result<std::unique_ptr<Executor>>(EventSink& sink)> make;
  // False for fakes that run nothing: only the cases that need no real task run.
  bool runs_tasks = true;
  // The SIGTERM -> SIGKILL grace the executor was made with (0: not checked).
  std::chrono::milliseconds cancel_grace{0};
  // Where per-test work dirs are made; empty: $TMPDIR or /tmp. (Slurm: a shared file system.)
  std::string work_root;
  // Bound on every wait for an event or a file the task writes.
  std::chrono::milliseconds timeout{30'000};
  // Optional: true while a process of the job is alive (zombies do not count).
  std::function<bool(const JobRef&)> job_has_live_processes;
  // Optional: kills the executor's own machinery for a running job (local: the task
  // wrapper) so that no result gets recorded, as an infrastructure failure would.
  std::function<Status(const JobRef&)> kill_job_machinery;
};

// Test parameters print as their name.
void PrintTo(const ExecutorUnderTest& under_test, std::ostream* os);

class ExecutorConformanceTest : public ::testing::TestWithParam<ExecutorUnderTest> {
 protected:
  void SetUp() override;
  void TearDown() override;

  Executor& executor() { return *executor_; }
  RecordingEventSink& sink() { return *sinks_.back(); }
  // The sink of the executor instance before the current one.
  RecordingEventSink& previous_sink() { return *sinks_[sinks_.size() - 2]; }
  std::chrono::milliseconds timeout() const { return GetParam().timeout; }

  // A task in its own new work dir under this test's root.
  TaskSpec Spec(const std::string& task_id, std::vector<std::string> argv) const;
  // Submits `spec` and remembers the job so TearDown can stop it.
  Result<JobRef> SubmitTask(const TaskSpec& spec);
  // Remembers a job submitted otherwise, for TearDown.
  void StopAtTearDown(const JobRef& job) { jobs_.push_back(job); }
  // "Server stops": destroys the executor (its tasks go on). StartExecutor makes the next
  // instance, reporting to a new sink().
  void StopExecutor();
  void StartExecutor();

  // Waits (bounded) for the task to create `name` in its work dir.
  bool WaitForFile(const TaskSpec& spec, const std::string& name) const;
  // The content of work_dir/name ("" if unreadable).
  static std::string ReadFile(const TaskSpec& spec, const std::string& name);
  static void TouchFile(const TaskSpec& spec, const std::string& name);
  // Waits (bounded) until job_has_live_processes says none; true without the hook.
  bool WaitUntilNoLiveProcesses(const JobRef& job) const;

 private:
  std::string root_;
  std::vector<std::unique_ptr<RecordingEventSink>> sinks_;  // outlive every executor
  std::unique_ptr<Executor> executor_;
  std::vector<JobRef> jobs_;
};

std::string ExecutorConformanceName(const ::testing::TestParamInfo<ExecutorUnderTest>& info);

// Referenced by the macro below so the linker keeps the suite's object file (it would drop
// it from the static library otherwise: nothing else in a test refers to it).
int ExecutorConformanceLinkAnchor();

}  // namespace sluice::exec

#define SLUICE_INSTANTIATE_EXECUTOR_CONFORMANCE(prefix, ...)                                \
  [[maybe_unused]] static const int prefix##_executor_conformance_anchor =                  \
      ::sluice::exec::ExecutorConformanceLinkAnchor();                                      \
  INSTANTIATE_TEST_SUITE_P(prefix, ExecutorConformanceTest, ::testing::Values(__VA_ARGS__), \
                           ::sluice::exec::ExecutorConformanceName)
