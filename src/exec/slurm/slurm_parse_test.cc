// Parsing of squeue/sacct/sbatch output recorded from a real Slurm 22.05 (testdata/), and
// the mapping of Slurm job states to executor events.
#include "exec/slurm/slurm_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace sluice::exec::slurm {
namespace {

using ::testing::HasSubstr;

std::string TestData(const std::string& name) {
  std::ifstream in(std::string(SLUICE_SLURM_TESTDATA) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::map<std::string, SlurmJob> ById(const std::vector<SlurmJob>& jobs) {
  std::map<std::string, SlurmJob> out;
  for (const SlurmJob& job : jobs) out[job.job_id] = job;
  return out;
}

const JobRef kRef{"run-1", "task-1", "", "/work/task-1"};

TEST(SlurmParse, SqueueRecordedMixedStates) {
  Result<std::vector<SlurmJob>> parsed = ParseSqueue(TestData("squeue_mixed.txt"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->size(), 7u);
  std::map<std::string, SlurmJob> jobs = ById(*parsed);

  const SlurmJob& ok = jobs.at("306");
  EXPECT_EQ(ok.state, "COMPLETED");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.signal, 0);
  EXPECT_EQ(ok.start_time, 1796069417 * kMicrosPerSecond);
  EXPECT_EQ(ok.end_time, 1796069417 * kMicrosPerSecond);
  EXPECT_EQ(ok.node, "localhost");
  EXPECT_EQ(ok.name, "sluice-ok-1a2b3c4d");

  EXPECT_EQ(jobs.at("307").exit_code, 3);  // raw wait status 768
  EXPECT_EQ(jobs.at("307").signal, 0);
  EXPECT_EQ(jobs.at("308").signal, 9);
  EXPECT_EQ(jobs.at("308").reason, "JobLaunchFailure");
  EXPECT_EQ(jobs.at("309").state, "CANCELLED");
  EXPECT_EQ(jobs.at("313").exit_code, 127);
  EXPECT_EQ(jobs.at("313").name, "weird|name with spaces");

  const SlurmJob& pending = jobs.at("312");
  EXPECT_EQ(pending.state, "PENDING");
  EXPECT_EQ(pending.node, "");
  EXPECT_EQ(pending.end_time, std::nullopt);  // NONE
  EXPECT_EQ(pending.reason, "BeginTime");

  const SlurmJob& running = jobs.at("311");
  EXPECT_EQ(running.state, "RUNNING");
  EXPECT_EQ(running.end_time, std::nullopt);
}

TEST(SlurmParse, SqueueRejectsMalformedLines) {
  EXPECT_FALSE(ParseSqueue("306|COMPLETED|0\n").ok());
  EXPECT_FALSE(ParseSqueue("abc|COMPLETED|0|1|2|n|None|x|\n").ok());
  EXPECT_FALSE(ParseSqueue("306|COMPLETED|zero|1|2|n|None|x|\n").ok());
  Result<std::vector<SlurmJob>> empty = ParseSqueue("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SlurmParse, SacctRecordedJobcompLog) {
  Result<std::vector<SlurmJob>> parsed = ParseSacct(TestData("sacct_jobcomp.txt"));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::map<std::string, SlurmJob> jobs = ById(*parsed);
  // 313's row is garbled by Slurm (a space in its name): skipped, not fatal.
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_FALSE(jobs.contains("313"));
  EXPECT_EQ(jobs.at("306").state, "COMPLETED");
  EXPECT_EQ(jobs.at("307").exit_code, 3);
  EXPECT_EQ(jobs.at("308").signal, 9);
  EXPECT_EQ(jobs.at("309").state, "CANCELLED");
  EXPECT_EQ(jobs.at("309").end_time, 1796069419 * kMicrosPerSecond);
  EXPECT_EQ(jobs.at("309").name, "sluice-cancel-00000003");
}

TEST(SlurmParse, SacctSkipsStepsKeepsLastRowAndReadsCancelledBy) {
  Result<std::vector<SlurmJob>> parsed = ParseSacct(
      "5|COMPLETED|0:0|10|11|n1|old\n"
      "5.batch|COMPLETED|0:0|10|11|n1|batch\n"
      "5|CANCELLED by 0|0:15|Unknown|12|None assigned|new\n");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->size(), 1u);
  const SlurmJob& job = (*parsed)[0];
  EXPECT_EQ(job.state, "CANCELLED");
  EXPECT_EQ(job.signal, 15);
  EXPECT_EQ(job.start_time, std::nullopt);
  EXPECT_EQ(job.node, "");
  EXPECT_EQ(job.name, "new");
}

TEST(SlurmParse, SbatchJobId) {
  Result<std::string> id = ParseSbatchJobId(TestData("sbatch_parsable.txt"));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "315");
  EXPECT_EQ(*ParseSbatchJobId("sbatch: warning: something\n42;cluster\n"), "42");
  EXPECT_FALSE(ParseSbatchJobId("").ok());
  EXPECT_FALSE(ParseSbatchJobId("Submitted batch job 42\n").ok());
}

TEST(SlurmParse, CompletingJobIsStillRunning) {
  Result<std::vector<SlurmJob>> parsed = ParseSqueue(TestData("squeue_completing.txt"));
  ASSERT_TRUE(parsed.ok());
  std::map<std::string, SlurmJob> jobs = ById(*parsed);
  std::optional<ExecutorEvent> e = EventForJob(kRef, jobs.at("314"));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kRunning);
  EXPECT_EQ(e->job_id, "314");
  EXPECT_EQ(e->node, "localhost");
  EXPECT_EQ(e->end_time, std::nullopt);
}

struct EventCase {
  std::string job_id;
  State state;
  std::optional<int> exit_code;
  std::string reason;
};

TEST(SlurmParse, EventsForRecordedStates) {
  Result<std::vector<SlurmJob>> parsed = ParseSqueue(TestData("squeue_mixed.txt"));
  ASSERT_TRUE(parsed.ok());
  std::map<std::string, SlurmJob> jobs = ById(*parsed);
  const std::vector<EventCase> cases = {
      {"306", State::kComplete, 0, ""},
      {"307", State::kExecutorError, 3, "exit code 3"},
      {"308", State::kExecutorError, 137, "killed by signal 9"},
      {"313", State::kExecutorError, 127, "exit code 127"},
      {"309", State::kCanceled, std::nullopt, "canceled (slurm: CANCELLED)"},
      {"311", State::kRunning, std::nullopt, ""},
  };
  for (const EventCase& c : cases) {
    SCOPED_TRACE(c.job_id);
    std::optional<ExecutorEvent> e = EventForJob(kRef, jobs.at(c.job_id));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->state, c.state);
    EXPECT_EQ(e->exit_code, c.exit_code);
    EXPECT_EQ(e->reason, c.reason);
    EXPECT_EQ(e->run_id, "run-1");
    EXPECT_EQ(e->task_id, "task-1");
    EXPECT_EQ(e->job_id, c.job_id);
    EXPECT_EQ(e->node, "localhost");
    ASSERT_TRUE(e->start_time.has_value());
    if (c.state != State::kRunning) {
      ASSERT_TRUE(e->end_time.has_value());
      EXPECT_LE(*e->start_time, *e->end_time);
    }
  }
  EXPECT_FALSE(EventForJob(kRef, jobs.at("312")).has_value()) << "pending: no event";
}

