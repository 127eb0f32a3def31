#include "cli/asl_runner.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <iostream>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "asl/batch.h"
#include "cli/asl_process.h"
#include "exec/local/posix_util.h"

extern char** environ;  // NOLINT: POSIX

namespace sluice::cli {
namespace {

using asl::Value;

// `base` ("K=V" entries) with `vars` set, replacing entries of the same name.
std::vector<std::string> WithVariables(
    const std::vector<std::string>& base,
    const std::vector<std::pair<std::string, std::string>>& vars) {
  std::vector<std::string> env;
  env.reserve(base.size() + vars.size());
  for (const std::string& entry : base) {
    std::string_view key = std::string_view(entry).substr(0, entry.find('='));
    bool replaced =
        std::any_of(vars.begin(), vars.end(), [&](const auto& var) { return var.first == key; });
    if (!replaced) env.push_back(entry);
  }
  for (const auto& [key, value] : vars) env.push_back(key + "=" + value);
  return env;
}

std::string Dump(const Value& v) { return v.dump(-1, ' ', false, Value::error_handler_t::replace); }

enum class TimerKind { kExecution, kKill, kBatchTimeout };

struct Timer {
  Micros due = 0;  // monotonic
  uint64_t seq = 0;
  TimerKind kind = TimerKind::kExecution;
  std::string id;        // kExecution: the execution's timer id
  Micros deadline = 0;   // kExecution: the deadline in event (wall-clock) time
  uint64_t process = 0;  // kKill, kBatchTimeout
};

struct TimerLater {
  bool operator()(const Timer& a, const Timer& b) const {
    return a.due != b.due ? a.due > b.due : a.seq > b.seq;
  }
};

struct BatchRun {
  asl::BatchJobSpec spec;
  asl::BatchJobOutcome outcome;
  int attempt = 0;  // 1-based, the current one
  Micros attempt_started = 0;
  bool timed_out = false;
  std::string log_stream;
};

struct TaskRun {
  std::string task_id;
  std::string label;  // "Align", "Regions[3]/Run": for messages and echoed output
  bool cancelled = false;
  bool answered = false;  // submitJob without .sync: answered when submitted
  bool done = false;      // over; remove it
  uint64_t process = 0;
  std::unique_ptr<BatchRun> batch;
  // A bound command touches this file ($SLUICE_HEARTBEAT_FILE) to send a heartbeat; the
  // time of the last one fed.
  std::string heartbeat_file;
  Micros heartbeat_at = 0;
};

// Blocks SIGINT, SIGTERM and SIGCHLD for a signalfd and ignores SIGPIPE (a child that does
// not read its stdin); restores both on destruction.
class SignalScope {
 public:
  SignalScope() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
    fd_ = ::signalfd(-1, &set_, SFD_NONBLOCK | SFD_CLOEXEC);
    old_pipe_ = ::signal(SIGPIPE, SIG_IGN);
  }
  ~SignalScope() {
    if (fd_ >= 0) ::close(fd_);
    ::signal(SIGPIPE, old_pipe_);
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  int fd() const { return fd_; }

 private:
  sigset_t set_;
  sigset_t old_mask_;
  int fd_ = -1;
  sighandler_t old_pipe_ = SIG_DFL;
};

}  // namespace

struct AslRunner::Impl {
  Impl(const Clock& c, AslRunnerOptions o) : clock(c), options(std::move(o)) {}
  ~Impl() {
    if (heartbeat_dir.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(heartbeat_dir, ec);
  }

  const Clock& clock;
  AslRunnerOptions options;
  ProcessSet processes;
  std::vector<std::string> base_env;
  std::priority_queue<Timer, std::vector<Timer>, TimerLater> timers;
  std::unordered_map<std::string, uint64_t> live_timers;  // execution timer id -> seq
  uint64_t next_seq = 1;
  std::unordered_map<std::string, TaskRun> tasks;  // by task id
  std::unordered_map<uint64_t, std::string> task_of_process;
  std::deque<asl::Event> events;                         // to feed, in order
  std::unordered_map<std::string, int64_t> invocations;  // mocked state -> count
  std::optional<asl::ExecutionResult> result;
  bool shutting_down = false;
  int interrupts = 0;
  std::string heartbeat_dir;  // the tasks' heartbeat files; removed at the end

  Micros Now() const { return clock.Now(); }

  void Note(const std::string& message) const {
    if (!options.quiet) std::cerr << "sluice: " << message << std::endl;
  }

  void Answer(const std::string& task_id, asl::EvalResult<Value> outcome) {
    if (result) return;
    if (outcome.ok()) {
      events.push_back(asl::Event::TaskSucceeded(task_id, std::move(outcome).value(), Now()));
    } else {
      events.push_back(
          asl::Event::TaskFailed(task_id, outcome.error().error, outcome.error().cause, Now()));
    }
  }

  void Apply(asl::Transition&& t) {
    for (const asl::CancelTimer& c : t.cancel_timers) live_timers.erase(c.timer_id);
    for (const asl::CancelTask& c : t.cancel_tasks) CancelTask(c.task_id);
    for (const asl::StartTimer& s : t.start_timers) {
      Micros delay = std::max<Micros>(0, s.deadline - Now());
      Timer timer;
      timer.due = clock.Monotonic() + delay;
      timer.seq = next_seq++;
      timer.id = s.timer_id;
      timer.deadline = s.deadline;
      live_timers[s.timer_id] = timer.seq;
      timers.push(std::move(timer));
    }
    for (asl::StartTask& s : t.start_tasks) StartTask(s);
    if (t.result && !result) result = std::move(t.result);
  }

  void AddProcessTimer(TimerKind kind, uint64_t process, Micros delay) {
    Timer timer;
    timer.due = clock.Monotonic() + delay;
    timer.seq = next_seq++;
    timer.kind = kind;
    timer.process = process;
    timers.push(std::move(timer));
  }

  void StartTask(asl::StartTask& task) {
    if (options.mocks && options.mocks->Mocks(task.state_name)) {
      int64_t invocation = invocations[task.state_name]++;
      Answer(task.task_id, options.mocks->Respond(task.state_name, invocation));
      return;
    }
    if (auto it = options.bindings.find(task.resource); it != options.bindings.end()) {
      StartCommand(task, it->second);
      return;
    }
    bool sync = false;
    if (asl::IsBatchSubmitJob(task.resource, &sync)) {
      StartBatchJob(task, sync);
      return;
    }
    Answer(task.task_id, asl::ResourceNotBoundError(task.resource, task.state_name));
  }

  static std::string Label(const asl::StartTask& task) {
    return task.scope.empty() ? task.state_name : task.scope + "/" + task.state_name;
  }

  void StartCommand(const asl::StartTask& task, const std::string& command) {
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", command};
    std::vector<std::pair<std::string, std::string>> vars = asl::BindingEnvironment(
        task.resource, task.state_name, options.execution_name, task.attempt);
    std::string heartbeat_file = HeartbeatFile(task.task_id);
    if (!heartbeat_file.empty()) vars.emplace_back(asl::kHeartbeatFileVariable, heartbeat_file);
    spec.env = WithVariables(base_env, vars);
    spec.stdin_data = Dump(task.input) + "\n";
    spec.echo = !options.quiet;
    spec.echo_prefix = "[" + Label(task) + "] ";
    Result<uint64_t> process = processes.Start(spec);
    if (!process.ok()) {
      Answer(task.task_id,
             asl::ErrorInfo{std::string(asl::errors::kTaskFailed),
                            "could not start the bound command: " + process.status().message()});
      return;
    }
    TaskRun& run = tasks[task.task_id];
    run.task_id = task.task_id;
    run.label = Label(task);
    run.process = *process;
    run.heartbeat_file = std::move(heartbeat_file);
    task_of_process[*process] = task.task_id;
  }

  // Where task `task_id` may touch its heartbeat file ("" if the directory for them could not
  // be made: such a task then cannot send heartbeats).
  std::string HeartbeatFile(const std::string& task_id) {
    if (heartbeat_dir.empty()) {
      std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-asl.XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) return "";
      heartbeat_dir = tmpl;
    }
    return heartbeat_dir + "/" + task_id + ".heartbeat";
  }

