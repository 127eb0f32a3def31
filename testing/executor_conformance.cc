#include "testing/executor_conformance.h"

#include <gmock/gmock.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sluice::exec {

using ::testing::HasSubstr;

void RecordingEventSink::OnExecutorEvent(const ExecutorEvent& event) {
  {
    MutexLock lock(mu_);
    events_.push_back(event);
  }
  cv_.notify_all();
}

std::vector<ExecutorEvent> RecordingEventSink::events() const {
  MutexLock lock(mu_);
  return events_;
}

std::vector<ExecutorEvent> RecordingEventSink::EventsFor(const std::string& task_id) const {
  MutexLock lock(mu_);
  std::vector<ExecutorEvent> out;
  for (const ExecutorEvent& e : events_) {
    if (e.task_id == task_id) out.push_back(e);
  }
  return out;
}

std::optional<ExecutorEvent> RecordingEventSink::WaitFor(const std::string& task_id,
                                                         std::optional<State> state,
                                                         std::chrono::milliseconds timeout) {
  std::optional<ExecutorEvent> found;
  MutexLock lock(mu_);
  lock.WaitFor(cv_, timeout, [&]() NO_THREAD_SAFETY_ANALYSIS {
    for (const ExecutorEvent& e : events_) {
      if (e.task_id == task_id && (state ? e.state == *state : IsTerminal(e.state))) {
        found = e;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::string ExecutorConformanceName(const ::testing::TestParamInfo<ExecutorUnderTest>& info) {
  return info.param.name;
}

void PrintTo(const ExecutorUnderTest& under_test, std::ostream* os) { *os << under_test.name; }

int ExecutorConformanceLinkAnchor() { return 0; }

namespace {

constexpr auto kPollStep = std::chrono::milliseconds(10);

// Polls `done` every few milliseconds for at most `timeout` of real time.
bool Eventually(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollStep);
  }
  return true;
}

std::string Path(const TaskSpec& spec, const std::string& name) {
  return spec.work_dir + "/" + name;
}

}  // namespace

void ExecutorConformanceTest::SetUp() {
  std::string base = GetParam().work_root;
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string templ = base + "/sluice-exec-conformance-XXXXXX";
  ASSERT_NE(::mkdtemp(templ.data()), nullptr) << "mkdtemp in " << base;
  // Canonical, so the task's `pwd -P` can be compared with it.
  root_ = std::filesystem::canonical(templ).string();
  StartExecutor();
}

void ExecutorConformanceTest::TearDown() {
  // Stop whatever a failed test left running, so no task outlives the test.
  if (executor_ != nullptr) {
    for (const JobRef& job : jobs_) {
      if (!executor_->Cancel(job).ok()) continue;
      if (GetParam().runs_tasks) sink().WaitForFinal(job.task_id, timeout());
      WaitUntilNoLiveProcesses(job);
    }
    executor_.reset();
  }
  sinks_.clear();
  std::error_code ignored;
  if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
}

TaskSpec ExecutorConformanceTest::Spec(const std::string& task_id,
                                       std::vector<std::string> argv) const {
  TaskSpec spec;
  // Unique per test, like real run ids: executors may name jobs after (run, task), and a
  // cluster shared by test runs still remembers the jobs of earlier ones.
  spec.run_id = "conformance-" + std::filesystem::path(root_).filename().string();
  spec.task_id = task_id;
  spec.argv = std::move(argv);
  spec.work_dir = root_ + "/" + task_id;
  return spec;
}

Result<JobRef> ExecutorConformanceTest::SubmitTask(const TaskSpec& spec) {
  ASSIGN_OR_RETURN(std::string job_id, executor_->Submit(spec));
  JobRef job{spec.run_id, spec.task_id, job_id, spec.work_dir};
  jobs_.push_back(job);
  return job;
}

void ExecutorConformanceTest::StopExecutor() { executor_.reset(); }

void ExecutorConformanceTest::StartExecutor() {
  sinks_.push_back(std::make_unique<RecordingEventSink>());
  Result<std::unique_ptr<Executor>> made = GetParam().make(*sinks_.back());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  executor_ = std::move(made).value();
}

bool ExecutorConformanceTest::WaitForFile(const TaskSpec& spec, const std::string& name) const {
  const std::string path = Path(spec, name);
  return Eventually(timeout(), [&] { return std::filesystem::exists(path); });
}

std::string ExecutorConformanceTest::ReadFile(const TaskSpec& spec, const std::string& name) {
  std::ifstream in(Path(spec, name));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void ExecutorConformanceTest::TouchFile(const TaskSpec& spec, const std::string& name) {
  std::ofstream(Path(spec, name)) << "\n";
}

bool ExecutorConformanceTest::WaitUntilNoLiveProcesses(const JobRef& job) const {
  const auto& alive = GetParam().job_has_live_processes;
  if (!alive) return true;
  return Eventually(timeout(), [&] { return !alive(job); });
}

#define SKIP_UNLESS_RUNS_TASKS()                                          \
  do {                                                                    \
    if (!GetParam().runs_tasks) GTEST_SKIP() << "executor runs no tasks"; \
  } while (0)

// --- Cases that need no real task (the fake runs these too) ---

TEST_P(ExecutorConformanceTest, NameIsNotEmpty) { EXPECT_FALSE(executor().Name().empty()); }

TEST_P(ExecutorConformanceTest, SubmitWithoutArgvIsInvalidArgument) {
  Result<std::string> job_id = executor().Submit(Spec("no-argv", {}));
  ASSERT_FALSE(job_id.ok());
  EXPECT_EQ(job_id.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ExecutorConformanceTest, AttachUnknownJobIsNotFound) {
  TaskSpec spec = Spec("never-submitted", {"true"});
  Status st = executor().Attach(JobRef{spec.run_id, spec.task_id, "no-such-job", spec.work_dir});
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
}

TEST_P(ExecutorConformanceTest, SubmitTwiceReturnsSameJobId) {
  TaskSpec spec = Spec("twice", {"sh", "-c", "echo ran >> runs"});
  Result<JobRef> first = SubmitTask(spec);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::string> second = executor().Submit(spec);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, first->job_id);
  EXPECT_FALSE(first->job_id.empty());
}

TEST_P(ExecutorConformanceTest, PollOfUnknownJobReportsItLost) {
  TaskSpec spec = Spec("poll-unknown", {"true"});
  Result<std::vector<ExecutorEvent>> events =
      executor().Poll({JobRef{spec.run_id, spec.task_id, "no-such-job", spec.work_dir}});
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].task_id, spec.task_id);
  EXPECT_EQ((*events)[0].state, State::kSystemError);
  EXPECT_THAT((*events)[0].reason, HasSubstr("job lost"));
  EXPECT_TRUE(executor().Poll({}).ok());
}

// --- Cases with real tasks ---

TEST_P(ExecutorConformanceTest, SubmitOfStartedTaskRunsItOnceAcrossRestart) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("once", {"sh", "-c", "echo ran >> runs"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  Result<std::string> again_while_running = executor().Submit(spec);
  ASSERT_TRUE(again_while_running.ok()) << again_while_running.status().ToString();
  EXPECT_EQ(*again_while_running, job->job_id);
  std::optional<ExecutorEvent> final_event = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(final_event.has_value());
  EXPECT_EQ(final_event->state, State::kComplete) << final_event->reason;

  // A server that crashed between Submit and recording the job id submits again, telling
  // the executor that the job may exist (as the scheduler's recovery does).
  StopExecutor();
  StartExecutor();
  spec.may_exist = true;
  Result<std::string> after_restart = executor().Submit(spec);
  ASSERT_TRUE(after_restart.ok()) << after_restart.status().ToString();
  EXPECT_EQ(*after_restart, job->job_id);
  // ... and still learns how the task ended.
  final_event = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(final_event.has_value());
  EXPECT_EQ(final_event->state, State::kComplete);
  EXPECT_EQ(final_event->exit_code, 0);
  EXPECT_EQ(ReadFile(spec, "runs"), "ran\n");
}

TEST_P(ExecutorConformanceTest, ConcurrentSubmitsStartTaskOnce) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("racing", {"sh", "-c", "echo ran >> runs"});
  constexpr int kThreads = 4;
  std::vector<Result<std::string>> ids(kThreads, Result<std::string>(Internal("not run")));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { ids[i] = executor().Submit(spec); });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(ids[i].ok()) << ids[i].status().ToString();
    EXPECT_EQ(*ids[i], *ids[0]);
  }
  StopAtTearDown(JobRef{spec.run_id, spec.task_id, *ids[0], spec.work_dir});
  ASSERT_TRUE(sink().WaitForFinal(spec.task_id, timeout()).has_value());
  EXPECT_EQ(ReadFile(spec, "runs"), "ran\n");
}