TEST(SlurmParse, EventsForInfrastructureAndLimitStates) {
  SlurmJob job;
  job.job_id = "9";
  job.start_time = 20 * kMicrosPerSecond;
  job.end_time = 10 * kMicrosPerSecond;  // clock skew: start is clamped to end
  job.state = "NODE_FAIL";
  job.reason = "NodeDown";
  std::optional<ExecutorEvent> e = EventForJob(kRef, job);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, State::kSystemError);
  EXPECT_EQ(e->reason, "slurm: job NODE_FAIL (NodeDown)");
  EXPECT_EQ(e->start_time, e->end_time);

  job.state = "TIMEOUT";
  job.signal = 15;
  e = EventForJob(kRef, job);
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_EQ(e->exit_code, 128 + 15);
  EXPECT_THAT(e->reason, HasSubstr("time limit"));

  job.state = "OUT_OF_MEMORY";
  job.signal = 9;
  e = EventForJob(kRef, job);
  EXPECT_EQ(e->state, State::kExecutorError);
  EXPECT_THAT(e->reason, HasSubstr("out of memory"));

  // FAILED without any status of the task's own: the launch failed.
  job.state = "FAILED";
  job.signal = 0;
  job.exit_code = 0;
  EXPECT_EQ(EventForJob(kRef, job)->state, State::kSystemError);

  job.state = "SOMETHING_NEW";
  EXPECT_FALSE(EventForJob(kRef, job).has_value());
}

