// Internal to the interpreter (interpreter.cc, states/*.cc): the run-time state of one
// execution and the services the state handlers use.
//
// An execution is a tree of Threads. The root Thread runs the machine; a Parallel state in
// progress owns one child Thread per branch and a Map state one per running iteration (a
// Fanout). A Thread is either runnable (in the ready queue), blocked (on a task, a timer or
// its children) or gone. Runtime::Drain runs runnable threads in FIFO order until all are
// blocked, so one Step does all the synchronous work without recursion, and the order (hence
// task ids, timer ids and random draws) depends only on the events fed in.
//
// Thread-safety: none. A Runtime belongs to one Execution, driven by one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asl/definition.h"
#include "asl/interpreter.h"
#include "asl/intrinsics.h"
#include "asl/value.h"
#include "common/clock.h"

namespace sluice::asl::internal {

// What running (or resuming) a state produced.
struct Outcome {
  enum class Kind {
    kBlocked,     // waiting for a task, a timer or child threads
    kNext,        // the state is done: follow its Next (or End) with `output`
    kGoto,        // the state is done: go to `*next` with `output` (Choice, Catch)
    kEnd,         // Succeed: the thread ends successfully with `output`
    kFail,        // the state raised `error`: its Retry and Catch apply
    kRerun,       // run the current state again (a retry without delay)
    kFailThread,  // the thread ends with `error` (no retrier or catcher took it)
  };
  Kind kind = Kind::kBlocked;
  Value output;
  const std::string* next = nullptr;
  ErrorInfo error;

  static Outcome Blocked() { return {}; }
  static Outcome Next(Value v) { return {Kind::kNext, std::move(v), nullptr, {}}; }
  static Outcome Goto(const std::string& n, Value v) { return {Kind::kGoto, std::move(v), &n, {}}; }
  static Outcome End(Value v) { return {Kind::kEnd, std::move(v), nullptr, {}}; }
  static Outcome Fail(ErrorInfo e) { return {Kind::kFail, Value(), nullptr, std::move(e)}; }
  static Outcome Fail(std::string_view error, std::string cause) {
    return Fail(ErrorInfo{std::string(error), std::move(cause)});
  }
};

struct Thread;

// A Parallel or Map state waiting for its children.
struct Fanout {
  bool is_map = false;
  Value owned_input;           // Map: the effective input when it is not the raw input
  Value* effective = nullptr;  // Map: `$` of ItemSelector (owned_input or raw input)
  Value owned_items;           // Map: the items when they are not part of the input
  Value* items = nullptr;      // Map: the item array (owned_items or inside the input)
  bool move_items = false;     // Map: items may be moved into their iterations
  size_t total = 0;
  size_t next = 0;  // next item to start
  size_t done = 0;
  size_t failed = 0;
  size_t max_concurrency = 0;  // 0: no limit
  std::optional<int64_t> tolerated_count;
  std::optional<double> tolerated_percentage;
  Value results;  // array of `total` slots, in input order
  std::map<int64_t, std::unique_ptr<Thread>> running;
};

enum class TimerKind { kWait, kRetry, kTaskTimeout, kHeartbeat, kExecutionTimeout };

// One thread of control: the machine, a Parallel branch or a Map iteration.
struct Thread {
  Thread* parent = nullptr;  // null for the root
  const StateMachine* machine = nullptr;
  int64_t index = -1;  // branch or item index under `parent`
  const State* state = nullptr;
  Value input;  // the current state's raw input (Wait: its pending output)
  Micros entered_at = 0;
  int retry_count = 0;                // retries in this state entry ($$.State.RetryCount)
  std::vector<int> retrier_attempts;  // per retrier, this entry; sized on first error
  std::string task_id;                // the running task, if any
  std::string timer_id;               // the Wait or retry timer, if any
  std::string timeout_timer_id;       // the running task's TimeoutSeconds timer
  std::string heartbeat_timer_id;     // the running task's HeartbeatSeconds timer
  int64_t heartbeat_seconds = 0;
  std::unique_ptr<Fanout> fanout;  // Parallel/Map in progress
  std::optional<Outcome> resume;   // set when queued with a result to process
  bool dead = false;               // cancelled; skipped if still queued
};

// InputPath then (optionally) Parameters: the raw input itself, a node inside it (`ref`),
// or a new value.
struct EffectiveInput {
  bool is_raw = true;
  const Value* ref = nullptr;  // inside the raw input (a simple InputPath)
  Value owned;
  const Value& Get(const Thread& t) const { return ref ? *ref : (is_raw ? t.input : owned); }
};

class Runtime {
 public:
  Runtime(std::shared_ptr<const Definition> definition, ExecutionOptions options);
  ~Runtime();

