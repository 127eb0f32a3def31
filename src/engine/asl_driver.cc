#include "engine/asl_driver.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>

#include "asl/batch.h"
#include "asl/binding.h"
#include "asl/definition.h"
#include "asl/interpreter.h"
#include "exec/local/posix_util.h"

namespace sluice::engine {
namespace fs = std::filesystem;
using asl::Value;

namespace {

constexpr char kTaskIdPrefix[] = "task-";
constexpr char kInputFile[] = "input.json";
// A task sends a heartbeat by touching this file in its directory ($SLUICE_HEARTBEAT_FILE).
constexpr char kHeartbeatFile[] = "heartbeat";
constexpr size_t kMaxTaskOutputBytes = 256 * 1024 + 1;  // one past the ASL payload limit
constexpr char kReplayType[] = "Input";

std::string RecordId(const std::string& asl_task_id) { return kTaskIdPrefix + asl_task_id; }

Result<std::string> ReadFile(const std::string& path, size_t max_bytes, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(std::string(what) + ": cannot read " + path);
  std::string data(max_bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(max_bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

// A Batch job submitted without .sync (and not bound to a command): answered with the
// submission's response once its task record exists, while the job goes on.
bool IsDetachedJob(const asl::StartTask& st, const std::map<std::string, std::string>& bindings) {
  bool sync = false;
  return bindings.count(st.resource) == 0 && asl::IsBatchSubmitJob(st.resource, &sync) && !sync;
}

// The path a non-attachment workflow_url names, or "" if it names none.
std::string LocalPathOf(const std::string& url) {
  if (url.rfind("file://", 0) == 0) return url.substr(7);
  if (!url.empty() && url.front() == '/') return url;
  return "";
}

// The definition text of a run: an attachment of the run (by name), or a local file.
Result<std::string> ReadDefinition(const store::RunRequest& request, const std::string& run_dir,
                                   size_t max_bytes) {
  const std::string& url = request.workflow_url;
  if (std::find(request.attachments.begin(), request.attachments.end(), url) !=
      request.attachments.end()) {
    return ReadFile(run_dir + "/attachments/" + url, max_bytes + 1, "workflow_url");
  }
  std::string path = LocalPathOf(url);
  if (path.empty()) {
    return InvalidArgument("workflow_url: \"" + url +
                           "\" is neither an attached file nor a file:// URL or absolute path");
  }
  return ReadFile(path, max_bytes + 1, "workflow_url");
}

Result<std::shared_ptr<const asl::Definition>> ParseChecked(const std::string& text,
                                                            size_t max_bytes) {
  if (text.size() > max_bytes) {
    return PayloadTooLarge("workflow_url: the definition is larger than " +
                           std::to_string(max_bytes) + " bytes");
  }
  auto parsed = asl::ParseDefinition(text);
  if (!parsed.ok()) return parsed.status().WithPrefix("workflow_url: invalid state machine");
  return parsed;
}

std::string MachineName(const std::string& url) {
  std::string name = fs::path(url).stem().string();
  return name.empty() ? "state-machine" : name;
}

uint64_t SeedOf(const std::string& run_id) { return std::hash<std::string>{}(run_id); }

std::string TaskName(const asl::StartTask& t) {
  std::string name = t.scope.empty() ? t.state_name : t.scope + "/" + t.state_name;
  if (t.attempt > 0) name += " (retry " + std::to_string(t.attempt) + ")";
  return name;
}

std::string Dump(const Value& v) { return v.dump(-1, ' ', false, Value::error_handler_t::replace); }

// `detached`: the event answers a Batch job submitted without .sync (IsDetachedJob), which the
// run still waits for; replay reads it back (RunState::Feeding).
store::RunEvent ReplayRecord(const asl::Event& e, const std::string* definition,
                             bool detached = false) {
  store::RunEvent r;
  r.type = kReplayType;
  r.at = e.at;
  Value details = Value::object();
  details["event"] = e.ToJson();
  if (definition != nullptr) details["definition"] = *definition;
  if (detached) details["detached"] = true;
  r.details = Dump(details);
  r.replay = true;
  return r;
}

store::RunEvent HistoryRecord(asl::HistoryEvent h) {
  store::RunEvent r;
  r.type = std::move(h.type);
  r.at = h.at;
  r.state_name = std::move(h.state_name);
  r.scope = std::move(h.scope);
  r.details = Dump(h.details);
  return r;
}

Result<Value> ParseValue(const std::string& text, std::string_view what) {
  Value v = Value::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return Internal(std::string(what) + ": not valid JSON");
  return v;
}

std::string Truncate(std::string s, size_t n) {
  if (s.size() > n) s = s.substr(0, n) + "...";
  return s;
}

}  // namespace

struct AslDriver::RunState {
  std::shared_ptr<const asl::Definition> definition;
  std::unique_ptr<asl::Execution> execution;
  std::optional<asl::ExecutionResult> result;
  // The time of the last heartbeat fed per execution task id (a newer one is fed, once).
  std::map<std::string, Micros> heartbeat_at;
  // Task records of Batch jobs submitted without .sync and answered: the execution no longer
  // waits for them, the run does (they are not stopped when it ends, unless it is aborted).
  std::set<std::string> detached;

  // Before `e` is fed (and when it is replayed): what it tells about heartbeats and jobs.
  void Feeding(const asl::Event& e, bool answers_detached_job) {
    if (e.type == asl::Event::Type::kTaskHeartbeat) {
      Micros& last = heartbeat_at[e.task_id];
      last = std::max(last, e.at);
    }
    if (answers_detached_job) detached.insert(RecordId(e.task_id));
  }
};

AslDriver::AslDriver(AslDriverOptions options) : options_(std::move(options)) {}
AslDriver::~AslDriver() = default;

Status AslDriver::Validate(const store::RunRequest& request,
                           const std::vector<SubmittedFile>& files) const {
  std::string text;
  auto attached = std::find_if(files.begin(), files.end(),
                               [&](const SubmittedFile& f) { return f.name == request.workflow_url; });
  if (attached != files.end()) {
    text = std::string(attached->content);
  } else {
    std::string path = LocalPathOf(request.workflow_url);
    if (path.empty()) {
      return InvalidArgument("workflow_url: \"" + request.workflow_url +
                             "\" is neither an attached file (workflow_attachment) nor a "
                             "file:// URL or absolute path");
    }
    ASSIGN_OR_RETURN(text, ReadFile(path, options_.max_definition_bytes + 1, "workflow_url"));
  }
  return ParseChecked(text, options_.max_definition_bytes).status();
}

Result<std::shared_ptr<AslDriver::RunState>> AslDriver::Load(const store::RunRecord& run,
                                                             DriverContext& context) const {
  auto state = std::make_shared<RunState>();
  ASSIGN_OR_RETURN(std::vector<store::RunEvent> recorded, context.ReplayEvents());
  std::string definition_text;
  if (!recorded.empty()) {
    // The definition as it was when the execution started (the file may have changed since).
    ASSIGN_OR_RETURN(Value first, ParseValue(recorded.front().details, "engine log entry 1"));
    if (!first.contains("definition") || !first["definition"].is_string()) {
      return Internal("run " + run.id + ": engine log does not start with the definition");
    }
    definition_text = first["definition"].get<std::string>();
  } else {
    ASSIGN_OR_RETURN(definition_text, ReadDefinition(run.request, context.RunDir(),
                                                     options_.max_definition_bytes));
  }
  ASSIGN_OR_RETURN(state->definition, ParseChecked(definition_text, options_.max_definition_bytes));

  asl::ExecutionOptions opts;
  std::string machine = MachineName(run.request.workflow_url);
  opts.execution_name = run.id;
  opts.execution_id = "arn:aws:states:local:000000000000:execution:" + machine + ":" + run.id;
  opts.state_machine_name = machine;
  opts.state_machine_id = "arn:aws:states:local:000000000000:stateMachine:" + machine;
  opts.seed = SeedOf(run.id);
  opts.default_max_concurrency = options_.default_max_concurrency;
  opts.record_history = true;
  state->execution = std::make_unique<asl::Execution>(state->definition, std::move(opts));

  if (recorded.empty()) {
    ASSIGN_OR_RETURN(Value input, ParseValue(run.request.workflow_params, "workflow_params"));
    asl::Event start = asl::Event::Start(std::move(input), context.Now());
    asl::Transition t = state->execution->Step(start);
    std::vector<store::RunEvent> log;
    log.reserve(t.history.size() + 1);
    log.push_back(ReplayRecord(start, &definition_text));
    for (auto& h : t.history) log.push_back(HistoryRecord(std::move(h)));
    RETURN_IF_ERROR(context.AppendEvents(log));
    if (t.result) state->result = std::move(t.result);
    return state;
  }
  for (const store::RunEvent& r : recorded) {
    ASSIGN_OR_RETURN(Value details, ParseValue(r.details, "engine log entry"));
    ASSIGN_OR_RETURN(asl::Event e, asl::Event::FromJson(details["event"]));
    state->Feeding(e, details.value("detached", false));
    asl::Transition t = state->execution->Step(e);
    if (t.result) state->result = std::move(t.result);
  }
  return state;
}

Status AslDriver::Stop(const store::RunRecord& run, DriverContext& context) const {
  std::shared_ptr<RunState> state;
  {
    MutexLock lock(mu_);
    auto it = runs_.find(run.id);
    if (it != runs_.end()) state = it->second;
  }
  if (state == nullptr) {
    // Canceled before the execution started: there is nothing to stop (Load would start it).
    ASSIGN_OR_RETURN(std::vector<store::RunEvent> recorded, context.ReplayEvents());
    if (recorded.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(state, Load(run, context));
    MutexLock lock(mu_);
    runs_[run.id] = state;
  }
  if (state->result) return Status::Ok();  // ended, or stopped before a crash
  asl::Event stop = asl::Event::Stop("", "the run was canceled", context.Now());
  asl::Transition t = state->execution->Step(stop);
  std::vector<store::RunEvent> log;
  log.reserve(t.history.size() + 1);
  log.push_back(ReplayRecord(stop, nullptr));
  for (auto& h : t.history) log.push_back(HistoryRecord(std::move(h)));
  RETURN_IF_ERROR(context.AppendEvents(log));
  if (t.result) state->result = std::move(t.result);
  return Status::Ok();
}

Result<Decision> AslDriver::Decide(const store::RunRecord& run,
                                   const std::vector<store::TaskRecord>& tasks,
                                   DriverContext& context) const {
  std::shared_ptr<RunState> state;
  {
    MutexLock lock(mu_);
    auto it = runs_.find(run.id);
    if (it != runs_.end()) state = it->second;
  }
  if (state == nullptr) {
    ASSIGN_OR_RETURN(state, Load(run, context));
    MutexLock lock(mu_);
    runs_[run.id] = state;
  }

  std::map<std::string, const store::TaskRecord*> records;
  for (const auto& t : tasks) records[t.id] = &t;

  // Feed the execution whatever has happened: tasks that ended, timers that are due, tasks
  // that end as soon as they start (nothing to run them with). Record each event with the
  // history it produced before anything acts on it.
  Decision d;
  std::vector<store::RunEvent> log;
  // The execution task ids of the detached jobs answered in this decision.
  std::set<std::string> answered_jobs;
  auto feed = [&](const asl::Event& e) {
    const bool detached =
        e.type == asl::Event::Type::kTaskSucceeded && answered_jobs.count(e.task_id) > 0;
    state->Feeding(e, detached);
    asl::Transition t = state->execution->Step(e);
    log.push_back(ReplayRecord(e, nullptr, detached));
    for (auto& h : t.history) log.push_back(HistoryRecord(std::move(h)));
    if (t.result) state->result = std::move(t.result);
  };
  // Invocations to start, with their Batch request when they run as a Batch job (read once).
  struct Launch {
    asl::StartTask task;
    std::optional<asl::BatchJobSpec> batch;
  };
  std::vector<Launch> to_start;
  for (bool progressed = true; progressed && !state->result;) {
    progressed = false;
    Micros now = context.Now();
    // Heartbeats first: a running task touches its heartbeat file, and the time it last did
    // is fed as a heartbeat whenever the execution is asked (its heartbeat timer wakes it), so
    // the timer it renews is no longer due below.
    const std::vector<asl::StartTask> running_tasks = state->execution->RunningTasks();
    for (const asl::StartTask& st : running_tasks) {
      if (!st.heartbeat_seconds) continue;
      auto rec = records.find(RecordId(st.task_id));
      if (rec == records.end() || IsTerminal(rec->second->state)) continue;
      std::optional<Micros> touched =
          exec::local::FileMtime(context.TaskDir(rec->second->id) + "/" + kHeartbeatFile);
      if (!touched) continue;
      Micros at = std::min(*touched, now);  // a node's clock ahead of ours
      auto last = state->heartbeat_at.find(st.task_id);
      if (last != state->heartbeat_at.end() && at <= last->second) continue;
      feed(asl::Event::TaskHeartbeat(st.task_id, at));
      progressed = true;
    }
    std::vector<asl::Event> events;
    to_start.clear();
    for (const asl::StartTask& st : running_tasks) {  // heartbeats do not change them
      auto rec = records.find(RecordId(st.task_id));
      if (rec == records.end()) {
        to_start.push_back({st, std::nullopt});
        continue;
      }
      const store::TaskRecord& task = *rec->second;
      if (IsDetachedJob(st, options_.bindings)) {
        // Submitted once its record exists (the job may be running or over already), unless
        // the executor could not take it at all.
        if (task.state == State::kSystemError && task.executor_job_id.empty()) {
          events.push_back(asl::Event::TaskFailed(
              st.task_id, std::string(asl::kBatchClientException),
              "the job could not be submitted" +
                  (task.system_logs.empty() ? "" : ": " + task.system_logs.back()),
              task.end_time.value_or(now)));
          continue;
        }
        auto spec = asl::ParseSubmitJob(st.input);
        if (!spec.ok()) {  // checked before it started; the definition cannot have changed
          events.push_back(
              asl::Event::TaskFailed(st.task_id, spec.error().error, spec.error().cause, now));
          continue;
        }
        events.push_back(asl::Event::TaskSucceeded(
            st.task_id, asl::BatchSubmitJobResponse(*spec, asl::BatchJobId(run.id, st.task_id)),
            task.created_at));
        answered_jobs.insert(st.task_id);
        continue;
      }
      if (!IsTerminal(task.state)) continue;
      Micros at = task.end_time.value_or(now);
      if (options_.bindings.count(st.resource) == 0 && asl::IsBatchSubmitJob(st.resource, nullptr)) {
        auto spec = asl::ParseSubmitJob(st.input);
        if (!spec.ok()) {
          events.push_back(asl::Event::TaskFailed(st.task_id, spec.error().error,
                                                  spec.error().cause, at));
          continue;
        }
        asl::BatchJobOutcome outcome;
        outcome.job_id = asl::BatchJobId(run.id, st.task_id);
        outcome.succeeded = task.state == State::kComplete;
        outcome.created_at = task.created_at;
        asl::BatchAttempt attempt;
        attempt.exit_code = task.exit_code;
        attempt.started_at = task.start_time.value_or(task.created_at);
        attempt.stopped_at = task.end_time.value_or(at);
        attempt.status_reason = task.exit_code ? std::string(asl::kBatchContainerExited)
                                               : (task.system_logs.empty() ? std::string()
                                                                           : task.system_logs.back());
        attempt.log_stream_name = asl::BatchLogStreamName(*spec, outcome.job_id);
        outcome.status_reason = attempt.status_reason;
        outcome.attempts.push_back(std::move(attempt));
        Value description = asl::BatchJobDescription(*spec, outcome);
        if (outcome.succeeded) {
          events.push_back(asl::Event::TaskSucceeded(st.task_id, std::move(description), at));
        } else {
          asl::ErrorInfo err = asl::BatchJobFailure(description);
          events.push_back(asl::Event::TaskFailed(st.task_id, err.error, err.cause, at));
        }
        continue;
      }
      asl::CommandOutcome outcome;
      outcome.exit_code = task.exit_code.value_or(-1);
      std::string dir = context.TaskDir(task.id);
      auto out = ReadFile(dir + "/stdout", kMaxTaskOutputBytes, "task stdout");
      if (out.ok()) outcome.stdout_text = std::move(*out);
      auto err = ReadFile(dir + "/stderr", 64 * 1024, "task stderr");
      if (err.ok()) outcome.stderr_text = std::move(*err);
      if (!task.exit_code && !task.system_logs.empty()) {
        outcome.stderr_text += "\n" + task.system_logs.back();
      }
      auto result = asl::InterpretCommandOutcome(outcome);
      if (result.ok() && task.state == State::kComplete) {
        events.push_back(asl::Event::TaskSucceeded(st.task_id, std::move(result).value(), at));
      } else if (!result.ok()) {
        events.push_back(asl::Event::TaskFailed(st.task_id, result.error().error,
                                                result.error().cause, at));
      } else {
        events.push_back(asl::Event::TaskFailed(
            st.task_id, std::string(asl::errors::kTaskFailed),
            "task ended " + std::string(StateName(task.state)) +
                (task.system_logs.empty() ? "" : ": " + task.system_logs.back()),
            at));
      }
    }
    // Tasks nothing can run fail at once.
    for (auto it = to_start.begin(); it != to_start.end();) {
      const asl::StartTask& st = it->task;
      bool bound = options_.bindings.count(st.resource) > 0;
      if (!bound && !asl::IsBatchSubmitJob(st.resource, nullptr)) {
        asl::ErrorInfo e = asl::ResourceNotBoundError(st.resource, st.state_name);
        events.push_back(asl::Event::TaskFailed(st.task_id, e.error, e.cause, now));
        it = to_start.erase(it);
        continue;
      }
      if (!bound) {
        auto spec = asl::ParseSubmitJob(st.input);
        if (!spec.ok() || asl::BatchCommandLine(*spec).empty()) {
          asl::ErrorInfo e = spec.ok() ? asl::ErrorInfo{std::string(asl::kBatchClientException),
                                                        "ContainerOverrides.Command: required to "
                                                        "run the job"}
                                       : spec.error();
          events.push_back(asl::Event::TaskFailed(st.task_id, e.error, e.cause, now));
          it = to_start.erase(it);
          continue;
        }
        it->batch = std::move(spec).value();
      }
      ++it;
    }
    for (const asl::StartTimer& timer : state->execution->PendingTimers()) {
      if (timer.deadline <= now) events.push_back(asl::Event::TimerFired(timer.timer_id, now));
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const asl::Event& a, const asl::Event& b) { return a.at < b.at; });
    for (const asl::Event& e : events) {
      if (state->result) break;
      feed(e);
      progressed = true;
    }
  }
  if (!log.empty()) RETURN_IF_ERROR(context.AppendEvents(log));

  if (state->result) {
    const asl::ExecutionResult& r = *state->result;
    if (r.status == asl::ExecutionResult::Status::kSucceeded) {
      d.finish = State::kComplete;
      d.reason = "execution succeeded";
      d.outputs = Dump(r.output.is_object() ? r.output : Value{{"output", r.output}});
    } else {
      d.finish = r.status == asl::ExecutionResult::Status::kAborted ? State::kCanceled
                                                                     : State::kExecutorError;
      d.reason = "execution " + std::string(asl::ExecutionStatusName(r.status)) + ": " +
                 r.error + (r.cause.empty() ? "" : ": " + Truncate(r.cause, 2000));
      d.outputs = Dump(Value{{"Error", r.error}, {"Cause", r.cause}});
    }
    // Whatever still runs is no longer wanted, but for the Batch jobs it submitted without
    // .sync: the run ends once they have (an aborted execution stops them too).
    const bool aborted = r.status == asl::ExecutionResult::Status::kAborted;
    bool jobs_running = false;
    for (const auto& t : tasks) {
      if (IsTerminal(t.state)) continue;
      if (!aborted && state->detached.count(t.id) > 0) {
        jobs_running = true;
      } else {
        d.cancel.push_back(t.id);
      }
    }
    if (jobs_running) {
      d.finish.reset();
      d.outputs = "{}";
      d.reason.clear();
    }
    return d;
  }

  // Tasks the execution no longer waits for (a timeout, a failed sibling) are stopped; the
  // Batch jobs it submitted without .sync go on.
  std::set<std::string> running;
  for (const asl::StartTask& st : state->execution->RunningTasks()) {
    running.insert(RecordId(st.task_id));
  }
  for (const auto& t : tasks) {
    if (!IsTerminal(t.state) && running.count(t.id) == 0 && state->detached.count(t.id) == 0) {
      d.cancel.push_back(t.id);
    }
  }
  for (const Launch& launch : to_start) {
    const asl::StartTask& st = launch.task;
    TaskPlan plan;
    plan.task_id = RecordId(st.task_id);
    plan.name = TaskName(st);
    plan.env[asl::kHeartbeatFileVariable] = context.TaskDir(plan.task_id) + "/" + kHeartbeatFile;
    if (!launch.batch) {
      const std::string& command = options_.bindings.at(st.resource);
      std::string dir = context.TaskDir(plan.task_id);
      std::error_code ec;
      fs::create_directories(dir, ec);
      std::ofstream(dir + "/" + kInputFile, std::ios::binary | std::ios::trunc) << Dump(st.input);
      plan.argv = {"/bin/sh", "-c", std::string("exec <") + kInputFile + "\n" + command};
      for (auto& [k, v] : asl::BindingEnvironment(st.resource, st.state_name, run.id, st.attempt)) {
        plan.env[k] = v;
      }
    } else {
      const asl::BatchJobSpec* spec = &*launch.batch;
      std::string job_id = asl::BatchJobId(run.id, st.task_id);
      plan.argv = asl::BatchCommandLine(*spec);
      for (auto& [k, v] : asl::BatchJobEnvironment(*spec, job_id, st.attempt + 1)) plan.env[k] = v;
      if (spec->vcpus) plan.resources.cpus = *spec->vcpus;
      if (spec->memory_mib) plan.resources.memory_mb = *spec->memory_mib;
      if (spec->attempt_duration_seconds) {
        plan.resources.time_limit_seconds = *spec->attempt_duration_seconds;
      }
    }
    d.start.push_back(std::move(plan));
  }
  for (const asl::StartTimer& timer : state->execution->PendingTimers()) {
    if (!d.wake_at || timer.deadline < *d.wake_at) d.wake_at = timer.deadline;
  }
  return d;
}

void AslDriver::Forget(const std::string& run_id) const {
  MutexLock lock(mu_);
  runs_.erase(run_id);
}

}  // namespace sluice::engine
