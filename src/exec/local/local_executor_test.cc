#include "exec/local/local_executor.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "exec/local/posix_util.h"
#include "exec/local/task_files.h"
#include "testing/executor_conformance.h"

namespace sluice::exec::local {
namespace {

using ::testing::HasSubstr;

constexpr auto kGrace = std::chrono::milliseconds(1000);
constexpr auto kTimeout = std::chrono::milliseconds(20'000);

const Clock& TestClock() {
  static const SystemClock clock;
  return clock;
}

LocalExecutorOptions TestOptions(bool use_pidfd) {
  LocalExecutorOptions options;
  options.wrapper_exe = SLUICE_TEST_WRAPPER_EXE;
  options.cancel_grace = std::chrono::duration_cast<std::chrono::microseconds>(kGrace).count();
  options.use_pidfd = use_pidfd;
  return options;
}

// Whether `pid` is a live (not zombie) process; with `as_group`, whether any live process
// has `pid` as its process group. Read from /proc, because kill(pid, 0) also succeeds for
// zombies, which an init that does not reap orphans may keep around.
bool Alive(pid_t pid, bool as_group) {
  if (as_group) {
    Result<std::vector<LiveProcess>> live = ListLiveProcesses();
    return live.ok() && std::any_of(live->begin(), live->end(),
                                    [pid](const LiveProcess& p) { return p.pgrp == pid; });
  }
  std::optional<ProcStat> stat = ReadProcStat(pid);
  return stat.has_value() && stat->alive();
}

bool JobHasLiveProcesses(const JobRef& job) {
  std::optional<pid_t> pgid = LocalExecutor::PidFromJobId(job.job_id);
  return pgid.has_value() && Alive(*pgid, /*as_group=*/true);
}

Status KillWrapper(const JobRef& job) {
  std::optional<pid_t> pid = LocalExecutor::PidFromJobId(job.job_id);
  if (!pid) return InvalidArgument("not a local job id: " + job.job_id);
  if (::kill(*pid, SIGKILL) != 0) return ErrnoStatus(errno, "kill");
  return Status::Ok();
}

ExecutorUnderTest LocalUnderTest(std::string name, bool use_pidfd) {
  ExecutorUnderTest t;
  t.name = std::move(name);
  t.make = [use_pidfd](EventSink& sink) -> Result<std::unique_ptr<Executor>> {
    ASSIGN_OR_RETURN(std::unique_ptr<LocalExecutor> executor,
                     LocalExecutor::Create(sink, TestClock(), TestOptions(use_pidfd)));
    return std::unique_ptr<Executor>(std::move(executor));
  };
  t.cancel_grace = kGrace;
  t.timeout = kTimeout;
  t.job_has_live_processes = JobHasLiveProcesses;
  t.kill_job_machinery = KillWrapper;
  return t;
}

SLUICE_INSTANTIATE_EXECUTOR_CONFORMANCE(Local, LocalUnderTest("Pidfd", true),
                                        LocalUnderTest("LockPolling", false));

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = std::filesystem::temp_directory_path().string() + "/sluice-local-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = std::filesystem::canonical(templ).string();
    Result<std::unique_ptr<LocalExecutor>> made =
        LocalExecutor::Create(sink_, TestClock(), TestOptions(true));
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    executor_ = std::move(made).value();
  }
  void TearDown() override {
    executor_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  TaskSpec Spec(const std::string& task_id, std::vector<std::string> argv) {
    return TaskSpec{"run", task_id, std::move(argv), {}, {}, root_ + "/" + task_id};
  }
  // Submits a task that creates `ready` in its work dir once it is set up, and waits for it.
  Result<std::string> SubmitAndWaitUntilReady(const TaskSpec& spec) {
    Result<std::string> job_id = executor_->Submit(spec);
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (job_id.ok() && !PathExists(spec.work_dir + "/ready")) {
      if (std::chrono::steady_clock::now() > deadline)
        return Unavailable(spec.task_id + ": never got ready");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return job_id;
  }
  // A work dir as a wrapper with pid `pid` would have left it.
  std::string MakeTaskDir(const std::string& task_id, const std::string& pid) {
    std::string dir = root_ + "/" + task_id;
    std::filesystem::create_directories(dir);
    WriteText(dir + "/pid", pid);
    return dir;
  }

  std::string root_;
  RecordingEventSink sink_;
  std::unique_ptr<LocalExecutor> executor_;
};

TEST(LocalExecutorCreate, RejectsWrapperThatIsNotAnAbsoluteExecutable) {
  RecordingEventSink sink;
  for (const char* exe : {"", "sluice", "/nonexistent/sluice"}) {
    LocalExecutorOptions options = TestOptions(true);
    options.wrapper_exe = exe;
    Result<std::unique_ptr<LocalExecutor>> made = LocalExecutor::Create(sink, TestClock(), options);
    ASSERT_FALSE(made.ok()) << exe;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument) << exe;
  }
}

TEST(LocalExecutorJobId, RoundTripsPidAndRejectsOtherForms) {
  EXPECT_EQ(LocalExecutor::JobIdForPid(1234), "local:1234");
  EXPECT_EQ(LocalExecutor::PidFromJobId("local:1234"), 1234);
  for (const char* bad : {"", "local:", "local:x1", "local:12x", "slurm:1234", "1234"}) {
    EXPECT_EQ(LocalExecutor::PidFromJobId(bad), std::nullopt) << bad;
  }
}

TEST_F(LocalExecutorTest, NameIsLocal) { EXPECT_EQ(executor_->Name(), "local"); }

TEST_F(LocalExecutorTest, SubmitRejectsRelativeWorkDir) {
  TaskSpec spec = Spec("rel", {"true"});
  spec.work_dir = "relative/dir";
  Result<std::string> job_id = executor_->Submit(spec);
  ASSERT_FALSE(job_id.ok());
  EXPECT_EQ(job_id.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(LocalExecutorTest, RecordsExitStatusDurablyInWorkDir) {
  TaskSpec spec = Spec("record", {"sh", "-c", "exit 5"});
  Result<std::string> job_id = executor_->Submit(spec);
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("record", kTimeout);
  ASSERT_TRUE(e.has_value());

  Result<ExitRecord> record = ParseExitRecord(Slurp(spec.work_dir + "/exit_code"));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->exit_code, 5);
  EXPECT_EQ(record->signal, std::nullopt);
  EXPECT_LE(record->start_time, record->end_time);
  EXPECT_EQ(e->start_time, record->start_time);
  EXPECT_EQ(e->end_time, record->end_time);
  EXPECT_EQ("local:" + Slurp(spec.work_dir + "/pid"), *job_id + "\n");
  // The RUNNING event came first.
  std::vector<ExecutorEvent> events = sink_.EventsFor("record");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].state, State::kRunning);
  EXPECT_TRUE(events[0].start_time.has_value());
}

TEST_F(LocalExecutorTest, CancelRecordsTheRequestDurably) {
  TaskSpec spec = Spec("cancel", {"sh", "-c", "echo > ready; exec sleep 60"});
  Result<std::string> job_id = SubmitAndWaitUntilReady(spec);
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  ASSERT_TRUE(executor_->Cancel(JobRef{"run", "cancel", *job_id, spec.work_dir}).ok());
  EXPECT_TRUE(PathExists(spec.work_dir + "/cancel_requested"));
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("cancel", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled);
  EXPECT_EQ(e->exit_code, 128 + SIGTERM);
}

// A task that ignores SIGTERM is SIGKILLed after the grace period, but its wrapper is spared:
// it records how the task ended, so the task log has the exit code and the real end time.
TEST_F(LocalExecutorTest, CancelPastTheGraceKillsTheTaskButKeepsItsExitStatus) {
  TaskSpec spec = Spec("stubborn", {"sh", "-c", "trap '' TERM; sleep 60 & echo > ready; wait"});
  Result<std::string> job_id = SubmitAndWaitUntilReady(spec);
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  const auto canceled_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(executor_->Cancel(JobRef{"run", "stubborn", *job_id, spec.work_dir}).ok());
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("stubborn", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - canceled_at, kGrace) << "SIGTERM was ignored";
  EXPECT_EQ(e->state, State::kCanceled);
  EXPECT_EQ(e->exit_code, 128 + SIGKILL) << e->reason;
  EXPECT_THAT(e->reason, HasSubstr("killed by signal 9"));
  EXPECT_TRUE(PathExists(spec.work_dir + "/exit_code"));
  EXPECT_FALSE(JobHasLiveProcesses(JobRef{"run", "stubborn", *job_id, spec.work_dir}));
}

TEST_F(LocalExecutorTest, KillsLeftoverBackgroundProcessesWhenTaskEnds) {
  TaskSpec spec = Spec("leftover", {"sh", "-c", "sleep 60 & echo $! > bg_pid"});
  ASSERT_TRUE(executor_->Submit(spec).ok());
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("leftover", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  pid_t bg = std::atoi(Slurp(spec.work_dir + "/bg_pid").c_str());
  ASSERT_GT(bg, 1);
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (Alive(bg, false) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(Alive(bg, false)) << "background child " << bg << " outlived its task";
}

TEST_F(LocalExecutorTest, SubmitOfTaskThatEndedBeforeCrashReportsRecordedResult) {
  TaskSpec spec = Spec("recorded", {"sh", "-c", "echo > ran"});
  MakeTaskDir("recorded", "4242\n");
  ExitRecord record{9, std::nullopt, 1'000'000, 2'000'000};
  WriteText(spec.work_dir + "/exit_code", SerializeExitRecord(record));

  Result<std::string> job_id = executor_->Submit(spec);
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  EXPECT_EQ(*job_id, "local:4242");
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("recorded", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_EQ(e->exit_code, 9);
  EXPECT_EQ(e->start_time, 1'000'000);
  EXPECT_EQ(e->end_time, 2'000'000);
  EXPECT_FALSE(PathExists(spec.work_dir + "/ran"));
}

TEST_F(LocalExecutorTest, SubmitOfTaskWhoseWrapperVanishedDoesNotStartItAgain) {
  TaskSpec spec = Spec("vanished", {"sh", "-c", "echo > ran"});
  MakeTaskDir("vanished", "4242\n");
  Result<std::string> job_id = executor_->Submit(spec);
  ASSERT_TRUE(job_id.ok()) << job_id.status().ToString();
  EXPECT_EQ(*job_id, "local:4242");
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("vanished", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kSystemError);
  EXPECT_EQ(e->reason, "task process vanished");
  EXPECT_FALSE(PathExists(spec.work_dir + "/ran"));
}

TEST_F(LocalExecutorTest, AttachReportsCancelRequestedWhileServerWasDown) {
  std::string dir = MakeTaskDir("canceled", "4242\n");
  WriteText(dir + "/exit_code", SerializeExitRecord({143, 15, 1, 2}));
  WriteText(dir + "/cancel_requested", "x\n");
  ASSERT_TRUE(executor_->Attach(JobRef{"run", "canceled", "local:4242", dir}).ok());
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("canceled", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kCanceled);
  EXPECT_EQ(e->exit_code, 143);
}

TEST_F(LocalExecutorTest, AttachWithAnotherJobsIdIsNotFound) {
  std::string dir = MakeTaskDir("foreign", "4242\n");
  WriteText(dir + "/exit_code", SerializeExitRecord({0, std::nullopt, 1, 2}));
  Status st = executor_->Attach(JobRef{"run", "foreign", "local:4343", dir});
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_TRUE(sink_.EventsFor("foreign").empty());
}

TEST_F(LocalExecutorTest, UnreadableExitStatusIsSystemError) {
  std::string dir = MakeTaskDir("garbled", "4242\n");
  WriteText(dir + "/exit_code", "{\"exit_code\": \"zero\"}");
  ASSERT_TRUE(executor_->Attach(JobRef{"run", "garbled", "local:4242", dir}).ok());
  std::optional<ExecutorEvent> e = sink_.WaitForFinal("garbled", kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kSystemError);
  EXPECT_THAT(e->reason, HasSubstr("unreadable exit status"));
}

TEST_F(LocalExecutorTest, CallsAfterShutdownAreUnavailable) {
  executor_->Shutdown();
  TaskSpec spec = Spec("late", {"true"});
  Result<std::string> job_id = executor_->Submit(spec);
  ASSERT_FALSE(job_id.ok());
  EXPECT_EQ(job_id.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(executor_->Attach(JobRef{"run", "late", "local:4242", spec.work_dir}).code(),
            StatusCode::kUnavailable);
  executor_->Shutdown();  // twice is fine
}

// --- The wrapper on its own ---

int RunWrapper(const std::vector<std::string>& args, const std::string& log_path) {
  SpawnRequest request;
  request.argv = {SLUICE_TEST_WRAPPER_EXE};
  request.argv.insert(request.argv.end(), args.begin(), args.end());
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  request.stderr_fd = log.get();
  pid_t pid = 0;
  if (Spawn(request, &pid) != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST_F(LocalExecutorTest, WrapperRunsTaskOnceAndRecordsItsExit) {
  std::string dir = root_ + "/standalone";
  std::filesystem::create_directories(dir);
  std::vector<std::string> args = {
      "__task-wrapper", dir, "--", "sh", "-c", "echo hi; echo ran >> runs; exit 4"};
  EXPECT_EQ(RunWrapper(args, root_ + "/log"), 4);
  Result<ExitRecord> record = ParseExitRecord(Slurp(dir + "/exit_code"));
  ASSERT_TRUE(record.ok()) << record.status().ToString();
  EXPECT_EQ(record->exit_code, 4);
  EXPECT_EQ(Slurp(dir + "/stdout"), "hi\n");
  EXPECT_EQ(ProbeLock(dir + "/lock"), LockState::kFree);

  // A second wrapper for the same dir refuses to start the task again.
  EXPECT_EQ(RunWrapper(args, root_ + "/log"), 3);
  EXPECT_EQ(Slurp(dir + "/runs"), "ran\n");
  EXPECT_THAT(Slurp(root_ + "/log"), HasSubstr("already started"));
}

TEST_F(LocalExecutorTest, WrapperRejectsBadUsage) {
  EXPECT_EQ(RunWrapper({"__task-wrapper", "relative", "--", "true"}, root_ + "/log"), 2);
  EXPECT_EQ(RunWrapper({"__task-wrapper", root_, "--"}, root_ + "/log"), 2);
  EXPECT_EQ(RunWrapper({"__task-wrapper", root_, "true"}, root_ + "/log"), 2);
  EXPECT_THAT(Slurp(root_ + "/log"), HasSubstr("usage"));
}

}  // namespace
}  // namespace sluice::exec::local