  // Feeds, before any timer fires, a heartbeat for each running command that touched its
  // file since the last one fed: a heartbeat timer it renews is then no longer due.
  void FeedHeartbeats() {
    for (auto& [id, run] : tasks) {
      if (run.done || run.heartbeat_file.empty()) continue;
      std::optional<Micros> touched = exec::local::FileMtime(run.heartbeat_file);
      if (!touched || *touched <= run.heartbeat_at) continue;
      run.heartbeat_at = *touched;
      events.push_back(asl::Event::TaskHeartbeat(id, std::min(*touched, Now())));
    }
  }

  void StartBatchJob(const asl::StartTask& task, bool sync) {
    asl::EvalResult<asl::BatchJobSpec> spec = asl::ParseSubmitJob(task.input);
    if (!spec.ok()) {
      Answer(task.task_id, spec.error());
      return;
    }
    if (spec->array_size) {
      Answer(task.task_id, asl::ErrorInfo{std::string(asl::kBatchClientException),
                                          "ArrayProperties: array jobs cannot run locally"});
      return;
    }
    if (spec->command.empty()) {
      Answer(task.task_id,
             asl::ErrorInfo{std::string(asl::kBatchClientException),
                            "ContainerOverrides.Command: required to run a Batch job locally "
                            "(the job definition's command is not known here); or bind the "
                            "resource to a command with --bind"});
      return;
    }
    TaskRun& run = tasks[task.task_id];
    run.task_id = task.task_id;
    run.label = Label(task);
    run.batch = std::make_unique<BatchRun>();
    BatchRun& batch = *run.batch;
    batch.spec = std::move(spec).value();
    batch.outcome.job_id = asl::BatchJobId(options.execution_id, task.task_id);
    batch.outcome.created_at = Now();
    batch.log_stream = asl::BatchLogStreamName(batch.spec, batch.outcome.job_id);
    if (!sync) {
      Answer(task.task_id, asl::BatchSubmitJobResponse(batch.spec, batch.outcome.job_id));
      run.answered = true;
    }
    StartBatchAttempt(run);
    if (run.done) tasks.erase(task.task_id);
  }