  // Execution-level entry points (interpreter.cc).
  Transition Step(Event&& event);
  bool finished() const { return finished_; }
  std::vector<StartTask> RunningTasks() const;
  std::vector<StartTimer> PendingTimers() const;

  // --- Services for state handlers ---
  Micros now() const { return now_; }
  Random& random() { return random_; }
  const ExecutionOptions& options() const { return options_; }
  bool recording() const { return options_.record_history && out_ != nullptr; }

  // The context object as `t` sees it ($$). Valid until the next call.
  const Value& Context(const Thread& t);
  // Adds/removes $$.Map.Item for ItemSelector evaluation (between Context() calls).
  void SetMapItem(int64_t index, Value item);
  void ClearMapItem();

  // Path / template / intrinsic evaluation with the context object when needed.
  EvalResult<Value> Eval(const Path& path, const Value& input, const Thread& t);
  // Like Eval but without a copy: the node `path` selects inside `input` (or the context),
  // else `*owned` holds the evaluated value. Errors as Eval.
  EvalResult<const Value*> Lookup(const Path& path, const Value& input, const Thread& t,
                                  Value* owned);
  bool Exists(const Path& path, const Value& input, const Thread& t);
  EvalResult<Value> Apply(const PayloadTemplate& tmpl, const Value& input, const Thread& t);
  EvalResult<Value> Call(const Intrinsic& fn, const Value& input, const Thread& t);

  // Appends a history event (only when recording(); check it before building details).
  void Record(std::string_view type, const Thread* t, Value details);

  // Starts a task for `t` (which then waits on it) and its timeout/heartbeat timers.
  void StartTaskFor(Thread& t, Value input, std::optional<int64_t> timeout_seconds,
                    std::optional<int64_t> heartbeat_seconds);
  // Starts a timer owned by `t` and returns its id.
  std::string StartTimerFor(Thread& t, TimerKind kind, Micros deadline);

  // Creates a child thread of `parent` at the start of `machine` and queues it.
  Thread* Spawn(Thread& parent, const StateMachine& machine, int64_t index, Value input);
  // Cancels every running child of `parent` and drops its Fanout.
  void CancelChildren(Thread& parent);
  // Queues `t` to process `outcome`.
  void Resume(Thread& t, Outcome outcome);

  // "" for the root, "Regions[3]", "Fanout.branch[1]", nested "Regions[3]/Inner[0]".
  std::string ScopeOf(const Thread& t) const;

  // A States.DataLimitExceeded error if `v` serialises to more than the payload limit.
  std::optional<ErrorInfo> CheckSize(const Value& v, const Thread& t, std::string_view what);

 private:
  struct TaskEntry {
    Thread* owner = nullptr;
    StartTask start;
  };
  struct TimerEntry {
    Thread* owner = nullptr;  // null for the execution timeout
    TimerKind kind = TimerKind::kWait;
    Micros deadline = 0;
    uint64_t seq = 0;
  };

  Thread* TaskOwner(const std::string& task_id) const;  // null: not a running task
  void Start(Event& event);
  void OnTaskSucceeded(Event& event);
  void OnTaskFailed(const Event& event);
  void OnHeartbeat(const Event& event);
  void OnTimer(const Event& event);
  void EndExecution(ExecutionResult::Status status, Value output, ErrorInfo error);

  void Drain();
  void Continue(Thread* t, Outcome o);
  Outcome Execute(Thread& t);
  void EnterState(Thread& t, const State* state, Value input);
  Outcome HandleError(Thread& t, ErrorInfo error);
  void EndThread(Thread* t, bool ok, Value output, ErrorInfo error);
  void OnChildEnded(Thread& parent, Thread* child, bool ok, Value output, ErrorInfo error);
  void CancelThread(Thread& t);
  void FinishTask(Thread& t);  // clears the running task and its timers
  void CancelTimerId(std::string& id);
  void BuildContext();