TEST_P(ExecutorConformanceTest, ExitZeroReportsComplete) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("ok", {"sh", "-c", "exit 0"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(e->run_id, spec.run_id);
  EXPECT_EQ(e->job_id, job->job_id);
  ASSERT_TRUE(e->start_time.has_value());
  ASSERT_TRUE(e->end_time.has_value());
  EXPECT_LE(*e->start_time, *e->end_time);
}

TEST_P(ExecutorConformanceTest, NonZeroExitReportsExecutorErrorWithCode) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("exit3", {"sh", "-c", "exit 3"});
  ASSERT_TRUE(SubmitTask(spec).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_EQ(e->reason, "exit code 3");
}

TEST_P(ExecutorConformanceTest, TaskKilledBySignalReportsSignal) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("killed", {"sh", "-c", "kill -KILL $$"});
  ASSERT_TRUE(SubmitTask(spec).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_EQ(e->exit_code, 128 + 9);
  EXPECT_EQ(e->reason, "killed by signal 9");
}

TEST_P(ExecutorConformanceTest, CapturesStdoutAndStderr) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("output", {"sh", "-c", "echo to-out; echo to-err >&2"});
  ASSERT_TRUE(SubmitTask(spec).ok());
  ASSERT_TRUE(sink().WaitForFinal(spec.task_id, timeout()).has_value());
  EXPECT_EQ(ReadFile(spec, "stdout"), "to-out\n");
  EXPECT_EQ(ReadFile(spec, "stderr"), "to-err\n");
}