  // Starts the next attempt; an attempt that cannot start counts as failed.
  void StartBatchAttempt(TaskRun& run) {
    BatchRun& batch = *run.batch;
    while (true) {
      ++batch.attempt;
      batch.timed_out = false;
      batch.attempt_started = Now();
      ProcessSpec spec;
      spec.argv = asl::BatchCommandLine(batch.spec);
      spec.search_path = true;
      spec.env = WithVariables(
          base_env, asl::BatchJobEnvironment(batch.spec, batch.outcome.job_id, batch.attempt));
      spec.stdin_from_null = true;
      spec.keep_stdout = false;
      spec.echo = !options.quiet;
      spec.echo_prefix = "[" + run.label + " " + batch.spec.job_name + "] ";
      Result<uint64_t> process = processes.Start(spec);
      if (process.ok()) {
        run.process = *process;
        task_of_process[*process] = run.task_id;
        if (batch.spec.attempt_duration_seconds) {
          AddProcessTimer(TimerKind::kBatchTimeout, *process,
                          *batch.spec.attempt_duration_seconds * kMicrosPerSecond);
        }
        return;
      }
      if (!EndBatchAttempt(run, std::nullopt,
                           "CannotStartContainerError: " + process.status().message())) {
        return;
      }
    }
  }

  // Records the attempt; true if another attempt should start, else answers the task (.sync)
  // and marks it done.
  bool EndBatchAttempt(TaskRun& run, std::optional<int> exit_code, std::string reason) {
    BatchRun& batch = *run.batch;
    bool ok = exit_code && *exit_code == 0 && !batch.timed_out;
    batch.outcome.attempts.push_back({exit_code, batch.attempt_started, Now(), reason,
                                      exit_code ? batch.log_stream : std::string()});
    run.process = 0;
    if (!ok && !run.cancelled && batch.attempt < batch.spec.retry_attempts) return true;
    batch.outcome.succeeded = ok;
    batch.outcome.status_reason = std::move(reason);
    if (!run.cancelled) {
      Value description = asl::BatchJobDescription(batch.spec, batch.outcome);
      if (!run.answered) {
        Answer(run.task_id, ok ? asl::EvalResult<Value>(std::move(description))
                               : asl::EvalResult<Value>(asl::BatchJobFailure(description)));
      } else {
        Note("Batch job " + batch.spec.job_name + " (" + batch.outcome.job_id + ") " +
             (ok ? "SUCCEEDED" : "FAILED"));
      }
    }
    run.done = true;
    return false;
  }

