// The Slurm executor against a REAL single-node Slurm (scripts/slurm.sh, started by the
// CTest fixture `slurm_cluster`; see src/exec/CMakeLists.txt): the executor conformance
// suite plus Slurm-specific cases (batched polling, crash between sbatch and recording the
// job id, resources, node).
#include "exec/slurm/slurm_executor.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "exec/local/posix_util.h"
#include "testing/executor_conformance.h"

namespace sluice::exec::slurm {
namespace {

using ::testing::HasSubstr;

// KillWait in the test cluster (scripts/slurm.sh, SLURM_KILL_WAIT): scancel's grace.
constexpr auto kGrace = std::chrono::milliseconds(2000);
constexpr auto kTimeout = std::chrono::milliseconds(30'000);
constexpr Micros kPollInterval = 200'000;

const Clock& TestClock() {
  static const SystemClock clock;
  return clock;
}

std::string SlurmConf() {
  const char* conf = std::getenv("SLUICE_TEST_SLURM_CONF");
  if (conf != nullptr && *conf != '\0') return conf;
  return SLUICE_TEST_SLURM_DIR "/slurm.conf";
}

SlurmExecutorOptions TestOptions() {
  SlurmExecutorOptions options;
  options.slurm_conf = SlurmConf();
  options.poll_interval = kPollInterval;
  return options;
}

// Whether a live process carries SLURM_JOB_ID=<id> in its environment: the job's
// processes do, slurmstepd does not.
bool JobHasLiveProcesses(const JobRef& job) {
  const std::string needle = "SLURM_JOB_ID=" + job.job_id;
  Result<std::vector<local::LiveProcess>> live = local::ListLiveProcesses();
  if (!live.ok()) return false;
  for (const local::LiveProcess& p : *live) {
    Result<std::string> environ = local::ReadFile("/proc/" + std::to_string(p.pid) + "/environ");
    if (!environ.ok()) continue;
    size_t start = 0;
    while (start < environ->size()) {
      size_t end = environ->find('\0', start);
      if (end == std::string::npos) end = environ->size();
      if (std::string_view(*environ).substr(start, end - start) == needle) return true;
      start = end + 1;
    }
  }
  return false;
}

ExecutorUnderTest SlurmUnderTest() {
  ExecutorUnderTest t;
  t.name = "Slurm";
  t.make = [](EventSink& sink) -> Result<std::unique_ptr<Executor>> {
    ASSIGN_OR_RETURN(std::unique_ptr<SlurmExecutor> executor,
                     SlurmExecutor::Create(sink, TestClock(), nullptr, TestOptions()));
    return std::unique_ptr<Executor>(std::move(executor));
  };
  t.cancel_grace = kGrace;
  t.timeout = kTimeout;
  t.job_has_live_processes = JobHasLiveProcesses;
  // No kill_job_machinery: breaking slurmd/slurmstepd would disturb the other tests that
  // share the cluster; NODE_FAIL and friends -> SYSTEM_ERROR is covered by the parse tests.
  return t;
}

}  // namespace

SLUICE_INSTANTIATE_EXECUTOR_CONFORMANCE(Slurm, SlurmUnderTest());

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

class SlurmExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = std::filesystem::temp_directory_path().string() + "/sluice-slurm-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    root_ = std::filesystem::canonical(templ).string();
    executor_ = Make(sink_);
    ASSERT_NE(executor_, nullptr);
  }
  void TearDown() override {
    executor_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }

  static std::unique_ptr<SlurmExecutor> Make(EventSink& sink) {
    Result<std::unique_ptr<SlurmExecutor>> made =
        SlurmExecutor::Create(sink, TestClock(), nullptr, TestOptions());
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return made.ok() ? std::move(made).value() : nullptr;
  }

  TaskSpec Spec(const std::string& task_id, std::vector<std::string> argv) {
    TaskSpec spec;
    // Unique per test, like real run ids: a job name follows from (run, task), and the
    // test cluster remembers the jobs of earlier test runs.
    spec.run_id = "run-" + std::filesystem::path(root_).filename().string();
    spec.task_id = task_id;
    spec.argv = std::move(argv);
    spec.work_dir = root_ + "/" + task_id;
    return spec;
  }

  std::string root_;
  RecordingEventSink sink_;
  std::unique_ptr<SlurmExecutor> executor_;
};

// The point of the poller: however many jobs are tracked, one squeue per poll, and no
// sacct while squeue still knows them.
TEST_F(SlurmExecutorTest, PollsAllTrackedJobsWithOneSqueuePerRound) {
  constexpr int kJobs = 30;
  std::vector<TaskSpec> specs;
  for (int i = 0; i < kJobs; ++i) {
    specs.push_back(Spec("batch-" + std::to_string(i), {"sh", "-c", "sleep 1; exit 0"}));
    Result<std::string> id = executor_->Submit(specs.back());
    ASSERT_TRUE(id.ok()) << id.status().ToString();
  }
  for (const TaskSpec& spec : specs) {
    std::optional<ExecutorEvent> e = sink_.WaitForFinal(spec.task_id, kTimeout);
    ASSERT_TRUE(e.has_value()) << spec.task_id;
    EXPECT_EQ(e->state, State::kComplete) << e->reason;
  }
  SlurmCallCounts counts = executor_->call_counts();
  EXPECT_EQ(counts.sbatch, static_cast<uint64_t>(kJobs));
  EXPECT_GT(counts.polls, 0u);
  EXPECT_EQ(counts.squeue, counts.polls);
  EXPECT_EQ(counts.sacct, 0u);
  // 30 jobs of 1 s each end within a few seconds: far fewer polls than jobs x polls.
  EXPECT_LT(counts.squeue, 100u);
}