TEST(SlurmParse, JobNameIsStablePerTaskAndDistinctAcrossTasks) {
  const std::string name = JobName("run-1", "align/chr1");
  EXPECT_EQ(name, JobName("run-1", "align/chr1"));
  EXPECT_THAT(name, ::testing::StartsWith("sluice-align_chr1-"));
  EXPECT_EQ(name.size(), std::string("sluice-align_chr1-").size() + 16);
  EXPECT_NE(name, JobName("run-2", "align/chr1"));
  EXPECT_NE(name, JobName("run-1", "align_chr1"));  // same readable part, other hash
  // The split between run and task counts: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(JobName("ab", "c"), JobName("a", "bc"));
  // A long task id is cut; the hash still tells tasks apart.
  const std::string long_id(100, 'x');
  EXPECT_EQ(JobName("r", long_id).size(), std::string("sluice-").size() + 48 + 17);
  EXPECT_NE(JobName("r", long_id), JobName("r", long_id + "y"));
}

TEST(SlurmParse, BatchScriptQuotesAndExports) {
  TaskSpec spec;
  spec.run_id = "r";
  spec.task_id = "t";
  spec.argv = {"echo", "it's", "$HOME", "a b"};
  spec.env["GREETING"] = "hello 'world'";
  Result<std::string> script = BatchScript(spec, "sluice-t-0000abcd");
  ASSERT_TRUE(script.ok()) << script.status().ToString();
  EXPECT_THAT(*script, HasSubstr("#SBATCH --job-name=sluice-t-0000abcd\n"));
  EXPECT_THAT(*script, HasSubstr("export GREETING='hello '\\''world'\\'''\n"));
  EXPECT_THAT(*script, HasSubstr("exec 'echo' 'it'\\''s' '$HOME' 'a b'\n"));

  spec.env["BAD-NAME"] = "x";
  EXPECT_EQ(BatchScript(spec, "n").status().code(), StatusCode::kInvalidArgument);
  spec.env.clear();
  spec.argv.clear();
  EXPECT_EQ(BatchScript(spec, "n").status().code(), StatusCode::kInvalidArgument);
}

TEST(SlurmParse, TimeLimitAndJobIds) {
  EXPECT_EQ(SlurmTimeLimit(90), "2");
  EXPECT_EQ(SlurmTimeLimit(120), "2");
  EXPECT_EQ(SlurmTimeLimit(3 * 3600 + 5), "181");
  EXPECT_EQ(SlurmTimeLimit(0), "1");
  EXPECT_TRUE(IsSlurmJobId("12345"));
  EXPECT_FALSE(IsSlurmJobId(""));
  EXPECT_FALSE(IsSlurmJobId("local:12"));
  EXPECT_FALSE(IsSlurmJobId("12_3"));
  EXPECT_EQ(PhaseOf("COMPLETING"), JobPhase::kRunning);
  EXPECT_EQ(PhaseOf("PENDING"), JobPhase::kPending);
  EXPECT_EQ(PhaseOf("CANCELLED"), JobPhase::kEnded);
}

}  // namespace
}  // namespace sluice::exec::slurm