  void OnProcessFinished(ProcessResult& finished) {
    auto owner = task_of_process.find(finished.id);
    if (owner == task_of_process.end()) return;
    std::string task_id = std::move(owner->second);
    task_of_process.erase(owner);
    auto it = tasks.find(task_id);
    if (it == tasks.end()) return;
    TaskRun& run = it->second;
    if (run.batch) {
      int code = finished.term_signal != 0 ? 128 + finished.term_signal : finished.exit_code;
      std::string reason(run.batch->timed_out ? asl::kBatchAttemptTimedOut
                                              : asl::kBatchContainerExited);
      if (EndBatchAttempt(run, code, std::move(reason))) StartBatchAttempt(run);
    } else {
      if (!run.cancelled) {
        asl::CommandOutcome outcome{finished.exit_code, finished.term_signal,
                                    std::move(finished.stdout_text),
                                    std::move(finished.stderr_tail)};
        Answer(task_id, asl::InterpretCommandOutcome(outcome));
      }
      run.done = true;
    }
    if (run.done) tasks.erase(it);
  }

  void Terminate(TaskRun& run) {
    run.cancelled = true;
    if (run.process == 0) return;
    processes.Signal(run.process, SIGTERM);
    AddProcessTimer(TimerKind::kKill, run.process, options.kill_grace);
  }

  void CancelTask(const std::string& task_id) {
    auto it = tasks.find(task_id);
    // A submitted (non-.sync) job was answered already: it is no longer the task's.
    if (it == tasks.end() || it->second.answered || it->second.cancelled) return;
    Terminate(it->second);
  }

  // The execution has its result: stop what still runs, but let submitted jobs finish unless
  // the user interrupted the run.
  void BeginShutdown() {
    shutting_down = true;
    bool aborted = result->status == asl::ExecutionResult::Status::kAborted;
    size_t waiting = 0;
    for (auto& [id, run] : tasks) {
      if (run.cancelled) continue;
      if (run.answered && !aborted) {
        ++waiting;
      } else {
        Terminate(run);
      }
    }
    if (waiting > 0) {
      Note("waiting for " + std::to_string(waiting) + " submitted Batch job" +
           (waiting == 1 ? "" : "s") + " to finish");
    }
  }

  void OnInterrupt(int signo) {
    ++interrupts;
    const char* name = signo == SIGINT ? "SIGINT" : "SIGTERM";
    if (!result) {
      events.push_front(asl::Event::Stop("", std::string("interrupted by ") + name, Now()));
      return;
    }
    if (interrupts >= 2) {
      processes.SignalAll(SIGKILL);
      return;
    }
    for (auto& [id, run] : tasks) {
      if (!run.cancelled) Terminate(run);
    }
  }

