// The pure core of the ASL engine: an Execution consumes events and answers with a
// Transition (commands to carry out, history events to record, and the result once the
// execution is over). No I/O, no clock, no threads: time comes in with each event and
// randomness from a seed, so the same events always give the same transitions. That is what
// makes an execution durable: a driver records every event it feeds, and after a restart it
// replays them into a fresh Execution to get back exactly where it was (a replay produces
// the same commands; drivers skip those already carried out, which they recognise by
// task id and timer id).
//
// Drivers: `sluice asl run` (cli, in process) and the ASL WorkflowDriver of the server.
// Step() runs as far as it can: Pass/Choice/Succeed/Fail states and Map/Parallel bookkeeping
// are done inside one call; it stops only where it has to wait for a task or a timer.
//
// Thread-safety: an Execution is not thread-safe; one driver thread owns it. The Definition
// it runs is shared and immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asl/definition.h"
#include "asl/value.h"
#include "common/clock.h"

namespace sluice::asl {

struct ExecutionOptions {
  // Context object fields (asl-notes §5). `Execution.Input` and `State` are filled in by
  // the engine; `context_overrides` (CLI --context) is merged over the context object.
  std::string execution_id;    // Execution.Id (an ARN-like string or the run id)
  std::string execution_name;  // Execution.Name
  std::string state_machine_id;
  std::string state_machine_name;
  Value context_overrides = Value::object();
  uint64_t seed = 0;                 // MathRandom, UUID, retry jitter
  int default_max_concurrency = 40;  // inline Map with MaxConcurrency 0 or absent
  bool record_history = true;        // false: Transition::history stays empty (fast CLI runs)
  // Payload limit (AWS: 256 KiB) on the execution input, task results and state outputs;
  // above it the execution fails with States.DataLimitExceeded. 0: no limit (benchmarks of
  // very large Maps, whose output AWS itself would refuse).
  size_t max_payload_bytes = 256 * 1024;
};

// Something that happened to the execution. Every event carries its time.
struct Event {
  enum class Type {
    kStart,          // input = execution input
    kTaskSucceeded,  // task_id, output
    kTaskFailed,     // task_id, error, cause
    kTaskHeartbeat,  // task_id
    kTimerFired,     // timer_id
    kStop,           // the user stopped the execution: error/cause optional
  };
  Type type = Type::kStart;
  Micros at = 0;
  std::string task_id;
  std::string timer_id;
  Value input;   // kStart
  Value output;  // kTaskSucceeded
  std::string error;
  std::string cause;

  static Event Start(Value input, Micros at);
  static Event TaskSucceeded(std::string task_id, Value output, Micros at);
  static Event TaskFailed(std::string task_id, std::string error, std::string cause, Micros at);
  static Event TaskHeartbeat(std::string task_id, Micros at);
  static Event TimerFired(std::string timer_id, Micros at);
  static Event Stop(std::string error, std::string cause, Micros at);
  // For drivers that persist events: {"type": "TaskSucceeded", "at": ..., ...} and back.
  Value ToJson() const;
  static Result<Event> FromJson(const Value& json);
};

// Run one invocation of a Task state. `task_id` is unique within the execution and the same
// on replay ("1", "2", ... in the order invocations start); it is what the driver uses as
// the idempotency key and what the later TaskSucceeded/TaskFailed event names.
struct StartTask {
  std::string task_id;
  std::string state_name;
  std::string resource;
  Value input;      // the effective input (after InputPath and Parameters)
  int attempt = 0;  // $$.State.RetryCount: 0 first time, 1 first retry, ...
  // Where the invocation sits: "" at top level, "Regions[3]" for item 3 of Map Regions,
  // "Fanout.branch[1]" for Parallel branch 1; nested: "Regions[3]/Inner[0]".
  std::string scope;
  std::optional<int64_t> timeout_seconds;    // the driver need not enforce these: the
  std::optional<int64_t> heartbeat_seconds;  // execution sets its own timers for them
  Value context;                             // the context object as the task saw it ($$)
};

// Stop a running task (its state timed out, a sibling failed, the execution stopped).
struct CancelTask {
  std::string task_id;
};

// Deliver TimerFired{timer_id} at `deadline` (Wait states, retry back-off, task timeouts
// and heartbeats, the machine's TimeoutSeconds). A timer id is unique and the same on
// replay. A timer that is no longer wanted is cancelled; firing it anyway is harmless.
struct StartTimer {
  std::string timer_id;
  Micros deadline = 0;
};
struct CancelTimer {
  std::string timer_id;
};

// One entry of the execution history, named like Step Functions' GetExecutionHistory
// events: ExecutionStarted, ExecutionSucceeded, ExecutionFailed, ExecutionTimedOut,
// ExecutionAborted, <Type>StateEntered / <Type>StateExited (PassStateEntered, ...),
// TaskScheduled, TaskSucceeded, TaskFailed, TaskTimedOut, MapStateStarted,
// MapIterationStarted/Succeeded/Failed/Aborted, ParallelStateStarted, WaitStateEntered
// (details hold the deadline), RetryScheduled (details: attempt, delay_seconds, deadline).
struct HistoryEvent {
  std::string type;
  Micros at = 0;
  std::string state_name;           // empty for execution-level events
  std::string scope;                // as in StartTask
  Value details = Value::object();  // input/output/error/cause/task_id/... as relevant
};

struct ExecutionResult {
  enum class Status { kSucceeded, kFailed, kTimedOut, kAborted };
  Status status = Status::kSucceeded;
  Value output;  // kSucceeded
  std::string error;
  std::string cause;
};
std::string_view ExecutionStatusName(ExecutionResult::Status s);  // "SUCCEEDED", ...

struct Transition {
  std::vector<StartTask> start_tasks;
  std::vector<CancelTask> cancel_tasks;
  std::vector<StartTimer> start_timers;
  std::vector<CancelTimer> cancel_timers;
  std::vector<HistoryEvent> history;
  std::optional<ExecutionResult> result;  // set once, by the step that ends the execution
};

class Execution {
 public:
  Execution(std::shared_ptr<const Definition> definition, ExecutionOptions options);
  ~Execution();
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Feeds one event. The first event must be kStart. Events for unknown or already
  // finished tasks and timers are ignored (late, duplicated or replayed): Step is
  // idempotent for them. After the result, every event is ignored.
  Transition Step(const Event& event);
  // The same, moving the event's input/output instead of copying them (large inputs).
  Transition Step(Event&& event);

  bool finished() const;
  // Tasks started and not finished, timers pending (for drivers re-attaching after replay).
  std::vector<StartTask> RunningTasks() const;
  std::vector<StartTimer> PendingTimers() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::asl
