#include "asl/batch.h"

#include <gtest/gtest.h>

namespace sluice::asl {
namespace {

Value Request(const char* json) { return Value::parse(json); }

// The seed 002 request shape: legacy Memory/Vcpus and a literal command.
constexpr const char* kSeedRequest = R"({
  "JobName": "seq-retrieval-e1",
  "JobQueue": "pavi_pipeline",
  "JobDefinition": "arn:aws:batch:REGION:ACCOUNT:job-definition/pavi-seq-retrieval:1",
  "ContainerOverrides": {
    "Memory": 500, "Vcpus": 1,
    "Command": ["seq_retrieval.py", "--output_type", "protein", "--unique_entry_id.$"],
    "Environment": [{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}]
  }
})";

TEST(IsBatchSubmitJob, RecognisesBothPatternsOnly) {
  bool sync = false;
  EXPECT_TRUE(IsBatchSubmitJob("arn:aws:states:::batch:submitJob.sync", &sync));
  EXPECT_TRUE(sync);
  EXPECT_TRUE(IsBatchSubmitJob("arn:aws:states:::batch:submitJob", &sync));
  EXPECT_FALSE(sync);
  for (const char* other :
       {"arn:aws:states:::batch:submitJob.sync:2",
        "arn:aws:states:::batch:submitJob.waitForTaskToken", "arn:aws:states:::batch:submitJobX",
        "arn:aws:states:::lambda:invoke", ""}) {
    EXPECT_FALSE(IsBatchSubmitJob(other, nullptr)) << other;
  }
}

TEST(ParseSubmitJob, ReadsTheSeedRequest) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok()) << spec.error().cause;
  EXPECT_EQ(spec->job_name, "seq-retrieval-e1");
  EXPECT_EQ(spec->job_queue, "pavi_pipeline");
  EXPECT_EQ(spec->command, (std::vector<std::string>{"seq_retrieval.py", "--output_type", "protein",
                                                     "--unique_entry_id.$"}));
  ASSERT_EQ(spec->environment.size(), 2u);
  EXPECT_EQ(spec->environment[0], (std::pair<std::string, std::string>{"B", "2"}));
  EXPECT_EQ(spec->memory_mib, 500);
  EXPECT_EQ(spec->vcpus, 1.0);
  EXPECT_FALSE(spec->gpus.has_value());
  EXPECT_EQ(spec->retry_attempts, 1);
}

TEST(ParseSubmitJob, ResourceRequirementsWinOverLegacyFields) {
  auto spec = ParseSubmitJob(Request(R"({
    "JobName": "j", "JobQueue": "q", "JobDefinition": "d",
    "ContainerOverrides": {"Memory": 100, "Vcpus": 1, "ResourceRequirements": [
      {"Type": "VCPU", "Value": "0.25"}, {"Type": "MEMORY", "Value": "2048"},
      {"Type": "GPU", "Value": "1"}]},
    "Timeout": {"AttemptDurationSeconds": 90},
    "RetryStrategy": {"Attempts": 3},
    "Parameters": {"in": "a.txt"}, "Tags": {"team": "x"}, "PropagateTags": true})"));
  ASSERT_TRUE(spec.ok()) << spec.error().cause;
  EXPECT_EQ(spec->vcpus, 0.25);
  EXPECT_EQ(spec->memory_mib, 2048);
  EXPECT_EQ(spec->gpus, 1);
  EXPECT_EQ(spec->resource_requirements.size(), 3u);
  EXPECT_EQ(spec->attempt_duration_seconds, 90);
  EXPECT_EQ(spec->retry_attempts, 3);
  EXPECT_EQ(spec->tags, Value::parse(R"({"team": "x"})"));
  EXPECT_TRUE(spec->propagate_tags);
}