TEST_P(ExecutorConformanceTest, AppliesEnvAndWorkingDirectory) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("env-cwd", {"sh", "-c",
                                   "printf %s \"$SLUICE_CONFORMANCE_VAR\" > env_out; "
                                   "printf %s \"$HOME\" > home_out; pwd -P > cwd_out"});
  spec.env["SLUICE_CONFORMANCE_VAR"] = "hello world";
  ASSERT_TRUE(SubmitTask(spec).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  EXPECT_EQ(ReadFile(spec, "env_out"), "hello world");
  EXPECT_EQ(ReadFile(spec, "cwd_out"), spec.work_dir + "\n");
  // The server's own environment is passed on too.
  const char* home = std::getenv("HOME");
  if (home != nullptr) {
    EXPECT_EQ(ReadFile(spec, "home_out"), home);
  }
}

TEST_P(ExecutorConformanceTest, MissingProgramExits127) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("missing", {"sluice-conformance-no-such-program", "arg"});
  ASSERT_TRUE(SubmitTask(spec).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_EQ(e->exit_code, 127);
  EXPECT_THAT(ReadFile(spec, "stderr"), HasSubstr("sluice-conformance-no-such-program"));
}

TEST_P(ExecutorConformanceTest, CancelStopsTaskAndReportsCanceled) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("cancel", {"sh", "-c", "echo > ready; exec sleep 60"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  ASSERT_TRUE(executor().Cancel(*job).ok());
  // Far sooner than the task's own 60 s (the timeout is below that).
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled) << e->reason;
  EXPECT_EQ(e->job_id, job->job_id);
  EXPECT_TRUE(WaitUntilNoLiveProcesses(*job));
  // A second request for the same job is harmless.
  EXPECT_TRUE(executor().Cancel(*job).ok());
}