  std::shared_ptr<const Definition> definition_;
  ExecutionOptions options_;
  Random random_;
  bool context_needed_ = false;  // the definition may read $$ (or runs tasks)

  bool started_ = false;
  bool finished_ = false;
  Micros now_ = 0;
  Micros start_time_ = 0;
  Transition* out_ = nullptr;

  std::unique_ptr<Thread> root_;
  std::deque<Thread*> ready_;
  std::vector<std::unique_ptr<Thread>> graveyard_;  // cancelled threads, freed after Drain
  std::vector<std::unique_ptr<Thread>> retired_;    // ended threads, freed after Continue

  uint64_t task_seq_ = 0;
  uint64_t timer_seq_ = 0;
  std::map<uint64_t, TaskEntry> tasks_;
  std::unordered_map<std::string, TimerEntry> timers_;
  std::string execution_timer_id_;

  Value execution_input_;  // kept for the context object until it is built
  bool context_built_ = false;
  Value context_;
  const State* ctx_state_ = nullptr;
  Micros ctx_entered_ = -1;
  int ctx_retry_ = -1;
};

// --- I/O pipeline (states/io.cc) ---

// InputPath, then Parameters when `with_parameters` and the state has them.
EvalResult<EffectiveInput> ComputeEffectiveInput(Runtime& rt, Thread& t, bool with_parameters);
// The effective input as a value: moved out when possible, copied if `raw_needed` and it is
// the raw input itself.
Value TakeEffective(EffectiveInput& in, Thread& t, bool raw_needed);
// True if the state still needs its raw input after its work (ResultPath merge, Retry, Catch).
bool RawNeededAfterWork(const State& s);
// ResultSelector (if `with_selector`), ResultPath, OutputPath, then Next.
Outcome FinishWithResult(Runtime& rt, Thread& t, Value result, bool with_selector);
// OutputPath alone (Choice, Wait, Succeed).
EvalResult<Value> ApplyOutputPath(Runtime& rt, const Thread& t, Value v);
// The node a simple definite path ("$", ".name", "['name']", "[3]") selects in `root`,
// without copying; nullptr if the path is not that simple or selects nothing (then
// Path::Evaluate gives the value or the error).
const Value* FindSimple(const Path& path, const Value& root);
// A duration in seconds as microseconds, clamped to [0, 10^11 s] so that no definition can
// overflow a deadline.
Micros SecondsToMicros(double seconds);
// Serialised size of `v` in UTF-8 bytes, counting stops early once above `limit`.
size_t JsonSize(const Value& v, size_t limit);

// --- Timestamps (states/timestamp.cc) ---

// Parsing: asl::Instant and asl::ParseTimestamp (definition.h).
// "2016-03-14T01:59:00.123Z" (milliseconds, as AWS shows times in the context object).
std::string FormatTimestampMillis(Micros t);

// --- State handlers (states/<type>.cc) ---

Outcome RunPass(Runtime& rt, Thread& t);
Outcome RunTask(Runtime& rt, Thread& t);
Outcome RunChoice(Runtime& rt, Thread& t);
Outcome RunWait(Runtime& rt, Thread& t);
Outcome RunSucceed(Runtime& rt, Thread& t);
Outcome RunFail(Runtime& rt, Thread& t);
Outcome RunParallel(Runtime& rt, Thread& t);
Outcome RunMap(Runtime& rt, Thread& t);

// Choice rule evaluation (exposed for tests of the matcher).
bool StringMatchesPattern(std::string_view text, std::string_view pattern);
EvalResult<bool> EvaluateRule(Runtime& rt, const Thread& t, const ChoiceRule& rule,
                              const Value& input);

// A Map/Parallel child ended. Map: stores the result, starts the next items, fails fast or
// counts tolerated failures; Parallel: stores the branch result or fails. Either queues the
// parent with its outcome once the state is decided.
void OnMapChildEnded(Runtime& rt, Thread& parent, int64_t index, bool ok, Value output,
                     ErrorInfo error);
void OnParallelChildEnded(Runtime& rt, Thread& parent, int64_t index, bool ok, Value output,
                          ErrorInfo error);

}  // namespace sluice::asl::internal
