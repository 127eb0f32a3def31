// The AWS Batch integration of Task states: `arn:aws:states:::batch:submitJob` and its
// `.sync` form. Pure helpers shared by the drivers (`sluice asl run` and the server):
//   - ParseSubmitJob reads a Task's effective input as a Batch SubmitJob request (PascalCase,
//     as Step Functions passes it) and checks it the way Batch would, failing with
//     `Batch.ClientException` and a cause naming the field;
//   - BatchJobDescription renders a finished job like Batch's DescribeJobs (PascalCase, as
//     Step Functions returns it from `.sync`); BatchJobFailure is the States.TaskFailed error
//     a failed `.sync` job raises (the cause is that description as JSON text, as in AWS);
//   - BatchCommandLine / BatchJobEnvironment give the process to run for a job locally.
// The drivers run the job (a process, a Slurm job, ...) and fill in a BatchJobOutcome.
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "asl/value.h"
#include "common/clock.h"

namespace sluice::asl {

inline constexpr std::string_view kBatchSubmitJob = "arn:aws:states:::batch:submitJob";
inline constexpr std::string_view kBatchClientException = "Batch.ClientException";

// True if `resource` is batch:submitJob (*sync = false) or batch:submitJob.sync
// (*sync = true). `sync` may be null.
bool IsBatchSubmitJob(std::string_view resource, bool* sync);

struct BatchResourceRequirement {
  std::string type;   // VCPU, MEMORY or GPU
  std::string value;  // as given: "1", "0.25", "2048"
};

// A SubmitJob request, as far as a local run needs it. Fields Batch accepts but that mean
// nothing locally (ShareIdentifier, SchedulingPriorityOverride, DependsOn, NodeOverrides,
// EksPropertiesOverride, ...) are accepted and ignored; `request` keeps the whole input.
struct BatchJobSpec {
  std::string job_name;
  std::string job_queue;
  std::string job_definition;
  std::vector<std::string> command;  // ContainerOverrides.Command; empty when not given
  std::vector<std::pair<std::string, std::string>> environment;  // in the order given
  std::optional<double> vcpus;        // ContainerOverrides.Vcpus or a VCPU requirement
  std::optional<int64_t> memory_mib;  // ContainerOverrides.Memory or a MEMORY requirement
  std::optional<int64_t> gpus;        // a GPU requirement
  std::vector<BatchResourceRequirement> resource_requirements;  // as given
  std::optional<int64_t> attempt_duration_seconds;              // Timeout.AttemptDurationSeconds
  int retry_attempts = 1;                                       // RetryStrategy.Attempts (1-10)
  std::vector<std::pair<std::string, std::string>> parameters;  // Parameters, in order
  Value tags = Value::object();                                 // Tags (string values)
  bool propagate_tags = false;
  std::optional<int64_t> array_size;  // ArrayProperties.Size (an array job of that many)
  Value request = Value::object();    // the effective input as given
};

// Reads a SubmitJob request. JobName (1-128 letters, digits, '-' and '_', starting with a
// letter or digit), JobQueue and JobDefinition are required; ContainerOverrides may hold
// Command (array of strings), Environment ([{Name, Value}], names unique and not starting
// with AWS_BATCH), Memory (MiB, integer > 0), Vcpus (number > 0), InstanceType and
// ResourceRequirements ([{Type: VCPU|MEMORY|GPU, Value: "n"}]); Timeout.AttemptDurationSeconds
// is an integer >= 60; RetryStrategy.Attempts an integer 1-10; Parameters and Tags objects of
// strings. Unknown top-level or ContainerOverrides fields are refused, as Step Functions
// does. Errors: Batch.ClientException, the cause naming the field ("ContainerOverrides.
// Command[2]: must be a string").
EvalResult<BatchJobSpec> ParseSubmitJob(const Value& effective_input);

// One run of the job's container.
struct BatchAttempt {
  std::optional<int> exit_code;  // absent when the container never started
  Micros started_at = 0;
  Micros stopped_at = 0;
  std::string status_reason;  // "Essential container in task exited", ...
  std::string log_stream_name;
};

struct BatchJobOutcome {
  std::string job_id;
  bool succeeded = false;
  Micros created_at = 0;
  std::vector<BatchAttempt> attempts;  // in order; the last one decides
  std::string status_reason;           // the job's StatusReason
};

// Status reasons Batch uses.
inline constexpr std::string_view kBatchContainerExited = "Essential container in task exited";
inline constexpr std::string_view kBatchAttemptTimedOut = "Job attempt duration exceeded timeout";

// The job's ARN-like id "arn:aws:batch:local:000000000000:job/<job_id>".
std::string BatchJobArn(std::string_view job_id);

// A job id that is the same for the same (execution id, task id): a UUID-formatted hash, so
// that a resubmission after a restart and a re-run with the same --context name the same
// job.
std::string BatchJobId(std::string_view execution_id, std::string_view task_id);

// The default log stream name Batch would give: "<job definition name>/default/<job_id>",
// where the name is taken from a job-definition ARN ("...:job-definition/name:3" -> "name").
std::string BatchLogStreamName(const BatchJobSpec& spec, std::string_view job_id);

// The command to run: ContainerOverrides.Command with each argument that is exactly
// "Ref::<name>" replaced by Parameters.<name> (Batch's parameter substitution); empty if
// no command was given.
std::vector<std::string> BatchCommandLine(const BatchJobSpec& spec);

// The variables the job's process gets on top of the driver's environment: Environment in
// order, then AWS_BATCH_JOB_ID, AWS_BATCH_JQ_NAME and AWS_BATCH_JOB_ATTEMPT (1-based), as
// Batch sets them in containers.
std::vector<std::pair<std::string, std::string>> BatchJobEnvironment(const BatchJobSpec& spec,
                                                                     std::string_view job_id,
                                                                     int attempt);

// The submitJob (no .sync) result: {"JobArn", "JobName", "JobId"}.
Value BatchSubmitJobResponse(const BatchJobSpec& spec, std::string_view job_id);

// A DescribeJobs-style description, PascalCase, times in epoch milliseconds: JobArn, JobName,
// JobId, JobQueue, Status (SUCCEEDED|FAILED), Attempts [{Container {ExitCode, LogStreamName},
// StartedAt, StoppedAt, StatusReason}], StatusReason, CreatedAt, RetryStrategy, StartedAt,
// StoppedAt, JobDefinition, Parameters, Container {Command, Environment [{Name, Value}],
// ExitCode, LogStreamName, Vcpus, Memory, ResourceRequirements [{Type, Value}]}, Timeout,
// Tags, PropagateTags. Fields with no value (no exit code, no attempt) are left out.
Value BatchJobDescription(const BatchJobSpec& spec, const BatchJobOutcome& outcome);

// The error a failed `.sync` job raises: States.TaskFailed, the cause the compact JSON text
// of `description`.
ErrorInfo BatchJobFailure(const Value& description);

}  // namespace sluice::asl