TEST_P(ExecutorConformanceTest, CancelSendsSigtermFirst) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("graceful", {"sh", "-c",
                                    "trap 'echo > got_term; exit 0' TERM; echo > ready; "
                                    "sleep 60 & wait"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  ASSERT_TRUE(executor().Cancel(*job).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled) << e->reason;
  // Slurm may report the job CANCELLED while its processes still run their handlers (a
  // loaded host showed it), so the handler's file is looked for once they are gone.
  EXPECT_TRUE(WaitUntilNoLiveProcesses(*job));
  EXPECT_TRUE(std::filesystem::exists(Path(spec, "got_term")))
      << "the task's SIGTERM handler did not run";
}

TEST_P(ExecutorConformanceTest, CancelKillsTaskIgnoringSigtermAfterGrace) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("stubborn", {"sh", "-c", "trap '' TERM; echo > ready; sleep 60"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  const auto requested = std::chrono::steady_clock::now();
  ASSERT_TRUE(executor().Cancel(*job).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled) << e->reason;
  EXPECT_GE(std::chrono::steady_clock::now() - requested, GetParam().cancel_grace)
      << "killed before the grace period was over";
  EXPECT_TRUE(WaitUntilNoLiveProcesses(*job));
}

TEST_P(ExecutorConformanceTest, CancelAfterEndIsOk) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("done", {"true"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete);
  EXPECT_TRUE(executor().Cancel(*job).ok());
  // The real outcome stands: a repeated report (if any) is still COMPLETE.
  StopExecutor();
  StartExecutor();
  ASSERT_TRUE(executor().Attach(*job).ok());
  e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
}

TEST_P(ExecutorConformanceTest, AttachAfterRestartReportsResultReachedWhileDown) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("restart", {"sh", "-c",
                                   "echo > ready; while [ ! -e go ]; do sleep 0.02; done; "
                                   "echo > finished; exit 7"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  StopExecutor();
  TouchFile(spec, "go");
  ASSERT_TRUE(WaitForFile(spec, "finished"));
  ASSERT_TRUE(WaitUntilNoLiveProcesses(*job));
  StartExecutor();
  EXPECT_FALSE(previous_sink().WaitForFinal(spec.task_id, std::chrono::milliseconds(0)))
      << "a destroyed executor still reported";

  ASSERT_TRUE(executor().Attach(*job).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kExecutorError) << e->reason;
  EXPECT_EQ(e->exit_code, 7);
  EXPECT_EQ(e->job_id, job->job_id);
  ASSERT_TRUE(e->start_time.has_value() && e->end_time.has_value());
  EXPECT_LE(*e->start_time, *e->end_time);
}

TEST_P(ExecutorConformanceTest, AttachWhileRunningReportsRunningThenFinal) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec =
      Spec("reattach", {"sh", "-c", "echo > ready; while [ ! -e go ]; do sleep 0.02; done"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  StopExecutor();
  StartExecutor();
  ASSERT_TRUE(executor().Attach(*job).ok());
  ASSERT_TRUE(sink().WaitFor(spec.task_id, State::kRunning, timeout()).has_value());
  TouchFile(spec, "go");
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  std::vector<ExecutorEvent> events = sink().EventsFor(spec.task_id);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().state, State::kRunning);
}

TEST_P(ExecutorConformanceTest, CancelAfterRestartStopsTask) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec = Spec("cancel-restart", {"sh", "-c", "echo > ready; exec sleep 60"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  StopExecutor();
  StartExecutor();
  ASSERT_TRUE(executor().Cancel(*job).ok());  // no Attach first
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled) << e->reason;
  EXPECT_TRUE(WaitUntilNoLiveProcesses(*job));
}

TEST_P(ExecutorConformanceTest, LostExecutorMachineryReportsSystemError) {
  SKIP_UNLESS_RUNS_TASKS();
  if (!GetParam().kill_job_machinery) GTEST_SKIP() << "no way to break this executor";
  TaskSpec spec = Spec("orphan", {"sh", "-c", "echo > ready; exec sleep 60"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  ASSERT_TRUE(GetParam().kill_job_machinery(*job).ok());
  std::optional<ExecutorEvent> e = sink().WaitForFinal(spec.task_id, timeout());
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kSystemError) << e->reason;
  // The task itself does not run on unwatched.
  EXPECT_TRUE(WaitUntilNoLiveProcesses(*job));
}

// Poll reports each job's current state as events it returns (not to the sink): RUNNING
// while the task runs, then its final state with its result, also from a new instance.
TEST_P(ExecutorConformanceTest, PollReportsRunningThenTheResult) {
  SKIP_UNLESS_RUNS_TASKS();
  TaskSpec spec =
      Spec("poll", {"sh", "-c", "echo > ready; while [ ! -e go ]; do sleep 0.02; done; exit 3"});
  Result<JobRef> job = SubmitTask(spec);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  ASSERT_TRUE(WaitForFile(spec, "ready"));
  // The executor's own RUNNING report first (Slurm's poller may send it after the task has
  // started), so what the sink holds no longer changes while the task waits.
  ASSERT_TRUE(sink().WaitFor(spec.task_id, State::kRunning, timeout()).has_value());
  size_t sent = sink().EventsFor(spec.task_id).size();
  Result<std::vector<ExecutorEvent>> running = executor().Poll({*job});
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].state, State::kRunning);
  EXPECT_EQ((*running)[0].job_id, job->job_id);
  EXPECT_EQ(sink().EventsFor(spec.task_id).size(), sent) << "Poll must not send to the sink";

  TouchFile(spec, "go");
  ASSERT_TRUE(sink().WaitForFinal(spec.task_id, timeout()).has_value());
  StopExecutor();
  StartExecutor();
  Result<std::vector<ExecutorEvent>> ended = executor().Poll({*job});
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  ASSERT_EQ(ended->size(), 1u);
  const ExecutorEvent& e = (*ended)[0];
  EXPECT_EQ(e.state, State::kExecutorError) << e.reason;
  EXPECT_EQ(e.exit_code, 3);
  EXPECT_EQ(e.job_id, job->job_id);
  ASSERT_TRUE(e.start_time.has_value() && e.end_time.has_value());
  EXPECT_LE(*e.start_time, *e.end_time);
}

}  // namespace sluice::exec