// A server that died after sbatch but before recording the job id (even its id file, which
// is not durable) finds the job by the task's job name instead of submitting it again.
TEST_F(SlurmExecutorTest, SubmitAfterCrashBeforeRecordingJobIdFindsTheJob) {
  TaskSpec spec = Spec("lost-id", {"sh", "-c", "echo ran >> runs; sleep 1"});
  Result<std::string> id = executor_->Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  executor_.reset();
  ASSERT_TRUE(std::filesystem::remove(spec.work_dir + "/slurm_job_id"));

  RecordingEventSink sink;
  std::unique_ptr<SlurmExecutor> restarted = Make(sink);
  ASSERT_NE(restarted, nullptr);
  spec.may_exist = true;
  Result<std::string> again = restarted->Submit(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(restarted->call_counts().sbatch, 0u);
  std::optional<ExecutorEvent> e = sink.WaitForFinal(spec.task_id, kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  EXPECT_EQ(Slurp(spec.work_dir + "/runs"), "ran\n");
}

// A task that may have been submitted but was not (sbatch failed or never ran) is looked
// up, not found, and submitted once.
TEST_F(SlurmExecutorTest, SubmitOfTaskThatMayExistButDoesNotSubmitsIt) {
  TaskSpec spec = Spec("never-ran", {"sh", "-c", "echo ran >> runs"});
  spec.may_exist = true;
  Result<std::string> id = executor_->Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(executor_->call_counts().sbatch, 1u);
  EXPECT_GE(executor_->call_counts().squeue, 1u);
  std::optional<ExecutorEvent> e = sink_.WaitForFinal(spec.task_id, kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  EXPECT_EQ(Slurp(spec.work_dir + "/runs"), "ran\n");
}

// The batch script names the job after the task (what the lookup after a crash finds).
TEST_F(SlurmExecutorTest, JobIsNamedAfterTheTask) {
  TaskSpec spec = Spec("named", {"true"});
  Result<std::string> id = executor_->Submit(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_THAT(Slurp(spec.work_dir + "/slurm_job.sh"),
              ::testing::HasSubstr("--job-name=" + JobName(spec.run_id, spec.task_id) + "\n"));
  ASSERT_TRUE(sink_.WaitForFinal(spec.task_id, kTimeout).has_value());
}

TEST_F(SlurmExecutorTest, PassesResourcesAndReportsTheNode) {
  TaskSpec spec = Spec("resources", {"sh", "-c",
                                     "printf '%s %s' \"$SLURM_CPUS_PER_TASK\" "
                                     "\"$SLURM_MEM_PER_NODE\" > res_out; "
                                     "squeue -h -j \"$SLURM_JOB_ID\" -O TimeLimit > limit_out; "
                                     "sleep 1"});
  spec.resources.cpus = 1.5;
  spec.resources.memory_mb = 100;
  spec.resources.time_limit_seconds = 90;
  ASSERT_TRUE(executor_->Submit(spec).ok());
  std::optional<ExecutorEvent> e = sink_.WaitForFinal(spec.task_id, kTimeout);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kComplete) << e->reason;
  EXPECT_EQ(Slurp(spec.work_dir + "/res_out"), "2 100");
  // 90 s, rounded up to Slurm's whole minutes.
  EXPECT_THAT(Slurp(spec.work_dir + "/limit_out"), HasSubstr("2:00"));
  EXPECT_EQ(e->node, "localhost");
  // Running for over a second, so polls every 200 ms saw it run.
  std::vector<ExecutorEvent> events = sink_.EventsFor(spec.task_id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].state, State::kRunning);
  EXPECT_EQ(events[0].node, "localhost");
  EXPECT_TRUE(events[0].start_time.has_value());
}

TEST_F(SlurmExecutorTest, EnvNameThatIsNotAShellNameIsInvalidArgument) {
  TaskSpec spec = Spec("bad-env", {"true"});
  spec.env["NOT-A-NAME"] = "x";
  Result<std::string> id = executor_->Submit(spec);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(executor_->call_counts().sbatch, 0u);
}

TEST_F(SlurmExecutorTest, SbatchRefusalIsAnError) {
  TaskSpec spec = Spec("no-partition", {"true"});
  SlurmExecutorOptions options = TestOptions();
  options.partition = "no-such-partition";
  RecordingEventSink sink;
  Result<std::unique_ptr<SlurmExecutor>> made =
      SlurmExecutor::Create(sink, TestClock(), nullptr, options);
  ASSERT_TRUE(made.ok());
  Result<std::string> id = (*made)->Submit(spec);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kIo);
  EXPECT_THAT(id.status().message(), HasSubstr("partition"));
}

}  // namespace
}  // namespace sluice::exec::slurm