  // Fires the timers that are due; true if any execution timer fired (or a heartbeat came
  // first, which may have renewed it).
  bool FireDueTimers() {
    bool fired = false;
    Micros now = clock.Monotonic();
    while (!timers.empty() && timers.top().due <= now) {
      Timer timer = timers.top();
      switch (timer.kind) {
        case TimerKind::kExecution: {
          auto live = live_timers.find(timer.id);
          const bool wanted = live != live_timers.end() && live->second == timer.seq && !result;
          if (wanted) {
            size_t before = events.size();
            FeedHeartbeats();
            if (events.size() > before) return true;  // fed first; the timer is looked at again
          }
          timers.pop();
          if (!wanted) break;
          live_timers.erase(live);
          events.push_back(asl::Event::TimerFired(timer.id, std::max(Now(), timer.deadline)));
          fired = true;
          break;
        }
        case TimerKind::kKill:
          timers.pop();
          processes.Signal(timer.process, SIGKILL);
          break;
        case TimerKind::kBatchTimeout: {
          timers.pop();
          auto owner = task_of_process.find(timer.process);
          if (owner == task_of_process.end()) break;
          auto it = tasks.find(owner->second);
          if (it == tasks.end() || !it->second.batch || it->second.process != timer.process) {
            break;
          }
          it->second.batch->timed_out = true;
          processes.Signal(timer.process, SIGTERM);
          AddProcessTimer(TimerKind::kKill, timer.process, options.kill_grace);
          break;
        }
      }
    }
    return fired;
  }

  // Milliseconds until the next timer, -1 for none.
  int PollTimeout() {
    while (!timers.empty() && timers.top().kind == TimerKind::kExecution) {
      auto live = live_timers.find(timers.top().id);
      if (!result && live != live_timers.end() && live->second == timers.top().seq) break;
      timers.pop();  // cancelled, or no longer wanted
    }
    if (timers.empty()) return -1;
    Micros wait = timers.top().due - clock.Monotonic();
    if (wait <= 0) return 0;
    return static_cast<int>(std::min<Micros>((wait + 999) / 1000, 60'000));
  }

  Status WaitAndHandle(int signal_fd) {
    std::vector<pollfd> fds;
    fds.push_back({signal_fd, POLLIN, 0});
    processes.AppendPollFds(&fds);
    int rc = ::poll(fds.data(), fds.size(), PollTimeout());
    if (rc < 0) {
      if (errno == EINTR) return Status::Ok();
      return exec::local::ErrnoStatus(errno, "poll");
    }
    bool children_exited = false;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        if (info.ssi_signo == SIGCHLD) {
          children_exited = true;
        } else {
          OnInterrupt(static_cast<int>(info.ssi_signo));
        }
      }
    }
    processes.HandlePoll(fds, 1);
    if (children_exited) {
      for (ProcessResult& finished : processes.Reap()) OnProcessFinished(finished);
    }
    return Status::Ok();
  }

  Result<asl::ExecutionResult> Run(asl::Execution& execution, Value input) {
    SignalScope signals;
    if (signals.fd() < 0) return exec::local::ErrnoStatus(errno, "signalfd");
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) base_env.emplace_back(*e);

    Apply(execution.Step(asl::Event::Start(std::move(input), Now())));
    for (;;) {
      while (!result && !events.empty()) {
        asl::Event event = std::move(events.front());
        events.pop_front();
        Apply(execution.Step(std::move(event)));
      }
      if (result && !shutting_down) BeginShutdown();
      if (result && processes.empty()) break;
      if (FireDueTimers()) continue;
      if (!result && events.empty() && processes.empty() && live_timers.empty()) {
        return Internal("the execution waits, but no task runs and no timer is set");
      }
      RETURN_IF_ERROR(WaitAndHandle(signals.fd()));
    }
    return *std::move(result);
  }
};

AslRunner::AslRunner(const Clock& clock, AslRunnerOptions options)
    : impl_(std::make_unique<Impl>(clock, std::move(options))) {}

AslRunner::~AslRunner() = default;

Result<asl::ExecutionResult> AslRunner::Run(asl::Execution& execution, asl::Value input) {
  return impl_->Run(execution, std::move(input));
}

}  // namespace sluice::cli