TEST(ParseSubmitJob, RefusesBadRequestsWithClientException) {
  struct Case {
    const char* request;
    const char* cause_part;
  };
  const Case cases[] = {
      {R"([1])", "must be a JSON object"},
      {R"({"JobQueue": "q", "JobDefinition": "d"})", "JobName: required"},
      {R"({"JobName": "-bad", "JobQueue": "q", "JobDefinition": "d"})", "JobName: \"-bad\""},
      {R"({"JobName": "a b", "JobQueue": "q", "JobDefinition": "d"})", "JobName"},
      {R"({"JobName": "j", "JobDefinition": "d"})", "JobQueue: required"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": 3})",
       "JobDefinition: must be a non-empty string"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d", "Bogus": 1})",
       "Bogus: unknown SubmitJob field"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Command": ["a", 2]}})",
       "ContainerOverrides.Command[1]: must be a string"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Command": "echo hi"}})",
       "ContainerOverrides.Command: must be an array"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Environment": [{"Name": "A"}, {"Name": "A", "Value": "x"}]}})",
       "ContainerOverrides.Environment[1].Name: \"A\" given twice"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Environment": [{"Name": "AWS_BATCH_X", "Value": "x"}]}})",
       "reserved"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Memory": 1.5}})",
       "ContainerOverrides.Memory: must be a positive integer"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"ResourceRequirements": [{"Type": "CPU", "Value": "1"}]}})",
       "ContainerOverrides.ResourceRequirements[0].Type"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"ResourceRequirements": [{"Type": "MEMORY", "Value": 2048}]}})",
       "ContainerOverrides.ResourceRequirements[0].Value"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "ContainerOverrides": {"Gpus": 1}})",
       "ContainerOverrides.Gpus: unknown field"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "Timeout": {"AttemptDurationSeconds": 30}})",
       "Timeout.AttemptDurationSeconds: must be an integer of at least 60"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d",
           "RetryStrategy": {"Attempts": 11}})",
       "RetryStrategy.Attempts"},
      {R"({"JobName": "j", "JobQueue": "q", "JobDefinition": "d", "Tags": {"a": 1}})",
       "Tags.a: must be a string"},
  };
  for (const Case& c : cases) {
    auto spec = ParseSubmitJob(Request(c.request));
    ASSERT_FALSE(spec.ok()) << c.request;
    EXPECT_EQ(spec.error().error, "Batch.ClientException") << c.request;
    EXPECT_NE(spec.error().cause.find(c.cause_part), std::string::npos)
        << c.request << " -> " << spec.error().cause;
  }
}

TEST(BatchCommandLine, SubstitutesWholeRefArguments) {
  auto spec = ParseSubmitJob(Request(R"({
    "JobName": "j", "JobQueue": "q", "JobDefinition": "d",
    "Parameters": {"input": "a.txt"},
    "ContainerOverrides": {"Command": ["cat", "Ref::input", "xRef::input", "Ref::missing"]}})"));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(BatchCommandLine(*spec),
            (std::vector<std::string>{"cat", "a.txt", "xRef::input", "Ref::missing"}));
}

TEST(BatchJobEnvironment, AddsTheBatchVariablesAfterTheUsersOnes) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok());
  auto env = BatchJobEnvironment(*spec, "id-1", 2);
  std::vector<std::pair<std::string, std::string>> expected = {
      {"B", "2"},
      {"A", "1"},
      {"AWS_BATCH_JOB_ID", "id-1"},
      {"AWS_BATCH_JQ_NAME", "pavi_pipeline"},
      {"AWS_BATCH_JOB_ATTEMPT", "2"}};
  EXPECT_EQ(env, expected);
}

TEST(BatchJobId, IsAStableUuidPerExecutionAndTask) {
  std::string a = BatchJobId("exec-1", "7");
  EXPECT_EQ(a, BatchJobId("exec-1", "7"));
  EXPECT_NE(a, BatchJobId("exec-1", "8"));
  EXPECT_NE(a, BatchJobId("exec-2", "7"));
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '8');                                          // version nibble
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);  // RFC variant
}

TEST(BatchLogStreamName, UsesTheJobDefinitionName) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(BatchLogStreamName(*spec, "abc"), "pavi-seq-retrieval/default/abc");
  spec->job_definition = "plain";
  EXPECT_EQ(BatchLogStreamName(*spec, "abc"), "plain/default/abc");
}

TEST(BatchJobDescription, DescribesASucceededJobLikeDescribeJobs) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok());
  BatchJobOutcome outcome;
  outcome.job_id = "id-1";
  outcome.succeeded = true;
  outcome.created_at = 1'000'000;
  outcome.status_reason = std::string(kBatchContainerExited);
  outcome.attempts.push_back({0, 2'000'000, 5'500'000, std::string(kBatchContainerExited), "ls"});
  Value d = BatchJobDescription(*spec, outcome);
  EXPECT_EQ(d["JobId"], "id-1");
  EXPECT_EQ(d["JobArn"], "arn:aws:batch:local:000000000000:job/id-1");
  EXPECT_EQ(d["JobName"], "seq-retrieval-e1");
  EXPECT_EQ(d["Status"], "SUCCEEDED");
  EXPECT_EQ(d["StatusReason"], "Essential container in task exited");
  EXPECT_EQ(d["CreatedAt"], 1000);  // epoch milliseconds
  EXPECT_EQ(d["StartedAt"], 2000);
  EXPECT_EQ(d["StoppedAt"], 5500);
  EXPECT_EQ(d["Container"]["ExitCode"], 0);
  EXPECT_EQ(d["Container"]["LogStreamName"], "ls");
  EXPECT_EQ(d["Container"]["Vcpus"].dump(), "1");
  EXPECT_EQ(d["Container"]["Memory"], 500);
  EXPECT_EQ(d["Container"]["Environment"],
            Value::parse(R"([{"Name": "B", "Value": "2"}, {"Name": "A", "Value": "1"}])"));
  EXPECT_EQ(d["Container"]["Command"][0], "seq_retrieval.py");
  ASSERT_EQ(d["Attempts"].size(), 1u);
  EXPECT_EQ(d["Attempts"][0]["Container"]["ExitCode"], 0);
  EXPECT_EQ(d["Attempts"][0]["StartedAt"], 2000);
  EXPECT_EQ(d["Parameters"], Value::object());
  EXPECT_EQ(d["Tags"], Value::object());
  EXPECT_FALSE(d.contains("Timeout"));
}

TEST(BatchJobDescription, LeavesOutTheExitCodeOfAContainerThatNeverStarted) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok());
  BatchJobOutcome outcome;
  outcome.job_id = "id-2";
  outcome.status_reason = "CannotStartContainerError: x";
  outcome.attempts.push_back({std::nullopt, 1000, 1000, "CannotStartContainerError: x", ""});
  Value d = BatchJobDescription(*spec, outcome);
  EXPECT_EQ(d["Status"], "FAILED");
  EXPECT_FALSE(d["Container"].contains("ExitCode"));
  EXPECT_FALSE(d["Attempts"][0]["Container"].contains("ExitCode"));
}

TEST(BatchJobFailure, IsTaskFailedWithTheDescriptionAsCause) {
  Value d = Value::parse(R"({"JobId": "x", "Status": "FAILED"})");
  ErrorInfo e = BatchJobFailure(d);
  EXPECT_EQ(e.error, "States.TaskFailed");
  EXPECT_EQ(Value::parse(e.cause), d);
}

TEST(BatchSubmitJobResponse, HasArnNameAndId) {
  auto spec = ParseSubmitJob(Request(kSeedRequest));
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(BatchSubmitJobResponse(*spec, "i"),
            Value::parse(R"({"JobArn": "arn:aws:batch:local:000000000000:job/i",
                              "JobName": "seq-retrieval-e1", "JobId": "i"})"));
}

}  // namespace
}  // namespace sluice::asl
